//! Backups inside `serve`: the scheduled job (with a catch-up run at start after
//! downtime), SIGUSR1, metrics and the `backup` entry of `/readyz`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use metrics::{Unit, describe_counter, describe_gauge};

use super::files;
use super::progress::Progress;
use super::run::{Outcome, Plan};
use super::{BackupError, Result};
use crate::config::Config;
use crate::health::{Check, CheckStatus};
use crate::jobs::{Jobs, Schedule};

/// Describes the backup metrics (called from `telemetry::metrics`).
pub fn describe_metrics() {
    describe_gauge!(
        "souk_backup_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the newest backup file in the backup dir (0: none yet)."
    );
    describe_gauge!(
        "souk_backup_last_duration_seconds",
        Unit::Seconds,
        "Duration of the last backup this process made."
    );
    describe_gauge!(
        "souk_backup_last_size_bytes",
        Unit::Bytes,
        "Size of the last backup file this process made."
    );
    describe_counter!(
        "souk_backup_runs_total",
        "Backups attempted by this process, by result (ok, error, busy)."
    );
    describe_gauge!(
        "souk_backup_files",
        "Backup files in the backup dir (files named like souk backups only)."
    );
    describe_gauge!(
        "souk_backup_dir_bytes",
        Unit::Bytes,
        "Bytes of backup files in the backup dir."
    );
    describe_counter!(
        "souk_backup_pruned_total",
        "Backup files deleted by retention."
    );
    describe_counter!(
        "souk_backup_post_command_runs_total",
        "Runs of backup.post_command, by result (ok, error)."
    );
}

/// The `backup` entry of `/readyz`: `ok`, `stale` (newest backup older than
/// `stale_after_hours`, or none yet) or `not_configured`; never blocks readiness.
/// Also refreshes the gauges that describe the backup dir, so backups made by
/// `souk backup now` in another process show up too.
pub fn readiness(config: &Config) -> Check {
    let b = &config.backup;
    if !b.enabled() {
        return Check {
            status: CheckStatus::NotConfigured,
            reason: None,
            height: None,
            target_height: None,
        };
    }
    let dir = b.dir_in(&config.data_dir);
    let list = match files::list(&dir) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "readiness: cannot list the backup dir");
            return stale("backup dir cannot be read");
        }
    };
    metrics::gauge!("souk_backup_files").set(list.len() as f64);
    metrics::gauge!("souk_backup_dir_bytes").set(list.iter().map(|b| b.size).sum::<u64>() as f64);
    let newest = list.first().map(|b| b.time.timestamp()).unwrap_or(0);
    metrics::gauge!("souk_backup_last_success_timestamp_seconds").set(newest as f64);
    let age_secs = Utc::now().timestamp() - newest;
    if list.is_empty() {
        stale("no backup yet")
    } else if age_secs > (b.stale_after_hours as i64).saturating_mul(3600) {
        stale("newest backup is older than backup.stale_after_hours")
    } else {
        Check {
            status: CheckStatus::Ok,
            reason: None,
            height: None,
            target_height: None,
        }
    }
}

fn stale(reason: &str) -> Check {
    Check {
        status: CheckStatus::Stale,
        reason: Some(reason.to_owned()),
        height: None,
        target_height: None,
    }
}

/// One backup as the service makes it: off the async runtime, logged, counted.
pub async fn run_once(plan: Arc<Plan>, trigger: &'static str) -> std::result::Result<(), String> {
    let p = plan.clone();
    let result = tokio::task::spawn_blocking(move || p.run(Progress::Silent))
        .await
        .map_err(|e| format!("backup task failed: {e}"))?;
    record(&result, trigger);
    let outcome = result.map_err(|e| e.to_string())?;
    let file = outcome.file.clone();
    let post = tokio::task::spawn_blocking(move || plan.post_command(&file))
        .await
        .map_err(|e| format!("post_command task failed: {e}"))?;
    match post {
        Ok(None) => Ok(()),
        Ok(Some(_)) => {
            metrics::counter!("souk_backup_post_command_runs_total", "result" => "ok").increment(1);
            tracing::info!(file = %outcome.file.display(), "backup post_command succeeded");
            Ok(())
        }
        Err(e) => {
            metrics::counter!("souk_backup_post_command_runs_total", "result" => "error")
                .increment(1);
            tracing::warn!(file = %outcome.file.display(), error = %e, "backup post_command failed");
            Err(e)
        }
    }
}

/// Logs and counts one backup attempt.
pub fn record(result: &Result<Outcome>, trigger: &str) {
    match result {
        Ok(o) => {
            metrics::counter!("souk_backup_runs_total", "result" => "ok").increment(1);
            metrics::gauge!("souk_backup_last_duration_seconds").set(o.duration.as_secs_f64());
            metrics::gauge!("souk_backup_last_size_bytes").set(o.size as f64);
            let made = o
                .file
                .file_name()
                .and_then(|n| files::parse_name(&n.to_string_lossy()))
                .unwrap_or_else(Utc::now);
            metrics::gauge!("souk_backup_last_success_timestamp_seconds")
                .set(made.timestamp() as f64);
            tracing::info!(
                trigger,
                file = %o.file.display(),
                size_bytes = o.size,
                database_bytes = o.db_bytes,
                duration_ms = o.duration.as_millis() as u64,
                pruned = o.pruned.len(),
                "backup written"
            );
        }
        Err(BackupError::Busy(_)) => {
            metrics::counter!("souk_backup_runs_total", "result" => "busy").increment(1);
            tracing::warn!(trigger, "backup skipped: another backup is running");
        }
        Err(e) => {
            metrics::counter!("souk_backup_runs_total", "result" => "error").increment(1);
            tracing::error!(trigger, error = %e, "backup failed");
        }
    }
}

/// Starts the scheduled backup job and the SIGUSR1 trigger. SIGUSR1 is always
/// caught (its default action would end the process), and says so in the log
/// when backups are not configured.
pub fn start_jobs(jobs: &Jobs, config: &Config, config_file: Option<PathBuf>) {
    let plan = match Plan::new(config, config_file.as_deref()) {
        Ok(plan) => Arc::new(plan),
        Err(e) => {
            jobs.on_signal(
                "backup_signal",
                tokio::signal::unix::SignalKind::user_defined1(),
                {
                    let line = e.to_string();
                    move || {
                        tracing::warn!(reason = %line, "SIGUSR1: no backup made");
                        async { Ok(()) }
                    }
                },
            );
            return;
        }
    };
    let p = plan.clone();
    jobs.on_signal(
        "backup_signal",
        tokio::signal::unix::SignalKind::user_defined1(),
        move || run_once(p.clone(), "signal"),
    );
    let b = &config.backup;
    if b.schedule.trim().is_empty() {
        return;
    }
    // Validated by preflight.
    let Ok(schedule) = Schedule::parse(&b.schedule) else {
        return;
    };
    let missed = b.run_missed_at_start && missed_run(&schedule, &plan.dir);
    if missed {
        tracing::info!("a scheduled backup was missed while souk was stopped: running it now");
    }
    jobs.on_schedule("backup", schedule, missed, move || {
        run_once(plan.clone(), "schedule")
    });
}

/// True when the schedule fired since the newest backup (or there is none).
fn missed_run(schedule: &Schedule, dir: &std::path::Path) -> bool {
    let newest = files::list(dir)
        .ok()
        .and_then(|l| l.first().map(|b| b.time));
    match newest {
        None => true,
        Some(t) => schedule
            .next_after(t)
            .is_some_and(|next| next <= Utc::now()),
    }
}
