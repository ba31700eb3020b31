//! Packaging checks: the systemd unit (hardening score and `verify`), the
//! sysusers.d entry, the production conffile, the Tor example, and (ignored by
//! default, needs root) a full install / purge cycle of the built .deb.
//!
//! Tools come from Debian packages; a missing tool fails the test with the
//! package to install, it never silently passes:
//!   systemd-analyze, systemd-sysusers -> `systemd`;  tor -> `tor`;
//!   dpkg, dpkg-query -> `dpkg`;  setpriv -> `util-linux`.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The highest acceptable `systemd-analyze security` exposure (0 = locked
/// down, 10 = unprotected).
const MAX_EXPOSURE: f64 = 1.2;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unit_path() -> PathBuf {
    repo().join("systemd/souk.service")
}

/// Finds `tool` on PATH or in the sbin directories (tor is /usr/sbin/tor,
/// which is not on a normal user's PATH); panics naming the Debian package.
fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if let Ok(meta) = fs::metadata(&candidate)
            && meta.is_file()
            && meta.permissions().mode() & 0o111 != 0
        {
            return candidate;
        }
    }
    panic!(
        "`{name}` not found: install the Debian package `{package}` (apt-get install {package})"
    );
}

/// Runs a command to completion with a neutral, non-interactive environment.
fn run<I, S>(program: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env("SYSTEMD_COLORS", "0")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("LC_ALL", "C.UTF-8");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `Key=value` assignments of a unit file (comments and sections dropped).
fn unit_assignments(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('[')
        })
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Executable of an `Exec*=` line, without the `@-:+!` prefixes.
fn exec_path(value: &str) -> &str {
    let value = value.trim_start_matches(['@', '-', ':', '+', '!']);
    value.split_whitespace().next().unwrap_or("")
}

#[test]
fn systemd_unit_exposure_is_at_most_1_2() {
    let analyze = tool("systemd-analyze", "systemd");
    let unit = unit_path();
    let out = run(
        &analyze,
        [
            OsStr::new("security"),
            OsStr::new("--offline=true"),
            OsStr::new("--no-pager"),
            unit.as_os_str(),
        ],
    );
    let all = text(&out);
    let line = all
        .lines()
        .find(|l| l.contains("Overall exposure level for"))
        .unwrap_or_else(|| panic!("no overall exposure in systemd-analyze output:\n{all}"));
    let score: f64 = line
        .rsplit_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse the exposure from {line:?}"));
    println!("systemd-analyze security --offline=true: {}", line.trim());
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}; directives still counted against the unit:\n{}",
        all.lines()
            .filter(|l| l.contains('✗'))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// `systemd-analyze verify` checks that every Exec*= binary exists, so it
/// runs against a throw-away root: the host's unit directory (for
/// sysinit.target, multi-user.target, ...), the unit where the .deb puts it,
/// a placeholder /usr/bin/souk and copies of the other binaries the unit runs.
#[test]
fn systemd_unit_verifies_cleanly() {
    let analyze = tool("systemd-analyze", "systemd");
    let unit_text = fs::read_to_string(unit_path()).unwrap();
    let root = tempfile::tempdir().unwrap();

    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .map(Path::new)
        .into_iter()
        .find(|p| p.join("multi-user.target").exists())
        .expect("no systemd unit directory with multi-user.target: install the Debian package `systemd`");
    let units = root.path().join("usr/lib/systemd/system");
    copy_tree(host_units, &units);
    fs::write(units.join("souk.service"), &unit_text).unwrap();

    for (key, value) in unit_assignments(&unit_text) {
        if !key.starts_with("Exec") {
            continue;
        }
        let exe = exec_path(&value);
        assert!(exe.starts_with('/'), "{key}={value}: use an absolute path");
        let dest = root.path().join(exe.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        if exe == "/usr/bin/souk" {
            fs::write(&dest, "#!/bin/sh\nexit 0\n").unwrap();
        } else {
            assert!(
                Path::new(exe).exists(),
                "{key}={value}: {exe} does not exist on this host"
            );
            fs::copy(exe, &dest).unwrap();
        }
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
    }

    let root_arg = format!("--root={}", root.path().display());
    let out = run(
        &analyze,
        ["verify", "--man=no", root_arg.as_str(), "souk.service"],
    );
    let all = text(&out);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{all}"
    );
    assert!(
        all.trim().is_empty(),
        "systemd-analyze verify is not clean:\n{all}"
    );
}

/// Copies a directory tree, keeping symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The parts of the unit that other pieces (the .deb, souk's sd_notify code,
/// Tor) rely on; the hardening itself is scored above.
#[test]
fn systemd_unit_keeps_its_contract() {
    let unit_text = fs::read_to_string(unit_path()).unwrap();
    let set: Vec<(String, String)> = unit_assignments(&unit_text);
    let get = |key: &str| -> Vec<&str> {
        set.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    for (key, want) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("Restart", "on-failure"),
        ("User", "souk"),
        ("Group", "souk"),
        ("StateDirectory", "souk"),
        ("LogsDirectory", "souk"),
        ("RuntimeDirectory", "souk"),
        ("ConfigurationDirectory", "souk"),
        ("KillSignal", "SIGTERM"),
        (
            "ExecStart",
            "/usr/bin/souk serve --config /etc/souk/souk.toml",
        ),
        ("IPAddressDeny", "any"),
        ("IPAddressAllow", "localhost"),
        ("WantedBy", "multi-user.target"),
    ] {
        assert_eq!(get(key), [want], "{key}= in systemd/souk.service");
    }
    assert!(!get("WatchdogSec").is_empty(), "WatchdogSec= missing");
    assert!(!get("TimeoutStopSec").is_empty(), "TimeoutStopSec= missing");
    // shop.sock inherits the directory's group (debian-tor): see the unit's header.
    assert_eq!(get("RuntimeDirectoryMode"), ["2750"]);
    assert!(
        get("ExecStartPre")
            .iter()
            .any(|v| v.ends_with("chgrp debian-tor /run/souk")),
        "ExecStartPre= must hand /run/souk to the debian-tor group"
    );
    // monero-wallet-rpc is spawned from /usr/bin: nothing may hide or forbid it.
    for key in [
        "NoExecPaths",
        "ExecPaths",
        "InaccessiblePaths",
        "TemporaryFileSystem",
    ] {
        assert!(
            get(key).is_empty(),
            "{key}= would get in the way of spawning /usr/bin binaries"
        );
    }
}

#[test]
fn sysusers_entry_creates_a_locked_system_user() {
    let sysusers = tool("systemd-sysusers", "systemd");
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("etc")).unwrap();
    let root_arg = format!("--root={}", root.path().display());
    let file = repo().join("systemd/souk.sysusers");
    let out = run(&sysusers, [OsStr::new(&root_arg), file.as_os_str()]);
    assert!(
        out.status.success(),
        "systemd-sysusers failed:\n{}",
        text(&out)
    );
    let passwd = fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let entry = passwd
        .lines()
        .find(|l| l.starts_with("souk:"))
        .unwrap_or_else(|| panic!("no souk user created:\n{passwd}"));
    let fields: Vec<&str> = entry.split(':').collect();
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "souk must be a system user, got uid {uid}");
    assert_eq!(fields[5], "/var/lib/souk", "home directory");
    assert!(
        fields[6].ends_with("nologin"),
        "souk must have no login shell: {entry}"
    );
    let group = fs::read_to_string(root.path().join("etc/group")).unwrap();
    assert!(
        group.lines().any(|l| l.starts_with("souk:")),
        "no souk group created:\n{group}"
    );
}

/// The shipped /etc/souk/souk.toml must stay in step with souk's config schema
/// (unknown keys are rejected). The paths that only exist on an installed
/// system are redirected to a temporary directory through the SOUK_*
/// environment layer; every other value is the file's own.
#[test]
fn production_conffile_passes_check_config() {
    let conffile = repo().join("packaging/deb/souk.toml");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    // Only the overrides below: cargo passes build.rs's `rustc-env` values
    // (BUILD_GIT_COMMIT) to test processes, and souk would read them as config.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SOUK_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args([
            OsStr::new("check-config"),
            OsStr::new("--config"),
            conffile.as_os_str(),
        ])
        .env("SOUK_DATA_DIR", dir.path().join("data"))
        .env("SOUK_LOG__DIR", dir.path().join("logs"))
        .env(
            "SOUK_SHOP__LISTEN",
            format!("unix:{}", dir.path().join("shop.sock").display()),
        )
        .env("SOUK_METRICS__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "souk check-config rejects packaging/deb/souk.toml:\n{}",
        text(&out)
    );
}

#[test]
fn production_conffile_matches_the_unit() {
    let conf = fs::read_to_string(repo().join("packaging/deb/souk.toml")).unwrap();
    let active: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for want in [
        "data_dir = \"/var/lib/souk\"",
        "dir = \"/var/log/souk\"",
        "listen = \"unix:/run/souk/shop.sock\"",
        "listen = \"127.0.0.1:9101\"",
        "socket_mode = \"0660\"",
    ] {
        assert!(
            active.contains(&want),
            "packaging/deb/souk.toml must set {want}"
        );
    }
}

/// A copy of torrc.example whose HiddenServiceDir and DataDirectory live in a
/// temporary directory, checked with `tor --verify-config`: once on its own
/// and once on top of Debian's service defaults, as tor@default.service runs it.
/// Debian 12's tor (0.4.9) knows every line, including the PoW defence, so
/// nothing is filtered out.
#[test]
fn tor_example_verifies() {
    let tor = tool("tor", "tor");
    let example = fs::read_to_string(repo().join("packaging/tor/torrc.example")).unwrap();
    let active: Vec<&str> = example
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for want in [
        "HiddenServiceDir /var/lib/tor/souk/",
        "HiddenServicePort 80 unix:/run/souk/shop.sock",
        "HiddenServiceEnableIntroDoSDefense 1",
        "HiddenServicePoWDefensesEnabled 1",
        "HiddenServiceMaxStreams 64",
        "HiddenServiceMaxStreamsCloseCircuit 1",
    ] {
        assert!(
            active.contains(&want),
            "torrc.example must contain the line {want:?}"
        );
    }
    let ports: Vec<&&str> = active
        .iter()
        .filter(|l| l.starts_with("HiddenServicePort"))
        .collect();
    assert_eq!(
        ports.len(),
        1,
        "only the shop socket may be forwarded (never metrics): {ports:?}"
    );

    let modules = run(&tor, ["--list-modules"]);
    assert!(
        text(&modules).lines().any(|l| l.trim() == "pow: yes"),
        "this tor lacks the pow module, so HiddenServicePoWDefensesEnabled would do nothing: \
         install tor >= 0.4.8 from Debian 12 (bookworm) updates:\n{}",
        text(&modules)
    );

    let dir = tempfile::tempdir().unwrap();
    let hs_dir = dir.path().join("hs");
    let mut copy = String::new();
    for line in example.lines() {
        if line.trim_start().starts_with("HiddenServiceDir ") {
            copy.push_str(&format!("HiddenServiceDir {}/\n", hs_dir.display()));
        } else {
            copy.push_str(line);
            copy.push('\n');
        }
    }
    copy.push_str(&format!(
        "DataDirectory {}\n",
        dir.path().join("data").display()
    ));
    let torrc = dir.path().join("torrc");
    fs::write(&torrc, copy).unwrap();
    let empty = dir.path().join("empty-defaults");
    fs::write(&empty, "").unwrap();

    let mut defaults = vec![empty];
    let debian_defaults = PathBuf::from("/usr/share/tor/tor-service-defaults-torrc");
    if debian_defaults.exists() {
        defaults.push(debian_defaults);
    }
    for d in defaults {
        let out = run(
            &tor,
            [
                OsStr::new("--verify-config"),
                OsStr::new("--defaults-torrc"),
                d.as_os_str(),
                OsStr::new("-f"),
                torrc.as_os_str(),
            ],
        );
        let all = text(&out);
        assert!(
            out.status.success() && all.contains("Configuration was valid"),
            "tor --verify-config (defaults {}) failed:\n{all}",
            d.display()
        );
    }
}

// ---------------------------------------------------------------------------
// Install / purge cycle of the real .deb (root only, changes the system).
// ---------------------------------------------------------------------------

const UNIT_PATHS: [&str; 2] = [
    "/usr/lib/systemd/system/souk.service",
    "/lib/systemd/system/souk.service",
];
const WANTS_LINK: &str = "/etc/systemd/system/multi-user.target.wants/souk.service";

/// Purges the package when dropped, so a failed assertion never leaves an
/// installed souk behind.
struct PurgeOnDrop {
    dpkg: PathBuf,
    armed: bool,
}

impl PurgeOnDrop {
    fn purge(&mut self) -> Output {
        self.armed = false;
        run(&self.dpkg, ["--purge", "souk"])
    }
}

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let out = self.purge();
            eprintln!(
                "cleanup: dpkg --purge souk ({}):\n{}",
                out.status,
                text(&out)
            );
        }
    }
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn newest_deb() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from);
    let dir = target.join("debian");
    fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}: build the .deb first (cargo deb --no-build --target x86_64-unknown-linux-gnu)", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("souk_") && name.ends_with(".deb")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("no souk_*.deb in {}", dir.display()))
}

/// uid and gid of a user, and the gid of a group, read from /etc.
fn passwd_entry(name: &str) -> Option<Vec<String>> {
    fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<String> = l.split(':').map(str::to_owned).collect();
            (f.first().map(String::as_str) == Some(name)).then_some(f)
        })
}

fn group_gid(name: &str) -> Option<u32> {
    fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            (f.next() == Some(name))
                .then(|| f.nth(1).and_then(|g| g.parse().ok()))
                .flatten()
        })
}

fn assert_owner_mode(path: &str, uid: u32, gid: u32, mode: u32) {
    let meta = fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (uid, gid, mode),
        "{path}: (uid, gid, mode) is ({}, {}, {:o}), want ({uid}, {gid}, {mode:o})",
        meta.uid(),
        meta.gid(),
        meta.mode() & 0o7777
    );
}

/// Paths under the directories a package can touch, without the files that
/// change on every dpkg run or by the kept system user.
fn snapshot() -> BTreeSet<PathBuf> {
    const ROOTS: [&str; 7] = [
        "/etc",
        "/var/lib",
        "/var/log",
        "/usr/bin",
        "/usr/lib/systemd",
        "/usr/lib/sysusers.d",
        "/usr/share/doc",
    ];
    const VOLATILE: [&str; 9] = [
        "/var/lib/dpkg",
        "/var/log/dpkg.log",
        "/var/log/apt",
        "/var/log/journal",
        "/var/lib/systemd/timers",
        "/etc/passwd-",
        "/etc/group-",
        "/etc/shadow-",
        "/etc/gshadow-",
    ];
    fn walk(dir: &Path, dev: u64, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            out.insert(path.clone());
            if let Ok(meta) = fs::symlink_metadata(&path)
                && meta.is_dir()
                && meta.dev() == dev
            {
                walk(&path, dev, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for root in ROOTS {
        if let Ok(meta) = fs::metadata(root) {
            walk(Path::new(root), meta.dev(), &mut out);
        }
    }
    out.retain(|p| !VOLATILE.iter().any(|v| p.starts_with(v)));
    out
}

#[test]
#[ignore = "needs root and a built .deb: run by tests/run-all.sh"]
fn deb_installs_and_purges_cleanly() {
    assert!(
        is_root(),
        "run as root: the test installs and purges the souk package"
    );
    let dpkg = tool("dpkg", "dpkg");
    let dpkg_query = tool("dpkg-query", "dpkg");
    let setpriv = tool("setpriv", "util-linux");
    let deb = newest_deb();
    println!("package: {}", deb.display());

    // Never touch a real installation: purging it would delete its shop.
    // `${Status}` is "want ok state"; an unknown package prints nothing.
    let status = run(&dpkg_query, ["-W", "-f=${Status}", "souk"]);
    let stdout = String::from_utf8_lossy(&status.stdout).into_owned();
    let state = stdout.split_whitespace().nth(2).unwrap_or("not-installed");
    assert_eq!(
        state,
        "not-installed",
        "souk is already on this machine ({}): refusing to install over it and purge it",
        stdout.trim()
    );
    for path in ["/etc/souk", "/var/lib/souk", "/var/log/souk"] {
        assert!(
            !Path::new(path).exists(),
            "{path} exists: refusing to run on a machine with souk data"
        );
    }

    let before = snapshot();
    let mut guard = PurgeOnDrop {
        dpkg: dpkg.clone(),
        armed: true,
    };
    let out = run(&dpkg, [OsStr::new("-i"), deb.as_os_str()]);
    assert!(out.status.success(), "dpkg -i failed:\n{}", text(&out));

    // The system user and its group.
    let user = passwd_entry("souk").expect("postinst did not create the user souk");
    let uid: u32 = user[2].parse().unwrap();
    let gid: u32 = user[3].parse().unwrap();
    assert!(uid < 1000, "souk must be a system user, got uid {uid}");
    assert_eq!(
        group_gid("souk"),
        Some(gid),
        "souk's primary group must be souk"
    );
    assert_eq!(user[5], "/var/lib/souk");
    assert!(
        user[6].ends_with("nologin"),
        "souk must have no login shell: {}",
        user[6]
    );

    // Files, directories, modes and owners.
    assert_owner_mode("/usr/bin/souk", 0, 0, 0o755);
    assert_owner_mode("/etc/souk/souk.toml", 0, gid, 0o640);
    assert_owner_mode("/var/lib/souk", uid, gid, 0o750);
    assert_owner_mode("/var/log/souk", uid, gid, 0o750);
    assert_owner_mode("/usr/lib/sysusers.d/souk.conf", 0, 0, 0o644);
    let unit = UNIT_PATHS
        .iter()
        .find(|p| Path::new(p).exists())
        .expect("unit file not installed");
    assert_owner_mode(unit, 0, 0, 0o644);
    let conffiles = run(&dpkg_query, ["-W", "-f=${Conffiles}", "souk"]);
    assert!(
        text(&conffiles).contains("/etc/souk/souk.toml"),
        "souk.toml is not a conffile:\n{}",
        text(&conffiles)
    );

    // Enabled: deb-systemd-helper made the WantedBy= symlink.
    let link = fs::read_link(WANTS_LINK)
        .unwrap_or_else(|e| panic!("{WANTS_LINK}: {e}: the unit was not enabled"));
    assert!(
        link.ends_with("souk.service"),
        "{WANTS_LINK} -> {}",
        link.display()
    );

    // The production config passes souk's own checks, as root (what the
    // operator runs) and as the service user. /run/souk is what
    // RuntimeDirectory= creates when the unit starts; systemd is not
    // necessarily running here, so create it the same way.
    fs::create_dir_all("/run/souk").unwrap();
    std::os::unix::fs::chown("/run/souk", Some(uid), Some(gid)).unwrap();
    fs::set_permissions("/run/souk", fs::Permissions::from_mode(0o2750)).unwrap();
    let check = run(
        Path::new("/usr/bin/souk"),
        ["check-config", "--config", "/etc/souk/souk.toml"],
    );
    assert!(
        check.status.success(),
        "souk check-config (root) failed:\n{}",
        text(&check)
    );
    let check = run(
        &setpriv,
        [
            "--reuid=souk",
            "--regid=souk",
            "--init-groups",
            "--",
            "/usr/bin/souk",
            "check-config",
            "--config",
            "/etc/souk/souk.toml",
        ],
    );
    assert!(
        check.status.success(),
        "souk check-config (as user souk) failed:\n{}",
        text(&check)
    );

    // Leave some runtime data behind, as a running shop would.
    fs::write("/var/lib/souk/test-state", "x").unwrap();
    fs::write("/var/log/souk/test.log", "x").unwrap();
    fs::write("/etc/souk/souk.toml.dpkg-old", "x").unwrap();

    let out = guard.purge();
    assert!(
        out.status.success(),
        "dpkg --purge souk failed:\n{}",
        text(&out)
    );
    for path in [
        "/etc/souk",
        "/var/lib/souk",
        "/var/log/souk",
        "/run/souk",
        "/usr/bin/souk",
        "/usr/lib/sysusers.d/souk.conf",
        "/usr/share/doc/souk",
        WANTS_LINK,
        "/var/lib/systemd/deb-systemd-helper-enabled/souk.service.dsh-also",
        "/var/lib/systemd/deb-systemd-helper-masked/souk.service",
    ]
    .iter()
    .chain(UNIT_PATHS.iter())
    {
        assert!(
            fs::symlink_metadata(path).is_err(),
            "{path} is left after purge"
        );
    }
    let after = snapshot();
    let added: Vec<_> = after.difference(&before).collect();
    let removed: Vec<_> = before.difference(&after).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "purge left the system changed: added {added:?}, removed {removed:?}"
    );
    // Debian convention: the system user stays (files with its uid may survive).
    assert!(
        passwd_entry("souk").is_some(),
        "the souk user must be kept on purge"
    );
}
