//! Log retention by count, total size and age. tracing-appender only rotates by
//! time, so souk deletes the oldest rotated files itself. Only files named like
//! souk's own (`souk.YYYY-MM-DD[-HH].log`) are ever touched, and the newest one,
//! the file being written, is always kept.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::logging::{FILE_PREFIX, FILE_SUFFIX};
use crate::config::Config;

/// Limits for the log dir.
#[derive(Debug, Clone)]
pub struct Retention {
    /// The log dir.
    pub dir: PathBuf,
    /// At most this many files.
    pub keep_files: usize,
    /// At most this many bytes in all.
    pub max_total_bytes: u64,
    /// Files last written longer ago than this go.
    pub max_age: Duration,
}

/// What one retention pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// File names deleted, oldest first.
    pub deleted: Vec<String>,
    /// Files left.
    pub kept: usize,
    /// Bytes left.
    pub kept_bytes: u64,
}

impl Retention {
    /// Limits from the config.
    pub fn from_config(config: &Config) -> Self {
        Self {
            dir: config.log_dir(),
            keep_files: config.log.keep_files.max(1),
            max_total_bytes: config.log.max_total_mb.saturating_mul(1024 * 1024),
            max_age: Duration::from_secs(config.log.max_age_days.saturating_mul(86_400)),
        }
    }

    /// Deletes what is over any limit, oldest first.
    pub fn apply(&self, now: SystemTime) -> std::io::Result<Pass> {
        let mut files = own_log_files(&self.dir)?;
        // Names sort chronologically: souk.2026-11-25.log < souk.2026-11-25-13.log.
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut total: u64 = files.iter().map(|f| f.len).sum();
        let mut count = files.len();
        let mut pass = Pass::default();
        let newest = files.len().saturating_sub(1);
        for (i, f) in files.iter().enumerate() {
            if i == newest {
                break;
            }
            let too_old = now
                .duration_since(f.modified)
                .map(|age| age > self.max_age)
                .unwrap_or(false);
            if count > self.keep_files || total > self.max_total_bytes || too_old {
                match std::fs::remove_file(self.dir.join(&f.name)) {
                    Ok(()) => {
                        tracing::info!(file = %f.name, bytes = f.len, "log retention deleted file");
                        pass.deleted.push(f.name.clone());
                        count -= 1;
                        total -= f.len;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        count -= 1;
                        total -= f.len;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        pass.kept = count;
        pass.kept_bytes = total;
        metrics::gauge!("souk_log_files").set(count as f64);
        metrics::gauge!("souk_log_dir_bytes").set(total as f64);
        metrics::counter!("souk_log_files_deleted_total").increment(pass.deleted.len() as u64);
        Ok(pass)
    }
}

struct LogFile {
    name: String,
    len: u64,
    modified: SystemTime,
}

fn own_log_files(dir: &Path) -> std::io::Result<Vec<LogFile>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_own_log_name(&name) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        out.push(LogFile {
            name,
            len: meta.len(),
            modified: meta.modified()?,
        });
    }
    Ok(out)
}

/// `souk.2026-11-25.log` (daily) or `souk.2026-11-25-13.log` (hourly).
fn is_own_log_name(name: &str) -> bool {
    let Some(middle) = name
        .strip_prefix(FILE_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_suffix(FILE_SUFFIX))
        .and_then(|r| r.strip_suffix('.'))
    else {
        return false;
    };
    let shape_ok = |s: &str, pattern: &str| {
        s.len() == pattern.len()
            && s.bytes().zip(pattern.bytes()).all(|(c, p)| {
                if p == b'9' {
                    c.is_ascii_digit()
                } else {
                    c == p
                }
            })
    };
    shape_ok(middle, "9999-99-99") || shape_ok(middle, "9999-99-99-99")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn write(dir: &Path, name: &str, bytes: usize, age_days: u64) {
        let path = dir.join(name);
        std::fs::write(&path, vec![b'x'; bytes]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_days * 86_400);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn limits(dir: &Path) -> Retention {
        Retention {
            dir: dir.to_path_buf(),
            keep_files: 100,
            max_total_bytes: u64::MAX,
            max_age: Duration::from_secs(365 * 86_400),
        }
    }

    #[test]
    fn recognises_only_own_names() {
        assert!(is_own_log_name("souk.2026-11-25.log"));
        assert!(is_own_log_name("souk.2026-11-25-07.log"));
        assert!(!is_own_log_name("souk.log"));
        assert!(!is_own_log_name("other.2026-11-25.log"));
        assert!(!is_own_log_name("souk.2026-11-25.log.gz"));
        assert!(!is_own_log_name("souk.2026-1a-25.log"));
    }

    #[test]
    fn keeps_at_most_n_files_newest_first() {
        let t = tempfile::tempdir().unwrap();
        for d in 1..=5 {
            write(t.path(), &format!("souk.2026-11-0{d}.log"), 10, 0);
        }
        write(t.path(), "notes.txt", 10, 400);
        let pass = Retention {
            keep_files: 2,
            ..limits(t.path())
        }
        .apply(SystemTime::now())
        .unwrap();
        assert_eq!(pass.deleted.len(), 3);
        assert_eq!(
            names(t.path()),
            vec!["notes.txt", "souk.2026-11-04.log", "souk.2026-11-05.log"]
        );
    }

    #[test]
    fn total_size_limit_deletes_oldest_until_under() {
        let t = tempfile::tempdir().unwrap();
        for h in 10..14 {
            write(t.path(), &format!("souk.2026-11-25-{h}.log"), 1000, 0);
        }
        let pass = Retention {
            max_total_bytes: 2500,
            ..limits(t.path())
        }
        .apply(SystemTime::now())
        .unwrap();
        assert_eq!(pass.kept_bytes, 2000);
        assert_eq!(
            names(t.path()),
            vec!["souk.2026-11-25-12.log", "souk.2026-11-25-13.log"]
        );
    }

    #[test]
    fn old_files_go_but_the_current_file_never() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "souk.2026-10-01.log", 10, 40);
        write(t.path(), "souk.2026-10-02.log", 10, 39);
        write(t.path(), "souk.2026-11-20.log", 10, 5);
        write(t.path(), "souk.2026-11-25.log", 10, 31);
        let pass = Retention {
            max_age: Duration::from_secs(30 * 86_400),
            ..limits(t.path())
        }
        .apply(SystemTime::now())
        .unwrap();
        assert_eq!(
            pass.deleted,
            vec!["souk.2026-10-01.log", "souk.2026-10-02.log"]
        );
        assert_eq!(
            names(t.path()),
            vec!["souk.2026-11-20.log", "souk.2026-11-25.log"]
        );
        let one = Retention {
            keep_files: 1,
            max_total_bytes: 1,
            ..limits(t.path())
        }
        .apply(SystemTime::now())
        .unwrap();
        assert_eq!(
            one.kept, 1,
            "the newest file stays even over the size limit"
        );
    }
}
