//! The managed (custodial) escrow: the shop's wallet receives each order on its
//! own subaddress and pays the vendor, the buyer and the operator from it.

use std::sync::Arc;

use super::payout::Payouts;
use crate::market::escrow::{Escrow, EscrowError, EscrowFuture, OrderForEscrow};
use crate::market::now;
use crate::market::orders::{Timing, escrow_events};
use crate::monero::WalletClient;
use crate::store::Db;
use crate::store::escrow::{self as store, PaymentRequest};

/// Terms fixed on each payment request.
#[derive(Debug, Clone, Copy)]
pub struct Terms {
    /// Confirmations that make a payment count.
    pub confirmations: u64,
    /// Commission, basis points of the vendor's part.
    pub commission_bps: u32,
    /// The network every address souk accepts must be on.
    pub network: crate::config::Network,
}

/// The managed escrow engine.
pub struct ManagedEscrow {
    db: Db,
    wallet: Arc<WalletClient>,
    timing: Timing,
    terms: Terms,
    /// Pays intents (shared with the reconciliation job).
    pub payouts: Arc<Payouts>,
}

impl ManagedEscrow {
    /// The shop's wallet.
    pub fn wallet(&self) -> &WalletClient {
        &self.wallet
    }

    /// An engine on the shop's wallet.
    pub fn new(
        db: Db,
        wallet: Arc<WalletClient>,
        timing: Timing,
        terms: Terms,
        payouts: Arc<Payouts>,
    ) -> Self {
        Self {
            db,
            wallet,
            timing,
            terms,
            payouts,
        }
    }

    async fn open_request(&self, order: &OrderForEscrow) -> Result<(), EscrowError> {
        let order_id = order.order_id;
        let existing = self
            .db
            .read(move |c| store::payment_request(c, order_id))
            .await
            .map_err(|e| EscrowError::Unavailable(e.to_string()))?;
        if existing.is_none() {
            // A subaddress nobody records (crash right after this call) is harmless.
            let sub = self
                .wallet
                .create_address(&order.public_id)
                .await
                .map_err(|e| EscrowError::Unavailable(e.to_string()))?;
            let req = PaymentRequest {
                order_id,
                subaddress_index: i64::from(sub.address_index),
                address: sub.address,
                amount_due: order.total.as_i64(),
                confirmations: i64::try_from(self.terms.confirmations).unwrap_or(i64::MAX),
                commission_bps: i64::from(self.terms.commission_bps),
                created_at: now(),
            };
            self.db
                .write(move |c| {
                    // A racing open (placing and the payment job) keeps the first.
                    if store::payment_request(c, order_id)?.is_none() {
                        store::insert_payment_request(c, &req)?;
                    }
                    Ok(())
                })
                .await
                .map_err(|e| EscrowError::Unavailable(e.to_string()))?;
        }
        escrow_events::payment_requested(&self.db, self.timing, order_id)
            .await
            .map_err(|e| EscrowError::Refused(e.to_string()))
    }
}

impl Escrow for ManagedEscrow {
    fn mode(&self) -> &'static str {
        "managed"
    }

    fn who_can_move_money(&self) -> &'static str {
        "The shop's operator holds the payment in the shop's wallet until the order ends."
    }

    fn open<'a>(&'a self, order: &'a OrderForEscrow) -> EscrowFuture<'a, Result<(), EscrowError>> {
        Box::pin(self.open_request(order))
    }

    fn pay_out(&self, order_id: i64) -> EscrowFuture<'_, Result<(), EscrowError>> {
        Box::pin(async move {
            self.payouts
                .pay_order(order_id)
                .await
                .map_err(|e| EscrowError::Unavailable(e.to_string()))
        })
    }

    fn check_address<'a>(
        &'a self,
        address: &'a str,
    ) -> EscrowFuture<'a, Result<Result<(), String>, EscrowError>> {
        Box::pin(async move {
            self.wallet
                .check_address(address, self.terms.network)
                .await
                .map_err(|e| EscrowError::Unavailable(e.to_string()))
        })
    }
}
