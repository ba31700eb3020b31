//! Disputes: opening one (order page), the arbiters' queue, a case with the order's
//! whole history, and the decision.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render, render_status};
use super::forms::Submitted;
use super::order_extras::Kept;
use super::orders::order_page;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::disputes::{self, Case, DecisionInput, DisputeRow};
use crate::market::messages::{self, MessageView};

#[derive(Template)]
#[template(path = "disputes.html")]
struct QueuePage {
    chrome: Chrome,
    decided: bool,
    disputes: Vec<DisputeRow>,
    page: i64,
    has_next: bool,
    pager_base: String,
}

#[derive(Template)]
#[template(path = "dispute.html")]
struct CasePage {
    chrome: Chrome,
    message: String,
    c: Case,
    outcome: String,
    messages: Vec<MessageView>,
    page: i64,
    pages: i64,
    pager_base: String,
    form: DecisionForm,
}

crate::page!(QueuePage, CasePage);

/// The dispute form on the order page.
#[derive(Deserialize)]
pub struct OpenForm {
    reason: String,
}

/// `POST /orders/{public_id}/dispute`.
pub async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<OpenForm>,
) -> Result<Response, WebError> {
    let timing = state.config.market.timing();
    match disputes::open(&state.db, timing, &v, &public_id, &f.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(e) => {
            let (status, message) = match e {
                MarketError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
                MarketError::Conflict(m) => (StatusCode::CONFLICT, m),
                other => return Err(other.into()),
            };
            let kept = Kept {
                dispute_reason: f.reason,
                ..Kept::default()
            };
            order_page(&state, &headers, &v, &public_id, message, status, kept).await
        }
    }
}

/// `?state=open|decided&page=`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QueueParams {
    state: String,
    page: String,
}

/// `GET /disputes`: open disputes oldest first (or decided ones, newest first).
pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<QueueParams>,
) -> Result<Response, WebError> {
    let arbiter = v.arbiter()?;
    let decided = p.state == "decided";
    let page: i64 = p.page.trim().parse().unwrap_or(1).max(1);
    let (rows, has_next) = disputes::queue(&state.db, &arbiter, decided, page).await?;
    render(&QueuePage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        decided,
        disputes: rows,
        page,
        has_next,
        pager_base: format!(
            "/disputes?state={}&",
            if decided { "decided" } else { "open" }
        ),
    })
}

/// The decision form (also what the case page shows again after an error).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    decision: String,
    vendor_percent: String,
    rationale: String,
}

/// `?page=` of the case's thread (absent: the last page).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CaseParams {
    page: String,
}

/// Renders a case, optionally with the decision form's error and input kept.
#[allow(clippy::too_many_arguments)]
async fn case_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    id: i64,
    page: Option<i64>,
    message: String,
    form: DecisionForm,
    status: StatusCode,
) -> Result<Response, WebError> {
    let arbiter = v.arbiter()?;
    let c = disputes::case(&state.db, &arbiter, id).await?;
    let thread = messages::thread(&state.db, v, &c.order.public_id).await?;
    let p = messages::page(&state.db, v, &thread, page).await?;
    let outcome = c
        .dispute
        .decision
        .as_deref()
        .map(|d| disputes::outcome_text(d, &c.dispute.vendor_percent))
        .unwrap_or_default();
    render_status(
        &CasePage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            c,
            outcome,
            messages: p.messages,
            page: p.page,
            pages: p.pages,
            pager_base: format!("/disputes/{id}?"),
            form,
        },
        status,
    )
}

/// `GET /disputes/{id}`: the case, for arbiters.
pub async fn case(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Query(p): Query<CaseParams>,
) -> Result<Response, WebError> {
    let page = p.page.trim().parse().ok();
    case_page(
        &state,
        &headers,
        &v,
        id,
        page,
        String::new(),
        DecisionForm::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /disputes/{id}/decide`.
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<DecisionForm>,
) -> Result<Response, WebError> {
    let arbiter = v.arbiter()?;
    let input = DecisionInput {
        decision: f.decision.clone(),
        vendor_percent: f.vendor_percent.clone(),
        rationale: f.rationale.clone(),
    };
    let timing = state.config.market.timing();
    match disputes::decide(&state.db, timing, &state.escrow, &arbiter, id, &input).await {
        Ok(()) => Ok(Redirect::to(&format!("/disputes/{id}")).into_response()),
        Err(MarketError::Invalid(m)) => {
            case_page(
                &state,
                &headers,
                &v,
                id,
                None,
                m,
                f,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(MarketError::Conflict(m)) => {
            case_page(
                &state,
                &headers,
                &v,
                id,
                None,
                m,
                DecisionForm::default(),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
