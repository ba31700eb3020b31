//! Wiring: checks, listeners, storage, jobs, serving, and the ordered shutdown
//! (stop accepting, drain requests with a bound, cancel jobs, close the database).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::backup;
use crate::config::{self, Config, Loaded, PortProbe};
use crate::jobs::{Jobs, Schedule};
use crate::monero::MoneroClients;
use crate::net;
use crate::store::Db;
use crate::systemd;
use crate::telemetry::monitor::Monitor;
use crate::telemetry::poller::Poller;
use crate::telemetry::{logging, metrics::Metrics, retention::Retention};
use crate::web::{self, AppState};

/// Start-up failed: one line per problem, nothing left half-created.
#[derive(Debug)]
pub struct StartError(pub Vec<String>);

impl From<String> for StartError {
    fn from(line: String) -> Self {
        Self(vec![line])
    }
}

/// Runs the shop until SIGTERM or SIGINT.
pub async fn serve(loaded: Loaded) -> Result<(), StartError> {
    let config = Arc::new(loaded.config);
    let config_file = loaded.source;
    let mut problems = config::preflight(&config, PortProbe::Skip).problems;
    if let Err(e) = logging::filter(&config.log) {
        problems.push(e);
    }
    if !problems.is_empty() {
        return Err(StartError(problems));
    }
    let metrics_token = match config.metrics.token_file.as_os_str().is_empty() {
        true => None,
        false => Some(config::read_secret_file(&config.metrics.token_file)?),
    };
    let shop_listener = net::bind("shop", &config.shop.listen, config.shop.socket_mode).await?;
    let metrics_listener = net::bind(
        "metrics",
        &config.metrics.listen,
        config.metrics.socket_mode,
    )
    .await?;

    // From here on things are created; undo them if start-up fails.
    let mut created = CreatedDirs::default();
    created.ensure(&config.data_dir)?;
    // One souk per data dir; `souk restore` checks this lock too.
    let _serve_lock = backup::ServeLock::acquire(&config.data_dir)?;
    let log_dir = config.log_dir();
    created.ensure(&log_dir)?;
    let _log_guard = logging::init(&config.log, &log_dir)?;
    let metrics = Metrics::install()?;
    let db_path = config.db_path();
    let opened = tokio::task::spawn_blocking(move || Db::open(&db_path))
        .await
        .map_err(|e| format!("database: start-up task failed: {e}"))?;
    let (db, (from, to)) = opened.map_err(|e| e.to_string())?;
    created.keep();
    if from != to {
        tracing::info!(from, to, "database schema migrated");
    }

    let monitor = Arc::new(build_monitor(&config)?);
    match monitor.load_history(&db).await {
        Ok(points) => tracing::debug!(points, "metrics history loaded"),
        Err(e) => tracing::warn!(error = %e, "metrics history not loaded; the UI starts empty"),
    }
    let managed_escrow = crate::escrow::build(&config, &db).map_err(StartError)?;
    let mut state = AppState::new(db.clone(), config.clone(), metrics.clone(), metrics_token)
        .with_monitor(monitor);
    let multisig_escrow = crate::escrow::multisig::MultisigEscrow::build(&config, &db)
        .await
        .map_err(StartError)?;
    if let Some(engine) = &managed_escrow {
        state.escrow = Some(engine.clone());
    }
    if let Some(engine) = &multisig_escrow {
        state.escrow = Some(Arc::new(crate::escrow::multisig::dispatch::Router::new(
            db.clone(),
            managed_escrow
                .clone()
                .map(|m| m as Arc<dyn crate::market::escrow::Escrow>),
            Some(engine.clone()),
        )));
        state.multisig = Some(engine.clone());
    }
    // Jobs (and the SIGUSR1 handler) before the listeners: once /healthz
    // answers, a SIGUSR1 must make a backup rather than end the process.
    let jobs = Jobs::new(CancellationToken::new());
    start_jobs(&jobs, &config, &state);
    if let Some(engine) = managed_escrow {
        crate::escrow::start_jobs(&jobs, &config, &db, engine);
    }
    if let Some(engine) = &multisig_escrow {
        crate::escrow::multisig::start_jobs(&jobs, &config, engine.clone());
    }
    backup::start_jobs(&jobs, &config, config_file);
    let http_stop = CancellationToken::new();
    // Before the listeners answer: a SIGTERM that comes right after /healthz
    // first says ok must be a clean shutdown, not the default "killed by signal".
    let shutdown = shutdown_signal();
    let mut servers = JoinSet::new();
    for (name, bound, router) in [
        ("shop", shop_listener, web::shop_router(state.clone())),
        (
            "metrics",
            metrics_listener,
            web::metrics_router(state.clone()),
        ),
    ] {
        tracing::info!(listener = name, address = %bound.describe(), "listening");
        let stop = http_stop.clone();
        servers.spawn(async move { (name, net::serve(bound, router, stop).await) });
    }

    systemd::ready();
    tracing::info!(
        version = crate::telemetry::metrics::VERSION,
        commit = crate::telemetry::metrics::COMMIT,
        "souk is ready"
    );

    let reason = tokio::select! {
        s = shutdown => s,
        Some(ended) = servers.join_next() => match ended {
            Ok((name, Ok(()))) => format!("{name} listener stopped"),
            Ok((name, Err(e))) => format!("{name} listener failed: {e}"),
            Err(e) => format!("a listener task failed: {e}"),
        },
    };
    tracing::info!(%reason, "shutting down");
    systemd::stopping();
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    http_stop.cancel();
    let drained = tokio::time::timeout(grace, async {
        while servers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "requests still running after the grace period were cut off"
        );
        servers.shutdown().await;
    }
    if !jobs.shutdown(grace).await {
        tracing::warn!("background jobs still running after the grace period were abandoned");
    }
    if let Some(engine) = &multisig_escrow {
        // After the jobs: no arbiter turn runs any more; wallets are saved.
        engine.pool().shutdown().await;
    }
    if let Err(e) = db.close().await {
        tracing::warn!(error = %e, "database close failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The foundation's jobs: log retention, metrics upkeep, readiness gauges, watchdog.
fn start_jobs(jobs: &Jobs, config: &Arc<Config>, state: &AppState) {
    let retention = Retention::from_config(config);
    let run_retention = move || {
        let r = retention.clone();
        async move {
            tokio::task::spawn_blocking(move || r.apply(SystemTime::now()))
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .map_err(|e| format!("log retention: {e}"))
        }
    };
    // Retention runs once at start (a restart after a long stop catches up) and then
    // on its schedule. The schedule was validated by preflight.
    if let Ok(schedule) = Schedule::parse(&config.log.cleanup_schedule) {
        jobs.on_schedule("log_retention", schedule, true, run_retention);
    }
    let metrics = state.metrics.clone();
    jobs.every("metrics_upkeep", Duration::from_secs(5), move || {
        metrics.upkeep();
        async { Ok(()) }
    });
    let (db, config_now) = (state.db.clone(), config.clone());
    let min_free = config.server.min_free_disk_mb.saturating_mul(1024 * 1024);
    let monitor = state.monitor.clone();
    jobs.every("readiness", Duration::from_secs(15), move || {
        let (db, config, monitor) = (db.clone(), config_now.clone(), monitor.clone());
        async move {
            let backup = crate::backup::readiness(&config);
            crate::health::probe(&db, &config.data_dir, min_free, &monitor.poller, backup).await;
            Ok(())
        }
    });
    start_market_jobs(jobs, config, state);
    start_monitoring(jobs, state);
    if let Some(period) = systemd::watchdog_period() {
        jobs.every("watchdog", period, || async {
            systemd::watchdog_ping();
            Ok(())
        });
    }
}

/// The marketplace's timed work: expiry, auto-finalize, note and session purges.
fn start_market_jobs(jobs: &Jobs, config: &Arc<Config>, state: &AppState) {
    use crate::market::orders::jobs as order_jobs;
    let timing = config.market.timing();
    let db = state.db.clone();
    jobs.every("order_expiry", Duration::from_secs(60), move || {
        let db = db.clone();
        async move {
            order_jobs::expire_unpaid(&db, timing)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
    let db = state.db.clone();
    jobs.every("order_auto_finalize", Duration::from_secs(300), move || {
        let db = db.clone();
        async move {
            order_jobs::auto_finalize(&db, timing)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
    let db = state.db.clone();
    jobs.every("privacy_purge", Duration::from_secs(3600), move || {
        let db = db.clone();
        async move {
            order_jobs::purge_delivery_notes(&db)
                .await
                .map_err(|e| e.to_string())?;
            crate::market::auth::purge_expired(&db)
                .await
                .map_err(|e| e.to_string())
        }
    });
}

/// Installs the SIGTERM/SIGINT handlers now (not when first polled) and returns
/// the future that waits for one of them.
fn shutdown_signal() -> impl std::future::Future<Output = String> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            std::future::pending::<()>().await;
            unreachable!()
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM".to_owned(),
            _ = int.recv() => "SIGINT".to_owned(),
        }
    }
}

/// Directories this start created, removed again if start-up fails.
#[derive(Default)]
struct CreatedDirs {
    dirs: Vec<PathBuf>,
    keep: bool,
}

impl CreatedDirs {
    fn ensure(&mut self, dir: &Path) -> Result<(), String> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut p = dir.to_path_buf();
        while !p.as_os_str().is_empty() && !p.exists() {
            missing.push(p.clone());
            if !p.pop() {
                break;
            }
        }
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        self.dirs.extend(missing);
        Ok(())
    }

    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Deepest first; each was empty before this start, so only our own files go.
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The monitor the config asks for (the login files were checked by preflight).
fn build_monitor(config: &Config) -> Result<Monitor, StartError> {
    let clients = MoneroClients::from_config(&config.monero).map_err(StartError)?;
    let poller = Poller::new(
        clients,
        Duration::from_secs(config.monero.poll_interval_secs),
        Duration::from_secs(config.monero.request_timeout_secs),
    );
    Ok(Monitor::new(poller, config.data_dir.clone()))
}

/// Monero poller, shop figures and the metrics UI's once-a-minute history.
fn start_monitoring(jobs: &Jobs, state: &AppState) {
    let monitor = state.monitor.clone();
    if monitor.poller.enabled() {
        let m = monitor.clone();
        jobs.every("monero_poller", monitor.poller.interval(), move || {
            let m = m.clone();
            async move { m.poll_once().await }
        });
    }
    if monitor.shop.defined() {
        let (m, db) = (monitor.clone(), state.db.clone());
        // As fresh as the Monero poll, at most 15 s old.
        let period = Duration::from_secs(state.config.monero.poll_interval_secs.clamp(1, 15));
        jobs.every("shop_figures", period, move || {
            let (m, db) = (m.clone(), db.clone());
            async move { m.shop.run_once(&db).await }
        });
    }
    let (db, metrics) = (state.db.clone(), state.metrics.clone());
    jobs.every(
        "metrics_history",
        Duration::from_secs(crate::telemetry::history::MINUTE as u64),
        move || {
            let (m, db, metrics) = (monitor.clone(), db.clone(), metrics.clone());
            async move { m.sample_once(&db, &metrics).await }
        },
    );
}
