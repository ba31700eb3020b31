//! A private Monero chain for tests: `monerod --regtest --offline --fixed-difficulty 1`
//! and monero-wallet-rpc processes with digest login (`--rpc-login`), on free
//! loopback ports in a temp dir. Everything started here is stopped by PID in
//! `Drop`, also when the test panics.
//!
//! ```ignore
//! let chain = Regtest::start(1);                 // monerod + one wallet-rpc
//! let shop = chain.wallet(0);
//! let address = shop.create_wallet("shop");      // created and left open
//! chain.daemon.mine(80, &address);               // coinbase unlocks after 60
//!                                                 // (about 0.3 s a block: RandomX)
//! shop.refresh();
//! ```
//! Extending (escrow tests): add wallet-rpc processes with `Regtest::start(n)`,
//! fund a customer with `daemon.mine(...)` + `transfer` through [`WalletRpc::rpc`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{free_port, tool};

/// How long a process may take to answer its first RPC.
const START_LIMIT: Duration = Duration::from_secs(15);

/// A JSON-RPC error or a transport failure.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcError {
    /// The RPC answered with an error object.
    Rpc {
        /// monero's code.
        code: i64,
        /// monero's message.
        message: String,
    },
    /// No answer, HTTP error, or unreadable answer.
    Transport(String),
}

struct HttpAnswer {
    status: u16,
    challenges: Vec<String>,
    body: String,
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// One request on an open connection (epee binds a digest nonce to its connection,
/// so the answer to a challenge must go over the same one).
fn post(
    s: &mut TcpStream,
    addr: SocketAddr,
    path: &str,
    body: &str,
    auth: Option<&str>,
) -> Result<HttpAnswer, String> {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    // epee keeps the connection open despite `Connection: close`: read the head,
    // then exactly Content-Length bytes.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP answer: {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let challenges = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    Ok(HttpAnswer {
        status,
        challenges,
        body: body.to_owned(),
    })
}

/// Calls `method` on `/json_rpc`, answering a digest challenge when `login` is set.
pub fn json_rpc(
    addr: SocketAddr,
    login: Option<(&str, &str)>,
    method: &str,
    params: Value,
) -> Result<Value, RpcError> {
    let body = json!({"jsonrpc": "2.0", "id": "0", "method": method, "params": params}).to_string();
    let mut s = connect(addr).map_err(RpcError::Transport)?;
    let mut answer = post(&mut s, addr, "/json_rpc", &body, None).map_err(RpcError::Transport)?;
    if answer.status == 401 {
        let (user, password) =
            login.ok_or_else(|| RpcError::Transport("401 and no login".into()))?;
        let mut b = http_auth::PasswordClient::builder();
        for c in &answer.challenges {
            b = b.challenges(c);
        }
        let mut client = b.build().map_err(RpcError::Transport)?;
        let header = client
            .respond(&http_auth::PasswordParams {
                username: user,
                password,
                uri: "/json_rpc",
                method: "POST",
                body: Some(body.as_bytes()),
            })
            .map_err(RpcError::Transport)?;
        answer =
            post(&mut s, addr, "/json_rpc", &body, Some(&header)).map_err(RpcError::Transport)?;
    }
    if answer.status != 200 {
        return Err(RpcError::Transport(format!("HTTP {}", answer.status)));
    }
    let v: Value = serde_json::from_str(&answer.body)
        .map_err(|e| RpcError::Transport(format!("{e}: {}", answer.body)))?;
    if let Some(e) = v.get("error") {
        return Err(RpcError::Rpc {
            code: e["code"].as_i64().unwrap_or(0),
            message: e["message"].as_str().unwrap_or("").to_owned(),
        });
    }
    Ok(v["result"].clone())
}

/// A child process stopped by PID: SIGTERM, a bounded wait, then SIGKILL.
struct Proc {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Panics with the log when the process died before answering.
    fn assert_running(&mut self) {
        if !self.running() {
            panic!(
                "{} exited early; its log:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_none() {
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A regtest monerod.
pub struct Monerod {
    proc: Proc,
    /// RPC address.
    pub addr: SocketAddr,
}

impl Monerod {
    /// Starts monerod with its data in `dir` and waits until its RPC answers.
    pub fn start(dir: &Path) -> Self {
        let rpc_port = free_port();
        let p2p_port = free_port();
        let data = dir.join("monerod");
        std::fs::create_dir_all(&data).unwrap();
        let log = dir.join("monerod.out");
        let child = tool("monerod", "monero")
            .args(["--regtest", "--offline", "--fixed-difficulty", "1"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--log-file")
            .arg(dir.join("monerod.log"))
            .args(["--log-level", "0", "--rpc-bind-ip", "127.0.0.1"])
            .args(["--rpc-bind-port", &rpc_port.to_string()])
            .args(["--p2p-bind-ip", "127.0.0.1"])
            .args(["--p2p-bind-port", &p2p_port.to_string()])
            .args(["--no-zmq", "--no-igd", "--non-interactive"])
            .args(["--check-updates", "disabled", "--rpc-ssl", "disabled"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("monerod starts");
        let mut d = Self {
            proc: Proc {
                name: "monerod",
                child: Some(child),
                log,
            },
            addr: SocketAddr::from(([127, 0, 0, 1], rpc_port)),
        };
        let deadline = Instant::now() + START_LIMIT;
        while d.rpc("get_info", json!({})).is_err() {
            d.proc.assert_running();
            assert!(Instant::now() < deadline, "monerod did not answer in time");
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// `http://127.0.0.1:PORT` for souk's `monero.daemon_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    /// Calls a JSON-RPC method.
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        json_rpc(self.addr, None, method, params)
    }

    /// Blocks in the chain (`get_block_count`, equal to get_info's height).
    pub fn height(&self) -> u64 {
        self.rpc("get_block_count", json!({})).unwrap()["count"]
            .as_u64()
            .unwrap()
    }

    /// Mines `blocks` blocks paying `address`; returns the new height.
    pub fn mine(&self, blocks: u64, address: &str) -> u64 {
        let r = self
            .rpc(
                "generateblocks",
                json!({"amount_of_blocks": blocks, "wallet_address": address}),
            )
            .unwrap();
        r["height"].as_u64().unwrap()
    }

    /// Stops monerod now (by PID), as a crash or an operator would.
    pub fn stop(&mut self) {
        self.proc.stop();
    }
}

/// A monero-wallet-rpc with `--rpc-login`.
pub struct WalletRpc {
    proc: Proc,
    /// Daemon, data dir and number it was started with (for [`WalletRpc::restart`]).
    started: (SocketAddr, PathBuf, usize),
    /// RPC address.
    pub addr: SocketAddr,
    /// Login user.
    pub user: String,
    /// Login password.
    pub password: String,
}

impl WalletRpc {
    /// Starts a wallet-rpc for `daemon`, wallets in `dir/wallets`, login on.
    pub fn start(daemon: &Monerod, dir: &Path, index: usize) -> Self {
        let password = format!("pw-{}-{}", free_port(), std::process::id());
        Self::start_on(daemon.addr, dir, index, free_port(), password)
    }

    /// Stops the process (by PID) and starts it again on the same port with the
    /// same login and wallet dir, as an operator restarting it would; no wallet
    /// is open afterwards.
    pub fn restart(&mut self) {
        self.proc.stop();
        let (daemon, dir, index) = self.started.clone();
        let password = self.password.clone();
        let fresh = Self::start_on(daemon, &dir, index, self.addr.port(), password);
        *self = fresh;
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }

    fn start_on(daemon: SocketAddr, dir: &Path, index: usize, port: u16, password: String) -> Self {
        let wallets = dir.join("wallets");
        std::fs::create_dir_all(&wallets).unwrap();
        let user = format!("souk{index}");
        let log = dir.join(format!("wallet-rpc-{index}.out"));
        let child = tool("monero-wallet-rpc", "monero")
            .args(["--daemon-address", &daemon.to_string()])
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
            .args(["--rpc-login", &format!("{user}:{password}")])
            .arg("--wallet-dir")
            .arg(&wallets)
            .arg("--shared-ringdb-dir")
            .arg(dir.join("ringdb"))
            .arg("--log-file")
            .arg(dir.join(format!("wallet-rpc-{index}.log")))
            .args(["--log-level", "0", "--non-interactive"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("monero-wallet-rpc starts");
        let mut w = Self {
            proc: Proc {
                name: "monero-wallet-rpc",
                child: Some(child),
                log,
            },
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            user,
            password,
            started: (daemon, dir.to_owned(), index),
        };
        let deadline = Instant::now() + START_LIMIT;
        while let Err(e) = w.rpc("get_version", json!({})) {
            w.proc.assert_running();
            assert!(
                Instant::now() < deadline,
                "wallet-rpc did not answer in time: {e:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        w
    }

    /// `http://127.0.0.1:PORT` for souk's `monero.wallet_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `user:password`, the content of souk's `monero.wallet_login_file`.
    pub fn login_line(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }

    /// Calls a JSON-RPC method with the digest login.
    pub fn rpc(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        json_rpc(
            self.addr,
            Some((&self.user, &self.password)),
            method,
            params,
        )
    }

    /// Creates wallet `name` (left open) and returns its primary address.
    pub fn create_wallet(&self, name: &str) -> String {
        self.rpc(
            "create_wallet",
            json!({"filename": name, "password": format!("wallet-{name}"), "language": "English"}),
        )
        .unwrap();
        self.address()
    }

    /// Opens wallet `name` (created by [`Self::create_wallet`]).
    pub fn open_wallet(&self, name: &str) {
        self.rpc(
            "open_wallet",
            json!({"filename": name, "password": format!("wallet-{name}")}),
        )
        .unwrap();
    }

    /// Closes the open wallet.
    pub fn close_wallet(&self) {
        self.rpc("close_wallet", json!({})).unwrap();
    }

    /// The open wallet's primary address.
    pub fn address(&self) -> String {
        self.rpc("get_address", json!({"account_index": 0}))
            .unwrap()["address"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Scans new blocks.
    pub fn refresh(&self) {
        self.rpc("refresh", json!({})).unwrap();
    }

    /// (balance, unlocked balance) of account 0, piconero.
    pub fn balance(&self) -> (u64, u64) {
        let r = self
            .rpc("get_balance", json!({"account_index": 0}))
            .unwrap();
        (
            r["balance"].as_u64().unwrap(),
            r["unlocked_balance"].as_u64().unwrap(),
        )
    }

    /// Stops the process now (by PID).
    pub fn stop(&mut self) {
        self.proc.stop();
    }
}

/// A regtest chain: monerod and `n` wallet-rpc processes in one temp dir.
pub struct Regtest {
    /// Wallet-rpc processes (stopped before the daemon).
    pub wallets: Vec<WalletRpc>,
    /// The daemon.
    pub daemon: Monerod,
    /// Data, wallets and logs; removed last.
    pub dir: tempfile::TempDir,
}

impl Regtest {
    /// Starts monerod and `wallet_rpcs` wallet-rpc processes.
    pub fn start(wallet_rpcs: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Monerod::start(dir.path());
        let wallets = (0..wallet_rpcs)
            .map(|i| WalletRpc::start(&daemon, dir.path(), i))
            .collect();
        Self {
            wallets,
            daemon,
            dir,
        }
    }

    /// For a chain shared by all tests of a binary (kept in a static, whose
    /// `Drop` never runs): stops monerod and the wallet-rpc processes by PID
    /// and removes the chain's directory once the test process has exited.
    pub fn stop_when_tests_end(&self) {
        let pids: Vec<u32> = self
            .wallets
            .iter()
            .filter_map(WalletRpc::pid)
            .chain(self.daemon.pid())
            .collect();
        stop_when_tests_end(&pids, Some(self.dir.path()));
    }

    /// Wallet-rpc number `i`.
    pub fn wallet(&self, i: usize) -> &WalletRpc {
        &self.wallets[i]
    }

    /// The `[monero]` section pointing souk at this chain; the login file is
    /// `login_file` (the caller creates it with [`WalletRpc::login_line`]).
    pub fn souk_toml(&self, login_file: &str, poll_secs: u64) -> String {
        let wallet = self
            .wallets
            .first()
            .map(|w| {
                format!(
                    "wallet_url = \"{}\"\nwallet_login_file = \"{login_file}\"\n",
                    w.url()
                )
            })
            .unwrap_or_default();
        format!(
            "[monero]\ndaemon_url = \"{}\"\n{wallet}network = \"regtest\"\npoll_interval_secs = {poll_secs}\nrequest_timeout_secs = 5\nconnect_timeout_secs = 1\n",
            self.daemon.url()
        )
    }
}

/// Starts a small `sh` watcher that stops `pids` (SIGTERM, then SIGKILL after
/// 10 s) and removes `dir` once this test process has exited, however it ended
/// (for processes a `Drop` may never stop, e.g. when the test binary is killed).
pub fn stop_when_tests_end(pids: &[u32], dir: Option<&Path>) {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let remove = dir
        .map(|d| format!("rm -rf '{}';", d.display()))
        .unwrap_or_default();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill {pids} 2>/dev/null; sleep 10; kill -9 {pids} 2>/dev/null; {remove} true",
        me = std::process::id(),
        pids = pids.join(" ")
    );
    // Deliberately not waited for: it must outlive this process.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh starts");
}

/// A valid address of another network (stagenet), for tests of the network
/// check: an offline stagenet wallet-rpc in `dir` (login on) creates a wallet,
/// names its address and is stopped by PID.
pub fn stagenet_address(dir: &Path) -> String {
    let port = free_port();
    let wallets = dir.join("stagenet-wallets");
    std::fs::create_dir_all(&wallets).unwrap();
    let log = dir.join("stagenet-wallet-rpc.out");
    let password = format!("pw-{port}-{}", std::process::id());
    let child = tool("monero-wallet-rpc", "monero")
        .args(["--stagenet", "--offline", "--rpc-ssl", "disabled"])
        .args([
            "--rpc-bind-ip",
            "127.0.0.1",
            "--rpc-bind-port",
            &port.to_string(),
        ])
        .args(["--rpc-login", &format!("stagenet:{password}")])
        .arg("--wallet-dir")
        .arg(&wallets)
        .arg("--log-file")
        .arg(dir.join("stagenet-wallet-rpc.log"))
        .args(["--log-level", "0", "--non-interactive"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("monero-wallet-rpc starts");
    let mut proc = Proc {
        name: "monero-wallet-rpc (stagenet)",
        child: Some(child),
        log,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let login = Some(("stagenet", password.as_str()));
    let deadline = Instant::now() + START_LIMIT;
    while json_rpc(addr, login, "get_version", json!({})).is_err() {
        proc.assert_running();
        assert!(
            Instant::now() < deadline,
            "stagenet wallet-rpc did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    json_rpc(
        addr,
        login,
        "create_wallet",
        json!({"filename": "other-network", "password": "", "language": "English"}),
    )
    .unwrap();
    let address =
        json_rpc(addr, login, "get_address", json!({"account_index": 0})).unwrap()["address"]
            .as_str()
            .unwrap()
            .to_owned();
    proc.stop();
    address
}
