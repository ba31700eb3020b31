//! Layers every response passes through: security headers, friendly error pages,
//! request ids, request metrics and quiet request logs.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::{ProblemDetail, error_page};

/// Headers added to every response, 404s and errors included.
pub struct SecurityHeaders {
    fixed: Vec<(HeaderName, HeaderValue)>,
}

/// Pages need only our own stylesheet, images and form targets; no script at all.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report";

/// Every powerful feature off.
const PERMISSIONS_POLICY: &str = "accelerometer=(), ambient-light-sensor=(), autoplay=(), \
battery=(), bluetooth=(), camera=(), display-capture=(), document-domain=(), encrypted-media=(), \
fullscreen=(), gamepad=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), \
local-fonts=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), \
publickey-credentials-get=(), screen-wake-lock=(), serial=(), speaker-selection=(), \
sync-xhr=(), usb=(), web-share=(), xr-spatial-tracking=()";

impl SecurityHeaders {
    /// The header set; HSTS only when `hsts_max_age_secs` > 0.
    pub fn new(hsts_max_age_secs: u64) -> Self {
        let mut fixed = vec![
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static(PERMISSIONS_POLICY),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if hsts_max_age_secs > 0 {
            let v = format!("max-age={hsts_max_age_secs}");
            fixed.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_str(&v).expect("digits are a valid header value"),
            ));
        }
        Self { fixed }
    }

    fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.fixed {
            headers.insert(name.clone(), value.clone());
        }
        // Dynamic answers are never cached; static assets set their own policy.
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
}

/// Adds the security headers.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    state.headers.apply(res.headers_mut());
    res
}

/// Turns bare error responses (rejections, 404, 408, 413 ...) into readable pages.
/// Responses that already carry HTML or JSON pass unchanged.
pub async fn problem_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("text/html") || content_type.starts_with("application/json") {
        return res;
    }
    let request_id = res
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let detail = res.extensions().get::<ProblemDetail>().map(|d| d.0.clone());
    let (parts, body) = res.into_parts();
    // A short plain-text rejection from an extractor says what was wrong.
    let detail = match detail {
        Some(d) => Some(d),
        None if status.is_client_error() && content_type.starts_with("text/plain") => {
            axum::body::to_bytes(body, 512)
                .await
                .ok()
                .and_then(|b| String::from_utf8(b.to_vec()).ok())
                .filter(|s| !s.trim().is_empty())
        }
        None => None,
    };
    let mut page = error_page(
        &state.config.shop.name,
        status,
        detail.as_deref(),
        &request_id,
    );
    // Keep what the original answer said (Allow, WWW-Authenticate, X-Request-Id ...)
    // except what describes the replaced body; headers with several values (two
    // WWW-Authenticate challenges) keep all of them.
    let kept = |name: &header::HeaderName| {
        name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::TRANSFER_ENCODING
    };
    for name in parts.headers.keys().filter(|n| kept(n)) {
        page.headers_mut().remove(name);
    }
    for (name, value) in parts.headers.iter().filter(|(n, _)| kept(n)) {
        page.headers_mut().append(name.clone(), value.clone());
    }
    page
}

/// The id of one request: in the response header, the error page and the log line.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Random per process, so ids from two runs do not collide in the logs.
static BOOT_PREFIX: LazyLock<u32> = LazyLock::new(|| {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish() as u32
});

impl RequestId {
    fn next() -> Self {
        let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(format!("{:08x}-{n:x}", *BOOT_PREFIX))
    }
}

/// The matched route template, copied into the response for [`observe`].
#[derive(Clone)]
struct RouteTemplate(Arc<str>);

/// Route-level layer: remembers which route template matched.
pub async fn remember_route(matched: MatchedPath, req: Request, next: Next) -> Response {
    let template: Arc<str> = Arc::from(matched.as_str());
    let mut res = next.run(req).await;
    res.extensions_mut().insert(RouteTemplate(template));
    res
}

/// Requests slower than this are logged at info level even when they succeed.
const SLOW_REQUEST: Duration = Duration::from_secs(1);

/// Request id, metrics and one log line per request: method, route template,
/// status, duration, id. Never the client's address, the raw path or the query.
pub async fn observe(mut req: Request<Body>, next: Next) -> Response {
    let id = RequestId::next();
    req.headers_mut().remove("x-request-id");
    let method = method_label(req.method());
    let started = Instant::now();
    let in_flight = metrics::gauge!("souk_http_requests_in_flight");
    in_flight.increment(1.0);
    let mut res = next.run(req).await;
    in_flight.decrement(1.0);
    let elapsed = started.elapsed();
    let route: Arc<str> = res
        .extensions()
        .get::<RouteTemplate>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| Arc::from("unmatched"));
    let status = res.status().as_u16();
    metrics::counter!(
        "souk_http_requests_total",
        "method" => method,
        "route" => route.to_string(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "souk_http_request_duration_seconds",
        "method" => method,
        "route" => route.to_string()
    )
    .record(elapsed.as_secs_f64());
    let ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(request_id = %id.0, method, route = %route, status, ms, "request failed");
    } else if elapsed >= SLOW_REQUEST {
        tracing::info!(request_id = %id.0, method, route = %route, status, ms, "slow request");
    } else {
        tracing::debug!(request_id = %id.0, method, route = %route, status, ms, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        res.headers_mut().insert("x-request-id", v);
    }
    res.extensions_mut().insert(id);
    res
}

/// Methods as a bounded label set.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
