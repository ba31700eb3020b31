//! `souk demo`: a living shop in one command. Seeds a data set (vendors, about a
//! thousand listings with drawn pictures, buyers, orders in every state) into a
//! temporary data dir (removed on exit) or a given one, then serves it on
//! 127.0.0.1 and prints the address and the demo sign-ins.
//!
//! Hidden options size the data set for benchmarks (`--listings`, `--orders`,
//! `--seed-only`); `bench_serve` is the hidden `souk bench-serve` baseline.

pub mod bench_escrow;
pub mod bench_multisig;
pub mod bench_serve;
mod bulk;
pub mod chain;
pub mod pictures;
mod seed;
mod words;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, ListenAddr, Loaded};
use crate::store::Db;

pub use seed::{Login, Seeded};

/// The demo's rules page.
pub const RULES: &str = "This is a **demo shop**: everything here is made up and nothing is for sale.\n\n\
- Be kind to other people.\n- Describe what you sell honestly, with your own photos.\n\
- Payments go through escrow only; never pay outside the shop.\n";

/// What `souk demo` was asked for.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Keep the data here (and reuse it next time) instead of a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Listings to create.
    pub listings: usize,
    /// Benchmark orders to create instead of the demo's orders in every state (0: the demo's).
    pub orders: usize,
    /// Seed and exit without serving.
    pub seed_only: bool,
    /// Serve without the private chain even when Monero is installed.
    pub no_payments: bool,
}

/// The demo's sign-ins (the same on every run).
pub fn logins() -> Vec<Login> {
    seed::names()
        .into_iter()
        .map(|(role, name)| Login {
            role,
            password: seed::password(name),
            username: name.to_owned(),
        })
        .collect()
}

/// A directory removed again when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<Self, String> {
        use std::os::unix::fs::DirBuilderExt;
        let name = format!(
            "souk-demo-{}",
            data_encoding::HEXLOWER.encode(&crate::market::random_bytes::<6>())
        );
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| {
                format!(
                    "cannot create a temporary directory {}: {e}",
                    path.display()
                )
            })?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 127.0.0.1:`preferred` when free, else a free port the system picks.
fn free_addr(preferred: u16) -> Result<SocketAddr, String> {
    let try_bind =
        |port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).and_then(|l| l.local_addr());
    try_bind(preferred)
        .or_else(|_| try_bind(0))
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Seeds the shop in `dir` unless it was seeded before; returns what was made.
pub async fn prepare(
    dir: &std::path::Path,
    listings: usize,
    orders: usize,
) -> Result<Option<Seeded>, String> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let path = dir.join("souk.db");
    let (db, _) = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let seeded_before = db
        .read(|c| crate::store::accounts::id_by_name(c, "admin"))
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    let seeded = if seeded_before {
        None
    } else {
        Some(seed::seed(&db, listings, orders).await?)
    };
    db.close().await.map_err(|e| e.to_string())?;
    Ok(seeded)
}

/// Runs `souk demo`.
pub async fn run(opts: DemoOptions) -> Result<(), Vec<String>> {
    if opts.seed_only && opts.data_dir.is_none() {
        return Err(vec![
            "--seed-only needs --data-dir DIR: a temporary directory would be removed at once"
                .to_owned(),
        ]);
    }
    let (dir, _temp) = match &opts.data_dir {
        Some(d) => (d.clone(), None),
        None => {
            let t = TempDir::create().map_err(|e| vec![e])?;
            (t.0.clone(), Some(t))
        }
    };
    let started = Instant::now();
    match prepare(&dir, opts.listings, opts.orders)
        .await
        .map_err(|e| vec![e])?
    {
        Some(s) => println!(
            "souk demo: seeded {} listings ({} pictures), {} orders and {} accounts in {:.1} s",
            s.listings,
            s.images,
            s.orders,
            logins().len(),
            started.elapsed().as_secs_f64()
        ),
        None => println!(
            "souk demo: using the demo shop already in {}",
            dir.display()
        ),
    }
    if opts.seed_only {
        println!("souk demo: data in {}", dir.display());
        return Ok(());
    }
    let mut config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    config.shop.name = "souk demo".to_owned();
    let chain = if opts.no_payments {
        println!("souk demo: --no-payments: running the shop without payments");
        None
    } else {
        start_chain(&dir, &mut config).await
    };
    let shop = free_addr(8080).map_err(|e| vec![e])?;
    config.shop.listen = ListenAddr::Tcp(shop);
    config.metrics.listen = ListenAddr::Tcp(free_addr(0).map_err(|e| vec![e])?);
    println!();
    println!("  The demo shop: http://{shop}/");
    println!(
        "  Data: {}{}",
        dir.display(),
        if _temp.is_some() {
            " (removed when the demo stops)"
        } else {
            ""
        }
    );
    println!();
    println!("  {:<10} {:<16} password", "role", "username");
    for l in logins() {
        println!("  {:<10} {:<16} {}", l.role, l.username, l.password);
    }
    println!();
    let stop_mining = tokio_util::sync::CancellationToken::new();
    let miner = chain.as_ref().map(|c| {
        print_payment_help(&dir);
        tokio::spawn(c.clone().mine_until(stop_mining.clone()))
    });
    println!("  Stop it with Ctrl-C.");
    let served = crate::app::serve(Loaded {
        config,
        source: None,
    })
    .await
    .map_err(|e| e.0);
    stop_mining.cancel();
    if let Some(m) = miner {
        let _ = m.await;
    }
    // The last handle: stops the wallets, then monerod.
    drop(chain);
    served
}

/// The private chain when monerod and monero-wallet-rpc are installed (and the
/// shop configured for it), or `None` with one line saying why.
async fn start_chain(dir: &std::path::Path, config: &mut Config) -> Option<Arc<chain::Chain>> {
    if !chain::available() {
        println!("{}", chain::INSTALL_HINT);
        return None;
    }
    println!(
        "souk demo: starting a private regtest Monero chain and mining {} blocks for the demo buyers' coins (about 30 s)",
        chain::START_BLOCKS
    );
    let dir = dir.join("chain");
    let started = Instant::now();
    match chain::Chain::start(&dir).await {
        Ok(c) => {
            if let Err(e) = chain::publish(&c, &dir) {
                println!("souk demo: {e}; running without payments");
                return None;
            }
            chain::configure(&c, config);
            println!(
                "souk demo: chain ready in {:.1} s (monerod and monero-wallet-rpc pids {:?})",
                started.elapsed().as_secs_f64(),
                c.pids()
            );
            Some(Arc::new(c))
        }
        Err(e) => {
            println!("souk demo: the demo chain did not start ({e}); running without payments");
            None
        }
    }
}

fn print_payment_help(dir: &std::path::Path) {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "souk".to_owned());
    println!(
        "  Payments: a private regtest chain, a block every {} s; 2 confirmations make an order paid.",
        chain::BLOCK_EVERY.as_secs()
    );
    println!("  Demo buyers pay from the demo wallet: sign in as a buyer, order something, copy");
    println!("  the order page's monero: link and run");
    println!(
        "    {exe} demo-pay --demo-dir {} 'monero:ADDRESS?tx_amount=AMOUNT'",
        dir.display()
    );
    println!();
}
