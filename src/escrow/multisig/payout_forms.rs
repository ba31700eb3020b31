//! The payout page's forms of a multisig escrow: the co-signer's pasted
//! `export_multisig_info`, the buyer's refund address, a fully signed set for
//! souk to submit, and starting a stale attempt over. Each stores its input;
//! the wallet work runs in the payout job (`payout.rs`).

use super::MultisigEscrow;
use super::state::{EscrowState, Participant};
use crate::market::{MarketError, MarketResult, now};
use crate::store::multisig as store;

fn hex_blob(raw: &str, what: &str) -> MarketResult<String> {
    let text: String = raw.split_whitespace().collect();
    if text.len() < 64
        || !text.len().is_multiple_of(2)
        || !text.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(MarketError::Invalid(format!(
            "That is not {what}: paste the hexadecimal text (only 0-9 and a-f) the command below prints."
        )));
    }
    Ok(text.to_ascii_lowercase())
}

impl MultisigEscrow {
    /// A participant's pasted `export_multisig_info` for the current attempt.
    pub async fn submit_payout_info(
        &self,
        order_id: i64,
        who: Participant,
        raw: &str,
    ) -> MarketResult<()> {
        let view = self.payout_view(order_id).await?.ok_or_else(|| {
            MarketError::Conflict("No payout is due for this order yet.".to_owned())
        })?;
        if view.state != EscrowState::Funded {
            return Err(MarketError::Conflict(
                "The payout transaction is already built: sign it with the commands below, or start over if signing failed.".to_owned(),
            ));
        }
        let text = hex_blob(raw, "multisig info")?;
        if view.arbiter_info.as_deref() == Some(text.as_str()) {
            return Err(MarketError::Invalid(
                "That is the shop's arbiter info, copied from this page: paste what your own wallet's export_multisig_info printed.".to_owned(),
            ));
        }
        let sealed = self.key.seal_message(order_id, &text);
        let (attempt, t) = (view.row.attempt, now());
        let stored = self
            .db
            .write(move |c| store::insert_payout_info(c, order_id, attempt, who, &sealed, t))
            .await?;
        if !stored {
            return Err(MarketError::Conflict(
                "Your info for this attempt is already received. If the shop's wallet refused it, the page says so and asks for a new one.".to_owned(),
            ));
        }
        Ok(())
    }

    /// The buyer's refund address for a payout with a buyer's share that has
    /// none yet (multisig orders have no payment request, so the order page
    /// does not ask): checked offline, fixed on the order and the payout.
    pub async fn set_refund_address(&self, order_id: i64, raw: &str) -> MarketResult<()> {
        let view = self.payout_view(order_id).await?.ok_or_else(|| {
            MarketError::Conflict("No payout is due for this order yet.".to_owned())
        })?;
        if view.row.buyer_amount == 0 || view.row.buyer_address.is_some() {
            return Err(MarketError::Conflict(
                "This payout does not need a refund address (or already has one).".to_owned(),
            ));
        }
        let address = raw.trim().to_owned();
        if address.is_empty()
            || address.len() > 200
            || !address.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(MarketError::Invalid(
                "Refund address: that is not a Monero address: copy it again from your wallet."
                    .to_owned(),
            ));
        }
        crate::monero::check_address_offline(&address, self.network)
            .map_err(|m| MarketError::Invalid(format!("Refund address: {m}")))?;
        let t = now();
        self.db
            .write(move |c| {
                let tx = c.transaction()?;
                crate::store::escrow::set_refund_address(&tx, order_id, &address)?;
                store::fill_payout_addresses(&tx, order_id, None, Some(&address), t)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// A fully signed set pasted for souk to submit.
    pub async fn submit_signed_set(&self, order_id: i64, raw: &str) -> MarketResult<()> {
        let view = self.payout_view(order_id).await?.ok_or_else(|| {
            MarketError::Conflict("No payout is due for this order yet.".to_owned())
        })?;
        if view.state != EscrowState::SpendProposed {
            return Err(MarketError::Conflict(match view.state {
                EscrowState::Funded => {
                    "There is no transaction to sign yet: paste your multisig info first."
                        .to_owned()
                }
                _ => "The payout was already sent or is being sent.".to_owned(),
            }));
        }
        let text = hex_blob(raw, "a signed transaction set")?;
        if view.txset.as_deref() == Some(text.as_str()) {
            return Err(MarketError::Invalid(
                "That is the set as the shop signed it, copied from this page: run sign_multisig on it in your wallet first and paste what it prints.".to_owned(),
            ));
        }
        let sealed = self.key.seal_message(order_id, &text);
        let t = now();
        let stored = self
            .db
            .write(move |c| store::record_signed_set(c, order_id, &sealed, t))
            .await?;
        if !stored {
            return Err(MarketError::Conflict(
                "The payout moved on meanwhile: reload the page.".to_owned(),
            ));
        }
        Ok(())
    }

    /// Starts a new attempt after a stale or failed one, unless the escrow was
    /// already spent (then the spend is recorded instead).
    pub async fn restart_payout(&self, order_id: i64) -> MarketResult<()> {
        let view = self
            .payout_view(order_id)
            .await?
            .ok_or(MarketError::NotFound)?;
        if !matches!(
            view.state,
            EscrowState::SpendProposed | EscrowState::SpendSigned | EscrowState::Funded
        ) {
            return Err(MarketError::Conflict(
                "The payout was already sent: it cannot be started over.".to_owned(),
            ));
        }
        let _busy = self.busy(order_id).ok_or_else(|| {
            MarketError::Conflict(
                "The shop's wallet is busy with this escrow: try again in a moment.".to_owned(),
            )
        })?;
        if view.state != EscrowState::Funded {
            let seen = self
                .spend_seen(&view.row)
                .await
                .map_err(MarketError::Unavailable)?;
            if let Some(hash) = seen {
                let (state, t) = (view.state, now());
                self.db
                    .write(move |c| store::record_tx_hash(c, order_id, state, &hash, t))
                    .await?;
                return Err(MarketError::Conflict(
                    "The escrow was already spent: the payout is recorded as sent.".to_owned(),
                ));
            }
        }
        let (state, t) = (view.state, now());
        let reason = "Started over: export fresh multisig info and paste it again.";
        let done = if state == EscrowState::Funded {
            // Funded: a new attempt without a state move.
            self.db
                .write(move |c| {
                    c.execute(
                        "UPDATE multisig_payouts SET attempt = attempt + 1, arbiter_info = NULL, updated_at = ?2 WHERE order_id = ?1 AND txset IS NULL AND tx_hash IS NULL",
                        rusqlite::params![order_id, t],
                    )?;
                    store::release(c, order_id, Some(reason), t)?;
                    Ok(true)
                })
                .await?
        } else {
            self.db
                .write(move |c| store::restart_payout(c, order_id, state, reason, t))
                .await?
        };
        if !done {
            return Err(MarketError::Conflict(
                "The payout moved on meanwhile: reload the page.".to_owned(),
            ));
        }
        Ok(())
    }
}
