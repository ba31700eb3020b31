//! Two-factor sign-in pages: the secret as text and as a QR code drawn on the
//! server, turning it on with a code, turning it off with the password.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::account::form_error;
use super::chrome::{Chrome, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::{accounts, auth};

#[derive(Template)]
#[template(path = "twofactor.html")]
struct TwoFactorPage {
    chrome: Chrome,
    message: String,
    enabled: bool,
    secret: String,
    qr_svg: String,
}

crate::page!(TwoFactorPage);

/// A QR code of `text` as an inline SVG drawn on the server (no script, no image request).
pub(super) fn qr_svg(uri: &str) -> String {
    qrcode::QrCode::new(uri.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

async fn twofactor_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &auth::Viewer,
    message: String,
    secret: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let enabled = accounts::totp_enabled(&state.db, v).await?;
    let secret = secret.unwrap_or_else(accounts::new_totp_secret);
    let uri = accounts::totp_uri(&state.config.shop.name, &v.username, &secret);
    render_status(
        &TwoFactorPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            enabled,
            qr_svg: if enabled { String::new() } else { qr_svg(&uri) },
            secret,
        },
        status,
    )
}

/// `GET /account/2fa`.
pub async fn twofactor(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    twofactor_page(&state, &headers, &v, String::new(), None, StatusCode::OK).await
}

/// The enable form.
#[derive(Deserialize)]
pub struct EnableForm {
    secret: String,
    code: String,
}

/// `POST /account/2fa/enable`.
pub async fn enable_2fa(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<EnableForm>,
) -> Result<Response, WebError> {
    let secret_ok = data_encoding::BASE32_NOPAD
        .decode(f.secret.as_bytes())
        .is_ok_and(|b| b.len() == 20);
    if !secret_ok {
        return Err(WebError::BadRequest(
            "The two-factor secret was changed: reload the page.".to_owned(),
        ));
    }
    match accounts::enable_totp(&state.db, &v, &f.secret, &f.code).await {
        Ok(()) => {
            twofactor_page(
                &state,
                &headers,
                &v,
                "Two-factor sign-in is on.".to_owned(),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (status, message, _) = form_error(e)?;
            twofactor_page(&state, &headers, &v, message, Some(f.secret), status).await
        }
    }
}

/// The disable form.
#[derive(Deserialize)]
pub struct DisableForm {
    password: String,
}

/// `POST /account/2fa/disable`.
pub async fn disable_2fa(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<DisableForm>,
) -> Result<Response, WebError> {
    match accounts::disable_totp(&state.db, &v, &f.password).await {
        Ok(()) => {
            twofactor_page(
                &state,
                &headers,
                &v,
                "Two-factor sign-in is off.".to_owned(),
                None,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let (status, message, _) = form_error(e)?;
            twofactor_page(&state, &headers, &v, message, None, status).await
        }
    }
}
