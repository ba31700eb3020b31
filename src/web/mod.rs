//! HTTP: the shop router (what Tor forwards to) and the metrics router (never
//! forwarded), with the layers every response passes through.

mod account;
mod admin;
mod admin_site;
mod assets;
mod catalogue;
mod charts;
pub mod chrome;
mod disputes;
mod error;
pub mod fmt;
mod forms;
mod layers;
mod messages;
mod metrics_listener;
mod metrics_ui;
mod moderation;
mod multisig;
mod notifications;
mod order_extras;
mod orders;
mod page_cache;
mod pages;
mod payout_settings;
mod report;
mod reviews;
mod sell;
mod session;
mod two_factor;

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
    /// The escrow engine, when payments are set up.
    pub escrow: SharedEscrow,
    /// The multisig escrow, when enabled (its setup pages talk to it directly).
    pub multisig: Option<Arc<crate::escrow::multisig::MultisigEscrow>>,
    /// Monero poller, shop figures and the metrics UI history.
    pub monitor: Arc<Monitor>,
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
            multisig: None,
            monitor: Arc::new(Monitor::disabled()),
            page_cache: Arc::default(),
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
        .route("/account/2fa", get(two_factor::twofactor))
        .route("/account/2fa/enable", post(two_factor::enable_2fa))
        .route("/account/2fa/disable", post(two_factor::disable_2fa))
        .route("/sell", get(sell::index))
        .route("/sell/new", get(sell::new_form).post(sell::create))
        .route(
            "/sell/escrow",
            get(multisig::vendor_setting).post(multisig::set_vendor_setting),
        )
        .route("/sell/{id}/edit", get(sell::edit_form).post(sell::update))
        .route("/sell/{id}/state", post(sell::set_state))
        .route(
            "/sell/payout-address",
            get(payout_settings::form).post(payout_settings::save),
        )
        .route("/sell/images/{id}/delete", post(sell::delete_image))
        .route("/orders", get(orders::list))
        .route("/orders/{public_id}", get(orders::show))
        .route("/orders/{public_id}/action", post(orders::act))
        .route(
            "/orders/{public_id}/multisig",
            get(multisig::page).post(multisig::submit),
        )
        .route(
            "/orders/{public_id}/refund-address",
            post(orders::refund_address),
        )
        .route(
            "/orders/{public_id}/messages",
            get(messages::show).post(messages::post),
        )
        .route("/attachments/{id}", get(messages::attachment))
        .route("/orders/{public_id}/dispute", post(disputes::open))
        .route("/orders/{public_id}/review", post(reviews::post))
        .route("/orders/{public_id}/review/reply", post(reviews::reply))
        .route("/listings/{id}/reviews", get(reviews::of_listing))
        .route("/vendors/{name}/reviews", get(reviews::of_vendor))
        .route("/disputes", get(disputes::queue))
        .route("/disputes/{id}", get(disputes::case))
        .route("/disputes/{id}/decide", post(disputes::decide))
        .route("/notifications", get(notifications::list))
        .route("/notifications/read", post(notifications::mark_read))
        .route("/report", get(report::form).post(report::send))
        .route("/moderation", get(moderation::queue))
        .route("/moderation/hidden", get(moderation::hidden))
        .route("/moderation/reports/{id}", get(moderation::report))
        .route("/moderation/reports/{id}/close", post(moderation::close))
        .route("/moderation/listings/{id}", get(moderation::listing))
        .route(
            "/moderation/listings/{id}/state",
            post(moderation::act_on_listing),
        )
        .route("/admin", get(admin::index))
        .route("/admin/applications/{id}", post(admin::decide))
        .route("/admin/accounts", get(admin::accounts))
        .route("/admin/accounts/{id}", get(admin::account))
        .route("/admin/accounts/{id}/roles", post(admin::set_role))
        .route("/admin/accounts/{id}/status", post(admin::set_status))
        .route(
            "/admin/rules",
            get(admin_site::rules_form).post(admin_site::save_rules),
        )
        .route(
            "/admin/categories",
            get(admin_site::categories).post(admin_site::save_category),
        )
        .route(
            "/admin/categories/{slug}/delete",
            post(admin_site::delete_category),
        )
        .route("/admin/audit", get(admin_site::audit))
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
        .route(
            "/orders/{public_id}/evidence",
            post(messages::upload_evidence),
        )
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
