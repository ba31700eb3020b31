//! `souk bench-multisig` (hidden; bench/multisig.sh runs it): K 2-of-3
//! multisig escrows set up and funded at the same time on the demo's private
//! regtest chain, through souk's real multisig engine and its wallet-rpc pool.
//!
//! souk's side is the engine the pages use: `begin` (what placing an order
//! calls), `submit` (what the setup page's form calls), `view` (what the page
//! shows) and `tick` (the multisig job, run every second). The buyers' and
//! vendors' own wallets are played by a few wallet-rpc processes of the
//! benchmark, each opening many wallets one after the other (their memory is
//! reported apart from souk's). Payments come from the demo buyers' wallet;
//! a block is mined every 2 s. Resident memory is sampled from /proc every
//! 250 ms: souk itself plus its pool children, and the participants' side.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::chain::Chain;
use crate::config::{Config, Network};
use crate::escrow::multisig::MultisigEscrow;
use crate::escrow::multisig::state::{EscrowState, Participant};
use crate::market::now;
use crate::monero::{Retry, RpcClient, WalletClient};
use crate::store::Db;
use crate::store::orders::{self as order_store, NewOrder};

/// What the benchmark is asked for.
#[derive(Debug, Clone, Copy)]
pub struct BenchMultisig {
    /// Escrows set up and funded at the same time.
    pub escrows: usize,
    /// souk's wallet-rpc pool size (`escrow.multisig_pool_size`).
    pub pool: usize,
    /// wallet-rpc processes playing the buyers' wallets (as many again for the vendors').
    pub participant_processes: usize,
}

/// Time limit for one escrow from start to funded.
const ESCROW_LIMIT: Duration = Duration::from_secs(1800);

/// One participant-side wallet-rpc: one wallet open at a time.
struct Side {
    wallet: WalletClient,
    open: Mutex<Option<String>>,
}

impl Side {
    /// Runs `round` for wallet `file` with the others' messages; returns the
    /// message to paste (round 4: the wallet's address).
    async fn round(&self, file: &str, round: u8, others: &[String]) -> Result<String, String> {
        let mut open = self.open.lock().await;
        let w = &self.wallet;
        let e = |x: crate::monero::MoneroError| format!("participant wallet round {round}: {x}");
        if round == 1 {
            w.create_wallet(file, "").await.map_err(e)?;
            *open = Some(file.to_owned());
            return w.prepare_multisig().await.map_err(e);
        }
        if open.as_deref() != Some(file) {
            *open = None;
            w.open_wallet(file, "").await.map_err(e)?;
            *open = Some(file.to_owned());
        }
        Ok(match round {
            2 => {
                // The experimental flag lives in memory until make_multisig saves it.
                w.prepare_multisig().await.map_err(e)?;
                w.make_multisig(others, 2, "")
                    .await
                    .map_err(e)?
                    .multisig_info
            }
            3 => {
                w.exchange_multisig_keys(others, "")
                    .await
                    .map_err(e)?
                    .multisig_info
            }
            _ => {
                w.exchange_multisig_keys(others, "")
                    .await
                    .map_err(e)?
                    .address
            }
        })
    }
}

/// Peak resident memory (sum over processes, KiB) seen by the sampler.
#[derive(Debug, Default, Clone, Copy)]
struct Peaks {
    souk: u64,
    pool: u64,
    souk_and_pool: u64,
    pool_processes: usize,
    participants: u64,
    participant_processes: usize,
    chain: u64,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One sample: (souk, pool, pool processes, participants, participant processes, chain).
fn sample(pool_dir: &Path) -> (u64, u64, usize, u64, usize, u64) {
    let me = std::process::id();
    let pool_dir = pool_dir.display().to_string();
    let (mut pool, mut np, mut part, mut nq, mut chain) = (0, 0, 0, 0, 0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_of(pid) != Some(me) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let rss = rss_kib(pid);
        if cmdline.contains(&pool_dir) {
            pool += rss;
            np += 1;
        } else if cmdline.contains("ringdb-buyers-") || cmdline.contains("ringdb-vendors-") {
            part += rss;
            nq += 1;
        } else {
            chain += rss;
        }
    }
    (rss_kib(me), pool, np, part, nq, chain)
}

fn sampler(pool_dir: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Peaks> {
    std::thread::spawn(move || {
        let mut p = Peaks::default();
        while !stop.load(Ordering::Relaxed) {
            let (souk, pool, np, part, nq, chain) = sample(&pool_dir);
            p.souk = p.souk.max(souk);
            p.pool = p.pool.max(pool);
            p.souk_and_pool = p.souk_and_pool.max(souk + pool);
            p.pool_processes = p.pool_processes.max(np);
            p.participants = p.participants.max(part);
            p.participant_processes = p.participant_processes.max(nq);
            p.chain = p.chain.max(chain);
            std::thread::sleep(Duration::from_millis(250));
        }
        p
    })
}

/// Inserts `count` orders in `created` marked multisig (what placing them does).
async fn place_orders(db: &Db, count: usize) -> Result<Vec<(i64, i64)>, String> {
    db.write(move |c| {
        let (listing_id, vendor_id, title, price): (i64, i64, String, i64) = c.query_row(
            "SELECT id, vendor_id, title, price_piconero FROM listings WHERE state = 'active' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let buyer = crate::store::accounts::id_by_name(c, "alice")?.unwrap_or(1);
        let t = now();
        let tx = c.transaction()?;
        let mut out = Vec::with_capacity(count);
        for n in 0..count {
            let total = price + n as i64;
            let id = order_store::insert(
                &tx,
                &NewOrder {
                    public_id: format!("msig{n:06}"),
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
            crate::store::multisig::set_order_multisig(&tx, id, t + 86_400)?;
            out.push((id, total));
        }
        tx.commit()?;
        Ok(out)
    })
    .await
    .map_err(|e| format!("benchmark orders: {e}"))
}

/// Polls the setup page's view until `done` holds.
async fn wait_view<F>(
    engine: &MultisigEscrow,
    id: i64,
    started: Instant,
    done: F,
) -> Result<crate::escrow::multisig::SetupView, String>
where
    F: Fn(&crate::escrow::multisig::SetupView) -> bool,
{
    loop {
        let v = engine.view(id).await.map_err(|e| e.to_string())?;
        if done(&v) {
            return Ok(v);
        }
        if matches!(v.state, EscrowState::Aborted | EscrowState::Expired) {
            return Err(format!(
                "escrow {id} ended in {:?}: {}",
                v.state,
                v.problem.unwrap_or_default()
            ));
        }
        if started.elapsed() > ESCROW_LIMIT {
            return Err(format!(
                "escrow {id} stuck in {:?} ({})",
                v.state,
                v.problem.unwrap_or_default()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Everything one escrow task needs.
struct Ctx {
    engine: Arc<MultisigEscrow>,
    buyers: Vec<Arc<Side>>,
    vendors: Vec<Arc<Side>>,
    funder: Arc<Mutex<RpcClient>>,
}

/// One escrow from placement to funded: (setup time, funding time).
async fn one_escrow(
    ctx: Arc<Ctx>,
    n: usize,
    id: i64,
    total: i64,
) -> Result<(Duration, Duration), String> {
    let started = Instant::now();
    let engine = &ctx.engine;
    engine.begin(id).await?;
    let sides = [
        (
            Participant::Buyer,
            ctx.buyers[n % ctx.buyers.len()].clone(),
            format!("buyer-{id}"),
        ),
        (
            Participant::Vendor,
            ctx.vendors[n % ctx.vendors.len()].clone(),
            format!("vendor-{id}"),
        ),
    ];
    for round in 1..=4u8 {
        let view = wait_view(engine, id, started, |v| {
            v.round == Some(round)
                && (round == 1
                    || (v.message(Participant::Arbiter, round - 1).is_some()
                        && v.message(Participant::Buyer, round - 1).is_some()
                        && v.message(Participant::Vendor, round - 1).is_some()))
        })
        .await?;
        let turn = |(who, side, file): &(Participant, Arc<Side>, String)| {
            let (who, side, file, view) = (*who, side.clone(), file.clone(), &view);
            async move {
                let other = if who == Participant::Buyer {
                    Participant::Vendor
                } else {
                    Participant::Buyer
                };
                let others: Vec<String> = if round == 1 {
                    Vec::new()
                } else {
                    [other, Participant::Arbiter]
                        .iter()
                        .filter_map(|p| view.message(*p, round - 1).map(str::to_owned))
                        .collect()
                };
                let msg = side.round(&file, round, &others).await?;
                // The setup page's form post.
                engine
                    .submit(id, who, &msg)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("escrow {id} round {round} {}: {e}", who.as_str()))
            }
        };
        let (b, v) = tokio::join!(turn(&sides[0]), turn(&sides[1]));
        b?;
        v?;
    }
    let view = wait_view(engine, id, started, |v| v.state == EscrowState::Ready).await?;
    let setup = started.elapsed();
    let address = view.address.ok_or("a ready escrow without an address")?;
    let paying = Instant::now();
    {
        let funder = ctx.funder.lock().await;
        let mut tries = 0;
        loop {
            let r = funder
                .json_rpc::<_, Value>(
                    "transfer",
                    json!({"destinations": [{"amount": total, "address": address}], "priority": 0}),
                    Retry::Never,
                )
                .await;
            match r {
                Ok(_) => break,
                Err(e) if tries < 30 => {
                    tries += 1;
                    tracing::debug!(error = %e, "bench payment retried");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(format!("escrow {id}: the buyer's payment: {e}")),
            }
        }
    }
    wait_view(engine, id, started, |v| v.state == EscrowState::Funded).await?;
    Ok((setup, paying.elapsed()))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// (median, p95, max) in seconds.
fn spread(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let p95 = ((v.len() * 95).div_ceil(100)).clamp(1, v.len()) - 1;
    (secs(v[v.len() / 2]), secs(v[p95]), secs(v[v.len() - 1]))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Runs the benchmark and prints its figures.
pub async fn run(opts: BenchMultisig) -> Result<(), Vec<String>> {
    let e = |e: String| vec![e];
    if opts.escrows == 0 || opts.pool == 0 || opts.participant_processes == 0 {
        return Err(e(
            "bench-multisig: --escrows, --pool and --participants must be at least 1".to_owned(),
        ));
    }
    let tmp = super::TempDir::create().map_err(e)?;
    let dir = tmp.0.clone();
    let t0 = Instant::now();
    super::prepare(&dir, 4, 0).await.map_err(e)?;
    // No daemon login: souk's pool children dial the daemon without one.
    let mut chain = Chain::start_with(&dir.join("chain"), false)
        .await
        .map_err(e)?;
    // One spendable coinbase output per payment (the change stays locked 10 blocks).
    chain.mine(opts.escrows as u64 + 20).await.map_err(e)?;
    let funder = chain.wallet_rpc(true).map_err(e)?;
    funder
        .json_rpc::<_, Value>("refresh", json!({}), Retry::Never)
        .await
        .map_err(|x| e(x.to_string()))?;
    let mut buyers = Vec::new();
    let mut vendors = Vec::new();
    for i in 0..opts.participant_processes {
        for (list, role) in [(&mut buyers, "buyers"), (&mut vendors, "vendors")] {
            let rpc = chain
                .add_wallet_rpc(&format!("{role}-{i}"))
                .await
                .map_err(e)?;
            list.push(Arc::new(Side {
                wallet: WalletClient::new(rpc),
                open: Mutex::new(None),
            }));
        }
    }
    let key_file = dir.join("wallet.key");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .and_then(|mut f| {
                f.write_all(
                    data_encoding::HEXLOWER
                        .encode(&crate::market::random_bytes::<32>())
                        .as_bytes(),
                )
            })
            .map_err(|x| e(format!("cannot write {}: {x}", key_file.display())))?;
    }
    let mut config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    config.monero.daemon_url = chain.daemon_url.clone();
    config.monero.network = Network::Regtest;
    config.escrow.mode = "multisig".to_owned();
    config.escrow.wallet_key_file = key_file;
    config.escrow.multisig_pool_size = opts.pool;
    config.escrow.confirmations = 1;
    let path = dir.join("souk.db");
    let (db, _) = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .map_err(|x| vec![x.to_string()])?
        .map_err(|x| vec![x.to_string()])?;
    let engine = MultisigEscrow::build(&config, &db)
        .await?
        .ok_or_else(|| e("multisig is off".to_owned()))?;
    let pool_dir = engine.pool().wallet_dir().to_owned();
    eprintln!(
        "bench-multisig: shop, chain, pool of {} and {} participant processes ready in {:.1} s",
        opts.pool,
        2 * opts.participant_processes,
        t0.elapsed().as_secs_f64()
    );
    let orders = place_orders(&db, opts.escrows).await.map_err(e)?;
    let chain = Arc::new(chain);
    let idle = sample(&pool_dir);

    let stop_sampler = Arc::new(AtomicBool::new(false));
    let peaks = sampler(pool_dir, stop_sampler.clone());
    let stop = tokio_util::sync::CancellationToken::new();
    // The multisig job (souk runs it every escrow.watcher_interval_secs).
    let job = tokio::spawn({
        let (engine, stop) = (engine.clone(), stop.clone());
        async move {
            while !stop.is_cancelled() {
                if let Err(x) = engine.tick().await {
                    tracing::debug!(error = %x, "bench multisig job step");
                }
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    });
    let miner = tokio::spawn({
        let (chain, stop) = (chain.clone(), stop.clone());
        async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(2)) => {
                        let _ = chain.mine(1).await;
                    }
                }
            }
        }
    });
    let ctx = Arc::new(Ctx {
        engine: engine.clone(),
        buyers,
        vendors,
        funder: Arc::new(Mutex::new(funder)),
    });
    let started = Instant::now();
    let tasks: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(n, (id, total))| tokio::spawn(one_escrow(ctx.clone(), n, *id, *total)))
        .collect();
    let mut setups = Vec::new();
    let mut fundings = Vec::new();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok((s, f))) => {
                setups.push(s);
                fundings.push(f);
            }
            Ok(Err(x)) => failures.push(x),
            Err(x) => failures.push(x.to_string()),
        }
    }
    let wall = started.elapsed();
    stop.cancel();
    let _ = job.await;
    let _ = miner.await;
    stop_sampler.store(true, Ordering::Relaxed);
    let p = peaks.join().unwrap_or_default();

    let k = opts.escrows;
    let done = setups.len();
    let total_times: Vec<Duration> = setups.iter().zip(&fundings).map(|(a, b)| *a + *b).collect();
    let (s_med, s_p95, s_max) = spread(setups);
    let (f_med, f_p95, f_max) = spread(fundings);
    let (t_med, t_p95, _) = spread(total_times);
    println!(
        "multisig escrow: {k} escrows started at once, set up and funded through souk's engine; souk's wallet-rpc pool: {} processes; participants: {} buyer + {} vendor wallet-rpc processes of the benchmark",
        opts.pool, opts.participant_processes, opts.participant_processes
    );
    println!("  completed: {done} of {k} (all {k} in flight at once)");
    println!(
        "  setup (placed -> all three agree on the address): median {s_med:.1} s, p95 {s_p95:.1} s, max {s_max:.1} s"
    );
    println!(
        "  funding (payment sent -> order paid, 1 confirmation, a block every 2 s): median {f_med:.1} s, p95 {f_p95:.1} s, max {f_max:.1} s"
    );
    println!("  per escrow, setup + funding: median {t_med:.1} s, p95 {t_p95:.1} s");
    println!(
        "  total wall time: {:.1} s; throughput: {:.2} escrows per minute set up and funded",
        secs(wall),
        done as f64 * 60.0 / secs(wall).max(0.001)
    );
    println!(
        "  resident memory, idle before the escrows: souk {:.0} MiB + pool {:.0} MiB ({} processes)",
        mib(idle.0),
        mib(idle.1),
        idle.2
    );
    println!(
        "  resident memory, peak of 250 ms samples: souk + pool {:.0} MiB (souk alone {:.0} MiB, pool {:.0} MiB over {} processes)",
        mib(p.souk_and_pool),
        mib(p.souk),
        mib(p.pool),
        p.pool_processes
    );
    println!(
        "  participants' side (the benchmark's, not souk's): peak {:.0} MiB over {} wallet-rpc processes; chain (monerod + funding and shop wallets): peak {:.0} MiB",
        mib(p.participants),
        p.participant_processes,
        mib(p.chain)
    );
    for f in failures.iter().take(5) {
        println!("  failed: {f}");
    }
    engine.pool().shutdown().await;
    db.close().await.map_err(|x| vec![x.to_string()])?;
    drop(ctx);
    drop(engine);
    if let Ok(mut c) = Arc::try_unwrap(chain) {
        c.stop();
    }
    drop(tmp);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(vec![format!(
            "bench-multisig: {} of {k} escrows did not finish",
            failures.len()
        )])
    }
}
