//! The admin pages about people: the front page with vendor applications, the
//! account search, one account with its roles and standing.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::admin::{self, Paged, Standing};
use crate::market::auth::{Role, Viewer};
use crate::store::accounts::{AccountSummary, Application};
use crate::store::admin::AccountDetail;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    message: String,
    me: i64,
    open_reports: i64,
    pending: i64,
    applications: Paged<Application>,
}

#[derive(Template)]
#[template(path = "admin_accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    q: String,
    accounts: Paged<AccountSummary>,
    pager_base: String,
}

#[derive(Template)]
#[template(path = "admin_account.html")]
struct AccountPage {
    chrome: Chrome,
    message: String,
    a: AccountDetail,
    is_self: bool,
    /// (role, held).
    roles: Vec<(&'static str, bool)>,
    /// The reason typed into the role form, kept when it was refused.
    role_reason: String,
    /// The reason typed into the standing form, kept when it was refused.
    status_reason: String,
}

crate::page!(AdminPage, AccountsPage, AccountPage);

/// `?page=` and `?q=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListParams {
    q: String,
    page: String,
}

impl ListParams {
    fn number(&self) -> i64 {
        self.page.trim().parse().unwrap_or(1).max(1)
    }
}

/// Status and message of a refused admin form, shown on the page again.
pub fn refused(e: MarketError) -> Result<(StatusCode, String), WebError> {
    match e {
        MarketError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, m)),
        MarketError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other.into()),
    }
}

async fn admin_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    page: i64,
    message: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let (open_reports, pending) = admin::waiting(&state.db, &cap).await?;
    let applications = admin::pending_applications(&state.db, &cap, page).await?;
    render_status(
        &AdminPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            me: v.account_id,
            open_reports,
            pending,
            applications,
        },
        status,
    )
}

/// `GET /admin`: what waits, and the vendor applications, oldest first.
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Response, WebError> {
    admin_page(
        &state,
        &headers,
        &v,
        p.number(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The decision on a vendor application.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/applications/{id}`: approve or reject.
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<DecisionForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(WebError::BadRequest("Unknown decision.".to_owned())),
    };
    match admin::decide_application(&state.db, &cap, id, approve, &f.reason).await {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            admin_page(&state, &headers, &v, 1, message, status).await
        }
    }
}

/// `GET /admin/accounts?q=`: accounts by name.
pub async fn accounts(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let accounts = admin::search_accounts(&state.db, &cap, &p.q, p.number()).await?;
    let q = p.q.trim().to_owned();
    render(&AccountsPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        pager_base: format!(
            "/admin/accounts?q={}&",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ),
        q,
        accounts,
    })
}

/// What a refused form on the account page had typed in.
#[derive(Default)]
struct Typed {
    role_reason: String,
    status_reason: String,
}

async fn account_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    id: i64,
    message: String,
    typed: Typed,
    status: StatusCode,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let a = admin::account(&state.db, &cap, id).await?;
    let roles = Role::ALL
        .iter()
        .map(|r| (r.as_str(), a.roles.iter().any(|h| h == r.as_str())))
        .collect();
    render_status(
        &AccountPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            is_self: a.id == v.account_id,
            roles,
            role_reason: typed.role_reason,
            status_reason: typed.status_reason,
            a,
        },
        status,
    )
}

/// `GET /admin/accounts/{id}`.
pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    account_page(
        &state,
        &headers,
        &v,
        id,
        String::new(),
        Typed::default(),
        StatusCode::OK,
    )
    .await
}

/// A role change.
#[derive(Debug, Deserialize)]
pub struct RoleForm {
    role: String,
    change: String,
    reason: String,
}

/// `POST /admin/accounts/{id}/roles`: grant or revoke one role.
pub async fn set_role(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<RoleForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let role =
        Role::parse(&f.role).ok_or_else(|| WebError::BadRequest("Unknown role.".to_owned()))?;
    let grant = match f.change.as_str() {
        "grant" => true,
        "revoke" => false,
        _ => return Err(WebError::BadRequest("Grant or revoke?".to_owned())),
    };
    match admin::set_role(&state.db, &cap, id, role, grant, &f.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            let typed = Typed {
                role_reason: f.reason,
                ..Typed::default()
            };
            account_page(&state, &headers, &v, id, message, typed, status).await
        }
    }
}

/// A change of standing.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    status: String,
    reason: String,
}

/// `POST /admin/accounts/{id}/status`: suspend, ban or reinstate.
pub async fn set_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<StatusForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let status = Standing::parse(&f.status)
        .ok_or_else(|| WebError::BadRequest("Choose active, suspended or banned.".to_owned()))?;
    match admin::set_status(&state.db, &cap, id, status, &f.reason).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/accounts/{id}")).into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            let typed = Typed {
                status_reason: f.reason,
                ..Typed::default()
            };
            account_page(&state, &headers, &v, id, message, typed, status).await
        }
    }
}
