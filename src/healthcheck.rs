//! `souk healthcheck`: asks the running instance's shop listener for `/healthz`.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::{Config, ListenAddr};

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Ok when `/healthz` answers 200 `ok`; the error says what happened.
pub async fn check(config: &Config) -> Result<(), String> {
    let target = config.shop.listen.clone();
    tokio::time::timeout(TIMEOUT, ask(&target))
        .await
        .map_err(|_| {
            format!(
                "shop listener {target} did not answer within {} s",
                TIMEOUT.as_secs()
            )
        })?
}

async fn ask(target: &ListenAddr) -> Result<(), String> {
    match target {
        ListenAddr::Tcp(addr) => {
            let mut addr = *addr;
            // A wildcard listener is reached on loopback.
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| {
                format!("cannot connect to shop listener {target}: {e} (is souk running?)")
            })?;
            get_healthz(stream, target).await
        }
        ListenAddr::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                format!("cannot connect to shop listener {target}: {e} (is souk running?)")
            })?;
            get_healthz(stream, target).await
        }
    }
}

async fn get_healthz<S>(stream: S, target: &ListenAddr) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("shop listener {target}: HTTP handshake failed: {e}"))?;
    tokio::spawn(conn);
    let req = hyper::Request::get("/healthz")
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("shop listener {target}: request failed: {e}"))?;
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("shop listener {target}: reading the answer failed: {e}"))?
        .to_bytes();
    if status == hyper::StatusCode::OK && body.as_ref() == b"ok" {
        Ok(())
    } else {
        Err(format!(
            "shop listener {target}: /healthz answered {status}"
        ))
    }
}
