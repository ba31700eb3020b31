//! A consistent copy of the live database while the shop keeps serving: SQLite's
//! online backup API on a connection of its own, copying every page in one step,
//! i.e. inside one read transaction. In WAL mode that read transaction never
//! blocks the writer, and the copy is the database as of one commit.

use std::path::Path;
use std::time::Duration;

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
