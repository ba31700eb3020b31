//! Funding: the buyer pays the multisig address from any wallet; souk sees the
//! payment through the arbiter's wallet (refreshed right before each look) and
//! moves the order to paid once the order's total has the configured
//! confirmations. Under-, over- and late payments follow the managed escrow's
//! rules in a later step (docs/multisig.md).

use super::MultisigEscrow;
use super::state::EscrowState;
use crate::market::now;
use crate::market::orders::escrow_events;
use crate::store::multisig as store;

impl MultisigEscrow {
    /// Looks at every set-up escrow once; returns how many became funded.
    pub async fn watch_funding(&self) -> Result<usize, String> {
        let ids = self
            .db
            .read(|c| store::in_state(c, EscrowState::Ready, super::BATCH))
            .await
            .map_err(|e| e.to_string())?;
        let mut funded = 0;
        for id in ids {
            if self.check_funding(id).await? {
                funded += 1;
            }
        }
        Ok(funded)
    }

    async fn check_funding(&self, order_id: i64) -> Result<bool, String> {
        let Some(_busy) = self.busy(order_id) else {
            return Ok(false);
        };
        let loaded = self
            .db
            .read(move |c| {
                let row = store::get(c, order_id)?;
                let order = crate::store::orders::by_id(c, order_id)?;
                Ok(row.zip(order))
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((row, order)) = loaded else {
            return Ok(false);
        };
        if row.state != EscrowState::Ready {
            return Ok(false);
        }
        let password = self.password(&row)?;
        let wallet = self
            .pool
            .open(&row.wallet_file, &password, false)
            .await
            .map_err(|e| format!("multisig funding: {e}"))?;
        let client = wallet.client();
        client
            .refresh()
            .await
            .map_err(|e| format!("multisig funding: {e}"))?;
        // Subaddress 0 is the multisig address itself.
        let seen = client
            .incoming_transfers(&[0])
            .await
            .map_err(|e| format!("multisig funding: {e}"))?;
        drop(wallet);
        let confirmed: u64 = seen
            .confirmed
            .iter()
            .filter(|t| t.confirmations >= self.confirmations && !t.double_spend_seen)
            .map(|t| t.amount)
            .sum();
        let due = u64::try_from(order.total).unwrap_or(u64::MAX);
        if confirmed < due {
            return Ok(false);
        }
        let t = now();
        let moved = self
            .db
            .write(move |c| {
                store::advance(
                    c,
                    order_id,
                    EscrowState::Ready,
                    EscrowState::Funded,
                    None,
                    None,
                    t,
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        if moved {
            escrow_events::funded(&self.db, self.timing, order_id)
                .await
                .map_err(|e| format!("multisig funded, order not moved: {e}"))?;
        }
        Ok(moved)
    }
}
