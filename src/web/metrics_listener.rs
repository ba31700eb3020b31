//! The metrics listener: `/metrics` for Prometheus, behind an optional bearer token.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use subtle::ConstantTimeEq;

use super::AppState;

/// Refuses requests without the configured token (when one is configured).
/// Prometheus sends it as `Authorization: Bearer TOKEN`; a browser cannot, so the
/// UI also accepts HTTP Basic with the token as password (any user name): the
/// browser asks for it once, no script needed.
pub async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &state.metrics_token else {
        return next.run(req).await;
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let presented = match authorization.split_once(' ') {
        Some((scheme, v)) if scheme.eq_ignore_ascii_case("bearer") => v.trim().to_owned(),
        Some((scheme, v)) if scheme.eq_ignore_ascii_case("basic") => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(_, p)| p.to_owned()))
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    if bool::from(presented.as_bytes().ct_eq(token.expose().as_bytes())) {
        return next.run(req).await;
    }
    let mut res = StatusCode::UNAUTHORIZED.into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"souk metrics\""),
    );
    res.headers_mut().append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"souk metrics\", charset=\"UTF-8\""),
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
