//! Payments through the shop's HTML forms on one real regtest chain: the real
//! binary, its own monero-wallet-rpc per test, and a "bank" wallet that pays
//! like buyers do and holds the addresses payouts go to (one account per test,
//! so each test reads only its own subaddresses). The chain is started once per
//! binary and mined once for coinbase unlock; each test waits for what a user
//! would see (pages, amounts on chain), never for fixed block counts of others.

#[path = "../common/mod.rs"]
mod common;

mod support;

mod disputes;
mod faults;
mod flows;
