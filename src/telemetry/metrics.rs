//! The Prometheus recorder: every metric souk exports is described here once, with
//! base units in the name and explicit histogram buckets.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Version shown by `--version` and `souk_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit the binary was built from.
pub const COMMIT: &str = env!("BUILD_GIT_COMMIT");

/// Buckets for request latency, in seconds: fine below 100 ms where the shop lives.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets for background job steps, in seconds.
const JOB_BUCKETS: &[f64] = &[0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0];
/// Buckets for Monero RPC calls, in seconds (loopback, but wallets can be slow).
const RPC_BUCKETS: &[f64] = &[0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0, 30.0];
/// Buckets for payment watcher cycles, in seconds (goal: well under 1 s for 1,000 orders).
const WATCHER_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Renders the exposition; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    process: std::sync::Arc<metrics_process::Collector>,
}

impl Metrics {
    /// Installs the process-wide recorder. Call once.
    pub fn install() -> Result<Self, String> {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("souk_http_request_duration_seconds".into()),
                HTTP_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("souk_job_duration_seconds".into()),
                    JOB_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("souk_monero_rpc_duration_seconds".into()),
                    RPC_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(crate::escrow::watcher::CYCLE_METRIC.into()),
                    WATCHER_BUCKETS,
                )
            })
            .map_err(|e| format!("metrics: {e}"))?
            .install_recorder()
            .map_err(|e| format!("metrics: cannot install the recorder: {e}"))?;
        let process = metrics_process::Collector::default();
        process.describe();
        describe_all();
        metrics::gauge!("souk_build_info", "version" => VERSION, "commit" => COMMIT).set(1.0);
        Ok(Self {
            handle,
            process: std::sync::Arc::new(process),
        })
    }

    /// The text exposition for `/metrics`, with fresh process figures.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    /// Drains histogram buffers; the upkeep job calls this.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn describe_all() {
    describe_counter!(
        "souk_order_transitions_total",
        "Order state changes, by from and to state."
    );
    crate::monero::describe();
    crate::escrow::watcher::describe();
    describe_gauge!(
        "souk_build_info",
        "Version and git commit of the running souk; always 1."
    );
    describe_counter!(
        "souk_http_requests_total",
        "HTTP requests answered, by method, route template and status code."
    );
    describe_histogram!(
        "souk_http_request_duration_seconds",
        Unit::Seconds,
        "Time from request to response head, by method and route template."
    );
    describe_gauge!(
        "souk_http_requests_in_flight",
        "HTTP requests being handled now."
    );
    describe_counter!(
        "souk_csp_reports_total",
        "Content-Security-Policy violation reports received from browsers, by directive."
    );
    describe_counter!(
        "souk_job_runs_total",
        "Background job steps run, by job and result."
    );
    describe_histogram!(
        "souk_job_duration_seconds",
        Unit::Seconds,
        "Duration of background job steps, by job."
    );
    describe_gauge!(
        "souk_job_last_success_timestamp_seconds",
        Unit::Seconds,
        "Unix time of each job's last successful step."
    );
    describe_gauge!("souk_log_files", "Rotated log files in the log dir.");
    describe_gauge!(
        "souk_log_dir_bytes",
        Unit::Bytes,
        "Bytes of log files in the log dir."
    );
    describe_counter!(
        "souk_log_files_deleted_total",
        "Log files deleted by retention (count, size or age)."
    );
    describe_gauge!(
        "souk_ready",
        "1 when /readyz last reported ready, 0 when not."
    );
    describe_gauge!(
        "souk_disk_free_bytes",
        Unit::Bytes,
        "Free bytes on the data dir's file system available to souk."
    );
    crate::backup::describe_metrics();
}
