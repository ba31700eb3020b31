//! Where payouts go: the vendor's payout address (vendor settings) and the
//! buyer's refund address (given on the order page when a refund is or may
//! become due). Both are checked by the shop's wallet (`validate_address`, the
//! network checked) before they are stored; intents waiting for one get it
//! then, and the engine is asked to pay at once (the reconciliation job is the
//! safety net). A payout never takes an address from the request that triggers it.

use std::time::Duration;

use super::auth::{VendorCap, Viewer};
use super::escrow::{EscrowError, SharedEscrow};
use super::orders::{self, Relation};
use super::{MarketError, MarketResult};
use crate::store::Db;
use crate::store::escrow as store;

/// How long a request waits for the wallet after an order ended or an address
/// was given; a payout that takes longer goes on in the background job.
pub const PAY_OUT_WAIT: Duration = Duration::from_secs(3);

/// Asks the engine to pay an order's intents now, waiting at most
/// [`PAY_OUT_WAIT`]. Stopping the wait part-way is safe: every step is recorded
/// by compare-and-set before the next, and reconciliation finishes what is left.
pub async fn pay_out_soon(escrow: &SharedEscrow, order_id: i64) {
    let Some(engine) = escrow else { return };
    match tokio::time::timeout(PAY_OUT_WAIT, engine.pay_out(order_id)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::info!(error = %e, "payout not finished now; the escrow job retries it")
        }
        Err(_) => tracing::info!("payout still running; the escrow job finishes it"),
    }
}

/// Checks an address a person typed with the engine's wallet. `Invalid` names
/// what is wrong; `Unavailable` when the wallet cannot be asked now.
async fn checked(escrow: &SharedEscrow, what: &str, input: &str) -> MarketResult<String> {
    let address = input.trim();
    if address.is_empty() {
        return Err(MarketError::Invalid(format!(
            "{what}: paste a Monero address from your wallet."
        )));
    }
    if address.len() > 200 || !address.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(MarketError::Invalid(format!(
            "{what}: that is not a Monero address: copy it again from your wallet."
        )));
    }
    let Some(engine) = escrow else {
        return Err(MarketError::Unavailable(
            "Payments are not set up on this shop, so addresses cannot be checked.".to_owned(),
        ));
    };
    match engine.check_address(address).await {
        Ok(Ok(())) => Ok(address.to_owned()),
        Ok(Err(line)) => Err(MarketError::Invalid(format!("{what}: {line}"))),
        Err(EscrowError::Unavailable(_)) | Err(EscrowError::Refused(_)) => {
            Err(MarketError::Unavailable(
                "The shop's wallet cannot check addresses right now: try again in a few minutes."
                    .to_owned(),
            ))
        }
    }
}

/// The vendor's payout address, if set.
pub async fn payout_address(db: &Db, vendor: &VendorCap) -> MarketResult<Option<String>> {
    let id = vendor.account_id();
    Ok(db.read(move |c| store::payout_address(c, id)).await?)
}

/// Sets or changes the vendor's payout address. Payouts already decided keep
/// the address they were decided with; those waiting for one get this one and
/// are paid at once. Returns the number of waiting payouts it unblocked.
pub async fn set_payout_address(
    db: &Db,
    escrow: &SharedEscrow,
    vendor: &VendorCap,
    input: &str,
) -> MarketResult<usize> {
    let address = checked(escrow, "Payout address", input).await?;
    let id = vendor.account_id();
    let (filled, orders) = db
        .write(move |c| {
            let tx = c.transaction()?;
            let filled = store::set_payout_address(&tx, id, &address)?;
            crate::store::audit::record(
                &tx,
                Some(id),
                "payout_address_set",
                &format!("account {id}"),
                "vendor settings",
                super::now(),
            )?;
            let orders = store::orders_ready_to_pay(&tx, id)?;
            tx.commit()?;
            Ok((filled, orders))
        })
        .await?;
    for order_id in orders {
        pay_out_soon(escrow, order_id).await;
    }
    Ok(filled)
}

/// Whether the order page asks the buyer for a refund address: the order has a
/// payment request, none was given yet, and money may go back to the buyer (a
/// payout with a buyer's share waits for it; money was seen while the order
/// awaits payment or is disputed; more than the amount due arrived; or it ended
/// and money arrived that no payout covers yet).
pub fn refund_address_wanted(
    c: &rusqlite::Connection,
    order_id: i64,
) -> Result<bool, crate::store::StoreError> {
    let Some(req) = store::payment_request(c, order_id)? else {
        return Ok(false);
    };
    if store::refund_address(c, order_id)?.is_some() {
        return Ok(false);
    }
    let intents = store::intents_of(c, order_id)?;
    if intents
        .iter()
        .any(|i| i.state == "pending" && i.shares.buyer > 0)
    {
        return Ok(true);
    }
    let (seen, _, _) = store::received(c, order_id, req.confirmations)?;
    if seen == 0 {
        return Ok(false);
    }
    let Some(state) = crate::store::orders::by_id(c, order_id)?.map(|o| o.state) else {
        return Ok(false);
    };
    use super::orders::state::OrderState::*;
    Ok(match state {
        // Under-paid orders may expire; disputes may end in a refund.
        AwaitingPayment | Disputed => true,
        // Over-payments go back when the order ends.
        Paid | Shipped => seen > req.amount_due,
        // Ended: money not yet allotted to a payout (late or still confirming).
        _ => store::unallotted_seen(c, order_id)? > 0,
    })
}

/// The buyer gives the order's refund address (once: it is fixed on the order
/// and on its payouts from then on). Waiting refunds are paid at once.
pub async fn set_refund_address(
    db: &Db,
    escrow: &SharedEscrow,
    viewer: &Viewer,
    public_id: &str,
    input: &str,
) -> MarketResult<()> {
    let view = orders::view(db, viewer, public_id).await?;
    if view.relation != Relation::Buyer {
        return Err(MarketError::Forbidden);
    }
    let order_id = view.order.id;
    if !db.read(move |c| refund_address_wanted(c, order_id)).await? {
        return Err(MarketError::Conflict(
            "This order does not need a refund address (or already has one).".to_owned(),
        ));
    }
    let address = checked(escrow, "Refund address", input).await?;
    let set = db
        .write(move |c| {
            let tx = c.transaction()?;
            let set = store::set_refund_address(&tx, order_id, &address)?;
            tx.commit()?;
            Ok(set)
        })
        .await?;
    if !set {
        return Err(MarketError::Conflict(
            "This order already has a refund address.".to_owned(),
        ));
    }
    pay_out_soon(escrow, order_id).await;
    Ok(())
}
