//! The setup rounds of one escrow: what buyer and vendor paste (checked here),
//! and the arbiter's turn, which souk takes as soon as the other two messages of
//! a round are in. Every arbiter wallet call is claimed in the database first
//! (`pending_call`), its wallet files are copied before a call that changes
//! them, and its result is stored together with the state move; a claim left
//! by a crash or an unknown outcome is undone from that copy and run again.

use super::MultisigEscrow;
use super::message::{self, ADDRESS_ROUND};
use super::state::{EscrowState, Participant};
use crate::market::{MarketError, MarketResult, now};
use crate::monero::MoneroError;
use crate::store::multisig::{self as store, EscrowRow, MessageRow};

/// What happened to a pasted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Stored now.
    New,
    /// The same text was already stored for this participant and round.
    AlreadyReceived,
}

fn other_of(who: Participant) -> Participant {
    match who {
        Participant::Buyer => Participant::Vendor,
        _ => Participant::Buyer,
    }
}

fn find(msgs: &[MessageRow], who: Participant, round: u8) -> Option<&MessageRow> {
    msgs.iter()
        .find(|m| m.participant == who && m.round == round)
}

/// The wallet files of `file` (cache and keys) in `dir`.
fn wallet_files(dir: &std::path::Path, file: &str) -> [std::path::PathBuf; 2] {
    [dir.join(file), dir.join(format!("{file}.keys"))]
}

impl MultisigEscrow {
    /// Checks and stores a message pasted by `who` (buyer or vendor), then lets
    /// the arbiter take its turn when the round is complete.
    pub async fn submit(
        &self,
        order_id: i64,
        who: Participant,
        raw: &str,
    ) -> MarketResult<Accepted> {
        if who == Participant::Arbiter {
            return Err(MarketError::Forbidden);
        }
        let (row, msgs) = self.load(order_id).await?;
        let Some(round) = row.state.round() else {
            return Err(MarketError::Conflict(match row.state {
                EscrowState::Aborted => {
                    "This escrow's setup was aborted: nothing more can be sent.".to_owned()
                }
                EscrowState::Expired => "This escrow expired: nothing more can be sent.".to_owned(),
                _ => "The setup is finished: no more setup messages are needed.".to_owned(),
            }));
        };
        let parsed_text: String = raw.split_whitespace().collect();
        let digest = message::digest(order_id, who.as_str(), &parsed_text);
        let seen = self
            .db
            .read({
                let d = digest.clone();
                move |c| store::seen(c, &d)
            })
            .await?;
        if let Some(s) = seen {
            if s.order_id != order_id {
                return Err(MarketError::Invalid("That message was already used in another escrow: it does not belong to this order. Make a new wallet for this order and paste what it prints.".to_owned()));
            }
            if s.participant != who {
                return Err(MarketError::Invalid(format!(
                    "That is the {}'s round {} message, copied from this page: paste the message your own wallet printed.",
                    s.participant.as_str(),
                    s.round
                )));
            }
            if s.round == round {
                return Ok(Accepted::AlreadyReceived);
            }
            return Err(MarketError::Invalid(format!(
                "That is your round {} message again, already received; this escrow is at round {round}: run the round {round} command below and paste what it prints.",
                s.round
            )));
        }
        let parsed = message::parse(raw, round, self.network).map_err(MarketError::Invalid)?;
        if find(&msgs, who, round).is_some() {
            return Err(MarketError::Conflict(format!(
                "You already sent a different round {round} message; it cannot be replaced. Wait for the others, or ask the shop if your wallet was lost."
            )));
        }
        if let Some(signer) = &parsed.signer {
            let signer_of = |p: Participant| find(&msgs, p, 1).and_then(|m| m.signer.clone());
            for p in [other_of(who), Participant::Arbiter] {
                if signer_of(p).as_deref() == Some(signer.as_str()) {
                    return Err(MarketError::Invalid(format!(
                        "That message was made by the {}'s wallet, not yours: paste what your own wallet printed.",
                        p.as_str()
                    )));
                }
            }
            if round > 1 && signer_of(who).as_deref() != Some(signer.as_str()) {
                return Err(MarketError::Invalid(format!(
                    "That round {round} message was made by a different wallet than your round 1 message (perhaps the wallet of another order): use the wallet you made for this escrow."
                )));
            }
        }
        let (text, signer, t) = (
            self.key.seal_message(order_id, &parsed.text),
            parsed.signer,
            now(),
        );
        let stored = self
            .db
            .write(move |c| {
                let tx = c.transaction()?;
                // The state may have moved while we read: store only into the round it collects.
                let current = store::get(&tx, order_id)?.map(|r| r.state);
                if current != Some(row.state) {
                    return Ok(None);
                }
                let ok = store::insert_message(
                    &tx,
                    order_id,
                    who,
                    round,
                    &text,
                    &digest,
                    signer.as_deref(),
                    t,
                )?;
                tx.commit()?;
                Ok(Some(ok))
            })
            .await?;
        match stored {
            Some(true) => {}
            Some(false) => {
                return Err(MarketError::Conflict(format!(
                    "You already sent a different round {round} message; it cannot be replaced."
                )));
            }
            None => {
                return Err(MarketError::Conflict(
                    "The setup moved on in the meantime: reload the page.".to_owned(),
                ));
            }
        }
        // The arbiter's turn; a failure here is retried by the job and shown on the page.
        if let Err(e) = self.step(order_id).await {
            tracing::warn!(error = %e, "multisig arbiter step failed; it is retried");
        }
        Ok(Accepted::New)
    }

    async fn load(&self, order_id: i64) -> MarketResult<(EscrowRow, Vec<MessageRow>)> {
        let (row, msgs) = self
            .db
            .read(move |c| {
                let row = store::get(c, order_id)?;
                let msgs = store::messages(c, order_id)?;
                Ok(row.map(|r| (r, msgs)))
            })
            .await?
            .ok_or(MarketError::NotFound)?;
        Ok((row, self.open_messages(order_id, msgs)?))
    }

    /// The stored (sealed) messages in the clear.
    pub(crate) fn open_messages(
        &self,
        order_id: i64,
        msgs: Vec<MessageRow>,
    ) -> MarketResult<Vec<MessageRow>> {
        msgs.into_iter()
            .map(|mut m| {
                m.body = self.key.open_message(order_id, &m.body).ok_or_else(|| {
                    MarketError::Unavailable(
                        "The escrow's messages do not open with escrow.wallet_key_file: the shop must restore its key file.".to_owned(),
                    )
                })?;
                Ok(m)
            })
            .collect()
    }

    /// Takes every arbiter turn that is due for one escrow (and undoes a claim
    /// a crash left). Safe to call at any time from anywhere: one turn per
    /// escrow runs at a time in this process, and the claim in the database
    /// keeps a turn from running twice.
    pub async fn step(&self, order_id: i64) -> Result<(), String> {
        let Some(_busy) = self.busy(order_id) else {
            return Ok(());
        };
        for _ in 0..6 {
            let (row, msgs) = self.load(order_id).await.map_err(|e| e.to_string())?;
            tracing::debug!(state = %row.state, pending = ?row.pending_call, "multisig step");
            if row.pending_call.is_some() {
                // Nobody in this process runs it (we hold the busy mark): left by
                // a crash or a call whose outcome is unknown.
                self.undo_claim(&row).await?;
                continue;
            }
            if !self.turn(&row, &msgs).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One arbiter turn; false when nothing is due.
    async fn turn(&self, row: &EscrowRow, msgs: &[MessageRow]) -> Result<bool, String> {
        let order_id = row.order_id;
        let state = row.state;
        let Some(round) = state.round() else {
            return Ok(false);
        };
        let arbiter_has = |r: u8| find(msgs, Participant::Arbiter, r).is_some();
        if round == 1 && !arbiter_has(1) {
            // The arbiter's wallet exists (the claim of its creation was settled): prepare.
            self.arbiter_call(row, "prepare", None).await?;
            return Ok(true);
        }
        let (Some(b), Some(v)) = (
            find(msgs, Participant::Buyer, round),
            find(msgs, Participant::Vendor, round),
        ) else {
            return Ok(false);
        };
        let others = vec![b.body.clone(), v.body.clone()];
        if round == ADDRESS_ROUND {
            self.confirm(row, msgs).await?;
            return Ok(true);
        }
        let call = match round {
            1 => "make",
            2 => "exchange1",
            _ => "exchange2",
        };
        let next = EscrowState::collecting(round + 1).expect("rounds 2 to 4 exist");
        self.arbiter_call(row, call, Some((others, next))).await?;
        let _ = order_id;
        Ok(true)
    }

    /// Claims, snapshots, calls, and stores the result with the state move.
    async fn arbiter_call(
        &self,
        row: &EscrowRow,
        call: &'static str,
        advance: Option<(Vec<String>, EscrowState)>,
    ) -> Result<(), String> {
        let (order_id, state, t) = (row.order_id, row.state, now());
        let claimed = self
            .db
            .write(move |c| store::claim(c, order_id, state, call, t))
            .await
            .map_err(|e| e.to_string())?;
        if !claimed {
            return Ok(());
        }
        let password = self.password(row)?;
        let wallet = match self.pool.open(&row.wallet_file, &password, false).await {
            Ok(w) => w,
            Err(e) => return self.certainly_unchanged(order_id, e).await,
        };
        let client = wallet.client();
        if advance.is_some() {
            // The copy a crash or an unknown outcome is undone from.
            if let Err(e) = client.store().await {
                return self.certainly_unchanged(order_id, e).await;
            }
            self.snapshot(&row.wallet_file)
                .map_err(|e| format!("multisig wallet copy: {e}"))?;
        }
        let result = match (call, &advance) {
            ("prepare", _) => client.prepare_multisig().await.map(|m| (m, String::new())),
            ("make", Some((others, _))) => {
                // The experimental flag lives in memory until make_multisig saves it.
                match client.prepare_multisig().await {
                    Ok(_) => client
                        .make_multisig(others, 2, &password)
                        .await
                        .map(|k| (k.multisig_info, k.address)),
                    Err(e) => Err(e),
                }
            }
            (_, Some((others, _))) => client
                .exchange_multisig_keys(others, &password)
                .await
                .map(|k| (k.multisig_info, k.address)),
            _ => unreachable!("every call but prepare advances"),
        };
        drop(wallet);
        let (info, address) = match result {
            Ok(r) => r,
            Err(e @ MoneroError::Rpc { .. }) => {
                // The wallet refused: it did not change (a wallet that had changed
                // would be restored from the copy on the next step anyway).
                self.restore(&row.wallet_file).await?;
                return self.certainly_unchanged(order_id, e).await;
            }
            // Unknown outcome: keep the claim; the next step undoes it from the copy.
            Err(e) => return Err(format!("multisig {call} outcome unknown: {e}")),
        };
        let (round, next) = match &advance {
            None => (1, None),
            Some((_, next)) => (next.round().expect("setup state"), Some(*next)),
        };
        let (body, signer) = if round == ADDRESS_ROUND {
            (address.clone(), None)
        } else {
            // Our own wallet's output must read like any participant's.
            let p = message::parse(&info, round, self.network)
                .map_err(|e| format!("multisig {call}: the wallet's message is unusable: {e}"))?;
            (p.text, p.signer)
        };
        let key_sealed = self.key.seal_message(order_id, &body);
        let t = now();
        let moved = self
            .db
            .write(move |c| {
                let tx = c.transaction()?;
                let digest = message::digest(order_id, "arbiter", &body);
                let body = key_sealed;
                store::insert_message(
                    &tx,
                    order_id,
                    Participant::Arbiter,
                    round,
                    &body,
                    &digest,
                    signer.as_deref(),
                    t,
                )?;
                let ok = match next {
                    None => {
                        store::release(&tx, order_id, None, t)?;
                        true
                    }
                    Some(next) => store::advance(
                        &tx,
                        order_id,
                        state,
                        next,
                        (round == ADDRESS_ROUND).then_some(address.as_str()),
                        None,
                        t,
                    )?,
                };
                if ok {
                    tx.commit()?;
                }
                Ok(ok)
            })
            .await
            .map_err(|e| format!("multisig {call}: storing the result failed: {e}"))?;
        if !moved {
            return Err(format!("multisig {call}: the escrow moved during the call"));
        }
        Ok(())
    }

    /// Clears a claim after a call that certainly changed nothing, keeping the
    /// reason to show on the page.
    async fn certainly_unchanged(&self, order_id: i64, e: MoneroError) -> Result<(), String> {
        let problem = format!(
            "The shop's wallet could not take its turn ({}); it tries again shortly.",
            e.kind()
        );
        let t = now();
        self.db
            .write(move |c| store::release(c, order_id, Some(&problem), t))
            .await
            .map_err(|e| e.to_string())?;
        Err(format!("multisig arbiter call failed: {e}"))
    }

    fn snapshot(&self, file: &str) -> std::io::Result<()> {
        let dir = self.pool.wallet_dir();
        for f in wallet_files(dir, file) {
            if f.exists() {
                let mut pre = f.clone().into_os_string();
                pre.push(".pre");
                std::fs::copy(&f, &pre)?;
            }
        }
        Ok(())
    }

    /// Puts the copy made before the last call back (the wallet is closed first).
    async fn restore(&self, file: &str) -> Result<(), String> {
        self.pool
            .close(file)
            .await
            .map_err(|e| format!("multisig: closing the wallet before restoring it failed: {e}"))?;
        for f in wallet_files(self.pool.wallet_dir(), file) {
            let mut pre = f.clone().into_os_string();
            pre.push(".pre");
            if std::path::Path::new(&pre).exists() {
                std::fs::copy(&pre, &f).map_err(|e| format!("multisig wallet restore: {e}"))?;
            }
        }
        Ok(())
    }

    /// Settles a claim nobody is running: the wallet goes back to its copy (its
    /// output was never stored, so nobody saw it) and the turn can run again.
    async fn undo_claim(&self, row: &EscrowRow) -> Result<(), String> {
        let order_id = row.order_id;
        match row.pending_call.as_deref() {
            Some("create") => {
                self.pool
                    .close(&row.wallet_file)
                    .await
                    .map_err(|e| e.to_string())?;
                for f in wallet_files(self.pool.wallet_dir(), &row.wallet_file) {
                    let _ = std::fs::remove_file(f);
                }
                let password = self.password(row)?;
                let w = self
                    .pool
                    .open(&row.wallet_file, &password, true)
                    .await
                    .map_err(|e| format!("multisig: creating the arbiter wallet failed: {e}"))?;
                drop(w);
            }
            Some("prepare") => {}
            Some(_) => self.restore(&row.wallet_file).await?,
            None => return Ok(()),
        }
        let t = now();
        self.db
            .write(move |c| store::release(c, order_id, None, t))
            .await
            .map_err(|e| e.to_string())
    }

    /// Round 4: all three addresses must be the same.
    async fn confirm(&self, row: &EscrowRow, msgs: &[MessageRow]) -> Result<(), String> {
        let order_id = row.order_id;
        let addr = |p| {
            find(msgs, p, ADDRESS_ROUND)
                .map(|m| m.body.clone())
                .unwrap_or_default()
        };
        let (a, b, v) = (
            addr(Participant::Arbiter),
            addr(Participant::Buyer),
            addr(Participant::Vendor),
        );
        let agreed = a == b && a == v;
        let problem = (!agreed).then(|| {
            let differ: Vec<&str> = [(Participant::Buyer, &b), (Participant::Vendor, &v)]
                .into_iter()
                .filter(|(_, x)| **x != a)
                .map(|(p, _)| p.as_str())
                .collect();
            format!(
                "The wallets do not agree on the multisig address (the {} reported a different one than the shop's wallet), so nobody can be sure who controls it. The setup is aborted and no money should be sent; place the order again to start over.",
                differ.join(" and the ")
            )
        });
        let to = if agreed {
            EscrowState::Ready
        } else {
            EscrowState::Aborted
        };
        let t = now();
        let moved = self
            .db
            .write(move |c| {
                store::advance(
                    c,
                    order_id,
                    EscrowState::Confirm,
                    to,
                    None,
                    problem.as_deref(),
                    t,
                )
            })
            .await
            .map_err(|e| e.to_string())?;
        if moved && agreed {
            crate::market::orders::escrow_events::payment_requested(
                &self.db,
                self.timing,
                order_id,
            )
            .await
            .map_err(|e| format!("multisig ready, order not moved: {e}"))?;
        } else if moved {
            crate::market::orders::escrow_events::setup_failed(
                &self.db,
                self.timing,
                order_id,
                "multisig setup aborted: the wallets reported different addresses",
            )
            .await
            .map_err(|e| format!("multisig aborted, order not moved: {e}"))?;
        }
        Ok(())
    }
}
