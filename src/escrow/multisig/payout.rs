//! Payouts of a multisig escrow after its order ended: release to the vendor,
//! refund to the buyer, or a dispute split. Amounts and addresses are frozen on
//! the payout row from the order and stored settings, never from a request.
//!
//! Per attempt: the arbiter exports fresh multisig info (shown on the page), the
//! co-signer (vendor for a release or split, buyer for a refund) pastes theirs,
//! the arbiter refreshes, imports it and builds the set (`transfer` or
//! `sweep_all`, never relayed: one signature cannot spend), and the page shows
//! it with the commands to sign. The co-signer submits it, or pastes the fully
//! signed set for souk to submit. Every step is stored before and after its
//! wallet call: a build that crashed is simply built again (nothing left the
//! wallet); a set to submit is stored before `submit_multisig` and its hash
//! after; before submitting or starting over souk looks for a spend in the
//! arbiter's wallet, so nothing is paid twice.

use super::MultisigEscrow;
use super::state::{EscrowState, Participant};
use crate::market::orders::state::OrderState;
use crate::market::{MarketError, MarketResult, now};
use crate::store::multisig::{self as store, PayoutRow};

/// Upper bound of the first fee guess for a set with two outputs, piconero.
const FEE_GUESS: i64 = 10_000_000_000;

/// A payout as the page shows it (blobs opened).
#[derive(Debug, Clone)]
pub struct PayoutView {
    /// The frozen payout.
    pub row: PayoutRow,
    /// The escrow's state.
    pub state: EscrowState,
    /// The arbiter's info of this attempt.
    pub arbiter_info: Option<String>,
    /// The arbiter-signed set of this attempt.
    pub txset: Option<String>,
    /// Who pasted their info for this attempt.
    pub pasted: Vec<Participant>,
    /// The last wallet problem.
    pub problem: Option<String>,
}
impl MultisigEscrow {
    /// Writes the payout of a funded escrow whose order ended (once). False
    /// when it is not due or exists.
    pub async fn open_payout(&self, order_id: i64) -> Result<bool, String> {
        let bps = i64::from(self.commission_bps);
        let fee_address = self.fee_address.clone();
        let t = now();
        self.db
            .write(move |c| {
                let Some(row) = store::get(c, order_id)? else {
                    return Ok(false);
                };
                let Some(order) = crate::store::orders::by_id(c, order_id)? else {
                    return Ok(false);
                };
                if row.state != EscrowState::Funded || store::payout(c, order_id)?.is_some() {
                    return Ok(false);
                }
                let percent = match order.state {
                    OrderState::Completed => order.outcome_vendor_percent.unwrap_or(100),
                    OrderState::Resolved => order.outcome_vendor_percent.unwrap_or(0),
                    OrderState::Cancelled | OrderState::Expired => 0,
                    _ => return Ok(false),
                };
                // Without a fee address the commission cannot stay anywhere: the
                // arbiter holds no funds of its own. It is not taken.
                let bps = if fee_address.is_some() { bps } else { 0 };
                let shares = crate::market::payouts::split(
                    order.total,
                    order.total,
                    u8::try_from(percent.clamp(0, 100)).unwrap_or(0),
                    bps,
                );
                let p = PayoutRow {
                    order_id,
                    signer: if shares.vendor > 0 {
                        Participant::Vendor
                    } else {
                        Participant::Buyer
                    },
                    vendor_amount: shares.vendor,
                    buyer_amount: shares.buyer,
                    commission: shares.commission,
                    vendor_address: crate::store::escrow::payout_address(c, order.vendor_id)?,
                    buyer_address: crate::store::escrow::refund_address(c, order_id)?,
                    fee_address: fee_address.filter(|_| shares.commission > 0),
                    attempt: 1,
                    arbiter_info: None,
                    txset: None,
                    fee: None,
                    signed_set: None,
                    tx_hash: None,
                };
                store::insert_payout(c, &p, t)
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// The payout as buyer or vendor see it; `None` before the order ended.
    pub async fn payout_view(&self, order_id: i64) -> MarketResult<Option<PayoutView>> {
        let loaded = self
            .db
            .read(move |c| {
                let Some(p) = store::payout(c, order_id)? else {
                    return Ok(None);
                };
                let e = store::get(c, order_id)?;
                let infos = store::payout_infos(c, order_id, p.attempt)?;
                Ok(e.map(|e| (p, e, infos)))
            })
            .await?;
        let Some((row, escrow, infos)) = loaded else {
            return Ok(None);
        };
        let open = |s: &Option<String>| -> MarketResult<Option<String>> {
            s.as_deref()
                .map(|s| {
                    self.key.open_message(order_id, s).ok_or_else(|| {
                        MarketError::Unavailable(
                            "The escrow's data does not open with escrow.wallet_key_file: the shop must restore its key file.".to_owned(),
                        )
                    })
                })
                .transpose()
        };
        Ok(Some(PayoutView {
            arbiter_info: open(&row.arbiter_info)?,
            txset: open(&row.txset)?,
            pasted: infos.into_iter().map(|(p, _)| p).collect(),
            state: escrow.state,
            problem: escrow.problem,
            row,
        }))
    }

    /// A spend of the escrow the arbiter's wallet sees (submitted by anyone).
    pub(super) async fn spend_seen(&self, p: &PayoutRow) -> Result<Option<String>, String> {
        let row = self
            .db
            .read({
                let id = p.order_id;
                move |c| store::get(c, id)
            })
            .await
            .map_err(|e| e.to_string())?
            .ok_or("multisig payout: no escrow")?;
        let password = self.password(&row)?;
        let wallet = self
            .pool
            .open(&row.wallet_file, &password, false)
            .await
            .map_err(|e| format!("multisig payout: {e}"))?;
        let c = wallet.client();
        c.refresh()
            .await
            .map_err(|e| format!("multisig payout: {e}"))?;
        let out = c
            .outgoing()
            .await
            .map_err(|e| format!("multisig payout: {e}"))?;
        Ok(out.into_iter().next().map(|o| o.txid))
    }

    /// The payout job's turn for every ended, funded escrow.
    pub async fn watch_payouts(&self) -> Result<usize, String> {
        let ids = self
            .db
            .read(|c| store::payouts_due(c, super::BATCH))
            .await
            .map_err(|e| e.to_string())?;
        let mut failed = None;
        for &id in &ids {
            if let Err(e) = self.payout_step(id).await {
                let (text, t) = (e.clone(), now());
                let _ = self
                    .db
                    .write(move |c| store::release(c, id, Some(&text), t))
                    .await;
                failed.get_or_insert(e);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(ids.len()),
        }
    }

    async fn payout_step(&self, order_id: i64) -> Result<(), String> {
        self.open_payout(order_id).await?;
        // An address given after the order ended fills a missing one (never replaces).
        let t = now();
        self.db
            .write(move |c| {
                let Some(order) = crate::store::orders::by_id(c, order_id)? else {
                    return Ok(());
                };
                let vendor = crate::store::escrow::payout_address(c, order.vendor_id)?;
                let buyer = crate::store::escrow::refund_address(c, order_id)?;
                store::fill_payout_addresses(c, order_id, vendor.as_deref(), buyer.as_deref(), t)
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some(_busy) = self.busy(order_id) else {
            return Ok(());
        };
        let loaded = self
            .db
            .read(move |c| {
                let e = store::get(c, order_id)?;
                let p = store::payout(c, order_id)?;
                let infos = match &p {
                    Some(p) => store::payout_infos(c, order_id, p.attempt)?,
                    None => Vec::new(),
                };
                Ok(e.zip(p).map(|(e, p)| (e, p, infos)))
            })
            .await
            .map_err(|e| e.to_string())?;
        let Some((row, p, infos)) = loaded else {
            return Ok(());
        };
        let password = self.password(&row)?;
        let err = |e: crate::monero::MoneroError| format!("multisig payout: {e}");
        let t = now();
        match row.state {
            EscrowState::Funded if p.arbiter_info.is_none() => {
                let wallet = self
                    .pool
                    .open(&row.wallet_file, &password, false)
                    .await
                    .map_err(err)?;
                wallet.client().refresh().await.map_err(err)?;
                let info = wallet.client().export_multisig_info().await.map_err(err)?;
                drop(wallet);
                let sealed = self.key.seal_message(order_id, &info);
                let attempt = p.attempt;
                self.db
                    .write(move |c| {
                        store::set_arbiter_info(c, order_id, attempt, &sealed, t)?;
                        store::release(c, order_id, None, t)
                    })
                    .await
                    .map_err(|e| e.to_string())?;
            }
            EscrowState::Funded => {
                if !infos.iter().any(|(w, _)| *w == p.signer) {
                    return Ok(());
                }
                let destinations = match destinations(&p) {
                    Ok(d) => d,
                    Err(missing) => {
                        // Waits for the address; the page asks for it.
                        let why = format!("The payout waits: {missing}.");
                        if row.problem.as_deref() != Some(why.as_str()) {
                            self.db
                                .write(move |c| store::release(c, order_id, Some(&why), t))
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        return Ok(());
                    }
                };
                let opened: Vec<String> = infos
                    .iter()
                    .filter_map(|(_, s)| self.key.open_message(order_id, s))
                    .collect();
                let wallet = self
                    .pool
                    .open(&row.wallet_file, &password, false)
                    .await
                    .map_err(err)?;
                let c = wallet.client();
                // 0.18 loses outputs importing into a wallet not refreshed in this session.
                c.refresh().await.map_err(err)?;
                match c.import_multisig_info(&opened).await {
                    Ok(n) if n > 0 => {}
                    outcome => {
                        drop(wallet);
                        let (attempt, signer) = (p.attempt, p.signer);
                        let why = match outcome {
                            Err(e) => format!(
                                "The shop's wallet refused the {}'s multisig info ({e}): export it again from this escrow's wallet and paste it.",
                                signer.as_str()
                            ),
                            _ => format!(
                                "The {}'s multisig info completed no outputs: export it again from this escrow's wallet (after the payment is confirmed) and paste it.",
                                signer.as_str()
                            ),
                        };
                        self.db
                            .write(move |c| {
                                store::delete_payout_info(c, order_id, attempt, signer)?;
                                store::release(c, order_id, Some(&why), t)
                            })
                            .await
                            .map_err(|e| e.to_string())?;
                        return Ok(());
                    }
                }
                // Nothing is relayed: a crash before the set is stored loses a set nobody saw.
                let built = match destinations {
                    Dest::Sweep(address) => c.sweep_multisig(&address).await,
                    Dest::Split(d) => c.transfer_multisig(&d).await,
                };
                drop(wallet);
                let set = built.map_err(err)?;
                if set.txset.is_empty() {
                    return Err("multisig payout: the wallet built no set".to_owned());
                }
                let sealed = self.key.seal_message(order_id, &set.txset);
                let (attempt, fee) = (p.attempt, i64::try_from(set.fee).unwrap_or(i64::MAX));
                self.db
                    .write(move |c| store::record_txset(c, order_id, attempt, &sealed, fee, t))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            // SpendProposed waits for the co-signer. A spend they submitted
            // themselves is not looked for every cycle: the arbiter wallet of
            // 0.18.0.0 did not report it on regtest (docs/multisig.md).
            EscrowState::SpendSigned => {
                if let Some(hash) = self.spend_seen(&p).await? {
                    self.db
                        .write(move |c| {
                            store::record_tx_hash(c, order_id, EscrowState::SpendSigned, &hash, t)
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok(());
                }
                let signed = p
                    .signed_set
                    .as_deref()
                    .and_then(|s| self.key.open_message(order_id, s))
                    .ok_or("multisig payout: the signed set does not open with the key file")?;
                let wallet = self
                    .pool
                    .open(&row.wallet_file, &password, false)
                    .await
                    .map_err(err)?;
                let submitted = wallet.client().submit_multisig(&signed).await;
                drop(wallet);
                match submitted {
                    Ok(hashes) if !hashes.is_empty() => {
                        let hash = hashes[0].clone();
                        self.db
                            .write(move |c| {
                                store::record_tx_hash(
                                    c,
                                    order_id,
                                    EscrowState::SpendSigned,
                                    &hash,
                                    t,
                                )
                            })
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    other => {
                        let why = match other {
                            Err(e) => format!(
                                "The shop could not submit the pasted set ({e}): sign the set below with sign_multisig and paste what it prints, or start over."
                            ),
                            _ => "The wallet submitted nothing: paste the set again or start over."
                                .to_owned(),
                        };
                        self.db
                            .write(move |c| store::drop_signed_set(c, order_id, &why, t))
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                }
            }
            EscrowState::SpendSubmitted => {
                let Some(hash) = p.tx_hash.clone() else {
                    return Ok(());
                };
                let wallet = self
                    .pool
                    .open(&row.wallet_file, &password, false)
                    .await
                    .map_err(err)?;
                wallet.client().refresh().await.map_err(err)?;
                let known = wallet.client().transfer_by_txid(&hash).await.map_err(err)?;
                drop(wallet);
                if known.is_some_and(|k| k.confirmations >= self.confirmations) {
                    self.db
                        .write(move |c| {
                            store::advance(
                                c,
                                order_id,
                                EscrowState::SpendSubmitted,
                                EscrowState::Done,
                                None,
                                None,
                                t,
                            )
                        })
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// What the arbiter builds: one payee takes everything (`sweep_all`, the fee
/// comes out of it), several get their shares (`transfer`).
fn destinations(p: &PayoutRow) -> Result<Dest, String> {
    let shares = crate::store::escrow::Shares {
        vendor: p.vendor_amount,
        buyer: p.buyer_amount,
        commission: p.commission,
    };
    let only = |amount: i64, address: &Option<String>, missing: &str| {
        (amount == shares.total()).then(|| {
            address
                .clone()
                .map(Dest::Sweep)
                .ok_or_else(|| missing.to_owned())
        })
    };
    if let Some(d) = only(
        p.vendor_amount,
        &p.vendor_address,
        "the vendor has not set a payout address",
    ) {
        return d;
    }
    if let Some(d) = only(
        p.buyer_amount,
        &p.buyer_address,
        "the buyer has not given a refund address",
    ) {
        return d;
    }
    // Two or three outputs: the wallet adds the fee on top, so a guess is
    // taken from the plan (commission first); what the fee did not use stays
    // as change in the escrow wallet (docs/multisig.md).
    let fee = FEE_GUESS.min(shares.total() / 20);
    crate::escrow::payout::plan(
        shares,
        p.vendor_address.as_deref(),
        p.buyer_address.as_deref(),
        p.fee_address.as_deref(),
        fee,
    )
    .map(Dest::Split)
}

#[derive(Debug, PartialEq)]
enum Dest {
    Sweep(String),
    Split(Vec<crate::monero::Destination>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(vendor: i64, buyer: i64, commission: i64) -> PayoutRow {
        PayoutRow {
            order_id: 1,
            signer: Participant::Vendor,
            vendor_amount: vendor,
            buyer_amount: buyer,
            commission,
            vendor_address: Some("4vendor".to_owned()),
            buyer_address: Some("4buyer".to_owned()),
            fee_address: Some("4fee".to_owned()).filter(|_| commission > 0),
            attempt: 1,
            arbiter_info: None,
            txset: None,
            fee: None,
            signed_set: None,
            tx_hash: None,
        }
    }

    #[test]
    fn one_payee_sweeps_several_get_their_shares_minus_the_fee_guess() {
        assert_eq!(
            destinations(&row(1000, 0, 0)),
            Ok(Dest::Sweep("4vendor".into()))
        );
        assert_eq!(
            destinations(&row(0, 1000, 0)),
            Ok(Dest::Sweep("4buyer".into()))
        );
        let mut missing = row(0, 1000, 0);
        missing.buyer_address = None;
        assert!(
            destinations(&missing)
                .unwrap_err()
                .contains("refund address")
        );
        // 60/40 split of 2 XMR with 2.5 % commission on the vendor's part.
        let total = 2_000_000_000_000i64;
        let Ok(Dest::Split(d)) =
            destinations(&row(1_170_000_000_000, 800_000_000_000, 30_000_000_000))
        else {
            panic!("a split has several outputs");
        };
        assert_eq!(d.len(), 3);
        let sum: u64 = d.iter().map(|x| x.amount).sum();
        let guess = FEE_GUESS.min(total / 20) as u64;
        assert_eq!(
            sum,
            total as u64 - guess,
            "the fee guess comes off (commission first)"
        );
        assert_eq!(d[0].address, "4vendor");
        assert_eq!(d[0].amount, 1_170_000_000_000);
    }
}
