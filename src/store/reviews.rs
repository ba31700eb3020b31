//! Reviews of completed orders and the listing's rating figures they feed.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// One review, with the buyer's name and the listing it is about.
#[derive(Debug, Clone)]
pub struct Review {
    /// The reviewed order.
    pub order_id: i64,
    /// Listing.
    pub listing_id: i64,
    /// Title of the order's listing (as ordered).
    pub listing_title: String,
    /// Buyer's name.
    pub buyer: String,
    /// Vendor's name.
    pub vendor: String,
    /// 1 to 5.
    pub rating: i64,
    /// Text.
    pub body: String,
    /// The vendor's reply.
    pub reply: Option<String>,
    /// When the vendor replied.
    pub replied_at: Option<i64>,
    /// When.
    pub created_at: i64,
}

/// Fields of a new review.
#[derive(Debug, Clone)]
pub struct NewReview {
    /// Order.
    pub order_id: i64,
    /// Listing.
    pub listing_id: i64,
    /// Vendor.
    pub vendor_id: i64,
    /// Buyer.
    pub buyer_id: i64,
    /// 1 to 5.
    pub rating: i64,
    /// Text.
    pub body: String,
}

/// Records a review and adds it to the listing's rating figures. False (nothing
/// changed) when the order has a review already.
pub fn insert(c: &Connection, r: &NewReview, now: i64) -> Result<bool, StoreError> {
    let added = c.execute(
        "INSERT INTO reviews (order_id, listing_id, vendor_id, buyer_id, rating, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (order_id) DO NOTHING",
        params![
            r.order_id,
            r.listing_id,
            r.vendor_id,
            r.buyer_id,
            r.rating,
            r.body,
            now
        ],
    )?;
    if added != 1 {
        return Ok(false);
    }
    c.execute(
        "UPDATE listings SET rating_sum = rating_sum + ?2, rating_count = rating_count + 1 WHERE id = ?1",
        params![r.listing_id, r.rating],
    )?;
    Ok(true)
}

/// Sets the vendor's reply once. False when there is no review or it has a reply.
pub fn reply(
    c: &Connection,
    order_id: i64,
    vendor_id: i64,
    text: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE reviews SET reply = ?3, replied_at = ?4
         WHERE order_id = ?1 AND vendor_id = ?2 AND reply IS NULL",
        params![order_id, vendor_id, text, now],
    )? == 1)
}

const REVIEW_COLUMNS: &str = "r.order_id, r.listing_id, o.listing_title, b.username, v.username,
    r.rating, r.body, r.reply, r.replied_at, r.created_at";
const REVIEW_JOINS: &str = "reviews r JOIN orders o ON o.id = r.order_id
    JOIN accounts b ON b.id = r.buyer_id JOIN accounts v ON v.id = r.vendor_id";

fn review_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        order_id: r.get(0)?,
        listing_id: r.get(1)?,
        listing_title: r.get(2)?,
        buyer: r.get(3)?,
        vendor: r.get(4)?,
        rating: r.get(5)?,
        body: r.get(6)?,
        reply: r.get(7)?,
        replied_at: r.get(8)?,
        created_at: r.get(9)?,
    })
}

/// The review of an order, if any.
pub fn for_order(c: &Connection, order_id: i64) -> Result<Option<Review>, StoreError> {
    let sql = format!("SELECT {REVIEW_COLUMNS} FROM {REVIEW_JOINS} WHERE r.order_id = ?1");
    Ok(c.prepare_cached(&sql)?
        .query_row([order_id], review_row)
        .optional()?)
}

/// Which reviews to list.
#[derive(Debug, Clone, Copy)]
pub enum About {
    /// Of one listing.
    Listing(i64),
    /// Of all of a vendor's listings.
    Vendor(i64),
}

/// The SQL of a page of reviews and its first parameter. The index gives the
/// newest first; only reviews of the same second are sorted (by order id).
fn page_sql(about: About) -> (String, i64) {
    let (col, id) = match about {
        About::Listing(id) => ("r.listing_id", id),
        About::Vendor(id) => ("r.vendor_id", id),
    };
    let sql = format!(
        "SELECT {REVIEW_COLUMNS} FROM {REVIEW_JOINS} WHERE {col} = ?1
         ORDER BY r.created_at DESC, r.order_id DESC LIMIT ?2 OFFSET ?3"
    );
    (sql, id)
}

/// A page of reviews, newest first (served by reviews_by_listing / reviews_by_vendor).
pub fn page(
    c: &Connection,
    about: About,
    limit: i64,
    offset: i64,
) -> Result<Vec<Review>, StoreError> {
    let (sql, id) = page_sql(about);
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![id, limit, offset], review_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn review_pages_are_served_by_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::apply(&mut c).unwrap();
        for about in [About::Listing(1), About::Vendor(1)] {
            let (sql, _) = page_sql(about);
            let plan = crate::store::messages::query_plan(&c, &sql);
            assert!(plan.contains("USING INDEX reviews_by_"), "{plan}");
            assert!(
                // Sorting ties within a second ("RIGHT PART") is fine; a full sort is not.
                !plan.contains("TEMP B-TREE FOR ORDER BY") && !plan.contains("SCAN "),
                "{plan}"
            );
        }
    }
}
