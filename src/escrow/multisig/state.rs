//! Where a multisig escrow is, and the one table of its moves. The store applies
//! a move with a compare-and-set on the state (see `store::multisig::advance`).

use std::fmt;
use std::str::FromStr;

/// A multisig escrow's state (docs/multisig.md has the table with meanings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscrowState {
    /// Waiting for buyer's and vendor's first messages (prepare).
    Kex1,
    /// Waiting for their `make_multisig` messages.
    Kex2,
    /// Waiting for their first `exchange_multisig_keys` messages.
    Kex3,
    /// Waiting for their wallets' final addresses.
    Confirm,
    /// All three agree on the address; the order awaits payment.
    Ready,
    /// Payment confirmed (funding is the next piece of work).
    Funded,
    /// A payout set was built.
    SpendProposed,
    /// A second signature was collected.
    SpendSigned,
    /// The payout was relayed.
    SpendSubmitted,
    /// Paid out.
    Done,
    /// Setup failed (addresses differ); nothing was paid in.
    Aborted,
    /// A participant did not finish in time.
    Expired,
}

use EscrowState::*;

/// Every state.
pub const ALL: [EscrowState; 12] = [
    Kex1,
    Kex2,
    Kex3,
    Confirm,
    Ready,
    Funded,
    SpendProposed,
    SpendSigned,
    SpendSubmitted,
    Done,
    Aborted,
    Expired,
];

/// The one table of moves.
const MOVES: &[(EscrowState, EscrowState)] = &[
    (Kex1, Kex2),
    (Kex2, Kex3),
    (Kex3, Confirm),
    (Confirm, Ready),
    (Kex1, Aborted),
    (Kex2, Aborted),
    (Kex3, Aborted),
    (Confirm, Aborted),
    (Kex1, Expired),
    (Kex2, Expired),
    (Kex3, Expired),
    (Confirm, Expired),
    (Ready, Expired),
    (Ready, Funded),
    (Funded, SpendProposed),
    (SpendProposed, SpendSigned),
    (SpendProposed, Funded),
    (SpendSigned, SpendSubmitted),
    (SpendSigned, Funded),
    (SpendSigned, SpendProposed),
    (SpendSubmitted, Done),
];

impl EscrowState {
    /// Whether the table allows `self -> to`.
    pub fn may_become(self, to: EscrowState) -> bool {
        MOVES.iter().any(|&(f, t)| f == self && t == to)
    }

    /// The setup round whose messages this state collects (1 to 4).
    pub fn round(self) -> Option<u8> {
        match self {
            Kex1 => Some(1),
            Kex2 => Some(2),
            Kex3 => Some(3),
            Confirm => Some(super::message::ADDRESS_ROUND),
            _ => None,
        }
    }

    /// The state that collects `round`.
    pub fn collecting(round: u8) -> Option<Self> {
        ALL.into_iter().find(|s| s.round() == Some(round))
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kex1 => "kex1",
            Kex2 => "kex2",
            Kex3 => "kex3",
            Confirm => "confirm",
            Ready => "ready",
            Funded => "funded",
            SpendProposed => "spend_proposed",
            SpendSigned => "spend_signed",
            SpendSubmitted => "spend_submitted",
            Done => "done",
            Aborted => "aborted",
            Expired => "expired",
        }
    }

    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Kex1 => "Setup round 1 of 4",
            Kex2 => "Setup round 2 of 4",
            Kex3 => "Setup round 3 of 4",
            Confirm => "Setup round 4 of 4: confirm the address",
            Ready => "Set up: waiting for payment",
            Funded => "Funded",
            SpendProposed | SpendSigned => "Payout being signed",
            SpendSubmitted => "Payout sent",
            Done => "Paid out",
            Aborted => "Aborted",
            Expired => "Expired",
        }
    }
}

impl fmt::Display for EscrowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EscrowState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown multisig escrow state {s:?}"))
    }
}

impl rusqlite::types::ToSql for EscrowState {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for EscrowState {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        v.as_str()?
            .parse()
            .map_err(|e: String| rusqlite::types::FromSqlError::Other(e.into()))
    }
}

/// A participant of the 2-of-3 wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Participant {
    /// The order's buyer.
    Buyer,
    /// The order's vendor.
    Vendor,
    /// The shop's wallet.
    Arbiter,
}

impl Participant {
    /// All three, in the order their messages are listed.
    pub const ALL: [Participant; 3] = [
        Participant::Buyer,
        Participant::Vendor,
        Participant::Arbiter,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Participant::Buyer => "buyer",
            Participant::Vendor => "vendor",
            Participant::Arbiter => "arbiter",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_moves_forward_one_round_at_a_time() {
        assert!(Kex1.may_become(Kex2));
        assert!(!Kex1.may_become(Kex3));
        assert!(!Kex1.may_become(Ready));
        assert!(!Ready.may_become(Kex1));
        assert!(!Aborted.may_become(Kex1));
        for s in ALL {
            assert_eq!(s.as_str().parse::<EscrowState>().unwrap(), s);
            if let Some(r) = s.round() {
                assert_eq!(EscrowState::collecting(r), Some(s));
                assert!(s.may_become(Expired) && s.may_become(Aborted));
            }
        }
        for s in [Done, Aborted, Expired] {
            assert!(ALL.iter().all(|t| !s.may_become(*t)), "{s} is final");
        }
    }
}
