//! Which backups to keep: the newest `last`, plus the newest backup of each of
//! the newest `daily` days, `weekly` ISO weeks and `monthly` months that have one
//! (UTC). The newest backup is always kept, and only files named like souk
//! backups are ever considered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};

use super::files::{self, BackupFile};
use super::{BackupError, Result};

/// Retention counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keep {
    /// Newest N.
    pub last: usize,
    /// Newest per day, for N days.
    pub daily: usize,
    /// Newest per ISO week, for N weeks.
    pub weekly: usize,
    /// Newest per month, for N months.
    pub monthly: usize,
}

/// The backups (newest first) that `keep` would delete.
pub fn to_delete(backups: &[BackupFile], keep: Keep) -> Vec<BackupFile> {
    let mut kept: HashSet<usize> = HashSet::new();
    kept.insert(0); // the newest, always
    kept.extend(0..keep.last.min(backups.len()));
    let mut by_period = |n: usize, period: &dyn Fn(DateTime<Utc>) -> (i32, u32)| {
        let mut seen = Vec::new();
        for (i, b) in backups.iter().enumerate() {
            if seen.len() >= n {
                break;
            }
            let p = period(b.time);
            if !seen.contains(&p) {
                seen.push(p);
                kept.insert(i);
            }
        }
    };
    by_period(keep.daily, &|t| (t.year(), t.ordinal()));
    by_period(keep.weekly, &|t| (t.iso_week().year(), t.iso_week().week()));
    by_period(keep.monthly, &|t| (t.year(), t.month()));
    backups
        .iter()
        .enumerate()
        .filter(|(i, _)| !kept.contains(i))
        .map(|(_, b)| b.clone())
        .collect()
}

/// Deletes what retention does not keep in `dir`; `just_made` is never deleted.
/// Each deletion is logged.
pub fn prune(dir: &Path, keep: Keep, just_made: &Path) -> Result<Vec<PathBuf>> {
    let backups = files::list(dir)
        .map_err(|e| BackupError::io(format!("cannot list {}", dir.display()), dir, e))?;
    let mut deleted = Vec::new();
    for b in to_delete(&backups, keep) {
        if b.path == just_made {
            continue;
        }
        match std::fs::remove_file(&b.path) {
            Ok(()) => {
                tracing::info!(file = %b.path.display(), "backup deleted by retention");
                metrics::counter!("souk_backup_pruned_total").increment(1);
                deleted.push(b.path);
            }
            Err(e) => {
                tracing::warn!(file = %b.path.display(), error = %e, "retention cannot delete backup");
            }
        }
    }
    if !deleted.is_empty() {
        let _ = files::fsync_dir(dir);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn series(times: &[DateTime<Utc>]) -> Vec<BackupFile> {
        let mut v: Vec<BackupFile> = times
            .iter()
            .map(|t| BackupFile {
                path: PathBuf::from(files::name_for(*t)),
                time: *t,
                size: 1,
            })
            .collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.time));
        v
    }

    fn kept(backups: &[BackupFile], keep: Keep) -> Vec<DateTime<Utc>> {
        let gone = to_delete(backups, keep);
        backups
            .iter()
            .filter(|b| !gone.contains(b))
            .map(|b| b.time)
            .collect()
    }

    #[test]
    fn newest_survives_even_with_everything_zero() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 3, 17, 0).unwrap();
        let b = series(&[t0, t0 - Duration::days(1), t0 - Duration::days(2)]);
        let none = Keep {
            last: 0,
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        assert_eq!(kept(&b, none), vec![t0]);
    }

    #[test]
    fn generations_keep_one_per_period() {
        // Two backups a day for 120 days, newest 2026-05-01 (a Friday).
        let newest = Utc.with_ymd_and_hms(2026, 5, 1, 15, 0, 0).unwrap();
        let times: Vec<_> = (0..240).map(|i| newest - Duration::hours(12 * i)).collect();
        let b = series(&times);
        let keep = Keep {
            last: 3,
            daily: 5,
            weekly: 3,
            monthly: 4,
        };
        let k = kept(&b, keep);
        // last 3: 05-01 15h, 05-01 03h, 04-30 15h. daily 5: newest of 05-01..04-27.
        // weekly 3: newest of the week of 05-01 (already), 04-26 (Sun), 04-19 (Sun).
        // monthly 4: 05-01, 04-30 15h (already), 03-31 15h, 02-28 15h.
        let d = |m, day, h| Utc.with_ymd_and_hms(2026, m, day, h, 0, 0).unwrap();
        let mut want = vec![
            d(5, 1, 15),
            d(5, 1, 3),
            d(4, 30, 15),
            d(4, 29, 15),
            d(4, 28, 15),
            d(4, 27, 15),
            d(4, 26, 15),
            d(4, 19, 15),
            d(3, 31, 15),
            d(2, 28, 15),
        ];
        want.sort_by(|a, b| b.cmp(a));
        assert_eq!(k, want);
    }

    #[test]
    fn prune_touches_only_souk_backups() {
        let d = tempfile::tempdir().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 3, 17, 0).unwrap();
        for i in 0..5 {
            std::fs::write(d.path().join(files::name_for(t0 - Duration::days(i))), "x").unwrap();
        }
        for other in [
            "notes.txt",
            "souk-old.tar.zst.age",
            "souk-20200101T000000Z.tar.zst",
        ] {
            std::fs::write(d.path().join(other), "keep me").unwrap();
        }
        let keep = Keep {
            last: 2,
            daily: 0,
            weekly: 0,
            monthly: 0,
        };
        let newest = d.path().join(files::name_for(t0));
        let gone = prune(d.path(), keep, &newest).unwrap();
        assert_eq!(gone.len(), 3);
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "souk-20200101T000000Z.tar.zst",
                "souk-20260228T031700Z.tar.zst.age",
                "souk-20260301T031700Z.tar.zst.age",
                "souk-old.tar.zst.age",
            ]
        );
    }
}
