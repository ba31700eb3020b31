//! Logging with rotation and retention, the Prometheus metrics recorder, and
//! monitoring: the Monero poller, shop figures and the metrics UI's history.

pub mod exposition;
pub mod history;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod poller;
pub mod retention;
pub mod sampler;
pub mod shop_figures;
