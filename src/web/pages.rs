//! The front page, health endpoints, CSP reports and the not-found page.

use askama::Template;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::chrome::{Chrome, render};
use super::session::CurrentViewer;
use super::{AppState, WebError};
use crate::health;

#[derive(Template)]
#[template(path = "rules.html")]
struct RulesPage {
    chrome: Chrome,
    title: String,
    body_html: String,
}

crate::page!(RulesPage);

/// `GET /rules`: the operator's rules page.
pub async fn rules(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
) -> Result<Response, WebError> {
    let (title, body) = crate::market::site::page(&state.db, "rules").await?;
    render(&RulesPage {
        chrome: Chrome::browsing(&state, viewer.map(|v| v.0).as_ref()),
        title,
        body_html: crate::market::text::render_markdown(&body),
    })
}

/// `GET /healthz`: the process is alive and serving.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the shop can take orders, 503 with reasons otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let min_free = state
        .config
        .server
        .min_free_disk_mb
        .saturating_mul(1024 * 1024);
    let backup = crate::backup::readiness(&state.config);
    let r = health::probe(
        &state.db,
        &state.config.data_dir,
        min_free,
        &state.monitor.poller,
        backup,
    )
    .await;
    let checks: serde_json::Map<String, serde_json::Value> = r
        .checks
        .iter()
        .map(|(name, c)| {
            (
                (*name).to_owned(),
                serde_json::to_value(c).unwrap_or_default(),
            )
        })
        .collect();
    let body = serde_json::json!({
        "status": if r.ready { "ready" } else { "not_ready" },
        "checks": checks,
    });
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Directives a report may name; anything else is counted as "other" so the
/// label set stays bounded whatever a browser (or a forger) sends.
const DIRECTIVES: &[&str] = &[
    "default-src",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "img-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "form-action",
    "frame-ancestors",
    "base-uri",
    "connect-src",
    "font-src",
    "media-src",
    "object-src",
    "frame-src",
];

/// `POST /csp-report`: browsers report pages that broke the policy, which points at
/// a template bug. Counted by directive; nothing about the visitor is kept.
pub async fn csp_report(body: Bytes) -> Result<StatusCode, WebError> {
    let directive = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let report = v
                .get("csp-report")
                .or_else(|| v.get(0).and_then(|r| r.get("body")))?;
            report
                .get("effective-directive")
                .or_else(|| report.get("violated-directive"))
                .or_else(|| report.get("effectiveDirective"))
                .and_then(|d| d.as_str())
                .map(|d| d.split_whitespace().next().unwrap_or("").to_owned())
        });
    let Some(directive) = directive else {
        return Err(WebError::BadRequest(
            "This address only accepts Content-Security-Policy violation reports.".to_owned(),
        ));
    };
    let label = DIRECTIVES
        .iter()
        .find(|d| **d == directive)
        .copied()
        .unwrap_or("other");
    metrics::counter!("souk_csp_reports_total", "directive" => label).increment(1);
    tracing::info!(
        directive = label,
        "content security policy violation reported"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Fallback for every unknown path.
pub async fn not_found() -> WebError {
    WebError::NotFound
}
