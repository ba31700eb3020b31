//! Timed order work, as steps the job runner (and tests) call: expire unpaid orders,
//! finalize shipped ones, forget delivery notes.

use super::state::OrderState;
use super::{Timing, apply};
use crate::market::{MarketError, MarketResult, now};
use crate::store::{Db, orders as store};

/// Orders handled per step, so one step stays short.
const BATCH: i64 = 200;

async fn sweep(
    db: &Db,
    timing: Timing,
    state: OrderState,
    column: &'static str,
    to: OrderState,
    reason: &'static str,
) -> MarketResult<usize> {
    let t = now();
    let ids = db
        .read(move |c| store::due(c, state, column, t, BATCH))
        .await?;
    move_all(db, timing, ids, to, reason).await
}

async fn move_all(
    db: &Db,
    timing: Timing,
    ids: Vec<i64>,
    to: OrderState,
    reason: &'static str,
) -> MarketResult<usize> {
    let mut moved = 0;
    for id in ids {
        let Some(o) = db.read(move |c| store::by_id(c, id)).await? else {
            continue;
        };
        match apply(db, timing, &o, to, None, reason, None).await {
            Ok(()) => moved += 1,
            // Someone acted first (paid at the last second, opened a dispute): fine.
            Err(MarketError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(moved)
}

/// Expires orders whose payment window ended; their stock goes back. An order
/// awaiting payment whose seen payments (pool included) cover the amount due
/// does not expire at the deadline: it waits up to `timing.payment_grace_secs`
/// more for its confirmations. Under-paid orders expire at the deadline; what
/// they received is refunded once confirmed.
pub async fn expire_unpaid(db: &Db, timing: Timing) -> MarketResult<usize> {
    let a = sweep(
        db,
        timing,
        OrderState::Created,
        "payment_deadline",
        OrderState::Expired,
        "payment window ended",
    )
    .await?;
    let (t, grace) = (now(), timing.payment_grace_secs);
    let ids = db
        .read(move |c| crate::store::escrow::expirable(c, t, grace, BATCH))
        .await?;
    let b = move_all(db, timing, ids, OrderState::Expired, "payment window ended").await?;
    Ok(a + b)
}

/// Completes shipped orders the buyer neither finalized nor disputed in time.
pub async fn auto_finalize(db: &Db, timing: Timing) -> MarketResult<usize> {
    sweep(
        db,
        timing,
        OrderState::Shipped,
        "finalize_after",
        OrderState::Completed,
        "finalized automatically",
    )
    .await
}

/// Forgets delivery notes of orders that ended long enough ago.
pub async fn purge_delivery_notes(db: &Db) -> MarketResult<usize> {
    let t = now();
    Ok(db.write(move |c| store::purge_notes(c, t)).await?)
}
