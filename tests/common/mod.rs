//! Test harness: runs the real `souk` binary on free loopback ports in a temp dir
//! and stops it (SIGTERM, then SIGKILL) when the test ends, pass or fail.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod browser;
pub mod regtest;
pub mod shop;
pub mod storefront;
pub mod visitor;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn souk_bin() -> &'static str {
    env!("CARGO_BIN_EXE_souk")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `souk` command with a clean environment (no stray SOUK_* or RUST_LOG).
pub fn souk(dir: &Path) -> Command {
    let mut cmd = Command::new(souk_bin());
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// Runs a souk command to completion.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    souk(dir).args(args).stdin(Stdio::null()).output().unwrap()
}

/// A running souk.
pub struct Souk {
    /// Temp dir holding config, data and logs; removed on drop.
    pub dir: tempfile::TempDir,
    /// The process.
    pub child: Option<Child>,
    /// Shop listener (TCP tests).
    pub shop: SocketAddr,
    /// Metrics listener.
    pub metrics: SocketAddr,
    stderr_path: PathBuf,
}

/// Options for [`Souk::start`].
#[derive(Default)]
pub struct Opts {
    /// Extra TOML appended to the generated config (sections only).
    pub extra_toml: String,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Files to create in the temp dir before start: (relative path, content, mode).
    pub files: Vec<(String, String, u32)>,
    /// Shop listener override (e.g. `unix:...`); default TCP on a free port.
    pub shop_listen: Option<String>,
    /// Skip waiting for /healthz (for tests of failing starts).
    pub no_wait: bool,
}

/// How a start attempt ended.
enum Ready {
    Yes,
    PortTaken,
}

impl Souk {
    /// Starts souk and waits until /healthz answers.
    pub fn start(opts: Opts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, opts)
    }

    /// Starts souk in a prepared temp dir. A free port can be taken by another
    /// test between probing and binding; souk then exits naming the address in
    /// use, and the start is retried on fresh ports.
    pub fn start_in(dir: tempfile::TempDir, opts: Opts) -> Self {
        use std::os::unix::fs::PermissionsExt;
        for (rel, content, mode) in &opts.files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, content).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        let toml = format!(
            "data_dir = \"{data}\"\n{extra}\n",
            data = dir.path().join("data").display(),
            extra = opts.extra_toml,
        );
        let config = dir.path().join("souk.toml");
        std::fs::write(&config, toml).unwrap();
        let stderr_path = dir.path().join("stderr.log");
        let mut souk = Self {
            dir,
            child: None,
            shop: "127.0.0.1:1".parse().unwrap(),
            metrics: "127.0.0.1:1".parse().unwrap(),
            stderr_path,
        };
        for attempt in 1..=5 {
            souk.shop = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            souk.metrics = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let shop_listen = opts
                .shop_listen
                .clone()
                .unwrap_or_else(|| souk.shop.to_string());
            let mut cmd = self::souk(souk.dir.path());
            cmd.args(["serve", "--config"])
                .arg(&config)
                .env("SOUK_SHOP__LISTEN", &shop_listen)
                .env("SOUK_METRICS__LISTEN", souk.metrics.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&souk.stderr_path).unwrap());
            for (k, v) in &opts.env {
                cmd.env(k, v);
            }
            souk.child = Some(cmd.spawn().unwrap());
            if opts.no_wait {
                return souk;
            }
            match souk.wait_ready(&shop_listen) {
                Ready::Yes => return souk,
                Ready::PortTaken if attempt < 5 => continue,
                Ready::PortTaken => panic!("no free ports after 5 tries:\n{}", souk.stderr()),
            }
        }
        unreachable!()
    }

    /// Waits for *this* process to say it is ready and answer /healthz: a
    /// 200 alone could come from another test's souk on a reused port.
    fn wait_ready(&mut self, listen: &str) -> Ready {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ours = self.stderr().contains("souk is ready");
            let ok = ours
                && match listen.strip_prefix("unix:") {
                    Some(path) => raw_unix(
                        Path::new(path),
                        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    )
                    .map(|r| r.status == 200)
                    .unwrap_or(false),
                    None => get(self.shop, "/healthz")
                        .map(|r| r.status == 200)
                        .unwrap_or(false),
                };
            if ok {
                return Ready::Yes;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let stderr = self.stderr();
                if stderr.contains("address already in use") {
                    self.child = None;
                    return Ready::PortTaken;
                }
                panic!("souk exited with {status} before it was ready:\n{stderr}");
            }
            assert!(
                Instant::now() < deadline,
                "souk not ready after 20 s:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What souk wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Sends a signal by PID.
    pub fn signal(&self, sig: rustix::process::Signal) {
        let pid = self.child.as_ref().unwrap().id();
        rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), sig)
            .unwrap();
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let child = self.child.as_mut()?;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(rustix::process::Signal::TERM);
        self.wait_exit(Duration::from_secs(20))
            .expect("souk did not stop within 20 s of SIGTERM")
    }
}

impl Drop for Souk {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take()
            && child.try_wait().ok().flatten().is_none()
        {
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Children souk started with paths in its temp dir (the multisig
        // wallet-rpc pool) outlive a souk that had to be SIGKILLed.
        reap_processes_mentioning(self.dir.path());
    }
}

/// SIGKILLs every process whose command line mentions `dir`.
pub fn reap_processes_mentioning(dir: &Path) {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let mentions = std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle));
        if mentions
            && pid != std::process::id() as i32
            && let Some(p) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl Resp {
    /// First header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &[u8]) -> std::io::Result<Resp> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Sends raw bytes over TCP and reads the whole answer (the request should say
/// `Connection: close`).
pub fn raw_tcp(addr: SocketAddr, request: &str) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse(&buf)
}

/// Same over a unix socket.
pub fn raw_unix(path: &Path, request: &str) -> std::io::Result<Resp> {
    let mut s = UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request.as_bytes())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse(&buf)
}

/// Reads a response from an open stream until the peer closes it.
pub fn read_response(s: &mut TcpStream) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    parse(&buf)
}

/// `GET path` with optional extra header lines.
pub fn get_with(addr: SocketAddr, path: &str, extra: &str) -> std::io::Result<Resp> {
    raw_tcp(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: shop.onion\r\n{extra}Connection: close\r\n\r\n"),
    )
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Resp> {
    get_with(addr, path, "")
}

/// `POST path` with a body.
pub fn post(addr: SocketAddr, path: &str, content_type: &str, body: &str) -> std::io::Result<Resp> {
    raw_tcp(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: shop.onion\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Runs a command that must exist, failing with the package to install when it does not.
pub fn tool(name: &str, package: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(found, "{name} is not installed: apt-get install {package}");
    Command::new(name)
}
