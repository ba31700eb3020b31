//! The moderators' pages: the report queue, one report, one listing, hidden
//! listings; closing reports and hiding, removing or restoring listings.

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
use crate::market::admin::Paged;
use crate::market::auth::Viewer;
use crate::market::moderation::{self, ListingAction, ReportView};
use crate::store::reports::ListingBrief;

#[derive(Template)]
#[template(path = "moderation.html")]
struct QueuePage {
    chrome: Chrome,
    reports: Paged<ReportView>,
}

#[derive(Template)]
#[template(path = "moderation_report.html")]
struct ReportPage {
    chrome: Chrome,
    message: String,
    r: ReportView,
    is_admin: bool,
    resolution: String,
    listing: Option<ListingActions>,
}

#[derive(Template)]
#[template(path = "moderation_listing.html")]
struct ListingPage {
    chrome: Chrome,
    message: String,
    l: ListingBrief,
    listing: Option<ListingActions>,
}

#[derive(Template)]
#[template(path = "moderation_hidden.html")]
struct HiddenPage {
    chrome: Chrome,
    listings: Paged<ListingBrief>,
}

crate::page!(QueuePage, ReportPage, ListingPage, HiddenPage);

/// The hide / remove / restore forms for one listing (the listing actions block).
pub struct ListingActions {
    id: i64,
    /// (form value, button label, danger) for each action that applies now.
    actions: Vec<(&'static str, &'static str, bool)>,
    back: String,
    reason: String,
}

impl ListingActions {
    fn new(id: i64, state: &str, back: String, reason: String) -> Self {
        let actions = [
            (ListingAction::Hide, "hide", "Hide (reversible)", false),
            (ListingAction::Restore, "restore", "Restore", false),
            (ListingAction::Remove, "remove", "Remove for good", true),
        ]
        .into_iter()
        .filter(|(a, ..)| a.applies_to(state))
        .map(|(_, value, label, danger)| (value, label, danger))
        .collect();
        Self {
            id,
            actions,
            back,
            reason,
        }
    }
}

/// `?page=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

impl PageParam {
    fn number(&self) -> i64 {
        self.page.trim().parse().unwrap_or(1).max(1)
    }
}

/// Status and message of a refused moderator form, shown on the page again.
fn refused(e: MarketError) -> Result<(StatusCode, String), WebError> {
    match e {
        MarketError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, m)),
        MarketError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other.into()),
    }
}

/// `GET /moderation`: open reports, oldest first.
pub async fn queue(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    let reports = moderation::queue(&state.db, &cap, p.number()).await?;
    render(&QueuePage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        reports,
    })
}

async fn report_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    id: i64,
    message: String,
    resolution: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    let r = moderation::report(&state.db, &cap, id).await?;
    let listing = match r.listing_id {
        Some(lid) if r.open => Some(ListingActions::new(
            lid,
            &r.target_state,
            format!("/moderation/reports/{id}"),
            String::new(),
        )),
        _ => None,
    };
    render_status(
        &ReportPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            is_admin: v.admin().is_ok(),
            resolution,
            listing,
            r,
        },
        status,
    )
}

/// `GET /moderation/reports/{id}`.
pub async fn report(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    report_page(
        &state,
        &headers,
        &v,
        id,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The close form.
#[derive(Debug, Deserialize)]
pub struct CloseForm {
    resolution: String,
}

/// `POST /moderation/reports/{id}/close`.
pub async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<CloseForm>,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    match moderation::close(&state.db, &cap, id, &f.resolution).await {
        Ok(()) => Ok(Redirect::to("/moderation").into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            report_page(&state, &headers, &v, id, message, f.resolution, status).await
        }
    }
}

async fn listing_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    id: i64,
    message: String,
    reason: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    let (l, own) = moderation::listing(&state.db, &cap, id).await?;
    let listing = (!own)
        .then(|| ListingActions::new(id, &l.state, format!("/moderation/listings/{id}"), reason));
    render_status(
        &ListingPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            l,
            listing,
        },
        status,
    )
}

/// `GET /moderation/listings/{id}`.
pub async fn listing(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    listing_page(
        &state,
        &headers,
        &v,
        id,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The listing action form.
#[derive(Debug, Deserialize)]
pub struct ListingForm {
    action: String,
    reason: String,
    #[serde(default)]
    back: String,
}

/// Only pages of the moderation area are places to go back to.
fn safe_back(back: &str, id: i64) -> String {
    let ok = back.starts_with("/moderation")
        && !back.contains("//")
        && !back.contains('\\')
        && back.len() < 200;
    if ok {
        back.to_owned()
    } else {
        format!("/moderation/listings/{id}")
    }
}

/// `POST /moderation/listings/{id}/state`: hide, remove or restore.
pub async fn act_on_listing(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<ListingForm>,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    let action = ListingAction::parse(&f.action)
        .ok_or_else(|| WebError::BadRequest("Unknown action.".to_owned()))?;
    match moderation::act_on_listing(&state.db, &cap, id, action, &f.reason).await {
        Ok(()) => Ok(Redirect::to(&safe_back(&f.back, id)).into_response()),
        Err(e) => {
            let (status, message) = refused(e)?;
            listing_page(&state, &headers, &v, id, message, f.reason, status).await
        }
    }
}

/// `GET /moderation/hidden`: hidden listings, to restore.
pub async fn hidden(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let cap = v.moderator()?;
    let listings = moderation::hidden(&state.db, &cap, p.number()).await?;
    render(&HiddenPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        listings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn going_back_stays_in_the_moderation_area() {
        assert_eq!(
            safe_back("/moderation/reports/3", 7),
            "/moderation/reports/3"
        );
        assert_eq!(safe_back("//evil.example/", 7), "/moderation/listings/7");
        assert_eq!(safe_back("/moderation//x", 7), "/moderation/listings/7");
        assert_eq!(safe_back("/account", 7), "/moderation/listings/7");
    }

    #[test]
    fn only_applicable_actions_are_offered() {
        let a = ListingActions::new(1, "hidden", String::new(), String::new());
        let values: Vec<_> = a.actions.iter().map(|x| x.0).collect();
        assert_eq!(values, ["restore", "remove"]);
        assert!(
            ListingActions::new(1, "removed", String::new(), String::new())
                .actions
                .is_empty()
        );
    }
}
