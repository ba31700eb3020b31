//! The arbiter's wallet pool: a bounded set of monero-wallet-rpc processes,
//! either children souk starts (free loopback port, random digest login, the
//! pool's wallet dir) or pre-started ones from the config. One process has one
//! wallet open at a time and every call sequence on it runs under its lock
//! (sharing a process between concurrent users corrupted wallets). A wallet is
//! open in at most one process: the routing map sends every request for a file
//! to the process that has it (or is about to have it), so recently used
//! escrow wallets stay open and memory is bounded by the pool size.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, MutexGuard};

use crate::config::monero::{Endpoint, Login};
use crate::monero::{MoneroError, RpcClient, Target, Timeouts, WalletClient};

/// How long a child may take to answer its first call.
const START_LIMIT: Duration = Duration::from_secs(30);
/// Wallet calls (opening a wallet generates an RSA key: seconds on a busy box).
const CALL_LIMIT: Duration = Duration::from_secs(120);

/// What the process behind a slot has open.
struct Session {
    open: Option<String>,
}

struct Slot {
    client: WalletClient,
    child: StdMutex<Option<tokio::process::Child>>,
    session: Mutex<Session>,
    last_used: AtomicU64,
}

/// Which slot a wallet file lives on, and how many requests are using it.
#[derive(Default)]
struct Routes {
    files: HashMap<String, (usize, usize)>,
}

/// The pool.
pub struct WalletPool {
    slots: Vec<Slot>,
    routes: StdMutex<Routes>,
    wallet_dir: PathBuf,
    clock: AtomicU64,
}

impl std::fmt::Debug for WalletPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletPool")
            .field("slots", &self.slots.len())
            .field("wallet_dir", &self.wallet_dir)
            .finish_non_exhaustive()
    }
}

/// A wallet open in one process, held exclusively until dropped.
pub struct OpenWallet<'a> {
    pool: &'a WalletPool,
    slot: usize,
    file: String,
    _session: MutexGuard<'a, Session>,
}

impl OpenWallet<'_> {
    /// The client of the process that has the wallet open.
    pub fn client(&self) -> &WalletClient {
        &self.pool.slots[self.slot].client
    }
}

impl Drop for OpenWallet<'_> {
    fn drop(&mut self) {
        let mut routes = self.pool.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = routes.files.get_mut(&self.file) {
            e.1 = e.1.saturating_sub(1);
        }
    }
}

/// How the pool's processes are reached.
pub enum Processes {
    /// souk starts `size` children of `program` for `daemon`.
    Children {
        /// The monero-wallet-rpc program.
        program: PathBuf,
        /// How many.
        size: usize,
        /// monerod's RPC address.
        daemon: SocketAddr,
        /// monerod's RPC login (`monero.daemon_login_file`), if it wants one.
        daemon_login: Option<crate::config::monero::Login>,
    },
    /// Already running processes.
    Attached {
        /// Their addresses.
        endpoints: Vec<Endpoint>,
        /// Their login.
        login: Login,
    },
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        request: CALL_LIMIT,
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl WalletPool {
    /// Starts (or attaches to) the processes; wallets live in `wallet_dir`.
    pub async fn start(processes: Processes, wallet_dir: &Path) -> Result<Self, String> {
        let mut slots = Vec::new();
        match processes {
            Processes::Children {
                program,
                size,
                daemon,
                daemon_login,
            } => {
                create_private_dir(wallet_dir)?;
                stop_stale_children(wallet_dir).await;
                for i in 0..size {
                    match start_child(&program, daemon, daemon_login.as_ref(), wallet_dir, i).await
                    {
                        Ok(slot) => slots.push(slot),
                        Err(e) => {
                            let pool = Self::new(slots, wallet_dir);
                            pool.shutdown().await;
                            return Err(e);
                        }
                    }
                }
            }
            Processes::Attached { endpoints, login } => {
                for ep in endpoints {
                    let client = WalletClient::new(RpcClient::new(
                        Target::Wallet,
                        &ep,
                        Some(login.clone()),
                        timeouts(),
                    ));
                    slots.push(Slot {
                        client,
                        child: StdMutex::new(None),
                        session: Mutex::new(Session { open: None }),
                        last_used: AtomicU64::new(0),
                    });
                }
            }
        }
        Ok(Self::new(slots, wallet_dir))
    }

    fn new(slots: Vec<Slot>, wallet_dir: &Path) -> Self {
        Self {
            slots,
            routes: StdMutex::new(Routes::default()),
            wallet_dir: wallet_dir.to_owned(),
            clock: AtomicU64::new(1),
        }
    }

    /// Where the wallet files are.
    pub fn wallet_dir(&self) -> &Path {
        &self.wallet_dir
    }

    /// Processes in the pool.
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// Picks the slot for `file` and counts the request on it.
    fn route(&self, file: &str) -> usize {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = routes.files.get_mut(file) {
            e.1 += 1;
            return e.0;
        }
        let mut load = vec![0usize; self.slots.len()];
        for (slot, refs) in routes.files.values() {
            load[*slot] += refs;
        }
        let slot = (0..self.slots.len())
            .min_by_key(|&i| (load[i], self.slots[i].last_used.load(Ordering::Relaxed)))
            .expect("the pool has at least one process");
        routes.files.insert(file.to_owned(), (slot, 1));
        slot
    }

    /// Opens `file` (creating it when `create`), holding its process until the
    /// returned guard is dropped. Every open is followed by a refresh.
    pub async fn open(
        &self,
        file: &str,
        password: &str,
        create: bool,
    ) -> Result<OpenWallet<'_>, MoneroError> {
        let slot = self.route(file);
        tracing::debug!(slot, create, "multisig pool: waiting for the process");
        let mut session = self.slots[slot].session.lock().await;
        tracing::debug!(slot, "multisig pool: process taken");
        let guard_file = file.to_owned();
        // Counted by route(); the guard below uncounts it on every path.
        let result = self
            .switch(slot, &mut session, file, password, create)
            .await;
        self.slots[slot].last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let open = OpenWallet {
            pool: self,
            slot,
            file: guard_file,
            _session: session,
        };
        result.map(|()| open)
    }

    async fn switch(
        &self,
        slot: usize,
        session: &mut Session,
        file: &str,
        password: &str,
        create: bool,
    ) -> Result<(), MoneroError> {
        if session.open.as_deref() == Some(file) && !create {
            return Ok(());
        }
        let client = &self.slots[slot].client;
        if let Some(previous) = session.open.take() {
            client.close_wallet().await?;
            self.forget(&previous, slot);
        }
        if create {
            client.create_wallet(file, password).await?;
        } else {
            client.open_wallet(file, password).await?;
        }
        session.open = Some(file.to_owned());
        tracing::debug!(slot, create, "multisig pool: wallet open; refreshing");
        client.refresh().await
    }

    /// Drops the route of a file closed on `slot` unless someone waits for it.
    fn forget(&self, file: &str, slot: usize) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if routes
            .files
            .get(file)
            .is_some_and(|e| e.0 == slot && e.1 == 0)
        {
            routes.files.remove(file);
        }
    }

    /// Closes `file` if a process has it open (before its files are replaced).
    pub async fn close(&self, file: &str) -> Result<(), MoneroError> {
        let slot = self.route(file);
        let mut session = self.slots[slot].session.lock().await;
        let r = if session.open.as_deref() == Some(file) {
            session.open = None;
            self.slots[slot].client.close_wallet().await
        } else {
            Ok(())
        };
        {
            let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = routes.files.get_mut(file) {
                e.1 = e.1.saturating_sub(1);
            }
        }
        self.forget(file, slot);
        r
    }

    /// Saves and closes every wallet and stops the children (bounded waits,
    /// then a kill by PID).
    pub async fn shutdown(&self) {
        for slot in &self.slots {
            let mut session = slot.session.lock().await;
            let child = slot.child.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(mut child) = child {
                // stop_wallet saves the open wallet and ends the process.
                let _ = slot.client.stop_wallet().await;
                session.open = None;
                if tokio::time::timeout(Duration::from_secs(20), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
            } else if session.open.take().is_some() {
                let _ = slot.client.close_wallet().await;
            }
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            format!(
                "escrow: cannot create the multisig wallet dir {}: {e}",
                dir.display()
            )
        })
}

/// Starts one child and waits until it answers; tries another port when the
/// first one was taken in the meantime.
async fn start_child(
    program: &Path,
    daemon: SocketAddr,
    daemon_login: Option<&crate::config::monero::Login>,
    wallet_dir: &Path,
    index: usize,
) -> Result<Slot, String> {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port().map_err(|e| format!("escrow: no free loopback port: {e}"))?;
        let password = data_encoding::BASE64URL_NOPAD.encode(&crate::market::random_bytes::<24>());
        let login = crate::config::escrow::generated_login("souk", password.clone());
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("--daemon-address")
            .arg(daemon.to_string())
            .args([
                "--trusted-daemon",
                "--daemon-ssl",
                "disabled",
                "--rpc-ssl",
                "disabled",
            ])
            .args([
                "--rpc-bind-ip",
                "127.0.0.1",
                "--rpc-bind-port",
                &port.to_string(),
            ])
            .arg("--rpc-login")
            .arg(format!("souk:{password}"))
            .arg("--wallet-dir")
            .arg(wallet_dir)
            .arg("--log-file")
            .arg(wallet_dir.join(format!("wallet-rpc-{index}.log")))
            .args(["--log-level", "0", "--non-interactive"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(l) = daemon_login {
            // The wallets reach monerod with the login souk itself uses.
            cmd.arg("--daemon-login")
                .arg(format!("{}:{}", l.user, l.password.expose()));
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!(
                "escrow: cannot start {}: {e}; install the Debian package monero or set escrow.multisig_wallet_rpc",
                program.display()
            )
        })?;
        let ep = Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let client =
            WalletClient::new(RpcClient::new(Target::Wallet, &ep, Some(login), timeouts()));
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                last = format!(
                    "escrow: monero-wallet-rpc exited at start ({status}); see {}",
                    wallet_dir.join(format!("wallet-rpc-{index}.log")).display()
                );
                break;
            }
            if client.get_version().await.is_ok() {
                tracing::info!(pid = child.id(), port, "multisig wallet-rpc started");
                if let Some(pid) = child.id() {
                    // So a souk that was killed (its children live on) can stop them next start.
                    let _ = std::fs::write(
                        wallet_dir.join(format!("wallet-rpc-{index}.pid")),
                        pid.to_string(),
                    );
                }
                return Ok(Slot {
                    client,
                    child: StdMutex::new(Some(child)),
                    session: Mutex::new(Session { open: None }),
                    last_used: AtomicU64::new(0),
                });
            }
            if started.elapsed() > START_LIMIT {
                let _ = child.start_kill();
                let _ = child.wait().await;
                last = "escrow: monero-wallet-rpc did not answer within 30 s".to_owned();
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Err(last)
}

/// Stops wallet-rpc children a previous souk left running (killed without a
/// chance to stop them): they still hold escrow wallets open, and a wallet open
/// in two processes gets corrupted. Only a process whose command line is
/// monero-wallet-rpc with this wallet dir is stopped, by its recorded PID.
async fn stop_stale_children(wallet_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(wallet_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("wallet-rpc-") && name.ends_with(".pid")) {
            continue;
        }
        let pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let _ = std::fs::remove_file(&path);
        let Some(pid) = pid else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args
            .first()
            .is_some_and(|a| a.ends_with("monero-wallet-rpc"))
            && args.iter().any(|a| Path::new(a) == wallet_dir);
        let Some(p) = rustix::process::Pid::from_raw(pid).filter(|_| ours) else {
            continue;
        };
        tracing::warn!(pid, "stopping a multisig wallet-rpc left by a previous run");
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
        let started = Instant::now();
        while Path::new(&format!("/proc/{pid}")).exists()
            && started.elapsed() < Duration::from_secs(15)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
}
