//! HTTP transport for Monero RPC: JSON-RPC 2.0 on `/json_rpc` and monerod's plain
//! JSON endpoints, over hyper's client to a loopback IP literal (no DNS), with
//! per-attempt timeouts, digest authentication, and retries with backoff only for
//! calls that are safe to repeat.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MoneroError;
use crate::config::monero::{Endpoint, Login};

/// Which RPC a client talks to (a metric label and a word in error lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// monerod.
    Daemon,
    /// monero-wallet-rpc.
    Wallet,
}

impl Target {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Daemon => "daemon",
            Self::Wallet => "wallet",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Daemon => "monerod",
            Self::Wallet => "monero-wallet-rpc",
        })
    }
}

/// Whether a failed call may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read: repeating it changes nothing, so transient failures are retried.
    Safe,
    /// Changes state (transfer, create_address ...): sent once, whatever happens;
    /// the caller reconciles an unknown outcome.
    Never,
}

/// Timeouts of one client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// One attempt, connect to last byte.
    pub request: Duration,
}

/// Attempts for a [`Retry::Safe`] call, and the first backoff (doubled each time).
const SAFE_ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Answers larger than this are refused (a wallet's get_transfers can be big).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Idle keep-alive connections kept per endpoint.
const MAX_IDLE: usize = 4;

/// One keep-alive connection and the digest challenge its server gave it: epee
/// binds a nonce to the connection it was issued on, so the answer to a
/// challenge (and its reuse with a growing nonce count) stays on that connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    digest: Option<http_auth::PasswordClient>,
}

/// One RPC endpoint.
pub struct RpcClient {
    target: Target,
    addr: std::net::SocketAddr,
    login: Option<Login>,
    idle: Mutex<Vec<Conn>>,
    timeouts: Timeouts,
}

impl fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcClient")
            .field("target", &self.target)
            .field("addr", &self.addr)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct JsonRpcRequest<'a, P> {
    jsonrpc: &'static str,
    id: &'static str,
    method: &'a str,
    params: P,
}

#[derive(serde::Deserialize)]
struct JsonRpcResponse<R> {
    result: Option<R>,
    error: Option<JsonRpcError>,
}

#[derive(serde::Deserialize)]
struct JsonRpcError {
    code: i64,
    message: String,
}

impl RpcClient {
    /// A client for `endpoint`; `login` enables digest authentication.
    pub fn new(
        target: Target,
        endpoint: &Endpoint,
        login: Option<Login>,
        timeouts: Timeouts,
    ) -> Self {
        Self {
            target,
            addr: endpoint.addr,
            login,
            idle: Mutex::new(Vec::new()),
            timeouts,
        }
    }

    /// Calls a JSON-RPC method on `/json_rpc`.
    pub async fn json_rpc<P, R>(
        &self,
        method: &'static str,
        params: P,
        retry: Retry,
    ) -> Result<R, MoneroError>
    where
        P: Serialize,
        R: DeserializeOwned,
    {
        let body = serde_json::to_vec(&JsonRpcRequest {
            jsonrpc: "2.0",
            id: "0",
            method,
            params,
        })
        .map_err(|e| self.bad(method, e.to_string()))?;
        let bytes = self.call("/json_rpc", method, body, retry).await?;
        let parsed: JsonRpcResponse<R> =
            serde_json::from_slice(&bytes).map_err(|e| self.bad(method, e.to_string()))?;
        match (parsed.result, parsed.error) {
            (_, Some(e)) => Err(self.count(
                method,
                MoneroError::Rpc {
                    target: self.target,
                    method,
                    code: e.code,
                    message: e.message,
                },
            )),
            (Some(r), None) => Ok(r),
            (None, None) => Err(self.count(method, self.bad(method, "no result".into()))),
        }
    }

    /// Calls one of monerod's plain JSON endpoints (`/get_transaction_pool_stats` ...),
    /// whose answers carry a `status` field that must be "OK".
    pub async fn plain<P, R>(
        &self,
        path: &'static str,
        params: P,
        retry: Retry,
    ) -> Result<R, MoneroError>
    where
        P: Serialize,
        R: DeserializeOwned,
    {
        let method = path.trim_start_matches('/');
        let body = serde_json::to_vec(&params).map_err(|e| self.bad(method, e.to_string()))?;
        let bytes = self.call(path, method, body, retry).await?;
        #[derive(serde::Deserialize)]
        struct Status {
            status: Option<String>,
        }
        let status: Status =
            serde_json::from_slice(&bytes).map_err(|e| self.bad(method, e.to_string()))?;
        match status.status.as_deref() {
            Some("OK") => {}
            other => {
                return Err(self.count(
                    method,
                    MoneroError::Status {
                        target: self.target,
                        method,
                        status: other.unwrap_or("missing").chars().take(40).collect(),
                    },
                ));
            }
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| self.count(method, self.bad(method, e.to_string())))
    }

    fn bad(&self, method: &'static str, reason: String) -> MoneroError {
        MoneroError::BadResponse {
            target: self.target,
            method,
            reason: reason.chars().take(200).collect(),
        }
    }

    /// Counts an error found after the transport succeeded.
    fn count(&self, method: &'static str, e: MoneroError) -> MoneroError {
        metrics::counter!("souk_monero_rpc_errors_total",
            "target" => self.target.label(), "method" => method, "kind" => e.kind())
        .increment(1);
        e
    }

    /// Sends with retries (for safe calls), timing the whole call for the histogram.
    async fn call(
        &self,
        path: &'static str,
        method: &'static str,
        body: Vec<u8>,
        retry: Retry,
    ) -> Result<Bytes, MoneroError> {
        let body = Bytes::from(body);
        let started = Instant::now();
        let attempts = match retry {
            Retry::Safe => SAFE_ATTEMPTS,
            Retry::Never => 1,
        };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        let result = loop {
            let r = tokio::time::timeout(
                self.timeouts.request,
                self.attempt(path, method, body.clone(), retry),
            )
            .await
            .unwrap_or_else(|_| {
                Err(MoneroError::Timeout {
                    target: self.target,
                    method,
                    secs: self.timeouts.request.as_secs(),
                })
            });
            match r {
                Err(e) if attempt < attempts && e.is_transient() => {
                    tracing::debug!(target_rpc = self.target.label(), method, attempt, error = %e, "retrying RPC read");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
                other => break other,
            }
        };
        metrics::histogram!("souk_monero_rpc_duration_seconds",
            "target" => self.target.label(), "method" => method)
        .record(started.elapsed().as_secs_f64());
        result.map_err(|e| self.count(method, e))
    }

    fn unreachable(&self, reason: String) -> MoneroError {
        MoneroError::Unreachable {
            target: self.target,
            addr: self.addr.to_string(),
            reason,
        }
    }

    /// A new keep-alive connection.
    async fn connect(&self) -> Result<Conn, MoneroError> {
        let stream = tokio::time::timeout(
            self.timeouts.connect,
            tokio::net::TcpStream::connect(self.addr),
        )
        .await
        .map_err(|_| self.unreachable("connect timed out".to_owned()))?
        .map_err(|e| self.unreachable(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        // The connection task ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            digest: None,
        })
    }

    /// An idle connection that is still open, or a new one. Calls that must not
    /// be repeated always get a new one, so a connection the server closed in
    /// the meantime cannot swallow them.
    async fn checkout(&self, retry: Retry) -> Result<Conn, MoneroError> {
        if retry == Retry::Safe {
            loop {
                let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
                let Some(mut conn) = conn else { break };
                if conn.sender.ready().await.is_ok() {
                    return Ok(conn);
                }
            }
        }
        self.connect().await
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && !conn.sender.is_closed() {
            idle.push(conn);
        }
    }

    /// One attempt, answering a digest challenge once on the same connection.
    async fn attempt(
        &self,
        path: &'static str,
        method: &'static str,
        body: Bytes,
        retry: Retry,
    ) -> Result<Bytes, MoneroError> {
        let mut conn = self.checkout(retry).await?;
        let mut challenged = false;
        loop {
            let mut req = Request::post(path)
                .header(HOST, self.addr.to_string())
                .header(CONTENT_TYPE, "application/json");
            if let Some(a) = self.authorization(&mut conn, path, &body) {
                req = req.header(AUTHORIZATION, a);
            }
            let req = req
                .body(Full::new(body.clone()))
                .map_err(|e| self.bad(method, e.to_string()))?;
            conn.sender
                .ready()
                .await
                .map_err(|e| self.unreachable(e.to_string()))?;
            let res = conn
                .sender
                .send_request(req)
                .await
                .map_err(|e| self.unreachable(e.to_string()))?;
            let status = res.status();
            let closing = res
                .headers()
                .get(CONNECTION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
            let challenge = (status == StatusCode::UNAUTHORIZED).then(|| {
                let mut builder = http_auth::PasswordClient::builder();
                for v in res.headers().get_all(WWW_AUTHENTICATE) {
                    if let Ok(s) = v.to_str() {
                        builder = builder.challenges(s);
                    }
                }
                builder.build()
            });
            // Read the whole body so the connection can carry the next request.
            let bytes = http_body_util::Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| self.unreachable(format!("answer cut off: {e}")))?
                .to_bytes();
            if let Some(challenge) = challenge {
                if self.login.is_none() {
                    return Err(MoneroError::Unauthorized {
                        target: self.target,
                        hint: "the RPC wants a login: set the *_login_file key in [monero]",
                    });
                }
                if challenged || closing {
                    return Err(MoneroError::Unauthorized {
                        target: self.target,
                        hint: "check that the login file holds the user:password given to --rpc-login",
                    });
                }
                conn.digest = Some(challenge.map_err(|e| self.bad(method, e))?);
                challenged = true;
                continue;
            }
            if !closing {
                self.checkin(conn);
            }
            if status != StatusCode::OK {
                return Err(MoneroError::Http {
                    target: self.target,
                    method,
                    status: status.as_u16(),
                });
            }
            return Ok(bytes);
        }
    }

    /// The `Authorization` header for this connection's challenge, if any.
    fn authorization(&self, conn: &mut Conn, path: &str, body: &[u8]) -> Option<String> {
        let login = self.login.as_ref()?;
        conn.digest
            .as_mut()?
            .respond(&http_auth::PasswordParams {
                username: &login.user,
                password: login.password.expose(),
                uri: path,
                method: "POST",
                body: Some(body),
            })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A peer that accepts connections and never answers: reads are retried,
    /// writes are sent once.
    #[tokio::test]
    async fn reads_are_retried_after_a_timeout_and_writes_are_not() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let a = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                held.push(s);
            }
        });
        let client = RpcClient::new(
            Target::Daemon,
            &Endpoint { addr },
            None,
            Timeouts {
                connect: Duration::from_secs(1),
                request: Duration::from_millis(100),
            },
        );
        let e = client
            .json_rpc::<_, serde_json::Value>("get_info", serde_json::json!({}), Retry::Safe)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MoneroError::Timeout {
                    method: "get_info",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(accepted.load(Ordering::SeqCst), SAFE_ATTEMPTS as usize);
        let e = client
            .json_rpc::<_, serde_json::Value>("transfer", serde_json::json!({}), Retry::Never)
            .await
            .unwrap_err();
        assert!(matches!(e, MoneroError::Timeout { .. }), "{e}");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            SAFE_ATTEMPTS as usize + 1,
            "a write is sent once"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable_with_the_address() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let client = RpcClient::new(
            Target::Wallet,
            &Endpoint { addr },
            None,
            Timeouts {
                connect: Duration::from_secs(1),
                request: Duration::from_secs(1),
            },
        );
        let e = client
            .json_rpc::<_, serde_json::Value>("get_version", serde_json::json!({}), Retry::Safe)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "unreachable");
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
        assert!(e.to_string().starts_with("monero-wallet-rpc RPC"), "{e}");
    }
}
