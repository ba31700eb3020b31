//! Monitoring against a real regtest chain: the Monero poller's series and
//! readiness, the exposition under promtool, a real Prometheus scraping souk with
//! the shipped scrape config and alert rules, and the metrics UI in Chromium.

mod common;

use std::time::{Duration, Instant};

use common::regtest::Regtest;
use common::storefront::*;
use common::*;

/// Polls `f` every 200 ms until it returns Some, or panics after `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of a sample (`name` or `name{labels}`) in an exposition.
fn sample(exposition: &str, name: &str) -> Option<String> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
}

fn metrics(souk: &Souk) -> String {
    let r = get(souk.metrics, "/metrics").unwrap();
    assert_eq!(r.status, 200);
    r.body
}

/// monerod with a funded shop wallet, and souk polling both every second.
fn chain_and_souk(extra_toml: &str, files: Vec<(String, String, u32)>) -> (Regtest, Souk, String) {
    let chain = Regtest::start(1);
    let shop = chain.wallet(0);
    let address = shop.create_wallet("shop");
    // Two blocks: a (locked) coinbase balance. Mining costs about 0.3 s a block
    // (RandomX even at difficulty 1), so tests mine only what they need.
    chain.daemon.mine(2, &address);
    let mut all_files = vec![(
        "wallet.login".to_owned(),
        format!("{}\n", shop.login_line()),
        0o600,
    )];
    all_files.extend(files);
    let souk = Souk::start(Opts {
        extra_toml: format!("{}\n{extra_toml}", chain.souk_toml("wallet.login", 1)),
        files: all_files,
        ..Opts::default()
    });
    (chain, souk, address)
}

#[test]
fn poller_reports_the_chain_and_drops_figures_when_a_target_goes_down() {
    let (mut chain, souk, _) = chain_and_souk("", vec![]);
    let height = chain.daemon.height();
    let m = wait_for("the first wallet poll", Duration::from_secs(30), || {
        let m = metrics(&souk);
        sample(&m, "monero_wallet_height").is_some().then_some(m)
    });
    assert_eq!(sample(&m, "monero_daemon_up").as_deref(), Some("1"), "{m}");
    assert_eq!(sample(&m, "monero_info_height"), Some(height.to_string()));
    assert_eq!(sample(&m, "monero_info_synchronized").as_deref(), Some("1"));
    assert!(
        m.contains("monero_daemon_version_info{version=\"0.18"),
        "{m}"
    );
    assert!(m.contains("nettype=\"fakechain\""), "{m}");
    assert!(
        m.contains("monero_p2p_connections{direction=\"in\"} 0"),
        "{m}"
    );
    // A second souk with a wrong wallet password: the digest login is refused,
    // the wallet counts as down, and the error says so.
    let wrong = Souk::start(Opts {
        extra_toml: chain.souk_toml("wallet.login", 1),
        files: vec![(
            "wallet.login".into(),
            format!("{}:not-the-password\n", chain.wallet(0).user),
            0o600,
        )],
        ..Opts::default()
    });
    let m = wait_for("the refused login", Duration::from_secs(30), || {
        let m = metrics(&wrong);
        (sample(&m, "monero_wallet_up").as_deref() == Some("0")).then_some(m)
    });
    assert!(
        m.contains("souk_monero_rpc_errors_total{target=\"wallet\",method=\"get_version\",kind=\"unauthorized\"}"),
        "{m}"
    );
    drop(wrong);

    chain.wallet(0).refresh();
    let (balance, unlocked) = chain.wallet(0).balance();
    assert!(balance > 0, "mined coinbase is in the wallet");
    let m = wait_for("the balance", Duration::from_secs(30), || {
        let m = metrics(&souk);
        (sample(&m, "monero_wallet_balance_piconero") == Some(balance.to_string())).then_some(m)
    });
    assert_eq!(
        sample(&m, "monero_wallet_unlocked_balance_piconero"),
        Some(unlocked.to_string()),
        "integer piconero, exactly as the wallet says"
    );
    assert!(
        m.contains("souk_monero_rpc_duration_seconds_bucket{target=\"daemon\",method=\"get_info\""),
        "{m}"
    );

    let ready = get(souk.shop, "/readyz").unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    let v: serde_json::Value = serde_json::from_str(&ready.body).unwrap();
    assert_eq!(v["checks"]["monero_daemon"]["status"], "ok", "{v}");
    assert_eq!(v["checks"]["monero_daemon"]["height"], height, "{v}");
    assert_eq!(v["checks"]["monero_daemon"]["target_height"], height, "{v}");
    assert_eq!(v["checks"]["monero_wallet"]["status"], "ok", "{v}");

    // The wallet-rpc goes away: up drops to 0 and its figures vanish, not freeze.
    chain.wallets[0].stop();
    let m = wait_for("monero_wallet_up 0", Duration::from_secs(30), || {
        let m = metrics(&souk);
        (sample(&m, "monero_wallet_up").as_deref() == Some("0")).then_some(m)
    });
    assert!(
        !m.contains("monero_wallet_balance_piconero"),
        "stale balance: {m}"
    );
    assert!(!m.contains("monero_wallet_height"), "stale height: {m}");
    assert_eq!(sample(&m, "monero_daemon_up").as_deref(), Some("1"));
    assert!(
        m.contains("souk_monero_rpc_errors_total{target=\"wallet\",method=\"get_version\",kind=\"unreachable\"}"),
        "{m}"
    );
    let ready = get(souk.shop, "/readyz").unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(
        ready
            .body
            .contains("\"monero_wallet\":{\"reason\":\"unreachable\",\"status\":\"failed\"}")
            || ready.body.contains("unreachable"),
        "{}",
        ready.body
    );
    assert_eq!(
        get(souk.shop, "/").unwrap().status,
        200,
        "pages are still served"
    );

    // The daemon too.
    chain.daemon.stop();
    let m = wait_for("monero_daemon_up 0", Duration::from_secs(30), || {
        let m = metrics(&souk);
        (sample(&m, "monero_daemon_up").as_deref() == Some("0")).then_some(m)
    });
    for gone in [
        "monero_info_height",
        "monero_lastblock_timestamp_seconds",
        "monero_daemon_version_info",
    ] {
        assert!(!m.contains(gone), "{gone} still reported: {m}");
    }
    assert!(
        !souk.stderr().contains(&chain.wallet(0).password),
        "login never logged"
    );
}

/// `promtool check metrics` on an exposition: no failure, no finding.
fn assert_promtool_clean(body: &str) {
    let mut promtool = tool("promtool", "prometheus")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool failed:\n{findings}\n{body}");
    assert!(
        findings.trim().is_empty(),
        "promtool findings:\n{findings}\n{body}"
    );
}

/// A real order paid from a real wallet shows up in the escrow figures (held,
/// orders and escrows by state, the watcher's cycle), its payout in
/// `souk_payouts_total{result="ok"}`, the metrics UI shows the amount held, and
/// the whole exposition passes `promtool check metrics` at every step.
#[test]
fn escrow_figures_follow_a_paid_order_and_its_payout() {
    use common::browser::Browser;
    use serde_json::json;
    let chain = Regtest::start(2);
    let (shop_rpc, customer) = (chain.wallet(0), chain.wallet(1));
    let customer_address = customer.create_wallet("customer");
    shop_rpc.create_wallet("shop");
    chain.daemon.mine(75, &customer_address);
    customer.refresh();
    let souk = Souk::start(Opts {
        extra_toml: format!(
            "{}\n[market]\nopen_vendor_signup = true\n[escrow]\nwatcher_interval_secs = 1\nconfirmations = 2\n",
            chain.souk_toml("wallet.login", 1)
        ),
        files: vec![(
            "wallet.login".to_owned(),
            format!("{}\n", shop_rpc.login_line()),
            0o600,
        )],
        ..Opts::default()
    });
    let m = wait_for("the shop figures", Duration::from_secs(30), || {
        let m = metrics(&souk);
        sample(&m, "souk_payouts_total{result=\"ok\"}")
            .is_some()
            .then_some(m)
    });
    assert_eq!(
        sample(&m, "souk_escrow_held_piconero").as_deref(),
        Some("0"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_orders{state=\"paid\"}").as_deref(),
        Some("0"),
        "{m}"
    );
    assert_promtool_clean(&m);

    goods_category(&souk);
    let (mut vendor, listing) = vendor_with_teapot(
        &souk,
        "correct horse battery",
        Teapot {
            price: "0.5",
            stock: "50",
            delivery: "0.012345678901",
        },
    );
    let mut buyer = Browser::new(souk.shop);
    buyer.register("buyer", "correct horse battery");
    let r = order_one(&mut buyer, &listing, "Flat 3");
    let order_path = buyer.path.clone();
    let address = between(
        &r.body,
        "To this address</dt><dd><code class=\"address\">",
        "<",
    );
    let total = 512_345_678_901u64;
    customer
        .rpc(
            "transfer",
            json!({"destinations": [{"amount": total, "address": address}], "priority": 0}),
        )
        .unwrap();
    // Two confirmations make it paid; ten more unlock it for the payout.
    chain.daemon.mine(12, &customer_address);
    let m = wait_for(
        "the paid order in the figures",
        Duration::from_secs(60),
        || {
            let m = metrics(&souk);
            (sample(&m, "souk_escrow_held_piconero") == Some(total.to_string())).then_some(m)
        },
    );
    assert_eq!(
        sample(&m, "souk_orders{state=\"paid\"}").as_deref(),
        Some("1"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_escrows{state=\"held\"}").as_deref(),
        Some("1"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_escrows{state=\"awaiting_payment\"}").as_deref(),
        Some("0"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_escrow_watched_subaddresses").as_deref(),
        Some("1"),
        "{m}"
    );
    assert!(
        m.contains("souk_escrow_watcher_cycle_duration_seconds_bucket{le=\"1\"}"),
        "watcher cycle histogram with buckets: {m}"
    );
    assert!(
        m.contains(
            "souk_monero_rpc_duration_seconds_count{target=\"wallet\",method=\"get_transfers\"}"
        ) && m.contains("method=\"create_address\""),
        "RPC durations by method: {m}"
    );
    assert_promtool_clean(&m);
    let ui = get(souk.metrics, "/?range=1h").unwrap();
    assert_eq!(ui.status, 200);
    assert!(
        ui.body.contains("0.5123 XMR"),
        "held amount on the metrics UI:\n{}",
        ui.body
    );

    // Ship and finalize: the payout to the vendor is counted once final.
    let vendor_sub = customer
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "vendor"}),
        )
        .unwrap();
    let vendor_address = vendor_sub["address"].as_str().unwrap().to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, _) = souk::store::Db::open(&souk.data_dir().join("souk.db")).unwrap();
    rt.block_on(db.write(move |c| {
        let id = souk::store::accounts::id_by_name(c, "vendor")?.unwrap();
        souk::store::escrow::set_payout_address(c, id, &vendor_address)
    }))
    .unwrap();
    let r = vendor.post_form(&format!("{order_path}/action"), &[("action", "ship")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = buyer.post_form(&format!("{order_path}/action"), &[("action", "finalize")]);
    assert_eq!(r.status, 200, "{}", r.body);
    wait_for(
        "the payout to leave the wallet",
        Duration::from_secs(60),
        || {
            let m = metrics(&souk);
            (sample(&m, "souk_escrow_held_piconero").as_deref() == Some("0")).then_some(())
        },
    );
    chain.daemon.mine(2, &customer_address);
    let m = wait_for("the payout counted", Duration::from_secs(60), || {
        let m = metrics(&souk);
        (sample(&m, "souk_payouts_total{result=\"ok\"}").as_deref() == Some("1")).then_some(m)
    });
    assert_eq!(
        sample(&m, "souk_orders{state=\"completed\"}").as_deref(),
        Some("1"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_payouts_pending").as_deref(),
        Some("0"),
        "{m}"
    );
    assert_eq!(
        sample(&m, "souk_escrows{state=\"closed\"}").as_deref(),
        Some("1"),
        "{m}"
    );
    assert_promtool_clean(&m);
}

/// `target/screenshots/` (next to the binary under test's profile dir).
fn screenshot_dir() -> std::path::PathBuf {
    let bin = std::path::Path::new(souk_bin());
    let dir = bin.parent().unwrap().parent().unwrap().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium renders (the page has no script, and its CSP forbids any) `url` into `target/screenshots/<name>`.
fn screenshot(url: &str, name: &str, height: u32) -> std::path::PathBuf {
    let profile = tempfile::tempdir().unwrap();
    let out = screenshot_dir().join(name);
    let _ = std::fs::remove_file(&out);
    let status = tool("chromium", "chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "chromium failed for {url}");
    let png = std::fs::read(&out).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        out.display()
    );
    assert!(
        png.len() > 30_000,
        "{} looks empty ({} bytes)",
        out.display(),
        png.len()
    );
    out
}

#[test]
fn metrics_ui_shows_the_chain_behind_the_token_and_screenshots() {
    const TOKEN: &str = "ui-test-token";
    let (chain, mut souk, _) = chain_and_souk(
        "[metrics]\ntoken_file = \"metrics.token\"\n",
        vec![("metrics.token".into(), format!("{TOKEN}\n"), 0o600)],
    );
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    chain.wallet(0).refresh();
    let (mined, _) = chain.wallet(0).balance();
    wait_for("the mined balance", Duration::from_secs(30), || {
        let m = get_with(souk.metrics, "/metrics", &bearer).unwrap().body;
        (sample(&m, "monero_wallet_balance_piconero") == Some(mined.to_string())).then_some(())
    });
    // Without the token: 401 with a Basic challenge a browser can answer.
    let none = get(souk.metrics, "/").unwrap();
    assert_eq!(none.status, 401);
    assert!(
        none.headers
            .iter()
            .any(|(n, v)| n == "www-authenticate" && v.starts_with("Basic")),
        "{:?}",
        none.headers
    );
    use base64::Engine;
    let basic = format!(
        "Authorization: Basic {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("operator:{TOKEN}"))
    );
    let page = get_with(souk.metrics, "/?range=1h", &basic).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script"), "no JavaScript");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(
        page.body.contains("<meta http-equiv=\"refresh\""),
        "auto refresh"
    );
    for range in ["?range=1h", "?range=24h", "?range=7d"] {
        assert!(page.body.contains(range), "range link {range}");
    }
    let height = chain.daemon.height();
    assert!(
        page.body
            .contains(&format!("<div class=\"value\">{height}</div>")),
        "current height on the page"
    );
    assert!(page.body.contains("synchronized"), "{}", page.body);
    assert!(page.body.contains("Height vs target") && page.body.contains("<svg class=\"chart\""));
    assert!(
        page.body.contains("Open orders by state") && page.body.contains("Held in escrow"),
        "escrow figures in place of the empty state"
    );
    assert!(page.body.contains("No backup recorded yet"));
    assert_eq!(
        get_with(souk.metrics, "/?range=2y", &basic).unwrap().status,
        400
    );
    let css = get(souk.metrics, "/ui.css").unwrap();
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));

    let url = |range: &str| format!("http://operator:{TOKEN}@{}/?range={range}", souk.metrics);
    screenshot(&url("1h"), "metrics-ui-live.png", 1600);

    // Seven days of history (as after a week of running), then the full views.
    souk.stop();
    let db = rusqlite::Connection::open(souk.data_dir().join("souk.db")).unwrap();
    chain.wallet(0).refresh();
    let (balance, unlocked) = chain.wallet(0).balance();
    let disk = rustix::fs::statvfs(souk.dir.path())
        .map(|s| s.f_bavail * s.f_frsize)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The last minute stays live: seed up to two minutes ago.
    db.execute(
        include_str!("fixtures/metrics-history-seed.sql"),
        rusqlite::named_params! {
            ":now": now - 120, ":height": height as i64, ":balance": balance as i64,
            ":unlocked": unlocked as i64, ":peers_in": 0, ":peers_out": 0, ":pool": 0,
            ":disk": disk as i64,
        },
    )
    .unwrap();
    drop(db);
    let dir = std::mem::replace(&mut souk.dir, tempfile::tempdir().unwrap());
    let souk = Souk::start_in(
        dir,
        Opts {
            extra_toml: format!(
                "{}\n[metrics]\ntoken_file = \"metrics.token\"\n",
                chain.souk_toml("wallet.login", 1)
            ),
            files: vec![
                (
                    "wallet.login".into(),
                    format!("{}\n", chain.wallet(0).login_line()),
                    0o600,
                ),
                ("metrics.token".into(), format!("{TOKEN}\n"), 0o600),
            ],
            ..Opts::default()
        },
    );
    wait_for("the first wallet poll", Duration::from_secs(30), || {
        let m = get_with(souk.metrics, "/metrics", &bearer).unwrap().body;
        sample(&m, "monero_wallet_height").is_some().then_some(())
    });
    let week = get_with(souk.metrics, "/?range=7d", &basic).unwrap();
    assert_eq!(week.status, 200);
    assert!(
        week.body.contains("/static/{*path}"),
        "routes table from the history"
    );
    assert!(
        week.body.matches("<polyline").count() >= 15,
        "history drawn after a restart"
    );
    let url = |range: &str| format!("http://operator:{TOKEN}@{}/?range={range}", souk.metrics);
    screenshot(&url("24h"), "metrics-ui.png", 2500);
    screenshot(&url("7d"), "metrics-ui-7d.png", 1600);
}

/// Metric names an expression or a dashboard refers to.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let starts = ["souk_", "monero_", "process_"]
            .iter()
            .any(|p| rest.starts_with(p))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            names.insert(rest[..len].to_owned());
            i += len;
        } else {
            i += 1;
        }
    }
    names
}

/// Metrics the alert rules use that souk exports only once they have a value:
/// the last backup's time (no backup yet in this test). The marketplace and
/// escrow figures of the contract are always exported (zeros included).
const CONTRACT: &[&str] = &["souk_backup_last_success_timestamp_seconds"];

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus server stopped by PID on drop.
struct Prometheus {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn query(&self, promql: &str) -> serde_json::Value {
        let r = get(
            self.addr,
            &format!("/api/v1/query?query={}", percent_encode(promql)),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        v["data"]["result"].clone()
    }

    /// The single value of an instant query, if any.
    fn value(&self, promql: &str) -> Option<String> {
        let r = self.query(promql);
        r.get(0)?["value"][1].as_str().map(str::to_owned)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn prometheus_scrapes_souk_and_alerts_when_the_daemon_stops() {
    const TOKEN: &str = "prometheus-test-token";
    let (mut chain, souk, _) = chain_and_souk(
        "[metrics]\ntoken_file = \"metrics.token\"\n",
        vec![("metrics.token".into(), format!("{TOKEN}\n"), 0o600)],
    );
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus");
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("souk.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    // The shipped scrape config, pointed at this souk, scraping and evaluating
    // every second. The rules file is the shipped one, unchanged.
    let shipped = std::fs::read_to_string(kit.join("prometheus.yml")).unwrap();
    let mut config = shipped.clone();
    for (from, to) in [
        (
            "scrape_interval: 15s".to_owned(),
            "scrape_interval: 1s".to_owned(),
        ),
        (
            "evaluation_interval: 15s".to_owned(),
            "evaluation_interval: 1s".to_owned(),
        ),
        (
            "/usr/share/doc/souk/prometheus/souk-alerts.yml".to_owned(),
            kit.join("souk-alerts.yml").display().to_string(),
        ),
        (
            "/etc/prometheus/souk.token".to_owned(),
            token_file.display().to_string(),
        ),
        ("127.0.0.1:9101".to_owned(), souk.metrics.to_string()),
    ] {
        assert!(
            config.contains(&from),
            "the shipped prometheus.yml has {from}"
        );
        config = config.replace(&from, &to);
    }
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = tool("prometheus", "prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let prom = Prometheus {
        child,
        addr,
        _dir: dir,
    };
    let log =
        || std::fs::read_to_string(prom._dir.path().join("prometheus.log")).unwrap_or_default();
    wait_for("up{job=\"souk\"} == 1", Duration::from_secs(60), || {
        (get(prom.addr, "/-/ready").is_ok_and(|r| r.status == 200)
            && prom.value("up{job=\"souk\"}").as_deref() == Some("1"))
        .then_some(())
    });
    let height = chain.daemon.height();
    wait_for(
        "monero_info_height in Prometheus",
        Duration::from_secs(30),
        || {
            (prom.value("monero_info_height{job=\"souk\"}") == Some(height.to_string()))
                .then_some(())
        },
    );
    assert_eq!(prom.value("monero_daemon_up").as_deref(), Some("1"));

    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    let healthy = get_with(souk.metrics, "/metrics", &bearer).unwrap().body;
    // monerod stops: the daemon's up drops to 0, its figures go stale, and the
    // shipped alert rule starts (pending within its `for:`, then firing).
    chain.daemon.stop();
    wait_for(
        "monero_daemon_up == 0 in Prometheus",
        Duration::from_secs(30),
        || (prom.value("monero_daemon_up").as_deref() == Some("0")).then_some(()),
    );
    assert!(
        prom.query("monero_info_height")
            .as_array()
            .unwrap()
            .is_empty(),
        "no stale height reported as current"
    );
    // Every metric the rules and the Grafana dashboard use is exported (while
    // healthy, or once errors were counted), except the documented contract
    // metrics of issues still to land.
    let exposition = format!(
        "{healthy}{}",
        get_with(souk.metrics, "/metrics", &bearer).unwrap().body
    );
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let rules = std::fs::read_to_string(kit.join("souk-alerts.yml")).unwrap();
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packaging/grafana/souk-dashboard.json"),
    )
    .unwrap();
    serde_json::from_str::<serde_json::Value>(&dashboard).expect("the dashboard is JSON");
    for (what, text, allow_contract) in [
        ("alert rules", &rules, true),
        ("Grafana dashboard", &dashboard, false),
    ] {
        for name in metric_names(text) {
            let exported = exposition
                .lines()
                .any(|l| l.starts_with(&name) && l[name.len()..].starts_with([' ', '{']));
            if !exported {
                assert!(
                    allow_contract && CONTRACT.contains(&name.as_str()),
                    "{what} use {name}, which souk does not export"
                );
                assert!(
                    readme.contains(&name),
                    "README documents contract metric {name}"
                );
            }
        }
    }

    let state = wait_for(
        "MoneroDaemonDown pending or firing",
        Duration::from_secs(30),
        || {
            let r = get(prom.addr, "/api/v1/rules?type=alert").unwrap();
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["data"]["groups"]
                .as_array()?
                .iter()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .find(|rule| rule["name"] == "MoneroDaemonDown")
                .and_then(|rule| {
                    let s = rule["state"].as_str()?.to_owned();
                    (s == "pending" || s == "firing").then_some(s)
                })
        },
    );
    assert!(
        state == "pending" || state == "firing",
        "{state}\n{}",
        log()
    );
}

#[test]
fn a_daemon_on_another_network_makes_the_shop_unready() {
    let chain = Regtest::start(0);
    let souk = Souk::start(Opts {
        extra_toml: format!(
            "[monero]\ndaemon_url = \"{}\"\nnetwork = \"mainnet\"\npoll_interval_secs = 1\n",
            chain.daemon.url()
        ),
        ..Opts::default()
    });
    let body = wait_for(
        "readiness to name the network",
        Duration::from_secs(30),
        || {
            let r = get(souk.shop, "/readyz").unwrap();
            (r.status == 503 && r.body.contains("wrong network")).then_some(r.body)
        },
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["checks"]["monero_daemon"]["reason"], "wrong network (fakechain)",
        "{v}"
    );
    assert_eq!(
        v["checks"]["monero_wallet"]["status"], "not_configured",
        "{v}"
    );
    assert_eq!(get(souk.shop, "/").unwrap().status, 200);
    wait_for("the log line", Duration::from_secs(10), || {
        souk.stderr()
            .contains("monerod is on regtest but monero.network is mainnet")
            .then_some(())
    });
}

#[test]
fn check_config_explains_bad_monero_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("souk.toml"),
        "data_dir = \"data\"\n[monero]\ndaemon_url = \"http://localhost:18081\"\nwallet_url = \"http://127.0.0.1:18083\"\nnetwork = \"regtest\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check-config", "--config", "souk.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "souk: monero.daemon_url = \"http://localhost:18081\": the host must be an IP literal"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "souk: monero.wallet_login_file is empty: run monero-wallet-rpc with --rpc-login"
        ),
        "{err}"
    );
}
