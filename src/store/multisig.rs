//! SQL of the 2-of-3 multisig escrow: the order's escrow mode, the escrow row
//! (state, arbiter wallet, sealed password, the wallet call underway) and the
//! participants' setup messages. State changes are compare-and-sets.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::escrow::multisig::state::{EscrowState, Participant};

/// One multisig escrow.
#[derive(Debug, Clone)]
pub struct EscrowRow {
    /// The order.
    pub order_id: i64,
    /// Where it is.
    pub state: EscrowState,
    /// The arbiter's wallet file (in the pool's wallet dir).
    pub wallet_file: String,
    /// Nonce + sealed password.
    pub wallet_password: Vec<u8>,
    /// The agreed multisig address (the arbiter's, once known).
    pub address: Option<String>,
    /// The wallet call underway (a mark written before the call).
    pub pending_call: Option<String>,
    /// Why it was aborted, or the last wallet problem.
    pub problem: Option<String>,
    /// When the setup began.
    pub created_at: i64,
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct MessageRow {
    /// Who sent it.
    pub participant: Participant,
    /// Round 1 to 4.
    pub round: u8,
    /// The text.
    pub body: String,
    /// The kex signing key inside it (rounds 1 to 3).
    pub signer: Option<String>,
}

/// Where a message was accepted before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenMessage {
    /// Its escrow.
    pub order_id: i64,
    /// Its participant.
    pub participant: Participant,
    /// Its round.
    pub round: u8,
}

fn participant(s: String) -> rusqlite::Result<Participant> {
    Participant::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown participant {s:?}").into(),
        )
    })
}

/// Marks an order as a multisig order with its setup deadline (in the
/// placement's transaction).
pub fn set_order_multisig(c: &Connection, order_id: i64, deadline: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE orders SET escrow_mode = 'multisig', payment_deadline = ?2 WHERE id = ?1",
        params![order_id, deadline],
    )?;
    Ok(())
}

/// The order's escrow mode ("managed" or "multisig").
pub fn order_mode(c: &Connection, order_id: i64) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT escrow_mode FROM orders WHERE id = ?1",
        [order_id],
        |r| r.get(0),
    )
    .optional()?)
}

/// Creates the escrow row with the mark of the wallet creation about to
/// happen; false when the order already has one.
pub fn insert(
    c: &Connection,
    order_id: i64,
    wallet_file: &str,
    sealed_password: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO multisig_escrows
            (order_id, state, wallet_file, wallet_password, pending_call, created_at, updated_at)
         VALUES (?1, 'kex1', ?2, ?3, 'create', ?4, ?4)",
        params![order_id, wallet_file, sealed_password, now],
    )? == 1)
}

/// The escrow of an order.
pub fn get(c: &Connection, order_id: i64) -> Result<Option<EscrowRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT order_id, state, wallet_file, wallet_password, address, pending_call, problem, created_at
             FROM multisig_escrows WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| {
            Ok(EscrowRow {
                order_id: r.get(0)?,
                state: r.get(1)?,
                wallet_file: r.get(2)?,
                wallet_password: r.get(3)?,
                address: r.get(4)?,
                pending_call: r.get(5)?,
                problem: r.get(6)?,
                created_at: r.get(7)?,
            })
        })
        .optional()?)
}

/// The accepted messages of an escrow, by round then participant.
pub fn messages(c: &Connection, order_id: i64) -> Result<Vec<MessageRow>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT participant, round, body, signer FROM multisig_messages
         WHERE order_id = ?1 ORDER BY round, id",
    )?;
    let rows = st.query_map([order_id], |r| {
        Ok(MessageRow {
            participant: participant(r.get(0)?)?,
            round: r.get(1)?,
            body: r.get(2)?,
            signer: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Where a message with this digest was accepted, if anywhere.
pub fn seen(c: &Connection, digest: &str) -> Result<Option<SeenMessage>, StoreError> {
    Ok(c.query_row(
        "SELECT order_id, participant, round FROM multisig_messages WHERE digest = ?1",
        [digest],
        |r| {
            Ok(SeenMessage {
                order_id: r.get(0)?,
                participant: participant(r.get(1)?)?,
                round: r.get(2)?,
            })
        },
    )
    .optional()?)
}

/// Records an accepted message; false when this participant already has one
/// for the round.
#[allow(clippy::too_many_arguments)]
pub fn insert_message(
    c: &Connection,
    order_id: i64,
    who: Participant,
    round: u8,
    body: &str,
    digest: &str,
    signer: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO multisig_messages
            (order_id, participant, round, body, digest, signer, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![order_id, who.as_str(), round, body, digest, signer, now],
    )? == 1)
}

/// Claims a wallet call for an escrow in `state` with no call underway; false
/// when someone else holds it or the state moved.
pub fn claim(
    c: &Connection,
    order_id: i64,
    state: EscrowState,
    call: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE multisig_escrows SET pending_call = ?3, updated_at = ?4
         WHERE order_id = ?1 AND state = ?2 AND pending_call IS NULL",
        params![order_id, state, call, now],
    )? == 1)
}

/// Clears the mark of a call that finished (or that certainly changed nothing),
/// optionally recording a problem to show.
pub fn release(
    c: &Connection,
    order_id: i64,
    problem: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE multisig_escrows SET pending_call = NULL, problem = ?2, updated_at = ?3
         WHERE order_id = ?1",
        params![order_id, problem, now],
    )?;
    Ok(())
}

/// Moves an escrow `from -> to` (the table must allow it), clearing any call
/// mark, setting the address when given and the problem to `problem` (a move
/// forward clears the last one). False when it had moved.
pub fn advance(
    c: &Connection,
    order_id: i64,
    from: EscrowState,
    to: EscrowState,
    address: Option<&str>,
    problem: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    if !from.may_become(to) {
        return Ok(false);
    }
    Ok(c.execute(
        "UPDATE multisig_escrows SET state = ?3, pending_call = NULL,
             address = COALESCE(?4, address), problem = ?5, updated_at = ?6
         WHERE order_id = ?1 AND state = ?2",
        params![order_id, from, to, address, problem, now],
    )? == 1)
}

/// Escrows still being set up, or with a wallet call mark (oldest first). One
/// whose last wallet call failed (`problem`) waits until `retry_before`, so a
/// message the wallet refuses does not keep it busy every cycle.
pub fn unsettled(c: &Connection, retry_before: i64, limit: i64) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT order_id FROM multisig_escrows
         WHERE (state IN ('kex1', 'kex2', 'kex3', 'confirm') OR pending_call IS NOT NULL)
           AND (problem IS NULL OR pending_call IS NOT NULL OR updated_at < ?1)
         ORDER BY updated_at LIMIT ?2",
    )?;
    let rows = st.query_map(params![retry_before, limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks as expired the escrows whose order ended before the setup finished
/// or before it was paid; returns how many.
pub fn expire_ended(c: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(c.execute(
        "UPDATE multisig_escrows SET state = 'expired', updated_at = ?1
         WHERE state IN ('kex1', 'kex2', 'kex3', 'confirm', 'ready')
           AND pending_call IS NULL
           AND order_id IN (SELECT id FROM orders WHERE state IN ('expired', 'cancelled'))",
        [now],
    )?)
}

/// Escrows in `state` (ready or aborted) whose order still waits in `created`
/// (a crash between the escrow's move and the order's).
pub fn order_not_moved(
    c: &Connection,
    state: EscrowState,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT m.order_id FROM multisig_escrows m JOIN orders o ON o.id = m.order_id
         WHERE m.state = ?1 AND o.state = 'created' LIMIT ?2",
    )?;
    let rows = st.query_map(params![state, limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Escrows in `state`, oldest change first.
pub fn in_state(c: &Connection, state: EscrowState, limit: i64) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT order_id FROM multisig_escrows WHERE state = ?1 ORDER BY updated_at LIMIT ?2",
    )?;
    let rows = st.query_map(params![state, limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a vendor takes only multisig orders.
pub fn vendor_requires_multisig(c: &Connection, vendor_id: i64) -> Result<bool, StoreError> {
    Ok(c.query_row(
        "SELECT requires_multisig FROM accounts WHERE id = ?1",
        [vendor_id],
        |r| r.get::<_, i64>(0),
    )
    .optional()?
        == Some(1))
}

/// Sets whether a vendor takes only multisig orders.
pub fn set_vendor_requires_multisig(
    c: &Connection,
    vendor_id: i64,
    required: bool,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET requires_multisig = ?2 WHERE id = ?1",
        params![vendor_id, i64::from(required)],
    )?;
    Ok(())
}
