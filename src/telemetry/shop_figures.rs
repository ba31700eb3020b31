//! Shop figures from the database (orders and escrows by state, amounts held,
//! disputes, payouts), rendered at scrape time from the last successful query,
//! like the poller's series: when the database cannot be read the figures are
//! dropped, not repeated.
//!
//! Adding a figure is one entry in [`SHOP_GAUGES`]: a name, a help line, a kind,
//! an optional label and one query returning `(label, value)` rows (or one
//! `value` row without a label). Values are integers (counts, piconero,
//! seconds). Labels come from bounded sets (states are enums), never from ids,
//! and every label value is reported, zero included, so "none" and "not
//! exported" differ. These are the names of the metrics contract in README.md
//! that the shipped alert rules use.

use std::sync::RwLock;

use crate::store::{Db, StoreError};
use crate::telemetry::exposition::{Kind, family, sample};

/// A figure computed from the database.
#[derive(Debug, Clone, Copy)]
pub struct ShopGauge {
    /// Metric name (`souk_` prefix, base unit suffix, `_total` for counters).
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Gauge, or a counter the database keeps monotonic.
    pub kind: Kind,
    /// Label name when the query returns `(label, value)` rows.
    pub label: Option<&'static str>,
    /// The query: `SELECT label, value ...` with a label, `SELECT value` without.
    pub sql: &'static str,
}

/// The figures souk exports from its database. See the module docs.
pub const SHOP_GAUGES: &[ShopGauge] = &[
    ShopGauge {
        name: "souk_orders",
        help: "Orders by state.",
        kind: Kind::Gauge,
        label: Some("state"),
        sql: "WITH s(state) AS (VALUES ('created'), ('awaiting_payment'), ('paid'), ('shipped'),
                ('completed'), ('disputed'), ('resolved'), ('cancelled'), ('expired'))
              SELECT s.state, (SELECT count(*) FROM orders o WHERE o.state = s.state) FROM s",
    },
    ShopGauge {
        name: "souk_orders_overdue",
        help: "Orders still in a state past that state's deadline (payment window, automatic finalization).",
        kind: Kind::Gauge,
        label: Some("state"),
        sql: "SELECT 'created', count(*) FROM orders
                WHERE state = 'created' AND payment_deadline < unixepoch()
              UNION ALL SELECT 'awaiting_payment', count(*) FROM orders
                WHERE state = 'awaiting_payment' AND payment_deadline < unixepoch()
              UNION ALL SELECT 'shipped', count(*) FROM orders
                WHERE state = 'shipped' AND finalize_after < unixepoch()",
    },
    ShopGauge {
        name: "souk_escrows",
        help: "Managed escrows (payment requests) by state: awaiting_payment, held (paid, shipped or disputed), paying_out (order ended, payout not final), closed.",
        kind: Kind::Gauge,
        label: Some("state"),
        sql: "WITH e AS (
                SELECT CASE
                  WHEN o.state IN ('created', 'awaiting_payment') THEN 'awaiting_payment'
                  WHEN o.state IN ('paid', 'shipped', 'disputed') THEN 'held'
                  WHEN EXISTS (SELECT 1 FROM payout_intents i WHERE i.order_id = p.order_id
                    AND i.state IN ('pending', 'signed', 'relayed')) THEN 'paying_out'
                  ELSE 'closed' END AS state
                FROM payment_requests p JOIN orders o ON o.id = p.order_id),
              s(state) AS (VALUES ('awaiting_payment'), ('held'), ('paying_out'), ('closed'))
              SELECT s.state, (SELECT count(*) FROM e WHERE e.state = s.state) FROM s",
    },
    ShopGauge {
        name: "souk_escrows_overdue",
        help: "Escrows past a deadline: awaiting_payment after the payment window, paying_out with a payout open for more than an hour.",
        kind: Kind::Gauge,
        label: Some("state"),
        sql: "SELECT 'awaiting_payment', count(*) FROM payment_requests p JOIN orders o ON o.id = p.order_id
                WHERE o.state IN ('created', 'awaiting_payment') AND o.payment_deadline < unixepoch()
              UNION ALL SELECT 'paying_out', count(DISTINCT order_id) FROM payout_intents
                WHERE state IN ('pending', 'signed', 'relayed') AND created_at < unixepoch() - 3600",
    },
    ShopGauge {
        name: "souk_escrow_held_piconero",
        help: "Piconero the shop's wallet holds for orders: received payments in a block, not yet paid out.",
        kind: Kind::Gauge,
        label: None,
        sql: "SELECT coalesce(sum(t.amount_piconero), 0) FROM incoming_transfers t
                LEFT JOIN payout_intents i ON i.id = t.intent_id
              WHERE t.confirmations > 0 AND (t.intent_id IS NULL OR i.state IN ('pending', 'signed'))",
    },
    ShopGauge {
        name: "souk_disputes_open",
        help: "Disputes waiting for an arbiter.",
        kind: Kind::Gauge,
        label: None,
        sql: "SELECT count(*) FROM disputes WHERE state = 'open'",
    },
    ShopGauge {
        name: "souk_disputes_oldest_open_age_seconds",
        help: "Age of the oldest open dispute (0 when none is open).",
        kind: Kind::Gauge,
        label: None,
        sql: "SELECT coalesce(unixepoch() - min(opened_at), 0) FROM disputes WHERE state = 'open'",
    },
    ShopGauge {
        name: "souk_payouts_pending",
        help: "Payouts decided but not final yet (pending, signed or relayed).",
        kind: Kind::Gauge,
        label: None,
        sql: "SELECT count(*) FROM payout_intents WHERE state IN ('pending', 'signed', 'relayed')",
    },
    ShopGauge {
        name: "souk_payouts_pending_oldest_age_seconds",
        help: "Age of the oldest payout not final yet (0 when none).",
        kind: Kind::Gauge,
        label: None,
        sql: "SELECT coalesce(unixepoch() - min(created_at), 0) FROM payout_intents
              WHERE state IN ('pending', 'signed', 'relayed')",
    },
    ShopGauge {
        name: "souk_payouts_total",
        help: "Payouts by result: ok (the transaction reached its final confirmations), failed (a wallet call or a missing address stopped a payout attempt; it is retried).",
        kind: Kind::Counter,
        label: Some("result"),
        // Every signing and every noted failure adds one attempt, so failures are
        // the attempts that did not sign: both figures only grow.
        sql: "SELECT 'ok', count(*) FILTER (WHERE state = 'confirmed') FROM payout_intents
              UNION ALL SELECT 'failed', max(0, coalesce(sum(attempts), 0)
                - count(*) FILTER (WHERE state IN ('signed', 'relayed', 'confirmed'))) FROM payout_intents",
    },
];

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
            family(out, g.name, g.kind, g.help);
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
            kind: Kind::Gauge,
            label: None,
            sql: "SELECT count(*) FROM meta",
        },
        ShopGauge {
            name: "souk_test_meta_by_key",
            help: "Rows in meta by key.",
            kind: Kind::Gauge,
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

    /// The value of `name{label}` (or unlabelled) in an exposition.
    fn value(out: &str, series: &str) -> Option<i64> {
        out.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[tokio::test]
    async fn figures_follow_orders_escrows_disputes_and_payouts() {
        use crate::market::now;
        use crate::market::orders::state::ALL_STATES;
        use crate::store::escrow::{self as esc, PaymentRequest, SeenTransfer, Shares, Signed};
        let shop = crate::market::testing::Shop::new().await;
        let figures = ShopFigures::new(SHOP_GAUGES);
        let render = || async {
            figures.run_once(&shop.db).await.unwrap();
            let mut out = String::new();
            figures.render(&mut out);
            out
        };
        let out = render().await;
        for s in ALL_STATES {
            assert_eq!(
                value(&out, &format!("souk_orders{{state=\"{s}\"}}")),
                Some(0),
                "{out}"
            );
        }
        assert_eq!(value(&out, "souk_escrow_held_piconero"), Some(0), "{out}");
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"ok\"}"),
            Some(0),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"failed\"}"),
            Some(0),
            "{out}"
        );
        assert!(out.contains("# TYPE souk_payouts_total counter\n"), "{out}");
        assert_eq!(
            value(&out, "souk_escrows{state=\"held\"}"),
            Some(0),
            "{out}"
        );

        // A paid order whose payment is in a block: held.
        let order = shop.paid_order().await;
        let (id, total) = (order.id, order.total);
        shop.db
            .write(move |c| {
                esc::insert_payment_request(
                    c,
                    &PaymentRequest {
                        order_id: id,
                        subaddress_index: 1,
                        address: "8sub".into(),
                        amount_due: total,
                        confirmations: 10,
                        commission_bps: 0,
                        created_at: now(),
                    },
                )?;
                esc::upsert_incoming(
                    c,
                    &SeenTransfer {
                        order_id: id,
                        txid: "aa".into(),
                        subaddress_index: 1,
                        amount: total,
                        height: 100,
                        confirmations: 10,
                    },
                    now(),
                )
            })
            .await
            .unwrap();
        let disputed = shop.paid_order().await;
        shop.dispute(&shop.buyer, &disputed.public_id).await;
        let out = render().await;
        assert_eq!(value(&out, "souk_orders{state=\"paid\"}"), Some(1), "{out}");
        assert_eq!(
            value(&out, "souk_orders{state=\"disputed\"}"),
            Some(1),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_escrows{state=\"held\"}"),
            Some(1),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_escrow_held_piconero"),
            Some(total),
            "{out}"
        );
        assert_eq!(value(&out, "souk_disputes_open"), Some(1), "{out}");
        assert!(value(&out, "souk_disputes_oldest_open_age_seconds").is_some_and(|a| a >= 0));

        // A payout intent: pending (still held), one failed attempt, signed,
        // relayed (gone from the wallet), confirmed (ok).
        let shares = Shares {
            vendor: total,
            buyer: 0,
            commission: 0,
        };
        let intent = shop
            .db
            .write(move |c| esc::insert_intent(c, id, "settle", "k1", shares, 10, now()))
            .await
            .unwrap()
            .unwrap();
        shop.db
            .write(move |c| esc::note_failure(c, intent, "no payout address", now()))
            .await
            .unwrap();
        let out = render().await;
        assert_eq!(value(&out, "souk_payouts_pending"), Some(1), "{out}");
        assert_eq!(
            value(&out, "souk_escrow_held_piconero"),
            Some(total),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"failed\"}"),
            Some(1),
            "{out}"
        );
        let signed = Signed {
            destinations: "[]",
            tx_hash: "bb",
            tx_key: "k",
            tx_metadata: "m",
            fee: 1,
        };
        shop.db
            .write(move |c| {
                assert!(esc::mark_signed(c, intent, &signed, now())?);
                assert!(esc::advance(c, intent, "signed", "relayed", now())?);
                Ok(())
            })
            .await
            .unwrap();
        let out = render().await;
        assert_eq!(value(&out, "souk_escrow_held_piconero"), Some(0), "{out}");
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"ok\"}"),
            Some(0),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"failed\"}"),
            Some(1),
            "{out}"
        );
        shop.db
            .write(move |c| esc::advance(c, intent, "relayed", "confirmed", now()))
            .await
            .unwrap();
        let out = render().await;
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"ok\"}"),
            Some(1),
            "{out}"
        );
        assert_eq!(
            value(&out, "souk_payouts_total{result=\"failed\"}"),
            Some(1),
            "{out}"
        );
        assert_eq!(value(&out, "souk_payouts_pending"), Some(0), "{out}");
        assert_eq!(
            value(&out, "souk_payouts_pending_oldest_age_seconds"),
            Some(0),
            "{out}"
        );
    }
}
