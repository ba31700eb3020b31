//! Monitoring against a real regtest chain: the Monero poller's series and
//! readiness, the exposition under promtool, a real Prometheus scraping souk with
//! the shipped scrape config and alert rules, and the metrics UI in Chromium.

mod common;

use std::time::{Duration, Instant};

use common::regtest::Regtest;
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

/// The value of an unlabelled sample in an exposition.
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
    chain.daemon.mine(70, &address);
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

#[test]
fn exposition_with_monero_series_passes_promtool() {
    let (_chain, souk, _) = chain_and_souk("", vec![]);
    let body = wait_for("the first wallet poll", Duration::from_secs(30), || {
        let m = metrics(&souk);
        sample(&m, "monero_wallet_height").is_some().then_some(m)
    });
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
