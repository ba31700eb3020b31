//! Registration, sign-in throttling, two-factor, recovery, sessions, passwords.

use crate::common::shop::{PASSWORD, Shop};
use crate::common::visitor::{Browser, between};

#[test]
fn registration_shows_codes_once_and_refuses_bad_input_keeping_it() {
    let shop = Shop::start();
    let mut alice = shop.browser();
    let codes = alice.register("alice", PASSWORD);
    assert!(codes.iter().all(|c| c.len() == 19), "{codes:?}");
    let account = alice.get("/account");
    account.expect(200).expect_text("alice");
    for c in &codes {
        assert!(
            !account.body.contains(c.as_str()),
            "codes are shown only once"
        );
    }
    assert_eq!(shop.i64("SELECT count(*) FROM recovery_codes"), 8);
    let stored: Vec<u8> = shop
        .block_on(shop.db.read(|c| {
            Ok(
                c.query_row("SELECT code_hash FROM recovery_codes LIMIT 1", [], |r| {
                    r.get(0)
                })?,
            )
        }))
        .unwrap();
    assert!(
        !codes
            .iter()
            .any(|c| stored.windows(4).any(|w| c.as_bytes().starts_with(w))),
        "codes are stored hashed"
    );

    let mut other = shop.browser();
    other.get("/register").expect(200);
    for (name, pw, pw2, message) in [
        ("ALICE", PASSWORD, PASSWORD, "That username is taken"),
        ("bob_the_buyer", "short", "short", "at least 10 characters"),
        (
            "bob_the_buyer",
            PASSWORD,
            "something else",
            "The two passwords differ",
        ),
        ("bad name!", PASSWORD, PASSWORD, "3 to 32 characters"),
        (
            "bob_the_buyer",
            "bob_the_buyer",
            "bob_the_buyer",
            "must not be the username",
        ),
    ] {
        let r = other.post_form(
            "/register",
            &[("username", name), ("password", pw), ("password2", pw2)],
        );
        r.expect(422)
            .expect_text(message)
            .expect_text("<form method=\"post\" action=\"/register\"");
        let kept = format!("value=\"{name}\"");
        assert!(
            r.body.contains(&kept),
            "the username is kept: {name}\n{}",
            r.body
        );
        if pw != name {
            assert!(
                !r.body.contains(&format!("value=\"{pw}\"")),
                "passwords are never echoed"
            );
        }
        assert!(other.cookie("souk_session").is_none());
    }
    assert_eq!(shop.i64("SELECT count(*) FROM accounts"), 1);
}

#[test]
fn sign_in_is_throttled_per_account_and_per_cookie_jar() {
    let shop = Shop::start();
    shop.buyer("carol");
    shop.buyer("dave");
    // Per account: five failures from five different browsers lock carol.
    for _ in 0..5 {
        let mut b = shop.browser();
        b.login("carol", "wrong password!")
            .expect(422)
            .expect_text("Wrong username, password");
    }
    let mut fresh = shop.browser();
    let r = fresh.login("carol", PASSWORD);
    r.expect(429).expect_text("Try again in");
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=30).contains(&secs), "{secs}");
    assert!(
        r.body.contains(&format!("Try again in {secs} s"))
            || r.body.contains(&format!("Try again in {} s", secs - 1))
    );
    assert!(fresh.cookie("souk_session").is_none());
    // dave is not affected by carol's lock.
    shop.browser().login("dave", PASSWORD).expect(200);

    // Per jar: one browser failing on names that do not exist is slowed down,
    // even for a correct sign-in to another account afterwards.
    let mut flood = shop.browser();
    for i in 0..5 {
        flood
            .login(&format!("nobody{i}"), "wrong password!")
            .expect(422);
    }
    let r = flood.login("dave", PASSWORD);
    r.expect(429).expect_text("Try again in");
    assert!(r.header("retry-after").is_some());
    // Other visitors (other jars) are not.
    shop.browser().login("dave", PASSWORD).expect(200);
}

fn totp_secret(page: &str) -> String {
    between(page, "Secret: <code>", "</code>").expect("the secret is shown as text")
}

fn code_at(secret: &str, offset: i64) -> String {
    souk::market::accounts::totp_code_at(secret, souk::market::now() + offset).unwrap()
}

#[test]
fn two_factor_enable_sign_in_and_replay() {
    let shop = Shop::start();
    let mut erin = shop.buyer("erin");
    let page = erin.get("/account/2fa");
    page.expect(200).expect_text("<svg");
    let secret = totp_secret(&page.body);
    let wrong = erin.post_form(
        "/account/2fa/enable",
        &[("secret", &secret), ("code", "000000")],
    );
    wrong.expect(422).expect_text("does not match");
    assert_eq!(
        totp_secret(&wrong.body),
        secret,
        "the same secret is offered again"
    );
    erin.post_form(
        "/account/2fa/enable",
        &[("secret", &secret), ("code", &code_at(&secret, 0))],
    )
    .expect(200)
    .expect_text("Two-factor sign-in is on");
    assert_eq!(
        shop.text("SELECT totp_secret FROM accounts WHERE username = 'erin'"),
        secret
    );

    let mut b = shop.browser();
    b.login("erin", PASSWORD)
        .expect(422)
        .expect_text("two-factor code");
    // The code used to enable it is spent; the next one (within the skew) works once.
    b.login_with_code("erin", PASSWORD, &code_at(&secret, 0))
        .expect(422);
    let next = code_at(&secret, 30);
    b.login_with_code("erin", PASSWORD, &next)
        .expect(200)
        .expect_text("erin");
    let mut replay = shop.browser();
    replay.login_with_code("erin", PASSWORD, &next).expect(422);
    assert!(!replay.signed_in(), "a code works once");
    let audit = shop.i64("SELECT count(*) FROM audit_log WHERE action = 'totp_enabled'");
    assert_eq!(audit, 1);
}

#[test]
fn recovery_code_resets_the_password_and_ends_every_session() {
    let shop = Shop::start();
    let mut frank = shop.browser();
    let codes = frank.register("frank", PASSWORD);
    let mut laptop = shop.browser();
    laptop.login("frank", PASSWORD).expect(200);
    assert!(frank.signed_in() && laptop.signed_in());

    let mut lost = shop.browser();
    lost.get("/recover").expect(200);
    let new_password = "a brand new passphrase";
    lost.post_form(
        "/recover",
        &[
            ("username", "frank"),
            ("code", "AAAA-BBBB-CCCC-DDDD"),
            ("password", new_password),
        ],
    )
    .expect(422)
    .expect_text("Wrong username or recovery code");
    let sloppy = codes[0].to_lowercase().replace('-', " ");
    let r = lost.post_form(
        "/recover",
        &[
            ("username", "frank"),
            ("code", &sloppy),
            ("password", new_password),
        ],
    );
    r.expect(200).expect_text("Sign in");
    assert!(!frank.signed_in(), "the old sessions ended");
    assert!(!laptop.signed_in());
    shop.browser().login("frank", PASSWORD).expect(422);
    shop.browser().login("frank", new_password).expect(200);
    // A used code does not work twice.
    lost.get("/recover");
    lost.post_form(
        "/recover",
        &[
            ("username", "frank"),
            ("code", &codes[0]),
            ("password", "yet another passphrase"),
        ],
    )
    .expect(422);
    assert_eq!(
        shop.i64("SELECT count(*) FROM audit_log WHERE action = 'password_reset'"),
        1
    );
}

#[test]
fn sessions_page_log_out_everywhere_and_password_change() {
    let shop = Shop::start();
    let mut phone = shop.buyer("grace");
    let mut desk = shop.browser();
    desk.login("grace", PASSWORD).expect(200);
    let page = phone.get("/account/sessions");
    page.expect(200).expect_text("this session");
    assert_eq!(page.body.matches("<tr><td>").count(), 2, "{}", page.body);

    // Password change ends the other sessions, not this one.
    phone.get("/account");
    phone
        .post_form(
            "/account/password",
            &[
                ("current", "not it at all"),
                ("new", "another long passphrase"),
            ],
        )
        .expect(422)
        .expect_text("current password is wrong");
    assert!(desk.signed_in());
    phone
        .post_form(
            "/account/password",
            &[("current", PASSWORD), ("new", "another long passphrase")],
        )
        .expect(200)
        .expect_text("Password changed");
    assert!(phone.signed_in());
    assert!(!desk.signed_in(), "the other session ended");
    assert_eq!(shop.i64("SELECT count(*) FROM sessions"), 1);

    // Log out everywhere ends this one too.
    let mut desk = Browser::new(shop.souk.shop);
    desk.login("grace", "another long passphrase").expect(200);
    phone.get("/account/sessions");
    let r = phone.post_form("/account/sessions/end-all", &[]);
    r.expect(200).expect_text("Sign in");
    assert!(!phone.signed_in() && !desk.signed_in());
    assert_eq!(shop.i64("SELECT count(*) FROM sessions"), 0);
}
