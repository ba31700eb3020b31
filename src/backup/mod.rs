//! Encrypted backups: a consistent SQLite snapshot, wallet files and (optionally)
//! the config, streamed as tar -> zstd -> age into `souk-<UTC time>.tar.zst.age`,
//! plus retention, verify and restore. Everything here is blocking code meant
//! for `spawn_blocking` or the CLI; `job` wires it into `serve`.

mod archive;
pub mod cli;
mod files;
mod job;
mod lock;
mod manifest;
mod progress;
mod restore;
mod retention;
mod run;
mod snapshot;

use std::path::PathBuf;

pub use job::{describe_metrics, readiness, start_jobs};
pub use lock::ServeLock;

/// Errors of the backup layer; each displays as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// `[backup] recipients` is empty.
    #[error(
        "backups are not configured: set [backup] recipients to your age public key (age1... from age-keygen)"
    )]
    NotConfigured,
    /// Another backup holds the lock.
    #[error("another backup is running (it holds {0}): wait for it to finish, then try again")]
    Busy(PathBuf),
    /// `serve` holds the data dir.
    #[error("souk is running on {0} (it holds serve.lock): stop it first (systemctl stop souk)")]
    Serving(PathBuf),
    /// Nothing to back up.
    #[error("no database at {0}: nothing to back up (is --data-dir the one souk serves from?)")]
    NoDatabase(PathBuf),
    /// The file system is full.
    #[error("{0}: no space left on the device: free space or point backup.dir elsewhere")]
    DiskFull(PathBuf),
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// SQLite refused (snapshot, integrity check).
    #[error("database: {0}")]
    Database(String),
    /// The identity file cannot be used.
    #[error("{0}")]
    Identity(String),
    /// The backup file is incomplete.
    #[error(
        "{0} is truncated: it ends before the encrypted stream does (an interrupted copy or write, or its last block is damaged); fetch the complete file again"
    )]
    Truncated(PathBuf),
    /// The backup file was altered.
    #[error(
        "{path} is corrupted: encrypted data near byte {offset} fails authentication (damaged on disk or in transfer); use another copy"
    )]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// Roughly where.
        offset: u64,
    },
    /// The identity does not match any recipient.
    #[error(
        "{backup} was not encrypted to the identity in {identity} (wrong key): use the identity whose public key is in backup.recipients"
    )]
    WrongKey {
        /// The backup.
        backup: PathBuf,
        /// The identity file.
        identity: PathBuf,
    },
    /// Not something souk wrote.
    #[error("{path} is not a souk backup: {reason}")]
    NotABackup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The restore target already holds data.
    #[error(
        "{dir} is not empty (it holds {entries}): restore into an empty data dir, or add --force to move the current data aside"
    )]
    TargetNotEmpty {
        /// The data dir.
        dir: PathBuf,
        /// A few names found there.
        entries: String,
    },
    /// Anything else, already phrased as one line.
    #[error("{0}")]
    Other(String),
}

impl BackupError {
    /// An I/O error in context; ENOSPC becomes [`BackupError::DiskFull`].
    pub fn io(what: impl Into<String>, path: &std::path::Path, source: std::io::Error) -> Self {
        if source.raw_os_error() == Some(28) || source.kind() == std::io::ErrorKind::StorageFull {
            return Self::DiskFull(path.to_path_buf());
        }
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// One result type for the layer.
pub type Result<T, E = BackupError> = std::result::Result<T, E>;
