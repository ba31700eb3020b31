//! Vendor settings: the payout address where the shop's wallet pays the
//! vendor's share of completed orders, checked by the wallet (network included).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::chrome::{Chrome, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::payout_addresses;

#[derive(Template)]
#[template(path = "payout_address.html")]
struct PayoutAddressPage {
    chrome: Chrome,
    message: String,
    saved: String,
    current: Option<String>,
    input: String,
    network: String,
}

crate::page!(PayoutAddressPage);

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    message: String,
    saved: String,
    input: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let current = payout_addresses::payout_address(&state.db, &vendor).await?;
    render_status(
        &PayoutAddressPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            saved,
            current,
            input,
            network: format!("{:?}", state.config.monero.network).to_lowercase(),
        },
        status,
    )
}

/// `GET /sell/payout-address`.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    page(
        &state,
        &headers,
        &v,
        String::new(),
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The form.
#[derive(Deserialize)]
pub struct PayoutAddressForm {
    address: String,
}

/// `POST /sell/payout-address`.
pub async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<PayoutAddressForm>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    match payout_addresses::set_payout_address(&state.db, &state.escrow, &vendor, &f.address).await
    {
        Ok(unblocked) => {
            let saved = if unblocked > 0 {
                format!("Saved. {unblocked} waiting payout(s) are being paid to it now.")
            } else {
                "Saved. Completed orders are paid to this address from now on.".to_owned()
            };
            page(
                &state,
                &headers,
                &v,
                String::new(),
                saved,
                String::new(),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let status = match &e {
                MarketError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                MarketError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => return Err(e.into()),
            };
            page(
                &state,
                &headers,
                &v,
                e.to_string(),
                String::new(),
                f.address,
                status,
            )
            .await
        }
    }
}
