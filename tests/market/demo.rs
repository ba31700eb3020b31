//! `souk demo`: one command gives a populated shop on 127.0.0.1, prints where and
//! how to sign in, and removes its temporary data when stopped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::common::souk;
use crate::common::visitor::{Browser, between};

/// Stops the demo (SIGTERM) when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let pid = rustix::process::Pid::from_raw(self.0.id() as i32).unwrap();
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            std::thread::sleep(Duration::from_millis(500));
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn demo_serves_a_populated_shop_and_removes_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let child = souk(tmp.path())
        .args(["demo", "--listings", "40", "--no-payments"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut demo = Running(child);
    let (tx, rx) = mpsc::channel();
    let out = demo.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    while !printed.contains("Stop it with Ctrl-C") {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the demo did not start:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
    }
    assert!(
        printed.contains("seeded 40 listings (40 pictures)"),
        "{printed}"
    );
    // Orders stay where the seed put them: no chain, no payment job moving them.
    assert!(
        printed.contains("running the shop without payments"),
        "{printed}"
    );
    let addr = between(&printed, "The demo shop: http://", "/").unwrap();
    let data = between(&printed, "Data: ", " (removed when the demo stops)").unwrap();
    assert!(std::path::Path::new(&data).join("souk.db").is_file());
    for (role, user) in [
        ("admin", "admin"),
        ("vendor", "amber_atelier"),
        ("buyer", "alice"),
        ("arbiter", "arbiter"),
    ] {
        assert!(
            printed.contains(&format!("{role:<10} {user:<16} {user}-demo-pass")),
            "{printed}"
        );
    }

    // A living shop: the front page is full, with pictures.
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut b = Browser::new(addr);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !crate::common::get(addr, "/healthz").is_ok_and(|r| r.status == 200) {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo shop does not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let home = b.get("/");
    home.expect(200).expect_text("href=\"/c/kitchen\"");
    assert_eq!(home.body.matches("class=\"card\"").count(), 24);
    let thumb = between(&home.body, "<img src=\"", "\"").unwrap();
    let picture = b.get(&thumb);
    picture.expect(200);
    assert_eq!(&picture.bytes[..2], &[0xFF, 0xD8]);

    // Orders in every state, reached through the transition path (each has its history).
    let (db, _) = souk::store::Db::open(&std::path::Path::new(&data).join("souk.db")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (states, events, orders): (Vec<String>, i64, i64) = rt
        .block_on(db.read(|c| {
            let states = c
                .prepare("SELECT DISTINCT state FROM orders ORDER BY state")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            let events = c.query_row("SELECT count(*) FROM order_events", [], |r| r.get(0))?;
            let orders = c.query_row("SELECT count(*) FROM orders", [], |r| r.get(0))?;
            Ok((states, events, orders))
        }))
        .unwrap();
    assert_eq!(
        states,
        [
            "awaiting_payment",
            "cancelled",
            "completed",
            "created",
            "disputed",
            "expired",
            "paid",
            "resolved",
            "shipped"
        ]
    );
    assert!(events > orders * 2, "{events} events for {orders} orders");
    drop(db);

    // The printed sign-ins work; a buyer sees their orders.
    b.login("alice", "alice-demo-pass").expect(200);
    let mine = b.get("/orders");
    mine.expect(200);
    assert!(mine.body.matches("<tr>").count() > 2, "{}", mine.body);
    b.get("/search?q=teapot").expect(200);

    // Stopping removes the temporary data.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(demo.0.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = demo.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        !std::path::Path::new(&data).exists(),
        "{data} is left behind"
    );
}

#[test]
fn benchmark_options_are_hidden_from_help() {
    let tmp = tempfile::tempdir().unwrap();
    let top = crate::common::run(tmp.path(), &["--help"]);
    let top = String::from_utf8_lossy(&top.stdout);
    assert!(top.contains("demo"), "{top}");
    assert!(!top.contains("bench-serve"), "{top}");
    let demo = crate::common::run(tmp.path(), &["demo", "--help"]);
    let demo = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.contains("--data-dir"), "{demo}");
    for hidden in ["--listings", "--orders", "--seed-only"] {
        assert!(!demo.contains(hidden), "{hidden} shows in:\n{demo}");
    }
    let refused = crate::common::run(tmp.path(), &["demo", "--seed-only"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).starts_with("souk: --seed-only needs --data-dir")
    );
}
