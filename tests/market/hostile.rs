//! Hostile and odd input: script in every text field comes back escaped, forms
//! without the right token are refused, oversized and malformed requests get a
//! readable 4xx page, and no input makes the shop answer 5xx.

use crate::common::shop::{PASSWORD, Shop};
use crate::common::visitor::{Browser, Reply, between, urlencode};

const XSS: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

#[track_caller]
fn assert_escaped(r: &Reply, shown: bool) {
    for raw in ["<script>alert", "<img src=x", "\"'><"] {
        assert!(
            !r.body.contains(raw),
            "{} ({}) carries raw {raw:?}:\n{}",
            r.path,
            r.status,
            r.body
        );
    }
    if shown {
        let escaped = [
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&#60;script&#62;alert(1)&#60;/script&#62;",
        ];
        assert!(
            escaped.iter().any(|e| r.body.contains(e)),
            "{} does not show the text escaped:\n{}",
            r.path,
            r.body
        );
    }
}

#[test]
fn script_in_every_text_field_comes_back_escaped() {
    let shop = Shop::start();
    let mut v = shop.vendor("xavier");
    let mut buyer = shop.buyer("yusuf");

    // Forms shown again with the input kept.
    let mut anon = shop.browser();
    anon.get("/register");
    let r = anon.post_form(
        "/register",
        &[
            ("username", XSS),
            ("password", PASSWORD),
            ("password2", PASSWORD),
        ],
    );
    r.expect(422);
    assert_escaped(&r, true);
    anon.get("/login");
    assert_escaped(
        &anon.post_form(
            "/login",
            &[("username", XSS), ("password", "whatever it is")],
        ),
        true,
    );
    anon.get("/recover");
    assert_escaped(
        &anon.post_form(
            "/recover",
            &[("username", XSS), ("code", XSS), ("password", PASSWORD)],
        ),
        true,
    );

    // Stored text: listing fields, shown on every page that lists them.
    let id = shop.listing_in(
        &mut v,
        "books",
        XSS,
        "0.1",
        "5",
        &format!("{XSS}\n\n# {XSS}\n\n[x](javascript:alert(3))"),
    );
    v.get(&format!("/sell/{id}/edit"));
    let edit = v.post_form(
        &format!("/sell/{id}/edit"),
        &[
            ("title", XSS),
            ("category", "books"),
            ("price", XSS),
            ("stock", XSS),
            ("description", XSS),
            ("delivery_label_0", XSS),
            ("delivery_price_0", "0"),
        ],
    );
    edit.expect(422);
    assert_escaped(&edit, true);
    v.get(&format!("/sell/{id}/edit"));
    let r = v.post_form(
        &format!("/sell/{id}/edit"),
        &[
            ("title", XSS),
            ("category", "books"),
            ("price", "0.1"),
            ("stock", "5"),
            ("description", &format!("{XSS}\n\n[x](javascript:alert(3))")),
            ("delivery_label_0", XSS),
            ("delivery_price_0", "0"),
        ],
    );
    r.expect(200);
    assert_escaped(&r, true);
    assert!(!r.body.contains("javascript:"), "links are not rendered");
    for path in [
        format!("/listings/{id}"),
        "/".to_owned(),
        "/c/books".to_owned(),
        "/vendors/xavier".to_owned(),
        format!("/search?q=alert&vendor={}", urlencode("xavier")),
    ] {
        assert_escaped(&buyer.get(&path), true);
    }
    assert_escaped(&v.get("/sell"), true);
    assert_escaped(&v.get(&format!("/sell/{id}/edit")), true);

    // The PGP key block, shown on the profile and the order form.
    v.get("/account");
    let key =
        format!("-----BEGIN PGP PUBLIC KEY BLOCK-----\n{XSS}\n-----END PGP PUBLIC KEY BLOCK-----");
    assert_escaped(
        &v.post_form("/account/pgp", &[("pgp", &key)])
            .expect(200)
            .clone(),
        true,
    );
    assert_escaped(&buyer.get("/vendors/xavier"), true);
    assert_escaped(&buyer.get(&format!("/listings/{id}")), true);

    // Search terms and filters, shown again in the filter form.
    let q = urlencode(XSS);
    assert_escaped(
        &buyer.get(&format!("/search?q={q}&vendor={q}&sort={q}")),
        true,
    );
    assert_escaped(
        &buyer
            .get(&format!("/search?q={q}&category={q}"))
            .expect(404)
            .clone(),
        false,
    );
    assert_escaped(&buyer.get(&format!("/search?min={q}")), true);

    // The order form shown again, the delivery note, the vendor application.
    let page = buyer.get(&format!("/listings/{id}"));
    let option = between(&page.body, "name=\"delivery_option\" value=\"", "\"").unwrap();
    let r = buyer.post_form(
        &format!("/listings/{id}/order"),
        &[
            ("quantity", XSS),
            ("delivery_option", &option),
            ("delivery_note", XSS),
        ],
    );
    r.expect(422);
    assert_escaped(&r, true);
    let order = shop.order(&mut buyer, id, XSS);
    assert_escaped(&buyer.get(&format!("/orders/{order}")), true);
    assert_escaped(&v.get(&format!("/orders/{order}")), true);
    assert_escaped(&v.get("/orders?side=sold"), true);
    buyer.get("/account");
    assert_escaped(
        &buyer
            .post_form("/account/vendor-application", &[("statement", XSS)])
            .expect(200)
            .clone(),
        false,
    );
    // The sign-in page's return address.
    assert_escaped(&shop.browser().get(&format!("/login?next={q}")), false);
}

#[test]
fn forms_without_the_right_token_are_refused() {
    let shop = Shop::start();
    let mut v = shop.vendor("zoe");
    let mut mallory = shop.buyer("mallory");
    let id = shop.listing(&mut v, "Guarded thing", "1", "3");
    v.get("/account");
    let own = v.csrf().unwrap().to_owned();
    mallory.get("/account");
    let foreign = mallory.csrf().unwrap().to_owned();
    let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/logout".into(), vec![]),
        (
            "/account/password".into(),
            vec![("current", PASSWORD), ("new", "a different passphrase")],
        ),
        ("/account/pgp".into(), vec![("pgp", "")]),
        (
            "/account/vendor-application".into(),
            vec![("statement", "x")],
        ),
        ("/account/sessions/end-all".into(), vec![]),
        (
            "/account/2fa/enable".into(),
            vec![("secret", "AAAA"), ("code", "1")],
        ),
        ("/account/2fa/disable".into(), vec![("password", PASSWORD)]),
        ("/sell/new".into(), vec![("title", "Injected")]),
        (format!("/sell/{id}/edit"), vec![("title", "Injected")]),
        (format!("/sell/{id}/state"), vec![("action", "delete")]),
        ("/sell/images/1/delete".into(), vec![]),
        (
            format!("/listings/{id}/order"),
            vec![
                ("quantity", "1"),
                ("delivery_option", "1"),
                ("delivery_note", ""),
            ],
        ),
        ("/orders/abc/action".into(), vec![("action", "cancel")]),
    ];
    let before = shop.fingerprint();
    for (path, fields) in &routes {
        for (label, token) in [
            ("missing", None),
            ("wrong", Some("not-the-token")),
            ("another session's", Some(foreign.as_str())),
            ("empty", Some("")),
        ] {
            let mut all = fields.clone();
            if let Some(t) = token {
                all.insert(0, ("csrf", t));
            }
            let r = v.post_fields(path, &all);
            assert_eq!(r.status, 403, "{label} token on {path}:\n{}", r.body);
            r.expect_text("This form has expired or did not come from this shop");
        }
    }
    // Uploads: with the session's token the file itself is judged (and refused: not
    // an image); with another session's token or none, the form is.
    let r = v.post_multipart_raw(
        &format!("/sell/{id}/images"),
        &[],
        ("image", "a.png", "image/png", b"x"),
    );
    r.expect(422).expect_text("not a JPEG, PNG or WebP image");
    v.set_csrf(Some(&foreign));
    v.post_multipart_raw(
        &format!("/sell/{id}/images"),
        &[],
        ("image", "a.png", "image/png", b"x"),
    )
    .expect(403);
    v.set_csrf(None);
    v.post_multipart_raw(
        &format!("/sell/{id}/images"),
        &[],
        ("image", "a.png", "image/png", b"x"),
    )
    .expect(403);
    assert_eq!(before, shop.fingerprint(), "nothing changed");
    assert!(v.signed_in());
    let _ = own;

    // Signed-out forms: the token lives in the anonymous form cookie.
    let mut anon = shop.browser();
    for path in ["/register", "/login", "/recover"] {
        let fields = [
            ("username", "nobody1"),
            ("password", PASSWORD),
            ("password2", PASSWORD),
            ("code", "x"),
        ];
        anon.set_cookie("souk_form", "");
        anon.post_fields(path, &fields).expect(403);
        anon.get(path);
        let mut with_wrong = vec![("csrf", "forged")];
        with_wrong.extend_from_slice(&fields);
        anon.post_fields(path, &with_wrong).expect(403);
        let mut stolen = vec![("csrf", own.as_str())];
        stolen.extend_from_slice(&fields);
        anon.post_fields(path, &stolen).expect(403);
    }
    assert_eq!(before, shop.fingerprint());
}

#[test]
fn oversized_and_malformed_requests_get_readable_pages() {
    let shop = Shop::start();
    let mut v = shop.vendor("abel");
    let id = shop.listing(&mut v, "Plain box", "1", "3");
    let mut anon = shop.browser();
    anon.get("/login");
    // Bodies over the form limit (64 KiB): 413 with a page.
    let huge = "x".repeat(70 * 1024);
    for path in ["/login", "/register", "/sell/new"] {
        let b = if path == "/sell/new" {
            &mut v
        } else {
            &mut anon
        };
        let r = b.post_form_raw(path, &[("username", &huge), ("title", &huge)]);
        r.expect(413).expect_text("Too large");
    }
    // A description over its own limit but under the body limit: 422, input kept.
    v.get("/sell/new");
    let long = "y".repeat(20_001);
    let r = v.post_form(
        "/sell/new",
        &[
            ("title", "Long one"),
            ("category", "books"),
            ("price", "1"),
            ("stock", "1"),
            ("description", &long),
            ("delivery_label_0", "L"),
        ],
    );
    r.expect(422).expect_text("The description is too long");
    // Missing fields, the wrong encoding, no form at all: 4xx with words.
    anon.get("/login");
    anon.post_form_raw("/login", &[("password", "x")])
        .expect(422)
        .expect_text("could not be read");
    let token = anon.csrf().unwrap().to_owned();
    let r = anon.request(
        "POST",
        "/login",
        Some("text/plain"),
        format!("csrf={token}&username=a&password=b").as_bytes(),
    );
    r.expect(415).expect_text("<h1");
    let r = anon.request(
        "POST",
        "/login",
        Some("application/json"),
        b"{\"username\":\"a\"}",
    );
    r.expect(415);
    v.get("/sell");
    let r = v.post_form_raw(&format!("/sell/{id}/state"), &[("action", "explode")]);
    r.expect(400).expect_text("Unknown action");
    let r = v.request(
        "POST",
        &format!("/sell/{id}/images"),
        Some("multipart/form-data"),
        b"garbage",
    );
    assert!((400..500).contains(&r.status), "{}", r.status);
    r.expect_text("<h1");
    let r = shop.browser().get("/listings/not-a-number");
    r.expect(400).expect_text("could not be read");
    shop.browser()
        .get("/nowhere/at/all")
        .expect(404)
        .expect_text("Page not found");
    let r = shop
        .browser()
        .request("DELETE", &format!("/listings/{id}"), None, b"");
    r.expect(405).expect_text("<h1");
}

/// Values nobody should send: bad ids, huge numbers, unicode, empty, overlong.
fn odd_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "0",
        "-1",
        "1",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1e9",
        "0x10",
        "abc",
        "%00",
        "%F0%9F%92%A9",
        "%E2%80%AE",
        "..%2F..%2Fetc",
        "%27%22%3C",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("9".repeat(400));
    v.push("%C3%A9".repeat(300));
    v
}

#[test]
fn odd_input_on_every_route_never_gives_a_server_error() {
    let shop = Shop::start();
    let mut v = shop.vendor("odile");
    let mut buyer = shop.buyer("omar");
    let id = shop.listing(&mut v, "Odd thing", "1", "500");
    let order = shop.order(&mut buyer, id, "");
    let templates = [
        "/listings/{}",
        "/listings/{}/order",
        "/c/{}",
        "/vendors/{}",
        "/images/{}/thumb",
        "/images/1/{}",
        "/sell/{}/edit",
        "/sell/{}/state",
        "/sell/{}/images",
        "/sell/images/{}/delete",
        "/orders/{}",
        "/orders/{}/action",
        "/static/{}",
    ];
    let queries = [
        "/?page={}",
        "/search?q={}",
        "/search?page={}",
        "/search?sort={}",
        "/search?min={}&max={}",
        "/search?category={}",
        "/search?vendor={}",
        "/c/books?page={}",
        "/vendors/odile?page={}",
        "/sell?page={}",
        "/orders?page={}",
        "/orders?side={}",
        "/login?next={}",
    ];
    let forms: [(&str, &[&str]); 6] = [
        (
            "/listings/ID/order",
            &["quantity", "delivery_option", "delivery_note"],
        ),
        (
            "/sell/new",
            &[
                "title",
                "category",
                "price",
                "stock",
                "description",
                "delivery_label_0",
                "delivery_price_0",
            ],
        ),
        (
            "/sell/ID/edit",
            &[
                "title",
                "category",
                "price",
                "stock",
                "description",
                "delivery_label_0",
                "delivery_price_0",
            ],
        ),
        ("/sell/ID/state", &["action"]),
        ("/orders/ORDER/action", &["action"]),
        ("/account/2fa/enable", &["secret", "code"]),
    ];
    let mut sent = 0;
    let mut check = |who: &mut Browser, method: &str, path: &str, r: Reply| {
        assert!(
            r.status < 500,
            "{method} {path} gave {}:\n{}",
            r.status,
            r.body
        );
        let _ = who;
        sent += 1;
    };
    for value in odd_values() {
        for t in templates {
            let path = t.replace("{}", &value);
            for b in [&mut v, &mut buyer] {
                let r = b.get_raw(&path);
                check(b, "GET", &path, r);
                b.get("/account");
                let r = b.post_form_raw(&path, &[("action", "ship"), ("quantity", &value)]);
                check(b, "POST", &path, r);
            }
        }
        for q in queries {
            let path = q.replace("{}", &value);
            let r = v.get_raw(&path);
            check(&mut Browser::new(shop.souk.shop), "GET", &path, r);
        }
        let decoded = form_urlencoded::parse(format!("x={value}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        for (path, fields) in forms {
            let path = path.replace("ID", &id.to_string()).replace("ORDER", &order);
            let filled: Vec<(&str, &str)> = fields.iter().map(|f| (*f, decoded.as_str())).collect();
            v.get("/account");
            let r = v.post_form_raw(&path, &filled);
            check(&mut Browser::new(shop.souk.shop), "POST", &path, r);
        }
    }
    assert!(sent > 600, "{sent}");
    assert!(
        shop.souk.stderr().lines().all(|l| !l.contains("panicked")),
        "{}",
        shop.souk.stderr()
    );
}
