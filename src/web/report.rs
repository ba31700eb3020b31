//! Reporting a listing, a user or an order to the moderators.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::chrome::{Chrome, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::moderation::{self, MAX_REASON, ReportKind, ReportTarget};

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    message: String,
    kind: String,
    id: String,
    label: String,
    reason: String,
    back: String,
    can_send: bool,
    sent: bool,
    max_reason: usize,
}

crate::page!(ReportPage);

/// `?kind=listing|user|order&id=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportParams {
    kind: String,
    id: String,
}

/// Where "back" goes from a report about `target`.
fn back_link(target: &ReportTarget) -> String {
    match target.kind {
        ReportKind::Listing => format!("/listings/{}", target.link_id),
        ReportKind::Order => format!("/orders/{}", target.link_id),
        ReportKind::User => "/".to_owned(),
    }
}

struct Shown<'a> {
    kind: &'a str,
    id: &'a str,
    reason: String,
    message: String,
    sent: bool,
    status: StatusCode,
}

async fn report_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    shown: Shown<'_>,
) -> Result<Response, WebError> {
    let (label, back, can_send, mut message, mut status) =
        match moderation::target(&state.db, v, shown.kind, shown.id).await {
            Ok(t) => (
                t.label.clone(),
                back_link(&t),
                true,
                shown.message,
                shown.status,
            ),
            Err(MarketError::Invalid(m)) => (
                String::new(),
                "/".to_owned(),
                false,
                m,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            Err(e) => return Err(e.into()),
        };
    if shown.sent {
        message = String::new();
        status = StatusCode::OK;
    }
    render_status(
        &ReportPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            kind: shown.kind.to_owned(),
            id: shown.id.to_owned(),
            label,
            reason: shown.reason,
            back,
            can_send: can_send && !shown.sent,
            sent: shown.sent,
            max_reason: MAX_REASON,
        },
        status,
    )
}

/// `GET /report?kind=&id=`: the report form.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<ReportParams>,
) -> Result<Response, WebError> {
    let shown = Shown {
        kind: &p.kind,
        id: &p.id,
        reason: String::new(),
        message: String::new(),
        sent: false,
        status: StatusCode::OK,
    };
    report_page(&state, &headers, &v, shown).await
}

/// The report form.
#[derive(Debug, Deserialize)]
pub struct ReportForm {
    kind: String,
    id: String,
    reason: String,
}

/// `POST /report`: files the report; a duplicate is refused politely.
pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<ReportForm>,
) -> Result<Response, WebError> {
    let (message, status, sent) =
        match moderation::file(&state.db, &v, &f.kind, &f.id, &f.reason).await {
            Ok(_) => (String::new(), StatusCode::OK, true),
            Err(MarketError::Invalid(m)) => (m, StatusCode::UNPROCESSABLE_ENTITY, false),
            Err(MarketError::Conflict(m)) => (m, StatusCode::CONFLICT, false),
            Err(e) => return Err(e.into()),
        };
    let shown = Shown {
        kind: &f.kind,
        id: &f.id,
        reason: if sent {
            String::new()
        } else {
            f.reason.clone()
        },
        message,
        sent,
        status,
    };
    report_page(&state, &headers, &v, shown).await
}
