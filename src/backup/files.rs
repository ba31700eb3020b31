//! Backup file names (`souk-20260105T031700Z.tar.zst.age`), listing the backup
//! dir, and the small file-system steps every writer here needs (fsync, owner).

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

const PREFIX: &str = "souk-";
const SUFFIX: &str = ".tar.zst.age";
const STAMP: &str = "%Y%m%dT%H%M%SZ";
/// Temp files of an unfinished backup start with this (removed under the lock).
pub const PARTIAL_PREFIX: &str = ".souk-partial-";

/// A finished backup in the backup dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFile {
    /// Full path.
    pub path: PathBuf,
    /// When it was made (from the name).
    pub time: DateTime<Utc>,
    /// Bytes on disk.
    pub size: u64,
}

/// The file name for a backup made at `time`.
pub fn name_for(time: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", time.format(STAMP))
}

/// The time in a backup's file name; None for anything souk did not name.
pub fn parse_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP)
        .ok()
        .map(|t| t.and_utc())
        .filter(|t| name_for(*t) == name)
}

/// Finished backups in `dir`, newest first. Only regular files named like souk's
/// own are listed; everything else in the directory is ignored.
pub fn list(dir: &Path) -> io::Result<Vec<BackupFile>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(time) = entry.file_name().to_str().and_then(parse_name) else {
            continue;
        };
        let meta = entry.metadata()?; // does not follow symlinks
        if meta.file_type().is_file() {
            out.push(BackupFile {
                path: entry.path(),
                time,
                size: meta.len(),
            });
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.time));
    Ok(out)
}

/// Makes a rename or a new file in `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// When running as root (the operator's `souk backup now` or `souk restore`),
/// hands `path` to the owner of `like` (the data dir), so the service user can
/// still open, rotate and delete it.
pub fn adopt_owner(path: &Path, like: &Path) -> io::Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let owner = std::fs::metadata(like)?;
    let current = std::fs::symlink_metadata(path)?;
    if (current.uid(), current.gid()) != (owner.uid(), owner.gid()) {
        std::os::unix::fs::lchown(path, Some(owner.uid()), Some(owner.gid()))?;
    }
    Ok(())
}

/// Human-readable size.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Human-readable age, coarse.
pub fn human_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 3, 17, 0).unwrap();
        assert_eq!(name_for(t), "souk-20260105T031700Z.tar.zst.age");
        assert_eq!(parse_name(&name_for(t)), Some(t));
        for stranger in [
            "souk-20260105T031700Z.tar.zst.age.partial",
            "souk-20260105T031700Z.tar.zst",
            "notes.txt",
            "souk-2026-01-05.tar.zst.age",
            "souk-20261305T031700Z.tar.zst.age",
            ".souk-partial-1.tmp",
        ] {
            assert_eq!(parse_name(stranger), None, "{stranger}");
        }
    }

    #[test]
    fn list_sees_only_backup_files_newest_first() {
        let d = tempfile::tempdir().unwrap();
        for n in [
            "souk-20260101T000000Z.tar.zst.age",
            "souk-20260301T000000Z.tar.zst.age",
            "other.age",
        ] {
            std::fs::write(d.path().join(n), "x").unwrap();
        }
        std::fs::create_dir(d.path().join("souk-20260401T000000Z.tar.zst.age")).unwrap();
        let names: Vec<String> = list(d.path())
            .unwrap()
            .iter()
            .map(|b| b.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "souk-20260301T000000Z.tar.zst.age",
                "souk-20260101T000000Z.tar.zst.age"
            ]
        );
    }
}
