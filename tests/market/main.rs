//! The marketplace through the real binary over HTTP, as a browser without
//! JavaScript uses it: accounts, listings, catalogue, orders, who may do what,
//! hostile input, and the query plans of the catalogue.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod authz;
mod catalogue;
mod demo;
mod hostile;
mod listings;
mod orders;
mod plans;
