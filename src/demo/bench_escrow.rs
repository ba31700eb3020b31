//! `souk bench-escrow` (hidden; bench/escrow.sh runs it): the payment watcher
//! on the demo's private regtest chain with many open orders awaiting payment.
//!
//! Measures (1) the watcher cycle with `orders` watched subaddresses (one
//! `get_transfers` per cycle), the wallet call alone, and as the baseline
//! measured in the same run the per-order database reads the watcher made
//! before it batched them; (2) the time from the block that confirms a
//! payment to the order being paid, with cycles back to back.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::chain::Chain;
use crate::escrow::watcher::watch_once;
use crate::market::now;
use crate::market::orders::Timing;
use crate::market::orders::state::OrderState;
use crate::monero::{Retry, WalletClient};
use crate::store::Db;
use crate::store::escrow::{self as esc, PaymentRequest};
use crate::store::orders::{self as order_store, NewOrder, Stamp};

/// What the benchmark is asked for.
#[derive(Debug, Clone, Copy)]
pub struct BenchEscrow {
    /// Open orders awaiting payment (each with its own subaddress).
    pub orders: usize,
    /// Watcher cycles timed.
    pub cycles: usize,
    /// Payments timed from confirmation to paid.
    pub payments: usize,
}

/// Blocks mined before the payments are timed.
const EXTRA_BLOCKS: u64 = 60;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, min, max) in ms.
fn spread(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    (ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

/// Inserts `count` orders awaiting payment with payment requests on the
/// subaddresses `subs` (index, address); returns (order id, address, due).
async fn open_orders(db: &Db, subs: Vec<(i64, String)>) -> Result<Vec<(i64, String, i64)>, String> {
    db.write(move |c| {
        let (listing_id, vendor_id, title, price): (i64, i64, String, i64) = c.query_row(
            "SELECT id, vendor_id, title, price_piconero FROM listings WHERE state = 'active' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let buyer = crate::store::accounts::id_by_name(c, "alice")?.unwrap_or(1);
        let t = now();
        let tx = c.transaction()?;
        let mut out = Vec::with_capacity(subs.len());
        for (n, (index, address)) in subs.into_iter().enumerate() {
            // Distinct amounts, like real carts.
            let total = price + n as i64;
            let id = order_store::insert(
                &tx,
                &NewOrder {
                    public_id: format!("watch{n:06}"),
                    buyer_id: buyer,
                    vendor_id,
                    listing_id,
                    listing_title: title.clone(),
                    quantity: 1,
                    unit_price: total,
                    delivery_label: "Post".to_owned(),
                    delivery_price: 0,
                    total,
                    delivery_note: None,
                    payment_deadline: t + 86_400,
                },
                t,
            )?;
            let stamp = Stamp {
                payment_deadline: Some(t + 86_400),
                ..Stamp::default()
            };
            order_store::transition(
                &tx,
                id,
                OrderState::Created,
                OrderState::AwaitingPayment,
                None,
                "benchmark",
                &stamp,
                t,
            )?;
            esc::insert_payment_request(
                &tx,
                &PaymentRequest {
                    order_id: id,
                    subaddress_index: index,
                    address: address.clone(),
                    amount_due: total,
                    confirmations: 1,
                    commission_bps: 0,
                    created_at: t,
                },
            )?;
            out.push((id, address, total));
        }
        tx.commit()?;
        Ok(out)
    })
    .await
    .map_err(|e| format!("benchmark orders: {e}"))
}

/// Creates `count` subaddresses in account 0 of the shop's wallet.
async fn subaddresses(
    wallet: &crate::monero::RpcClient,
    count: usize,
) -> Result<Vec<(i64, String)>, String> {
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let batch = (count - out.len()).min(64); // the wallet's limit per call
        let r: Value = wallet
            .json_rpc(
                "create_address",
                json!({"account_index": 0, "count": batch, "label": "bench"}),
                Retry::Never,
            )
            .await
            .map_err(|e| e.to_string())?;
        let indices = r["address_indices"].as_array().cloned().unwrap_or_default();
        let addresses = r["addresses"].as_array().cloned().unwrap_or_default();
        if indices.len() != batch || addresses.len() != batch {
            return Err(format!(
                "create_address gave {} addresses for {batch}",
                addresses.len()
            ));
        }
        for (i, a) in indices.iter().zip(&addresses) {
            out.push((
                i.as_i64().unwrap_or_default(),
                a.as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    Ok(out)
}

/// Runs the benchmark and prints its figures.
pub async fn run(opts: BenchEscrow) -> Result<(), Vec<String>> {
    let tmp = super::TempDir::create().map_err(|e| vec![e])?;
    let dir = tmp.0.clone();
    let e = |e: String| vec![e];
    let started = Instant::now();
    super::prepare(&dir, 4, 0).await.map_err(e)?;
    let chain = Chain::start(&dir.join("chain")).await.map_err(e)?;
    eprintln!(
        "bench-escrow: shop seeded and chain ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let shop_rpc = chain.wallet_rpc(false).map_err(e)?;
    let buyer = chain.wallet_rpc(true).map_err(e)?;
    let subs = subaddresses(&shop_rpc, opts.orders).await.map_err(e)?;
    let path = dir.join("souk.db");
    let (db, _) = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .map_err(|x| vec![x.to_string()])?
        .map_err(|x| vec![x.to_string()])?;
    let indices: Vec<u32> = subs
        .iter()
        .filter_map(|(i, _)| u32::try_from(*i).ok())
        .collect();
    let orders = open_orders(&db, subs).await.map_err(e)?;
    let wallet = WalletClient::new(shop_rpc);
    let timing = Timing::default();

    // (1) Cycles with every order watched and nothing paid.
    let first = watch_once(&db, &wallet, timing).await.map_err(e)?;
    let mut cycles = Vec::with_capacity(opts.cycles);
    for _ in 0..opts.cycles {
        let t = Instant::now();
        let c = watch_once(&db, &wallet, timing).await.map_err(e)?;
        cycles.push(t.elapsed());
        if c.watched != opts.orders {
            return Err(vec![format!("watched {} of {}", c.watched, opts.orders)]);
        }
    }
    let mut rpc_only = Vec::new();
    for _ in 0..opts.cycles.min(10) {
        let t = Instant::now();
        wallet
            .incoming_transfers(&indices)
            .await
            .map_err(|x| vec![x.to_string()])?;
        rpc_only.push(t.elapsed());
    }
    // The database part of a cycle alone: what to watch, and the write
    // transaction that sums what every watched order received.
    let mut db_part = Vec::new();
    for _ in 0..opts.cycles.min(10) {
        let t = Instant::now();
        db.read(|c| esc::watched(c, 0))
            .await
            .map_err(|x| vec![x.to_string()])?;
        db.write(|c| {
            let tx = c.transaction()?;
            let r = esc::received_while_watched(&tx, 0)?;
            tx.commit()?;
            Ok(r)
        })
        .await
        .map_err(|x| vec![x.to_string()])?;
        db_part.push(t.elapsed());
    }
    // Baseline: the per-order reads the watcher made before batching.
    let mut per_order = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        for (id, _, _) in &orders {
            let id = *id;
            db.read(move |c| esc::received(c, id, 1))
                .await
                .map_err(|x| vec![x.to_string()])?;
        }
        per_order.push(t.elapsed());
    }

    // More blocks first: a young regtest chain has few spendable outputs for
    // the buyer's ring members, and its wallet can spin picking decoys.
    chain.mine(EXTRA_BLOCKS).await.map_err(e)?;
    // (2) Confirmation -> paid, cycles back to back: with the wallet scanning
    // every 2 s (as the demo sets it), then at monero-wallet-rpc's default 20 s.
    let fast = time_payments(&chain, &buyer, &db, &wallet, &orders[..opts.payments]).await?;
    set_auto_refresh(&wallet_rpc_of(&chain)?, 20).await?;
    let end = (opts.payments + opts.payments.div_ceil(2)).min(orders.len());
    let default = time_payments(&chain, &buyer, &db, &wallet, &orders[opts.payments..end]).await?;

    let (c_med, c_min, c_max) = spread(cycles);
    let (r_med, _, _) = spread(rpc_only);
    let (db_med, _, _) = spread(db_part);
    let (b_med, _, _) = spread(per_order);
    let (l_med, l_min, l_max) = spread(fast);
    let (d_med, d_min, d_max) = spread(default.clone());
    println!(
        "escrow watcher: {} open orders awaiting payment on regtest, one get_transfers per cycle (first cycle: {} watched)",
        opts.orders, first.watched
    );
    println!(
        "  watcher cycle: median {c_med:.1} ms, min {c_min:.1} ms, max {c_max:.1} ms over {} cycles (goal: under 1000 ms)",
        opts.cycles
    );
    println!("  of which the wallet's get_transfers: median {r_med:.1} ms");
    println!("  of which the database (one read, one write transaction): median {db_med:.1} ms");
    println!(
        "  baseline (same run): the previous watcher's {} per-order reads alone took {b_med:.1} ms per cycle on top of the wallet call",
        opts.orders
    );
    println!(
        "  block mined -> order paid: median {:.2} s, min {:.2} s, max {:.2} s over {} payments (cycles back to back; wallet auto-refresh every 2 s)",
        l_med / 1000.0,
        l_min / 1000.0,
        l_max / 1000.0,
        opts.payments
    );
    println!(
        "  block mined -> order paid: median {:.2} s, min {:.2} s, max {:.2} s over {} payments (wallet-rpc's default auto-refresh, 20 s); add up to escrow.watcher_interval_secs (default 10 s) between cycles",
        d_med / 1000.0,
        d_min / 1000.0,
        d_max / 1000.0,
        default.len()
    );
    db.close().await.map_err(|x| vec![x.to_string()])?;
    drop(chain);
    drop(tmp);
    Ok(())
}

fn wallet_rpc_of(chain: &Chain) -> Result<crate::monero::RpcClient, Vec<String>> {
    chain.wallet_rpc(false).map_err(|e| vec![e])
}

async fn set_auto_refresh(rpc: &crate::monero::RpcClient, secs: u64) -> Result<(), Vec<String>> {
    rpc.json_rpc::<_, Value>(
        "auto_refresh",
        json!({"enable": true, "period": secs}),
        Retry::Never,
    )
    .await
    .map(|_| ())
    .map_err(|e| vec![e.to_string()])
}

/// Pays each order from the buyers' wallet, mines the confirming block, and
/// times from that block to the order being paid (watcher cycles back to back).
async fn time_payments(
    chain: &Chain,
    buyer: &crate::monero::RpcClient,
    db: &Db,
    wallet: &WalletClient,
    orders: &[(i64, String, i64)],
) -> Result<Vec<Duration>, Vec<String>> {
    let timing = Timing::default();
    let mut latencies = Vec::new();
    for (id, address, due) in orders {
        let sent: Value = buyer
            .json_rpc(
                "transfer",
                json!({"destinations": [{"amount": due, "address": address}], "priority": 0}),
                Retry::Never,
            )
            .await
            .map_err(|x| vec![format!("the buyer's payment: {x}")])?;
        let hash = sent["tx_hash"].as_str().unwrap_or_default().to_owned();
        // The clock starts at the block that holds the payment.
        let waited = Instant::now();
        let mut blocks = 0;
        let mined = loop {
            chain.mine(1).await.map_err(|e| vec![e])?;
            blocks += 1;
            if chain.in_block(&hash).await.map_err(|e| vec![e])? {
                if blocks > 1 {
                    eprintln!(
                        "bench-escrow: payment mined only in the {blocks}th block, {:.1} s after it was sent (monerod's Dandelion++ embargo)",
                        waited.elapsed().as_secs_f64()
                    );
                }
                break Instant::now();
            }
            if waited.elapsed() > Duration::from_secs(300) {
                return Err(vec![format!("payment {hash} not mined in 300 s")]);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let id = *id;
        loop {
            watch_once(db, wallet, timing).await.map_err(|e| vec![e])?;
            let state = db
                .read(move |c| order_store::by_id(c, id))
                .await
                .map_err(|x| vec![x.to_string()])?
                .map(|o| o.state);
            if state == Some(OrderState::Paid) {
                latencies.push(mined.elapsed());
                // Let the buyer's change unlock before the next payment.
                chain.mine(10).await.map_err(|e| vec![e])?;
                break;
            }
            if mined.elapsed() > Duration::from_secs(120) {
                return Err(vec![format!("order {id} not paid 120 s after its block")]);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(latencies)
}
