//! Rendered catalogue pages for anonymous visitors, kept in memory. Everyone who
//! is not signed in sees the same front page, category pages and vendor
//! profiles, so the bytes are rendered once and reused until anything is written
//! through this process's database handle, and for at most a second (writes by
//! other processes, such as `souk admin category`, show within that second).
//! Searches are not cached: each one runs its query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::session::SESSION_COOKIE;
use super::{AppState, WebError};
use crate::market::listings::Category;

/// How long a page may be reused at most.
const TTL: Duration = Duration::from_secs(1);
/// Pages kept at most (the cache is emptied when full).
const MAX_PAGES: usize = 512;
/// Longer addresses (odd query strings) are not cached.
const MAX_KEY: usize = 300;
/// Larger pages are not cached.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

struct Entry {
    generation: u64,
    stored: Instant,
    body: Bytes,
}

/// The cache.
#[derive(Default)]
pub struct PageCache {
    pages: Mutex<HashMap<String, Entry>>,
    categories: Mutex<Option<CachedCategories>>,
}

/// The category list, the generation it was read at, and when.
type CachedCategories = (u64, Instant, Arc<Vec<Category>>);

/// The category list every catalogue page shows, kept like the pages are (saves a
/// database round trip on every search).
pub async fn categories(state: &AppState) -> Result<Arc<Vec<Category>>, WebError> {
    let generation = state.db.generation();
    {
        let cached = state
            .page_cache
            .categories
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((g, at, list)) = cached.as_ref()
            && *g == generation
            && at.elapsed() < TTL
        {
            return Ok(list.clone());
        }
    }
    let list = Arc::new(crate::market::listings::categories(&state.db).await?);
    *state
        .page_cache
        .categories
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((generation, Instant::now(), list.clone()));
    Ok(list)
}

impl PageCache {
    fn get(&self, key: &str, generation: u64) -> Option<Bytes> {
        let pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages
            .get(key)
            .filter(|e| e.generation == generation && e.stored.elapsed() < TTL)
            .map(|e| e.body.clone())
    }

    fn put(&self, key: String, generation: u64, body: Bytes) {
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= MAX_PAGES {
            pages.clear();
        }
        pages.insert(
            key,
            Entry {
                generation,
                stored: Instant::now(),
                body,
            },
        );
    }
}

/// Whether this request may be answered from (and fill) the cache.
fn cacheable(req: &Request) -> Option<String> {
    let path = req.uri().path();
    let catalogue = path == "/" || path.starts_with("/c/") || path.starts_with("/vendors/");
    let signed_in = super::session::cookie(req.headers(), SESSION_COOKIE).is_some();
    let key = req.uri().to_string();
    (req.method() == Method::GET && catalogue && !signed_in && key.len() <= MAX_KEY).then_some(key)
}

fn html(body: Bytes) -> Response {
    let mut res = (StatusCode::OK, Body::from(body)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// Middleware: serves anonymous catalogue pages from the cache, or renders and keeps them.
pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = cacheable(&req) else {
        return next.run(req).await;
    };
    // Taken before rendering: a write during rendering makes the entry stale at once.
    let generation = state.db.generation();
    if let Some(body) = state.page_cache.get(&key, generation) {
        return html(body);
    }
    let res = next.run(req).await;
    let plain_page = res.status() == StatusCode::OK
        && !res.headers().contains_key(header::SET_COOKIE)
        && res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !plain_page {
        return res;
    }
    match axum::body::to_bytes(res.into_body(), MAX_PAGE_BYTES).await {
        Ok(body) => {
            state.page_cache.put(key, generation, body.clone());
            html(body)
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
