//! Locks in the data dir, held with flock(2) so they vanish when the holder dies:
//! `backup.lock` (never two backups at once: the scheduled job, SIGUSR1 and
//! `souk backup now` in another process) and `serve.lock` (restore refuses to
//! replace the database under a running souk).

use std::fs::File;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use super::{BackupError, Result, files};

/// Held while a backup runs.
#[derive(Debug)]
pub struct BackupLock {
    _file: File,
}

impl BackupLock {
    /// Takes the lock or says who holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join("backup.lock");
        let file = open(&path, data_dir)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Self { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(BackupError::Busy(path)),
            Err(e) => Err(BackupError::io(
                format!("cannot lock {}", path.display()),
                &path,
                e.into(),
            )),
        }
    }
}

/// Held by `souk serve` for its whole life.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

impl ServeLock {
    /// Takes the lock; fails when another souk serves from the same data dir.
    pub fn acquire(data_dir: &Path) -> std::result::Result<Self, String> {
        let path = data_dir.join("serve.lock");
        let file = open(&path, data_dir).map_err(|e| e.to_string())?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Self { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(format!(
                "another souk is already serving from {}: stop it, or give this one another data_dir",
                data_dir.display()
            )),
            Err(e) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    /// Whether a souk serves from `data_dir` right now.
    pub fn held(data_dir: &Path) -> bool {
        let path: PathBuf = data_dir.join("serve.lock");
        let Ok(file) = File::open(&path) else {
            return false;
        };
        flock(&file, FlockOperation::NonBlockingLockShared) == Err(rustix::io::Errno::WOULDBLOCK)
    }
}

/// Opens (creating) a lock file. Read-only is enough for flock, so a lock file
/// created by root (`souk backup now`) still works for the service user.
fn open(path: &Path, data_dir: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(_) => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(path)
                .map_err(|e| {
                    BackupError::io(format!("cannot create {}", path.display()), path, e)
                })?;
            let _ = files::adopt_owner(path, data_dir);
            f
        }
    };
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_backup_lock_is_refused_until_the_first_is_dropped() {
        let d = tempfile::tempdir().unwrap();
        let first = BackupLock::acquire(d.path()).unwrap();
        let e = BackupLock::acquire(d.path()).unwrap_err();
        assert!(e.to_string().contains("another backup is running"), "{e}");
        drop(first);
        BackupLock::acquire(d.path()).unwrap();
    }

    #[test]
    fn serve_lock_is_seen() {
        let d = tempfile::tempdir().unwrap();
        assert!(!ServeLock::held(d.path()));
        let held = ServeLock::acquire(d.path()).unwrap();
        assert!(ServeLock::held(d.path()));
        assert!(ServeLock::acquire(d.path()).is_err());
        drop(held);
        assert!(!ServeLock::held(d.path()));
    }
}
