//! Paying payout intents exactly once. Each intent moves
//! pending -> signed -> relayed -> confirmed, one compare-and-set per step:
//!
//! 1. pending: the wallet builds and signs the transaction without relaying it
//!    (`do_not_relay`); souk stores its hash, key and metadata (pending -> signed).
//!    A crash before that store loses only a transaction nobody ever saw.
//! 2. signed: souk relays the stored metadata (signed -> relayed). Relaying the
//!    same metadata again names the same transaction, so a crash between relay
//!    and store cannot pay twice: reconciliation relays again or finds the hash
//!    in the wallet (`get_transfer_by_txid`).
//! 3. relayed: confirmed once the transfer is `final_confirmations` deep.
//!
//! Addresses come from stored settings frozen on the intent when the order ended
//! (the vendor's payout address, the buyer's refund address; one given later
//! only fills a missing one) and the configured fee address, never from a request.
//!
//! Fault injection (debug builds only, for the crash test): with the environment
//! variable `PAYFLOW_FAULT_AFTER_RELAY=/path`, souk writes the relayed hash to
//! that file right after the wallet accepted a payout and SIGKILLs itself before
//! recording the relay. Release builds do not contain the hook.

use std::sync::Arc;

use crate::market::now;
use crate::monero::{Destination, MoneroError, WalletClient};
use crate::store::escrow::{self as store, Intent, Shares, Signed};
use crate::store::{Db, StoreError};

/// Why an intent could not move on now (it stays where it is and is retried).
#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    /// The wallet refused or could not be reached.
    #[error(transparent)]
    Wallet(#[from] MoneroError),
    /// Stored data is missing (no payout address yet ...): the text says what.
    #[error("{0}")]
    Blocked(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The destinations of an intent's transaction when the network fee is `fee`.
/// The fee comes out of the commission when it covers it (sent or kept),
/// otherwise out of the larger of the vendor's and the buyer's shares, so the
/// shop's wallet never pays for one order with another order's money.
/// Zero amounts are left out; a missing address for a non-zero share is refused.
pub fn plan(
    shares: Shares,
    vendor_address: Option<&str>,
    buyer_address: Option<&str>,
    fee_address: Option<&str>,
    fee: i64,
) -> Result<Vec<Destination>, String> {
    let Shares {
        mut vendor,
        mut buyer,
        mut commission,
    } = shares;
    if commission >= fee {
        commission -= fee;
    } else if vendor >= buyer && vendor >= fee - commission {
        vendor -= fee - commission;
        commission = 0;
    } else if buyer >= fee - commission {
        buyer -= fee - commission;
        commission = 0;
    } else {
        return Err(format!(
            "the network fee ({fee} piconero) is larger than the payout: it stays in the wallet"
        ));
    }
    let mut out = Vec::new();
    let mut push = |amount: i64, address: Option<&str>, missing: &str| {
        if amount <= 0 {
            return Ok(());
        }
        match address.filter(|a| !a.is_empty()) {
            Some(a) => {
                out.push(Destination {
                    amount: amount as u64,
                    address: a.to_owned(),
                });
                Ok(())
            }
            None => Err(missing.to_owned()),
        }
    };
    push(
        vendor,
        vendor_address,
        "the vendor has not set a payout address",
    )?;
    push(
        buyer,
        buyer_address,
        "the buyer has not given a refund address",
    )?;
    if fee_address.is_some_and(|a| !a.is_empty()) {
        push(commission, fee_address, "")?;
    }
    Ok(out)
}

/// Pays intents: one worker at a time per process (the compare-and-set steps
/// keep it exactly-once across processes too).
pub struct Payouts {
    db: Db,
    wallet: Arc<WalletClient>,
    fee_address: Option<String>,
    final_confirmations: u64,
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// The first fee guess, piconero (0.01 XMR: above a normal payout's fee on
/// mainnet, about 0.00003 XMR, and on regtest, about 0.0027 XMR). Too low a
/// guess fails with "not enough money" when the order's output is all there is.
const FEE_GUESS: i64 = 10_000_000_000;

/// Intents handled per reconciliation step.
const BATCH: i64 = 50;

impl Payouts {
    /// A payer using the shop's wallet; `fee_address` empty keeps the commission.
    pub fn new(
        db: Db,
        wallet: Arc<WalletClient>,
        fee_address: &str,
        final_confirmations: u64,
    ) -> Self {
        Self {
            db,
            wallet,
            fee_address: (!fee_address.trim().is_empty()).then(|| fee_address.trim().to_owned()),
            final_confirmations,
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    /// Moves every open intent of one order as far as it goes now.
    pub async fn pay_order(&self, order_id: i64) -> Result<(), PayoutError> {
        let _one = self.one_at_a_time.lock().await;
        let intents = self
            .db
            .read(move |c| store::intents_of(c, order_id))
            .await?;
        for i in intents {
            self.advance(i).await?;
        }
        Ok(())
    }

    /// Reconciliation (at start and periodically): finishes every open intent,
    /// whatever a crash left. Returns how many it looked at; failures are noted
    /// on the intents and retried next time.
    pub async fn reconcile(&self) -> Result<usize, PayoutError> {
        let _one = self.one_at_a_time.lock().await;
        let open = self.db.read(|c| store::open_intents(c, BATCH)).await?;
        let n = open.len();
        for i in open {
            let id = i.id;
            if let Err(e) = self.advance(i).await {
                tracing::warn!(intent = id, error = %e, "payout not finished; retried later");
            }
        }
        Ok(n)
    }

    /// One step of one intent (pending -> signed, signed -> relayed, relayed ->
    /// confirmed); true when it moved. A process that dies between two steps
    /// leaves exactly what reconciliation finishes (tests stop here to show it).
    pub async fn step(&self, intent: &Intent) -> Result<bool, PayoutError> {
        match intent.state.as_str() {
            "pending" => self.sign(intent).await,
            "signed" => self.relay(intent).await,
            "relayed" => self.confirm(intent).await,
            _ => Ok(false),
        }
    }

    async fn advance(&self, mut intent: Intent) -> Result<(), PayoutError> {
        loop {
            let next = self.step(&intent).await;
            let id = intent.id;
            match next {
                Ok(true) => {
                    intent = match self.db.read(move |c| store::intent_by_id(c, id)).await? {
                        Some(i) => i,
                        None => return Ok(()),
                    };
                }
                Ok(false) => return Ok(()),
                Err(e) => {
                    let text = e.to_string();
                    self.db
                        .write(move |c| store::note_failure(c, id, &text, now()))
                        .await?;
                    return Err(e);
                }
            }
        }
    }

    /// pending -> signed. Ok(true) when the intent moved.
    async fn sign(&self, i: &Intent) -> Result<bool, PayoutError> {
        // The addresses frozen on the intent, never anything from a request.
        let (vendor, buyer) = (&i.vendor_address, &i.buyer_address);
        let fee_address = self.fee_address.as_deref();
        let plan_for = |fee: i64| {
            plan(
                i.shares,
                vendor.as_deref(),
                buyer.as_deref(),
                fee_address,
                fee,
            )
            .map_err(PayoutError::Blocked)
        };
        // The wallet pays the fee on top of the destinations, and the shop wallet
        // holds only other orders' money besides this one: so build first with a
        // generous fee guess taken from the right share, then again with the fee
        // the wallet named, until the fee used is the fee paid (it converges in
        // one rebuild: same inputs and outputs). If it keeps moving down, what is
        // left over (a few piconero) stays in the shop's wallet; never more.
        //
        // A rebuild must never add an output (a bigger transaction costs more
        // than the fee just named, and an exactly funded wallet cannot pay it):
        // so the guess leaves part of a small commission standing, keeping the
        // fee address among the outputs from the first build. Should a rebuild
        // still fail, the last build whose fee stayed within its plan is used;
        // the difference stays in the shop's wallet.
        let total = i.shares.total();
        let mut fee = FEE_GUESS.min(total / 10);
        if fee_address.is_some() && i.shares.commission > 0 && i.shares.commission <= fee {
            fee = i.shares.commission / 2;
        }
        let mut built = None;
        let mut within_plan = None;
        for attempt in 0..5 {
            let destinations = plan_for(fee)?;
            let tx = match self.wallet.transfer_unrelayed(&destinations).await {
                Ok(tx) => tx,
                Err(e) => match within_plan.take() {
                    Some(last) => {
                        built = Some(last);
                        break;
                    }
                    None => return Err(e.into()),
                },
            };
            let tx_fee = i64::try_from(tx.fee).unwrap_or(i64::MAX);
            if tx_fee == fee || plan_for(tx_fee)? == destinations || (attempt >= 2 && tx_fee < fee)
            {
                built = Some((destinations, tx));
                break;
            }
            let planned = fee;
            fee = tx_fee;
            if tx_fee <= planned {
                within_plan = Some((destinations, tx));
            }
        }
        let Some((destinations, tx)) = built.or(within_plan) else {
            return Err(PayoutError::Blocked(
                "the network fee kept changing between builds".to_owned(),
            ));
        };
        let json = serde_json::to_string(&destinations).unwrap_or_default();
        let id = i.id;
        let fee = i64::try_from(tx.fee).unwrap_or(i64::MAX);
        let moved = self
            .db
            .write(move |c| {
                store::mark_signed(
                    c,
                    id,
                    &Signed {
                        destinations: &json,
                        tx_hash: &tx.tx_hash,
                        tx_key: &tx.tx_key,
                        tx_metadata: &tx.tx_metadata,
                        fee,
                    },
                    now(),
                )
            })
            .await?;
        // Not moved: another worker signed first; our transaction was never relayed.
        Ok(moved)
    }

    /// signed -> relayed.
    async fn relay(&self, i: &Intent) -> Result<bool, PayoutError> {
        let (Some(hash), Some(metadata)) = (i.tx_hash.clone(), i.tx_metadata.as_deref()) else {
            return Err(PayoutError::Blocked(
                "signed intent without its transaction".to_owned(),
            ));
        };
        match self.wallet.relay_tx(metadata).await {
            Ok(relayed) if relayed == hash => {
                #[cfg(debug_assertions)]
                fault_after_relay(&hash);
            }
            Ok(other) => {
                return Err(PayoutError::Blocked(format!(
                    "the wallet relayed {other} instead of {hash}"
                )));
            }
            Err(e) => {
                // Relayed before a crash? Then the wallet knows it by hash.
                if self.wallet.transfer_by_txid(&hash).await?.is_none() {
                    return Err(e.into());
                }
            }
        }
        let id = i.id;
        Ok(self
            .db
            .write(move |c| store::advance(c, id, "signed", "relayed", now()))
            .await?)
    }

    /// relayed -> confirmed once final; back to signed (relay again, same
    /// transaction) if the wallet lost it from the pool.
    async fn confirm(&self, i: &Intent) -> Result<bool, PayoutError> {
        let Some(hash) = i.tx_hash.clone() else {
            return Ok(false);
        };
        let id = i.id;
        match self.wallet.transfer_by_txid(&hash).await? {
            Some(t) if t.kind == "failed" => {
                // Relayed again by the next reconciliation, not in this loop.
                self.db
                    .write(move |c| store::advance(c, id, "relayed", "signed", now()))
                    .await?;
                Ok(false)
            }
            Some(t) if t.confirmations >= self.final_confirmations => Ok(self
                .db
                .write(move |c| store::advance(c, id, "relayed", "confirmed", now()))
                .await?),
            _ => Ok(false),
        }
    }
}

/// The crash test's hook (debug builds only): see the module documentation.
#[cfg(debug_assertions)]
fn fault_after_relay(hash: &str) {
    let Some(path) = std::env::var_os("PAYFLOW_FAULT_AFTER_RELAY") else {
        return;
    };
    if std::fs::write(&path, hash).is_ok() {
        let me = rustix::process::getpid();
        let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(vendor: i64, buyer: i64, commission: i64) -> Shares {
        Shares {
            vendor,
            buyer,
            commission,
        }
    }

    fn d(amount: u64, address: &str) -> Destination {
        Destination {
            amount,
            address: address.to_owned(),
        }
    }

    #[test]
    fn the_fee_comes_out_of_the_commission_then_the_larger_share() {
        let (v, b, f) = (Some("V"), Some("B"), Some("F"));
        assert_eq!(
            plan(shares(900, 0, 100), v, b, f, 10).unwrap(),
            vec![d(900, "V"), d(90, "F")]
        );
        // Commission kept in the wallet: it pays the fee there.
        assert_eq!(
            plan(shares(900, 0, 100), v, b, None, 10).unwrap(),
            vec![d(900, "V")]
        );
        // Refund: no commission, the buyer's share pays the fee.
        assert_eq!(
            plan(shares(0, 500, 0), None, b, f, 10).unwrap(),
            vec![d(490, "B")]
        );
        // Split with a small commission.
        assert_eq!(
            plan(shares(300, 700, 5), v, b, f, 10).unwrap(),
            vec![d(300, "V"), d(695, "B")]
        );
        assert!(plan(shares(0, 5, 0), v, b, f, 10).is_err());
        let e = plan(shares(900, 0, 100), None, b, f, 10).unwrap_err();
        assert!(e.contains("payout address"), "{e}");
        let e = plan(shares(0, 900, 0), v, None, f, 10).unwrap_err();
        assert!(e.contains("refund address"), "{e}");
    }
}
