//! Typed JSON-RPC clients for the operator's `monerod` and `monero-wallet-rpc`:
//! loopback IP literals only (the static binary has no DNS), per-call timeouts,
//! retries with backoff for reads only, digest authentication for `--rpc-login`,
//! and one error enum that keeps the RPC's code and message.
//!
//! Extending: add a method to [`DaemonClient`] or [`WalletClient`] with its own
//! typed params/result and the right [`Retry`]: `Safe` for reads, `Never` for
//! anything that moves money or creates state (the caller reconciles instead).

mod address;
mod daemon;
mod error;
mod rpc;
mod wallet;
mod wallet_escrow;
mod wallet_multisig;

use std::sync::Arc;
use std::time::Duration;

pub use address::check_address_offline;
pub use daemon::{BlockHeader, DaemonClient, DaemonInfo, PoolStats, RpcVersion};
pub use error::{MoneroError, WALLET_RPC_NO_WALLET_FILE};
pub use rpc::{Retry, RpcClient, Target, Timeouts};
pub use wallet::{Balance, WalletClient};
pub use wallet_escrow::{
    Destination, IncomingTransfer, IncomingTransfers, KnownTransfer, NewSubaddress,
    SubaddressIndex, UnrelayedTransfer, WALLET_RPC_WRONG_TXID,
};
pub use wallet_multisig::{KexStep, MultisigStatus};

use crate::config::Network;
use crate::config::monero::{Endpoint, MoneroConfig, read_login_file};

/// The clients the configuration asks for (either may be absent).
#[derive(Debug, Clone)]
pub struct MoneroClients {
    /// monerod, when `daemon_url` is set.
    pub daemon: Option<Arc<DaemonClient>>,
    /// monero-wallet-rpc, when `wallet_url` is set.
    pub wallet: Option<Arc<WalletClient>>,
    /// The network the daemon must be on.
    pub network: Network,
}

impl MoneroClients {
    /// Builds the clients, reading the login files. Fails with one line per problem
    /// (preflight reports the same lines earlier).
    pub fn from_config(c: &MoneroConfig) -> Result<Self, Vec<String>> {
        let problems = c.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let timeouts = Timeouts {
            connect: Duration::from_secs(c.connect_timeout_secs),
            request: Duration::from_secs(c.request_timeout_secs),
        };
        let login = |key: &str, path: &std::path::Path| {
            if path.as_os_str().is_empty() {
                Ok(None)
            } else {
                read_login_file(key, path).map(Some)
            }
        };
        let daemon = if c.daemon_configured() {
            let ep =
                Endpoint::parse("monero.daemon_url", c.daemon_url.trim()).map_err(|e| vec![e])?;
            let login =
                login("monero.daemon_login_file", &c.daemon_login_file).map_err(|e| vec![e])?;
            Some(Arc::new(DaemonClient::new(RpcClient::new(
                Target::Daemon,
                &ep,
                login,
                timeouts,
            ))))
        } else {
            None
        };
        let wallet = if c.wallet_configured() {
            let ep =
                Endpoint::parse("monero.wallet_url", c.wallet_url.trim()).map_err(|e| vec![e])?;
            let login =
                login("monero.wallet_login_file", &c.wallet_login_file).map_err(|e| vec![e])?;
            Some(Arc::new(WalletClient::new(RpcClient::new(
                Target::Wallet,
                &ep,
                login,
                timeouts,
            ))))
        } else {
            None
        };
        Ok(Self {
            daemon,
            wallet,
            network: c.network,
        })
    }

    /// No daemon and no wallet.
    pub fn none() -> Self {
        Self {
            daemon: None,
            wallet: None,
            network: Network::Mainnet,
        }
    }
}

/// Describes the client metrics (called from `telemetry::metrics::describe_all`).
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_histogram!(
        "souk_monero_rpc_duration_seconds",
        Unit::Seconds,
        "Duration of Monero RPC calls including retries, by target (daemon, wallet) and method."
    );
    describe_counter!(
        "souk_monero_rpc_errors_total",
        "Failed Monero RPC calls, by target, method and kind (unreachable, timeout, unauthorized, http, rpc, status, bad_response)."
    );
}
