//! A running shop with one person in each role, seeded the way an operator and
//! its users would: the first admin and a category from the CLI, everyone else
//! through the web forms (registration, vendor application, role grants, a
//! listing each for the vendor and the moderator, one order).

use std::io::Write;
use std::process::{Output, Stdio};

use crate::browser::{Browser, location};
use crate::common::{Opts, Resp, Souk, souk};

/// Everyone's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The roles of the authorization matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anon,
    Buyer,
    Vendor,
    Moderator,
    Arbiter,
    Admin,
}

impl Who {
    /// Every role.
    pub const ALL: [Who; 6] = [
        Who::Anon,
        Who::Buyer,
        Who::Vendor,
        Who::Moderator,
        Who::Arbiter,
        Who::Admin,
    ];
}

/// Account ids and resources of the world.
#[derive(Debug, Clone)]
pub struct Ids {
    pub buyer: i64,
    pub vendor: i64,
    pub moderator: i64,
    pub arbiter: i64,
    pub admin: i64,
    /// The vendor's listing.
    pub listing: i64,
    /// The moderator's own listing (the moderator is a vendor too).
    pub mod_listing: i64,
    /// The buyer's order of the vendor's listing: internal and public id.
    pub order_id: i64,
    pub order: String,
}

/// The seeded shop.
pub struct World {
    pub souk: Souk,
    pub anon: Browser,
    pub buyer: Browser,
    pub vendor: Browser,
    pub moderator: Browser,
    pub arbiter: Browser,
    pub admin: Browser,
    pub id: Ids,
}

/// Runs a `souk` subcommand against the shop's config, with `stdin` as input.
pub fn cli(shop: &Souk, args: &[&str], stdin: &str) -> Output {
    let mut child = souk(shop.dir.path())
        .args(args)
        .arg("--config")
        .arg(shop.dir.path().join("souk.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn cli_ok(shop: &Souk, args: &[&str], stdin: &str) {
    let out = cli(shop, args, stdin);
    assert!(
        out.status.success(),
        "souk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a redirect and returns where it goes.
pub fn redirected(r: &Resp, what: &str) -> String {
    assert_eq!(r.status, 303, "{what}: {}", r.body);
    location(r).unwrap().to_owned()
}

impl World {
    /// Starts a shop and seeds it.
    pub fn new() -> Self {
        let souk = Souk::start(Opts::default());
        cli_ok(
            &souk,
            &["admin", "create", "--username", "root"],
            &format!("{PASSWORD}\n"),
        );
        cli_ok(&souk, &["admin", "category", "misc", "Miscellany"], "");
        cli_ok(&souk, &["admin", "category", "spare", "Spare parts"], "");
        let addr = souk.shop;
        let mut admin = Browser::new(addr);
        admin.sign_in("root", PASSWORD);
        let mut w = World {
            anon: Browser::new(addr),
            buyer: Browser::new(addr),
            vendor: Browser::new(addr),
            moderator: Browser::new(addr),
            arbiter: Browser::new(addr),
            admin,
            id: Ids {
                buyer: 0,
                vendor: 0,
                moderator: 0,
                arbiter: 0,
                admin: 0,
                listing: 0,
                mod_listing: 0,
                order_id: 0,
                order: String::new(),
            },
            souk,
        };
        w.buyer.register("bertha", PASSWORD);
        w.vendor.register("vera", PASSWORD);
        w.moderator.register("mona", PASSWORD);
        w.arbiter.register("arno", PASSWORD);
        w.id.admin = w.account("root");
        w.id.buyer = w.account("bertha");
        w.id.vendor = w.account("vera");
        w.id.moderator = w.account("mona");
        w.id.arbiter = w.account("arno");
        w.anon.get("/login");

        // The vendor applies; the admin approves on the admin page.
        w.vendor.visit("/account");
        let r = w.vendor.post_form(
            "/account/vendor-application",
            &[("statement", "Hand-made lamps.")],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let application = w.scalar(&format!(
            "SELECT id FROM vendor_applications WHERE account_id = {}",
            w.id.vendor
        ));
        w.admin.visit("/admin");
        let r = w.admin.post_form(
            &format!("/admin/applications/{application}"),
            &[("decision", "approve"), ("reason", "")],
        );
        redirected(&r, "approving the vendor");

        // Roles other than vendor come only from an admin.
        let (moderator, arbiter) = (w.id.moderator, w.id.arbiter);
        w.grant(moderator, "moderator");
        w.grant(moderator, "vendor");
        w.grant(arbiter, "arbiter");

        w.id.listing = create_listing(&mut w.vendor, "Brass lamp");
        w.id.mod_listing = create_listing(&mut w.moderator, "Moderator's own teapot");

        let option = w.scalar(&format!(
            "SELECT id FROM delivery_options WHERE listing_id = {}",
            w.id.listing
        ));
        w.buyer.visit(&format!("/listings/{}", w.id.listing));
        let r = w.buyer.post_form(
            &format!("/listings/{}/order", w.id.listing),
            &[
                ("quantity", "1"),
                ("delivery_option", &option.to_string()),
                ("delivery_note", "12 Example Street"),
            ],
        );
        let to = redirected(&r, "ordering");
        w.id.order = to.trim_start_matches("/orders/").to_owned();
        w.id.order_id = w.scalar(&format!(
            "SELECT id FROM orders WHERE public_id = '{}'",
            w.id.order
        ));
        for who in Who::ALL {
            w.refresh(who);
        }
        w
    }

    /// The browser of a role.
    pub fn b(&mut self, who: Who) -> &mut Browser {
        match who {
            Who::Anon => &mut self.anon,
            Who::Buyer => &mut self.buyer,
            Who::Vendor => &mut self.vendor,
            Who::Moderator => &mut self.moderator,
            Who::Arbiter => &mut self.arbiter,
            Who::Admin => &mut self.admin,
        }
    }

    /// Fetches a page with a form so the browser holds a current form token.
    pub fn refresh(&mut self, who: Who) {
        let page = if who == Who::Anon {
            "/login"
        } else {
            "/account"
        };
        let r = self.b(who).visit(page);
        assert_eq!(r.status, 200, "{who:?} {page}: {}", r.body);
    }

    /// A read-only connection to the shop's database.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.souk.data_dir().join("souk.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// A read-write connection (for proving what the schema refuses).
    pub fn db_rw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.souk.data_dir().join("souk.db")).unwrap()
    }

    /// One integer from the database.
    pub fn scalar(&self, sql: &str) -> i64 {
        self.db()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// One text from the database.
    pub fn text(&self, sql: &str) -> String {
        self.db()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Account id by name.
    pub fn account(&self, name: &str) -> i64 {
        self.scalar(&format!(
            "SELECT id FROM accounts WHERE username = '{name}'"
        ))
    }

    /// Role names of an account, comma separated in order.
    pub fn roles(&self, id: i64) -> String {
        self.text(&format!(
            "SELECT coalesce(group_concat(role, ','), '') FROM
                (SELECT role FROM account_roles WHERE account_id = {id} ORDER BY role)"
        ))
    }

    /// The admin grants a role through the account page.
    pub fn grant(&mut self, account: i64, role: &str) {
        self.admin.visit(&format!("/admin/accounts/{account}"));
        let r = self.admin.post_form(
            &format!("/admin/accounts/{account}/roles"),
            &[
                ("role", role),
                ("change", "grant"),
                ("reason", "trusted member"),
            ],
        );
        redirected(&r, "granting a role");
    }

    /// Everything a refused request must leave untouched, as text.
    pub fn snapshot(&self) -> String {
        let db = self.db();
        let mut out = String::new();
        for sql in [
            "SELECT id, status, coalesce(status_reason, '') FROM accounts ORDER BY id",
            "SELECT account_id, role FROM account_roles ORDER BY 1, 2",
            "SELECT account_id, count(*) FROM sessions GROUP BY 1 ORDER BY 1",
            "SELECT id, state, coalesce(moderation_reason, '') FROM listings ORDER BY id",
            "SELECT id, state, coalesce(resolution, ''), coalesce(handled_by, 0) FROM reports ORDER BY id",
            "SELECT id, state FROM vendor_applications ORDER BY id",
            "SELECT slug, name, position FROM categories ORDER BY slug",
            "SELECT slug, title, body FROM site_pages ORDER BY slug",
            "SELECT count(*), coalesce(max(id), 0) FROM audit_log",
            "SELECT count(*) FROM notifications",
        ] {
            let mut stmt = db.prepare(sql).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for row in rows {
                out.push_str(&row.unwrap().join("|"));
                out.push('\n');
            }
            out.push_str("--\n");
        }
        out
    }

    /// Posts as `who` and checks the status. A refusal must say why in the way a
    /// person would see it, and leave the database exactly as it was.
    pub fn expect(&mut self, who: Who, path: &str, fields: &[(&str, &str)], status: u16) -> Resp {
        let before = self.snapshot();
        let r = self.b(who).post_form(path, fields);
        assert_eq!(
            r.status, status,
            "{who:?} POST {path} {fields:?}: expected {status}, got {}:\n{}",
            r.status, r.body
        );
        match status {
            401 => assert!(r.body.contains("Sign in first"), "{}", r.body),
            403 => assert!(
                r.body.contains("You do not have permission to do that."),
                "{who:?} {path}: a 403 that is not about permission: {}",
                r.body
            ),
            404 => assert!(r.body.contains("Page not found"), "{}", r.body),
            _ => {}
        }
        if status >= 400 {
            assert_eq!(
                before,
                self.snapshot(),
                "{who:?} POST {path} was refused with {status} but changed the database"
            );
        }
        r
    }

    /// Every role but the ones given gets `status` (after the same form).
    pub fn refused_for_all_but(&mut self, allowed: &[Who], path: &str, fields: &[(&str, &str)]) {
        for who in Who::ALL {
            if allowed.contains(&who) {
                continue;
            }
            let status = if who == Who::Anon { 401 } else { 403 };
            self.expect(who, path, fields, status);
        }
    }
}

/// A vendor creates a listing through the form; returns its id.
pub fn create_listing(b: &mut Browser, title: &str) -> i64 {
    b.visit("/sell/new");
    let r = b.post_form(
        "/sell/new",
        &[
            ("title", title),
            ("category", "misc"),
            ("price", "0.25"),
            ("stock", "5"),
            ("description", "Works, *lovely*."),
            ("delivery_label_0", "Letter"),
            ("delivery_price_0", "0.01"),
        ],
    );
    let to = redirected(&r, "creating a listing");
    to.trim_start_matches("/sell/")
        .trim_end_matches("/edit")
        .parse()
        .unwrap()
}
