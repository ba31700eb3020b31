//! The command line: check-config, default-config, --version, exit codes, and
//! start-up refusals that leave nothing behind.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit 1 with exactly one `souk: ...` line containing every needle.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got:\n{err}");
    assert!(lines[0].starts_with("souk: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {err}");
    }
}

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("souk.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn base_config(dir: &Path) -> String {
    format!(
        "data_dir = \"{}\"\n[shop]\nlisten = \"127.0.0.1:{}\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
        dir.join("data").display(),
        free_port(),
        free_port()
    )
}

/// Runs `serve` and `check-config` with a config and asserts both refuse it the same way.
fn assert_refused(config_body: &str, needles: &[&str]) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let cfg = write_config(t.path(), config_body);
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(&o, needles);
        assert!(
            !t.path().join("data").exists(),
            "{cmd} created the data dir on a refused start"
        );
    }
    t
}

#[test]
fn version_names_version_and_commit() {
    let t = tempfile::tempdir().unwrap();
    let o = run(t.path(), &["--version"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("souk {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
}

#[test]
fn usage_errors_exit_2_and_every_command_has_help() {
    let t = tempfile::tempdir().unwrap();
    assert_eq!(run(t.path(), &["frobnicate"]).status.code(), Some(2));
    assert_eq!(run(t.path(), &["serve", "--bogus"]).status.code(), Some(2));
    for cmd in ["serve", "check-config", "default-config", "healthcheck"] {
        let o = run(t.path(), &[cmd, "--help"]);
        assert!(o.status.success(), "{cmd} --help");
        assert!(stdout(&o).contains("Usage: souk"), "{cmd}: {}", stdout(&o));
    }
}

#[test]
fn default_config_is_complete_and_valid() {
    let t = tempfile::tempdir().unwrap();
    let o = run(t.path(), &["default-config"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for key in [
        "data_dir",
        "[server]",
        "shutdown_grace_secs",
        "min_free_disk_mb",
        "[shop]",
        "listen",
        "socket_mode",
        "request_timeout_secs",
        "body_limit_bytes",
        "hsts_max_age_secs",
        "[metrics]",
        "token_file",
        "[log]",
        "level",
        "rotation",
        "keep_files",
        "max_total_mb",
        "max_age_days",
        "cleanup_schedule",
        "[backup]",
        "recipients",
        "schedule",
        "keep_last",
        "wallet_dirs",
        "post_command",
    ] {
        assert!(text.contains(key), "{key} missing from default-config");
    }
    let cfg = write_config(
        t.path(),
        &text
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{}", free_port()))
            .replace("127.0.0.1:9101", &format!("127.0.0.1:{}", free_port())),
    );
    let o = run(t.path(), &["check-config", "--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !t.path().join("souk-data").exists(),
        "check-config creates nothing"
    );
}

#[test]
fn check_config_summarises_what_serve_would_do() {
    let t = tempfile::tempdir().unwrap();
    let body = format!(
        "{}[log]\ncleanup_schedule = \"30 4 * * 0\"\n",
        base_config(t.path())
    );
    let cfg = write_config(t.path(), &body);
    let o = run(t.path(), &["check-config", "--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "configuration is valid",
        &cfg,
        "will be created at schema version",
        "shop listener",
        "metrics listener",
        "(token: none)",
        "read as 5-field crontab line \"0 30 4 * * 1\"",
        "04:30:00 UTC",
    ] {
        assert!(out.contains(needle), "{needle:?} missing:\n{out}");
    }
}

#[test]
fn unknown_key_is_named_with_its_file() {
    let t = tempfile::tempdir().unwrap();
    let body = format!("{}[log]\nkeep_file = 3\n", base_config(t.path()));
    let cfg = write_config(t.path(), &body);
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(&o, &["unknown key `log.keep_file`", &cfg]);
        assert!(!t.path().join("data").exists());
    }
}

#[test]
fn unknown_environment_key_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = write_config(t.path(), &base_config(t.path()));
    let o = souk(t.path())
        .args(["check-config", "--config", &cfg])
        .env("SOUK_SHOP__LISTN", "127.0.0.1:1")
        .output()
        .unwrap();
    assert_one_line_error(&o, &["unknown key `shop.listn`", "SOUK_"]);
}

#[test]
fn bad_values_are_explained() {
    let t = tempfile::tempdir().unwrap();
    let base = base_config(t.path());
    assert_refused(
        &base.replace(
            "[metrics]\nlisten = \"127.0.0.1",
            "[metrics]\nlisten = \"localhost",
        ),
        &["metrics.listen", "IP literal"],
    );
    assert_refused(
        &format!("{base}[log]\nrotation = \"weekly\"\n"),
        &["log.rotation", "weekly"],
    );
    assert_refused(
        &format!("{base}[log]\ncleanup_schedule = \"every day\"\n"),
        &["log.cleanup_schedule", "has 2 fields", "crontab line"],
    );
    assert_refused(
        &format!("{base}[log]\nlevel = \"loud[\"\n"),
        &["log.level", "not a valid log filter"],
    );
    assert_refused(
        &format!("{base}[server]\nshutdown_grace_secs = 0\n"),
        &["server.shutdown_grace_secs is 0"],
    );
    assert_refused(
        &base.replace("[shop]\n", "[shop]\nbody_limit_bytes = \"lots\"\n"),
        &["shop.body_limit_bytes"],
    );
    assert_refused("this is = = not toml\n", &["souk.toml"]);
}

#[test]
fn same_listener_twice_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let port = free_port();
    let body = format!(
        "data_dir = \"{}\"\n[shop]\nlisten = \"127.0.0.1:{port}\"\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n",
        t.path().join("data").display()
    );
    assert_refused(&body, &["must be separate"]);
}

#[test]
fn world_readable_secret_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let token = t.path().join("token");
    // Distinctive: "abc" once matched the commit hash in the output.
    std::fs::write(&token, "tok-Zq9-secret\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let body = format!(
        "{}token_file = \"{}\"\n",
        base_config(t.path()),
        token.display()
    );
    let cfg = write_config(t.path(), &body);
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(&o, &["accessible to other users", "chmod 600"]);
        assert!(!t.path().join("data").exists());
    }
    assert!(
        !stderr(&run(t.path(), &["check-config", "--config", &cfg])).contains("tok-Zq9-secret")
    );
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = run(t.path(), &["check-config", "--config", &cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("tok-Zq9-secret"),
        "the secret is never printed"
    );
}

#[test]
fn port_in_use_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let body = format!(
        "data_dir = \"{}\"\n[shop]\nlisten = \"127.0.0.1:{port}\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
        t.path().join("data").display(),
        free_port()
    );
    let cfg = write_config(t.path(), &body);
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(
            &o,
            &[
                &format!("shop.listen 127.0.0.1:{port}"),
                "address already in use",
            ],
        );
        assert!(
            !t.path().join("data").exists(),
            "{cmd} left a data dir behind"
        );
    }
}

#[test]
fn unwritable_data_dir_is_refused() {
    let t = tempfile::tempdir().unwrap();
    // /proc refuses new entries even to root.
    let body = base_config(t.path()).replace(
        &format!("data_dir = \"{}\"", t.path().join("data").display()),
        "data_dir = \"/proc/souk-data\"",
    );
    let cfg = write_config(t.path(), &body);
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.lines().all(|l| l.starts_with("souk: ")), "{err}");
        assert!(
            err.contains("data_dir /proc/souk-data does not exist and cannot be created"),
            "{err}"
        );
    }
    let not_a_dir = t.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let body = base_config(t.path()).replace(
        &format!("data_dir = \"{}\"", t.path().join("data").display()),
        &format!("data_dir = \"{}\"", not_a_dir.display()),
    );
    let cfg = write_config(t.path(), &body);
    let o = run(t.path(), &["serve", "--config", &cfg]);
    assert!(
        stderr(&o).contains("exists and is not a directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&not_a_dir).unwrap(),
        "x",
        "nothing damaged"
    );
}

#[test]
fn missing_config_file_is_named() {
    let t = tempfile::tempdir().unwrap();
    let o = run(
        t.path(),
        &["check-config", "--config", "/nonexistent/souk.toml"],
    );
    assert_one_line_error(&o, &["/nonexistent/souk.toml", "does not exist"]);
}

#[test]
fn newer_database_is_refused_and_left_untouched() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("souk.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE future (x); INSERT INTO future VALUES (42); PRAGMA user_version = 999;",
        )
        .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let cfg = write_config(t.path(), &base_config(t.path()));
    for cmd in ["check-config", "serve"] {
        let o = run(t.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(
            &o,
            &[
                "schema version 999 is newer than this souk knows",
                "upgrade souk",
            ],
        );
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "database bytes unchanged"
    );
    let c = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 999);
    assert!(
        !data.join("logs").exists(),
        "a refused start leaves no log dir behind"
    );
}

#[test]
fn zero_config_serve_uses_souk_data_in_the_working_dir() {
    // Ports 8080/9101 may be taken on a developer machine; only the layout is checked
    // here, with the listeners moved by environment (flags > env > file > defaults).
    let t = tempfile::tempdir().unwrap();
    let mut child = souk(t.path())
        .arg("serve")
        .env("SOUK_SHOP__LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("SOUK_METRICS__LISTEN", format!("127.0.0.1:{}", free_port()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !t.path().join("souk-data/souk.db").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no ./souk-data/souk.db after 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(t.path().join("souk-data/logs").is_dir());
}
