//! `souk demo` with its private regtest chain: it starts monerod and
//! monero-wallet-rpc as children, a demo buyer pays an order from the demo
//! wallet with the command the banner prints and sees it paid, and after
//! SIGTERM no child is left and the temporary data is gone.

mod common;

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::storefront::*;
use common::*;

/// The demo process, killed (with its children, by PID) if the test fails.
struct Demo {
    child: Child,
    out: std::path::PathBuf,
    children: Vec<u32>,
}

impl Demo {
    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_raw(self.child.id() as i32).unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in &self.children {
            if let Some(p) = rustix::process::Pid::from_raw(*pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Processes whose parent is `ppid`: (pid, command name).
fn children_of(ppid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let ppid_of = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid_of == Some(ppid) {
            out.push((pid, comm));
        }
    }
    out
}

/// Whether a process is still there (zombies count as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .and_then(|i| s[i + 2..].chars().next())
            .is_some_and(|state| state != 'Z')
    })
}

#[test]
fn demo_with_its_own_chain_takes_a_payment_and_stops_its_children() {
    tool("monerod", "monero");
    tool("monero-wallet-rpc", "monero");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo.out");
    let child = souk(tmp.path())
        .env("TMPDIR", tmp.path())
        .args(["demo", "--listings", "12"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(tmp.path().join("demo.err")).unwrap())
        .spawn()
        .unwrap();
    let mut demo = Demo {
        child,
        out,
        children: Vec::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while !demo.stdout().contains("Stop it with Ctrl-C.") {
        assert!(
            demo.child.try_wait().unwrap().is_none(),
            "the demo exited:\n{}\n{}",
            demo.stdout(),
            std::fs::read_to_string(tmp.path().join("demo.err")).unwrap_or_default()
        );
        assert!(Instant::now() < deadline, "no banner:\n{}", demo.stdout());
        std::thread::sleep(Duration::from_millis(200));
    }
    let banner = demo.stdout();
    let kids = children_of(demo.child.id());
    demo.children = kids.iter().map(|(p, _)| *p).collect();
    let names: Vec<&str> = kids.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "monerod").count(),
        1,
        "{kids:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("monero-wallet"))
            .count(),
        2,
        "{kids:?}"
    );
    assert!(
        banner.contains("Payments: a private regtest chain"),
        "{banner}"
    );

    // A demo buyer orders through the shop's forms.
    let shop: std::net::SocketAddr = between(&banner, "The demo shop: http://", "/")
        .parse()
        .unwrap();
    let mut buyer = Browser::new(shop);
    buyer.login("alice", "alice-demo-pass");
    let home = buyer.get("/");
    let listing = between(&home.body, "href=\"/listings/", "\"");
    let r = order_one(&mut buyer, &listing, "1 Demo Street");
    assert!(r.body.contains("Pay exactly"), "{}", r.body);
    let order_path = buyer.path.clone();
    // The payment link as the page shows it (text, and maybe a link).
    let at = r
        .body
        .find("monero:")
        .expect("a monero: link on the order page");
    let link: String = r.body[at..]
        .chars()
        .take_while(|c| !matches!(c, '<' | '"' | ' '))
        .collect();

    // ... and pays it with the command the banner prints.
    let pay_line = banner
        .lines()
        .find(|l| l.contains(" demo-pay "))
        .expect("the banner says how to pay");
    let demo_dir = between(pay_line, "--demo-dir ", " ");
    let paid = run(
        tmp.path(),
        &[
            "demo-pay",
            "--demo-dir",
            &demo_dir,
            &link.replace("&amp;", "&"),
        ],
    );
    assert!(paid.status.success(), "{paid:?}");
    assert!(
        String::from_utf8_lossy(&paid.stdout).contains("paid from the demo wallet"),
        "{paid:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let p = buyer.get(&order_path);
        if p.body.contains("state-paid") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the order never became paid:\n{}",
            p.body
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // SIGTERM: souk stops the wallets and monerod, then removes its temp data.
    rustix::process::kill_process(demo.pid(), rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = demo.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", demo.stdout());
    for (pid, name) in &kids {
        assert!(!alive(*pid), "{name} ({pid}) is still running");
    }
    let mut err = String::new();
    std::fs::File::open(tmp.path().join("demo.err"))
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("souk-demo-"))
        .collect();
    assert!(left.is_empty(), "temporary demo data left: {left:?}\n{err}");
}
