//! The escrow interface the order lifecycle calls. Engines (managed Monero escrow,
//! 2-of-3 multisig) implement [`Escrow`] and report back through the functions in
//! [`super::orders::escrow_events`]. Without an engine the shop still takes orders:
//! they wait in `created` until payments are available, and expire when the
//! payment window ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::Piconero;

/// What an engine needs to open a payment request for an order.
#[derive(Debug, Clone)]
pub struct OrderForEscrow {
    /// Order id.
    pub order_id: i64,
    /// Public id (shown to people).
    pub public_id: String,
    /// Amount the buyer must pay.
    pub total: Piconero,
    /// Buyer account.
    pub buyer_id: i64,
    /// Vendor account.
    pub vendor_id: i64,
}

/// How an ended order's money is divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All to the vendor (minus the shop's commission).
    Release,
    /// All back to the buyer.
    Refund,
    /// `vendor_percent` to the vendor, the rest to the buyer.
    Split {
        /// 0 to 100.
        vendor_percent: u8,
    },
}

impl Outcome {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Release => "release",
            Outcome::Refund => "refund",
            Outcome::Split { .. } => "split",
        }
    }

    /// The vendor's share in percent.
    pub fn vendor_percent(self) -> u8 {
        match self {
            Outcome::Release => 100,
            Outcome::Refund => 0,
            Outcome::Split { vendor_percent } => vendor_percent,
        }
    }
}

/// Why an engine could not do something; the text is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum EscrowError {
    /// Payments are not possible right now (wallet or daemon down, not configured).
    #[error("payments are unavailable right now: {0}")]
    Unavailable(String),
    /// The engine refused (e.g. no payout address set).
    #[error("{0}")]
    Refused(String),
}

/// A boxed future, so engines can live behind `dyn Escrow`.
pub type EscrowFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An escrow engine.
pub trait Escrow: Send + Sync {
    /// Short name shown on order pages ("managed", "multisig").
    fn mode(&self) -> &'static str;

    /// Who can move the money, in one plain sentence for the order page.
    fn who_can_move_money(&self) -> &'static str;

    /// Creates the payment request for an order and reports it through
    /// `escrow_events::payment_requested` (or fails, leaving the order in `created`).
    fn open<'a>(&'a self, order: &'a OrderForEscrow) -> EscrowFuture<'a, Result<(), EscrowError>>;

    /// Pays out an order whose outcome is fixed (its state change already recorded
    /// the outcome in the same transaction). Must be idempotent.
    fn pay_out(&self, order_id: i64) -> EscrowFuture<'_, Result<(), EscrowError>>;

    /// Checks an address a person typed (payout or refund address): `Ok(Err(line))`
    /// says what is wrong with it (not an address, integrated, another network).
    fn check_address<'a>(
        &'a self,
        address: &'a str,
    ) -> EscrowFuture<'a, Result<Result<(), String>, EscrowError>>;
}

/// The engine in use, if any.
pub type SharedEscrow = Option<Arc<dyn Escrow>>;

/// How an order's money is held; fixed when it is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscrowMode {
    /// The shop's wallet holds it.
    Managed,
    /// 2-of-3 multisig with buyer, vendor and the shop's arbiter.
    Multisig,
}

/// Which modes the shop offers (from `[escrow] mode`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ModePolicy {
    /// Managed escrow is offered.
    pub managed: bool,
    /// Multisig escrow is offered.
    pub multisig: bool,
    /// Seconds buyer and vendor have to set a multisig wallet up.
    pub setup_window_secs: i64,
}

impl ModePolicy {
    /// The buyer picks when both are offered; `requested` is the form's value
    /// ("", "managed" or "multisig"). A vendor who requires multisig gets it
    /// whenever the shop offers it.
    pub fn choose(
        &self,
        requested: &str,
        vendor_requires_multisig: bool,
    ) -> Result<EscrowMode, super::MarketError> {
        let invalid = |m: &str| Err(super::MarketError::Invalid(m.to_owned()));
        if vendor_requires_multisig && self.multisig {
            return match requested.trim() {
                "managed" => {
                    invalid("This vendor takes only 2-of-3 multisig orders: choose multisig.")
                }
                _ => Ok(EscrowMode::Multisig),
            };
        }
        match requested.trim() {
            "multisig" if self.multisig => Ok(EscrowMode::Multisig),
            "multisig" => {
                invalid("This shop does not offer multisig escrow: choose the managed escrow.")
            }
            "managed" if self.managed || !self.multisig => Ok(EscrowMode::Managed),
            "managed" => invalid("This shop holds payments only in 2-of-3 multisig escrow."),
            "" if self.multisig && !self.managed => Ok(EscrowMode::Multisig),
            "" => Ok(EscrowMode::Managed),
            _ => invalid("Choose how the payment is held: managed or multisig."),
        }
    }
}

/// Whether the vendor takes only multisig orders.
pub async fn vendor_requires_multisig(
    db: &crate::store::Db,
    vendor: &super::auth::VendorCap,
) -> super::MarketResult<bool> {
    let id = vendor.account_id();
    Ok(db
        .read(move |c| crate::store::multisig::vendor_requires_multisig(c, id))
        .await?)
}

/// A vendor sets whether they take only multisig orders.
pub async fn set_vendor_requires_multisig(
    db: &crate::store::Db,
    vendor: &super::auth::VendorCap,
    required: bool,
) -> super::MarketResult<()> {
    let id = vendor.account_id();
    Ok(db
        .write(move |c| crate::store::multisig::set_vendor_requires_multisig(c, id, required))
        .await?)
}
