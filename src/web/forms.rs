//! Form submissions: every state change is a POST that must carry the visitor's
//! form token (CSRF). The token is checked before the form is even parsed.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::session::{FORM_COOKIE, SESSION_COOKIE, cookie};
use super::{AppState, WebError};
use crate::market::auth;

/// A urlencoded form whose `csrf` field matched the visitor's token.
#[derive(Debug)]
pub struct Submitted<T>(pub T);

/// Compares the submitted token with the expected one in constant time.
pub fn token_matches(submitted: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(submitted.as_bytes().ct_eq(expected.as_bytes()))
}

/// The token a POST from this request must carry.
pub async fn expected_token(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<String, WebError> {
    if let Some(session) = cookie(headers, SESSION_COOKIE)
        && let Some(v) = auth::viewer_from_cookie(&state.db, &session).await?
    {
        return Ok(v.csrf_token);
    }
    Ok(cookie(headers, FORM_COOKIE).unwrap_or_default())
}

/// The `csrf` field of a urlencoded body.
pub fn submitted_token(body: &[u8]) -> String {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl<S, T> FromRequest<S> for Submitted<T>
where
    AppState: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        // A `SignedIn`/`CurrentViewer` argument before this one already looked the
        // session up; reuse it instead of a second query.
        let expected = match req.extensions().get::<super::session::Looked>() {
            Some(super::session::Looked(Some(v))) => v.csrf_token.clone(),
            _ => expected_token(&state, req.headers()).await?,
        };
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(WebError::UnsupportedForm);
        }
        let body = Bytes::from_request(req, &state)
            .await
            .map_err(|_| WebError::TooLarge)?;
        if !token_matches(&submitted_token(&body), &expected) {
            return Err(WebError::BadToken);
        }
        serde_urlencoded::from_bytes(&body)
            .map(Submitted)
            .map_err(|e| WebError::BadForm(e.to_string()))
    }
}

/// A multipart upload whose `csrf` field (sent first) matched: the file of the
/// `image` field and the other text fields.
#[derive(Debug, Default)]
pub struct Upload {
    /// The image's bytes, when one was chosen.
    pub image: Option<Vec<u8>>,
    /// Other text fields by name.
    pub fields: std::collections::HashMap<String, String>,
}

/// Reads a multipart form: the token must come first and match, or nothing else
/// is read. An empty file input counts as no image.
pub async fn read_upload(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Result<Upload, WebError> {
    let expected = expected_token(state, headers).await?;
    let mut token_ok = false;
    let mut upload = Upload::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| WebError::TooLarge)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "csrf" => {
                let t = field.text().await.map_err(|_| WebError::TooLarge)?;
                token_ok = token_matches(&t, &expected);
            }
            _ if !token_ok => {}
            "image" => {
                let bytes = field.bytes().await.map_err(|_| WebError::TooLarge)?;
                upload.image = Some(bytes.to_vec()).filter(|b| !b.is_empty());
            }
            _ => {
                let text = field.text().await.map_err(|_| WebError::TooLarge)?;
                upload.fields.insert(name, text);
            }
        }
    }
    if token_ok {
        Ok(upload)
    } else {
        Err(WebError::BadToken)
    }
}
