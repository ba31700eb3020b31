//! What every page's frame shows: the shop's name, the navigation for the viewer's
//! roles, the unread count, and the form token for the sign-out button.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::session::form_token;
use super::{AppState, WebError};
use crate::market::auth::{Role, Viewer};

/// The page frame's data.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Shop name.
    pub shop_name: String,
    /// Signed-in viewer, if any.
    pub viewer: Option<ChromeViewer>,
    /// Form token for this visitor.
    pub csrf: String,
    /// A `Set-Cookie` for the anonymous form cookie, when it was just created.
    pub set_cookie: Option<HeaderValue>,
}

/// The viewer as the frame shows them.
#[derive(Debug, Clone)]
pub struct ChromeViewer {
    /// Name.
    pub username: String,
    /// Unread notifications.
    pub unread: i64,
    /// Vendor.
    pub vendor: bool,
    /// Moderator (or admin).
    pub moderator: bool,
    /// Arbiter.
    pub arbiter: bool,
    /// Admin.
    pub admin: bool,
}

impl Chrome {
    /// For pages shown to someone not known (error pages).
    pub fn anonymous(shop_name: &str) -> Self {
        Self {
            shop_name: shop_name.to_owned(),
            viewer: None,
            csrf: String::new(),
            set_cookie: None,
        }
    }

    /// For a page shown to `viewer` (or an anonymous visitor).
    pub fn new(state: &AppState, headers: &HeaderMap, viewer: Option<&Viewer>) -> Self {
        let (csrf, set_cookie) = form_token(headers, viewer, state.config.market.cookie_secure);
        Self {
            shop_name: state.config.shop.name.clone(),
            viewer: viewer.map(|v| ChromeViewer {
                username: v.username.clone(),
                unread: v.unread,
                vendor: v.has(Role::Vendor),
                moderator: v.has(Role::Moderator) || v.has(Role::Admin),
                arbiter: v.has(Role::Arbiter),
                admin: v.has(Role::Admin),
            }),
            csrf,
            set_cookie,
        }
    }

    /// For pages without forms: no form cookie is created for anonymous visitors.
    pub fn browsing(state: &AppState, viewer: Option<&Viewer>) -> Self {
        let mut c = Self::anonymous(&state.config.shop.name);
        if let Some(v) = viewer {
            c = Self::new(state, &HeaderMap::new(), Some(v));
        }
        c
    }
}

/// Something with a [`Chrome`] that renders to HTML.
pub trait Page: askama::Template {
    /// The page's frame.
    fn chrome(&self) -> &Chrome;
}

/// Renders a page with status 200, setting the form cookie when needed.
pub fn render<P: Page>(page: &P) -> Result<Response, WebError> {
    render_status(page, axum::http::StatusCode::OK)
}

/// Renders a page with a given status (422 for a form shown again with its errors).
pub fn render_status<P: Page>(
    page: &P,
    status: axum::http::StatusCode,
) -> Result<Response, WebError> {
    let html = page.render()?;
    let mut res = (status, Html(html)).into_response();
    if let Some(c) = &page.chrome().set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    Ok(res)
}

/// Implements [`Page`] for template structs with a `chrome` field.
#[macro_export]
macro_rules! page {
    ($($t:ty),+ $(,)?) => {
        $(impl $crate::web::chrome::Page for $t {
            fn chrome(&self) -> &$crate::web::chrome::Chrome {
                &self.chrome
            }
        })+
    };
}
