//! Cookies and who is asking. Anonymous visitors carry no cookie at all until they
//! open a page with a form; signed-in visitors carry one session cookie.

use axum::extract::{FromRef, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::{AppState, WebError};
use crate::market::auth::{self, Viewer};

/// The session cookie.
pub const SESSION_COOKIE: &str = "souk_session";
/// The anonymous form cookie (CSRF token for signed-out forms, throttle key).
pub const FORM_COOKIE: &str = "souk_form";

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path /, Secure when configured.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_secs: Option<i64>) -> HeaderValue {
    let mut c = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure);
    if let Some(age) = max_age_secs {
        c = c.max_age(cookie::time::Duration::seconds(age));
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are header-safe")
}

/// The signed-in viewer, if any (`Option<CurrentViewer>` in handlers).
#[derive(Debug, Clone)]
pub struct CurrentViewer(pub Viewer);

/// What the session lookup left in the request, so it runs once per request.
#[derive(Clone)]
pub(super) struct Looked(pub(super) Option<Viewer>);

async fn lookup(parts: &mut Parts, state: &AppState) -> Result<Option<Viewer>, WebError> {
    if let Some(Looked(v)) = parts.extensions.get::<Looked>() {
        return Ok(v.clone());
    }
    let viewer = match cookie(&parts.headers, SESSION_COOKIE) {
        Some(token) => auth::viewer_from_cookie(&state.db, &token).await?,
        None => None,
    };
    parts.extensions.insert(Looked(viewer.clone()));
    Ok(viewer)
}

impl<S> OptionalFromRequestParts<S> for CurrentViewer
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(lookup(parts, &state).await?.map(CurrentViewer))
    }
}

/// A handler argument that requires signing in: GET requests are sent to the
/// sign-in page (and back afterwards), other methods get a 401 page.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Viewer);

impl<S> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        match lookup(parts, &state).await {
            Ok(Some(v)) => Ok(SignedIn(v)),
            Ok(None) if parts.method == axum::http::Method::GET => {
                // The query too, so a link like /report?kind=listing&id=3 survives signing in.
                let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let safe = next.starts_with('/') && !next.starts_with("//");
                let target = if safe {
                    format!("/login?next={}", form_urlencoded_path(next))
                } else {
                    "/login".to_owned()
                };
                Err(Redirect::to(&target).into_response())
            }
            Ok(None) => Err(WebError::SignInRequired.into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

fn form_urlencoded_path(p: &str) -> String {
    p.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The form token for this visitor: the session's, or the anonymous form cookie's
/// (created when missing). The second value is a `Set-Cookie` to send, if any.
pub fn form_token(
    headers: &HeaderMap,
    viewer: Option<&Viewer>,
    secure: bool,
) -> (String, Option<HeaderValue>) {
    if let Some(v) = viewer {
        return (v.csrf_token.clone(), None);
    }
    match cookie(headers, FORM_COOKIE) {
        Some(t) => (t, None),
        None => {
            let t = crate::market::random_token();
            let set = set_cookie(FORM_COOKIE, &t, secure, None);
            (t, Some(set))
        }
    }
}
