//! SQLite storage. One writer connection and a few query-only readers, all used
//! on tokio's blocking pool so database work never stalls the async runtime.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod catalogue;
pub mod disputes;
pub mod escrow;
pub mod listings;
pub mod messages;
pub mod metrics_history;
pub mod migrate;
pub mod multisig;
pub mod notifications;
pub mod orders;
pub mod reports;
pub mod reviews;
pub mod sessions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file was written by a newer souk.
    #[error(
        "database schema version {found} is newer than this souk knows ({known}): upgrade souk, or restore a backup made by this version"
    )]
    TooNew {
        /// Version found in the file.
        found: usize,
        /// Latest version this binary knows.
        known: usize,
    },
    /// A migration failed and was rolled back.
    #[error("migration {version} failed and was rolled back, the database is unchanged: {reason}")]
    Migration {
        /// The migration that failed.
        version: usize,
        /// SQLite's reason.
        reason: String,
    },
    /// The database could not be opened.
    #[error("database {path} cannot be opened: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A blocking task died (panic) or the runtime is shutting down.
    #[error("database task did not complete: {0}")]
    Task(String),
}

/// How many query-only connections serve reads.
const READERS: usize = 4;
/// How long a statement waits for a lock held by another connection or process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A cloneable handle to the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
    /// Bumped after every write through this handle (caches compare it).
    generation: std::sync::atomic::AtomicU64,
}

impl Db {
    /// Opens (creating with mode 0600 if needed) and migrates the database.
    /// Blocking: call at start-up or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<(Self, (usize, usize)), StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| open_err(&e))?;
        }
        let mut writer = Connection::open(path).map_err(|e| open_err(&e))?;
        // Refuse a newer schema before touching anything: even switching the
        // journal mode rewrites the file header.
        let found = migrate::current_version(&writer)?;
        if found > migrate::latest_version() {
            return Err(StoreError::TooNew {
                found,
                known: migrate::latest_version(),
            });
        }
        configure(&writer, false)?;
        let versions = migrate::apply(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c, true)?;
                Ok(c)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((
            Self {
                inner: Arc::new(Inner {
                    path: path.to_path_buf(),
                    writer: Mutex::new(writer),
                    readers: Mutex::new(readers),
                    reader_slots: Semaphore::new(READERS),
                    generation: std::sync::atomic::AtomicU64::new(0),
                }),
            },
            versions,
        ))
    }

    /// Runs `f` on a query-only connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = lock(&inner.readers)
                .pop()
                .expect("a permit guarantees a reader");
            let result = f(&conn);
            lock(&inner.readers).push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` on the single writer connection.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let result = f(&mut lock(&inner.writer));
            // Whether it committed or not: a cache may only be too cautious.
            inner
                .generation
                .fetch_add(1, std::sync::atomic::Ordering::Release);
            result
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// A number that changes after every write through this handle (writes by
    /// other processes are not seen: caches keyed on it also expire by age).
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Readiness: the file is still there and a write lock can be had quickly
    /// (another process holding the database locked makes the shop unready).
    pub async fn check_ready(&self) -> Result<(), String> {
        if !self.inner.path.exists() {
            return Err("database file is missing".to_owned());
        }
        self.read(|c| Ok(c.query_row("SELECT count(*) FROM meta", [], |r| r.get::<_, i64>(0))?))
            .await
            .map_err(|e| format!("database cannot be read: {e}"))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = lock(&inner.writer);
            conn.busy_timeout(Duration::from_millis(250))
                .map_err(|e| e.to_string())?;
            let probe = conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;");
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
            probe.map_err(|e| match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    "database is locked by another process".to_owned()
                }
                _ => format!("database cannot be written: {e}"),
            })
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// The schema version of an existing database file, read without changing it;
    /// None when there is no file yet.
    pub fn inspect(path: &Path) -> Result<Option<usize>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        Ok(Some(migrate::current_version(&conn)?))
    }

    /// Folds the WAL into the main file; called once at shutdown.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.write(|c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;")?;
            Ok(())
        })
        .await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a connection leaves it usable: SQLite rolls back.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection, query_only: bool) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    if query_only {
        conn.pragma_update(None, "query_only", "ON")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_with_the_expected_pragmas_and_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("souk.db");
        let (db, (from, to)) = Db::open(&path).unwrap();
        assert_eq!((from, to), (0, migrate::latest_version()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (journal, fk, sync): (String, i64, i64) = db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT journal_mode FROM pragma_journal_mode), (SELECT foreign_keys FROM pragma_foreign_keys), (SELECT synchronous FROM pragma_synchronous)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .await
            .unwrap();
        assert_eq!((journal.as_str(), fk, sync), ("wal", 1, 2));
        let refused = db
            .read(|c| Ok(c.execute("INSERT INTO meta VALUES ('x','y')", [])?))
            .await;
        assert!(refused.is_err(), "readers are query-only");
        db.write(|c| Ok(c.execute("INSERT INTO meta VALUES ('x','y')", [])?))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn readiness_sees_a_foreign_lock_and_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("souk.db");
        let (db, _) = Db::open(&path).unwrap();
        assert_eq!(db.check_ready().await, Ok(()));
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let e = db.check_ready().await.unwrap_err();
        assert!(e.contains("locked"), "{e}");
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(db.check_ready().await, Ok(()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            db.check_ready().await.unwrap_err(),
            "database file is missing"
        );
    }
}
