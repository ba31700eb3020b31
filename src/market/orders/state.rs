//! The order lifecycle: one enum of states and one transition table. Nothing else
//! may change an order's state; the store applies a transition with a compare-and-set
//! (`UPDATE ... WHERE id = ? AND state = ?`) plus an audit row.

use std::fmt;
use std::str::FromStr;

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// Placed, stock reserved; waiting for the escrow to issue a payment request.
    Created,
    /// The buyer has a payment request and a deadline.
    AwaitingPayment,
    /// Payment confirmed in escrow.
    Paid,
    /// The vendor says it is on its way.
    Shipped,
    /// Finalized (by the buyer or automatically): the vendor is paid.
    Completed,
    /// Buyer or vendor asked an arbiter to decide.
    Disputed,
    /// The arbiter decided: release, refund or split.
    Resolved,
    /// Called off before shipping (refunded if anything was paid).
    Cancelled,
    /// Not paid in time.
    Expired,
}

/// Every state, for tests and listings.
pub const ALL_STATES: [OrderState; 9] = [
    OrderState::Created,
    OrderState::AwaitingPayment,
    OrderState::Paid,
    OrderState::Shipped,
    OrderState::Completed,
    OrderState::Disputed,
    OrderState::Resolved,
    OrderState::Cancelled,
    OrderState::Expired,
];

/// Who asks for a transition; the table says which kind of party may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The order's buyer.
    Buyer,
    /// The order's vendor.
    Vendor,
    /// An arbiter deciding a dispute.
    Arbiter,
    /// souk itself: escrow events and timed jobs.
    System,
}

use OrderState::*;
use Party::*;

/// The one transition table: (from, to, who may).
const TRANSITIONS: &[(OrderState, OrderState, &[Party])] = &[
    (Created, AwaitingPayment, &[System]),
    // System: an escrow whose setup failed (multisig addresses differ).
    (Created, Cancelled, &[Buyer, Vendor, System]),
    (Created, Expired, &[System]),
    (AwaitingPayment, Paid, &[System]),
    (AwaitingPayment, Cancelled, &[Buyer]),
    (AwaitingPayment, Expired, &[System]),
    (Paid, Shipped, &[Vendor]),
    (Paid, Cancelled, &[Vendor]),
    (Paid, Disputed, &[Buyer, Vendor]),
    (Shipped, Completed, &[Buyer, System]),
    (Shipped, Disputed, &[Buyer, Vendor]),
    (Disputed, Resolved, &[Arbiter]),
];

impl OrderState {
    /// Whether `who` may move an order from `self` to `to`.
    pub fn may_become(self, to: OrderState, who: Party) -> bool {
        TRANSITIONS
            .iter()
            .any(|(f, t, parties)| *f == self && *t == to && parties.contains(&who))
    }

    /// States reachable from here by anyone.
    pub fn next_states(self) -> impl Iterator<Item = OrderState> {
        TRANSITIONS
            .iter()
            .filter(move |(f, _, _)| *f == self)
            .map(|(_, t, _)| *t)
    }

    /// No way out.
    pub fn is_final(self) -> bool {
        self.next_states().next().is_none()
    }

    /// Stock is still held for the order (released on cancel or expiry).
    pub fn holds_stock(self) -> bool {
        matches!(self, Created | AwaitingPayment)
    }

    /// Money is (or was) in escrow for this order.
    pub fn is_funded(self) -> bool {
        matches!(self, Paid | Shipped | Disputed | Completed | Resolved)
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Created => "created",
            AwaitingPayment => "awaiting_payment",
            Paid => "paid",
            Shipped => "shipped",
            Completed => "completed",
            Disputed => "disputed",
            Resolved => "resolved",
            Cancelled => "cancelled",
            Expired => "expired",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Created => "Placed",
            AwaitingPayment => "Awaiting payment",
            Paid => "Paid",
            Shipped => "Shipped",
            Completed => "Completed",
            Disputed => "In dispute",
            Resolved => "Resolved",
            Cancelled => "Cancelled",
            Expired => "Expired",
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_STATES
            .iter()
            .copied()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown order state {s:?}"))
    }
}

impl rusqlite::types::ToSql for OrderState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for OrderState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str()?
            .parse()
            .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTIES: [Party; 4] = [Buyer, Vendor, Arbiter, System];

    /// Every allowed transition, spelled out independently of the table.
    const ALLOWED: &[(OrderState, OrderState, Party)] = &[
        (Created, AwaitingPayment, System),
        (Created, Cancelled, Buyer),
        (Created, Cancelled, Vendor),
        (Created, Cancelled, System),
        (Created, Expired, System),
        (AwaitingPayment, Paid, System),
        (AwaitingPayment, Cancelled, Buyer),
        (AwaitingPayment, Expired, System),
        (Paid, Shipped, Vendor),
        (Paid, Cancelled, Vendor),
        (Paid, Disputed, Buyer),
        (Paid, Disputed, Vendor),
        (Shipped, Completed, Buyer),
        (Shipped, Completed, System),
        (Shipped, Disputed, Buyer),
        (Shipped, Disputed, Vendor),
        (Disputed, Resolved, Arbiter),
    ];

    #[test]
    fn exactly_the_intended_transitions_are_allowed() {
        let mut allowed = 0;
        for from in ALL_STATES {
            for to in ALL_STATES {
                for who in PARTIES {
                    let expected = ALLOWED.contains(&(from, to, who));
                    assert_eq!(
                        from.may_become(to, who),
                        expected,
                        "{from} -> {to} by {who:?}"
                    );
                    allowed += usize::from(expected);
                }
            }
        }
        assert_eq!(allowed, ALLOWED.len());
    }

    #[test]
    fn final_states_have_no_exit() {
        let finals: Vec<_> = ALL_STATES.iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, vec![&Completed, &Resolved, &Cancelled, &Expired]);
    }

    #[test]
    fn names_round_trip() {
        for s in ALL_STATES {
            assert_eq!(s.as_str().parse::<OrderState>().unwrap(), s);
        }
        assert!("paidd".parse::<OrderState>().is_err());
    }
}
