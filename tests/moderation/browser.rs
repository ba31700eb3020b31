//! A small cookie-keeping browser for flow tests, speaking HTTP/1.1 to the real
//! server like Tor Browser with JavaScript off: it keeps cookies, remembers the
//! form token (csrf) of the last page it fetched and sends it with forms, and
//! follows redirects when asked to.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::common::{Resp, raw_tcp};

/// How many redirects [`Browser::follow`] follows before giving up.
const MAX_REDIRECTS: usize = 5;

/// One visitor with a cookie jar.
pub struct Browser {
    addr: SocketAddr,
    cookies: BTreeMap<String, String>,
    csrf: Option<String>,
}

impl Browser {
    /// A visitor with no cookies yet.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: BTreeMap::new(),
            csrf: None,
        }
    }

    /// `GET path`, without following a redirect.
    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, None)
    }

    /// `GET path`, following redirects to the final page.
    pub fn visit(&mut self, path: &str) -> Resp {
        let r = self.get(path);
        self.follow(r)
    }

    /// Posts a urlencoded form with the form token of the last page fetched
    /// (unless `fields` has its own `csrf`). Does not follow a redirect.
    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            form.append_pair("csrf", self.csrf.as_deref().unwrap_or(""));
        }
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        self.post_raw(path, &form.finish())
    }

    /// Posts a urlencoded body exactly as given (no token added).
    pub fn post_raw(&mut self, path: &str, body: &str) -> Resp {
        self.send(
            "POST",
            path,
            Some(("application/x-www-form-urlencoded", body)),
        )
    }

    /// Follows `r` while it is a redirect; returns the final response.
    pub fn follow(&mut self, mut r: Resp) -> Resp {
        for _ in 0..MAX_REDIRECTS {
            if !(300..400).contains(&r.status) {
                return r;
            }
            let to = location(&r)
                .unwrap_or_else(|| panic!("redirect without Location: {:?}", r.headers))
                .to_owned();
            r = self.get(&to);
        }
        panic!("more than {MAX_REDIRECTS} redirects");
    }

    /// Registers through the form; panics unless the recovery codes page comes back.
    pub fn register(&mut self, username: &str, password: &str) -> Resp {
        self.register_with(username, password, &[])
    }

    /// Registers with extra form fields (which the shop must ignore).
    pub fn register_with(
        &mut self,
        username: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> Resp {
        let page = self.get("/register");
        assert_eq!(page.status, 200, "register form: {}", page.body);
        let mut fields = vec![
            ("username", username),
            ("password", password),
            ("password2", password),
        ];
        fields.extend_from_slice(extra);
        let r = self.post_form("/register", &fields);
        assert_eq!(r.status, 200, "registering {username}: {}", r.body);
        assert!(r.body.contains("recovery codes"), "{}", r.body);
        r
    }

    /// Signs in through the form and returns the answer (303 on success).
    pub fn login(&mut self, username: &str, password: &str) -> Resp {
        let page = self.get("/login");
        assert!(
            page.status == 200 || page.status == 303,
            "login form: {}",
            page.status
        );
        self.post_form("/login", &[("username", username), ("password", password)])
    }

    /// Signs in and panics unless it worked.
    pub fn sign_in(&mut self, username: &str, password: &str) {
        let r = self.login(username, password);
        assert_eq!(r.status, 303, "signing in {username}: {}", r.body);
        let home = self.visit("/account");
        assert_eq!(home.status, 200, "{}", home.body);
    }

    /// The username the header shows as signed in, if any.
    pub fn signed_in_as(&mut self) -> Option<String> {
        let r = self.visit("/");
        let nav = r.body.split("<nav aria-label=\"Main\">").nth(1)?;
        let nav = nav.split("</nav>").next()?;
        let rest = nav.split("<a href=\"/account\">").nth(1)?;
        Some(rest.split('<').next()?.to_owned())
    }

    fn send(&mut self, method: &str, path: &str, body: Option<(&str, &str)>) -> Resp {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: shop.onion\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        if let Some((content_type, b)) = body {
            req.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("Connection: close\r\n\r\n");
        if let Some((_, b)) = body {
            req.push_str(b);
        }
        let r = raw_tcp(self.addr, &req).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        self.keep_cookies(&r);
        if let Some(t) = form_token(&r.body) {
            self.csrf = Some(t);
        }
        r
    }

    fn keep_cookies(&mut self, r: &Resp) {
        for (name, value) in &r.headers {
            if name != "set-cookie" {
                continue;
            }
            let mut parts = value.split(';').map(str::trim);
            let Some((k, v)) = parts.next().and_then(|kv| kv.split_once('=')) else {
                continue;
            };
            let expired = parts.any(|a| a.eq_ignore_ascii_case("max-age=0"));
            if expired || v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }
}

/// The `Location` of a redirect.
pub fn location(r: &Resp) -> Option<&str> {
    r.header("location")
}

/// The first non-empty `csrf` form field of a page.
pub fn form_token(html: &str) -> Option<String> {
    html.split("name=\"csrf\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|t| !t.is_empty())
        .map(str::to_owned)
}
