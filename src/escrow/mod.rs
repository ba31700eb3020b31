//! Escrow engines. `managed` receives each order on its own subaddress of the
//! shop's wallet; `watcher` records payments with one wallet call per cycle;
//! `payout` pays the intents the order lifecycle writes, exactly once, and
//! reconciles whatever a crash left half done.

pub mod managed;
pub mod multisig;
pub mod payout;
pub mod watcher;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::jobs::Jobs;
use crate::market::orders::state::OrderState;
use crate::monero::MoneroClients;
use crate::store::Db;
use managed::{ManagedEscrow, Terms};
use payout::Payouts;

/// The managed escrow the configuration asks for: `Some` when `[monero]` has a
/// wallet and `[escrow] mode = "managed"`.
pub fn build(config: &Config, db: &Db) -> Result<Option<Arc<ManagedEscrow>>, Vec<String>> {
    if !config.escrow.managed() || !config.monero.wallet_configured() {
        return Ok(None);
    }
    let Some(wallet) = MoneroClients::from_config(&config.monero)?.wallet else {
        return Ok(None);
    };
    let payouts = Arc::new(Payouts::new(
        db.clone(),
        wallet.clone(),
        &config.escrow.fee_address,
        config.escrow.confirmations,
    ));
    Ok(Some(Arc::new(ManagedEscrow::new(
        db.clone(),
        wallet,
        config.market.timing(),
        Terms {
            confirmations: config.escrow.confirmations,
            commission_bps: config.escrow.commission_bps,
            network: config.monero.network,
        },
        payouts,
    ))))
}

/// Orders retried per payment-request step.
const OPEN_BATCH: i64 = 100;

/// The escrow jobs: the watcher followed by payout reconciliation (which also
/// runs at start: the first cycle comes at once), and the payment-request job
/// that retries `open` for orders left in `created` while payments were down.
pub fn start_jobs(jobs: &Jobs, config: &Config, db: &Db, engine: Arc<ManagedEscrow>) {
    let period = Duration::from_secs(config.escrow.watcher_interval_secs.max(1));
    let timing = config.market.timing();
    let (e, d) = (engine.clone(), db.clone());
    jobs.every("escrow_watcher", period, move || {
        let (e, db) = (e.clone(), d.clone());
        async move {
            let cycle = watcher::watch_once(&db, e.wallet(), timing).await;
            if cycle.is_ok() {
                // Expiry right after a fresh look at the payments: an order paid
                // in full by its deadline (pool included) waits for its
                // confirmations within the grace instead of expiring (the
                // market's minute job does the same without escrow).
                crate::market::orders::jobs::expire_unpaid(&db, timing)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            // Payouts go on even when the watcher could not ask the wallet.
            let reconciled = e.payouts.reconcile().await.map_err(|e| e.to_string());
            cycle.map(|_| ())?;
            reconciled.map(|_| ())
        }
    });
    let d = db.clone();
    jobs.every("escrow_payment_requests", period, move || {
        let (escrow, db) = (
            Some(engine.clone() as Arc<dyn crate::market::escrow::Escrow>),
            d.clone(),
        );
        async move {
            let ids = db
                .read(|c| {
                    crate::store::orders::due(
                        c,
                        OrderState::Created,
                        "payment_deadline",
                        i64::MAX,
                        OPEN_BATCH,
                    )
                })
                .await
                .map_err(|e| e.to_string())?;
            for id in ids {
                crate::market::orders::open_payment(&db, &escrow, id).await;
            }
            Ok(())
        }
    });
}
