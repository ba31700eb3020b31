//! The payment watcher: one `get_transfers` per cycle for every watched
//! subaddress (pool included), so its cost does not grow with one call per
//! order. It records each transfer, marks orders paid once what they received
//! is deep enough, and writes refund intents for money that arrives after an
//! order ended.

use crate::market::orders::{Timing, escrow_events, state::OrderState};
use crate::market::{MarketError, now, payouts};
use crate::monero::WalletClient;
use crate::store::Db;
use crate::store::escrow::{self as store, SeenTransfer};

/// Ended orders are watched this long for late payments (30 days).
pub const LATE_WATCH_SECS: i64 = 30 * 86_400;

/// What one cycle did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cycle {
    /// Subaddresses asked about.
    pub watched: usize,
    /// Transfers seen (pool included).
    pub transfers: usize,
    /// Orders that became paid.
    pub paid: usize,
    /// Late-payment refund intents written.
    pub late_refunds: usize,
}

/// One watcher cycle.
pub async fn watch_once(db: &Db, wallet: &WalletClient, timing: Timing) -> Result<Cycle, String> {
    let t = now();
    let watched = db
        .read(move |c| store::watched(c, t - LATE_WATCH_SECS))
        .await
        .map_err(|e| e.to_string())?;
    let mut cycle = Cycle {
        watched: watched.len(),
        ..Cycle::default()
    };
    if watched.is_empty() {
        return Ok(cycle);
    }
    let indices: Vec<u32> = watched
        .iter()
        .filter_map(|w| u32::try_from(w.subaddress_index).ok())
        .collect();
    let seen = wallet
        .incoming_transfers(&indices)
        .await
        .map_err(|e| e.to_string())?;
    let rows: Vec<SeenTransfer> = seen
        .confirmed
        .iter()
        .chain(&seen.pool)
        .filter(|tr| tr.subaddr_index.major == 0 && !tr.double_spend_seen)
        .filter_map(|tr| {
            let w = watched
                .iter()
                .find(|w| w.subaddress_index == i64::from(tr.subaddr_index.minor))?;
            Some(SeenTransfer {
                order_id: w.order_id,
                txid: tr.txid.clone(),
                subaddress_index: w.subaddress_index,
                amount: i64::try_from(tr.amount).ok()?,
                height: i64::try_from(tr.height).unwrap_or(0),
                confirmations: i64::try_from(tr.confirmations).unwrap_or(0),
            })
        })
        .collect();
    cycle.transfers = rows.len();
    db.write(move |c| {
        let tx = c.transaction()?;
        for r in &rows {
            store::upsert_incoming(&tx, r, t)?;
        }
        tx.commit()?;
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?;
    for w in &watched {
        let (order_id, conf) = (w.order_id, w.confirmations);
        let (_, deep, _) = db
            .read(move |c| store::received(c, order_id, conf))
            .await
            .map_err(|e| e.to_string())?;
        let state: Option<OrderState> = w.state.parse().ok();
        if state == Some(OrderState::AwaitingPayment) && deep >= w.amount_due {
            match escrow_events::funded(db, timing, order_id).await {
                Ok(()) => cycle.paid += 1,
                Err(MarketError::Conflict(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        } else if state.is_some_and(OrderState::is_final) {
            let wrote = db
                .write(move |c| {
                    let tx = c.transaction()?;
                    let wrote = payouts::refund_late_payments(&tx, order_id, now())?;
                    tx.commit()?;
                    Ok(wrote)
                })
                .await
                .map_err(|e| e.to_string())?;
            cycle.late_refunds += usize::from(wrote);
        }
    }
    Ok(cycle)
}
