//! Numbered migrations from `migrations/`, embedded in the binary, applied at start
//! one transaction each. A database newer than this binary is refused.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::StoreError;

/// Every migration in order; the schema version is its position (1-based).
/// Shipped files are never edited: a change is a new file.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_meta.sql"),
    include_str!("../../migrations/0002_market.sql"),
    include_str!("../../migrations/0003_social.sql"),
    include_str!("../../migrations/0004_metrics_history.sql"),
    include_str!("../../migrations/0005_moderation.sql"),
    include_str!("../../migrations/0006_indexes.sql"),
    include_str!("../../migrations/0007_escrow.sql"),
    include_str!("../../migrations/0008_payflow_addresses.sql"),
    include_str!("../../migrations/0009_multisig_setup.sql"),
    include_str!("../../migrations/0010_multisig_payouts.sql"),
];

/// The schema version this binary writes.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}

fn migrations(sql: &'static [&'static str]) -> Migrations<'static> {
    Migrations::new(sql.iter().map(|s| M::up(s)).collect())
}

/// The database's schema version (SQLite `user_version`).
pub fn current_version(conn: &Connection) -> Result<usize, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// Brings the schema up to date; returns (from, to).
pub fn apply(conn: &mut Connection) -> Result<(usize, usize), StoreError> {
    apply_list(conn, MIGRATIONS)
}

fn apply_list(
    conn: &mut Connection,
    list: &'static [&'static str],
) -> Result<(usize, usize), StoreError> {
    let from = current_version(conn)?;
    let latest = list.len();
    if from > latest {
        return Err(StoreError::TooNew {
            found: from,
            known: latest,
        });
    }
    let m = migrations(list);
    for target in from + 1..=latest {
        // to_version applies exactly one step in its own transaction here, so a
        // failure leaves the database at the last good version.
        m.to_version(conn, target)
            .map_err(|e| StoreError::Migration {
                version: target,
                reason: e.to_string(),
            })?;
    }
    Ok((from, latest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn applies_to_latest_and_is_idempotent() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), (0, latest_version()));
        assert_eq!(
            apply(&mut conn).unwrap(),
            (latest_version(), latest_version())
        );
    }

    #[test]
    fn newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 99; CREATE TABLE x (a)")
            .unwrap();
        let err = apply(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
        assert_eq!(current_version(&conn).unwrap(), 99);
    }

    #[test]
    fn failed_migration_leaves_the_database_as_it_was() {
        static LIST: &[&str] = &[
            "CREATE TABLE a (x INTEGER);",
            "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1); THIS IS NOT SQL;",
        ];
        let mut conn = Connection::open_in_memory().unwrap();
        let err = apply_list(&mut conn, LIST).unwrap_err();
        assert!(
            matches!(err, StoreError::Migration { version: 2, .. }),
            "{err}"
        );
        assert_eq!(
            current_version(&conn).unwrap(),
            1,
            "stays at the last good version"
        );
        let b_exists: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(b_exists, 0, "half of migration 2 was rolled back");
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }
}
