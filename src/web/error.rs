//! The one place where errors become responses: a readable page for the person,
//! the cause in the log for the operator.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::market::MarketError;
use crate::store::StoreError;

/// Errors a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No such page or resource.
    #[error("not found")]
    NotFound,
    /// The request cannot be understood; the text is shown to the user.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A form arrived without this visitor's form token.
    #[error("form token missing or wrong")]
    BadToken,
    /// A form whose fields could not be read; the parser's words are shown.
    #[error("malformed form: {0}")]
    BadForm(String),
    /// A POST that was not a form.
    #[error("not a form submission")]
    UnsupportedForm,
    /// Body over the limit.
    #[error("request body too large")]
    TooLarge,
    /// Must sign in first.
    #[error("sign-in required")]
    SignInRequired,
    /// A domain rule said no.
    #[error(transparent)]
    Market(#[from] MarketError),
    /// Storage failed; the cause is logged, never shown.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template failed to render; logged, never shown.
    #[error("template: {0}")]
    Render(#[from] askama::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let (status, message) = match &self {
            WebError::NotFound | WebError::Market(MarketError::NotFound) => (StatusCode::NOT_FOUND, None),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, Some(m.clone())),
            WebError::BadToken => (
                StatusCode::FORBIDDEN,
                Some("This form has expired or did not come from this shop. Go back, reload the page and send it again.".to_owned()),
            ),
            WebError::BadForm(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(format!("Some fields of the form could not be read ({m}). Go back and check them.")),
            ),
            WebError::UnsupportedForm => (StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
            WebError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, None),
            WebError::SignInRequired | WebError::Market(MarketError::SignInRequired) => (
                StatusCode::UNAUTHORIZED,
                Some("Sign in first, then try again.".to_owned()),
            ),
            WebError::Market(MarketError::Forbidden) => (StatusCode::FORBIDDEN, None),
            WebError::Market(MarketError::Invalid(m)) => (StatusCode::UNPROCESSABLE_ENTITY, Some(m.clone())),
            WebError::Market(MarketError::Conflict(m)) => (StatusCode::CONFLICT, Some(m.clone())),
            WebError::Market(MarketError::Throttled { retry_after_secs }) => {
                retry_after = Some(*retry_after_secs);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(format!("Too many attempts. Try again in {retry_after_secs} s.")),
                )
            }
            WebError::Market(MarketError::Unavailable(m)) => (StatusCode::SERVICE_UNAVAILABLE, Some(m.clone())),
            WebError::Store(_) | WebError::Render(_) | WebError::Market(MarketError::Store(_)) => {
                tracing::error!(error = %self, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        let mut res = status.into_response();
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(m) = message {
            res.extensions_mut().insert(ProblemDetail(m));
        }
        res
    }
}

/// A specific message for the error page, attached to an error response.
#[derive(Clone, Debug)]
pub struct ProblemDetail(pub String);

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: super::chrome::Chrome,
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Title and default explanation for an error status.
fn wording(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "That request could not be read",
            "Something in the request was malformed. Go back, check what you entered and try again.",
        ),
        401 => ("Sign-in needed", "This page needs credentials."),
        403 => ("Not allowed", "You do not have permission to do that."),
        404 => (
            "Page not found",
            "There is nothing at this address. It may have been removed, or the link is wrong.",
        ),
        405 => (
            "Not possible here",
            "This address does not accept that kind of request.",
        ),
        408 => (
            "That took too long",
            "The request did not finish in time. Please try again.",
        ),
        409 => (
            "Changed in the meantime",
            "Someone changed this at the same time. Reload the page and try again.",
        ),
        413 => (
            "Too large",
            "What you sent is larger than this shop accepts. Send something smaller.",
        ),
        415 => (
            "Unsupported format",
            "The request was sent in a format this page does not accept.",
        ),
        422 => (
            "Please check your input",
            "Some of what you entered is not valid.",
        ),
        429 => (
            "Slow down",
            "Too many attempts. Wait a moment and try again.",
        ),
        503 => (
            "Temporarily unavailable",
            "The shop cannot do this right now. Nothing was lost; please try again in a few minutes.",
        ),
        _ if status.is_server_error() => (
            "Something went wrong",
            "The shop could not finish this request. Nothing you entered was lost; please try again. If it keeps happening, tell the operator the reference below.",
        ),
        _ => ("That did not work", "The request could not be completed."),
    }
}

/// Renders the error page for `status`; falls back to plain text if rendering fails.
pub fn error_page(
    shop_name: &str,
    status: StatusCode,
    detail: Option<&str>,
    request_id: &str,
) -> Response {
    let (title, default_message) = wording(status);
    let page = ErrorPage {
        chrome: super::chrome::Chrome::anonymous(shop_name),
        status: status.as_u16(),
        title,
        message: detail.unwrap_or(default_message),
        request_id,
    };
    let (body, content_type) = match page.render() {
        Ok(html) => (html, "text/html; charset=utf-8"),
        Err(e) => {
            tracing::error!(error = %e, "error page failed to render");
            (format!("{title}\n"), "text/plain; charset=utf-8")
        }
    };
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
