//! Every catalogue ordering and filter combination is served by an index: no full
//! scan of the listings, no temporary B-tree to sort, with and without the
//! statistics that `ANALYZE` (and `PRAGMA optimize` at shutdown) leave behind.

use souk::store::catalogue::{Filter, Sort, page_sql};
use souk::store::{Db, listings};

const SORTS: [Sort; 5] = [
    Sort::Newest,
    Sort::PriceLow,
    Sort::PriceHigh,
    Sort::Rating,
    Sort::Relevance,
];

/// Every combination of the four filters, each with and without a search term.
fn filters() -> Vec<(String, Filter)> {
    let mut out = Vec::new();
    for mask in 0..32u32 {
        let f = Filter {
            category_id: (mask & 1 != 0).then_some(2),
            vendor_id: (mask & 2 != 0).then_some(3),
            min_price: (mask & 4 != 0).then_some(1_000_000_000),
            max_price: (mask & 8 != 0).then_some(900_000_000_000),
            fts: (mask & 16 != 0).then(|| "\"river\"".to_owned()),
        };
        out.push((format!("{f:?}"), f));
    }
    out
}

fn plan(db: &Db, sql: String, params: Vec<rusqlite::types::Value>) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(db.read(move |c| {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }))
    .unwrap()
}

fn assert_indexed(db: &Db, when: &str) {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, filter) in filters() {
        for sort in SORTS {
            let (sql, params) = page_sql(&filter, sort, 25, 48);
            let steps = plan(db, sql, params);
            let bad = steps.iter().any(|step| {
                let scan_of_listings = (step == "SCAN l"
                    || step.starts_with("SCAN l ")
                    || step.starts_with("SCAN listings "))
                    && !step.contains("USING INDEX")
                    && !step.contains("USING COVERING INDEX");
                scan_of_listings
                    || step.contains("TEMP B-TREE")
                    || step.starts_with("SCAN a")
                    || step.starts_with("SCAN i")
            });
            if bad {
                problems.push(format!("{sort:?} {name}:\n    {}", steps.join("\n    ")));
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 32 * SORTS.len());
    assert!(
        problems.is_empty(),
        "{when}: {} of {checked} catalogue queries scan or sort without an index:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_catalogue_query_uses_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = Db::open(&dir.path().join("souk.db")).unwrap();
    assert_indexed(&db, "empty database, no statistics");

    // A shop-shaped data set: a few vendors, several categories, many listings.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(db.write(|c| {
        let tx = c.transaction()?;
        for k in 0..6 {
            listings::upsert_category(&tx, &format!("cat{k}"), &format!("Category {k}"), k)?;
        }
        for v in 0..8 {
            tx.execute(
                "INSERT INTO accounts (username, password_hash, created_at) VALUES (?1, 'x', 0)",
                [format!("vendor{v}")],
            )?;
        }
        for i in 0..3000i64 {
            let fields = listings::ListingFields {
                category_id: 1 + i % 6,
                title: format!("{} item {i}", if i % 40 == 0 { "river" } else { "plain" }),
                description: "Something for sale.".to_owned(),
                price: 1_000_000_000 * (1 + (i * 7919) % 5000),
                stock: 3,
                delivery: vec![("Letter".to_owned(), 0)],
            };
            let id = listings::insert(&tx, 1 + i % 8, &fields, 1_700_000_000 + i)?;
            if i % 10 == 0 {
                tx.execute("UPDATE listings SET state = 'paused' WHERE id = ?1", [id])?;
            }
            if i % 3 == 0 {
                tx.execute(
                    "UPDATE listings SET rating_count = ?2, rating_sum = ?2 * 4 WHERE id = ?1",
                    [id, i % 17],
                )?;
            }
        }
        tx.commit()?;
        c.execute_batch("ANALYZE")?;
        Ok(())
    }))
    .unwrap();
    assert_indexed(&db, "3000 listings after ANALYZE");
}
