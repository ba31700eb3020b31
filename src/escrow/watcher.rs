//! The payment watcher: one `get_transfers` per cycle for every watched
//! subaddress (pool included), so its cost does not grow with one call per
//! order. It records each transfer, marks orders paid once what they received
//! is deep enough, and writes refund intents for money that arrives after an
//! order ended.
//!
//! A cycle is one database read (what to watch), one wallet call, and one
//! write transaction that records the transfers and sums what every watched
//! order received; only orders that change (paid, or a late payment to refund)
//! cost a further write each.

use std::time::Instant;

use crate::market::orders::{Timing, escrow_events, state::OrderState};
use crate::market::{MarketError, now, payouts};
use crate::monero::WalletClient;
use crate::store::Db;
use crate::store::escrow::{self as store, SeenTransfer};

/// Ended orders are watched this long for late payments (30 days).
pub const LATE_WATCH_SECS: i64 = 30 * 86_400;

/// Histogram of whole watcher cycles, seconds.
pub const CYCLE_METRIC: &str = "souk_escrow_watcher_cycle_duration_seconds";
/// Gauge of the subaddresses the last cycle asked about.
pub const WATCHED_METRIC: &str = "souk_escrow_watched_subaddresses";

/// Describes the watcher's metrics (called from `telemetry::metrics::describe_all`).
pub fn describe() {
    metrics::describe_histogram!(
        CYCLE_METRIC,
        metrics::Unit::Seconds,
        "Duration of one payment watcher cycle (database reads, the one wallet call, recording), failed cycles included."
    );
    metrics::describe_gauge!(
        WATCHED_METRIC,
        "Subaddresses the payment watcher asked the wallet about in its last successful cycle."
    );
}

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

/// One watcher cycle, timed into [`CYCLE_METRIC`].
pub async fn watch_once(db: &Db, wallet: &WalletClient, timing: Timing) -> Result<Cycle, String> {
    let started = Instant::now();
    let result = cycle(db, wallet, timing).await;
    metrics::histogram!(CYCLE_METRIC).record(started.elapsed().as_secs_f64());
    if let Ok(c) = &result {
        metrics::gauge!(WATCHED_METRIC).set(c.watched as f64);
    }
    result
}

async fn cycle(db: &Db, wallet: &WalletClient, timing: Timing) -> Result<Cycle, String> {
    let t = now();
    let ended_since = t - LATE_WATCH_SECS;
    let watched = db
        .read(move |c| store::watched(c, ended_since))
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
    // `watched` is ordered by subaddress index: look transfers up by binary search.
    let rows: Vec<SeenTransfer> = seen
        .confirmed
        .iter()
        .chain(&seen.pool)
        .filter(|tr| tr.subaddr_index.major == 0 && !tr.double_spend_seen)
        .filter_map(|tr| {
            let minor = i64::from(tr.subaddr_index.minor);
            let w = &watched[watched
                .binary_search_by_key(&minor, |w| w.subaddress_index)
                .ok()?];
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
    let received = db
        .write(move |c| {
            let tx = c.transaction()?;
            for r in &rows {
                store::upsert_incoming(&tx, r, t)?;
            }
            let received = store::received_while_watched(&tx, ended_since)?;
            tx.commit()?;
            Ok(received)
        })
        .await
        .map_err(|e| e.to_string())?;
    for w in &watched {
        let Some(got) = received.get(&w.order_id) else {
            continue;
        };
        let order_id = w.order_id;
        let state: Option<OrderState> = w.state.parse().ok();
        if state == Some(OrderState::AwaitingPayment) && got.deep >= w.amount_due {
            match escrow_events::funded(db, timing, order_id).await {
                Ok(()) => cycle.paid += 1,
                Err(MarketError::Conflict(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        } else if state.is_some_and(OrderState::is_final) && got.unallotted > 0 {
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
