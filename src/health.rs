//! Readiness: can the shop take orders right now? One entry per dependency, so an
//! operator (or a load balancer) sees which one is missing. The reasons are terse on
//! purpose: `/readyz` sits on the shop listener, so details go to the log instead.

use std::path::Path;

use serde::Serialize;

use crate::store::Db;

/// State of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Works.
    Ok,
    /// Does not work: the shop cannot take orders.
    Failed,
    /// Not part of this installation yet; does not block readiness.
    NotConfigured,
    /// Works but is out of date (e.g. no recent backup): worth a look, yet the
    /// shop can still take orders, so it does not block readiness.
    Stale,
}

/// One dependency's check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Status.
    pub status: CheckStatus,
    /// Why it failed, in a few words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Chain height the dependency reports (Monero daemon and wallet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Height the network is at, as the daemon sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_height: Option<u64>,
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// True when every configured dependency is ok.
    pub ready: bool,
    /// Each dependency by name.
    pub checks: Vec<(&'static str, Check)>,
}

/// Free bytes for unprivileged writers on the file system holding `dir`.
pub fn disk_free_bytes(dir: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Checks every dependency once; `backup` is computed by the caller
/// (`backup::readiness`) and never blocks readiness.
pub async fn probe(
    db: &Db,
    data_dir: &Path,
    min_free_bytes: u64,
    monero: &crate::telemetry::poller::Poller,
    backup: Check,
) -> Readiness {
    let database = match db.check_ready().await {
        Ok(()) => ok(),
        Err(reason) => {
            tracing::warn!(%reason, "readiness: database check failed");
            failed(reason)
        }
    };
    let disk = match disk_free_bytes(data_dir) {
        Ok(free) => {
            metrics::gauge!("souk_disk_free_bytes").set(free as f64);
            if free >= min_free_bytes {
                ok()
            } else {
                tracing::warn!(
                    free_mib = free / (1024 * 1024),
                    min_mib = min_free_bytes / (1024 * 1024),
                    "readiness: data dir is low on disk space"
                );
                failed("low free disk space in the data dir".to_owned())
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read free disk space");
            failed("free disk space unknown".to_owned())
        }
    };
    let checks = vec![
        ("database", database),
        ("disk", disk),
        ("monero_daemon", monero.daemon_check()),
        ("monero_wallet", monero.wallet_check()),
        ("backup", backup),
    ];
    let ready = checks.iter().all(|(_, c)| c.status != CheckStatus::Failed);
    metrics::gauge!("souk_ready").set(if ready { 1.0 } else { 0.0 });
    Readiness { ready, checks }
}

/// A passing check.
pub fn ok() -> Check {
    Check {
        status: CheckStatus::Ok,
        reason: None,
        height: None,
        target_height: None,
    }
}

/// A failing check with a terse reason.
pub fn failed(reason: String) -> Check {
    Check {
        status: CheckStatus::Failed,
        reason: Some(reason),
        height: None,
        target_height: None,
    }
}

/// A dependency this installation does not use.
pub fn not_configured() -> Check {
    Check {
        status: CheckStatus::NotConfigured,
        reason: None,
        height: None,
        target_height: None,
    }
}
