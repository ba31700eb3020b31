//! Logging with rotation and retention, and the Prometheus metrics recorder.

pub mod logging;
pub mod metrics;
pub mod retention;
