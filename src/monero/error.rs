//! The Monero layer's one error enum. It keeps what the RPC said (code and
//! message) so callers can tell "no wallet open" from "daemon busy", and it never
//! carries credentials or request bodies.

use super::Target;

/// What went wrong talking to monerod or monero-wallet-rpc.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MoneroError {
    /// No TCP connection (refused, reset, connect timeout).
    #[error("{target} RPC at {addr} is unreachable: {reason}")]
    Unreachable {
        /// Which RPC.
        target: Target,
        /// `IP:port`.
        addr: String,
        /// The I/O reason.
        reason: String,
    },
    /// The call took longer than the per-call timeout.
    #[error("{target} RPC {method} timed out after {secs} s")]
    Timeout {
        /// Which RPC.
        target: Target,
        /// The method.
        method: &'static str,
        /// The limit that was hit.
        secs: u64,
    },
    /// The RPC refused our login (or wants one and none is configured).
    #[error("{target} RPC refused the login: {hint}")]
    Unauthorized {
        /// Which RPC.
        target: Target,
        /// What to check.
        hint: &'static str,
    },
    /// An HTTP status other than 200.
    #[error("{target} RPC {method} answered HTTP {status}")]
    Http {
        /// Which RPC.
        target: Target,
        /// The method.
        method: &'static str,
        /// The status code.
        status: u16,
    },
    /// The JSON-RPC answer was an error object.
    #[error("{target} RPC {method} failed: {message} (code {code})")]
    Rpc {
        /// Which RPC.
        target: Target,
        /// The method.
        method: &'static str,
        /// monero's error code (e.g. -13 "No wallet file").
        code: i64,
        /// monero's message.
        message: String,
    },
    /// A non-JSON-RPC endpoint answered with `status` other than "OK" (e.g. "BUSY").
    #[error("{target} RPC {method} answered status {status}")]
    Status {
        /// Which RPC.
        target: Target,
        /// The method.
        method: &'static str,
        /// The status string.
        status: String,
    },
    /// The answer was not what the method documents.
    #[error("{target} RPC {method} gave an unexpected answer: {reason}")]
    BadResponse {
        /// Which RPC.
        target: Target,
        /// The method.
        method: &'static str,
        /// What did not parse.
        reason: String,
    },
}

/// monero-wallet-rpc's code for "no wallet is open".
pub const WALLET_RPC_NO_WALLET_FILE: i64 = -13;

impl MoneroError {
    /// A short, bounded label for `souk_monero_rpc_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Http { .. } => "http",
            Self::Rpc { .. } => "rpc",
            Self::Status { .. } => "status",
            Self::BadResponse { .. } => "bad_response",
        }
    }

    /// Worth another try for a read: the network or a busy daemon, not a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            Self::Status { status, .. } => status == "BUSY",
            Self::Unauthorized { .. } | Self::Rpc { .. } | Self::BadResponse { .. } => false,
        }
    }

    /// The RPC error code, when the RPC answered with one.
    pub fn rpc_code(&self) -> Option<i64> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}
