//! Rows of `metrics_history`: the metrics UI's series, saved once a minute and
//! read back at start.

use rusqlite::{Connection, params};

use super::StoreError;

/// One stored point: (series, resolution in seconds, aligned Unix time, value).
pub type Row = (String, i64, i64, i64);

/// Writes points (replacing a point of the same minute) and deletes rows older
/// than each tier keeps, in one transaction.
pub fn save(conn: &mut Connection, rows: &[Row], keep: &[(i64, i64)]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO metrics_history (series, tier, ts, value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (series, tier, ts) DO UPDATE SET value = excluded.value",
        )?;
        for (series, tier, ts, value) in rows {
            put.execute(params![series, tier, ts, value])?;
        }
        let mut prune =
            tx.prepare_cached("DELETE FROM metrics_history WHERE tier = ?1 AND ts < ?2")?;
        for (tier, oldest) in keep {
            prune.execute(params![tier, oldest])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Every stored point, oldest first within each series and tier.
pub fn load(conn: &Connection) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT series, tier, ts, value FROM metrics_history ORDER BY series, tier, ts")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<Vec<Row>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_replaces_prunes_and_loads() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrate::apply(&mut c).unwrap();
        let r = |s: &str, tier, ts, v| (s.to_owned(), tier, ts, v);
        save(
            &mut c,
            &[r("a", 60, 60, 1), r("a", 60, 120, 2), r("a", 900, 0, 1)],
            &[],
        )
        .unwrap();
        save(&mut c, &[r("a", 60, 120, 5)], &[(60, 100)]).unwrap();
        assert_eq!(
            load(&c).unwrap(),
            vec![r("a", 60, 120, 5), r("a", 900, 0, 1)]
        );
    }
}
