//! Managed escrow rows: payment requests (a subaddress per order), incoming
//! transfers, and payout intents with their compare-and-set steps
//! (pending -> signed -> relayed -> confirmed).

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The payment request of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Order.
    pub order_id: i64,
    /// Subaddress minor index in account 0.
    pub subaddress_index: i64,
    /// The subaddress.
    pub address: String,
    /// Piconero due.
    pub amount_due: i64,
    /// Confirmations that make a transfer count as paid.
    pub confirmations: i64,
    /// Commission in basis points, fixed when the request was issued.
    pub commission_bps: i64,
    /// Issued at.
    pub created_at: i64,
}

/// Records an order's payment request.
pub fn insert_payment_request(c: &Connection, r: &PaymentRequest) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO payment_requests (order_id, subaddress_index, address, amount_due_piconero,
            confirmations, commission_bps, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            r.order_id,
            r.subaddress_index,
            r.address,
            r.amount_due,
            r.confirmations,
            r.commission_bps,
            r.created_at
        ],
    )?;
    Ok(())
}

/// An order's payment request, if it has one.
pub fn payment_request(
    c: &Connection,
    order_id: i64,
) -> Result<Option<PaymentRequest>, StoreError> {
    Ok(c.query_row(
        "SELECT order_id, subaddress_index, address, amount_due_piconero, confirmations,
            commission_bps, created_at
         FROM payment_requests WHERE order_id = ?1",
        [order_id],
        |r| {
            Ok(PaymentRequest {
                order_id: r.get(0)?,
                subaddress_index: r.get(1)?,
                address: r.get(2)?,
                amount_due: r.get(3)?,
                confirmations: r.get(4)?,
                commission_bps: r.get(5)?,
                created_at: r.get(6)?,
            })
        },
    )
    .optional()?)
}

/// One transfer the watcher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenTransfer {
    /// Order whose subaddress received it.
    pub order_id: i64,
    /// Transaction hash.
    pub txid: String,
    /// Subaddress minor index.
    pub subaddress_index: i64,
    /// Piconero.
    pub amount: i64,
    /// Block height (0 in the pool).
    pub height: i64,
    /// Confirmations (0 in the pool).
    pub confirmations: i64,
}

/// Records a transfer or updates its height and confirmations.
pub fn upsert_incoming(c: &Connection, t: &SeenTransfer, now: i64) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO incoming_transfers (order_id, txid, subaddress_index, amount_piconero, height,
            confirmations, first_seen_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (txid, subaddress_index) DO UPDATE SET height = excluded.height,
            confirmations = excluded.confirmations, updated_at = excluded.updated_at",
        params![
            t.order_id,
            t.txid,
            t.subaddress_index,
            t.amount,
            t.height,
            t.confirmations,
            now
        ],
    )?;
    Ok(())
}

/// Piconero an order received: (seen, at least `confirmations` deep, of that not yet allotted to a payout).
pub fn received(
    c: &Connection,
    order_id: i64,
    confirmations: i64,
) -> Result<(i64, i64, i64), StoreError> {
    Ok(c.query_row(
        "SELECT coalesce(sum(amount_piconero), 0),
            coalesce(sum(amount_piconero) FILTER (WHERE confirmations >= ?2), 0),
            coalesce(sum(amount_piconero) FILTER (WHERE confirmations >= ?2 AND intent_id IS NULL), 0)
         FROM incoming_transfers WHERE order_id = ?1",
        params![order_id, confirmations],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Piconero an order received (pool included) that no payout intent covers yet.
pub fn unallotted_seen(c: &Connection, order_id: i64) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT coalesce(sum(amount_piconero), 0) FROM incoming_transfers
         WHERE order_id = ?1 AND intent_id IS NULL",
        [order_id],
        |r| r.get(0),
    )?)
}

/// The shares of a payout, piconero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shares {
    /// To the vendor's payout address.
    pub vendor: i64,
    /// To the buyer's refund address.
    pub buyer: i64,
    /// To the operator's fee address (or kept).
    pub commission: i64,
}

impl Shares {
    /// Everything paid out.
    pub fn total(&self) -> i64 {
        self.vendor + self.buyer + self.commission
    }
}

/// Writes a payout intent under a unique key and allots to it every transfer of
/// the order that is `confirmations` deep and not yet allotted. `None` when an
/// intent with that key exists already (a racing request): nothing changes.
pub fn insert_intent(
    c: &Connection,
    order_id: i64,
    kind: &str,
    key: &str,
    shares: Shares,
    confirmations: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let inserted = c.execute(
        "INSERT INTO payout_intents (order_id, kind, idempotency_key, vendor_piconero, buyer_piconero,
            commission_piconero, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (idempotency_key) DO NOTHING",
        params![
            order_id,
            kind,
            key,
            shares.vendor,
            shares.buyer,
            shares.commission,
            now
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = c.last_insert_rowid();
    // The addresses in force now are frozen on the intent (one given later fills
    // only what is still missing: see set_payout_address / set_refund_address).
    c.execute(
        "UPDATE payout_intents SET
            vendor_address = (SELECT a.payout_address FROM orders o JOIN accounts a ON a.id = o.vendor_id
                              WHERE o.id = ?2),
            buyer_address = (SELECT refund_address FROM orders WHERE id = ?2)
         WHERE id = ?1",
        params![id, order_id],
    )?;
    c.execute(
        "UPDATE incoming_transfers SET intent_id = ?2
         WHERE order_id = ?1 AND intent_id IS NULL AND confirmations >= ?3",
        params![order_id, id, confirmations],
    )?;
    Ok(Some(id))
}

/// A payout intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// settle | late.
    pub kind: String,
    /// Unique key.
    pub key: String,
    /// Shares.
    pub shares: Shares,
    /// pending | signed | relayed | confirmed | failed.
    pub state: String,
    /// Frozen destinations (JSON) once signed.
    pub destinations: Option<String>,
    /// Transaction hash once signed.
    pub tx_hash: Option<String>,
    /// Transaction key once signed.
    pub tx_key: Option<String>,
    /// What relay_tx takes, once signed.
    pub tx_metadata: Option<String>,
    /// Network fee once signed.
    pub fee: Option<i64>,
    /// Wallet calls tried.
    pub attempts: i64,
    /// Last failure, if any.
    pub last_error: Option<String>,
    /// The vendor's payout address frozen on the intent (None: not set yet).
    pub vendor_address: Option<String>,
    /// The buyer's refund address frozen on the intent (None: not given yet).
    pub buyer_address: Option<String>,
}

impl Intent {
    /// What the intent waits for before it can be paid, if anything.
    pub fn missing_address(&self) -> Option<MissingAddress> {
        if self.state != "pending" {
            None
        } else if self.shares.vendor > 0 && self.vendor_address.is_none() {
            Some(MissingAddress::Vendor)
        } else if self.shares.buyer > 0 && self.buyer_address.is_none() {
            Some(MissingAddress::Buyer)
        } else {
            None
        }
    }
}

/// Whose address a pending intent waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingAddress {
    /// The vendor has no payout address.
    Vendor,
    /// The buyer has given no refund address.
    Buyer,
}

const INTENT_COLUMNS: &str = "id, order_id, kind, idempotency_key, vendor_piconero, buyer_piconero,
    commission_piconero, state, destinations, tx_hash, tx_key, tx_metadata, fee_piconero, attempts,
    last_error, vendor_address, buyer_address";

fn intent(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        id: r.get(0)?,
        order_id: r.get(1)?,
        kind: r.get(2)?,
        key: r.get(3)?,
        shares: Shares {
            vendor: r.get(4)?,
            buyer: r.get(5)?,
            commission: r.get(6)?,
        },
        state: r.get(7)?,
        destinations: r.get(8)?,
        tx_hash: r.get(9)?,
        tx_key: r.get(10)?,
        tx_metadata: r.get(11)?,
        fee: r.get(12)?,
        attempts: r.get(13)?,
        last_error: r.get(14)?,
        vendor_address: r.get(15)?,
        buyer_address: r.get(16)?,
    })
}

/// An order's payout intents, oldest first.
pub fn intents_of(c: &Connection, order_id: i64) -> Result<Vec<Intent>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT {INTENT_COLUMNS} FROM payout_intents WHERE order_id = ?1 ORDER BY id"
    ))?;
    Ok(st
        .query_map([order_id], intent)?
        .collect::<Result<_, _>>()?)
}

/// Intents not yet final (pending, signed, relayed) that can move: pending ones
/// waiting for an address are left out (they cannot crowd out the rest). Least
/// recently tried first, so one that keeps failing does not block the others.
pub fn open_intents(c: &Connection, limit: i64) -> Result<Vec<Intent>, StoreError> {
    let mut st = c.prepare(&open_intents_sql())?;
    Ok(st.query_map([limit], intent)?.collect::<Result<_, _>>()?)
}

fn open_intents_sql() -> String {
    format!(
        "SELECT {INTENT_COLUMNS} FROM payout_intents
         WHERE state IN ('pending', 'signed', 'relayed')
           AND NOT (state = 'pending' AND ((vendor_piconero > 0 AND vendor_address IS NULL)
                OR (buyer_piconero > 0 AND buyer_address IS NULL)))
         ORDER BY updated_at, id LIMIT ?1"
    )
}

/// The transaction the wallet built for a pending intent, recorded before it is
/// relayed (compare-and-set from `pending`; false when another worker got there first).
pub struct Signed<'a> {
    /// Frozen destinations (JSON).
    pub destinations: &'a str,
    /// Hash.
    pub tx_hash: &'a str,
    /// Secret key (proof of payment).
    pub tx_key: &'a str,
    /// relay_tx's input.
    pub tx_metadata: &'a str,
    /// Network fee.
    pub fee: i64,
}

/// pending -> signed, storing the transaction.
pub fn mark_signed(c: &Connection, id: i64, s: &Signed<'_>, now: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE payout_intents SET state = 'signed', destinations = ?2, tx_hash = ?3, tx_key = ?4,
            tx_metadata = ?5, fee_piconero = ?6, attempts = attempts + 1, last_error = NULL,
            updated_at = ?7
         WHERE id = ?1 AND state = 'pending'",
        params![
            id,
            s.destinations,
            s.tx_hash,
            s.tx_key,
            s.tx_metadata,
            s.fee,
            now
        ],
    )? == 1)
}

/// Moves an intent `from` -> `to` (signed -> relayed, relayed -> confirmed, ...).
pub fn advance(
    c: &Connection,
    id: i64,
    from: &str,
    to: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE payout_intents SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2",
        params![id, from, to, now],
    )? == 1)
}

/// Notes a failed wallet call on an intent (it stays where it is and is retried).
pub fn note_failure(c: &Connection, id: i64, error: &str, now: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE payout_intents SET attempts = attempts + 1, last_error = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, error, now],
    )?;
    Ok(())
}

/// Sets a vendor's payout address (already validated by the caller) and gives
/// it to the vendor's pending intents that wait for one. Returns how many
/// intents it filled.
pub fn set_payout_address(
    c: &Connection,
    account_id: i64,
    address: &str,
) -> Result<usize, StoreError> {
    c.execute(
        "UPDATE accounts SET payout_address = ?2 WHERE id = ?1",
        params![account_id, address],
    )?;
    Ok(c.execute(
        "UPDATE payout_intents SET vendor_address = ?2
         WHERE state = 'pending' AND vendor_address IS NULL
           AND order_id IN (SELECT id FROM orders WHERE vendor_id = ?1)",
        params![account_id, address],
    )?)
}

/// A vendor's payout address, if set.
pub fn payout_address(c: &Connection, account_id: i64) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT payout_address FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

/// Fixes an order's refund address (already validated by the caller) and gives
/// it to the order's pending intents. Once given it is never replaced: false
/// when the order already had one.
pub fn set_refund_address(
    c: &Connection,
    order_id: i64,
    address: &str,
) -> Result<bool, StoreError> {
    let set = c.execute(
        "UPDATE orders SET refund_address = ?2 WHERE id = ?1 AND refund_address IS NULL",
        params![order_id, address],
    )? == 1;
    if set {
        c.execute(
            "UPDATE payout_intents SET buyer_address = ?2
             WHERE order_id = ?1 AND state = 'pending' AND buyer_address IS NULL",
            params![order_id, address],
        )?;
    }
    Ok(set)
}

/// Orders of a vendor with payouts still pending (to pay them once an address is set).
pub fn orders_ready_to_pay(c: &Connection, vendor_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare(
        "SELECT DISTINCT p.order_id FROM payout_intents p JOIN orders o ON o.id = p.order_id
         WHERE p.state = 'pending' AND o.vendor_id = ?1 LIMIT 100",
    )?;
    Ok(st
        .query_map([vendor_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// An order's refund address, if given.
pub fn refund_address(c: &Connection, order_id: i64) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT refund_address FROM orders WHERE id = ?1",
        [order_id],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

/// One intent by id.
pub fn intent_by_id(c: &Connection, id: i64) -> Result<Option<Intent>, StoreError> {
    Ok(c.query_row(
        &format!("SELECT {INTENT_COLUMNS} FROM payout_intents WHERE id = ?1"),
        [id],
        intent,
    )
    .optional()?)
}

/// A subaddress the watcher asks about: its order and the order's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// Order.
    pub order_id: i64,
    /// Subaddress minor index.
    pub subaddress_index: i64,
    /// The order's state (stored name).
    pub state: String,
    /// Piconero due.
    pub amount_due: i64,
    /// Confirmations that count as paid.
    pub confirmations: i64,
}

/// Subaddresses to watch: orders not ended, and ended ones since `ended_since`
/// (payments arriving late are recorded and refunded).
pub fn watched(c: &Connection, ended_since: i64) -> Result<Vec<Watched>, StoreError> {
    let mut st = c.prepare(
        "SELECT p.order_id, p.subaddress_index, o.state, p.amount_due_piconero, p.confirmations
         FROM payment_requests p JOIN orders o ON o.id = p.order_id
         WHERE o.ended_at IS NULL OR o.ended_at >= ?1
         ORDER BY p.subaddress_index",
    )?;
    Ok(st
        .query_map([ended_since], |r| {
            Ok(Watched {
                order_id: r.get(0)?,
                subaddress_index: r.get(1)?,
                state: r.get(2)?,
                amount_due: r.get(3)?,
                confirmations: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Orders awaiting payment whose deadline `now` has passed and that may expire:
/// those without a payment request, those whose transfers seen so far (pool
/// included) do not cover the amount due, and those that did but are still
/// unconfirmed `grace_secs` after the deadline. Oldest deadline first.
pub fn expirable(
    c: &Connection,
    now: i64,
    grace_secs: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT o.id FROM orders o LEFT JOIN payment_requests p ON p.order_id = o.id
         WHERE o.state = 'awaiting_payment' AND o.payment_deadline <= ?1
           AND (p.order_id IS NULL
                OR o.payment_deadline <= ?1 - ?2
                OR (SELECT coalesce(sum(t.amount_piconero), 0) FROM incoming_transfers t
                    WHERE t.order_id = o.id) < p.amount_due_piconero)
         ORDER BY o.payment_deadline LIMIT ?3",
    )?;
    Ok(st
        .query_map(params![now, grace_secs, limit], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// What a watched order received, piconero, counting transfers at least as deep
/// as its payment request asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Deep enough.
    pub deep: i64,
    /// Deep enough and allotted to no payout intent yet.
    pub unallotted: i64,
}

/// [`Received`] for every order [`watched`] lists that received anything, in
/// one query (the watcher's cost must not grow with one query per order).
pub fn received_while_watched(
    c: &Connection,
    ended_since: i64,
) -> Result<std::collections::HashMap<i64, Received>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT t.order_id,
            coalesce(sum(t.amount_piconero) FILTER (WHERE t.confirmations >= p.confirmations), 0),
            coalesce(sum(t.amount_piconero)
                FILTER (WHERE t.confirmations >= p.confirmations AND t.intent_id IS NULL), 0)
         FROM payment_requests p JOIN orders o ON o.id = p.order_id
            JOIN incoming_transfers t ON t.order_id = p.order_id
         WHERE o.ended_at IS NULL OR o.ended_at >= ?1
         GROUP BY t.order_id",
    )?;
    let rows = st.query_map([ended_since], |r| {
        Ok((
            r.get(0)?,
            Received {
                deep: r.get(1)?,
                unallotted: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The first transfer of an order that is `confirmations` deep and allotted to
/// no intent, if any (its id names a late-payment intent).
pub fn first_free_transfer(
    c: &Connection,
    order_id: i64,
    confirmations: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "SELECT min(id) FROM incoming_transfers
             WHERE order_id = ?1 AND intent_id IS NULL AND confirmations >= ?2",
        params![order_id, confirmations],
        |r| r.get(0),
    )
    .optional()?
    .flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciliation_finds_open_intents_by_index() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::apply(&mut c).unwrap();
        let plan = crate::store::messages::query_plan(&c, &open_intents_sql().replace("?1", "5"));
        assert!(plan.contains("payout_intents_open"), "{plan}");
    }
}
