//! The notifications page: the viewer's own, newest first, and "mark all read".

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::account::Empty;
use super::chrome::{Chrome, render};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::notifications::{self, Notification};

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    notifications: Vec<Notification>,
    page: i64,
    has_next: bool,
}

crate::page!(NotificationsPage);

/// `?page=`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

/// `GET /notifications`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let page: i64 = p.page.trim().parse().unwrap_or(1).max(1);
    let (rows, has_next) = notifications::page(&state.db, &v, page).await?;
    render(&NotificationsPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        notifications: rows,
        page,
        has_next,
    })
}

/// `POST /notifications/read`: marks all of the viewer's notifications read.
pub async fn mark_read(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Submitted(_): Submitted<Empty>,
) -> Result<Response, WebError> {
    notifications::mark_all_read(&state.db, &v).await?;
    Ok(Redirect::to("/notifications").into_response())
}
