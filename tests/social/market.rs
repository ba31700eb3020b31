//! The shop every social test starts from, and small page helpers.

use souk::market::auth::{AdminCap, Role};
use souk::market::orders::{Timing, escrow_events};
use souk::store::Db;

use crate::common::browser::Browser;
use crate::common::storefront::{Teapot, goods_category, order_one, vendor_with_teapot};
use crate::common::{Opts, Souk};

/// Everyone's password in these tests.
pub const PASSWORD: &str = "correct horse battery";

/// A running shop with a vendor, a listing and a handle on its database.
pub struct Market {
    pub souk: Souk,
    pub db: Db,
    pub rt: tokio::runtime::Runtime,
    pub vendor: Browser,
    pub listing_id: i64,
}

impl Market {
    pub fn start() -> Self {
        let souk = Souk::start(Opts {
            extra_toml: "[market]\nopen_vendor_signup = true\n".to_owned(),
            ..Opts::default()
        });
        goods_category(&souk);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (db, _) = Db::open(&souk.data_dir().join("souk.db")).unwrap();
        let (vendor, listing) = vendor_with_teapot(
            &souk,
            PASSWORD,
            Teapot {
                price: "0.5",
                stock: "50",
                delivery: "0",
            },
        );
        let listing_id = listing.parse().unwrap();
        Self {
            souk,
            db,
            rt,
            vendor,
            listing_id,
        }
    }

    /// A signed-in person; `role` is granted as an admin would.
    pub fn person(&self, name: &str, role: Option<Role>) -> Browser {
        let mut b = Browser::new(self.souk.shop);
        b.register(name, PASSWORD);
        if let Some(role) = role {
            let id = self.account_id(name);
            self.rt
                .block_on(souk::market::accounts::set_role(
                    &self.db,
                    &AdminCap::console(),
                    id,
                    role,
                    true,
                    "test seed",
                ))
                .unwrap();
        }
        b
    }

    pub fn account_id(&self, name: &str) -> i64 {
        let name = name.to_owned();
        self.rt
            .block_on(
                self.db
                    .read(move |c| souk::store::accounts::id_by_name(c, &name)),
            )
            .unwrap()
            .unwrap()
    }

    /// The buyer orders the listing through the form; returns the order's public id.
    pub fn order(&self, buyer: &mut Browser) -> String {
        order_one(
            buyer,
            &self.listing_id.to_string(),
            "Flat 3, 1 Harbour Road",
        );
        buyer
            .path
            .strip_prefix("/orders/")
            .unwrap_or_else(|| panic!("ordered, now at {}", buyer.path))
            .to_owned()
    }

    pub fn order_id(&self, public_id: &str) -> i64 {
        let pid = public_id.to_owned();
        self.rt
            .block_on(
                self.db
                    .read(move |c| souk::store::orders::by_public_id(c, &pid)),
            )
            .unwrap()
            .unwrap()
            .id
    }

    /// Moves the order to paid as an escrow engine would.
    pub fn pay(&self, public_id: &str) {
        let id = self.order_id(public_id);
        let t = Timing::default();
        self.rt
            .block_on(async {
                escrow_events::payment_requested(&self.db, t, id).await?;
                escrow_events::funded(&self.db, t, id).await
            })
            .unwrap();
    }

    /// One number from the database.
    pub fn count(&self, sql: &str, param: i64) -> i64 {
        let sql = sql.to_owned();
        self.rt
            .block_on(
                self.db
                    .read(move |c| Ok(c.query_row(&sql, [param], |r| r.get(0))?)),
            )
            .unwrap()
    }

    /// (outcome, vendor percent, state) of an order.
    pub fn outcome(&self, public_id: &str) -> (Option<String>, Option<i64>, String) {
        let pid = public_id.to_owned();
        let o = self
            .rt
            .block_on(
                self.db
                    .read(move |c| souk::store::orders::by_public_id(c, &pid)),
            )
            .unwrap()
            .unwrap();
        (o.outcome, o.outcome_vendor_percent, o.state.to_string())
    }
}

/// Text as the pages show it, HTML-escaped the way askama escapes.
pub fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

pub use crate::common::storefront::between;

/// The unread count the header shows.
pub fn unread(b: &mut Browser) -> i64 {
    let page = b.get("/orders");
    match page.body.find("class=\"badge\"") {
        Some(_) => between(&page.body, "unread\">", "<").parse().unwrap(),
        None => 0,
    }
}

/// A small real PNG.
pub fn png() -> Vec<u8> {
    // 2x2 RGB, made with a fixed zlib stream: no image crate in the test binary.
    let mut out = Vec::new();
    out.extend_from_slice(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
    let chunk = |out: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    };
    let ihdr = [0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0];
    chunk(&mut out, b"IHDR", &ihdr);
    // Rows: filter byte 0 + 2 pixels * 3 bytes; stored (uncompressed) deflate block.
    let raw: Vec<u8> = [0u8, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 200, 200, 200].to_vec();
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    z.extend_from_slice(&raw);
    z.extend_from_slice(&adler32(&raw).to_be_bytes());
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
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

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}
