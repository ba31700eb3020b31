//! Orders: insert, read, and the compare-and-set that applies a transition.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::market::orders::state::OrderState;

/// A new order's fields.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Public id for URLs.
    pub public_id: String,
    /// Buyer.
    pub buyer_id: i64,
    /// Vendor.
    pub vendor_id: i64,
    /// Listing.
    pub listing_id: i64,
    /// Listing title at order time.
    pub listing_title: String,
    /// Units.
    pub quantity: i64,
    /// Unit price at order time.
    pub unit_price: i64,
    /// Delivery option name.
    pub delivery_label: String,
    /// Delivery price.
    pub delivery_price: i64,
    /// Total to pay.
    pub total: i64,
    /// Buyer's delivery note (private).
    pub delivery_note: Option<String>,
    /// Pay by.
    pub payment_deadline: i64,
}

/// Takes `quantity` units from an active listing's stock; false when not enough.
pub fn reserve_stock(c: &Connection, listing_id: i64, quantity: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE listings SET stock = stock - ?2 WHERE id = ?1 AND state = 'active' AND stock >= ?2",
        params![listing_id, quantity],
    )? == 1)
}

/// Inserts an order in `created` with its first audit row.
pub fn insert(c: &Connection, o: &NewOrder, now: i64) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO orders (public_id, buyer_id, vendor_id, listing_id, listing_title, quantity,
            unit_price_piconero, delivery_label, delivery_price_piconero, total_piconero, delivery_note,
            state, payment_deadline, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'created', ?12, ?13, ?13)",
        params![
            o.public_id, o.buyer_id, o.vendor_id, o.listing_id, o.listing_title, o.quantity, o.unit_price,
            o.delivery_label, o.delivery_price, o.total, o.delivery_note, o.payment_deadline, now
        ],
    )?;
    let id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO order_events (order_id, actor_id, from_state, to_state, reason, at)
         VALUES (?1, ?2, '', 'created', 'order placed', ?3)",
        params![id, o.buyer_id, now],
    )?;
    Ok(id)
}

/// An order as stored.
#[derive(Debug, Clone)]
pub struct OrderRow {
    /// Id.
    pub id: i64,
    /// Public id.
    pub public_id: String,
    /// Buyer.
    pub buyer_id: i64,
    /// Buyer name.
    pub buyer_name: String,
    /// Vendor.
    pub vendor_id: i64,
    /// Vendor name.
    pub vendor_name: String,
    /// Listing.
    pub listing_id: i64,
    /// Title at order time.
    pub listing_title: String,
    /// Units.
    pub quantity: i64,
    /// Unit price.
    pub unit_price: i64,
    /// Delivery option.
    pub delivery_label: String,
    /// Delivery price.
    pub delivery_price: i64,
    /// Total.
    pub total: i64,
    /// Private note.
    pub delivery_note: Option<String>,
    /// State.
    pub state: OrderState,
    /// Whether stock is still reserved.
    pub stock_reserved: bool,
    /// Pay by.
    pub payment_deadline: Option<i64>,
    /// Shipped.
    pub shipped_at: Option<i64>,
    /// Auto-finalize after.
    pub finalize_after: Option<i64>,
    /// Ended.
    pub ended_at: Option<i64>,
    /// Outcome of the money.
    pub outcome: Option<String>,
    /// Vendor's share in a split.
    pub outcome_vendor_percent: Option<i64>,
    /// Placed.
    pub created_at: i64,
}

const ORDER_COLUMNS: &str =
    "o.id, o.public_id, o.buyer_id, b.username, o.vendor_id, v.username, o.listing_id,
    o.listing_title, o.quantity, o.unit_price_piconero, o.delivery_label, o.delivery_price_piconero,
    o.total_piconero, o.delivery_note, o.state, o.stock_reserved, o.payment_deadline, o.shipped_at,
    o.finalize_after, o.ended_at, o.outcome, o.outcome_vendor_percent, o.created_at";

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok(OrderRow {
        id: r.get(0)?,
        public_id: r.get(1)?,
        buyer_id: r.get(2)?,
        buyer_name: r.get(3)?,
        vendor_id: r.get(4)?,
        vendor_name: r.get(5)?,
        listing_id: r.get(6)?,
        listing_title: r.get(7)?,
        quantity: r.get(8)?,
        unit_price: r.get(9)?,
        delivery_label: r.get(10)?,
        delivery_price: r.get(11)?,
        total: r.get(12)?,
        delivery_note: r.get(13)?,
        state: r.get(14)?,
        stock_reserved: r.get(15)?,
        payment_deadline: r.get(16)?,
        shipped_at: r.get(17)?,
        finalize_after: r.get(18)?,
        ended_at: r.get(19)?,
        outcome: r.get(20)?,
        outcome_vendor_percent: r.get(21)?,
        created_at: r.get(22)?,
    })
}

/// One order by public id.
pub fn by_public_id(c: &Connection, public_id: &str) -> Result<Option<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts b ON b.id = o.buyer_id
         JOIN accounts v ON v.id = o.vendor_id WHERE o.public_id = ?1"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([public_id], order_row)
        .optional()?)
}

/// One order by id.
pub fn by_id(c: &Connection, id: i64) -> Result<Option<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts b ON b.id = o.buyer_id
         JOIN accounts v ON v.id = o.vendor_id WHERE o.id = ?1"
    );
    Ok(c.prepare_cached(&sql)?
        .query_row([id], order_row)
        .optional()?)
}

/// Which side of the orders to list.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    /// Orders the account bought.
    Buyer,
    /// Orders the account sold.
    Vendor,
}

/// An account's orders, newest first.
pub fn page(
    c: &Connection,
    account_id: i64,
    side: Side,
    limit: i64,
    offset: i64,
) -> Result<Vec<OrderRow>, StoreError> {
    let col = match side {
        Side::Buyer => "o.buyer_id",
        Side::Vendor => "o.vendor_id",
    };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN accounts b ON b.id = o.buyer_id
         JOIN accounts v ON v.id = o.vendor_id WHERE {col} = ?1 ORDER BY o.created_at DESC, o.id DESC
         LIMIT ?2 OFFSET ?3"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![account_id, limit, offset], order_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Fields a transition sets besides the state.
#[derive(Debug, Clone, Default)]
pub struct Stamp {
    /// New payment deadline.
    pub payment_deadline: Option<i64>,
    /// Shipped now, auto-finalize after.
    pub shipped: Option<(i64, i64)>,
    /// Ended now, purge the delivery note after.
    pub ended: Option<(i64, i64)>,
    /// Money outcome and the vendor's percent.
    pub outcome: Option<(&'static str, i64)>,
    /// Put the reserved stock back.
    pub release_stock: bool,
}

/// The compare-and-set: moves the order from `from` to `to` only if it is still in
/// `from`, sets the stamped fields and appends the audit row. False when the order
/// was not in `from` (someone else moved it first): nothing is changed then.
#[allow(clippy::too_many_arguments)]
pub fn transition(
    c: &Connection,
    order_id: i64,
    from: OrderState,
    to: OrderState,
    actor: Option<i64>,
    reason: &str,
    stamp: &Stamp,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = c.execute(
        "UPDATE orders SET state = ?3, updated_at = ?4,
            payment_deadline = coalesce(?5, payment_deadline),
            shipped_at = coalesce(?6, shipped_at), finalize_after = coalesce(?7, finalize_after),
            ended_at = coalesce(?8, ended_at), note_purge_after = coalesce(?9, note_purge_after),
            outcome = coalesce(?10, outcome), outcome_vendor_percent = coalesce(?11, outcome_vendor_percent)
         WHERE id = ?1 AND state = ?2",
        params![
            order_id,
            from,
            to,
            now,
            stamp.payment_deadline,
            stamp.shipped.map(|s| s.0),
            stamp.shipped.map(|s| s.1),
            stamp.ended.map(|e| e.0),
            stamp.ended.map(|e| e.1),
            stamp.outcome.map(|o| o.0),
            stamp.outcome.map(|o| o.1),
        ],
    )?;
    if changed != 1 {
        return Ok(false);
    }
    if stamp.release_stock {
        c.execute(
            "UPDATE listings SET stock = stock + (SELECT quantity FROM orders WHERE id = ?1 AND stock_reserved = 1)
             WHERE id = (SELECT listing_id FROM orders WHERE id = ?1 AND stock_reserved = 1)",
            [order_id],
        )?;
        c.execute(
            "UPDATE orders SET stock_reserved = 0 WHERE id = ?1",
            [order_id],
        )?;
    }
    c.execute(
        "INSERT INTO order_events (order_id, actor_id, from_state, to_state, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![order_id, actor, from, to, reason, now],
    )?;
    Ok(true)
}

/// One audit row of an order.
#[derive(Debug, Clone)]
pub struct Event {
    /// Who (None: souk itself).
    pub actor: Option<String>,
    /// From state ("" for the first).
    pub from_state: String,
    /// To state.
    pub to_state: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: i64,
}

/// An order's history, oldest first.
pub fn events(c: &Connection, order_id: i64) -> Result<Vec<Event>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT a.username, e.from_state, e.to_state, e.reason, e.at FROM order_events e
         LEFT JOIN accounts a ON a.id = e.actor_id WHERE e.order_id = ?1 ORDER BY e.id",
    )?;
    let rows = stmt
        .query_map([order_id], |r| {
            Ok(Event {
                actor: r.get(0)?,
                from_state: r.get(1)?,
                to_state: r.get(2)?,
                reason: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Orders in `state` whose `column` time has passed (for the timed jobs).
pub fn due(
    c: &Connection,
    state: OrderState,
    column: &str,
    now: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let column = match column {
        "payment_deadline" => "payment_deadline",
        _ => "finalize_after",
    };
    let sql = format!(
        "SELECT id FROM orders WHERE state = ?1 AND {column} <= ?2 ORDER BY {column} LIMIT ?3"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![state, now, limit], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Forgets delivery notes of orders that ended long enough ago; returns how many.
pub fn purge_notes(c: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(c.execute(
        "UPDATE orders SET delivery_note = NULL WHERE delivery_note IS NOT NULL AND note_purge_after <= ?1",
        [now],
    )?)
}
