//! Binding listeners: TCP on an IP literal, or a unix socket with a set mode that is
//! removed again on exit (and replaced at start when left stale by a crash).

use std::path::{Path, PathBuf};

use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::config::check::{SocketPath, bind_error, unix_socket_state};
use crate::config::{ListenAddr, SocketMode};

/// A bound listener, ready to serve.
pub enum Bound {
    /// TCP.
    Tcp(TcpListener),
    /// A unix socket; its file goes away when this is dropped.
    Unix(UnixListener, SocketFile),
}

/// Removes the socket file on drop, so a clean exit leaves nothing behind.
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Bound {
    /// What the listener is bound to (the real port when the config said 0).
    pub fn describe(&self) -> String {
        match self {
            Bound::Tcp(l) => l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "tcp".to_owned()),
            Bound::Unix(_, f) => format!("unix:{}", f.0.display()),
        }
    }
}

/// Binds `addr`; the error is one line naming the listener and the fix.
pub async fn bind(name: &str, addr: &ListenAddr, mode: SocketMode) -> Result<Bound, String> {
    match addr {
        ListenAddr::Tcp(sock) => TcpListener::bind(sock)
            .await
            .map(Bound::Tcp)
            .map_err(|e| bind_error(name, addr, &e)),
        ListenAddr::Unix(path) => {
            if unix_socket_state(name, addr, path)? == SocketPath::Stale {
                std::fs::remove_file(path).map_err(|e| {
                    format!("{name}.listen {addr}: cannot replace the stale socket: {e}")
                })?;
            }
            let listener = UnixListener::bind(path).map_err(|e| bind_error(name, addr, &e))?;
            let file = SocketFile(path.clone());
            set_mode(path, mode).map_err(|e| {
                format!(
                    "{name}.listen {addr}: cannot set the socket mode {:o}: {e}",
                    mode.0
                )
            })?;
            Ok(Bound::Unix(listener, file))
        }
    }
}

fn set_mode(path: &Path, mode: SocketMode) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode.0))
}

/// Serves `router` until `stop` is cancelled, then lets in-flight requests finish.
pub async fn serve(bound: Bound, router: Router, stop: CancellationToken) -> std::io::Result<()> {
    match bound {
        Bound::Tcp(l) => {
            axum::serve(l, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
        Bound::Unix(l, _file) => {
            axum::serve(l, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        }
    }
}
