//! Vendors' pages: their listings, the listing form, images.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render, render_status};
use super::forms::{Submitted, read_upload};
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::listings::{self, Category, ListingInput, VendorAction};
use crate::store::listings as store;

#[derive(Template)]
#[template(path = "sell.html")]
struct SellPage {
    chrome: Chrome,
    listings: Vec<(i64, String, i64, i64, String)>,
    page: i64,
    has_next: bool,
    /// The shop offers multisig: link the vendor's escrow setting.
    multisig: bool,
}

/// The listing form's fields as typed (kept on errors).
#[derive(Debug, Clone, Default)]
pub struct ListingFormData {
    title: String,
    category: String,
    price: String,
    stock: String,
    description: String,
    delivery: Vec<(String, String)>,
}

impl ListingFormData {
    fn from_map(m: &HashMap<String, String>) -> Self {
        let get = |k: &str| m.get(k).cloned().unwrap_or_default();
        Self {
            title: get("title"),
            category: get("category"),
            price: get("price"),
            stock: get("stock"),
            description: get("description"),
            delivery: (0..listings::MAX_DELIVERY_OPTIONS)
                .map(|i| {
                    (
                        get(&format!("delivery_label_{i}")),
                        get(&format!("delivery_price_{i}")),
                    )
                })
                .collect(),
        }
    }

    fn from_listing(l: &listings::ListingRow) -> Self {
        Self {
            title: l.title.clone(),
            category: l.category_slug.clone(),
            price: super::fmt::xmr(&l.price),
            stock: l.stock.to_string(),
            description: l.description.clone(),
            delivery: l
                .delivery
                .iter()
                .map(|d| (d.label.clone(), super::fmt::xmr(&d.price)))
                .collect(),
        }
    }

    fn input(&self) -> ListingInput {
        ListingInput {
            category: self.category.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            price_xmr: self.price.clone(),
            stock: self.stock.clone(),
            delivery: self.delivery.clone(),
        }
    }

    /// Label of delivery option `i` (templates).
    pub fn delivery_label(&self, i: &usize) -> &str {
        self.delivery.get(*i).map(|d| d.0.as_str()).unwrap_or("")
    }

    /// Price of delivery option `i` (templates).
    pub fn delivery_price(&self, i: &usize) -> &str {
        self.delivery.get(*i).map(|d| d.1.as_str()).unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "listing_form.html")]
struct ListingFormPage {
    chrome: Chrome,
    message: String,
    listing_id: i64,
    form: ListingFormData,
    categories: Vec<Category>,
    images: Vec<i64>,
    max_images: i64,
}

crate::page!(SellPage, ListingFormPage);

/// `?page=`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageParam {
    page: String,
}

/// `GET /sell`.
pub async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<PageParam>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let page: i64 = p
        .page
        .parse()
        .unwrap_or(1)
        .clamp(1, crate::market::orders::MAX_LIST_PAGE);
    let id = vendor.account_id();
    let mut rows = state
        .db
        .read(move |c| store::by_vendor(c, id, 26, (page - 1) * 25))
        .await?;
    let has_next = rows.len() > 25;
    rows.truncate(25);
    render(&SellPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        listings: rows,
        page,
        has_next,
        multisig: state.config.escrow.multisig(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    listing_id: i64,
    form: ListingFormData,
    images: Vec<i64>,
    message: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    render_status(
        &ListingFormPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            listing_id,
            form,
            categories: listings::categories(&state.db).await?,
            images,
            max_images: listings::MAX_IMAGES,
        },
        status,
    )
}

fn invalid(e: MarketError) -> Result<(StatusCode, String), WebError> {
    match e {
        MarketError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, m)),
        MarketError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        other => Err(other.into()),
    }
}

/// `GET /sell/new`.
pub async fn new_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    v.vendor()?;
    let form = ListingFormData {
        stock: "1".to_owned(),
        ..ListingFormData::default()
    };
    form_page(
        &state,
        &headers,
        &v,
        0,
        form,
        Vec::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /sell/new`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(m): Submitted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let form = ListingFormData::from_map(&m);
    match listings::create(&state.db, &vendor, &form.input()).await {
        Ok(id) => Ok(Redirect::to(&format!("/sell/{id}/edit")).into_response()),
        Err(e) => {
            let (status, message) = invalid(e)?;
            form_page(&state, &headers, &v, 0, form, Vec::new(), message, status).await
        }
    }
}

/// `GET /sell/{id}/edit`.
pub async fn edit_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let l = listings::for_edit(&state.db, &vendor, id).await?;
    let message = match (&l.state[..], &l.moderation_reason) {
        ("hidden" | "removed", Some(r)) => format!(
            "A moderator {} this listing: {r}",
            if l.state == "hidden" {
                "hid"
            } else {
                "removed"
            }
        ),
        _ => String::new(),
    };
    form_page(
        &state,
        &headers,
        &v,
        id,
        ListingFormData::from_listing(&l),
        l.images.clone(),
        message,
        StatusCode::OK,
    )
    .await
}

/// `POST /sell/{id}/edit`.
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(m): Submitted<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let form = ListingFormData::from_map(&m);
    match listings::update(&state.db, &vendor, id, &form.input()).await {
        Ok(()) => Ok(Redirect::to(&format!("/listings/{id}")).into_response()),
        Err(e) => {
            let (status, message) = invalid(e)?;
            let images = listings::for_edit(&state.db, &vendor, id).await?.images;
            form_page(&state, &headers, &v, id, form, images, message, status).await
        }
    }
}

/// The state form.
#[derive(Deserialize)]
pub struct StateForm {
    action: String,
}

/// `POST /sell/{id}/state`: pause, resume or delete.
pub async fn set_state(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<StateForm>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let action = match f.action.as_str() {
        "pause" => VendorAction::Pause,
        "resume" => VendorAction::Resume,
        "delete" => VendorAction::Delete,
        _ => return Err(WebError::BadRequest("Unknown action.".to_owned())),
    };
    listings::vendor_action(&state.db, &vendor, id, action).await?;
    Ok(Redirect::to("/sell").into_response())
}

/// `POST /sell/{id}/images` (multipart: `csrf` first, then `image`).
pub async fn upload_image(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let upload = read_upload(&state, &headers, multipart).await?;
    let Some(bytes) = upload.image else {
        return Err(WebError::Market(MarketError::Invalid(
            "Choose an image file to upload.".to_owned(),
        )));
    };
    match listings::add_image(&state.db, &vendor, id, bytes).await {
        Ok(_) => Ok(Redirect::to(&format!("/sell/{id}/edit")).into_response()),
        Err(e) => {
            let (status, message) = invalid(e)?;
            let l = listings::for_edit(&state.db, &vendor, id).await?;
            form_page(
                &state,
                &headers,
                &v,
                id,
                ListingFormData::from_listing(&l),
                l.images.clone(),
                message,
                status,
            )
            .await
        }
    }
}

/// `POST /sell/images/{id}/delete`.
pub async fn delete_image(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Path(image_id): Path<i64>,
    Submitted(_): Submitted<super::account::Empty>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    listings::delete_image(&state.db, &vendor, image_id).await?;
    Ok(Redirect::to("/sell").into_response())
}
