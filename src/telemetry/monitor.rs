//! The monitoring room's handle: the Monero poller, the shop figures, and the
//! history the metrics UI draws, with its once-a-minute sampling step.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::store::{Db, metrics_history};
use crate::telemetry::history::{History, MINUTE, MINUTE_POINTS, QUARTER, QUARTER_POINTS, Tier};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::poller::Poller;
use crate::telemetry::sampler::{Inputs, Sampler};
use crate::telemetry::shop_figures::{SHOP_GAUGES, ShopFigures};

/// Poller, shop figures and history.
pub struct Monitor {
    /// The Monero poller.
    pub poller: Poller,
    /// Figures from the database.
    pub shop: ShopFigures,
    history: Mutex<History>,
    sampler: Mutex<Sampler>,
    data_dir: PathBuf,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Unix time now, seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Monitor {
    /// A monitor for `poller`, sampling disk space of `data_dir`.
    pub fn new(poller: Poller, data_dir: PathBuf) -> Self {
        Self {
            poller,
            shop: ShopFigures::new(SHOP_GAUGES),
            history: Mutex::new(History::default()),
            sampler: Mutex::new(Sampler::default()),
            data_dir,
        }
    }

    /// Nothing configured, no history (tests and early start-up).
    pub fn disabled() -> Self {
        Self::new(Poller::disabled(), PathBuf::from("."))
    }

    /// Appends the snapshot-rendered series (poller, shop figures) to `out`.
    pub fn render(&self, out: &mut String) {
        self.poller.render(out);
        self.shop.render(out);
    }

    /// Reads the persisted history back (at start). Returns the points loaded.
    pub async fn load_history(&self, db: &Db) -> Result<usize, String> {
        let rows = db
            .read(metrics_history::load)
            .await
            .map_err(|e| format!("metrics history: {e}"))?;
        let mut h = lock(&self.history);
        let n = rows.len();
        for (series, tier, ts, v) in rows {
            if let Some(tier) = Tier::from_secs(tier) {
                h.restore(&series, tier, crate::telemetry::history::Point { ts, v });
            }
        }
        Ok(n)
    }

    /// One sampling step: read the figures, add them to the history, save the new
    /// points and prune old ones.
    pub async fn sample_once(&self, db: &Db, metrics: &Metrics) -> Result<(), String> {
        let now = unix_now();
        let exposition = metrics.render();
        let process = metrics_process::collector::collect();
        let disk_free = crate::health::disk_free_bytes(&self.data_dir).ok();
        let poll = self.poller.snapshot();
        let figures = lock(&self.sampler).sample(&Inputs {
            now,
            exposition: &exposition,
            poll: &poll,
            shop: self.shop.values(),
            disk_free,
            rss: process.resident_memory_bytes,
            cpu_seconds: process.cpu_seconds_total,
        });
        let pending = {
            let mut h = lock(&self.history);
            for (key, v) in &figures {
                h.record(now as i64, key, *v);
            }
            h.take_pending()
        };
        let rows: Vec<metrics_history::Row> = pending
            .into_iter()
            .map(|p| (p.key, p.tier.secs(), p.point.ts, p.point.v))
            .collect();
        let now = now as i64;
        let keep = [
            (MINUTE, now - MINUTE * MINUTE_POINTS as i64),
            (QUARTER, now - QUARTER * QUARTER_POINTS as i64),
        ];
        db.write(move |c| metrics_history::save(c, &rows, &keep))
            .await
            .map_err(|e| format!("metrics history: {e}"))
    }

    /// Runs `f` with the history (the UI reads it under the lock, briefly).
    pub fn with_history<R>(&self, f: impl FnOnce(&History) -> R) -> R {
        f(&lock(&self.history))
    }
}

impl Monitor {
    /// One poll, and its figures into the current minute of the history (so the
    /// UI shows a fresh poll at once; the minute job saves them).
    pub async fn poll_once(&self) -> Result<(), String> {
        let result = self.poller.run_once().await;
        let mut figures = Vec::new();
        crate::telemetry::sampler::poll_figures(&mut figures, &self.poller.snapshot());
        let now = unix_now() as i64;
        let mut h = lock(&self.history);
        for (key, v) in figures {
            h.record(now, &key, v);
        }
        result
    }
}
