//! HTTP transport for Monero RPC: JSON-RPC 2.0 on `/json_rpc` and monerod's plain
//! JSON endpoints, over hyper's client to a loopback IP literal (no DNS), with
//! per-attempt timeouts, digest authentication, and retries with backoff only for
//! calls that are safe to repeat.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
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
    #[allow(dead_code)] // the read-only poller never writes; the escrow engine will
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

/// One RPC endpoint.
pub struct RpcClient {
    target: Target,
    addr: String,
    http: Client<HttpConnector, Full<Bytes>>,
    login: Option<Login>,
    /// The last digest challenge, reused (with a growing nonce count) until the
    /// server asks for a new one.
    digest: Mutex<Option<http_auth::PasswordClient>>,
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
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeouts.connect));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(connector);
        Self {
            target,
            addr: endpoint.addr.to_string(),
            http,
            login,
            digest: Mutex::new(None),
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
                self.attempt(path, method, body.clone()),
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

    /// One attempt, answering a digest challenge once if the server sends one.
    async fn attempt(
        &self,
        path: &'static str,
        method: &'static str,
        body: Bytes,
    ) -> Result<Bytes, MoneroError> {
        let mut challenged = false;
        loop {
            let auth = self.authorization(path, &body);
            let mut req = Request::post(format!("http://{}{path}", self.addr))
                .header(CONTENT_TYPE, "application/json");
            if let Some(a) = auth {
                req = req.header(AUTHORIZATION, a);
            }
            let req = req
                .body(Full::new(body.clone()))
                .map_err(|e| self.bad(method, e.to_string()))?;
            let res = self.http.request(req).await.map_err(|e| {
                use std::error::Error;
                let mut reason = e.to_string();
                let mut src = e.source();
                while let Some(s) = src {
                    reason = s.to_string();
                    src = s.source();
                }
                MoneroError::Unreachable {
                    target: self.target,
                    addr: self.addr.clone(),
                    reason,
                }
            })?;
            let status = res.status();
            if status == StatusCode::UNAUTHORIZED {
                let Some(_) = &self.login else {
                    return Err(MoneroError::Unauthorized {
                        target: self.target,
                        hint: "the RPC wants a login: set the *_login_file key in [monero]",
                    });
                };
                if challenged {
                    return Err(MoneroError::Unauthorized {
                        target: self.target,
                        hint: "check that the login file holds the user:password given to --rpc-login",
                    });
                }
                let mut builder = http_auth::PasswordClient::builder();
                for v in res.headers().get_all(WWW_AUTHENTICATE) {
                    if let Ok(s) = v.to_str() {
                        builder = builder.challenges(s);
                    }
                }
                let client = builder.build().map_err(|e| self.bad(method, e))?;
                *self.digest.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
                challenged = true;
                continue;
            }
            let bytes = http_body_util::Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| MoneroError::Unreachable {
                    target: self.target,
                    addr: self.addr.clone(),
                    reason: format!("answer cut off: {e}"),
                })?
                .to_bytes();
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

    /// The `Authorization` header for the cached challenge, if any.
    fn authorization(&self, path: &str, body: &[u8]) -> Option<String> {
        let login = self.login.as_ref()?;
        let mut guard = self.digest.lock().unwrap_or_else(|p| p.into_inner());
        let client = guard.as_mut()?;
        client
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
