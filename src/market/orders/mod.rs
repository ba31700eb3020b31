//! Orders: placing one (stock reserved atomically), who may see it, the actions of
//! buyer and vendor, escrow events, and the timed jobs. Every state change goes
//! through [`state::OrderState::may_become`] and the store's compare-and-set.

pub mod escrow_events;
pub mod jobs;
pub mod state;

use super::auth::Viewer;
use super::escrow::{EscrowMode, ModePolicy, OrderForEscrow, Outcome, SharedEscrow};
use super::text::bounded;
use super::{MarketError, MarketResult, Piconero, now, random_bytes};
use crate::store::orders::{self as store, NewOrder, OrderRow, Stamp};
use crate::store::{Db, listings, notifications};
use state::{OrderState, Party};

pub use crate::store::orders::{Event, Side};

/// Deepest page of an order list (keeps offsets and page links far from overflow).
pub const MAX_LIST_PAGE: i64 = 1_000_000;

/// Timing rules from the config.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a buyer has to pay.
    pub payment_window_secs: i64,
    /// Shipped orders complete by themselves after this long.
    pub auto_finalize_secs: i64,
    /// Delivery notes are forgotten this long after an order ends.
    pub note_purge_secs: i64,
    /// An order paid in full by its deadline (pool included) waits this long
    /// after the deadline for its confirmations before it expires.
    pub payment_grace_secs: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            payment_window_secs: 2 * 3600,
            auto_finalize_secs: 14 * 86_400,
            note_purge_secs: 30 * 86_400,
            payment_grace_secs: 2 * 3600,
        }
    }
}

/// What a buyer filled in.
#[derive(Debug, Clone, Default)]
pub struct OrderInput {
    /// Listing.
    pub listing_id: i64,
    /// Units.
    pub quantity: String,
    /// Delivery option id.
    pub delivery_option: String,
    /// Delivery note (address etc.), private to buyer and vendor.
    pub delivery_note: String,
}

/// A short random id for URLs (order numbers would reveal the shop's volume).
fn new_public_id() -> String {
    data_encoding::BASE32_NOPAD
        .encode(&random_bytes::<10>())
        .to_lowercase()
}

/// Places an order: checks the listing, reserves stock atomically, records the
/// order, then asks the escrow (if any) for a payment request. Without escrow the
/// order waits in `created` and says so.
pub async fn place(
    db: &Db,
    escrow: &SharedEscrow,
    timing: Timing,
    viewer: &Viewer,
    input: &OrderInput,
) -> MarketResult<String> {
    place_with(
        db,
        escrow,
        timing,
        viewer,
        input,
        &ModePolicy::default(),
        "",
    )
    .await
}

/// [`place`] with the escrow mode chosen by `policy` (the buyer's `requested`
/// mode, the vendor's requirement) and fixed for the order; a multisig order
/// gets the policy's setup window before it expires.
pub async fn place_with(
    db: &Db,
    escrow: &SharedEscrow,
    timing: Timing,
    viewer: &Viewer,
    input: &OrderInput,
    policy: &ModePolicy,
    requested: &str,
) -> MarketResult<String> {
    let setup_window_secs = policy.setup_window_secs;
    let quantity: i64 = input
        .quantity
        .trim()
        .parse()
        .ok()
        .filter(|q| (1..=1000).contains(q))
        .ok_or_else(|| {
            MarketError::Invalid("Quantity: enter a whole number from 1 to 1000.".to_owned())
        })?;
    let option_id: i64 = input
        .delivery_option
        .trim()
        .parse()
        .map_err(|_| MarketError::Invalid("Choose a delivery option.".to_owned()))?;
    let note = bounded("The delivery note", &input.delivery_note, 0, 4000)?;
    let note = (!note.is_empty()).then_some(note);
    let listing_id = input.listing_id;
    let listing = db
        .read(move |c| listings::get(c, listing_id))
        .await?
        .filter(|l| l.state == "active" && l.vendor_status == "active")
        .ok_or(MarketError::NotFound)?;
    if listing.vendor_id == viewer.account_id {
        // The page offers no order form to the owner: only a forged request gets here.
        return Err(MarketError::Forbidden);
    }
    let vendor_id = listing.vendor_id;
    let requires = db
        .read(move |c| crate::store::multisig::vendor_requires_multisig(c, vendor_id))
        .await?;
    let mode = policy.choose(requested, requires)?;
    let option = listing
        .delivery
        .iter()
        .find(|d| d.id == option_id)
        .ok_or_else(|| {
            MarketError::Invalid("Choose one of the listing's delivery options.".to_owned())
        })?;
    let unit = Piconero::from_i64(listing.price);
    let total = unit
        .checked_mul(quantity as u64)
        .and_then(|p| p.checked_add(Piconero::from_i64(option.price)))
        .filter(|p| p.0 <= i64::MAX as u64)
        .ok_or_else(|| MarketError::Invalid("That order is too large.".to_owned()))?;
    let t = now();
    let new = NewOrder {
        public_id: new_public_id(),
        buyer_id: viewer.account_id,
        vendor_id: listing.vendor_id,
        listing_id,
        listing_title: listing.title.clone(),
        quantity,
        unit_price: listing.price,
        delivery_label: option.label.clone(),
        delivery_price: option.price,
        total: total.as_i64(),
        delivery_note: note,
        payment_deadline: t + timing.payment_window_secs,
    };
    let public_id = new.public_id.clone();
    let order_id = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !store::reserve_stock(&tx, new.listing_id, new.quantity)? {
                return Ok(None);
            }
            let id = store::insert(&tx, &new, t)?;
            if mode == EscrowMode::Multisig {
                crate::store::multisig::set_order_multisig(&tx, id, t + setup_window_secs)?;
            }
            notifications::push(
                &tx,
                new.vendor_id,
                "order_placed",
                &format!(
                    "New order for \"{}\" ({} × {})",
                    new.listing_title,
                    new.quantity,
                    Piconero::from_i64(new.unit_price)
                ),
                &format!("/orders/{}", new.public_id),
                t,
            )?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await?
        .ok_or_else(|| {
            MarketError::Conflict("Not enough stock left for that quantity.".to_owned())
        })?;
    open_payment(db, escrow, order_id).await;
    Ok(public_id)
}

/// Asks the escrow for a payment request; a failure leaves the order in `created`
/// (retried by the payment job once payments are back).
pub async fn open_payment(db: &Db, escrow: &SharedEscrow, order_id: i64) {
    let Some(engine) = escrow else { return };
    let Ok(Some(o)) = db.read(move |c| store::by_id(c, order_id)).await else {
        return;
    };
    if o.state != OrderState::Created {
        return;
    }
    let req = OrderForEscrow {
        order_id,
        public_id: o.public_id,
        total: Piconero::from_i64(o.total),
        buyer_id: o.buyer_id,
        vendor_id: o.vendor_id,
    };
    if let Err(e) = engine.open(&req).await {
        tracing::warn!(error = %e, "payment request could not be opened; the order waits");
    }
}

/// How the viewer relates to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Bought it.
    Buyer,
    /// Sells it.
    Vendor,
    /// Arbiter looking at a dispute.
    Arbiter,
}

/// An order as the viewer may see it.
#[derive(Debug, Clone)]
pub struct OrderView {
    /// The order.
    pub order: OrderRow,
    /// The viewer's relation.
    pub relation: Relation,
    /// History.
    pub events: Vec<Event>,
}

/// Loads an order for the viewer: the buyer, the vendor, and arbiters once it has
/// been disputed. Anyone else gets "not found" (never "forbidden", which would
/// confirm the order exists). The delivery note is removed for arbiters outside a dispute.
pub async fn view(db: &Db, viewer: &Viewer, public_id: &str) -> MarketResult<OrderView> {
    let pid = public_id.to_owned();
    let (order, events, disputed_ever) = db
        .read(move |c| {
            let Some(o) = store::by_public_id(c, &pid)? else {
                return Ok(None);
            };
            let ev = store::events(c, o.id)?;
            let disputed = ev.iter().any(|e| e.to_state == "disputed");
            Ok(Some((o, ev, disputed)))
        })
        .await?
        .ok_or(MarketError::NotFound)?;
    let relation = if order.buyer_id == viewer.account_id {
        Relation::Buyer
    } else if order.vendor_id == viewer.account_id {
        Relation::Vendor
    } else if disputed_ever && viewer.arbiter().is_ok() {
        Relation::Arbiter
    } else {
        return Err(MarketError::NotFound);
    };
    Ok(OrderView {
        order,
        relation,
        events,
    })
}

/// A page of the viewer's orders as buyer or vendor.
pub async fn mine(db: &Db, viewer: &Viewer, side: Side, page: i64) -> MarketResult<Vec<OrderRow>> {
    let (id, offset) = (viewer.account_id, (page.clamp(1, MAX_LIST_PAGE) - 1) * 25);
    Ok(db
        .read(move |c| store::page(c, id, side, 26, offset))
        .await?)
}

/// What buyer and vendor can do on the order page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Buyer or vendor calls it off before payment; vendor refunds a paid order.
    Cancel,
    /// Vendor marks it shipped.
    Ship,
    /// Buyer confirms receipt: the vendor gets paid.
    Finalize,
}

impl Action {
    /// The state this action leads to.
    pub fn target(self) -> OrderState {
        match self {
            Action::Cancel => OrderState::Cancelled,
            Action::Ship => OrderState::Shipped,
            Action::Finalize => OrderState::Completed,
        }
    }
}

/// The transition table's party for a relation.
pub(crate) fn party(relation: Relation) -> Party {
    match relation {
        Relation::Buyer => Party::Buyer,
        Relation::Vendor => Party::Vendor,
        Relation::Arbiter => Party::Arbiter,
    }
}

/// Whether the viewer may take `action` on the order now (for showing buttons).
pub fn may(view: &OrderView, action: Action) -> bool {
    view.order
        .state
        .may_become(action.target(), party(view.relation))
}

/// Applies a buyer's or vendor's action to an order.
pub async fn act(
    db: &Db,
    timing: Timing,
    viewer: &Viewer,
    public_id: &str,
    action: Action,
) -> MarketResult<()> {
    let v = view(db, viewer, public_id).await?;
    let from = v.order.state;
    let to = action.target();
    let who = party(v.relation);
    // Asking for what this side of an order can never do (a buyer shipping, a vendor
    // finalizing) is not allowed; asking at the wrong moment is a conflict.
    if !state::ALL_STATES.iter().any(|s| s.may_become(to, who)) {
        return Err(MarketError::Forbidden);
    }
    if !from.may_become(to, who) {
        return Err(MarketError::Conflict(format!(
            "This order is {}: it cannot be {} now.",
            from.label().to_lowercase(),
            match action {
                Action::Cancel => "cancelled",
                Action::Ship => "marked shipped",
                Action::Finalize => "finalized",
            }
        )));
    }
    let reason = match (action, v.relation) {
        (Action::Cancel, Relation::Buyer) => "cancelled by the buyer",
        (Action::Cancel, _) => "cancelled by the vendor",
        (Action::Ship, _) => "marked shipped by the vendor",
        (Action::Finalize, _) => "finalized by the buyer",
    };
    apply(
        db,
        timing,
        &v.order,
        to,
        Some(viewer.account_id),
        reason,
        None,
    )
    .await
}

/// [`act`], then, when the action ended the order (finalize, cancel), asks the
/// escrow engine to pay it out at once, waiting for the wallet only briefly
/// (the reconciliation job finishes what is left).
pub async fn act_and_pay_out(
    db: &Db,
    escrow: &SharedEscrow,
    timing: Timing,
    viewer: &Viewer,
    public_id: &str,
    action: Action,
) -> MarketResult<()> {
    act(db, timing, viewer, public_id, action).await?;
    if action.target().is_final() {
        let pid = public_id.to_owned();
        if let Some(o) = db.read(move |c| store::by_public_id(c, &pid)).await? {
            super::payout_addresses::pay_out_soon(escrow, o.id).await;
        }
    }
    Ok(())
}

/// The one place that moves an order: checks nothing about who (callers did),
/// stamps the fields the target state needs, releases stock, fixes the money
/// outcome, notifies the other people involved, all in one transaction with the
/// compare-and-set. `Conflict` when the order moved in the meantime.
pub(crate) async fn apply(
    db: &Db,
    timing: Timing,
    order: &OrderRow,
    to: OrderState,
    actor: Option<i64>,
    reason: &str,
    decided: Option<Outcome>,
) -> MarketResult<()> {
    apply_with(db, timing, order, to, actor, reason, decided, None).await
}

/// Work that must commit or roll back together with a transition (the dispute row
/// of `disputed`, the decision and audit row of `resolved`). It runs inside the
/// transition's transaction after the compare-and-set succeeded; an error rolls
/// the whole transition back and is returned as is.
pub(crate) type AlsoInTransaction =
    Box<dyn FnOnce(&rusqlite::Connection, i64) -> MarketResult<()> + Send>;

/// [`apply`] plus work in the same transaction; still the one place that moves orders.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_with(
    db: &Db,
    timing: Timing,
    order: &OrderRow,
    to: OrderState,
    actor: Option<i64>,
    reason: &str,
    decided: Option<Outcome>,
    also: Option<AlsoInTransaction>,
) -> MarketResult<()> {
    let from = order.state;
    let t = now();
    let mut stamp = Stamp::default();
    if to == OrderState::AwaitingPayment {
        stamp.payment_deadline = Some(t + timing.payment_window_secs);
    }
    if to == OrderState::Shipped {
        stamp.shipped = Some((t, t + timing.auto_finalize_secs));
    }
    if to.is_final() {
        stamp.ended = Some((t, t + timing.note_purge_secs));
    }
    stamp.release_stock =
        from.holds_stock() && matches!(to, OrderState::Cancelled | OrderState::Expired);
    let outcome = match (to, decided) {
        (OrderState::Completed, _) => Some(Outcome::Release),
        (OrderState::Cancelled, _) if from.is_funded() => Some(Outcome::Refund),
        (OrderState::Resolved, Some(o)) => Some(o),
        _ => None,
    };
    stamp.outcome = outcome.map(|o| (o.as_str(), i64::from(o.vendor_percent())));
    let (id, reason_text) = (order.id, reason.to_owned());
    let notes = notices(order, to, actor);
    let moved = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !store::transition(&tx, id, from, to, actor, &reason_text, &stamp, t)? {
                return Ok(Ok(false));
            }
            if let Some(also) = also
                && let Err(e) = also(&tx, t)
            {
                // Dropping the transaction rolls the transition back.
                return Ok(Err(e));
            }
            if to.is_final()
                && let Err(e) = super::payouts::settle_in_transaction(
                    &tx,
                    id,
                    outcome.map_or(0, Outcome::vendor_percent),
                    t,
                )
            {
                return Ok(Err(e));
            }
            for (account, kind, text, link) in &notes {
                notifications::push(&tx, *account, kind, text, link, t)?;
            }
            tx.commit()?;
            Ok(Ok(true))
        })
        .await??;
    if moved {
        tracing::info!(from = %from, to = %to, "order state changed");
        metrics::counter!("souk_order_transitions_total", "from" => from.as_str(), "to" => to.as_str()).increment(1);
        Ok(())
    } else {
        Err(MarketError::Conflict(
            "This order changed in the meantime: reload the page to see where it is now."
                .to_owned(),
        ))
    }
}

/// Who hears about a transition, and what.
fn notices(
    o: &OrderRow,
    to: OrderState,
    actor: Option<i64>,
) -> Vec<(i64, &'static str, String, String)> {
    let link = format!("/orders/{}", o.public_id);
    let title = &o.listing_title;
    let mut out = Vec::new();
    let mut tell = |who: i64, kind: &'static str, text: String| {
        if Some(who) != actor {
            out.push((who, kind, text, link.clone()));
        }
    };
    match to {
        OrderState::AwaitingPayment => tell(
            o.buyer_id,
            "payment_ready",
            format!("Payment details are ready for \"{title}\"."),
        ),
        OrderState::Paid => {
            tell(
                o.buyer_id,
                "order_paid",
                format!("Your payment for \"{title}\" is confirmed."),
            );
            tell(
                o.vendor_id,
                "order_paid",
                format!("\"{title}\" was paid: please ship it."),
            );
        }
        OrderState::Shipped => tell(
            o.buyer_id,
            "order_shipped",
            format!("\"{title}\" was shipped."),
        ),
        OrderState::Completed => tell(
            o.vendor_id,
            "order_completed",
            format!("\"{title}\" was finalized."),
        ),
        OrderState::Disputed => {
            tell(
                o.buyer_id,
                "dispute_opened",
                format!("A dispute was opened on \"{title}\"."),
            );
            tell(
                o.vendor_id,
                "dispute_opened",
                format!("A dispute was opened on \"{title}\"."),
            );
        }
        OrderState::Resolved => {
            tell(
                o.buyer_id,
                "dispute_decided",
                format!("The dispute on \"{title}\" was decided."),
            );
            tell(
                o.vendor_id,
                "dispute_decided",
                format!("The dispute on \"{title}\" was decided."),
            );
        }
        OrderState::Cancelled => {
            tell(
                o.buyer_id,
                "order_cancelled",
                format!("The order for \"{title}\" was cancelled."),
            );
            tell(
                o.vendor_id,
                "order_cancelled",
                format!("The order for \"{title}\" was cancelled."),
            );
        }
        OrderState::Expired => tell(
            o.buyer_id,
            "order_expired",
            format!("The order for \"{title}\" expired unpaid."),
        ),
        OrderState::Created => {}
    }
    out
}
