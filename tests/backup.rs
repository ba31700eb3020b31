//! Backups against the real binary and the real tools: the stock `age` CLI must
//! decrypt what souk writes, restore must give back the same data, and every
//! failure must say which one it is and leave the target untouched.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Exit 1 with exactly one `souk: ...` line containing every needle.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got:\n{err}");
    assert!(lines[0].starts_with("souk: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} missing from: {err}");
    }
}

/// An age identity made by the real age-keygen: (identity file, public key).
fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let o = tool("age-keygen", "age")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&key).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .trim()
        .to_owned();
    (key, public)
}

fn sha256_file(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    hex(&Sha256::digest(&bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Row count and a content hash of every table, rows ordered by all columns (some
/// tables are WITHOUT ROWID): what "the data is identical" means to an operator.
fn table_digests(db: &Path) -> Vec<(String, i64, String)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let width = c
                .prepare(&format!("SELECT * FROM \"{t}\""))
                .unwrap()
                .column_count();
            let order: Vec<String> = (1..=width).map(|i| i.to_string()).collect();
            let mut stmt = c
                .prepare(&format!(
                    "SELECT * FROM \"{t}\" ORDER BY {}",
                    order.join(", ")
                ))
                .unwrap();
            let cols = stmt.column_count();
            let mut hash = Sha256::new();
            let mut rows = stmt.query([]).unwrap();
            let mut n = 0;
            while let Some(row) = rows.next().unwrap() {
                n += 1;
                for i in 0..cols {
                    let v: rusqlite::types::Value = row.get(i).unwrap();
                    hash.update(format!("{v:?}\u{1f}").as_bytes());
                }
                hash.update(b"\x1e");
            }
            (t, n, hex(&hash.finalize()))
        })
        .collect()
}

/// A config file for CLI-only tests (no server), with a database in place.
struct Setup {
    dir: tempfile::TempDir,
    key: PathBuf,
    public: String,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (key, public) = keypair(dir.path(), "key.txt");
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let c = rusqlite::Connection::open(dir.path().join("data/souk.db")).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA user_version=1;
             CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) STRICT;
             INSERT INTO meta VALUES ('created_at', '2026-01-01T00:00:00Z');
             CREATE TABLE fixture_listings (id INTEGER PRIMARY KEY, title TEXT, price INTEGER);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO fixture_listings SELECT i, 'item ' || hex(randomblob(8)), i * 1000000 FROM n;
             CREATE TABLE photos (id INTEGER PRIMARY KEY, b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
             INSERT INTO photos SELECT i, randomblob(3000) FROM n;",
        )
        .unwrap();
        Self { dir, key, public }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config(&self, backup_extra: &str) -> String {
        let cfg = self.path().join("souk.toml");
        std::fs::write(
            &cfg,
            format!(
                "data_dir = \"{}\"\n[shop]\nlisten = \"127.0.0.1:{}\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n[backup]\nrecipients = [\"{}\"]\n{}{backup_extra}\n",
                self.path().join("data").display(),
                free_port(),
                free_port(),
                self.public,
                if backup_extra.contains("schedule") {
                    ""
                } else {
                    "schedule = \"\"\n"
                }
            ),
        )
        .unwrap();
        cfg.display().to_string()
    }

    fn backup_now(&self, cfg: &str) -> PathBuf {
        let o = run(self.path(), &["backup", "now", "--config", cfg]);
        assert_ok(&o, "souk backup now");
        newest_backup(&self.path().join("data/backups"))
    }
}

fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().path())
                .filter(|p| {
                    // souk-YYYYMMDDTHHMMSSZ.tar.zst.age
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.strip_prefix("souk-")
                        .and_then(|r| r.strip_suffix(".tar.zst.age"))
                        .is_some_and(|t| t.len() == 16 && t.as_bytes()[8] == b'T')
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn newest_backup(dir: &Path) -> PathBuf {
    backups_in(dir).pop().expect("no backup file written")
}

/// `age -d -i KEY FILE | zstd -d | tar ARGS` with the stock tools.
fn age_zstd_tar(key: &Path, file: &Path, tar_args: &[&str], cwd: &Path) -> Output {
    let mut age = tool("age", "age")
        .arg("-d")
        .arg("-i")
        .arg(key)
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut zstd = tool("zstd", "zstd")
        .args(["-d", "-c"])
        .stdin(age.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tool("tar", "tar")
        .args(tar_args)
        .current_dir(cwd)
        .stdin(zstd.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(age.wait().unwrap().success(), "age -d failed");
    assert!(zstd.wait().unwrap().success(), "zstd -d failed");
    out
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metrics_text(s: &Souk) -> String {
    get(s.metrics, "/metrics").unwrap().body
}

fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn readyz_backup_status(s: &Souk) -> (u16, String) {
    let r = get(s.shop, "/readyz").unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    (
        r.status,
        v["checks"]["backup"]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

/// A running souk with backups to a fresh key; `extra_backup` may use `{dir}`
/// for the souk's temp dir. Returns the souk, the identity file and the public key.
fn serve_with_backups(extra_backup: &str) -> (Souk, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key.txt");
    let extra = extra_backup.replace("{dir}", &dir.path().display().to_string());
    let souk = Souk::start_in(
        dir,
        Opts {
            extra_toml: format!("[backup]\nrecipients = [\"{public}\"]\n{extra}\n"),
            ..Opts::default()
        },
    );
    (souk, key, public)
}

// ---------------------------------------------------------------------------

#[test]
fn backup_while_serving_decrypts_with_age_cli_and_restores_identical_data() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key.txt");
    // A test wallet directory inside the data dir, as the escrow wallets will be.
    let wallets = dir.path().join("data/wallets");
    std::fs::create_dir_all(wallets.join("arbiter")).unwrap();
    std::fs::write(wallets.join("shop"), b"wallet cache bytes\x00\x01").unwrap();
    std::fs::write(wallets.join("shop.keys"), b"encrypted keys").unwrap();
    std::fs::write(wallets.join("arbiter/escrow-1.keys"), b"arbiter keys").unwrap();
    let souk = Souk::start_in(
        dir,
        Opts {
            extra_toml: format!(
                "[backup]\nrecipients = [\"{public}\"]\nschedule = \"\"\nwallet_dirs = [\"{}\"]\n",
                wallets.display()
            ),
            ..Opts::default()
        },
    );
    let cfg = souk.dir.path().join("souk.toml");
    {
        let c = rusqlite::Connection::open(souk.data_dir().join("souk.db")).unwrap();
        c.execute_batch(
            "CREATE TABLE fixture_listings (id INTEGER PRIMARY KEY, title TEXT, price INTEGER);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO fixture_listings SELECT i, 'listing ' || hex(randomblob(16)), i * 1000 FROM n;",
        )
        .unwrap();
    }
    let live = table_digests(&souk.data_dir().join("souk.db"));

    let o = run(
        souk.dir.path(),
        &["backup", "now", "--config", &cfg.display().to_string()],
    );
    assert_ok(&o, "souk backup now");
    assert_eq!(
        get(souk.shop, "/").unwrap().status,
        200,
        "the shop kept serving"
    );
    let file = newest_backup(&souk.data_dir().join("backups"));
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(stdout(&o).contains(&name), "{}", stdout(&o));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "backup files are private");

    // The stock tools read it.
    let listing = age_zstd_tar(&key, &file, &["t"], souk.dir.path());
    let members = stdout(&listing);
    for m in [
        "souk.db",
        "wallets/0/shop",
        "wallets/0/shop.keys",
        "wallets/0/arbiter/escrow-1.keys",
        "config/souk.toml",
        "manifest.json",
    ] {
        assert!(members.lines().any(|l| l == m), "{m} not in:\n{members}");
    }
    assert_eq!(members.lines().last(), Some("manifest.json"));

    // The manifest describes every member exactly.
    let x = tempfile::tempdir().unwrap();
    assert_ok(&age_zstd_tar(&key, &file, &["x"], x.path()), "tar x");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(x.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["souk_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        manifest["schema_version"],
        souk::store::migrate::latest_version() as u64
    );
    assert!(manifest["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(manifest["config_path"], cfg.display().to_string());
    let listed = manifest["members"].as_array().unwrap();
    assert_eq!(listed.len(), 5, "{manifest}");
    for m in listed {
        let p = x.path().join(m["path"].as_str().unwrap());
        assert_eq!(m["size"], std::fs::metadata(&p).unwrap().len(), "{m}");
        assert_eq!(m["sha256"], sha256_file(&p), "{m}");
    }
    assert_eq!(
        std::fs::read(x.path().join("wallets/0/shop")).unwrap(),
        b"wallet cache bytes\x00\x01"
    );

    // verify, then restore into an empty dir and compare every table.
    let key_s = key.display().to_string();
    let file_s = file.display().to_string();
    let o = run(
        souk.dir.path(),
        &["backup", "verify", "--identity", &key_s, &file_s],
    );
    assert_ok(&o, "souk backup verify");
    assert!(stdout(&o).contains("is good"), "{}", stdout(&o));
    assert!(stdout(&o).contains("integrity ok"), "{}", stdout(&o));

    let target = tempfile::tempdir().unwrap();
    let restored = target.path().join("data");
    let o = run(
        souk.dir.path(),
        &[
            "restore",
            "--identity",
            &key_s,
            &file_s,
            "--data-dir",
            &restored.display().to_string(),
        ],
    );
    assert_ok(&o, "souk restore");
    assert!(
        stdout(&o).contains("restored the database"),
        "{}",
        stdout(&o)
    );
    assert_eq!(table_digests(&restored.join("souk.db")), live);
    assert_eq!(
        std::fs::read(restored.join("wallets/arbiter/escrow-1.keys")).unwrap(),
        b"arbiter keys"
    );
    assert_eq!(
        std::fs::read(restored.join("wallets/shop.keys")).unwrap(),
        b"encrypted keys"
    );
    let leftovers: Vec<_> = std::fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("data")],
        "no staging left"
    );

    // The restored data dir serves.
    let mut again = Souk::start(Opts {
        env: vec![("SOUK_DATA_DIR".to_owned(), restored.display().to_string())],
        ..Opts::default()
    });
    assert_eq!(get(again.shop, "/readyz").unwrap().status, 200);
    assert!(again.stop().success());
    // Serving appends to its own metrics history; the shop's data is untouched.
    let shop_data = |d: Vec<(String, i64, String)>| {
        d.into_iter()
            .filter(|(t, _, _)| t != "metrics_history")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shop_data(table_digests(&restored.join("souk.db"))),
        shop_data(live)
    );
}

#[test]
fn wrong_key_truncated_and_corrupted_each_say_which_and_write_nothing() {
    let s = Setup::new();
    let cfg = s.config("");
    let file = s.backup_now(&cfg);
    let (other_key, _) = keypair(s.path(), "other.txt");
    let len = std::fs::metadata(&file).unwrap().len();
    let bytes = std::fs::read(&file).unwrap();
    let truncated = s.path().join("truncated.age");
    std::fs::write(&truncated, &bytes[..(len as usize) / 2]).unwrap();
    let corrupted = s.path().join("corrupted.age");
    let mut c = bytes.clone();
    let mid = c.len() / 3;
    c[mid] ^= 0x55;
    std::fs::write(&corrupted, &c).unwrap();
    let not_age = s.path().join("notes.txt");
    std::fs::write(&not_age, "just some text\n").unwrap();

    let target_parent = tempfile::tempdir().unwrap();
    let empty_target = target_parent.path().join("empty");
    std::fs::create_dir(&empty_target).unwrap();
    let cases: [(&Path, &Path, &[&str]); 4] = [
        (&file, &other_key, &["wrong key", "other.txt"]),
        (&truncated, &s.key, &["truncated.age is truncated"]),
        (&corrupted, &s.key, &["corrupted.age is corrupted"]),
        (
            &not_age,
            &s.key,
            &["not a souk backup", "not an age-encrypted file"],
        ),
    ];
    for (backup, key, needles) in cases {
        let (b, k) = (backup.display().to_string(), key.display().to_string());
        let o = run(s.path(), &["backup", "verify", "--identity", &k, &b]);
        assert_one_line_error(&o, needles);
        for target in [target_parent.path().join("new"), empty_target.clone()] {
            let o = run(
                s.path(),
                &[
                    "restore",
                    "--identity",
                    &k,
                    &b,
                    "--data-dir",
                    &target.display().to_string(),
                ],
            );
            assert_one_line_error(&o, needles);
        }
        assert!(
            !target_parent.path().join("new").exists(),
            "nothing created"
        );
        assert_eq!(
            std::fs::read_dir(&empty_target).unwrap().count(),
            0,
            "nothing written"
        );
        let names: Vec<_> = std::fs::read_dir(target_parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["empty"], "no staging dir left behind");
    }
    // A public key instead of the identity.
    let pubfile = s.path().join("pub.txt");
    std::fs::write(&pubfile, format!("{}\n", s.public)).unwrap();
    let o = run(
        s.path(),
        &[
            "backup",
            "verify",
            "--identity",
            &pubfile.display().to_string(),
            &file.display().to_string(),
        ],
    );
    assert_one_line_error(&o, &["holds no age identity"]);
}

#[test]
fn restore_refuses_a_non_empty_or_live_target_and_force_moves_data_aside() {
    let s = Setup::new();
    let cfg = s.config("");
    let file = s.backup_now(&cfg).display().to_string();
    let key = s.key.display().to_string();
    let data = s.path().join("data");
    let before = std::fs::read(data.join("souk.db")).unwrap();
    let o = run(
        s.path(),
        &["restore", "--identity", &key, &file, "--config", &cfg],
    );
    assert_one_line_error(&o, &["is not empty", "souk.db", "--force"]);
    assert_eq!(std::fs::read(data.join("souk.db")).unwrap(), before);

    // While souk serves from it: refused even with --force.
    let mut live = Souk::start(Opts {
        env: vec![("SOUK_DATA_DIR".to_owned(), data.display().to_string())],
        ..Opts::default()
    });
    let o = run(
        s.path(),
        &[
            "restore",
            "--identity",
            &key,
            &file,
            "--config",
            &cfg,
            "--force",
        ],
    );
    assert_one_line_error(&o, &["souk is running on", "stop it first"]);
    assert!(live.stop().success());

    // Changed since the backup; --force restores and keeps the current data aside.
    let c = rusqlite::Connection::open(data.join("souk.db")).unwrap();
    c.execute("DELETE FROM fixture_listings WHERE id > 10", [])
        .unwrap();
    drop(c);
    let o = run(
        s.path(),
        &[
            "restore",
            "--identity",
            &key,
            &file,
            "--config",
            &cfg,
            "--force",
        ],
    );
    assert_ok(&o, "restore --force");
    assert!(stdout(&o).contains("moved the existing"), "{}", stdout(&o));
    let rows: i64 = rusqlite::Connection::open(data.join("souk.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM fixture_listings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2000);
    let aside: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(data.join(&aside[0]).join("souk.db").is_file());
    assert!(
        !data.join("souk.db-wal").exists(),
        "no stale WAL next to the restored file"
    );
}

#[test]
fn with_config_restores_the_config_file_where_it_was() {
    let s = Setup::new();
    let cfg = s.config("include_config = true");
    let original = std::fs::read_to_string(&cfg).unwrap();
    let file = s.backup_now(&cfg).display().to_string();
    std::fs::write(&cfg, "# replaced by the new machine's package\n").unwrap();
    let target = s.path().join("restored");
    let o = run(
        s.path(),
        &[
            "restore",
            "--identity",
            &s.key.display().to_string(),
            &file,
            "--data-dir",
            &target.display().to_string(),
            "--with-config",
        ],
    );
    assert_ok(&o, "restore --with-config");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);
    assert_eq!(
        std::fs::read_to_string(format!("{cfg}.before-restore")).unwrap(),
        "# replaced by the new machine's package\n"
    );
}

#[test]
fn retention_keeps_generations_never_the_newest_and_never_other_files() {
    let s = Setup::new();
    let cfg = s.config("keep_last = 2\nkeep_daily = 3\nkeep_weekly = 0\nkeep_monthly = 0");
    let dir = s.path().join("data/backups");
    std::fs::create_dir_all(&dir).unwrap();
    // Older backups: two per day on 2020-01-01..05 (names matter to retention, not
    // contents), and files that are not souk's.
    for day in 1..=5 {
        for hour in [3, 15] {
            std::fs::write(
                dir.join(format!("souk-202001{day:02}T{hour:02}0000Z.tar.zst.age")),
                "old",
            )
            .unwrap();
        }
    }
    let strangers = [
        "README",
        "souk-20190101T000000Z.tar.zst",
        "souk-backup-2019.tar.zst.age",
        "other.age",
    ];
    for n in strangers {
        std::fs::write(dir.join(n), "not souk's").unwrap();
    }
    let o = run(s.path(), &["backup", "now", "--config", &cfg]);
    assert_ok(&o, "backup now");
    let newest = newest_backup(&dir);
    let kept: Vec<String> = backups_in(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // last 2: the new one and 01-05 15h; daily 3: today, 01-05 (15h), 01-04 (15h).
    assert_eq!(
        kept,
        [
            "souk-20200104T150000Z.tar.zst.age",
            "souk-20200105T150000Z.tar.zst.age",
            newest.file_name().unwrap().to_str().unwrap(),
        ]
    );
    for n in strangers {
        assert_eq!(std::fs::read_to_string(dir.join(n)).unwrap(), "not souk's");
    }
    assert!(stdout(&o).contains("(retention)"), "{}", stdout(&o));

    // Even keeping nothing keeps the newest.
    let cfg = s.config("keep_last = 0\nkeep_daily = 0\nkeep_weekly = 0\nkeep_monthly = 0");
    assert_ok(
        &run(s.path(), &["backup", "now", "--config", &cfg]),
        "backup now",
    );
    assert_eq!(backups_in(&dir).len(), 1);
    let o = run(s.path(), &["backup", "list", "--config", &cfg]);
    assert_ok(&o, "backup list");
    assert!(stdout(&o).contains("1 backup(s)"), "{}", stdout(&o));
}

#[test]
fn schedule_fires_and_counts_and_readyz_shows_the_backup_without_blocking() {
    // Every 2 seconds; no missed-run catch-up, so the first backup is the schedule's.
    let (mut souk, key, _) =
        serve_with_backups("schedule = \"*/2 * * * * *\"\nrun_missed_at_start = false");
    let dir = souk.data_dir().join("backups");
    let (status, backup) = readyz_backup_status(&souk);
    if backups_in(&dir).is_empty() {
        assert_eq!(
            (status, backup.as_str()),
            (200, "stale"),
            "stale never blocks readiness"
        );
    }
    wait_for("two scheduled backups", Duration::from_secs(20), || {
        metric_value(
            &metrics_text(&souk),
            "souk_backup_runs_total{result=\"ok\"}",
        )
        .is_some_and(|n| n >= 2.0)
    });
    assert_eq!(readyz_backup_status(&souk), (200, "ok".to_owned()));
    let m = metrics_text(&souk);
    assert!(
        metric_value(&m, "souk_backup_runs_total{result=\"ok\"}").unwrap() >= 2.0,
        "{m}"
    );
    let last = metric_value(&m, "souk_backup_last_success_timestamp_seconds").unwrap();
    assert!(
        (chrono::Utc::now().timestamp() as f64 - last).abs() < 30.0,
        "{last}"
    );
    assert!(metric_value(&m, "souk_backup_last_size_bytes").unwrap() > 0.0);
    assert!(metric_value(&m, "souk_backup_last_duration_seconds").is_some());
    assert!(metric_value(&m, "souk_backup_files").unwrap() >= 1.0);
    assert!(m.contains("# HELP souk_backup_runs_total"), "described");
    assert!(souk.stop().success());
    let file = newest_backup(&dir);
    let o = run(
        souk.dir.path(),
        &[
            "backup",
            "verify",
            "--identity",
            &key.display().to_string(),
            &file.display().to_string(),
        ],
    );
    assert_ok(&o, "verify a scheduled backup");
}

#[test]
fn missed_run_happens_once_at_start() {
    // Yearly: never due during the test, but due since "the last backup" (none).
    let (souk, _key, _) =
        serve_with_backups("schedule = \"0 0 1 1 *\"\nrun_missed_at_start = true");
    let dir = souk.data_dir().join("backups");
    wait_for("the catch-up backup", Duration::from_secs(20), || {
        !backups_in(&dir).is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(backups_in(&dir).len(), 1, "once, not again");
}

#[test]
fn sigusr1_makes_a_backup_and_is_harmless_when_backups_are_off() {
    let (mut souk, _key, _) = serve_with_backups("schedule = \"\"");
    let dir = souk.data_dir().join("backups");
    assert!(backups_in(&dir).is_empty());
    souk.signal(rustix::process::Signal::USR1);
    wait_for("a backup after SIGUSR1", Duration::from_secs(20), || {
        !backups_in(&dir).is_empty()
    });
    wait_for("the run to be counted", Duration::from_secs(5), || {
        metric_value(
            &metrics_text(&souk),
            "souk_backup_runs_total{result=\"ok\"}",
        ) == Some(1.0)
    });
    assert!(souk.stop().success());

    let mut plain = Souk::start(Opts::default());
    plain.signal(rustix::process::Signal::USR1);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        get(plain.shop, "/healthz").unwrap().status,
        200,
        "still alive"
    );
    assert_eq!(
        readyz_backup_status(&plain),
        (200, "not_configured".to_owned())
    );
    assert!(plain.stop().success());
    assert!(
        plain.stderr().contains("SIGUSR1: no backup made"),
        "{}",
        plain.stderr()
    );
}

#[test]
fn only_one_backup_at_a_time() {
    let s = Setup::new();
    let cfg = s.config("");
    let lock = std::fs::File::create(s.path().join("data/backup.lock")).unwrap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let o = run(s.path(), &["backup", "now", "--config", &cfg]);
    assert_one_line_error(&o, &["another backup is running", "backup.lock"]);
    assert!(backups_in(&s.path().join("data/backups")).is_empty());
    drop(lock);
    s.backup_now(&cfg);
}

#[test]
fn heavy_writes_during_a_backup_give_a_consistent_snapshot() {
    let (souk, key, _) = serve_with_backups("schedule = \"\"");
    let db = souk.data_dir().join("souk.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        // 200 accounts of 1000 each; filler makes the snapshot take a moment.
        c.execute_batch(
            "CREATE TABLE fixture_accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
             CREATE TABLE fixture_transfers (id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER);
             CREATE TABLE filler (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
             INSERT INTO fixture_accounts SELECT i, 1000 FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
             INSERT INTO filler SELECT randomblob(1000) FROM n;",
        )
        .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut c = rusqlite::Connection::open(&db).unwrap();
            c.busy_timeout(Duration::from_secs(10)).unwrap();
            let mut n: i64 = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (src, dst, amount) = (n % 200 + 1, (n * 7 + 3) % 200 + 1, n % 13 + 1);
                let tx = c.transaction().unwrap();
                tx.execute(
                    "UPDATE fixture_accounts SET balance = balance - ?1 WHERE id = ?2",
                    (amount, src),
                )
                .unwrap();
                tx.execute(
                    "UPDATE fixture_accounts SET balance = balance + ?1 WHERE id = ?2",
                    (amount, dst),
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO fixture_transfers (src, dst, amount) VALUES (?1, ?2, ?3)",
                    (src, dst, amount),
                )
                .unwrap();
                tx.commit().unwrap();
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let cfg = souk.dir.path().join("souk.toml").display().to_string();
    let o = run(souk.dir.path(), &["backup", "now", "--config", &cfg]);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert_ok(&o, "backup now under writes");
    assert_eq!(get(souk.shop, "/").unwrap().status, 200);
    let file = newest_backup(&souk.data_dir().join("backups"));
    let target = tempfile::tempdir().unwrap();
    let restored = target.path().join("d");
    assert_ok(
        &run(
            souk.dir.path(),
            &[
                "restore",
                "--identity",
                &key.display().to_string(),
                &file.display().to_string(),
                "--data-dir",
                &restored.display().to_string(),
            ],
        ),
        "restore",
    );
    let c = rusqlite::Connection::open(restored.join("souk.db")).unwrap();
    let (total, in_backup): (i64, i64) = c
        .query_row(
            "SELECT (SELECT sum(balance) FROM fixture_accounts), (SELECT count(*) FROM fixture_transfers)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(total, 200 * 1000, "money is neither made nor lost");
    let mismatched: i64 = c
        .query_row(
            "SELECT count(*) FROM fixture_accounts a WHERE a.balance != 1000
               - coalesce((SELECT sum(amount) FROM fixture_transfers WHERE src = a.id), 0)
               + coalesce((SELECT sum(amount) FROM fixture_transfers WHERE dst = a.id), 0)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        mismatched, 0,
        "every balance matches the transfers in the same snapshot"
    );
    assert!(in_backup > 0, "writes before the snapshot are in it");
    assert!(
        written > in_backup,
        "writes went on during and after the backup ({written} vs {in_backup})"
    );
}

/// A small tmpfs, unmounted (lazily) when the test ends.
struct SmallFs(PathBuf);

impl SmallFs {
    fn mount(path: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&path).unwrap();
        let o = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "this test needs root to mount a {size} tmpfs as a full disk (tests/run-all.sh runs as root): {}",
            stderr(&o)
        );
        Self(path)
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn disk_full_mid_backup_removes_the_partial_file_and_the_shop_keeps_serving() {
    let mnt = tempfile::tempdir().unwrap();
    let small = SmallFs::mount(mnt.path().join("backups"), "2m");
    let (souk, key, _) = serve_with_backups(&format!(
        "schedule = \"\"\ndir = \"{}\"\ncompression_level = 1",
        small.0.display()
    ));
    souk.signal(rustix::process::Signal::USR1);
    wait_for("the first backup", Duration::from_secs(20), || {
        metric_value(
            &metrics_text(&souk),
            "souk_backup_runs_total{result=\"ok\"}",
        ) == Some(1.0)
    });
    let first = newest_backup(&small.0);
    let first_bytes = std::fs::read(&first).unwrap();
    // 2.4 MB of random bytes (incompressible): more than the 2 MiB file system holds.
    {
        let c = rusqlite::Connection::open(souk.data_dir().join("souk.db")).unwrap();
        c.execute_batch(
            "CREATE TABLE photos (b BLOB);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
             INSERT INTO photos SELECT randomblob(4000) FROM n;",
        )
        .unwrap();
    }
    souk.signal(rustix::process::Signal::USR1);
    wait_for(
        "the failed run to be counted",
        Duration::from_secs(20),
        || {
            metric_value(
                &metrics_text(&souk),
                "souk_backup_runs_total{result=\"error\"}",
            ) == Some(1.0)
        },
    );
    let names: Vec<String> = std::fs::read_dir(&small.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [first.file_name().unwrap().to_string_lossy().into_owned()],
        "the partial file is gone"
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        first_bytes,
        "the earlier backup is intact"
    );
    let err = souk.stderr();
    assert!(
        err.lines()
            .any(|l| l.contains("backup failed") && l.contains("no space left")),
        "{err}"
    );
    // It ran out while writing the archive (the `.age` temp file), not before.
    assert!(err.contains(".age: no space left"), "{err}");
    assert_eq!(get(souk.shop, "/").unwrap().status, 200);
    assert_eq!(get(souk.shop, "/readyz").unwrap().status, 200);
    let o = run(
        souk.dir.path(),
        &[
            "backup",
            "verify",
            "--identity",
            &key.display().to_string(),
            &first.display().to_string(),
        ],
    );
    assert_ok(&o, "verify the earlier backup");
    drop(souk);
}

#[test]
fn post_command_gets_the_file_and_is_killed_after_its_timeout() {
    let s = Setup::new();
    let offsite = s.path().join("offsite");
    std::fs::create_dir(&offsite).unwrap();
    let cfg = s.config(&format!(
        "post_command = \"cp \\\"$1\\\" {}/\"",
        offsite.display()
    ));
    let file = s.backup_now(&cfg);
    assert_eq!(
        std::fs::read(offsite.join(file.file_name().unwrap())).unwrap(),
        std::fs::read(&file).unwrap()
    );
    let cfg = s.config("post_command = \"sleep 30\"\npost_command_timeout_secs = 1");
    let started = Instant::now();
    let o = run(s.path(), &["backup", "now", "--config", &cfg]);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_one_line_error(
        &o,
        &[
            "post_command timed out after 1 s",
            "the backup itself was written",
        ],
    );
}

#[test]
fn check_config_names_a_bad_recipient_and_shows_the_schedule() {
    let s = Setup::new();
    let cfg = s.config("");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace(&format!("[\"{}\"]", s.public), "[\"age1notakey\"]"),
    )
    .unwrap();
    for cmd in ["check-config", "serve"] {
        let o = run(s.path(), &[cmd, "--config", &cfg]);
        assert_one_line_error(
            &o,
            &["backup.recipients entry 1 \"age1notakey\"", "age-keygen"],
        );
    }
    let (_, second) = keypair(s.path(), "second.txt");
    let cfg = s.config("schedule = \"30 2 * * *\"");
    let o = souk(s.path())
        .args(["check-config", "--config", &cfg])
        .env("SOUK_BACKUP__RECIPIENTS", format!("{},{second}", s.public))
        .output()
        .unwrap();
    assert_ok(&o, "check-config with two recipients from the environment");
    let out = stdout(&o);
    assert!(out.contains("for 2 recipient(s)"), "{out}");
    assert!(
        out.contains("read as 5-field crontab line \"0 30 2 * * *\""),
        "{out}"
    );
    assert!(out.contains("02:30:00 UTC"), "{out}");
}

#[test]
fn missing_or_unwritable_backup_dir_is_a_clear_error() {
    let s = Setup::new();
    let cfg = s.config("dir = \"/proc/souk-backups\"");
    for args in [
        &["check-config", "--config", &cfg][..],
        &["backup", "now", "--config", &cfg],
    ] {
        let o = run(s.path(), args);
        assert_one_line_error(
            &o,
            &["backup.dir /proc/souk-backups does not exist and cannot be created"],
        );
    }
    let file = s.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let cfg = s.config(&format!("dir = \"{}\"", file.display()));
    let o = run(s.path(), &["backup", "now", "--config", &cfg]);
    assert_one_line_error(&o, &["exists and is not a directory"]);
    // No database yet: nothing to back up.
    let empty = tempfile::tempdir().unwrap();
    let o = run(
        s.path(),
        &[
            "backup",
            "now",
            "--config",
            &s.config(""),
            "--data-dir",
            &empty.path().display().to_string(),
        ],
    );
    assert_one_line_error(&o, &["no database at"]);
}
