//! The 2-of-3 multisig escrow setup on a real regtest chain, through the pages
//! a browser without JavaScript uses. The buyer's and the vendor's own wallets
//! are separate monero-wallet-rpc processes driven by the test (standing in for
//! monero-wallet-cli); souk runs the arbiter's wallet in its own pool. Every
//! message between them and souk goes through the HTML forms. The setup needs
//! no blocks, so one chain start is the whole fixed cost.

#[path = "../common/mod.rs"]
mod common;

mod modes;
mod payout;
mod resume;
mod setup;
