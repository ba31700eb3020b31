//! Browsing: the front page, categories, search, listing pages, vendor profiles and
//! listing images. None of these needs a session.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render};
use super::session::CurrentViewer;
use super::{AppState, WebError};
use crate::market::catalogue::{self, Page as CardPage, Query as CatalogueQuery, Sort};
use crate::market::listings::{self, Category, ListingRow};
use crate::market::reviews::{self, ReviewPage};
use crate::market::text::render_markdown;

/// Query string of catalogue pages (all text: bad values fall back, never 400).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    q: String,
    category: String,
    vendor: String,
    min: String,
    max: String,
    sort: String,
    page: String,
}

impl Params {
    fn page(&self) -> i64 {
        self.page.trim().parse().unwrap_or(1)
    }

    fn query(&self) -> CatalogueQuery {
        CatalogueQuery {
            q: self.q.clone(),
            category: self.category.clone(),
            vendor: self.vendor.clone(),
            min_xmr: self.min.clone(),
            max_xmr: self.max.clone(),
            sort: self.sort.clone(),
            page: self.page(),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    categories: Vec<Category>,
    page: CardPage,
}

#[derive(Template)]
#[template(path = "catalogue.html")]
struct CataloguePage {
    chrome: Chrome,
    heading: String,
    categories: Vec<Category>,
    query: CatalogueQuery,
    sorts: Vec<(&'static str, &'static str)>,
    sort_value: &'static str,
    page: CardPage,
    pager_base: String,
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingPage {
    chrome: Chrome,
    l: ListingRow,
    description_html: String,
    is_owner: bool,
    signed_in: bool,
    vendor_pgp: Option<String>,
    message: String,
    form: OrderForm,
    reviews: ReviewPage,
    escrow_choice: bool,
}

/// What the order form shows again after an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct OrderForm {
    /// Units.
    pub quantity: String,
    /// Delivery option id.
    pub delivery_option: String,
    /// Note.
    pub delivery_note: String,
    /// "managed" or "multisig" when the shop offers both.
    pub escrow_mode: String,
}

#[derive(Template)]
#[template(path = "vendor.html")]
struct VendorPage {
    chrome: Chrome,
    p: catalogue::VendorProfile,
    page: CardPage,
    pager_base: String,
    reviews: ReviewPage,
}

crate::page!(Home, CataloguePage, ListingPage, VendorPage);

/// `GET /`: categories and the newest listings.
pub async fn home(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Query(p): Query<Params>,
) -> Result<Response, WebError> {
    let viewer = viewer.map(|v| v.0);
    let query = CatalogueQuery {
        page: p.page(),
        ..CatalogueQuery::default()
    };
    let page = catalogue::search(&state.db, &query).await?;
    let categories = super::page_cache::categories(&state).await?;
    render(&Home {
        chrome: Chrome::browsing(&state, viewer.as_ref()),
        categories: categories.to_vec(),
        page,
    })
}

fn sort_value(sort: Sort) -> &'static str {
    match sort {
        Sort::Newest => "newest",
        Sort::PriceLow => "price_low",
        Sort::PriceHigh => "price_high",
        Sort::Rating => "rating",
        Sort::Relevance => "relevance",
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn catalogue_page(
    state: &AppState,
    viewer: Option<CurrentViewer>,
    query: CatalogueQuery,
    heading: String,
) -> Result<Response, WebError> {
    let page = catalogue::search(&state.db, &query).await?;
    let categories = super::page_cache::categories(state).await?;
    let mut sorts = vec![
        ("newest", "Newest"),
        ("price_low", "Price, low to high"),
        ("price_high", "Price, high to low"),
        ("rating", "Most reviewed"),
    ];
    if !query.q.trim().is_empty() {
        sorts.insert(0, ("relevance", "Best match"));
    }
    let pager_base = format!(
        "/search?q={}&category={}&vendor={}&min={}&max={}&sort={}&",
        encode(&query.q),
        encode(&query.category),
        encode(&query.vendor),
        encode(&query.min_xmr),
        encode(&query.max_xmr),
        sort_value(page.sort)
    );
    render(&CataloguePage {
        chrome: Chrome::browsing(state, viewer.map(|v| v.0).as_ref()),
        heading,
        categories: categories.to_vec(),
        sort_value: sort_value(page.sort),
        query,
        sorts,
        page,
        pager_base,
    })
}

/// `GET /search`: full-text search with filters.
pub async fn search(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Query(p): Query<Params>,
) -> Result<Response, WebError> {
    let q = p.query();
    let heading = if q.q.trim().is_empty() {
        "All listings".to_owned()
    } else {
        format!("Results for “{}”", q.q.trim())
    };
    catalogue_page(&state, viewer, q, heading).await
}

/// `GET /c/{slug}`: one category.
pub async fn category(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Path(slug): Path<String>,
    Query(p): Query<Params>,
) -> Result<Response, WebError> {
    let categories = super::page_cache::categories(&state).await?;
    let k = categories
        .iter()
        .find(|k| k.slug == slug)
        .ok_or(WebError::NotFound)?;
    let mut q = p.query();
    q.category = k.slug.clone();
    catalogue_page(&state, viewer, q, k.name.clone()).await
}

/// `GET /listings/{id}`.
pub async fn listing(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<CurrentViewer>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    show_listing(
        &state,
        &headers,
        viewer.map(|v| v.0).as_ref(),
        id,
        String::new(),
        OrderForm::default(),
        StatusCode::OK,
    )
    .await
}

/// Renders a listing page, optionally with an order-form error and the input kept.
pub async fn show_listing(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Option<&crate::market::auth::Viewer>,
    id: i64,
    message: String,
    form: OrderForm,
    status: StatusCode,
) -> Result<Response, WebError> {
    let l = listings::view(&state.db, viewer, id).await?;
    let is_owner = viewer.is_some_and(|v| v.account_id == l.vendor_id);
    let reviews = reviews::listing_page(&state.db, &l, 1).await?;
    let vendor_pgp = catalogue::vendor_profile(&state.db, &l.vendor_name)
        .await
        .ok()
        .and_then(|p| p.pgp_key);
    let form = OrderForm {
        quantity: if form.quantity.is_empty() {
            "1".to_owned()
        } else {
            form.quantity
        },
        ..form
    };
    // Only signed-in visitors get a form (and so a token); anonymous ones get a link.
    let chrome = match viewer {
        Some(v) => Chrome::new(state, headers, Some(v)),
        None => Chrome::browsing(state, None),
    };
    super::chrome::render_status(
        &ListingPage {
            chrome,
            description_html: render_markdown(&l.description),
            is_owner,
            signed_in: viewer.is_some(),
            vendor_pgp,
            message,
            form,
            reviews,
            l,
            escrow_choice: state.config.escrow.mode == "both",
        },
        status,
    )
}

/// `GET /vendors/{name}`.
pub async fn vendor(
    State(state): State<AppState>,
    viewer: Option<CurrentViewer>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Result<Response, WebError> {
    let profile = catalogue::vendor_profile(&state.db, &name).await?;
    let query = CatalogueQuery {
        vendor: profile.username.clone(),
        page: p.page(),
        ..CatalogueQuery::default()
    };
    let page = catalogue::search(&state.db, &query).await?;
    let reviews = reviews::vendor_page(&state.db, &profile, 1).await?;
    render(&VendorPage {
        chrome: Chrome::browsing(&state, viewer.map(|v| v.0).as_ref()),
        pager_base: format!("/vendors/{}?", encode(&profile.username)),
        p: profile,
        page,
        reviews,
    })
}

/// `GET /images/{id}/{size}`: `thumb` or `full`, with an ETag and a long cache life.
pub async fn image(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<CurrentViewer>,
    Path((id, size)): Path<(i64, String)>,
) -> Result<Response, WebError> {
    let thumb = match size.as_str() {
        "thumb" => true,
        "full" => false,
        _ => return Err(WebError::NotFound),
    };
    let (ct, bytes, etag) =
        listings::image(&state.db, viewer.map(|v| v.0).as_ref(), id, thumb).await?;
    let etag = format!("\"{etag}{}\"", if thumb { "t" } else { "f" });
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ct) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(res)
}
