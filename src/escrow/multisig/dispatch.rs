//! With `[escrow] mode = "both"` two engines run side by side; the order's
//! `escrow_mode`, fixed at placement, decides which one handles it.

use std::sync::Arc;

use super::MultisigEscrow;
use crate::market::escrow::{Escrow, EscrowError, EscrowFuture, OrderForEscrow};
use crate::store::Db;

/// Sends each order to the engine of its mode.
pub struct Router {
    db: Db,
    managed: Option<Arc<dyn Escrow>>,
    multisig: Option<Arc<MultisigEscrow>>,
}

impl Router {
    /// The engines in use (either may be absent).
    pub fn new(
        db: Db,
        managed: Option<Arc<dyn Escrow>>,
        multisig: Option<Arc<MultisigEscrow>>,
    ) -> Self {
        Self {
            db,
            managed,
            multisig,
        }
    }

    async fn engine(&self, order_id: i64) -> Result<Arc<dyn Escrow>, EscrowError> {
        let mode = self
            .db
            .read(move |c| crate::store::multisig::order_mode(c, order_id))
            .await
            .map_err(|e| EscrowError::Unavailable(e.to_string()))?;
        let engine: Option<Arc<dyn Escrow>> = match mode.as_deref() {
            Some("multisig") => self.multisig.clone().map(|m| m as Arc<dyn Escrow>),
            _ => self.managed.clone(),
        };
        engine.ok_or_else(|| {
            EscrowError::Unavailable(
                "this order's escrow mode is not enabled on this shop".to_owned(),
            )
        })
    }
}

impl Escrow for Router {
    fn mode(&self) -> &'static str {
        match (&self.managed, &self.multisig) {
            (Some(_), Some(_)) => "managed or multisig",
            (None, Some(_)) => "multisig",
            _ => "managed",
        }
    }

    fn who_can_move_money(&self) -> &'static str {
        match (&self.managed, &self.multisig) {
            (Some(m), None) => m.who_can_move_money(),
            (None, Some(m)) => m.who_can_move_money(),
            _ => {
                "Managed orders: the shop's wallet holds the payment until the order ends. Multisig orders: buyer, vendor and the shop each hold one key and any two must sign."
            }
        }
    }

    fn open<'a>(&'a self, order: &'a OrderForEscrow) -> EscrowFuture<'a, Result<(), EscrowError>> {
        Box::pin(async move { self.engine(order.order_id).await?.open(order).await })
    }

    fn pay_out(&self, order_id: i64) -> EscrowFuture<'_, Result<(), EscrowError>> {
        Box::pin(async move { self.engine(order_id).await?.pay_out(order_id).await })
    }

    fn check_address<'a>(
        &'a self,
        address: &'a str,
    ) -> EscrowFuture<'a, Result<Result<(), String>, EscrowError>> {
        // Addresses belong to accounts, not orders: the managed engine asks its
        // wallet when there is one, otherwise the multisig engine checks offline.
        match (&self.managed, &self.multisig) {
            (Some(m), _) => m.check_address(address),
            (None, Some(m)) => m.check_address(address),
            (None, None) => Box::pin(async {
                Err(EscrowError::Unavailable(
                    "no escrow is configured".to_owned(),
                ))
            }),
        }
    }
}
