//! The admin pages about the shop itself: the rules page, categories, and the
//! audit log (read-only).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::admin::refused;
use super::chrome::{Chrome, render, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::admin::{self, Paged};
use crate::market::auth::Viewer;
use crate::market::site;
use crate::store::admin::CategoryUse;
use crate::store::audit::Entry;

/// The slug of the rules page.
const RULES: &str = "rules";

#[derive(Template)]
#[template(path = "admin_rules.html")]
struct RulesPage {
    chrome: Chrome,
    message: String,
    title: String,
    body: String,
}

#[derive(Template)]
#[template(path = "admin_categories.html")]
struct CategoriesPage {
    chrome: Chrome,
    message: String,
    categories: Vec<CategoryUse>,
    form: CategoryForm,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Paged<Entry>,
}

crate::page!(RulesPage, CategoriesPage, AuditPage);

/// `GET /admin/rules`: the rules page editor.
pub async fn rules_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    v.admin()?;
    let (title, body) = match site::page(&state.db, RULES).await {
        Ok(p) => p,
        Err(crate::market::MarketError::NotFound) => ("Rules".to_owned(), String::new()),
        Err(e) => return Err(e.into()),
    };
    render(&RulesPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        message: String::new(),
        title,
        body,
    })
}

/// The rules form.
#[derive(Debug, Deserialize)]
pub struct RulesForm {
    title: String,
    body: String,
}

/// `POST /admin/rules`: saves the rules and shows them.
pub async fn save_rules(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<RulesForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    match site::set_page(&state.db, &cap, RULES, &f.title, &f.body).await {
        Ok(()) => Ok(Redirect::to("/rules").into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            render_status(
                &RulesPage {
                    chrome: Chrome::new(&state, &headers, Some(&v)),
                    message,
                    title: f.title,
                    body: f.body,
                },
                status,
            )
        }
    }
}

async fn categories_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    message: String,
    form: CategoryForm,
    status: StatusCode,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    render_status(
        &CategoriesPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            categories: admin::categories(&state.db, &cap).await?,
            form,
        },
        status,
    )
}

/// `GET /admin/categories`.
pub async fn categories(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    let form = CategoryForm {
        position: "0".to_owned(),
        ..CategoryForm::default()
    };
    categories_page(&state, &headers, &v, String::new(), form, StatusCode::OK).await
}

/// A category to add or rename (the slug names it).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CategoryForm {
    slug: String,
    name: String,
    position: String,
}

/// `POST /admin/categories`: adds a category, or renames / moves one by its slug.
pub async fn save_category(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<CategoryForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let result = match f.position.trim() {
        "" => Ok(0),
        p => p.parse::<i64>().map_err(|_| {
            crate::market::MarketError::Invalid(
                "Position: enter a whole number (smaller comes first).".to_owned(),
            )
        }),
    };
    let result = match result {
        Ok(position) => site::upsert_category(&state.db, &cap, &f.slug, &f.name, position).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(Redirect::to("/admin/categories").into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            categories_page(&state, &headers, &v, message, f, status).await
        }
    }
}

/// The delete form.
#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    reason: String,
}

/// `POST /admin/categories/{slug}/delete`: removes an unused category.
pub async fn delete_category(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(slug): Path<String>,
    Submitted(f): Submitted<DeleteForm>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    match site::delete_category(&state.db, &cap, &slug, &f.reason).await {
        Ok(()) => Ok(Redirect::to("/admin/categories").into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            let form = CategoryForm {
                position: "0".to_owned(),
                ..CategoryForm::default()
            };
            categories_page(&state, &headers, &v, message, form, status).await
        }
    }
}

/// `?page=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

/// `GET /admin/audit`: the audit log, newest first.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let cap = v.admin()?;
    let page = p.page.trim().parse().unwrap_or(1).max(1);
    render(&AuditPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        entries: admin::audit_log(&state.db, &cap, page).await?,
    })
}
