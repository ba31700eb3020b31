//! souk: a self-hosted marketplace appliance in one binary.
//!
//! Rooms, each with one purpose; data flows one way: `web` -> `market` -> `store`.

pub mod app;
pub mod backup;
pub mod config;
pub mod demo;
pub mod escrow;
pub mod health;
pub mod healthcheck;
pub mod jobs;
pub mod market;
pub mod monero;
pub mod net;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod web;
