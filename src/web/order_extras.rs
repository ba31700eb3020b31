//! What the order page shows beyond the order itself: the link to its messages,
//! the dispute (and the form to open one), and the review (and its forms).

use super::{AppState, WebError};
use crate::market::disputes::{self, DisputeRow};
use crate::market::orders::{OrderView, Relation};
use crate::market::reviews::{self, Review};
use crate::market::{messages, orders::state::OrderState};

/// Form input shown again after an error.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// The dispute form's reason.
    pub dispute_reason: String,
    /// The review form's rating.
    pub rating: String,
    /// The review form's text.
    pub review: String,
    /// The vendor's reply.
    pub reply: String,
    /// The refund address form's input.
    pub refund_address: String,
}

/// The order page's extra panels.
#[derive(Debug, Clone)]
pub struct OrderExtras {
    /// Messages in the thread.
    pub message_count: i64,
    /// Who the viewer writes to ("vendor", "buyer", "buyer and vendor").
    pub write_to: &'static str,
    /// The latest dispute.
    pub dispute: Option<DisputeRow>,
    /// Its outcome in words (decided disputes).
    pub outcome: String,
    /// The dispute form is shown.
    pub may_open_dispute: bool,
    /// Evidence can be added (in the thread).
    pub may_add_evidence: bool,
    /// The viewer looks at it as an arbiter (links to the case).
    pub arbiter: bool,
    /// The review.
    pub review: Option<Review>,
    /// The review form is shown.
    pub may_review: bool,
    /// The reply form is shown.
    pub may_reply: bool,
    /// Input to show again.
    pub kept: Kept,
}

impl OrderExtras {
    /// Star choices of the review form, best first.
    pub fn ratings(&self) -> [&'static str; 5] {
        ["5", "4", "3", "2", "1"]
    }
}

/// Loads the panels for an order the viewer may see.
pub async fn load(state: &AppState, view: &OrderView, kept: Kept) -> Result<OrderExtras, WebError> {
    let db = &state.db;
    let message_count = messages::count(db, view.order.id).await?;
    let dispute = disputes::for_order(db, view).await?;
    let review = reviews::for_order(db, view).await?;
    let outcome = dispute
        .as_ref()
        .and_then(|d| {
            d.decision
                .as_deref()
                .map(|x| disputes::outcome_text(x, &d.vendor_percent))
        })
        .unwrap_or_default();
    let party = matches!(view.relation, Relation::Buyer | Relation::Vendor);
    Ok(OrderExtras {
        message_count,
        write_to: match view.relation {
            Relation::Buyer => "vendor",
            Relation::Vendor => "buyer",
            Relation::Arbiter => "buyer and vendor",
        },
        may_open_dispute: disputes::may_open(view),
        may_add_evidence: party && view.order.state == OrderState::Disputed,
        arbiter: view.relation == Relation::Arbiter,
        may_review: reviews::may_review(view, review.as_ref()),
        may_reply: reviews::may_reply(view, review.as_ref()),
        dispute,
        outcome,
        review,
        kept,
    })
}
