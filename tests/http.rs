//! The running server, end to end: headers, health, metrics, unix sockets,
//! timeouts, limits, logs and graceful shutdown.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Stdio;
use std::time::Duration;

use common::*;
use rustix::process::Signal;

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

fn assert_security_headers(r: &Resp, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            r.header(name),
            Some(*value),
            "{name} on {what}: {:?}",
            r.headers
        );
    }
    let csp = r
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("no CSP on {what}"));
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    for part in [
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(
        !csp.contains("script-src"),
        "no script allowed at all: {csp}"
    );
    assert!(!csp.contains("http"), "no third-party origin: {csp}");
    let pp = r
        .header("permissions-policy")
        .unwrap_or_else(|| panic!("no Permissions-Policy on {what}"));
    for feature in [
        "camera=()",
        "geolocation=()",
        "microphone=()",
        "payment=()",
        "usb=()",
    ] {
        assert!(pp.contains(feature), "{feature} not denied: {pp}");
    }
    assert!(
        r.header("strict-transport-security").is_none(),
        "no HSTS by default"
    );
    assert!(r.header("server").is_none(), "no server header");
    for (n, v) in &r.headers {
        assert!(
            !v.contains(env!("CARGO_PKG_VERSION")) || n == "etag",
            "version leaked in {n}: {v}"
        );
    }
}

#[test]
fn every_response_carries_the_security_headers() {
    let souk = Souk::start(Opts::default());
    let home = get(souk.shop, "/").unwrap();
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<h1>"), "{}", home.body);
    assert_security_headers(&home, "200 page");
    assert_eq!(home.header("cache-control"), Some("no-store"));

    let missing = get(souk.shop, "/no/such/page").unwrap();
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    assert_security_headers(&missing, "404 page");

    let wrong_method = post(souk.shop, "/healthz", "text/plain", "x").unwrap();
    assert_eq!(wrong_method.status, 405);
    assert!(
        wrong_method.body.contains("Not possible here"),
        "{}",
        wrong_method.body
    );
    assert_security_headers(&wrong_method, "405 page");

    let not_a_report = post(souk.shop, "/csp-report", "application/json", "{\"x\":1}").unwrap();
    assert_eq!(not_a_report.status, 400);
    assert!(
        not_a_report
            .body
            .contains("only accepts Content-Security-Policy")
    );
    assert_security_headers(&not_a_report, "400 page");

    let css = get(souk.shop, "/static/souk.css").unwrap();
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.header("cache-control").unwrap().contains("max-age="));
    assert_security_headers(&css, "static asset");
    let etag = css.header("etag").unwrap().to_owned();
    let again = get_with(
        souk.shop,
        "/static/souk.css",
        &format!("If-None-Match: {etag}\r\n"),
    )
    .unwrap();
    assert_eq!(again.status, 304);
}

#[test]
fn hsts_is_sent_only_when_configured() {
    let souk = Souk::start(Opts {
        extra_toml: "[shop]\nhsts_max_age_secs = 31536000\n".into(),
        ..Opts::default()
    });
    let r = get(souk.shop, "/").unwrap();
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
}

#[test]
fn oversized_and_slow_requests_get_readable_errors() {
    let souk = Souk::start(Opts {
        extra_toml: "[shop]\nbody_limit_bytes = 1024\nrequest_timeout_secs = 1\n".into(),
        ..Opts::default()
    });
    let big = "x".repeat(4096);
    let r = post(souk.shop, "/csp-report", "application/csp-report", &big).unwrap();
    assert_eq!(r.status, 413);
    assert!(r.body.contains("Too large"), "{}", r.body);
    assert_security_headers(&r, "413 page");

    // Headers promise 100 bytes, only 10 arrive: the request times out.
    let mut s = TcpStream::connect(souk.shop).unwrap();
    s.write_all(b"POST /csp-report HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 408);
    assert!(r.body.contains("took too long"), "{}", r.body);
}

#[test]
fn csp_reports_are_counted_by_directive() {
    let souk = Souk::start(Opts::default());
    let report = r#"{"csp-report":{"document-uri":"http://x.onion/","violated-directive":"img-src","effective-directive":"img-src","blocked-uri":"http://evil.example/a.png"}}"#;
    let r = post(souk.shop, "/csp-report", "application/csp-report", report).unwrap();
    assert_eq!(r.status, 204);
    let m = get(souk.metrics, "/metrics").unwrap();
    assert!(
        m.body
            .contains("souk_csp_reports_total{directive=\"img-src\"} 1"),
        "{}",
        m.body
    );
    assert!(!m.body.contains("evil.example"));
}

#[test]
fn health_and_readiness() {
    let souk = Souk::start(Opts::default());
    let h = get(souk.shop, "/healthz").unwrap();
    assert_eq!((h.status, h.body.as_str()), (200, "ok"));
    let r = get(souk.shop, "/readyz").unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["checks"]["database"]["status"], "ok");
    assert_eq!(v["checks"]["disk"]["status"], "ok");
    assert_eq!(v["checks"]["monero_daemon"]["status"], "not_configured");
    assert_eq!(v["checks"]["monero_wallet"]["status"], "not_configured");

    // Another process holds the database locked: not ready, and ready again after.
    let other = rusqlite::Connection::open(souk.data_dir().join("souk.db")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = get(souk.shop, "/readyz").unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "not_ready");
    assert_eq!(v["checks"]["database"]["status"], "failed");
    assert!(
        v["checks"]["database"]["reason"]
            .as_str()
            .unwrap()
            .contains("locked")
    );
    assert_eq!(
        get(souk.shop, "/healthz").unwrap().status,
        200,
        "liveness is unaffected"
    );
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    assert_eq!(get(souk.shop, "/readyz").unwrap().status, 200);

    // The database file disappears (someone deleted the data dir).
    std::fs::rename(
        souk.data_dir().join("souk.db"),
        souk.dir.path().join("moved.db"),
    )
    .unwrap();
    let r = get(souk.shop, "/readyz").unwrap();
    assert_eq!(r.status, 503);
    assert!(r.body.contains("database file is missing"), "{}", r.body);
}

#[test]
fn readiness_fails_when_disk_is_low() {
    let souk = Souk::start(Opts {
        extra_toml: "[server]\nmin_free_disk_mb = 1000000000\n".into(),
        ..Opts::default()
    });
    let r = get(souk.shop, "/readyz").unwrap();
    assert_eq!(r.status, 503);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["checks"]["disk"]["status"], "failed");
    assert_eq!(v["checks"]["database"]["status"], "ok");
    assert_security_headers(&r, "503 readyz");
}

#[test]
fn metrics_live_only_on_the_metrics_listener() {
    let souk = Souk::start(Opts::default());
    assert_eq!(get(souk.shop, "/").unwrap().status, 200);
    let on_shop = get(souk.shop, "/metrics").unwrap();
    assert_eq!(on_shop.status, 404);
    let m = get(souk.metrics, "/metrics").unwrap();
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for needle in [
        "souk_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 1",
        "souk_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "souk_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.005\"}",
        "souk_build_info{version=\"",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_open_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(m.body.contains(needle), "missing {needle} in:\n{}", m.body);
    }
    assert!(
        !m.body.contains("/metrics\""),
        "the raw path of a 404 is never a label"
    );
}

#[test]
fn routes_are_labelled_by_template_not_raw_path() {
    let souk = Souk::start(Opts::default());
    for p in [
        "/static/souk.css",
        "/static/nope-1.css",
        "/static/nope-2.css",
    ] {
        get(souk.shop, p).unwrap();
    }
    let m = get(souk.metrics, "/metrics").unwrap().body;
    assert!(
        m.contains("route=\"/static/{*path}\",status=\"200\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("route=\"/static/{*path}\",status=\"404\"} 2"),
        "{m}"
    );
    assert!(!m.contains("nope-1"), "{m}");
}

#[test]
fn metrics_token_is_enforced() {
    let souk = Souk::start(Opts {
        extra_toml: "[metrics]\ntoken_file = \"token\"\n".into(),
        files: vec![("token".into(), "s3cret-token\n".into(), 0o600)],
        ..Opts::default()
    });
    let none = get(souk.metrics, "/metrics").unwrap();
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = get_with(souk.metrics, "/metrics", "Authorization: Bearer nope\r\n").unwrap();
    assert_eq!(wrong.status, 401);
    let right = get_with(
        souk.metrics,
        "/metrics",
        "Authorization: Bearer s3cret-token\r\n",
    )
    .unwrap();
    assert_eq!(right.status, 200);
    assert!(right.body.contains("souk_build_info"));
    assert!(
        !souk.stderr().contains("s3cret-token"),
        "token never logged"
    );
}

#[test]
fn exposition_passes_promtool() {
    let souk = Souk::start(Opts::default());
    for p in ["/", "/healthz", "/readyz", "/nope", "/static/souk.css"] {
        get(souk.shop, p).unwrap();
    }
    let body = get(souk.metrics, "/metrics").unwrap().body;
    let mut promtool = tool("promtool", "prometheus")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
    assert!(findings.trim().is_empty(), "promtool findings:\n{findings}");
}

#[test]
fn unix_socket_listener_serves_and_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("shop.sock");
    // A stale socket left by a crashed run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let mut souk = Souk::start_in(
        dir,
        Opts {
            shop_listen: Some(format!("unix:{}", sock.display())),
            extra_toml: "[shop]\nsocket_mode = \"0600\"\n".into(),
            ..Opts::default()
        },
    );
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let r = raw_unix(
        &sock,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let page = raw_unix(
        &sock,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(page.status, 200);
    assert_security_headers(&page, "page over unix socket");

    // souk healthcheck reaches it through the same config.
    let out = souk_cmd_healthcheck(&souk);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(souk.stop().success());
    assert!(!sock.exists(), "socket removed on clean exit");
}

fn souk_cmd_healthcheck(souk: &Souk) -> std::process::Output {
    let mut cmd = common::souk(souk.dir.path());
    cmd.args(["healthcheck", "--config"])
        .arg(souk.dir.path().join("souk.toml"));
    // The listener address came from the environment at start; pass it again.
    if let Some(child_env) = shop_listen_of(souk) {
        cmd.env("SOUK_SHOP__LISTEN", child_env);
    }
    cmd.stdin(Stdio::null()).output().unwrap()
}

fn shop_listen_of(souk: &Souk) -> Option<String> {
    let stderr = souk.stderr();
    let line = stderr.lines().find(|l| l.contains("listener=\"shop\""))?;
    Some(line.split("address=").nth(1)?.trim().to_owned())
}

#[test]
fn healthcheck_command_follows_the_instance() {
    let mut souk = Souk::start(Opts::default());
    let out = souk_cmd_healthcheck(&souk);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(souk.stop().success());
    let out = souk_cmd_healthcheck(&souk);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("is souk running?"), "{err}");
}

#[test]
fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let mut souk = Souk::start(Opts::default());
    let report = r#"{"csp-report":{"violated-directive":"style-src"}}"#;
    let (first, rest) = report.split_at(10);
    let mut s = TcpStream::connect(souk.shop).unwrap();
    write!(
        s,
        "POST /csp-report HTTP/1.1\r\nHost: x\r\nContent-Type: application/csp-report\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        report.len()
    )
    .unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    souk.signal(Signal::TERM);
    // New connections are refused once shutdown has begun.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(souk.shop).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "still accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        souk.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "waits for the request"
    );
    s.write_all(rest.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 204, "the in-flight request completed");
    let status = souk
        .wait_exit(Duration::from_secs(10))
        .expect("exits after draining");
    assert!(status.success(), "exit status {status}");
    let stderr = souk.stderr();
    assert!(stderr.contains("shutting down reason=SIGTERM"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn logs_are_json_files_without_addresses_or_secrets() {
    let mut souk = Souk::start(Opts {
        env: vec![("RUST_LOG".into(), "debug".into())],
        extra_toml: "[metrics]\ntoken_file = \"token\"\n".into(),
        files: vec![("token".into(), "tok-3f9a8b\n".into(), 0o600)],
        ..Opts::default()
    });
    let mut s = TcpStream::connect(souk.shop).unwrap();
    let client = s.local_addr().unwrap().to_string();
    s.write_all(b"GET /no/such?secret=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 404);
    let request_id = r.header("x-request-id").unwrap().to_owned();
    assert!(
        r.body.contains(&request_id),
        "the error page shows the reference"
    );
    assert!(souk.stop().success());

    let logs = souk.data_dir().join("logs");
    let files: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with("souk.") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut saw_request = false;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["request_id"] == request_id.as_str() {
            saw_request = true;
            assert_eq!(v["fields"]["route"], "unmatched");
            assert_eq!(v["fields"]["status"], 404);
            assert_eq!(v["fields"]["method"], "GET");
            assert!(v["fields"]["ms"].is_number());
        }
    }
    assert!(saw_request, "the request has a log line:\n{text}");
    let everything = format!("{text}{}", souk.stderr());
    assert!(
        !everything.contains(&client),
        "client address {client} was logged"
    );
    assert!(
        !everything.contains("secret=x"),
        "query strings are not logged"
    );
    assert!(!everything.contains("/no/such"), "raw paths are not logged");
    assert!(!everything.contains("tok-3f9a8b"), "the token was logged");
}

#[test]
fn log_retention_applies_count_size_and_age_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("data/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(10 * 86_400);
    let write = |name: &str, bytes: usize, modified: std::time::SystemTime| {
        let p = logs.join(name);
        std::fs::write(&p, vec![b'x'; bytes]).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    };
    let now = std::time::SystemTime::now();
    write("souk.2020-01-01.log", 10, old); // too old
    write("souk.2020-01-02.log", 10, now); // over the count
    write("souk.2020-01-03.log", 600_000, now); // pushes the total over 1 MiB
    write("souk.2020-01-04.log", 600_000, now);
    write("souk.2020-01-05.log", 10, now);
    write("unrelated.txt", 10, old); // not ours: never touched
    let souk = Souk::start_in(
        dir,
        Opts {
            extra_toml: "[log]\nkeep_files = 4\nmax_total_mb = 1\nmax_age_days = 7\n".into(),
            ..Opts::default()
        },
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let names = loop {
        let mut names: Vec<String> = std::fs::read_dir(&logs)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        if !names.iter().any(|n| n == "souk.2020-01-03.log") || std::time::Instant::now() > deadline
        {
            break names;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(names.len(), 4, "{names:?}\n{}", souk.stderr());
    assert_eq!(
        &names[0..2],
        ["souk.2020-01-04.log", "souk.2020-01-05.log"],
        "{names:?}"
    );
    assert!(
        names[2].starts_with("souk.20") && names[2] != "souk.2020-01-05.log",
        "today's file: {names:?}"
    );
    assert_eq!(names[3], "unrelated.txt");
    let stderr = souk.stderr();
    assert_eq!(
        stderr.matches("log retention deleted file").count(),
        3,
        "{stderr}"
    );
    let m = get(souk.metrics, "/metrics").unwrap().body;
    assert!(m.contains("souk_log_files_deleted_total 3"), "{m}");
}

#[test]
fn check_config_on_a_live_server_accepts_its_own_listeners() {
    let souk = Souk::start(Opts::default());
    let out = common::souk(souk.dir.path())
        .args(["check-config", "--config"])
        .arg(souk.dir.path().join("souk.toml"))
        .env("SOUK_SHOP__LISTEN", souk.shop.to_string())
        .env("SOUK_METRICS__LISTEN", souk.metrics.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "shop.listen {} is in use by a running souk",
            souk.shop
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "metrics.listen {} is in use by a running souk",
            souk.metrics
        )),
        "{stdout}"
    );
    assert!(stdout.contains(", up to date)"), "{stdout}");
}
