//! A running shop for marketplace tests: the real binary (see [`Souk`]), seeded
//! through its CLI and its forms, plus a handle on the same SQLite file for what
//! only the domain API may do (payments, timed jobs) and for checking the database.

use std::io::Write;
use std::process::{Output, Stdio};

use super::visitor::Browser;
use super::{Opts, Souk, souk};
use souk::market::orders::Timing;
use souk::store::Db;

/// A password good enough for souk's rules.
pub const PASSWORD: &str = "correct horse battery";

/// The running shop.
pub struct Shop {
    /// The process.
    pub souk: Souk,
    /// The same database file, opened by the test.
    pub db: Db,
    rt: tokio::runtime::Runtime,
}

impl Shop {
    /// A shop with the categories `books` and `tools`.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// A shop with extra config TOML (sections only).
    pub fn start_with(extra_toml: &str) -> Self {
        let souk = Souk::start(Opts {
            extra_toml: extra_toml.to_owned(),
            ..Opts::default()
        });
        let (db, _) =
            Db::open(&souk.data_dir().join("souk.db")).expect("the test opens the shop's database");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let shop = Self { souk, db, rt };
        shop.category("books", "Books");
        shop.category("tools", "Tools");
        shop
    }

    /// Runs a future of the domain API.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Runs `souk ARGS --config <the shop's config>` with `stdin` as input.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let dir = self.souk.dir.path();
        let mut child = souk(dir)
            .args(args)
            .arg("--config")
            .arg(dir.join("souk.toml"))
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

    /// `souk admin category SLUG NAME`.
    pub fn category(&self, slug: &str, name: &str) {
        let out = self.cli(&["admin", "category", slug, name], "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `souk admin create --username NAME`, then signed in.
    pub fn admin(&self, name: &str) -> Browser {
        let out = self.cli(
            &["admin", "create", "--username", name],
            &format!("{PASSWORD}\n"),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut b = self.browser();
        b.login(name, PASSWORD).expect(200);
        b
    }

    /// A browser with no cookies.
    pub fn browser(&self) -> Browser {
        Browser::new(self.souk.shop)
    }

    /// A registered, signed-in buyer.
    pub fn buyer(&self, name: &str) -> Browser {
        let mut b = self.browser();
        b.register(name, PASSWORD);
        b
    }

    /// A registered vendor: applies on the account page, and the application is
    /// approved through the domain API as the operator's console.
    pub fn vendor(&self, name: &str) -> Browser {
        let mut b = self.buyer(name);
        b.get("/account").expect(200);
        b.post_form(
            "/account/vendor-application",
            &[("statement", "I sell books")],
        )
        .expect(200)
        .expect_text("Application sent");
        let id = self.i64(&format!(
            "SELECT v.id FROM vendor_applications v JOIN accounts a ON a.id = v.account_id
             WHERE a.username = '{name}' AND v.state = 'pending'"
        ));
        self.block_on(souk::market::accounts::decide_application(
            &self.db,
            &souk::market::auth::AdminCap::console(),
            id,
            true,
            "",
        ))
        .unwrap();
        b.get("/sell").expect(200);
        b
    }

    /// Creates a listing through the vendor's form; returns its id.
    pub fn listing(&self, vendor: &mut Browser, title: &str, price: &str, stock: &str) -> i64 {
        self.listing_in(
            vendor,
            "books",
            title,
            price,
            stock,
            "A fine thing, described.",
        )
    }

    /// Creates a listing with every field chosen; returns its id.
    pub fn listing_in(
        &self,
        vendor: &mut Browser,
        category: &str,
        title: &str,
        price: &str,
        stock: &str,
        description: &str,
    ) -> i64 {
        vendor.get("/sell/new").expect(200);
        let r = vendor.post_form(
            "/sell/new",
            &[
                ("title", title),
                ("category", category),
                ("price", price),
                ("stock", stock),
                ("description", description),
                ("delivery_label_0", "Letter"),
                ("delivery_price_0", "0.01"),
            ],
        );
        r.expect(200);
        r.path
            .strip_prefix("/sell/")
            .and_then(|p| p.strip_suffix("/edit"))
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("after creating a listing: {}", r.path))
    }

    /// Orders one unit with the first delivery option; returns the public id.
    pub fn order(&self, buyer: &mut Browser, listing: i64, note: &str) -> String {
        let page = buyer.get(&format!("/listings/{listing}"));
        page.expect(200);
        let option = super::visitor::between(&page.body, "name=\"delivery_option\" value=\"", "\"")
            .expect("the listing page offers a delivery option");
        let r = buyer.post_form(
            &format!("/listings/{listing}/order"),
            &[
                ("quantity", "1"),
                ("delivery_option", &option),
                ("delivery_note", note),
            ],
        );
        r.expect(200);
        r.path
            .strip_prefix("/orders/")
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("ordering led to {}:\n{}", r.path, r.body))
    }

    /// The order's internal id.
    pub fn order_id(&self, public_id: &str) -> i64 {
        self.i64(&format!(
            "SELECT id FROM orders WHERE public_id = '{public_id}'"
        ))
    }

    /// Moves an order to paid the way an escrow engine would: payment requested, funded.
    pub fn pay(&self, public_id: &str) {
        use souk::market::orders::escrow_events::{funded, payment_requested};
        let id = self.order_id(public_id);
        self.block_on(payment_requested(&self.db, Timing::default(), id))
            .unwrap();
        self.block_on(funded(&self.db, Timing::default(), id))
            .unwrap();
    }

    /// The order's state as stored.
    pub fn order_state(&self, public_id: &str) -> String {
        self.text(&format!(
            "SELECT state FROM orders WHERE public_id = '{public_id}'"
        ))
    }

    /// One integer from the database.
    pub fn i64(&self, sql: &str) -> i64 {
        let sql = sql.to_owned();
        self.block_on(
            self.db
                .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?)),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// One text value from the database.
    pub fn text(&self, sql: &str) -> String {
        let sql = sql.to_owned();
        self.block_on(
            self.db
                .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?)),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs SQL on the database (setting deadlines into the past, for jobs).
    pub fn exec(&self, sql: &str) {
        let sql = sql.to_owned();
        self.block_on(self.db.write(move |c| Ok(c.execute_batch(&sql)?)))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Everything a forbidden request must leave unchanged, as text.
    pub fn fingerprint(&self) -> String {
        const TABLES: &[&str] = &[
            "SELECT id, vendor_id, category_id, title, description, price_piconero, stock, state FROM listings",
            "SELECT id, listing_id, label, price_piconero FROM delivery_options",
            "SELECT id, listing_id, position, etag FROM listing_images",
            "SELECT id, buyer_id, vendor_id, state, delivery_note, stock_reserved FROM orders",
            "SELECT count(*) FROM order_events",
            "SELECT id, username, password_hash, status, totp_secret, pgp_key FROM accounts",
            "SELECT account_id, role FROM account_roles",
            "SELECT id, account_id, state FROM vendor_applications",
            "SELECT count(*) FROM sessions",
            "SELECT count(*) FROM notifications",
        ];
        self.block_on(self.db.read(|c| {
            let mut out = String::new();
            for sql in TABLES {
                let mut stmt = c.prepare(&format!("{sql} ORDER BY 1"))?;
                let n = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        out.push_str(&format!("{v:?}|"));
                    }
                    out.push('\n');
                }
            }
            Ok(out)
        }))
        .unwrap()
    }
}

/// A small PNG with a text chunk and an eXIf chunk (camera metadata) in it.
pub fn png_with_metadata(w: u32, h: u32) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 140]));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    // Insert tEXt and eXIf chunks right after IHDR (8-byte signature + 25-byte IHDR).
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        let crc = crc32(&c[4..]);
        c.extend_from_slice(&crc.to_be_bytes());
        c
    };
    let mut exif = b"MM\0*\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(b"\x01\x0f\0\x02\0\0\0\x0cSECRETCAMERA\0\0\0\0");
    let mut out = png[..33].to_vec();
    out.extend(chunk(b"tEXt", b"Comment\0GPS 52.5200N 13.4050E"));
    out.extend(chunk(b"eXIf", &exif));
    out.extend_from_slice(&png[33..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
