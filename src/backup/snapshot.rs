//! A consistent view of the live database while the shop keeps serving.
//!
//! Fast path ([`freeze`]): with the writer lock held for a moment, a passive
//! checkpoint moves the whole WAL into the database file, and a second
//! connection starts a read transaction. With nothing left in the WAL, SQLite
//! serves that reader straight from the database file under WAL read-lock 0,
//! and no checkpoint may write into the file while any reader holds that lock
//! (wal.c: the checkpointer takes WAL_READ_LOCK(0) exclusively before
//! backfilling). So the file's first `page_count * page_size` bytes stay exactly
//! this snapshot until the reader ends, while writers go on appending to the
//! WAL, and they can be streamed into the archive with no copy on disk.
//!
//! Fallback ([`take`]): when the WAL cannot be emptied quickly (long readers),
//! SQLite's online backup API copies every page in one step, i.e. inside one
//! read transaction, into a scratch file.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{BackupError, Result};

/// What the snapshot holds.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// Schema version (`user_version`) of the copy.
    pub schema_version: usize,
    /// Bytes of the copy.
    pub bytes: u64,
}

/// A read transaction that keeps the live database file frozen (see the module
/// docs); drop it to let checkpoints run again.
pub struct Frozen {
    conn: Connection,
    /// Bytes of the snapshot at the start of the database file.
    pub bytes: u64,
    /// Schema version of the snapshot.
    pub schema_version: usize,
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("COMMIT");
    }
}

/// Tries the fast path for up to `limit`; Ok(None) when the WAL could not be
/// emptied in time (the caller falls back to [`take`]).
pub fn freeze(live: &Path, limit: Duration) -> Result<Option<Frozen>> {
    if !live.is_file() {
        return Err(BackupError::NoDatabase(live.to_path_buf()));
    }
    let db_err =
        |e: rusqlite::Error| BackupError::Database(format!("snapshot of {}: {e}", live.display()));
    let open = || -> Result<Connection> {
        let c = Connection::open_with_flags(
            live,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        c.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        c.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_err)?;
        Ok(c)
    };
    let (gate, reader) = (open()?, open()?);
    gate.busy_timeout(Duration::from_millis(200))
        .map_err(db_err)?;
    let mode: String = gate
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(db_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(None);
    }
    let deadline = Instant::now() + limit;
    loop {
        // No new frames while the gate holds the write lock (a few ms at most).
        // A busy writer may keep it from us: then fall back rather than wait.
        match gate.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                continue;
            }
            Err(e) => return Err(db_err(e)),
        }
        let checkpoint = reader.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        let emptied = match checkpoint {
            Ok((busy, log, done)) => busy == 0 && log == done,
            // Another connection is checkpointing right now (PASSIVE never waits).
            Err(e) if is_busy(&e) => false,
            Err(e) => {
                let _ = gate.execute_batch("ROLLBACK");
                return Err(db_err(e));
            }
        };
        if emptied {
            // WAL fully in the file: this read transaction takes read-lock 0.
            let begun = reader.execute_batch("BEGIN; SELECT count(*) FROM sqlite_schema;");
            gate.execute_batch("ROLLBACK").map_err(db_err)?;
            begun.map_err(db_err)?;
            let (pages, page_size, version): (i64, i64, i64) = reader
                .query_row(
                    "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size), (SELECT user_version FROM pragma_user_version)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(db_err)?;
            return Ok(Some(Frozen {
                conn: reader,
                bytes: (pages * page_size) as u64,
                schema_version: usize::try_from(version).unwrap_or(0),
            }));
        }
        gate.execute_batch("ROLLBACK").map_err(db_err)?;
        if Instant::now() >= deadline {
            return Ok(None);
        }
        // A reader still uses old frames: let it finish.
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Copies the database at `live` into a new file `dest` (mode 0600).
pub fn take(live: &Path, dest: &Path) -> Result<Snapshot> {
    if !live.is_file() {
        return Err(BackupError::NoDatabase(live.to_path_buf()));
    }
    let db_err = |e: rusqlite::Error| {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::DiskFull
        {
            return BackupError::DiskFull(dest.to_path_buf());
        }
        BackupError::Database(format!("snapshot of {}: {e}", live.display()))
    };
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(|e| BackupError::io(format!("cannot create {}", dest.display()), dest, e))?;
    }
    // Read-write open without CREATE: a read-only connection cannot recover a WAL
    // left by a crashed writer, and this one never writes to the live file.
    let source = Connection::open_with_flags(
        live,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db_err)?;
    source
        .busy_timeout(Duration::from_secs(30))
        .map_err(db_err)?;
    source
        .pragma_update(None, "query_only", "ON")
        .map_err(db_err)?;
    let mut target = Connection::open(dest).map_err(db_err)?;
    // The copy is a scratch file streamed into the archive right after: its own
    // durability does not matter, the archive is fsynced.
    target
        .execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        .map_err(db_err)?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target).map_err(db_err)?;
        loop {
            // -1: all pages in one step, i.e. one read transaction on the source.
            match backup.step(-1).map_err(db_err)? {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => continue,
                // Busy/Locked: another connection holds an exclusive lock briefly.
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    let schema_version: i64 = target
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db_err)?;
    drop(target);
    drop(source);
    let bytes = std::fs::metadata(dest)
        .map_err(|e| BackupError::io(format!("cannot read {}", dest.display()), dest, e))?
        .len();
    Ok(Snapshot {
        schema_version: usize::try_from(schema_version).unwrap_or(0),
        bytes,
    })
}

/// `PRAGMA integrity_check` plus a row count per table, for restore and verify.
pub fn check(db: &Path) -> Result<Vec<(String, u64)>> {
    let err = |e: rusqlite::Error| BackupError::Database(format!("{}: {e}", db.display()));
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let verdict: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    if verdict != ["ok"] {
        return Err(BackupError::Database(format!(
            "integrity check of the restored database failed: {}",
            verdict.join("; ")
        )));
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    tables
        .into_iter()
        .map(|t| {
            let n: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM \"{}\"", t.replace('"', "\"\"")),
                    [],
                    |r| r.get(0),
                )
                .map_err(err)?;
            Ok((t, n as u64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_file_prefix_stays_the_snapshot_while_writers_and_checkpoints_go_on() {
        let d = tempfile::tempdir().unwrap();
        let live = d.path().join("live.db");
        let w = Connection::open(&live).unwrap();
        w.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA user_version = 2; CREATE TABLE t (x);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO t SELECT randomblob(200) FROM n;",
        )
        .unwrap();
        let frozen = freeze(&live, Duration::from_secs(2))
            .unwrap()
            .expect("WAL emptied");
        assert_eq!(frozen.schema_version, 2);
        // Writers go on, and a checkpoint is attempted: the file must not change.
        let before = std::fs::read(&live).unwrap()[..frozen.bytes as usize].to_vec();
        w.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO t SELECT randomblob(200) FROM n; UPDATE t SET x = zeroblob(10);",
        )
        .unwrap();
        let _ = w.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        let after = std::fs::read(&live).unwrap();
        assert_eq!(
            &after[..frozen.bytes as usize],
            &before[..],
            "file prefix unchanged"
        );
        let copy = d.path().join("copy.db");
        std::fs::write(&copy, &before).unwrap();
        assert_eq!(check(&copy).unwrap(), vec![("t".to_owned(), 5000)]);
        drop(frozen);
        let (_, log, done): (i64, i64, i64) = w
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(log, done, "checkpoints run again once the reader is gone");
    }

    #[test]
    fn snapshot_copies_committed_rows_and_the_schema_version() {
        let d = tempfile::tempdir().unwrap();
        let live = d.path().join("live.db");
        let c = Connection::open(&live).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA user_version = 3; CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);",
        )
        .unwrap();
        let snap = take(&live, &d.path().join("snap.db")).unwrap();
        assert_eq!(snap.schema_version, 3);
        let counts = check(&d.path().join("snap.db")).unwrap();
        assert_eq!(counts, vec![("t".to_owned(), 2)]);
        let e = take(&d.path().join("none.db"), &d.path().join("s2.db")).unwrap_err();
        assert!(e.to_string().contains("no database at"), "{e}");
    }
}
