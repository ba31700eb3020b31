//! A small cookie-keeping browser for integration tests, without JavaScript like the
//! shop's users: plain HTTP/1.1 GETs and form POSTs, redirects followed, cookies
//! kept, and the form token (`csrf`) taken from the last page that carried one.
//!
//! ```ignore
//! let mut b = Browser::new(souk.shop);
//! b.register("alice", "a long password");
//! let r = b.post_form("/account/pgp", &[("pgp", "")]);
//! assert_eq!(r.status, 200);
//! ```

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::Resp;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// A browser session against one shop.
#[derive(Debug, Clone)]
pub struct Browser {
    addr: SocketAddr,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
    /// Path of the last page fetched (after redirects).
    pub path: String,
}

impl Browser {
    /// A browser with no cookies.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: BTreeMap::new(),
            csrf: None,
            path: String::new(),
        }
    }

    /// The same session against a shop that came back on another address
    /// (restarted on the same data).
    pub fn moved_to(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// `GET path`, following redirects.
    pub fn get(&mut self, path: &str) -> Resp {
        let r = self.send("GET", path, None, &[]);
        self.follow(path, r)
    }

    /// `GET path` without following a redirect.
    pub fn get_no_follow(&mut self, path: &str) -> Resp {
        self.send("GET", path, None, &[])
    }

    /// POSTs a urlencoded form with the current form token added, following redirects.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let r = self.post_form_no_follow(path, fields);
        self.follow(path, r)
    }

    /// POSTs a urlencoded form with the current form token, without following a redirect.
    pub fn post_form_no_follow(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let token = self.csrf.clone().unwrap_or_default();
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw_form(path, &all)
    }

    /// POSTs exactly these fields (no token added: for tests of missing or wrong tokens).
    pub fn post_raw_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let body = encode(fields);
        self.send(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
    }

    /// POSTs `multipart/form-data`: the form token first, then `fields`, then
    /// `files` as (field name, file name, content type, bytes). Follows redirects.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Resp {
        let boundary = "----souktestboundary7MA4YWxkTrZu0gW";
        let token = self.csrf.clone().unwrap_or_default();
        let mut body = Vec::new();
        let mut text_part = |name: &str, value: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        };
        text_part("csrf", &token);
        for (k, v) in fields {
            text_part(k, v);
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let r = self.send("POST", path, Some(&ct), &body);
        self.follow(path, r)
    }

    /// Registers through the form and signs in (the account page is then loaded,
    /// so the session's form token is known). Panics if registration fails.
    pub fn register(&mut self, username: &str, password: &str) -> Resp {
        self.get("/register");
        let r = self.post_form(
            "/register",
            &[
                ("username", username),
                ("password", password),
                ("password2", password),
            ],
        );
        assert_eq!(r.status, 200, "registering {username}: {}", r.body);
        assert!(
            r.body.contains("recovery codes"),
            "registering {username}: {}",
            r.body
        );
        self.get("/account")
    }

    /// Signs in through the form. Panics if it fails.
    pub fn login(&mut self, username: &str, password: &str) -> Resp {
        self.get("/login");
        let r = self.post_form(
            "/login",
            &[
                ("username", username),
                ("password", password),
                ("code", ""),
                ("next", "/account"),
            ],
        );
        assert_eq!(r.status, 200, "signing in {username}: {}", r.body);
        assert!(
            self.cookie("souk_session").is_some(),
            "no session after signing in {username}: {}",
            r.body
        );
        r
    }

    /// Signs out.
    pub fn logout(&mut self) -> Resp {
        self.post_form("/logout", &[])
    }

    /// The form token of the last page that had a form.
    pub fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }

    /// A cookie's current value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn follow(&mut self, from: &str, mut r: Resp) -> Resp {
        let mut path = from.to_owned();
        for _ in 0..MAX_REDIRECTS {
            if !matches!(r.status, 301 | 302 | 303 | 307 | 308) {
                return r;
            }
            let location = r.header("location").unwrap_or("/").to_owned();
            path = resolve(&path, &location);
            r = self.send("GET", &path, None, &[]);
        }
        panic!("more than {MAX_REDIRECTS} redirects from {from}")
    }

    /// Sends one request with the browser's cookies and records what comes back.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Resp {
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
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        let r = exchange(self.addr, &request).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        for (name, value) in &r.headers {
            if name == "set-cookie" {
                self.store_cookie(value);
            }
        }
        if let Some(t) = form_token(&r.body) {
            self.csrf = Some(t);
        }
        self.path = path.split('#').next().unwrap_or(path).to_owned();
        r
    }

    fn store_cookie(&mut self, header: &str) {
        let mut parts = header.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        if expired || value.is_empty() {
            self.cookies.remove(name.trim());
        } else {
            self.cookies
                .insert(name.trim().to_owned(), value.trim().to_owned());
        }
    }
}

/// The `csrf` hidden field's value in a page, if it has one.
pub fn form_token(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned()).filter(|t| !t.is_empty())
}

/// urlencodes form fields.
pub fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn resolve(from: &str, location: &str) -> String {
    // The fragment stays in the browser.
    let location = location.split('#').next().unwrap_or(location);
    if location.starts_with('/') {
        location.to_owned()
    } else if let Some(rest) = location.split_once("://").map(|(_, r)| r) {
        rest.find('/')
            .map_or("/".to_owned(), |i| rest[i..].to_owned())
    } else {
        let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    }
}

fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&s[..eol]).unwrap_or("0");
        let size = size.split(';').next().unwrap_or("0").trim();
        let n = usize::from_str_radix(size, 16).unwrap_or(0);
        let rest = &s[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        s = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}
