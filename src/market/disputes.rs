//! Disputes: the buyer or the vendor of a paid or shipped order asks an arbiter to
//! decide. Opening and deciding both move the order through `orders::apply_with`, so
//! the dispute row, the order's state, its audit rows and the notifications commit
//! together or not at all. After a decision the escrow engine (if any) pays out.

use super::auth::{ArbiterCap, Viewer};
use super::escrow::{Outcome, SharedEscrow};
use super::orders::state::OrderState;
use super::orders::{self, OrderView, Relation, Timing, apply_with, party};
use super::text::bounded;
use super::{MarketError, MarketResult};
use crate::store::orders::{self as order_store, Event, OrderRow};
use crate::store::{Db, accounts, audit, disputes as store, notifications};

pub use crate::store::disputes::DisputeRow;

/// Disputes per page of the arbiters' queue.
pub const PAGE_SIZE: i64 = 25;

/// Whether the viewer may open a dispute on the order now.
pub fn may_open(view: &OrderView) -> bool {
    matches!(view.relation, Relation::Buyer | Relation::Vendor)
        && view
            .order
            .state
            .may_become(OrderState::Disputed, party(view.relation))
}

/// Opens a dispute on a paid or shipped order (its buyer or vendor, with a reason).
pub async fn open(
    db: &Db,
    timing: Timing,
    viewer: &Viewer,
    public_id: &str,
    reason: &str,
) -> MarketResult<()> {
    let view = orders::view(db, viewer, public_id).await?;
    if !matches!(view.relation, Relation::Buyer | Relation::Vendor) {
        return Err(MarketError::Forbidden);
    }
    if !may_open(&view) {
        return Err(MarketError::Conflict(format!(
            "This order is {}: a dispute can be opened on paid or shipped orders.",
            view.order.state.label().to_lowercase()
        )));
    }
    let reason = bounded("The reason", reason, 10, 2000)?;
    let (order_id, by) = (view.order.id, viewer.account_id);
    let parties = [view.order.buyer_id, view.order.vendor_id];
    let public_id = view.order.public_id.clone();
    let why = match view.relation {
        Relation::Buyer => "dispute opened by the buyer",
        _ => "dispute opened by the vendor",
    };
    let also: orders::AlsoInTransaction = Box::new(move |c, t| {
        let dispute = store::insert(c, order_id, by, &reason, t)?;
        // Every arbiter who is not a party hears of it; one of them takes it.
        for arbiter in accounts::with_role(c, "arbiter")? {
            if !parties.contains(&arbiter) {
                notifications::push(
                    c,
                    arbiter,
                    "dispute_opened",
                    &format!("A dispute was opened on order {public_id}."),
                    &format!("/disputes/{dispute}"),
                    t,
                )?;
            }
        }
        Ok(())
    });
    apply_with(
        db,
        timing,
        &view.order,
        OrderState::Disputed,
        Some(by),
        why,
        None,
        Some(also),
    )
    .await
}

/// The latest dispute of an order the viewer may see.
pub async fn for_order(db: &Db, view: &OrderView) -> MarketResult<Option<DisputeRow>> {
    let id = view.order.id;
    Ok(db.read(move |c| store::latest_for_order(c, id)).await?)
}

/// A page of disputes for arbiters: open ones oldest first, or decided ones newest first.
/// The second value says whether a next page exists.
pub async fn queue(
    db: &Db,
    _arbiter: &ArbiterCap,
    decided: bool,
    page: i64,
) -> MarketResult<(Vec<DisputeRow>, bool)> {
    let offset = (page.max(1) - 1) * PAGE_SIZE;
    let mut rows = db
        .read(move |c| store::page(c, decided, PAGE_SIZE + 1, offset))
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

/// What an arbiter sees of a dispute: the dispute, the whole order (delivery note
/// included) and its history. The thread comes from `messages::thread`.
#[derive(Debug, Clone)]
pub struct Case {
    /// The dispute.
    pub dispute: DisputeRow,
    /// The order.
    pub order: OrderRow,
    /// The order's history, oldest first.
    pub events: Vec<Event>,
    /// The arbiter is the buyer or the vendor of this order (may not decide it).
    pub own_order: bool,
}

/// A dispute for an arbiter.
pub async fn case(db: &Db, arbiter: &ArbiterCap, dispute_id: i64) -> MarketResult<Case> {
    let (dispute, order, events) = db
        .read(move |c| {
            let Some(d) = store::by_id(c, dispute_id)? else {
                return Ok(None);
            };
            let Some(o) = order_store::by_id(c, d.order_id)? else {
                return Ok(None);
            };
            let events = order_store::events(c, o.id)?;
            Ok(Some((d, o, events)))
        })
        .await?
        .ok_or(MarketError::NotFound)?;
    let me = arbiter.account_id();
    Ok(Case {
        own_order: order.buyer_id == me || order.vendor_id == me,
        dispute,
        order,
        events,
    })
}

/// What the arbiter filled in.
#[derive(Debug, Clone, Default)]
pub struct DecisionInput {
    /// release, refund or split.
    pub decision: String,
    /// The vendor's share for a split, 1 to 99.
    pub vendor_percent: String,
    /// Why, shown to both parties.
    pub rationale: String,
}

/// Reads the decision form.
pub fn parse_decision(input: &DecisionInput) -> MarketResult<(Outcome, String)> {
    let outcome = match input.decision.as_str() {
        "release" => Outcome::Release,
        "refund" => Outcome::Refund,
        "split" => {
            let vendor_percent = input
                .vendor_percent
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=99).contains(p))
                .ok_or_else(|| {
                    MarketError::Invalid(
                        "Split: enter the vendor's share as a whole number from 1 to 99 (percent)."
                            .to_owned(),
                    )
                })?;
            Outcome::Split { vendor_percent }
        }
        _ => {
            return Err(MarketError::Invalid(
                "Choose release to the vendor, refund to the buyer, or a split.".to_owned(),
            ));
        }
    };
    let rationale = bounded("The rationale", &input.rationale, 10, 5000)?;
    Ok((outcome, rationale))
}

/// How an outcome reads for people.
pub fn outcome_text(decision: &str, vendor_percent: &Option<i64>) -> String {
    match (decision, *vendor_percent) {
        ("release", _) => "released to the vendor".to_owned(),
        ("refund", _) => "refunded to the buyer".to_owned(),
        ("split", Some(p)) => format!("split: {p} % to the vendor, {} % to the buyer", 100 - p),
        (other, _) => other.to_owned(),
    }
}

/// Decides an open dispute: the order moves disputed -> resolved with the outcome,
/// the dispute is marked decided and the decision audited, all in one transaction;
/// both parties are notified. Then the escrow engine, if configured, pays out (a
/// failure there is logged: the payout job retries; the decision stands). When two
/// arbiters decide at once exactly one wins; the other gets `Conflict`.
pub async fn decide(
    db: &Db,
    timing: Timing,
    escrow: &SharedEscrow,
    arbiter: &ArbiterCap,
    dispute_id: i64,
    input: &DecisionInput,
) -> MarketResult<()> {
    let (outcome, rationale) = parse_decision(input)?;
    let case = case(db, arbiter, dispute_id).await?;
    if case.own_order {
        return Err(MarketError::Forbidden);
    }
    let already = |d: &DisputeRow| {
        MarketError::Conflict(format!(
            "This dispute was already decided{}: {}. Your decision was not recorded.",
            d.arbiter
                .as_deref()
                .map(|a| format!(" by {a}"))
                .unwrap_or_default(),
            outcome_text(d.decision.as_deref().unwrap_or(""), &d.vendor_percent)
        ))
    };
    if case.dispute.state != "open"
        || !case
            .order
            .state
            .may_become(OrderState::Resolved, orders::state::Party::Arbiter)
    {
        return Err(already(&case.dispute));
    }
    let (order_id, public_id) = (case.order.id, case.order.public_id.clone());
    let arbiter_id = arbiter.account_id();
    let decided = store::Decided {
        decision: outcome.as_str(),
        vendor_percent: i64::from(outcome.vendor_percent()),
        rationale: rationale.clone(),
        arbiter_id,
    };
    let audit_text = format!(
        "{}: {rationale}",
        outcome_text(decided.decision, &Some(decided.vendor_percent))
    );
    let also: orders::AlsoInTransaction = Box::new(move |c, t| {
        if !store::decide(c, dispute_id, &decided, t)? {
            return Err(MarketError::Conflict(String::new()));
        }
        audit::record(
            c,
            Some(arbiter_id),
            "dispute_decided",
            &format!("dispute {dispute_id} order {public_id}"),
            &audit_text,
            t,
        )?;
        Ok(())
    });
    let reason = format!(
        "dispute decided: {}",
        outcome_text(outcome.as_str(), &Some(i64::from(outcome.vendor_percent())))
    );
    let applied = apply_with(
        db,
        timing,
        &case.order,
        OrderState::Resolved,
        Some(arbiter_id),
        &reason,
        Some(outcome),
        Some(also),
    )
    .await;
    if let Err(MarketError::Conflict(_)) = applied {
        // Someone else won the compare-and-set: say who and what.
        let now = db.read(move |c| store::by_id(c, dispute_id)).await?;
        return Err(now.map_or(
            MarketError::Conflict("This order changed in the meantime.".to_owned()),
            |d| already(&d),
        ));
    }
    applied?;
    pay_out(escrow, order_id).await;
    Ok(())
}

/// Hands a decided order to the escrow engine, waiting for the wallet only
/// briefly. Without an engine (or when it takes longer) the escrow job pays it.
async fn pay_out(escrow: &SharedEscrow, order_id: i64) {
    super::payout_addresses::pay_out_soon(escrow, order_id).await;
}

#[cfg(test)]
mod tests;
