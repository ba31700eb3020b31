//! Reviews: the buyer's review and the vendor's answer (forms on the order page),
//! and the paginated review pages of listings and vendors.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render};
use super::forms::Submitted;
use super::order_extras::Kept;
use super::orders::order_page;
use super::session::{CurrentViewer, SignedIn};
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::reviews::{self, ReviewPage};

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    heading: String,
    back_link: String,
    back_text: String,
    reviews: ReviewPage,
    pager_base: String,
}

crate::page!(ReviewsPage);

/// The review form.
#[derive(Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    rating: String,
    body: String,
}

/// Shows the order page again with the form's error, or passes the error on.
async fn again(
    state: &AppState,
    headers: &HeaderMap,
    v: &crate::market::auth::Viewer,
    public_id: &str,
    e: MarketError,
    kept: Kept,
) -> Result<Response, WebError> {
    let (status, message) = match e {
        MarketError::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, m),
        MarketError::Conflict(m) => (StatusCode::CONFLICT, m),
        other => return Err(other.into()),
    };
    order_page(state, headers, v, public_id, message, status, kept).await
}

/// `POST /orders/{public_id}/review`.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<ReviewForm>,
) -> Result<Response, WebError> {
    match reviews::post(&state.db, &v, &public_id, &f.rating, &f.body).await {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(e) => {
            let kept = Kept {
                rating: f.rating,
                review: f.body,
                ..Kept::default()
            };
            again(&state, &headers, &v, &public_id, e, kept).await
        }
    }
}

/// The reply form.
#[derive(Deserialize)]
pub struct ReplyForm {
    reply: String,
}

/// `POST /orders/{public_id}/review/reply`.
pub async fn reply(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<ReplyForm>,
) -> Result<Response, WebError> {
    match reviews::reply(&state.db, &v, &public_id, &f.reply).await {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(e) => {
            let kept = Kept {
                reply: f.reply,
                ..Kept::default()
            };
            again(&state, &headers, &v, &public_id, e, kept).await
        }
    }
}

/// `?page=`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

impl PageParam {
    fn number(&self) -> i64 {
        self.page.trim().parse().unwrap_or(1)
    }
}

/// `GET /listings/{id}/reviews`.
pub async fn of_listing(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Path(id): Path<i64>,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let viewer = viewer.map(|v| v.0);
    let (listing, page) = reviews::of_listing(&state.db, viewer.as_ref(), id, p.number()).await?;
    render(&ReviewsPage {
        chrome: Chrome::browsing(&state, viewer.as_ref()),
        heading: format!("Reviews of {}", listing.title),
        back_link: format!("/listings/{id}"),
        back_text: "Back to the listing".to_owned(),
        reviews: page,
        pager_base: format!("/listings/{id}/reviews?"),
    })
}

/// `GET /vendors/{name}/reviews`.
pub async fn of_vendor(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Path(name): Path<String>,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let viewer = viewer.map(|v| v.0);
    let (profile, page) = reviews::of_vendor(&state.db, &name, p.number()).await?;
    let encoded: String = form_urlencoded::byte_serialize(profile.username.as_bytes()).collect();
    render(&ReviewsPage {
        chrome: Chrome::browsing(&state, viewer.as_ref()),
        heading: format!("Reviews of {}", profile.username),
        back_link: format!("/vendors/{encoded}"),
        back_text: format!("Back to {}", profile.username),
        reviews: page,
        pager_base: format!("/vendors/{encoded}/reviews?"),
    })
}
