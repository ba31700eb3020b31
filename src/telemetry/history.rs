//! Bounded in-process history of the figures the metrics UI draws: one point a
//! minute for 24 hours and one per 15 minutes for 7 days, per series. Values are
//! integers in a fixed unit per series (piconero stay exact; rates are stored in
//! thousandths, durations in microseconds), so the same numbers go to SQLite.

use std::collections::{BTreeMap, VecDeque};

/// Resolution and span of the fine tier.
pub const MINUTE: i64 = 60;
/// Points kept in the fine tier (24 h).
pub const MINUTE_POINTS: usize = 24 * 60;
/// Resolution of the coarse tier.
pub const QUARTER: i64 = 15 * 60;
/// Points kept in the coarse tier (7 days).
pub const QUARTER_POINTS: usize = 7 * 24 * 4;
/// At most this many series are kept (routes are bounded by templates anyway).
pub const MAX_SERIES: usize = 256;

/// What a stored integer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count (blocks, peers, transactions, orders).
    Count,
    /// Events per second, stored in thousandths.
    MilliPerSecond,
    /// A duration, stored in microseconds.
    Micros,
    /// Bytes.
    Bytes,
    /// Monero's atomic unit.
    Piconero,
    /// A fraction, stored in millionths (CPU share, availability).
    Ppm,
    /// A Unix time in seconds.
    UnixTime,
}

/// How the 15-minute tier folds 15 one-minute points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Average (rates, shares).
    Mean,
    /// The latest (levels: height, balances, free space).
    Last,
    /// The worst (latency percentiles).
    Max,
}

/// How a series is kept and shown, derived from its key's prefix.
pub fn spec(key: &str) -> (Unit, Fold) {
    let family = key.split(':').next().unwrap_or(key);
    match family {
        "http.rate" | "http.errors" | "route.rate" | "route.errors" => {
            (Unit::MilliPerSecond, Fold::Mean)
        }
        "http.p50" | "http.p95" | "http.p99" | "route.p50" | "route.p95" | "route.p99" => {
            (Unit::Micros, Fold::Max)
        }
        "daemon.up" | "wallet.up" | "sys.cpu" => (Unit::Ppm, Fold::Mean),
        "daemon.pool_bytes" | "daemon.free_space" | "sys.disk_free" | "sys.rss" => {
            (Unit::Bytes, Fold::Last)
        }
        "wallet.balance" | "wallet.unlocked" | "shop.souk_escrow_held_piconero" => {
            (Unit::Piconero, Fold::Last)
        }
        "backup.last_success" => (Unit::UnixTime, Fold::Last),
        "daemon.pool_txs" => (Unit::Count, Fold::Mean),
        _ => (Unit::Count, Fold::Last),
    }
}

/// One point: aligned Unix time and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Start of the minute (or quarter hour), Unix seconds.
    pub ts: i64,
    /// Value in the series' unit.
    pub v: i64,
}

/// Which tier a point belongs to (persisted as its resolution in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// One point a minute.
    Minute,
    /// One point per 15 minutes.
    Quarter,
}

impl Tier {
    /// Resolution in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Self::Minute => MINUTE,
            Self::Quarter => QUARTER,
        }
    }

    /// From a resolution in seconds.
    pub fn from_secs(s: i64) -> Option<Self> {
        match s {
            MINUTE => Some(Self::Minute),
            QUARTER => Some(Self::Quarter),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Series {
    minute: VecDeque<Point>,
    quarter: VecDeque<Point>,
}

/// A point written since the last [`History::take_pending`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Series key.
    pub key: String,
    /// Tier.
    pub tier: Tier,
    /// The point.
    pub point: Point,
}

/// The store.
#[derive(Debug, Default)]
pub struct History {
    series: BTreeMap<String, Series>,
    pending: Vec<Pending>,
}

fn push_or_replace(q: &mut VecDeque<Point>, p: Point, cap: usize, span: i64) {
    match q.back_mut() {
        Some(last) if last.ts == p.ts => last.v = p.v,
        Some(last) if last.ts > p.ts => return, // the clock went back: ignore
        _ => q.push_back(p),
    }
    while q.len() > cap || q.front().is_some_and(|f| f.ts <= p.ts - span) {
        q.pop_front();
    }
}

impl History {
    /// Records `v` for `key` at Unix time `now`; the minute tier keeps it and the
    /// quarter tier refolds its current bucket.
    pub fn record(&mut self, now: i64, key: &str, v: i64) {
        if !self.series.contains_key(key) && self.series.len() >= MAX_SERIES {
            return;
        }
        let (_, fold) = spec(key);
        let s = self.series.entry(key.to_owned()).or_default();
        let minute = Point {
            ts: now - now.rem_euclid(MINUTE),
            v,
        };
        push_or_replace(
            &mut s.minute,
            minute,
            MINUTE_POINTS,
            MINUTE * MINUTE_POINTS as i64,
        );
        let q_ts = now - now.rem_euclid(QUARTER);
        let in_bucket: Vec<i64> = s
            .minute
            .iter()
            .rev()
            .take_while(|p| p.ts >= q_ts)
            .map(|p| p.v)
            .collect();
        let folded = match fold {
            Fold::Last => v,
            Fold::Max => in_bucket.iter().copied().max().unwrap_or(v),
            Fold::Mean => {
                let sum: i128 = in_bucket.iter().map(|&x| x as i128).sum();
                (sum / in_bucket.len().max(1) as i128) as i64
            }
        };
        let quarter = Point {
            ts: q_ts,
            v: folded,
        };
        push_or_replace(
            &mut s.quarter,
            quarter,
            QUARTER_POINTS,
            QUARTER * QUARTER_POINTS as i64,
        );
        self.pending.push(Pending {
            key: key.to_owned(),
            tier: Tier::Minute,
            point: minute,
        });
        self.pending.push(Pending {
            key: key.to_owned(),
            tier: Tier::Quarter,
            point: quarter,
        });
    }

    /// Puts a persisted point back (at start); points must come in time order.
    pub fn restore(&mut self, key: &str, tier: Tier, point: Point) {
        if !self.series.contains_key(key) && self.series.len() >= MAX_SERIES {
            return;
        }
        let s = self.series.entry(key.to_owned()).or_default();
        match tier {
            Tier::Minute => push_or_replace(
                &mut s.minute,
                point,
                MINUTE_POINTS,
                MINUTE * MINUTE_POINTS as i64,
            ),
            Tier::Quarter => push_or_replace(
                &mut s.quarter,
                point,
                QUARTER_POINTS,
                QUARTER * QUARTER_POINTS as i64,
            ),
        }
    }

    /// Points of `key` from `since` (Unix seconds) on, from the tier given.
    pub fn points(&self, key: &str, tier: Tier, since: i64) -> Vec<Point> {
        let Some(s) = self.series.get(key) else {
            return Vec::new();
        };
        let q = match tier {
            Tier::Minute => &s.minute,
            Tier::Quarter => &s.quarter,
        };
        q.iter().filter(|p| p.ts >= since).copied().collect()
    }

    /// The newest minute point of `key`.
    pub fn latest(&self, key: &str) -> Option<Point> {
        self.series.get(key)?.minute.back().copied()
    }

    /// Keys starting with `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.series
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Points recorded since the last call, for persistence.
    pub fn take_pending(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.pending)
    }

    /// Stored points in total.
    #[cfg(test)]
    pub fn point_count(&self) -> usize {
        self.series
            .values()
            .map(|s| s.minute.len() + s.quarter.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_bounded_and_fold_by_series_kind() {
        let mut h = History::default();
        let t0 = 1_700_000_000 - 1_700_000_000 % QUARTER;
        // 8 days of minutes.
        for m in 0..(8 * 24 * 60) {
            let now = t0 + m * MINUTE + 7;
            h.record(now, "http.rate", m % 15);
            h.record(now, "daemon.height", m);
        }
        let last = t0 + (8 * 24 * 60 - 1) * MINUTE;
        let minutes = h.points("http.rate", Tier::Minute, 0);
        assert_eq!(minutes.len(), MINUTE_POINTS);
        assert_eq!(minutes.last().unwrap().ts, last);
        let quarters = h.points("http.rate", Tier::Quarter, 0);
        assert_eq!(quarters.len(), QUARTER_POINTS);
        assert!(quarters.iter().all(|p| p.v == 7), "mean of 0..=14");
        let heights = h.points("daemon.height", Tier::Quarter, 0);
        assert_eq!(
            heights.last().unwrap().v,
            8 * 24 * 60 - 1,
            "levels keep the last"
        );
        assert!(h.point_count() <= 2 * (MINUTE_POINTS + QUARTER_POINTS));
    }

    #[test]
    fn same_minute_replaces_and_pending_drains() {
        let mut h = History::default();
        h.record(120, "wallet.balance", 5);
        h.record(150, "wallet.balance", 35_184_372_088_832_000);
        assert_eq!(
            h.points("wallet.balance", Tier::Minute, 0),
            vec![Point {
                ts: 120,
                v: 35_184_372_088_832_000
            }]
        );
        assert_eq!(h.take_pending().len(), 4);
        assert!(h.take_pending().is_empty());
        assert_eq!(h.keys("wallet."), vec!["wallet.balance".to_owned()]);
    }
}
