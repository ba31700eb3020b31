//! HTTP: the shop router (what Tor forwards to) and the metrics router (never
//! forwarded), with the layers every response passes through.

mod assets;
mod charts;
mod error;
mod layers;
mod metrics_listener;
mod metrics_ui;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::{Config, Secret};
use crate::store::Db;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::monitor::Monitor;

pub use error::WebError;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The metrics exposition.
    pub metrics: Metrics,
    /// Bearer token for the metrics listener, when configured.
    pub metrics_token: Option<Secret>,
    /// Security headers, computed once from the config.
    pub headers: Arc<layers::SecurityHeaders>,
    /// Monero poller, shop figures and the metrics UI history.
    pub monitor: Arc<Monitor>,
}

impl AppState {
    /// Builds the shared state.
    pub fn new(
        db: Db,
        config: Arc<Config>,
        metrics: Metrics,
        metrics_token: Option<Secret>,
    ) -> Self {
        let headers = Arc::new(layers::SecurityHeaders::new(config.shop.hsts_max_age_secs));
        Self {
            db,
            config,
            metrics,
            metrics_token,
            headers,
            monitor: Arc::new(Monitor::disabled()),
        }
    }

    /// Uses `monitor` instead of the disabled one.
    pub fn with_monitor(mut self, monitor: Arc<Monitor>) -> Self {
        self.monitor = monitor;
        self
    }
}

/// The shop listener's routes.
pub fn shop_router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.shop.request_timeout_secs);
    let body_limit = state.config.shop.body_limit_bytes;
    Router::new()
        .route("/", get(pages::home))
        .route("/healthz", get(pages::healthz))
        .route("/readyz", get(pages::readyz))
        .route("/csp-report", post(pages::csp_report))
        .route("/static/{*path}", get(assets::serve))
        .route_layer(middleware::from_fn(layers::remember_route))
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(layers::observe))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::problem_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::security_headers,
        ))
        .with_state(state)
}

/// The metrics listener's routes: `/metrics` for Prometheus and the metrics UI at `/`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/", get(metrics_ui::dashboard))
        .route("/metrics", get(metrics_listener::exposition))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics_listener::require_token,
        ))
        .route("/healthz", get(pages::healthz))
        .route("/ui.css", get(metrics_ui::stylesheet))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::problem_pages,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::security_headers,
        ))
        .with_state(state)
}
