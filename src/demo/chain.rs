//! The demo's private Monero chain: `monerod --regtest --offline
//! --fixed-difficulty 1` and two `monero-wallet-rpc` processes (the shop's
//! wallet and the demo buyers' wallet) started as children on free loopback
//! ports, with digest logins made of random credentials kept in 0600 files.
//!
//! The children are stopped by PID when the demo ends (wallets first, then the
//! daemon), and also when souk dies without cleaning up: they are started
//! through util-linux `setpriv --pdeathsig KILL` when it is installed, so the
//! kernel kills them with their parent (souk forbids `unsafe`, which rules out
//! setting the signal itself between fork and exec). Each child runs in its own
//! process group, so a Ctrl-C in the terminal reaches souk only and souk stops
//! them in order.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::monero::{Endpoint, read_login_file};
use crate::monero::{Retry, RpcClient, Target, Timeouts};

/// Blocks mined before the demo opens: coinbase outputs unlock after 60 and
/// ring size 16 needs 15 more spendable outputs.
pub const START_BLOCKS: u64 = 80;
/// How often the background miner adds a block (so payments confirm).
pub const BLOCK_EVERY: Duration = Duration::from_secs(5);
/// How long a child may take to answer its first RPC.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The install hint when the binaries are missing.
pub const INSTALL_HINT: &str = "souk demo: monerod and monero-wallet-rpc are not on PATH, so the demo runs without payments; `apt install monero` adds them";

/// A program on PATH, if any.
pub fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}

/// Whether both Monero programs are installed.
pub fn available() -> bool {
    on_path("monerod").is_some() && on_path("monero-wallet-rpc").is_some()
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn random_hex() -> String {
    data_encoding::HEXLOWER.encode(&crate::market::random_bytes::<16>())
}

/// Writes `text` to a new 0600 file (login files must not be readable by others).
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A child stopped by PID: SIGTERM, a bounded wait, then SIGKILL.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(
        name: &'static str,
        args: &[String],
        log: PathBuf,
        extra: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let program = on_path(name).ok_or_else(|| format!("{name} is not on PATH"))?;
        let mut cmd = match on_path("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .args(args)
            .args(extra)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err with the end of its log when the child has exited.
    fn check_running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            _ => {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                Err(format!(
                    "{} exited at start: {}",
                    self.name,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                ))
            }
        }
    }

    fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let deadline = Instant::now() + grace;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The running chain.
pub struct Chain {
    /// Wallets first: they are stopped before the daemon.
    procs: Vec<Proc>,
    /// monerod's RPC (`http://127.0.0.1:PORT`).
    pub daemon_url: String,
    /// Login file of monerod's RPC.
    pub daemon_login_file: PathBuf,
    /// The shop's wallet-rpc.
    pub shop_wallet_url: String,
    /// Login file of the shop's wallet-rpc.
    pub shop_login_file: PathBuf,
    /// The demo buyers' wallet-rpc.
    pub buyer_wallet_url: String,
    /// Login file of the buyers' wallet-rpc.
    pub buyer_login_file: PathBuf,
    /// The buyers' wallet address (mining pays it).
    pub buyer_address: String,
    daemon: Arc<RpcClient>,
    /// monerod's RPC port and login (None: no login), for more wallet-rpc processes.
    daemon_port: u16,
    daemon_login: Option<String>,
    /// Where the wallet-rpc processes keep their files.
    dir: PathBuf,
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(120),
    }
}

fn client(target: Target, url: &str, login_file: &Path) -> Result<RpcClient, String> {
    let ep = Endpoint::parse("demo", url)?;
    let login = read_login_file("demo", login_file)?;
    Ok(RpcClient::new(target, &ep, Some(login), timeouts()))
}

/// Calls `method` until it answers or `proc` dies or the limit passes.
async fn wait_answer(rpc: &RpcClient, method: &'static str, proc: &mut Proc) -> Result<(), String> {
    let deadline = Instant::now() + START_LIMIT;
    loop {
        match rpc
            .json_rpc::<_, Value>(method, json!({}), Retry::Never)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => {
                proc.check_running()?;
                if Instant::now() > deadline {
                    return Err(format!("{} did not answer in time: {e}", proc.name));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Starts a wallet-rpc for `role` on monerod's `daemon_port` with a random
/// digest login in a 0600 file; returns it, its URL and the login file.
fn spawn_wallet_rpc(
    dir: &Path,
    role: &str,
    daemon_port: u16,
    daemon_login: Option<&str>,
) -> Result<(Proc, String, PathBuf), String> {
    let s = |v: &str| v.to_owned();
    let p = |v: &Path| v.display().to_string();
    let port = free_port()?;
    let login = format!("demo:{}", random_hex());
    let login_file = dir.join(format!("{role}-wallet.login"));
    write_private(&login_file, &format!("{login}\n"))?;
    let proc = Proc::spawn(
        "monero-wallet-rpc",
        &[
            s("--daemon-address"),
            format!("127.0.0.1:{daemon_port}"),
            s("--trusted-daemon"),
            s("--daemon-ssl"),
            s("disabled"),
            s("--rpc-ssl"),
            s("disabled"),
            s("--rpc-bind-ip"),
            s("127.0.0.1"),
            s("--rpc-bind-port"),
            port.to_string(),
            s("--rpc-login"),
            login,
            s("--wallet-dir"),
            p(&dir.join("wallets")),
            s("--shared-ringdb-dir"),
            p(&dir.join(format!("ringdb-{role}"))),
            s("--log-file"),
            p(&dir.join(format!("{role}-wallet-rpc.log"))),
            s("--log-level"),
            s("0"),
            s("--non-interactive"),
        ],
        dir.join(format!("{role}-wallet-rpc.out")),
        daemon_login
            .iter()
            .flat_map(|l| [s("--daemon-login"), (*l).to_owned()]),
    )?;
    Ok((proc, format!("http://127.0.0.1:{port}"), login_file))
}

impl Chain {
    /// The process ids of the children (monerod last).
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Proc::pid).collect()
    }

    /// Starts monerod and the two wallet-rpc processes with their data in
    /// `dir` (reused when it holds a chain from an earlier run), opens or
    /// creates the wallets and mines until the buyers' coins are spendable.
    pub async fn start(dir: &Path) -> Result<Self, String> {
        Self::start_with(dir, true).await
    }

    /// [`Chain::start`], with monerod's RPC behind a random digest login when
    /// `daemon_login` (souk's multisig wallet-rpc children dial the daemon
    /// without one, so bench-multisig starts it without).
    pub async fn start_with(dir: &Path, daemon_login: bool) -> Result<Self, String> {
        let mut chain = Self::spawn(dir, daemon_login).await?;
        chain
            .prepare_wallets(dir)
            .await
            .inspect_err(|_| chain.stop())?;
        Ok(chain)
    }

    async fn spawn(dir: &Path, with_login: bool) -> Result<Self, String> {
        std::fs::create_dir_all(dir.join("wallets"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (rpc_port, p2p_port) = (free_port()?, free_port()?);
        let daemon_login = format!("demo:{}", random_hex());
        let daemon_login_file = dir.join("monerod.login");
        write_private(&daemon_login_file, &format!("{daemon_login}\n"))?;
        let daemon_login = with_login.then_some(daemon_login);
        let s = |v: &str| v.to_owned();
        let p = |v: &Path| v.display().to_string();
        let monerod = Proc::spawn(
            "monerod",
            &[
                s("--regtest"),
                s("--offline"),
                s("--fixed-difficulty"),
                s("1"),
                s("--data-dir"),
                p(&dir.join("monerod")),
                s("--log-file"),
                p(&dir.join("monerod.log")),
                s("--log-level"),
                s("0"),
                s("--rpc-bind-ip"),
                s("127.0.0.1"),
                s("--rpc-bind-port"),
                rpc_port.to_string(),
                s("--p2p-bind-ip"),
                s("127.0.0.1"),
                s("--p2p-bind-port"),
                p2p_port.to_string(),
                s("--no-zmq"),
                s("--no-igd"),
                s("--non-interactive"),
                s("--check-updates"),
                s("disabled"),
                s("--rpc-ssl"),
                s("disabled"),
            ],
            dir.join("monerod.out"),
            daemon_login
                .iter()
                .flat_map(|l| [s("--rpc-login"), l.clone()]),
        )?;
        let daemon_url = format!("http://127.0.0.1:{rpc_port}");
        let mut procs = vec![monerod];
        let daemon = if daemon_login.is_some() {
            client(Target::Daemon, &daemon_url, &daemon_login_file)
        } else {
            Endpoint::parse("demo", &daemon_url)
                .map(|ep| RpcClient::new(Target::Daemon, &ep, None, timeouts()))
        }
        .inspect_err(|_| procs[0].stop(Duration::from_secs(5)))?;
        if let Err(e) = wait_answer(&daemon, "get_info", &mut procs[0]).await {
            procs[0].stop(Duration::from_secs(5));
            return Err(e);
        }
        let mut wallet = |role: &str| -> Result<(String, PathBuf), String> {
            let (proc, url, login_file) =
                spawn_wallet_rpc(dir, role, rpc_port, daemon_login.as_deref())?;
            // Wallets go before the daemon so they are stopped first.
            procs.insert(0, proc);
            Ok((url, login_file))
        };
        let started = wallet("shop").and_then(|shop| Ok((shop, wallet("buyer")?)));
        let mut chain = Self {
            procs,
            daemon_url,
            daemon_login_file,
            shop_wallet_url: String::new(),
            shop_login_file: PathBuf::new(),
            buyer_wallet_url: String::new(),
            buyer_login_file: PathBuf::new(),
            buyer_address: String::new(),
            daemon: Arc::new(daemon),
            daemon_port: rpc_port,
            daemon_login,
            dir: dir.to_owned(),
        };
        let ((shop_url, shop_login), (buyer_url, buyer_login)) =
            started.inspect_err(|_| chain.stop())?;
        (chain.shop_wallet_url, chain.shop_login_file) = (shop_url, shop_login);
        (chain.buyer_wallet_url, chain.buyer_login_file) = (buyer_url, buyer_login);
        Ok(chain)
    }

    /// A client for the shop's (`buyer == false`) or the buyers' wallet-rpc.
    pub fn wallet_rpc(&self, buyer: bool) -> Result<RpcClient, String> {
        if buyer {
            client(
                Target::Wallet,
                &self.buyer_wallet_url,
                &self.buyer_login_file,
            )
        } else {
            client(Target::Wallet, &self.shop_wallet_url, &self.shop_login_file)
        }
    }

    /// Starts one more wallet-rpc on this chain (`role` names its files; it
    /// is stopped with the chain) and waits until it answers.
    pub async fn add_wallet_rpc(&mut self, role: &str) -> Result<RpcClient, String> {
        let (proc, url, login_file) = spawn_wallet_rpc(
            &self.dir,
            role,
            self.daemon_port,
            self.daemon_login.as_deref(),
        )?;
        self.procs.insert(0, proc);
        let rpc = client(Target::Wallet, &url, &login_file)?;
        wait_answer(&rpc, "get_version", &mut self.procs[0]).await?;
        Ok(rpc)
    }

    async fn prepare_wallets(&mut self, dir: &Path) -> Result<(), String> {
        // procs: [buyer wallet-rpc, shop wallet-rpc, monerod]
        for (i, buyer) in [(1, false), (0, true)] {
            let rpc = self.wallet_rpc(buyer)?;
            wait_answer(&rpc, "get_version", &mut self.procs[i]).await?;
            let name = if buyer { "buyer" } else { "shop" };
            open_or_create(&rpc, dir, name).await?;
            // Scan new blocks every 2 s (the default is 20 s) so payments
            // show up on the order page quickly.
            rpc.json_rpc::<_, Value>(
                "auto_refresh",
                json!({"enable": true, "period": 2}),
                Retry::Never,
            )
            .await
            .map_err(|e| e.to_string())?;
            if buyer {
                let a: Value = rpc
                    .json_rpc("get_address", json!({"account_index": 0}), Retry::Safe)
                    .await
                    .map_err(|e| e.to_string())?;
                self.buyer_address = a["address"].as_str().unwrap_or_default().to_owned();
            }
        }
        let height = self.height().await?;
        if height < START_BLOCKS {
            self.mine(START_BLOCKS - height).await?;
        }
        let buyer = self.wallet_rpc(true)?;
        buyer
            .json_rpc::<_, Value>("refresh", json!({}), Retry::Never)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Blocks in the chain.
    pub async fn height(&self) -> Result<u64, String> {
        let r: Value = self
            .daemon
            .json_rpc("get_block_count", json!({}), Retry::Safe)
            .await
            .map_err(|e| e.to_string())?;
        Ok(r["count"].as_u64().unwrap_or(0))
    }

    /// Mines `blocks` blocks paying the buyers' wallet.
    pub async fn mine(&self, blocks: u64) -> Result<(), String> {
        self.daemon
            .json_rpc::<_, Value>(
                "generateblocks",
                json!({"amount_of_blocks": blocks, "wallet_address": self.buyer_address}),
                Retry::Never,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Whether transaction `hash` is in a block yet (monerod keeps a
    /// transaction from an offline node in its Dandelion++ stem for a while
    /// before block templates take it).
    pub async fn in_block(&self, hash: &str) -> Result<bool, String> {
        let r: Value = self
            .daemon
            .plain(
                "/get_transactions",
                json!({"txs_hashes": [hash]}),
                Retry::Safe,
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(r["txs"][0]["in_pool"].as_bool() == Some(false))
    }

    /// A block every [`BLOCK_EVERY`] until `stop` is cancelled.
    pub async fn mine_until(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(BLOCK_EVERY) => {
                    if let Err(e) = self.mine(1).await {
                        tracing::warn!(error = %e, "demo chain: mining a block failed");
                    }
                }
            }
        }
    }

    /// Stops every child (wallets first, then monerod).
    pub fn stop(&mut self) {
        for p in &mut self.procs {
            let grace = if p.name == "monerod" { 30 } else { 10 };
            p.stop(Duration::from_secs(grace));
        }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens wallet `name` in `dir/wallets`, creating it (with a random password
/// kept in a 0600 file next to it) the first time.
async fn open_or_create(rpc: &RpcClient, dir: &Path, name: &str) -> Result<(), String> {
    let pw_file = dir.join(format!("{name}-wallet.password"));
    let exists = dir.join("wallets").join(format!("{name}.keys")).exists();
    if exists {
        let password = std::fs::read_to_string(&pw_file)
            .map_err(|e| format!("cannot read {}: {e}", pw_file.display()))?;
        rpc.json_rpc::<_, Value>(
            "open_wallet",
            json!({"filename": name, "password": password.trim()}),
            Retry::Never,
        )
        .await
        .map_err(|e| e.to_string())?;
    } else {
        let password = random_hex();
        write_private(&pw_file, &password)?;
        rpc.json_rpc::<_, Value>(
            "create_wallet",
            json!({"filename": name, "password": password, "language": "English"}),
            Retry::Never,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `souk demo-pay`: pays a `monero:` link (or an address and an XMR amount)
/// from the demo buyers' wallet of the demo whose data is in `demo_dir`.
pub async fn pay(demo_dir: &Path, target: &str, amount: Option<&str>) -> Result<String, String> {
    let (address, xmr) = match target.strip_prefix("monero:") {
        Some(uri) => {
            let (address, query) = uri.split_once('?').unwrap_or((uri, ""));
            let from_uri = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "tx_amount")
                .map(|(_, v)| v.into_owned());
            (address.to_owned(), amount.map(str::to_owned).or(from_uri))
        }
        None => (target.to_owned(), amount.map(str::to_owned)),
    };
    let xmr = xmr.ok_or("no amount: give the order page's monero: link, or ADDRESS AMOUNT")?;
    let amount =
        crate::market::Piconero::parse_xmr(&xmr).map_err(|e| format!("amount {xmr:?}: {e}"))?;
    let dir = demo_dir.join("chain");
    let url = std::fs::read_to_string(dir.join("buyer-wallet.url")).map_err(|_| {
        format!(
            "{} has no demo chain: start `souk demo --data-dir {}` with monerod and monero-wallet-rpc installed",
            demo_dir.display(),
            demo_dir.display()
        )
    })?;
    let r: Value = client(Target::Wallet, url.trim(), &dir.join("buyer-wallet.login"))?
        .json_rpc(
            "transfer",
            json!({"destinations": [{"amount": amount.0, "address": address}], "priority": 0}),
            Retry::Never,
        )
        .await
        .map_err(|e| format!("the demo wallet did not pay: {e}"))?;
    Ok(r["tx_hash"].as_str().unwrap_or_default().to_owned())
}

/// The chain as souk's `[monero]` and `[escrow]` settings see it.
pub fn configure(chain: &Chain, config: &mut crate::config::Config) {
    config.monero.daemon_url = chain.daemon_url.clone();
    config.monero.daemon_login_file = chain.daemon_login_file.clone();
    config.monero.wallet_url = chain.shop_wallet_url.clone();
    config.monero.wallet_login_file = chain.shop_login_file.clone();
    config.monero.network = crate::config::Network::Regtest;
    config.monero.poll_interval_secs = 5;
    config.escrow.mode = "managed".to_owned();
    // A block comes every 5 s: two confirmations make a demo payment count
    // in about 10 s (a real shop waits for 10, about 20 minutes).
    config.escrow.confirmations = 2;
    config.escrow.watcher_interval_secs = 2;
    config.escrow.commission_bps = 250;
}

/// Where the demo writes the buyers' wallet URL for `souk demo-pay`.
pub fn publish(chain: &Chain, dir: &Path) -> Result<(), String> {
    std::fs::write(dir.join("buyer-wallet.url"), &chain.buyer_wallet_url)
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))
}
