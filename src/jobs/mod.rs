//! Background jobs with an owner: every job runs under one cancellation token and
//! one task tracker, so shutdown stops them all and waits for them with a bound.
//! A job is a `step` (one run, callable directly from tests) inside a thin loop.

mod schedule;

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::signal::unix::SignalKind;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use schedule::Schedule;

/// What a job step reports: `Err` carries a message for the log (no secrets).
pub type StepResult = Result<(), String>;

/// Owner of all background jobs.
pub struct Jobs {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Jobs {
    /// Jobs stop when `token` is cancelled.
    pub fn new(token: CancellationToken) -> Self {
        Self {
            token,
            tracker: TaskTracker::new(),
        }
    }

    /// Runs `step` now and then every `period` until shutdown.
    pub fn every<F, Fut>(&self, name: &'static str, period: Duration, step: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = StepResult> + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = ticker.tick() => run_step(name, step()).await,
                }
            }
            tracing::debug!(job = name, "job stopped");
        });
    }

    /// Runs `step` at every time `schedule` names until shutdown; with
    /// `run_at_start` also once right away (to catch up after downtime).
    pub fn on_schedule<F, Fut>(
        &self,
        name: &'static str,
        schedule: Schedule,
        run_at_start: bool,
        step: F,
    ) where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = StepResult> + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            if run_at_start && !token.is_cancelled() {
                run_step(name, step()).await;
            }
            loop {
                let Some(next) = schedule.next_after(Utc::now()) else {
                    tracing::warn!(job = name, "schedule has no further runs; job ends");
                    break;
                };
                let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(wait) => run_step(name, step()).await,
                }
            }
            tracing::debug!(job = name, "job stopped");
        });
    }

    /// Runs `step` each time the process receives `signal`, until shutdown. The
    /// handler is installed before this returns, so the signal's default action
    /// (often: terminate) no longer applies.
    pub fn on_signal<F, Fut>(&self, name: &'static str, signal: SignalKind, step: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = StepResult> + Send + 'static,
    {
        let mut stream = match tokio::signal::unix::signal(signal) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(job = name, error = %e, "cannot listen for the signal");
                return;
            }
        };
        let token = self.token.clone();
        self.tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    got = stream.recv() => match got {
                        Some(()) => run_step(name, step()).await,
                        None => break,
                    },
                }
            }
            tracing::debug!(job = name, "job stopped");
        });
    }

    /// Cancels every job and waits up to `grace` for running steps to finish.
    /// Returns false when some job was still running at the deadline.
    pub async fn shutdown(self, grace: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// One run of a job, timed and counted.
async fn run_step(name: &'static str, step: impl Future<Output = StepResult>) {
    let started = Instant::now();
    let result = step.await;
    let secs = started.elapsed().as_secs_f64();
    metrics::histogram!("souk_job_duration_seconds", "job" => name).record(secs);
    match result {
        Ok(()) => {
            metrics::counter!("souk_job_runs_total", "job" => name, "result" => "ok").increment(1);
            metrics::gauge!("souk_job_last_success_timestamp_seconds", "job" => name)
                .set(Utc::now().timestamp() as f64);
        }
        Err(e) => {
            metrics::counter!("souk_job_runs_total", "job" => name, "result" => "error")
                .increment(1);
            tracing::warn!(job = name, error = %e, "job step failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn interval_job_runs_at_start_and_stops_on_shutdown() {
        let jobs = Jobs::new(CancellationToken::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        jobs.every("test", Duration::from_secs(60), move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        tokio::time::sleep(Duration::from_secs(150)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "runs at 0 s, 60 s and 120 s"
        );
        assert!(jobs.shutdown(Duration::from_secs(1)).await);
        let after = runs.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), after, "no run after shutdown");
    }

    #[tokio::test]
    async fn shutdown_waits_for_a_running_step_within_the_bound() {
        let jobs = Jobs::new(CancellationToken::new());
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        jobs.every("slow", Duration::from_secs(3600), move || {
            let d = d.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                d.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(jobs.shutdown(Duration::from_secs(5)).await);
        assert_eq!(done.load(Ordering::SeqCst), 1, "the running step finished");
    }
}
