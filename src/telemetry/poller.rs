//! The Monero poller: asks monerod and monero-wallet-rpc for their figures every
//! `monero.poll_interval_secs`, keeps the last answer as a snapshot, and renders
//! that snapshot into the exposition at scrape time.
//!
//! Why a snapshot and not `metrics::gauge!`: the recorder cannot drop a series,
//! so after a failed poll it would keep reporting the last good height as if it
//! were current. Here a failed poll clears the target's figures: the scrape then
//! carries only `monero_daemon_up 0` (and the scrape duration), Prometheus marks
//! the vanished series stale, and the UI shows "down" instead of old numbers.

use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Network;
use crate::health::{self, Check};
use crate::monero::{
    Balance, BlockHeader, DaemonInfo, MoneroClients, MoneroError, PoolStats, RpcVersion,
    WALLET_RPC_NO_WALLET_FILE,
};
use crate::telemetry::exposition::{Kind, family, gauge, sample};

/// What one daemon poll learned.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonFigures {
    /// `get_info`.
    pub info: DaemonInfo,
    /// `get_last_block_header`.
    pub last_block: BlockHeader,
    /// `/get_transaction_pool_stats`.
    pub pool: PoolStats,
    /// `get_version`.
    pub rpc_version: RpcVersion,
}

impl DaemonFigures {
    /// The height the network is at: monerod says 0 when it knows no peer that is
    /// ahead (synchronized, or offline), which means "our own height".
    pub fn target_height(&self) -> u64 {
        self.info.target_height.max(self.info.height)
    }
}

/// What one wallet poll learned.
#[derive(Debug, Clone, PartialEq)]
pub struct WalletFigures {
    /// monero-wallet-rpc's RPC version.
    pub version: u32,
    /// None when no wallet is open in the wallet-rpc.
    pub open: Option<OpenWallet>,
}

/// Figures of the open wallet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenWallet {
    /// Height the wallet has scanned to.
    pub height: u64,
    /// Account 0's balances, piconero.
    pub balance: Balance,
}

/// The last poll of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPoll<T> {
    /// Whether the last poll succeeded.
    pub up: bool,
    /// Figures of the last poll; None after a failure (never last-good values).
    pub figures: Option<T>,
    /// How long the last poll took.
    pub duration: Duration,
    /// The last error, for the log and the UI.
    pub error: Option<String>,
    /// When the last poll ended (monotonic, for readiness staleness).
    pub at: Instant,
    /// Unix time of the last successful poll.
    pub last_success_unix: Option<u64>,
}

/// The snapshot the exposition, the UI, the history and `/readyz` read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollState {
    /// None until the first poll of a configured daemon ends (or not configured).
    pub daemon: Option<TargetPoll<DaemonFigures>>,
    /// Same for the wallet.
    pub wallet: Option<TargetPoll<WalletFigures>>,
    /// Set when the daemon is on another network than `monero.network` says.
    pub network_mismatch: Option<String>,
}

/// The poller.
pub struct Poller {
    clients: MoneroClients,
    interval: Duration,
    /// After this long without a finished poll, readiness fails.
    stale_after: Duration,
    state: RwLock<PollState>,
}

impl Poller {
    /// A poller for the configured clients.
    pub fn new(clients: MoneroClients, interval: Duration, request_timeout: Duration) -> Self {
        // A poll may retry each read up to three times with backoff.
        let stale_after = interval * 3 + request_timeout * 4;
        Self {
            clients,
            interval,
            stale_after,
            state: RwLock::new(PollState::default()),
        }
    }

    /// A poller with nothing configured.
    pub fn disabled() -> Self {
        Self::new(
            MoneroClients::none(),
            Duration::from_secs(15),
            Duration::ZERO,
        )
    }

    /// Whether a daemon or a wallet is configured.
    pub fn enabled(&self) -> bool {
        self.clients.daemon.is_some() || self.clients.wallet.is_some()
    }

    /// Poll interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// A copy of the last poll.
    pub fn snapshot(&self) -> PollState {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One poll of every configured target (they are asked concurrently).
    pub async fn run_once(&self) -> Result<(), String> {
        let (daemon, wallet) = tokio::join!(self.poll_daemon(), self.poll_wallet());
        let mut errors = Vec::new();
        let mismatch = daemon.as_ref().and_then(|d| {
            let f = d.figures.as_ref()?;
            let expected = self.clients.network.daemon_nettype();
            (f.info.nettype != expected).then(|| {
                let theirs = Network::from_daemon_nettype(&f.info.nettype)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| f.info.nettype.clone());
                format!(
                    "monerod is on {theirs} but monero.network is {}: point daemon_url at a {} daemon or fix monero.network",
                    self.clients.network, self.clients.network
                )
            })
        });
        for (name, poll) in [
            ("daemon", daemon.as_ref().map(|p| (p.up, &p.error))),
            ("wallet", wallet.as_ref().map(|p| (p.up, &p.error))),
        ] {
            if let Some((false, Some(e))) = poll {
                errors.push(format!("{name}: {e}"));
            }
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        log_changes(&state, daemon.as_ref(), wallet.as_ref(), &mismatch);
        *state = PollState {
            daemon,
            wallet,
            network_mismatch: mismatch,
        };
        drop(state);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    async fn poll_daemon(&self) -> Option<TargetPoll<DaemonFigures>> {
        let client = self.clients.daemon.as_ref()?;
        let started = Instant::now();
        let r = tokio::try_join!(
            client.get_info(),
            client.get_last_block_header(),
            client.get_transaction_pool_stats(),
            client.get_version(),
        );
        let figures = r.map(|(info, last_block, pool, rpc_version)| DaemonFigures {
            info,
            last_block,
            pool,
            rpc_version,
        });
        Some(finish(started, figures))
    }

    async fn poll_wallet(&self) -> Option<TargetPoll<WalletFigures>> {
        let client = self.clients.wallet.as_ref()?;
        let started = Instant::now();
        let figures = async {
            let version = client.get_version().await?;
            let open = match tokio::try_join!(client.get_height(), client.get_balance()) {
                Ok((height, balance)) => Some(OpenWallet { height, balance }),
                Err(e) if e.rpc_code() == Some(WALLET_RPC_NO_WALLET_FILE) => None,
                Err(e) => return Err(e),
            };
            Ok::<_, MoneroError>(WalletFigures { version, open })
        }
        .await;
        Some(finish(started, figures))
    }

    /// `/readyz` entry for the daemon: reachable, on the right network, synchronized.
    pub fn daemon_check(&self) -> Check {
        if self.clients.daemon.is_none() {
            return health::not_configured();
        }
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let Some(poll) = &state.daemon else {
            return health::failed("not polled yet".to_owned());
        };
        if poll.at.elapsed() > self.stale_after {
            return health::failed("no recent poll".to_owned());
        }
        let Some(f) = &poll.figures else {
            return health::failed("unreachable".to_owned());
        };
        let mut check = if state.network_mismatch.is_some() {
            health::failed(format!("wrong network ({})", f.info.nettype))
        } else if !f.info.synchronized {
            health::failed("not synchronized".to_owned())
        } else {
            health::ok()
        };
        check.height = Some(f.info.height);
        check.target_height = Some(f.target_height());
        check
    }

    /// `/readyz` entry for the wallet: reachable and a wallet open.
    pub fn wallet_check(&self) -> Check {
        if self.clients.wallet.is_none() {
            return health::not_configured();
        }
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let Some(poll) = &state.wallet else {
            return health::failed("not polled yet".to_owned());
        };
        if poll.at.elapsed() > self.stale_after {
            return health::failed("no recent poll".to_owned());
        }
        match &poll.figures {
            None => health::failed("unreachable".to_owned()),
            Some(WalletFigures { open: None, .. }) => health::failed("no wallet open".to_owned()),
            Some(WalletFigures {
                open: Some(open), ..
            }) => Check {
                height: Some(open.height),
                ..health::ok()
            },
        }
    }

    /// Appends the poller's series to an exposition.
    pub fn render(&self, out: &mut String) {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = &state.daemon {
            render_daemon(out, d);
        }
        if let Some(w) = &state.wallet {
            render_wallet(out, w);
        }
    }
}

fn finish<T>(started: Instant, r: Result<T, MoneroError>) -> TargetPoll<T> {
    let duration = started.elapsed();
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match r {
        Ok(figures) => TargetPoll {
            up: true,
            figures: Some(figures),
            duration,
            error: None,
            at: Instant::now(),
            last_success_unix: Some(now_unix),
        },
        Err(e) => TargetPoll {
            up: false,
            figures: None,
            duration,
            error: Some(e.to_string()),
            at: Instant::now(),
            last_success_unix: None,
        },
    }
}

/// Logs transitions (up -> down, down -> up, network mismatch) once, not every poll.
fn log_changes(
    before: &PollState,
    daemon: Option<&TargetPoll<DaemonFigures>>,
    wallet: Option<&TargetPoll<WalletFigures>>,
    mismatch: &Option<String>,
) {
    let was = |p: Option<bool>| p.unwrap_or(true);
    if let Some(d) = daemon {
        match (was(before.daemon.as_ref().map(|p| p.up)), d.up) {
            (true, false) => {
                tracing::warn!(error = d.error.as_deref().unwrap_or(""), "monerod is down")
            }
            (false, true) => tracing::info!("monerod is reachable again"),
            _ if before.daemon.is_none() && d.up => tracing::info!("monerod is reachable"),
            _ => {}
        }
    }
    if let Some(w) = wallet {
        match (was(before.wallet.as_ref().map(|p| p.up)), w.up) {
            (true, false) => tracing::warn!(
                error = w.error.as_deref().unwrap_or(""),
                "monero-wallet-rpc is down"
            ),
            (false, true) => tracing::info!("monero-wallet-rpc is reachable again"),
            _ if before.wallet.is_none() && w.up => {
                tracing::info!("monero-wallet-rpc is reachable")
            }
            _ => {}
        }
    }
    if mismatch != &before.network_mismatch
        && let Some(m) = mismatch
    {
        tracing::error!("{m}");
    }
}

fn render_daemon(out: &mut String, d: &TargetPoll<DaemonFigures>) {
    gauge(
        out,
        "monero_daemon_up",
        "1 when the last poll of monerod succeeded, 0 when it failed.",
        d.up,
    );
    gauge(
        out,
        "monero_daemon_scrape_duration_seconds",
        "Duration of the last poll of monerod.",
        d.duration.as_secs_f64(),
    );
    let Some(f) = &d.figures else { return };
    let i = &f.info;
    gauge(
        out,
        "monero_info_height",
        "Blocks in the daemon's chain (get_info height: top block height + 1).",
        i.height,
    );
    gauge(
        out,
        "monero_info_target_height",
        "Height the network is at as the daemon sees it (its own height when it knows no peer ahead).",
        f.target_height(),
    );
    gauge(
        out,
        "monero_info_synchronized",
        "1 when the daemon considers itself synchronized.",
        i.synchronized,
    );
    gauge(
        out,
        "monero_info_offline",
        "1 when the daemon runs with --offline.",
        i.offline,
    );
    gauge(
        out,
        "monero_info_difficulty",
        "Current network difficulty.",
        i.difficulty,
    );
    gauge(
        out,
        "monero_info_database_size_bytes",
        "Size of the daemon's blockchain database.",
        i.database_size,
    );
    gauge(
        out,
        "monero_info_free_space_bytes",
        "Free space on the daemon's disk.",
        i.free_space,
    );
    family(
        out,
        "monero_p2p_connections",
        Kind::Gauge,
        "Peer connections of the daemon, by direction (in, out).",
    );
    sample(
        out,
        "monero_p2p_connections",
        &[("direction", "in")],
        i.incoming_connections_count,
    );
    sample(
        out,
        "monero_p2p_connections",
        &[("direction", "out")],
        i.outgoing_connections_count,
    );
    gauge(
        out,
        "monero_transaction_pool_transactions",
        "Transactions in the daemon's pool.",
        f.pool.txs_total,
    );
    gauge(
        out,
        "monero_transaction_pool_bytes",
        "Total size of the transactions in the pool.",
        f.pool.bytes_total,
    );
    gauge(
        out,
        "monero_lastblock_timestamp_seconds",
        "Unix time in the header of the daemon's top block.",
        f.last_block.timestamp,
    );
    family(
        out,
        "monero_daemon_version_info",
        Kind::Gauge,
        "monerod's version, RPC version and network; always 1.",
    );
    sample(
        out,
        "monero_daemon_version_info",
        &[
            ("version", &i.version),
            ("rpc_version", &f.rpc_version.display()),
            ("nettype", &i.nettype),
        ],
        1u64,
    );
}

fn render_wallet(out: &mut String, w: &TargetPoll<WalletFigures>) {
    gauge(
        out,
        "monero_wallet_up",
        "1 when the last poll of monero-wallet-rpc succeeded (reachable), 0 when it failed.",
        w.up,
    );
    gauge(
        out,
        "monero_wallet_scrape_duration_seconds",
        "Duration of the last poll of monero-wallet-rpc.",
        w.duration.as_secs_f64(),
    );
    let Some(f) = &w.figures else { return };
    gauge(
        out,
        "monero_wallet_open",
        "1 when monero-wallet-rpc has a wallet open.",
        f.open.is_some(),
    );
    let Some(open) = &f.open else { return };
    gauge(
        out,
        "monero_wallet_height",
        "Height the open wallet has scanned to.",
        open.height,
    );
    gauge(
        out,
        "monero_wallet_balance_piconero",
        "Balance of the open wallet's account 0, locked and unlocked, in piconero.",
        open.balance.balance,
    );
    gauge(
        out,
        "monero_wallet_unlocked_balance_piconero",
        "Spendable balance of the open wallet's account 0, in piconero.",
        open.balance.unlocked_balance,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CheckStatus;

    fn figures() -> DaemonFigures {
        DaemonFigures {
            info: serde_json::from_value(serde_json::json!({
                "height": 81, "target_height": 0, "synchronized": true, "offline": true,
                "incoming_connections_count": 0, "outgoing_connections_count": 2,
                "tx_pool_size": 1, "difficulty": 1, "database_size": 81920,
                "free_space": 1000, "nettype": "fakechain", "version": "0.18.0.0-unknown"
            }))
            .unwrap(),
            last_block: BlockHeader {
                height: 80,
                timestamp: 1_700_000_000,
                hash: "ab".into(),
                num_txes: 0,
                reward: 1,
            },
            pool: PoolStats {
                txs_total: 1,
                bytes_total: 1500,
                fee_total: 0,
                oldest: 0,
            },
            rpc_version: RpcVersion {
                version: (3 << 16) | 10,
                release: false,
            },
        }
    }

    fn poll<T>(figures: Option<T>) -> TargetPoll<T> {
        TargetPoll {
            up: figures.is_some(),
            error: figures.is_none().then(|| "refused".to_owned()),
            figures,
            duration: Duration::from_millis(3),
            at: Instant::now(),
            last_success_unix: None,
        }
    }

    #[test]
    fn a_failed_poll_reports_up_zero_and_no_figures() {
        let mut out = String::new();
        render_daemon(&mut out, &poll(Some(figures())));
        assert!(out.contains("monero_daemon_up 1\n"), "{out}");
        assert!(out.contains("monero_info_height 81\n"), "{out}");
        assert!(
            out.contains("monero_info_target_height 81\n"),
            "target 0 means own height"
        );
        assert!(out.contains("monero_p2p_connections{direction=\"out\"} 2\n"));
        assert!(out.contains("rpc_version=\"3.10\""), "{out}");
        let mut down = String::new();
        render_daemon(&mut down, &poll::<DaemonFigures>(None));
        assert!(down.contains("monero_daemon_up 0\n"), "{down}");
        assert!(!down.contains("monero_info_height"), "{down}");
        assert!(!down.contains("monero_lastblock"), "{down}");
    }

    #[test]
    fn wallet_without_open_wallet_is_reachable_but_has_no_balance() {
        let mut out = String::new();
        render_wallet(
            &mut out,
            &poll(Some(WalletFigures {
                version: 1,
                open: None,
            })),
        );
        assert!(out.contains("monero_wallet_up 1\n"));
        assert!(out.contains("monero_wallet_open 0\n"));
        assert!(!out.contains("balance"));
        let mut out = String::new();
        render_wallet(
            &mut out,
            &poll(Some(WalletFigures {
                version: 1,
                open: Some(OpenWallet {
                    height: 5,
                    balance: Balance {
                        balance: 35_184_372_088_832_000,
                        unlocked_balance: 1,
                        blocks_to_unlock: 0,
                    },
                }),
            })),
        );
        assert!(
            out.contains("monero_wallet_balance_piconero 35184372088832000\n"),
            "exact integer: {out}"
        );
    }

    #[test]
    fn not_configured_targets_render_nothing_and_do_not_block_readiness() {
        let p = Poller::disabled();
        let mut out = String::new();
        p.render(&mut out);
        assert!(out.is_empty());
        assert_eq!(p.daemon_check().status, CheckStatus::NotConfigured);
        assert_eq!(p.wallet_check().status, CheckStatus::NotConfigured);
    }
}
