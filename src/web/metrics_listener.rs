//! The metrics listener: `/metrics` for Prometheus, behind an optional bearer token.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use subtle::ConstantTimeEq;

use super::AppState;

/// Refuses requests without the configured bearer token (when one is configured).
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &state.metrics_token else {
        return next.run(req).await;
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
        return next.run(req).await;
    }
    let mut res = StatusCode::UNAUTHORIZED.into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"souk metrics\""),
    );
    res
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn exposition(State(state): State<AppState>) -> Response {
    let mut body = state.metrics.render();
    state.monitor.render(&mut body);
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// `GET /`: a pointer to the exposition (the built-in dashboard will live here).
pub async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>souk metrics</title>\
</head><body><main><h1>souk metrics</h1>\
<p><a href=\"/metrics\">Prometheus exposition</a></p></main></body></html>",
    )
}
