//! Pre-flight checks shared by `serve` and `check-config`: every problem is one line
//! naming the thing and the fix. Nothing here leaves anything behind on disk.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::{Config, ListenAddr, read_secret_file};
use crate::jobs::Schedule;

/// One problem with the configuration, as a line for the operator.
pub type Problem = String;

/// Whether [`preflight`] also tries to bind TCP ports (check-config does; serve
/// binds for real right after and reports the same error there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortProbe {
    /// Bind and release each TCP port to find ports in use.
    Bind,
    /// Leave ports alone.
    Skip,
}

/// Result of [`preflight`].
#[derive(Debug, Default)]
pub struct Preflight {
    /// What stops `serve`.
    pub problems: Vec<Problem>,
    /// Facts worth showing that are not problems (e.g. a listener held by the
    /// running souk itself).
    pub notes: Vec<String>,
}

/// Checks everything `serve` needs before it creates anything.
pub fn preflight(config: &Config, probe: PortProbe) -> Preflight {
    let mut notes = Vec::new();
    let mut problems = Vec::new();
    let mut check = |r: Result<(), String>| {
        if let Err(p) = r {
            problems.push(p);
        }
    };
    check(writable_dir("data_dir", &config.data_dir));
    if config.db_path().exists() && !config.db_path().is_file() {
        check(Err(format!(
            "database path {} exists and is not a file: move it away",
            config.db_path().display()
        )));
    }
    check(writable_dir("log dir", &config.log_dir()));
    if !config.metrics.token_file.as_os_str().is_empty() {
        check(read_secret_file(&config.metrics.token_file).map(|_| ()));
    }
    if config.shop.listen == config.metrics.listen {
        check(Err(format!(
            "shop.listen and metrics.listen are both {}: the metrics listener must be separate (Tor must never reach it)",
            config.shop.listen
        )));
    }
    for (name, addr) in [
        ("shop", &config.shop.listen),
        ("metrics", &config.metrics.listen),
    ] {
        match listener_usable(name, addr, probe) {
            Ok(Some(note)) => notes.push(note),
            Ok(None) => {}
            Err(p) => check(Err(p)),
        }
    }
    for p in config.monero.problems() {
        check(Err(p));
    }
    for p in config.escrow.problems(config.monero.network) {
        check(Err(p));
    }
    if config.escrow.multisig() && !config.monero.daemon_configured() {
        check(Err("escrow.mode enables multisig but monero.daemon_url is empty: the arbiter's wallets need the daemon (set daemon_url)".to_owned()));
    }
    check(
        Schedule::parse(&config.log.cleanup_schedule)
            .map(|_| ())
            .map_err(|e| format!("log.cleanup_schedule: {e}")),
    );
    for p in config.backup.problems(&config.data_dir) {
        check(Err(p));
    }
    for (key, value) in [
        (
            "server.shutdown_grace_secs",
            config.server.shutdown_grace_secs,
        ),
        (
            "shop.request_timeout_secs",
            config.shop.request_timeout_secs,
        ),
        ("shop.body_limit_bytes", config.shop.body_limit_bytes as u64),
        ("log.keep_files", config.log.keep_files as u64),
        ("log.max_total_mb", config.log.max_total_mb),
        ("log.max_age_days", config.log.max_age_days),
        (
            "market.payment_window_minutes",
            config.market.payment_window_minutes,
        ),
        (
            "market.auto_finalize_days",
            config.market.auto_finalize_days,
        ),
        (
            "market.delivery_note_purge_days",
            config.market.delivery_note_purge_days,
        ),
        (
            "market.upload_limit_bytes",
            config.market.upload_limit_bytes as u64,
        ),
    ] {
        if value == 0 {
            check(Err(format!("{key} is 0: it must be at least 1")));
        }
    }
    Preflight { problems, notes }
}

/// A directory souk must write to: it exists and is writable, or it can be created.
pub fn writable_dir(what: &str, dir: &Path) -> Result<(), String> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(format!(
                "{what} {} exists and is not a directory: point {what} elsewhere",
                dir.display()
            ));
        }
        return probe_write(dir).map_err(|e| {
            format!(
                "{what} {} is not writable ({e}): give the souk user write access (chown/chmod) or point {what} elsewhere",
                dir.display()
            )
        });
    }
    let mut ancestor: PathBuf = dir.to_path_buf();
    let existing = loop {
        if !ancestor.pop() {
            break PathBuf::from(".");
        }
        if ancestor.as_os_str().is_empty() {
            break PathBuf::from(".");
        }
        if ancestor.exists() {
            break ancestor;
        }
    };
    if !existing.is_dir() {
        return Err(format!(
            "{what} {} cannot be created: {} is not a directory",
            dir.display(),
            existing.display()
        ));
    }
    probe_write(&existing).map_err(|e| {
        format!(
            "{what} {} does not exist and cannot be created: {} is not writable ({e}); create it for the souk user (install -d -o souk {}) or point {what} elsewhere",
            dir.display(),
            existing.display(),
            dir.display()
        )
    })
}

/// Creates and removes a probe file: `access(2)` says yes to root even where writes fail.
fn probe_write(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".souk-write-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}

/// Ok(Some(note)) when the address is taken by a running souk (check-config on a
/// live server), Ok(None) when it is free.
fn listener_usable(
    name: &str,
    addr: &ListenAddr,
    probe: PortProbe,
) -> Result<Option<String>, String> {
    let running_souk = || {
        (probe == PortProbe::Bind && answers_as_souk(addr)).then(|| {
            format!(
                "{name}.listen {addr} is in use by a running souk (restart it to apply changes)"
            )
        })
    };
    match addr {
        ListenAddr::Tcp(sock) => {
            if probe == PortProbe::Bind
                && let Err(e) = TcpListener::bind(sock)
            {
                return running_souk()
                    .map(Some)
                    .ok_or_else(|| bind_error(name, addr, &e));
            }
            Ok(None)
        }
        ListenAddr::Unix(path) => {
            let parent = path.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                if probe == PortProbe::Bind && parent.starts_with("/run") {
                    return Ok(Some(format!(
                        "{name}.listen {addr}: {} does not exist yet; systemd creates it when souk starts (RuntimeDirectory=souk)",
                        parent.display()
                    )));
                }
                return Err(format!(
                    "{name}.listen {addr}: directory {} does not exist: create it (systemd: RuntimeDirectory=souk)",
                    parent.display()
                ));
            }
            probe_write(parent).map_err(|e| {
                format!(
                    "{name}.listen {addr}: cannot create the socket in {} ({e}): give the souk user write access",
                    parent.display()
                )
            })?;
            match unix_socket_state(name, addr, path) {
                Ok(_) => Ok(None),
                Err(e) => running_souk().map(Some).ok_or(e),
            }
        }
    }
}

/// Whether a souk answers `/healthz` at `addr` (both listeners serve it).
fn answers_as_souk(addr: &ListenAddr) -> bool {
    use std::io::{Read, Write};
    const ASK: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let timeout = std::time::Duration::from_secs(2);
    let mut answer = Vec::new();
    let done = match addr {
        ListenAddr::Tcp(sock) => {
            std::net::TcpStream::connect_timeout(sock, timeout).and_then(|mut s| {
                s.set_read_timeout(Some(timeout))?;
                s.write_all(ASK)?;
                s.take(4096).read_to_end(&mut answer)
            })
        }
        ListenAddr::Unix(path) => UnixStream::connect(path).and_then(|mut s| {
            s.set_read_timeout(Some(timeout))?;
            s.write_all(ASK)?;
            s.take(4096).read_to_end(&mut answer)
        }),
    };
    let text = String::from_utf8_lossy(&answer);
    done.is_ok() && text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\nok")
}

/// What lies at a unix socket path before souk binds it.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketPath {
    /// Nothing: bind directly.
    Free,
    /// A socket nobody answers on: left over from a crash, safe to replace.
    Stale,
}

/// Classifies a unix socket path; a live socket or a non-socket file is an error.
pub fn unix_socket_state(name: &str, addr: &ListenAddr, path: &Path) -> Result<SocketPath, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(SocketPath::Free),
        Err(e) => Err(format!(
            "{name}.listen {addr}: cannot inspect the path: {e}"
        )),
        Ok(meta) if !meta.file_type().is_socket() => Err(format!(
            "{name}.listen {addr}: the path exists and is not a socket: move that file away or choose another path"
        )),
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => Err(format!(
                "{name}.listen {addr}: another process is serving on this socket: stop it or choose another path"
            )),
            Err(_) => Ok(SocketPath::Stale),
        },
    }
}

/// The one line for a failed bind.
pub fn bind_error(name: &str, addr: &ListenAddr, e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "{name}.listen {addr}: address already in use: stop the other program or set another port"
        ),
        ErrorKind::AddrNotAvailable => format!(
            "{name}.listen {addr}: this machine has no such address: use 127.0.0.1 or an address of this host"
        ),
        ErrorKind::PermissionDenied => format!(
            "{name}.listen {addr}: permission denied: use a port above 1023 or a unix socket"
        ),
        _ => format!("{name}.listen {addr}: cannot listen: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dir_under_writable_parent_is_fine() {
        let t = tempfile::tempdir().unwrap();
        assert!(writable_dir("data_dir", &t.path().join("a/b")).is_ok());
        assert!(!t.path().join("a").exists(), "the probe created nothing");
    }

    #[test]
    fn dir_that_is_a_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let e = writable_dir("data_dir", &f).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
        let e = writable_dir("data_dir", &f.join("sub")).unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[test]
    fn unwritable_location_is_refused() {
        // /proc refuses new files even to root, unlike a chmod-ed directory.
        let e = writable_dir("data_dir", Path::new("/proc/souk-test")).unwrap_err();
        assert!(e.contains("cannot be created"), "{e}");
    }

    #[test]
    fn port_in_use_is_reported() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ListenAddr::Tcp(held.local_addr().unwrap());
        let e = listener_usable("shop", &addr, PortProbe::Bind).unwrap_err();
        assert!(e.contains("address already in use"), "{e}");
    }
}
