//! Marketplace domain: accounts, listings, catalogue, orders and what hangs off them.
//! Rules live here; SQL lives in `crate::store`; HTTP lives in `crate::web`. This
//! module never imports axum.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod catalogue;
pub mod disputes;
pub mod escrow;
pub mod listings;
pub mod messages;
pub mod moderation;
pub mod money;
pub mod notifications;
pub mod orders;
pub mod payout_addresses;
pub mod payouts;
pub mod reviews;
pub mod site;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod two_factor;

use crate::store::StoreError;

pub use money::Piconero;

/// Errors of the marketplace layer. Messages of `Invalid`, `Conflict` and
/// `Unavailable` are written for the person using the shop.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// No such thing, or not visible to this person (never reveals which).
    #[error("not found")]
    NotFound,
    /// Signed in, but not allowed to do this.
    #[error("not allowed")]
    Forbidden,
    /// Needs signing in first.
    #[error("sign-in required")]
    SignInRequired,
    /// What was entered is not acceptable; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// The thing changed in the meantime or is not in a state for this.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts.
    #[error("too many attempts: try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt is accepted.
        retry_after_secs: u64,
    },
    /// A dependency (payments) is down; nothing was lost.
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for MarketError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(StoreError::Sqlite(e))
    }
}

/// Shorthand for the layer's results.
pub type MarketResult<T> = Result<T, MarketError>;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    b
}

/// A random token safe for cookies, URLs and forms.
pub fn random_token() -> String {
    data_encoding::BASE64URL_NOPAD.encode(&random_bytes::<32>())
}

/// SHA-256 of a secret, as stored in place of the secret.
pub fn digest(secret: &str) -> Vec<u8> {
    digest_bytes(secret.as_bytes())
}

/// SHA-256 of bytes.
pub fn digest_bytes(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}
