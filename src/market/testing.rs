//! A small shop in a temp dir for the domain's unit tests: a vendor with a listing,
//! a buyer, and helpers that move an order along through the real domain API.

use super::auth::{self, Viewer};
use super::orders::{self, OrderInput, Timing};
use super::{disputes, now};
use crate::store::listings::ListingFields;
use crate::store::orders::OrderRow;
use crate::store::{Db, accounts, listings, orders as order_store};

/// A temp-dir shop with one vendor, one listing and one buyer.
pub struct Shop {
    /// The database.
    pub db: Db,
    /// The buyer.
    pub buyer: Viewer,
    /// The vendor.
    pub vendor: Viewer,
    /// The vendor's listing (stock 100, one free delivery option).
    pub listing_id: i64,
    /// Default timing.
    pub timing: Timing,
    _dir: tempfile::TempDir,
}

impl Shop {
    /// Opens a fresh database and seeds it.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(&dir.path().join("souk.db")).unwrap();
        let mut shop = Self {
            buyer: person(&db, "buyer", &[]).await,
            vendor: person(&db, "vendor", &["vendor"]).await,
            db,
            listing_id: 0,
            timing: Timing::default(),
            _dir: dir,
        };
        let vendor_id = shop.vendor.account_id;
        shop.listing_id = shop
            .db
            .write(move |c| {
                listings::upsert_category(c, "goods", "Goods", 0)?;
                let category_id = listings::categories(c)?[0].id;
                let fields = ListingFields {
                    category_id,
                    title: "A fine thing".to_owned(),
                    description: "It is fine.".to_owned(),
                    price: 1_000_000_000_000,
                    stock: 100,
                    delivery: vec![("Post".to_owned(), 0)],
                };
                listings::insert(c, vendor_id, &fields, now())
            })
            .await
            .unwrap();
        shop
    }

    /// Another signed-in person with the given roles.
    pub async fn person(&self, name: &str, roles: &[&str]) -> Viewer {
        person(&self.db, name, roles).await
    }

    /// A new order of the listing by the buyer, moved to `paid` as the escrow would.
    pub async fn paid_order(&self) -> OrderRow {
        let option = {
            let id = self.listing_id;
            self.db
                .read(move |c| Ok(listings::get(c, id)?.unwrap().delivery[0].id))
                .await
                .unwrap()
        };
        let input = OrderInput {
            listing_id: self.listing_id,
            quantity: "1".to_owned(),
            delivery_option: option.to_string(),
            delivery_note: "1 Main Street".to_owned(),
        };
        let pid = orders::place(&self.db, &None, self.timing, &self.buyer, &input)
            .await
            .unwrap();
        let id = self.order(&pid).await.id;
        orders::escrow_events::payment_requested(&self.db, self.timing, id)
            .await
            .unwrap();
        orders::escrow_events::funded(&self.db, self.timing, id)
            .await
            .unwrap();
        self.order(&pid).await
    }

    /// A paid order that the vendor shipped and the buyer finalized.
    pub async fn completed_order(&self) -> OrderRow {
        let o = self.paid_order().await;
        for (who, action) in [
            (&self.vendor, orders::Action::Ship),
            (&self.buyer, orders::Action::Finalize),
        ] {
            orders::act(&self.db, self.timing, who, &o.public_id, action)
                .await
                .unwrap();
        }
        self.order(&o.public_id).await
    }

    /// The order as stored now.
    pub async fn order(&self, public_id: &str) -> OrderRow {
        let pid = public_id.to_owned();
        self.db
            .read(move |c| order_store::by_public_id(c, &pid))
            .await
            .unwrap()
            .unwrap()
    }

    /// Files a report on an order (the moderation branch builds the form).
    pub async fn report_order(&self, order_id: i64) {
        let by = self.buyer.account_id;
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO reports (reporter_id, target_kind, target_id, reason, created_at)
                     VALUES (?1, 'order', ?2, 'looks wrong', 0)",
                    [by, order_id],
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }

    /// Opens a dispute as `who`.
    pub async fn dispute(&self, who: &Viewer, public_id: &str) {
        disputes::open(
            &self.db,
            self.timing,
            who,
            public_id,
            "It never arrived, and the vendor does not answer.",
        )
        .await
        .unwrap();
    }

    /// Unread notifications of an account.
    pub async fn unread(&self, account_id: i64) -> i64 {
        self.db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM notifications WHERE account_id = ?1 AND read_at IS NULL",
                    [account_id],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
    }
}

/// Creates an account (no password: nobody signs in with it) and a session for it.
async fn person(db: &Db, name: &str, roles: &[&str]) -> Viewer {
    let (name, roles): (String, Vec<String>) = (
        name.to_owned(),
        roles.iter().map(|r| r.to_string()).collect(),
    );
    let id = db
        .write(move |c| {
            let tx = c.transaction()?;
            let id = accounts::insert(&tx, &name, "!", now())?.unwrap();
            for r in &roles {
                accounts::grant_role(&tx, id, r, None, now())?;
            }
            tx.commit()?;
            Ok(id)
        })
        .await
        .unwrap();
    let token = auth::start_session(db, id).await.unwrap();
    auth::viewer_from_cookie(db, &token).await.unwrap().unwrap()
}

/// A small real PNG image.
pub fn png() -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_fn(32, 24, |x, y| image::Rgb([x as u8 * 8, y as u8 * 10, 90]))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}
