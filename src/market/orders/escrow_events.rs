//! What escrow engines report back. These are the only ways money events move an
//! order, and they go through the same transition table as everything else.

use super::state::OrderState;
use super::{Timing, apply};
use crate::market::{MarketError, MarketResult};
use crate::store::{Db, orders as store};

async fn load(db: &Db, order_id: i64) -> MarketResult<store::OrderRow> {
    db.read(move |c| store::by_id(c, order_id))
        .await?
        .ok_or(MarketError::NotFound)
}

/// The engine issued a payment request: the buyer can pay now, within the window.
pub async fn payment_requested(db: &Db, timing: Timing, order_id: i64) -> MarketResult<()> {
    let o = load(db, order_id).await?;
    apply(
        db,
        timing,
        &o,
        OrderState::AwaitingPayment,
        None,
        "payment request issued",
        None,
    )
    .await
}

/// The payment reached the required confirmations.
pub async fn funded(db: &Db, timing: Timing, order_id: i64) -> MarketResult<()> {
    let o = load(db, order_id).await?;
    if !o
        .state
        .may_become(OrderState::Paid, super::state::Party::System)
    {
        return Err(MarketError::Conflict(format!(
            "order is {}, not awaiting payment",
            o.state
        )));
    }
    apply(
        db,
        timing,
        &o,
        OrderState::Paid,
        None,
        "payment confirmed",
        None,
    )
    .await
}

/// The escrow could not be set up (a multisig setup whose wallets disagree):
/// the order is called off before anything was paid, with the reason.
pub async fn setup_failed(
    db: &Db,
    timing: Timing,
    order_id: i64,
    reason: &str,
) -> MarketResult<()> {
    let o = load(db, order_id).await?;
    if o.state != OrderState::Created {
        return Err(MarketError::Conflict(format!(
            "order is {}, not waiting for its escrow",
            o.state
        )));
    }
    apply(db, timing, &o, OrderState::Cancelled, None, reason, None).await
}
