//! Disputes: opened with an order's move to `disputed`, decided with its move to
//! `resolved` (both inside the order's transition transaction).

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A dispute as stored, with names and the order's public id and title.
#[derive(Debug, Clone)]
pub struct DisputeRow {
    /// Id.
    pub id: i64,
    /// Order id.
    pub order_id: i64,
    /// Order public id.
    pub public_id: String,
    /// Title of the order's listing.
    pub listing_title: String,
    /// Total of the order (piconero).
    pub total: i64,
    /// Who opened it.
    pub opened_by: String,
    /// Their account.
    pub opened_by_id: i64,
    /// Why.
    pub reason: String,
    /// open or decided.
    pub state: String,
    /// release, refund or split.
    pub decision: Option<String>,
    /// The vendor's share in percent.
    pub vendor_percent: Option<i64>,
    /// The arbiter's written rationale.
    pub rationale: Option<String>,
    /// Deciding arbiter's name.
    pub arbiter: Option<String>,
    /// Opened.
    pub opened_at: i64,
    /// Decided.
    pub decided_at: Option<i64>,
}

const DISPUTE_COLUMNS: &str = "d.id, d.order_id, o.public_id, o.listing_title, o.total_piconero,
    a.username, d.opened_by, d.reason, d.state, d.decision, d.vendor_percent, d.rationale,
    x.username, d.opened_at, d.decided_at";
const DISPUTE_JOINS: &str = "disputes d JOIN orders o ON o.id = d.order_id
    JOIN accounts a ON a.id = d.opened_by LEFT JOIN accounts x ON x.id = d.arbiter_id";

fn dispute_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DisputeRow> {
    Ok(DisputeRow {
        id: r.get(0)?,
        order_id: r.get(1)?,
        public_id: r.get(2)?,
        listing_title: r.get(3)?,
        total: r.get(4)?,
        opened_by: r.get(5)?,
        opened_by_id: r.get(6)?,
        reason: r.get(7)?,
        state: r.get(8)?,
        decision: r.get(9)?,
        vendor_percent: r.get(10)?,
        rationale: r.get(11)?,
        arbiter: r.get(12)?,
        opened_at: r.get(13)?,
        decided_at: r.get(14)?,
    })
}

/// Opens a dispute; call in the transaction that moves the order to `disputed`.
pub fn insert(
    c: &Connection,
    order_id: i64,
    opened_by: i64,
    reason: &str,
    now: i64,
) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO disputes (order_id, opened_by, reason, opened_at) VALUES (?1, ?2, ?3, ?4)",
        params![order_id, opened_by, reason, now],
    )?;
    Ok(c.last_insert_rowid())
}

/// One dispute by id.
pub fn by_id(c: &Connection, id: i64) -> Result<Option<DisputeRow>, StoreError> {
    let sql = format!("SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_JOINS} WHERE d.id = ?1");
    Ok(c.prepare_cached(&sql)?
        .query_row([id], dispute_row)
        .optional()?)
}

/// The latest dispute of an order.
pub fn latest_for_order(c: &Connection, order_id: i64) -> Result<Option<DisputeRow>, StoreError> {
    Ok(c.prepare_cached(&latest_sql())?
        .query_row([order_id], dispute_row)
        .optional()?)
}

fn page_sql(decided: bool) -> String {
    if decided {
        format!(
            "SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_JOINS} WHERE d.state = 'decided'
             ORDER BY d.opened_at DESC, d.id DESC LIMIT ?1 OFFSET ?2"
        )
    } else {
        format!(
            "SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_JOINS} WHERE d.state = 'open'
             ORDER BY d.opened_at, d.id LIMIT ?1 OFFSET ?2"
        )
    }
}

fn latest_sql() -> String {
    format!(
        "SELECT {DISPUTE_COLUMNS} FROM {DISPUTE_JOINS} WHERE d.order_id = ?1 ORDER BY d.id DESC LIMIT 1"
    )
}

/// A page of disputes: open ones oldest first (the queue), decided ones newest first.
pub fn page(
    c: &Connection,
    decided: bool,
    limit: i64,
    offset: i64,
) -> Result<Vec<DisputeRow>, StoreError> {
    let mut stmt = c.prepare_cached(&page_sql(decided))?;
    let rows = stmt
        .query_map(params![limit, offset], dispute_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The decision's fields.
#[derive(Debug, Clone)]
pub struct Decided {
    /// release, refund or split.
    pub decision: &'static str,
    /// The vendor's share in percent.
    pub vendor_percent: i64,
    /// Why, for both parties.
    pub rationale: String,
    /// The deciding arbiter.
    pub arbiter_id: i64,
}

/// Marks an open dispute decided; false when it was not open any more. Call in the
/// transaction that moves the order to `resolved`.
pub fn decide(c: &Connection, id: i64, d: &Decided, now: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE disputes SET state = 'decided', decision = ?2, vendor_percent = ?3, rationale = ?4,
            arbiter_id = ?5, decided_at = ?6
         WHERE id = ?1 AND state = 'open'",
        params![
            id,
            d.decision,
            d.vendor_percent,
            d.rationale,
            d.arbiter_id,
            now
        ],
    )? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_and_the_order_lookup_are_served_by_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::apply(&mut c).unwrap();
        for (sql, index) in [
            (page_sql(false), "disputes_queue"),
            (page_sql(true), "disputes_queue"),
            (latest_sql(), "disputes_by_order"),
        ] {
            let plan = crate::store::messages::query_plan(&c, &sql);
            assert!(plan.contains(index), "{plan}");
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("SCAN "),
                "{plan}"
            );
        }
    }
}
