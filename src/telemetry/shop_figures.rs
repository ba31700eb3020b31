//! Shop figures from the database (orders and escrows by state, amounts held,
//! disputes, payouts pending), rendered at scrape time from the last successful
//! query, like the poller's series: when the database cannot be read the figures
//! are dropped, not repeated.
//!
//! Adding a figure is one entry in [`SHOP_GAUGES`]: a name, a help line, an
//! optional label and one query returning `(label, value)` rows (or one `value`
//! row without a label). Values are integers (counts, piconero, seconds). Labels
//! must come from bounded sets (states are enums), never from ids.
//!
//! The list is empty on purpose: the marketplace and escrow issues add the order,
//! escrow, dispute and payout tables, and with them their entries here, following
//! the metrics contract in `packaging/prometheus/README.md` (names such as
//! `souk_orders{state}`, `souk_escrow_held_piconero`, `souk_disputes_open`).

use std::sync::RwLock;

use crate::store::{Db, StoreError};
use crate::telemetry::exposition::{Kind, family, sample};

/// A gauge computed from the database.
#[derive(Debug, Clone, Copy)]
pub struct ShopGauge {
    /// Metric name (`souk_` prefix, base unit suffix).
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Label name when the query returns `(label, value)` rows.
    pub label: Option<&'static str>,
    /// The query: `SELECT label, value ...` with a label, `SELECT value` without.
    pub sql: &'static str,
}

/// The gauges souk exports from its database. See the module docs.
pub const SHOP_GAUGES: &[ShopGauge] = &[];

/// One gauge's rows: (label value, integer value).
type Rows = Vec<(Option<String>, i64)>;

/// Runs the queries and keeps the last answer.
pub struct ShopFigures {
    gauges: &'static [ShopGauge],
    last: RwLock<Option<Vec<Rows>>>,
}

impl ShopFigures {
    /// Figures for `gauges` (usually [`SHOP_GAUGES`]).
    pub fn new(gauges: &'static [ShopGauge]) -> Self {
        Self {
            gauges,
            last: RwLock::new(None),
        }
    }

    /// Queries every gauge in one read transaction; on failure the figures are dropped.
    pub async fn run_once(&self, db: &Db) -> Result<(), String> {
        if self.gauges.is_empty() {
            return Ok(());
        }
        let gauges = self.gauges;
        let r = db
            .read(move |c| {
                let tx = c.unchecked_transaction()?;
                let mut all = Vec::with_capacity(gauges.len());
                for g in gauges {
                    let mut stmt = tx.prepare_cached(g.sql)?;
                    let rows = if g.label.is_some() {
                        stmt.query_map([], |r| Ok((Some(r.get::<_, String>(0)?), r.get(1)?)))?
                            .collect::<Result<Rows, _>>()?
                    } else {
                        stmt.query_map([], |r| Ok((None, r.get(0)?)))?
                            .collect::<Result<Rows, _>>()?
                    };
                    all.push(rows);
                }
                Ok::<_, StoreError>(all)
            })
            .await;
        let mut last = self.last.write().unwrap_or_else(|p| p.into_inner());
        match r {
            Ok(all) => {
                *last = Some(all);
                Ok(())
            }
            Err(e) => {
                *last = None;
                Err(format!("shop figures: {e}"))
            }
        }
    }

    /// Appends the last figures to an exposition.
    pub fn render(&self, out: &mut String) {
        let last = self.last.read().unwrap_or_else(|p| p.into_inner());
        let Some(all) = last.as_ref() else { return };
        for (g, rows) in self.gauges.iter().zip(all) {
            if rows.is_empty() {
                continue;
            }
            family(out, g.name, Kind::Gauge, g.help);
            for (label, value) in rows {
                match (g.label, label) {
                    (Some(l), Some(v)) => sample(out, g.name, &[(l, v)], *value),
                    _ => sample(out, g.name, &[], *value),
                }
            }
        }
    }

    /// The last figures as (name, label value, value), for the UI and the history.
    pub fn values(&self) -> Vec<(&'static str, Option<String>, i64)> {
        let last = self.last.read().unwrap_or_else(|p| p.into_inner());
        let Some(all) = last.as_ref() else {
            return Vec::new();
        };
        self.gauges
            .iter()
            .zip(all)
            .flat_map(|(g, rows)| rows.iter().map(|(l, v)| (g.name, l.clone(), *v)))
            .collect()
    }

    /// Whether any figure is defined (the UI shows an empty state otherwise).
    pub fn defined(&self) -> bool {
        !self.gauges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_GAUGES: &[ShopGauge] = &[
        ShopGauge {
            name: "souk_test_meta_rows",
            help: "Rows in meta.",
            label: None,
            sql: "SELECT count(*) FROM meta",
        },
        ShopGauge {
            name: "souk_test_meta_by_key",
            help: "Rows in meta by key.",
            label: Some("key"),
            sql: "SELECT key, length(value) FROM meta ORDER BY key",
        },
    ];

    #[tokio::test]
    async fn renders_query_results_and_drops_them_when_the_database_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = Db::open(&dir.path().join("souk.db")).unwrap();
        let figures = ShopFigures::new(TEST_GAUGES);
        figures.run_once(&db).await.unwrap();
        let mut out = String::new();
        figures.render(&mut out);
        assert!(
            out.contains("# TYPE souk_test_meta_rows gauge\nsouk_test_meta_rows 1\n"),
            "{out}"
        );
        assert!(
            out.contains("souk_test_meta_by_key{key=\"created_at\"} 20\n"),
            "{out}"
        );
        db.write(|c| Ok(c.execute_batch("DROP TABLE meta")?))
            .await
            .unwrap();
        assert!(figures.run_once(&db).await.is_err());
        let mut out = String::new();
        figures.render(&mut out);
        assert!(out.is_empty(), "no stale figures: {out}");
        assert!(figures.values().is_empty());
    }
}
