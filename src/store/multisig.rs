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

/// A multisig escrow's payout (see migration 0010).
#[derive(Debug, Clone)]
pub struct PayoutRow {
    /// The order.
    pub order_id: i64,
    /// Who signs with the arbiter (vendor for a release or split, buyer for a refund).
    pub signer: Participant,
    /// Piconero to the vendor's payout address.
    pub vendor_amount: i64,
    /// Piconero to the buyer's refund address.
    pub buyer_amount: i64,
    /// Piconero to the fee address.
    pub commission: i64,
    /// Frozen when the order ended (or filled once given later).
    pub vendor_address: Option<String>,
    /// Frozen when the order ended (or filled once given later).
    pub buyer_address: Option<String>,
    /// The configured fee address when the commission is sent.
    pub fee_address: Option<String>,
    /// Build attempt, from 1.
    pub attempt: i64,
    /// The arbiter's export_multisig_info for this attempt (sealed).
    pub arbiter_info: Option<String>,
    /// The arbiter-signed set of this attempt (sealed).
    pub txset: Option<String>,
    /// The network fee of the set.
    pub fee: Option<i64>,
    /// A fully signed set pasted for souk to submit (sealed).
    pub signed_set: Option<String>,
    /// The submitted (or seen) transaction.
    pub tx_hash: Option<String>,
}

/// The payout of an escrow.
pub fn payout(c: &Connection, order_id: i64) -> Result<Option<PayoutRow>, StoreError> {
    Ok(c
        .prepare_cached(
            "SELECT order_id, signer, vendor_amount, buyer_amount, commission, vendor_address,
                    buyer_address, fee_address, attempt, arbiter_info, txset, fee, signed_set, tx_hash
             FROM multisig_payouts WHERE order_id = ?1",
        )?
        .query_row([order_id], |r| {
            Ok(PayoutRow {
                order_id: r.get(0)?,
                signer: participant(r.get(1)?)?,
                vendor_amount: r.get(2)?,
                buyer_amount: r.get(3)?,
                commission: r.get(4)?,
                vendor_address: r.get(5)?,
                buyer_address: r.get(6)?,
                fee_address: r.get(7)?,
                attempt: r.get(8)?,
                arbiter_info: r.get(9)?,
                txset: r.get(10)?,
                fee: r.get(11)?,
                signed_set: r.get(12)?,
                tx_hash: r.get(13)?,
            })
        })
        .optional()?)
}

/// Writes the payout of an ended order once; false when it exists.
pub fn insert_payout(c: &Connection, p: &PayoutRow, now: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO multisig_payouts
            (order_id, signer, vendor_amount, buyer_amount, commission, vendor_address,
             buyer_address, fee_address, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![
            p.order_id,
            p.signer.as_str(),
            p.vendor_amount,
            p.buyer_amount,
            p.commission,
            p.vendor_address,
            p.buyer_address,
            p.fee_address,
            now
        ],
    )? == 1)
}

/// Fills addresses given after the order ended (a frozen one is never replaced).
pub fn fill_payout_addresses(
    c: &Connection,
    order_id: i64,
    vendor: Option<&str>,
    buyer: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE multisig_payouts SET vendor_address = coalesce(vendor_address, ?2),
             buyer_address = coalesce(buyer_address, ?3), updated_at = ?4
         WHERE order_id = ?1 AND txset IS NULL",
        params![order_id, vendor, buyer, now],
    )?;
    Ok(())
}

/// Stores the arbiter's exported info for `attempt` (only once per attempt).
pub fn set_arbiter_info(
    c: &Connection,
    order_id: i64,
    attempt: i64,
    sealed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE multisig_payouts SET arbiter_info = ?3, updated_at = ?4
         WHERE order_id = ?1 AND attempt = ?2 AND arbiter_info IS NULL",
        params![order_id, attempt, sealed, now],
    )? == 1)
}

/// Records a participant's pasted info for `attempt`; false when one is there.
pub fn insert_payout_info(
    c: &Connection,
    order_id: i64,
    attempt: i64,
    who: Participant,
    sealed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT OR IGNORE INTO multisig_payout_infos (order_id, attempt, participant, body, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order_id, attempt, who.as_str(), sealed, now],
    )? == 1)
}

/// The pasted infos of an attempt (sealed), by participant.
pub fn payout_infos(
    c: &Connection,
    order_id: i64,
    attempt: i64,
) -> Result<Vec<(Participant, String)>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT participant, body FROM multisig_payout_infos
         WHERE order_id = ?1 AND attempt = ?2 ORDER BY participant",
    )?;
    let rows = st.query_map(params![order_id, attempt], |r| {
        Ok((participant(r.get(0)?)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stores the built set of `attempt` with the escrow's move funded ->
/// spend_proposed, in one transaction; false when either had moved.
pub fn record_txset(
    c: &mut Connection,
    order_id: i64,
    attempt: i64,
    sealed_set: &str,
    fee: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let set = tx.execute(
        "UPDATE multisig_payouts SET txset = ?3, fee = ?4, updated_at = ?5
         WHERE order_id = ?1 AND attempt = ?2 AND txset IS NULL AND tx_hash IS NULL",
        params![order_id, attempt, sealed_set, fee, now],
    )? == 1;
    if !set
        || !advance(
            &tx,
            order_id,
            EscrowState::Funded,
            EscrowState::SpendProposed,
            None,
            None,
            now,
        )?
    {
        return Ok(false);
    }
    tx.commit()?;
    Ok(true)
}

/// Stores a fully signed set pasted for souk to submit, with the move
/// spend_proposed -> spend_signed.
pub fn record_signed_set(
    c: &mut Connection,
    order_id: i64,
    sealed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let set = tx.execute(
        "UPDATE multisig_payouts SET signed_set = ?2, updated_at = ?3
         WHERE order_id = ?1 AND tx_hash IS NULL",
        params![order_id, sealed, now],
    )? == 1;
    if !set
        || !advance(
            &tx,
            order_id,
            EscrowState::SpendProposed,
            EscrowState::SpendSigned,
            None,
            None,
            now,
        )?
    {
        return Ok(false);
    }
    tx.commit()?;
    Ok(true)
}

/// Records the transaction that spent the escrow (submitted by souk or seen in
/// the arbiter's wallet) with the move `from` -> spend_submitted. The hash is
/// written once: a second one is refused (false).
pub fn record_tx_hash(
    c: &mut Connection,
    order_id: i64,
    from: EscrowState,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let set = tx.execute(
        "UPDATE multisig_payouts SET tx_hash = ?2, updated_at = ?3
         WHERE order_id = ?1 AND tx_hash IS NULL",
        params![order_id, hash, now],
    )? == 1;
    if !set
        || !advance(
            &tx,
            order_id,
            from,
            EscrowState::SpendSubmitted,
            None,
            None,
            now,
        )?
    {
        return Ok(false);
    }
    tx.commit()?;
    Ok(true)
}

/// A new attempt after a stale one (nothing submitted): the escrow goes back
/// to funded, the set and the arbiter's info are dropped, the attempt counted up.
pub fn restart_payout(
    c: &mut Connection,
    order_id: i64,
    from: EscrowState,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    let set = tx.execute(
        "UPDATE multisig_payouts SET attempt = attempt + 1, arbiter_info = NULL, txset = NULL,
             fee = NULL, signed_set = NULL, updated_at = ?2
         WHERE order_id = ?1 AND tx_hash IS NULL",
        params![order_id, now],
    )? == 1;
    if !set
        || !advance(
            &tx,
            order_id,
            from,
            EscrowState::Funded,
            None,
            Some(reason),
            now,
        )?
    {
        return Ok(false);
    }
    tx.commit()?;
    Ok(true)
}

/// Funded-or-later escrows whose order has ended, oldest change first: the
/// payout job's work list.
pub fn payouts_due(c: &Connection, limit: i64) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT m.order_id FROM multisig_escrows m JOIN orders o ON o.id = m.order_id
         WHERE m.state IN ('funded', 'spend_proposed', 'spend_signed', 'spend_submitted')
           AND o.state IN ('completed', 'resolved', 'cancelled')
         ORDER BY m.updated_at LIMIT ?1",
    )?;
    let rows = st.query_map([limit], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Drops a participant's pasted info of an attempt the wallet refused, so a
/// fresh one can be pasted.
pub fn delete_payout_info(
    c: &Connection,
    order_id: i64,
    attempt: i64,
    who: Participant,
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM multisig_payout_infos WHERE order_id = ?1 AND attempt = ?2 AND participant = ?3",
        params![order_id, attempt, who.as_str()],
    )?;
    Ok(())
}

/// A signed set souk could not submit: back to waiting for a good one.
pub fn drop_signed_set(
    c: &mut Connection,
    order_id: i64,
    problem: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let tx = c.transaction()?;
    tx.execute(
        "UPDATE multisig_payouts SET signed_set = NULL, updated_at = ?2
         WHERE order_id = ?1 AND tx_hash IS NULL",
        params![order_id, now],
    )?;
    if !advance(
        &tx,
        order_id,
        EscrowState::SpendSigned,
        EscrowState::SpendProposed,
        None,
        Some(problem),
        now,
    )? {
        return Ok(false);
    }
    tx.commit()?;
    Ok(true)
}
