//! A cookie-keeping HTTP client for tests: it talks HTTP/1.1 to the real souk over
//! loopback, keeps the cookies souk sets, remembers the form token (csrf) of the
//! last page that carried one, and follows redirects like a browser does.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order (Set-Cookie may repeat).
    pub headers: Vec<(String, String)>,
    /// The body as bytes (images).
    pub bytes: Vec<u8>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The path that produced this answer (after redirects).
    pub path: String,
}

impl Reply {
    /// First header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Panics with the page when the status is not `status`.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "{} gave {} instead of {status}:\n{}",
            self.path, self.status, self.body
        );
        self
    }

    /// Panics unless the body contains `text`.
    #[track_caller]
    pub fn expect_text(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "{} ({}) lacks {text:?}:\n{}",
            self.path,
            self.status,
            self.body
        );
        self
    }
}

/// A browser without JavaScript: cookies, form tokens, redirects.
pub struct Browser {
    /// Where souk listens.
    pub addr: SocketAddr,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

/// Percent-encodes for `application/x-www-form-urlencoded`.
pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The value of the first `name="csrf" value="..."` in a page.
pub fn form_token(body: &str) -> Option<String> {
    between(body, "name=\"csrf\" value=\"", "\"")
}

/// The text between the first `start` and the next `end`.
pub fn between(body: &str, start: &str, end: &str) -> Option<String> {
    let from = body.find(start)? + start.len();
    let len = body[from..].find(end)?;
    Some(body[from..from + len].to_owned())
}

impl Browser {
    /// A fresh browser with no cookies.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// A cookie's value, if set.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets (or with an empty value removes) a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    /// The form token the next `post_form` sends.
    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// Replaces the remembered form token (tests of wrong tokens).
    pub fn set_csrf(&mut self, token: Option<&str>) {
        self.csrf = token.map(str::to_owned);
    }

    /// Sends one request as is (no redirects followed); keeps cookies and the token.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: shop.onion\r\nConnection: close\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if method != "GET" || !body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let raw = exchange(self.addr, head.as_bytes(), body)
            .unwrap_or_else(|e| panic!("{method} {path}: no HTTP answer (did souk crash?): {e}"));
        let reply = parse(&raw, path).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        for (n, v) in &reply.headers {
            if n == "set-cookie" {
                self.take_cookie(v);
            }
        }
        if let Some(t) = form_token(&reply.body) {
            self.csrf = Some(t);
        }
        reply
    }

    fn take_cookie(&mut self, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            return;
        };
        let expired = parts.any(|a| {
            let a = a.trim().to_ascii_lowercase();
            a == "max-age=0" || a.starts_with("max-age=-")
        });
        if expired || value.is_empty() {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    fn follow(&mut self, mut reply: Reply) -> Reply {
        for _ in 0..10 {
            if !matches!(reply.status, 301 | 302 | 303 | 307 | 308) {
                return reply;
            }
            let location = reply
                .header("location")
                .expect("a redirect has a Location")
                .to_owned();
            assert!(
                location.starts_with('/'),
                "redirect off the shop: {location}"
            );
            reply = self.request("GET", &location, None, b"");
        }
        panic!("more than 10 redirects, last at {}", reply.path);
    }

    /// `GET path`, following redirects.
    pub fn get(&mut self, path: &str) -> Reply {
        let r = self.request("GET", path, None, b"");
        self.follow(r)
    }

    /// `GET path` without following redirects.
    pub fn get_raw(&mut self, path: &str) -> Reply {
        self.request("GET", path, None, b"")
    }

    /// Posts a form with the token of the last page, following redirects.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let r = self.post_form_raw(path, fields);
        self.follow(r)
    }

    /// Posts a form with the token of the last page, without following redirects.
    pub fn post_form_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let token = self.csrf.clone().unwrap_or_default();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_fields(path, &all)
    }

    /// Posts exactly these fields (no token added), without following redirects.
    pub fn post_fields(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect();
        self.request(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body.join("&").as_bytes(),
        )
    }

    /// Posts a multipart form: the token first, then `fields`, then one file
    /// (field name, file name, content type, bytes). Does not follow redirects.
    pub fn post_multipart_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &str, &[u8]),
    ) -> Reply {
        let boundary = "----soukTestBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        let token = self.csrf.clone().unwrap_or_default();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        for (k, v) in all {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, filename, ct, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ct}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        self.request("POST", path, Some(&ct), &body)
    }

    /// Uploads a file the way the listing form does, following redirects.
    pub fn upload(
        &mut self,
        path: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Reply {
        let r = self.post_multipart_raw(path, &[], ("image", filename, content_type, bytes));
        self.follow(r)
    }

    /// Registers through the form (signing in); returns the recovery codes shown.
    pub fn register(&mut self, username: &str, password: &str) -> Vec<String> {
        self.get("/register").expect(200);
        let r = self.post_form(
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("password2", password),
            ],
        );
        r.expect(200).expect_text("Your recovery codes");
        let codes: Vec<String> = r
            .body
            .split("<li><code>")
            .skip(1)
            .filter_map(|s| s.split_once("</code>").map(|(c, _)| c.to_owned()))
            .collect();
        assert_eq!(codes.len(), 8, "eight recovery codes:\n{}", r.body);
        assert!(
            self.cookie("souk_session").is_some(),
            "registering signs in"
        );
        codes
    }

    /// Signs in through the form; returns the page after the redirect.
    pub fn login(&mut self, username: &str, password: &str) -> Reply {
        self.login_with_code(username, password, "")
    }

    /// Signs in with a two-factor code.
    pub fn login_with_code(&mut self, username: &str, password: &str, code: &str) -> Reply {
        if self.cookie("souk_form").is_none() || self.csrf.is_none() {
            self.get("/login");
        }
        self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("code", code),
                ("next", "/account"),
            ],
        )
    }

    /// Whether the browser is signed in (the account page answers, no redirect).
    pub fn signed_in(&mut self) -> bool {
        self.get_raw("/account").status == 200
    }
}

fn exchange(addr: SocketAddr, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(head)?;
    // A server may answer (413) before reading a large body and close: keep what it said.
    if let Err(e) = s.write_all(body) {
        let mut buf = Vec::new();
        if s.read_to_end(&mut buf).is_ok() && !buf.is_empty() {
            return Ok(buf);
        }
        return Err(e);
    }
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => Ok(buf),
        Err(_) if !buf.is_empty() => Ok(buf),
        Err(e) => Err(e),
    }
}

fn parse(raw: &[u8], path: &str) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let bytes = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
        path: path.to_owned(),
    })
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = s.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&s[..pos]);
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let rest = &s[pos + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}
