//! HTTP: the shop router (what Tor forwards to) and the metrics router (never
//! forwarded), with the layers every response passes through.

mod account;
mod assets;
mod catalogue;
pub mod chrome;
mod error;
pub mod fmt;
mod forms;
mod layers;
mod metrics_listener;
mod orders;
mod page_cache;
mod pages;
mod sell;
mod session;

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
use crate::market::escrow::SharedEscrow;
use crate::store::Db;
use crate::telemetry::metrics::Metrics;

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
    /// The escrow engine, when payments are set up.
    pub escrow: SharedEscrow,
    /// Rendered catalogue pages for anonymous visitors.
    page_cache: Arc<page_cache::PageCache>,
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
            escrow: None,
            page_cache: Arc::default(),
        }
    }
}

/// The shop listener's routes.
pub fn shop_router(state: AppState) -> Router {
    let body_limit = state.config.shop.body_limit_bytes;
    let upload_limit = state.config.market.upload_limit_bytes;
    let pages = Router::new()
        .route("/", get(catalogue::home))
        .route("/search", get(catalogue::search))
        .route("/c/{slug}", get(catalogue::category))
        .route("/listings/{id}", get(catalogue::listing))
        .route("/listings/{id}/order", post(orders::place))
        .route("/vendors/{name}", get(catalogue::vendor))
        .route("/images/{id}/{size}", get(catalogue::image))
        .route("/rules", get(pages::rules))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route(
            "/recover",
            get(account::recover_form).post(account::recover),
        )
        .route("/account", get(account::account))
        .route("/account/password", post(account::change_password))
        .route("/account/pgp", post(account::set_pgp))
        .route("/account/vendor-application", post(account::apply_vendor))
        .route("/account/sessions", get(account::sessions))
        .route("/account/sessions/end-all", post(account::end_all))
        .route("/account/2fa", get(account::twofactor))
        .route("/account/2fa/enable", post(account::enable_2fa))
        .route("/account/2fa/disable", post(account::disable_2fa))
        .route("/sell", get(sell::index))
        .route("/sell/new", get(sell::new_form).post(sell::create))
        .route("/sell/{id}/edit", get(sell::edit_form).post(sell::update))
        .route("/sell/{id}/state", post(sell::set_state))
        .route("/sell/images/{id}/delete", post(sell::delete_image))
        .route("/orders", get(orders::list))
        .route("/orders/{public_id}", get(orders::show))
        .route("/orders/{public_id}/action", post(orders::act))
        .route("/healthz", get(pages::healthz))
        .route("/readyz", get(pages::readyz))
        .route("/csp-report", post(pages::csp_report))
        .route("/static/{*path}", get(assets::serve))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            page_cache::serve,
        ));
    let uploads = Router::new()
        .route("/sell/{id}/images", post(sell::upload_image))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(RequestBodyLimitLayer::new(upload_limit));
    with_shop_layers(pages.merge(uploads), state)
}

/// The layers every shop response passes through, around `routes` (also used by
/// the hidden `souk bench-serve`, so its baseline pays the same costs).
pub fn with_shop_layers(routes: Router<AppState>, state: AppState) -> Router {
    let timeout = Duration::from_secs(state.config.shop.request_timeout_secs);
    routes
        .route_layer(middleware::from_fn(layers::remember_route))
        .fallback(pages::not_found)
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

/// The metrics listener's routes: `/metrics` for Prometheus and an index page.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/", get(metrics_listener::index))
        .route("/metrics", get(metrics_listener::exposition))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics_listener::require_token,
        ))
        .route("/healthz", get(pages::healthz))
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
