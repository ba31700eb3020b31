//! `[market]`: the shop's rules of business.

use serde::{Deserialize, Serialize};

/// Marketplace settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Anyone may become a vendor without an admin's approval.
    pub open_vendor_signup: bool,
    /// Minutes a buyer has to pay before the order expires and its stock returns.
    pub payment_window_minutes: u64,
    /// Minutes an order paid in full by its deadline (seen, not yet confirmed)
    /// waits for its confirmations before it expires anyway.
    pub payment_grace_minutes: u64,
    /// Days after shipping when an order completes by itself unless disputed.
    pub auto_finalize_days: u64,
    /// Days after an order ends when its delivery note is deleted.
    pub delivery_note_purge_days: u64,
    /// Mark the session cookie `Secure` (only behind HTTPS; onion sites are http).
    pub cookie_secure: bool,
    /// Largest upload (listing images, evidence) in bytes.
    pub upload_limit_bytes: usize,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            open_vendor_signup: false,
            payment_window_minutes: 120,
            payment_grace_minutes: 120,
            auto_finalize_days: 14,
            delivery_note_purge_days: 30,
            cookie_secure: false,
            upload_limit_bytes: 6 * 1024 * 1024,
        }
    }
}

impl MarketConfig {
    /// The order timing rules.
    pub fn timing(&self) -> crate::market::orders::Timing {
        let secs = |v: u64, unit: u64| i64::try_from(v.saturating_mul(unit)).unwrap_or(i64::MAX);
        crate::market::orders::Timing {
            payment_window_secs: secs(self.payment_window_minutes, 60),
            auto_finalize_secs: secs(self.auto_finalize_days, 86_400),
            note_purge_secs: secs(self.delivery_note_purge_days, 86_400),
            payment_grace_secs: secs(self.payment_grace_minutes, 60),
        }
    }
}
