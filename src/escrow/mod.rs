//! Escrow engines. `managed` receives each order on its own subaddress of the
//! shop's wallet; `watcher` records payments with one wallet call per cycle;
//! `payout` pays the intents the order lifecycle writes, exactly once, and
//! reconciles whatever a crash left half done.

pub mod managed;
pub mod payout;
pub mod watcher;
