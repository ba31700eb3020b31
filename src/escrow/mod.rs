//! Escrow engines. `payout` pays the intents the order lifecycle writes, exactly
//! once, and reconciles whatever a crash left half done.

pub mod payout;
