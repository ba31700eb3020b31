//! The non-custodial escrow: a 2-of-3 Monero multisig wallet per order, with
//! keys held by the buyer's and the vendor's own wallets and by an arbiter
//! wallet souk runs (docs/multisig.md). Split by use case: `message` reads
//! pasted messages, `state` is the escrow's transition table, `seal` keeps the
//! arbiter wallets' passwords, `pool` runs the wallet-rpc processes, `setup`
//! drives the rounds, `funding` watches the payment, `payout` and
//! `payout_forms` pay the order out, `dispatch` sends each order to the engine
//! of its mode.

pub mod dispatch;
pub mod funding;
pub mod message;
pub mod payout;
pub mod payout_forms;
pub mod pool;
pub mod seal;
pub mod setup;
pub mod state;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::{Config, Network};
use crate::jobs::Jobs;
use crate::market::escrow::{Escrow, EscrowError, EscrowFuture, OrderForEscrow};
use crate::market::orders::Timing;
use crate::market::{MarketError, MarketResult, now};
use crate::store::Db;
use crate::store::multisig::{self as store, MessageRow};
use pool::{Processes, WalletPool};
use seal::WalletKey;
use state::{EscrowState, Participant};

/// Escrows handled per job step.
const BATCH: i64 = 50;
/// Seconds before a wallet call that failed is tried again by the job.
const RETRY_AFTER_PROBLEM_SECS: i64 = 30;

/// The multisig escrow engine.
pub struct MultisigEscrow {
    db: Db,
    pool: Arc<WalletPool>,
    key: WalletKey,
    timing: Timing,
    network: Network,
    /// Confirmations before a payment counts.
    confirmations: u64,
    /// Commission of a release, basis points (taken only with a fee address).
    commission_bps: u32,
    /// Where commissions go.
    fee_address: Option<String>,
    /// Escrows whose arbiter turn runs in this process now.
    busy: Mutex<HashSet<i64>>,
}

impl std::fmt::Debug for MultisigEscrow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultisigEscrow")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// Held while an escrow's arbiter turn runs.
pub(crate) struct Busy<'a> {
    set: &'a Mutex<HashSet<i64>>,
    id: i64,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// One setup as a participant sees it.
#[derive(Debug, Clone)]
pub struct SetupView {
    /// Where the escrow is.
    pub state: EscrowState,
    /// The round being collected (1 to 4), if any.
    pub round: Option<u8>,
    /// Accepted messages.
    pub messages: Vec<MessageRow>,
    /// The agreed (or the arbiter's) address.
    pub address: Option<String>,
    /// Why it was aborted, or the last wallet problem.
    pub problem: Option<String>,
    /// The wallet file name suggested to the participant.
    pub suggested_wallet: String,
}

impl SetupView {
    /// The message `who` sent for `round`.
    pub fn message(&self, who: Participant, round: u8) -> Option<&str> {
        self.messages
            .iter()
            .find(|m| m.participant == who && m.round == round)
            .map(|m| m.body.as_str())
    }
}

impl MultisigEscrow {
    /// Builds the engine when the config enables multisig: reads the key file,
    /// starts (or attaches to) the wallet pool.
    pub async fn build(config: &Config, db: &Db) -> Result<Option<Arc<Self>>, Vec<String>> {
        if !config.escrow.multisig() {
            return Ok(None);
        }
        let e = &config.escrow;
        let secret = crate::config::read_secret_file(&e.wallet_key_file)
            .map_err(|m| vec![format!("escrow.wallet_key_file: {m}")])?;
        let wallet_dir = e.multisig_wallet_dir(&config.data_dir);
        let processes = if e.multisig_children() {
            let daemon = crate::config::monero::Endpoint::parse(
                "monero.daemon_url",
                config.monero.daemon_url.trim(),
            )
            .map_err(|m| {
                vec![format!(
                    "{m} (multisig escrow needs the daemon its wallets use)"
                )]
            })?;
            Processes::Children {
                program: e.multisig_wallet_rpc.clone(),
                size: e.multisig_pool_size,
                daemon: daemon.addr,
                daemon_login: if config.monero.daemon_login_file.as_os_str().is_empty() {
                    None
                } else {
                    Some(
                        crate::config::monero::read_login_file(
                            "monero.daemon_login_file",
                            &config.monero.daemon_login_file,
                        )
                        .map_err(|m| vec![m])?,
                    )
                },
            }
        } else {
            let mut endpoints = Vec::new();
            for u in &e.multisig_wallet_rpc_urls {
                endpoints.push(
                    crate::config::monero::Endpoint::parse(
                        "escrow.multisig_wallet_rpc_urls",
                        u.trim(),
                    )
                    .map_err(|m| vec![m])?,
                );
            }
            Processes::Attached {
                endpoints,
                login: e.multisig_login().map_err(|m| vec![m])?,
            }
        };
        let pool = WalletPool::start(processes, &wallet_dir)
            .await
            .map_err(|m| vec![m])?;
        Ok(Some(Arc::new(Self {
            db: db.clone(),
            pool: Arc::new(pool),
            key: WalletKey::from_secret(&secret),
            timing: config.market.timing(),
            network: config.monero.network,
            confirmations: config.escrow.confirmations,
            commission_bps: config.escrow.commission_bps,
            fee_address: Some(config.escrow.fee_address.trim().to_owned())
                .filter(|a| !a.is_empty()),
            busy: Mutex::new(HashSet::new()),
        })))
    }

    /// The wallet pool (stopped on shutdown by its owner).
    pub fn pool(&self) -> &Arc<WalletPool> {
        &self.pool
    }

    pub(crate) fn busy(&self, order_id: i64) -> Option<Busy<'_>> {
        let mut set = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        // `then`, not `then_some`: a Busy built and dropped here would lock the
        // set we hold and free an id someone else is working on.
        set.insert(order_id).then(|| Busy {
            set: &self.busy,
            id: order_id,
        })
    }

    pub(crate) fn password(&self, row: &store::EscrowRow) -> Result<String, String> {
        self.key
            .open(row.order_id, &row.wallet_password)
            .ok_or_else(|| "multisig: the arbiter wallet's password does not open with escrow.wallet_key_file: is it the key file this shop was set up with?".to_owned())
    }

    /// Starts the setup of an order: the escrow row with the claim of the
    /// arbiter wallet's creation. The wallet itself is made by the job (it
    /// takes seconds: never inside a request), which then takes the first turn.
    pub async fn begin(&self, order_id: i64) -> Result<(), String> {
        let file = format!(
            "escrow-{order_id}-{}",
            data_encoding::HEXLOWER.encode(&crate::market::random_bytes::<6>())
        );
        let password = WalletKey::new_password();
        let sealed = self.key.seal(order_id, &password);
        let t = now();
        self.db
            .write(move |c| store::insert(c, order_id, &file, &sealed, t))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The setup as buyer or vendor see it.
    pub async fn view(&self, order_id: i64) -> MarketResult<SetupView> {
        let (row, messages) = self
            .db
            .read(move |c| {
                let row = store::get(c, order_id)?;
                Ok(row.map(|r| (r, store::messages(c, order_id).unwrap_or_default())))
            })
            .await?
            .ok_or(MarketError::NotFound)?;
        let messages = self.open_messages(order_id, messages)?;
        Ok(SetupView {
            state: row.state,
            round: row.state.round(),
            messages,
            address: row.address,
            problem: row.problem,
            suggested_wallet: format!("escrow-{order_id}"),
        })
    }

    /// One job step: escrows of ended orders expire; every unsettled escrow
    /// gets its due arbiter turn; set-up escrows are checked for payment; a ready escrow whose order did not move yet
    /// (crash in between) moves it.
    pub async fn tick(&self) -> Result<usize, String> {
        let t = now();
        self.db
            .write(move |c| store::expire_ended(c, t))
            .await
            .map_err(|e| e.to_string())?;
        let ids = self
            .db
            .read(move |c| store::unsettled(c, t - RETRY_AFTER_PROBLEM_SECS, BATCH))
            .await
            .map_err(|e| e.to_string())?;
        let mut failed = Vec::new();
        for id in &ids {
            if let Err(e) = self.step(*id).await {
                failed.push(e);
            }
        }
        use crate::market::orders::escrow_events::{payment_requested, setup_failed};
        for state in [EscrowState::Ready, EscrowState::Aborted] {
            let stuck = self
                .db
                .read(move |c| store::order_not_moved(c, state, BATCH))
                .await
                .map_err(|e| e.to_string())?;
            for id in stuck {
                let _ = if state == EscrowState::Ready {
                    payment_requested(&self.db, self.timing, id).await
                } else {
                    setup_failed(&self.db, self.timing, id, "multisig setup aborted").await
                };
            }
        }
        if let Err(e) = self.watch_funding().await {
            failed.push(e);
        }
        if let Err(e) = self.watch_payouts().await {
            failed.push(e);
        }
        match failed.first() {
            Some(e) => Err(format!(
                "{} multisig escrow(s) not advanced: {e}",
                failed.len()
            )),
            None => Ok(ids.len()),
        }
    }
}

impl Escrow for MultisigEscrow {
    fn mode(&self) -> &'static str {
        "multisig"
    }

    fn who_can_move_money(&self) -> &'static str {
        "2-of-3 multisig: the buyer's wallet, the vendor's wallet and the shop's arbiter wallet each hold one key, and any two of them must sign to move the money. The shop alone cannot."
    }

    fn open<'a>(&'a self, order: &'a OrderForEscrow) -> EscrowFuture<'a, Result<(), EscrowError>> {
        Box::pin(async move {
            self.begin(order.order_id)
                .await
                .map_err(EscrowError::Unavailable)
        })
    }

    fn check_address<'a>(
        &'a self,
        address: &'a str,
    ) -> EscrowFuture<'a, Result<Result<(), String>, EscrowError>> {
        // No wallet needed: the arbiter's wallets are busy with escrows.
        Box::pin(async move { Ok(crate::monero::check_address_offline(address, self.network)) })
    }

    fn pay_out(&self, order_id: i64) -> EscrowFuture<'_, Result<(), EscrowError>> {
        // Only the payout row here: the wallet work (export, build) runs in the
        // job, and the rest waits for the co-signer on the payout page.
        Box::pin(async move {
            self.open_payout(order_id)
                .await
                .map(|_| ())
                .map_err(EscrowError::Unavailable)
        })
    }
}

/// The multisig job: arbiter turns, resumes after a crash, expiry. Its first
/// run comes at once, so a restart resumes every escrow where it was.
pub fn start_jobs(jobs: &Jobs, config: &Config, engine: Arc<MultisigEscrow>) {
    let period = Duration::from_secs(config.escrow.watcher_interval_secs.max(1));
    jobs.every("multisig_setup", period, move || {
        let e = engine.clone();
        async move { e.tick().await.map(|_| ()) }
    });
}

/// Whether a participant string from a relation is buyer or vendor.
pub fn participant(relation: crate::market::orders::Relation) -> Option<Participant> {
    match relation {
        crate::market::orders::Relation::Buyer => Some(Participant::Buyer),
        crate::market::orders::Relation::Vendor => Some(Participant::Vendor),
        crate::market::orders::Relation::Arbiter => None,
    }
}
