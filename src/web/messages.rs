//! Order threads: reading and writing messages, evidence uploads, evidence images.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render_status};
use super::forms::{Submitted, read_upload};
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::messages::{self, MessageView, Reader, Thread};

#[derive(Template)]
#[template(path = "thread.html")]
struct ThreadPage {
    chrome: Chrome,
    message: String,
    t: Thread,
    moderator: bool,
    messages: Vec<MessageView>,
    page: i64,
    pages: i64,
    pager_base: String,
    draft: String,
    max_chars: usize,
    max_images: i64,
}

crate::page!(ThreadPage);

/// `?page=` (absent: the last page, where the newest messages are).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

/// Renders a thread page, optionally with an error and the draft kept.
#[allow(clippy::too_many_arguments)]
async fn thread_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    public_id: &str,
    page: Option<i64>,
    message: String,
    draft: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let t = messages::thread(&state.db, v, public_id).await?;
    let p = messages::page(&state.db, v, &t, page).await?;
    render_status(
        &ThreadPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            moderator: t.reader == Reader::Moderator,
            pager_base: format!("/orders/{}/messages?", t.order.public_id),
            t,
            messages: p.messages,
            page: p.page,
            pages: p.pages,
            draft,
            max_chars: messages::MAX_MESSAGE_CHARS,
            max_images: messages::MAX_EVIDENCE_IMAGES,
        },
        status,
    )
}

/// `GET /orders/{public_id}/messages`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let page = p.page.trim().parse().ok();
    thread_page(
        &state,
        &headers,
        &v,
        &public_id,
        page,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The message form.
#[derive(Deserialize)]
pub struct MessageForm {
    body: String,
}

fn shown_again(e: MarketError) -> Result<(StatusCode, String), WebError> {
    match e {
        MarketError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, m)),
        MarketError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other.into()),
    }
}

/// `POST /orders/{public_id}/messages`.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<MessageForm>,
) -> Result<Response, WebError> {
    match messages::post(&state.db, &v, &public_id, &f.body).await {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}/messages#latest")).into_response()),
        Err(e) => {
            let (status, message) = shown_again(e)?;
            thread_page(
                &state, &headers, &v, &public_id, None, message, f.body, status,
            )
            .await
        }
    }
}

/// `POST /orders/{public_id}/evidence` (multipart: `csrf` first, then `image`, `caption`).
pub async fn upload_evidence(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let upload = read_upload(&state, &headers, multipart).await?;
    let caption = upload.fields.get("caption").cloned().unwrap_or_default();
    let result = match upload.image {
        Some(bytes) => messages::add_evidence(&state.db, &v, &public_id, bytes, &caption).await,
        None => Err(MarketError::Invalid(
            "Choose an image file to upload.".to_owned(),
        )),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}/messages#latest")).into_response()),
        Err(e) => {
            let (status, message) = shown_again(e)?;
            thread_page(
                &state,
                &headers,
                &v,
                &public_id,
                None,
                message,
                String::new(),
                status,
            )
            .await
        }
    }
}

/// `GET /attachments/{id}`: an evidence image, for the parties and arbiters only.
/// Never cached by anything in between, never shown inline by other sites.
pub async fn attachment(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (content_type, bytes) = messages::attachment(&state.db, &v, id).await?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
