//! Catalogue queries: one query per page, each ordering served by an index.

use rusqlite::{Connection, params_from_iter, types::Value};

use super::StoreError;

/// A card in a listing grid.
#[derive(Debug, Clone)]
pub struct Card {
    /// Listing id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Price per unit.
    pub price: i64,
    /// Vendor name.
    pub vendor: String,
    /// First image, if any.
    pub thumb_id: Option<i64>,
    /// Sum of ratings.
    pub rating_sum: i64,
    /// Number of ratings.
    pub rating_count: i64,
}

/// Sort orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Newest first.
    Newest,
    /// Cheapest first.
    PriceLow,
    /// Dearest first.
    PriceHigh,
    /// Most rated first.
    Rating,
    /// Best text match first (search only).
    Relevance,
}

/// Filters for a page of cards.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Category id.
    pub category_id: Option<i64>,
    /// Vendor id.
    pub vendor_id: Option<i64>,
    /// Lowest price.
    pub min_price: Option<i64>,
    /// Highest price.
    pub max_price: Option<i64>,
    /// FTS5 query (already made safe by the caller).
    pub fts: Option<String>,
}

const CARD_COLUMNS: &str = "l.id, l.title, l.price_piconero, a.username,
    (SELECT i.id FROM listing_images i WHERE i.listing_id = l.id ORDER BY i.position LIMIT 1),
    l.rating_sum, l.rating_count";

/// The SQL and parameters for a page of cards (public for EXPLAIN QUERY PLAN tests).
///
/// Each ordering walks one index in order (`INDEXED BY` pins it, so statistics
/// can never turn it into a scan plus a sort): the vendor's index when a vendor
/// is given, else the category's, else the shop-wide one. A search term either
/// drives the query from FTS5 (best match first in rank order, or newest first
/// in descending rowid order) or, for the price and rating orderings, restricts
/// the index walk to the matching ids.
pub fn page_sql(filter: &Filter, sort: Sort, limit: i64, offset: i64) -> (String, Vec<Value>) {
    let mut params: Vec<Value> = Vec::new();
    let mut conds = vec![
        "l.state = 'active'".to_owned(),
        "a.status = 'active'".to_owned(),
    ];
    let by_rank = sort == Sort::Relevance && filter.fts.is_some();
    let sort = if sort == Sort::Relevance {
        Sort::Newest
    } else {
        sort
    };
    // Ids grow with creation time, so the newest matches are FTS5's highest rowids:
    // read backwards from its index, stopping after one page.
    let by_rowid = sort == Sort::Newest && filter.fts.is_some();
    let (index, order) = match sort {
        Sort::PriceLow => ("price", "l.price_piconero, l.id"),
        Sort::PriceHigh => ("price", "l.price_piconero DESC, l.id DESC"),
        Sort::Rating => ("rating", "l.rating_count DESC, l.id DESC"),
        Sort::Newest | Sort::Relevance => ("newest", "l.created_at DESC, l.id DESC"),
    };
    let scope = if filter.vendor_id.is_some() {
        "vendor_"
    } else if filter.category_id.is_some() {
        "category_"
    } else {
        ""
    };
    let (from, order) = match &filter.fts {
        Some(q) if by_rank || by_rowid => {
            params.push(Value::Text(q.clone()));
            conds.push(format!("listings_fts MATCH ?{}", params.len()));
            (
                "listings_fts f CROSS JOIN listings l ON l.id = f.rowid JOIN accounts a ON a.id = l.vendor_id".to_owned(),
                if by_rank { "f.rank" } else { "f.rowid DESC" },
            )
        }
        fts => {
            if let Some(q) = fts {
                params.push(Value::Text(q.clone()));
                conds.push(format!(
                    "l.id IN (SELECT rowid FROM listings_fts WHERE listings_fts MATCH ?{})",
                    params.len()
                ));
            }
            (
                format!(
                    "listings l INDEXED BY listings_{scope}{index} JOIN accounts a ON a.id = l.vendor_id"
                ),
                order,
            )
        }
    };
    if let Some(c) = filter.category_id {
        params.push(Value::Integer(c));
        conds.push(format!("l.category_id = ?{}", params.len()));
    }
    if let Some(v) = filter.vendor_id {
        params.push(Value::Integer(v));
        conds.push(format!("l.vendor_id = ?{}", params.len()));
    }
    if let Some(p) = filter.min_price {
        params.push(Value::Integer(p));
        conds.push(format!("l.price_piconero >= ?{}", params.len()));
    }
    if let Some(p) = filter.max_price {
        params.push(Value::Integer(p));
        conds.push(format!("l.price_piconero <= ?{}", params.len()));
    }
    params.push(Value::Integer(limit));
    let lim = params.len();
    params.push(Value::Integer(offset));
    let off = params.len();
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM {from} WHERE {} ORDER BY {order} LIMIT ?{lim} OFFSET ?{off}",
        conds.join(" AND ")
    );
    (sql, params)
}

/// A page of cards.
pub fn page(
    c: &Connection,
    filter: &Filter,
    sort: Sort,
    limit: i64,
    offset: i64,
) -> Result<Vec<Card>, StoreError> {
    let (sql, params) = page_sql(filter, sort, limit, offset);
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            Ok(Card {
                id: r.get(0)?,
                title: r.get(1)?,
                price: r.get(2)?,
                vendor: r.get(3)?,
                thumb_id: r.get(4)?,
                rating_sum: r.get(5)?,
                rating_count: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// A vendor's public profile figures.
#[derive(Debug, Clone)]
pub struct VendorProfile {
    /// Account id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// Member since.
    pub created_at: i64,
    /// Public PGP key.
    pub pgp_key: Option<String>,
    /// Completed orders.
    pub completed: i64,
    /// Orders that were paid (the base of the dispute rate).
    pub funded: i64,
    /// Orders that saw a dispute.
    pub disputed: i64,
    /// Sum and count of review ratings.
    pub rating_sum: i64,
    /// Number of reviews.
    pub rating_count: i64,
}

/// A vendor's profile, if the account is an active vendor.
pub fn vendor_profile(c: &Connection, username: &str) -> Result<Option<VendorProfile>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(c.query_row(
        "SELECT a.id, a.username, a.created_at, a.pgp_key,
            (SELECT count(*) FROM orders o WHERE o.vendor_id = a.id AND o.state = 'completed'),
            (SELECT count(*) FROM orders o WHERE o.vendor_id = a.id
                AND o.state IN ('paid', 'shipped', 'completed', 'disputed', 'resolved')),
            (SELECT count(DISTINCT d.order_id) FROM disputes d JOIN orders o ON o.id = d.order_id WHERE o.vendor_id = a.id),
            (SELECT coalesce(sum(rating), 0) FROM reviews r WHERE r.vendor_id = a.id),
            (SELECT count(*) FROM reviews r WHERE r.vendor_id = a.id)
         FROM accounts a
         WHERE a.username = ?1 AND a.status = 'active'
           AND EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id AND r.role = 'vendor')",
        [username],
        |r| {
            Ok(VendorProfile {
                id: r.get(0)?,
                username: r.get(1)?,
                created_at: r.get(2)?,
                pgp_key: r.get(3)?,
                completed: r.get(4)?,
                funded: r.get(5)?,
                disputed: r.get(6)?,
                rating_sum: r.get(7)?,
                rating_count: r.get(8)?,
            })
        },
    )
    .optional()?)
}
