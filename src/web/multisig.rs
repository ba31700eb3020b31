//! The multisig setup page of an order, for buyer and vendor, without
//! JavaScript: each round shows the exact monero-wallet-cli commands with the
//! other participants' messages in them, and a box to paste one's own.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render_status};
use super::forms::Submitted;
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::escrow::multisig::message::ADDRESS_ROUND;
use crate::escrow::multisig::state::{EscrowState, Participant};
use crate::escrow::multisig::{self, SetupView};
use crate::market::MarketError;
use crate::market::auth::Viewer;
use crate::market::escrow::Escrow;
use crate::market::orders;

#[derive(Template)]
#[template(path = "multisig.html")]
struct SetupPage {
    chrome: Chrome,
    message: String,
    public_id: String,
    title: String,
    who_can_move: &'static str,
    state: EscrowState,
    round: u8,
    me: &'static str,
    sent_mine: bool,
    waiting_for: Vec<&'static str>,
    steps: Vec<String>,
    others: Vec<(String, String)>,
    expect: &'static str,
    kept: String,
    address: Option<String>,
    problem: Option<String>,
}

crate::page!(SetupPage);

/// The pasted message.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MessageForm {
    message: String,
}

fn steps(round: u8, wallet: &str, others: &[(String, String)]) -> Vec<String> {
    let msgs: Vec<&str> = others.iter().map(|(_, m)| m.as_str()).collect();
    match round {
        1 => vec![
            format!("Make a new wallet for this order only (never reuse it): monero-wallet-cli --generate-new-wallet {wallet}"),
            "In that wallet, allow multisig (once): set enable-multisig-experimental 1".to_owned(),
            "Run: prepare_multisig".to_owned(),
            "Paste the text it prints (it starts with MultisigxV2R1) below.".to_owned(),
        ],
        2 => vec![
            format!("In the wallet {wallet}, run: make_multisig 2 {}", msgs.join(" ")),
            "Paste the text it prints after \"Another step is needed\" (it starts with MultisigxV2Rn) below.".to_owned(),
        ],
        3 => vec![
            format!("In the wallet {wallet}, run: exchange_multisig_keys {}", msgs.join(" ")),
            "Paste the text it prints (it starts with MultisigxV2Rn) below.".to_owned(),
        ],
        _ => vec![
            format!("In the wallet {wallet}, run: exchange_multisig_keys {}", msgs.join(" ")),
            "Then run: address".to_owned(),
            "Paste the multisig address it shows below. Do not send money to it before this page says the setup is finished.".to_owned(),
        ],
    }
}

async fn load(
    state: &AppState,
    v: &Viewer,
    public_id: &str,
) -> Result<(orders::OrderView, Participant, SetupView), WebError> {
    let engine = state.multisig.as_ref().ok_or(MarketError::NotFound)?;
    let view = orders::view(&state.db, v, public_id).await?;
    let me = multisig::participant(view.relation).ok_or(MarketError::NotFound)?;
    let setup = engine.view(view.order.id).await?;
    Ok((view, me, setup))
}

async fn show(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    public_id: &str,
    message: String,
    status: StatusCode,
    kept: String,
) -> Result<Response, WebError> {
    let (view, me, s) = load(state, v, public_id).await?;
    let round = s.round.unwrap_or(0);
    let mut others = Vec::new();
    if round >= 2 {
        for p in Participant::ALL.into_iter().filter(|p| *p != me) {
            if let Some(m) = s.message(p, round - 1) {
                let label = match p {
                    Participant::Arbiter => "the shop's arbiter wallet".to_owned(),
                    p => format!("the {}", p.as_str()),
                };
                others.push((label, m.to_owned()));
            }
        }
    }
    let waiting_for = Participant::ALL
        .into_iter()
        .filter(|p| round > 0 && s.message(*p, round).is_none())
        .map(Participant::as_str)
        .collect();
    let engine = state.multisig.as_ref().ok_or(MarketError::NotFound)?;
    render_status(
        &SetupPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            public_id: view.order.public_id.clone(),
            title: view.order.listing_title.clone(),
            who_can_move: engine.who_can_move_money(),
            state: s.state,
            round,
            me: me.as_str(),
            sent_mine: round > 0 && s.message(me, round).is_some(),
            waiting_for,
            steps: if round > 0 {
                steps(round, &s.suggested_wallet, &others)
            } else {
                Vec::new()
            },
            others,
            expect: if round == ADDRESS_ROUND {
                "Your multisig wallet's address"
            } else {
                "Your wallet's message for this round"
            },
            kept,
            // Never for an aborted or expired setup: nobody should pay to it.
            address: s.address.filter(|_| {
                s.state.round().is_none()
                    && !matches!(s.state, EscrowState::Aborted | EscrowState::Expired)
            }),
            problem: s.problem,
        },
        status,
    )
}

/// `GET /orders/{public_id}/multisig`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
) -> Result<Response, WebError> {
    show(
        &state,
        &headers,
        &v,
        &public_id,
        String::new(),
        StatusCode::OK,
        String::new(),
    )
    .await
}

/// `POST /orders/{public_id}/multisig`: a pasted message.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<MessageForm>,
) -> Result<Response, WebError> {
    let (view, me, _) = load(&state, &v, &public_id).await?;
    let engine = state.multisig.as_ref().ok_or(MarketError::NotFound)?;
    match engine.submit(view.order.id, me, &f.message).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{public_id}/multisig")).into_response()),
        Err(MarketError::Invalid(m)) => {
            show(
                &state,
                &headers,
                &v,
                &public_id,
                m,
                StatusCode::UNPROCESSABLE_ENTITY,
                f.message,
            )
            .await
        }
        Err(MarketError::Conflict(m)) => {
            show(
                &state,
                &headers,
                &v,
                &public_id,
                m,
                StatusCode::CONFLICT,
                f.message,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "multisig_vendor.html")]
struct VendorSettingPage {
    chrome: Chrome,
    message: String,
    required: bool,
}

crate::page!(VendorSettingPage);

/// The vendor's choice.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RequireForm {
    require: String,
}

/// `GET /sell/escrow`: whether the vendor takes only multisig orders.
pub async fn vendor_setting(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    if !state.config.escrow.multisig() {
        return Err(MarketError::NotFound.into());
    }
    let vendor = v.vendor()?;
    let required = crate::market::escrow::vendor_requires_multisig(&state.db, &vendor).await?;
    render_status(
        &VendorSettingPage {
            chrome: Chrome::new(&state, &headers, Some(&v)),
            message: String::new(),
            required,
        },
        StatusCode::OK,
    )
}

/// `POST /sell/escrow`.
pub async fn set_vendor_setting(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<RequireForm>,
) -> Result<Response, WebError> {
    if !state.config.escrow.multisig() {
        return Err(MarketError::NotFound.into());
    }
    let vendor = v.vendor()?;
    crate::market::escrow::set_vendor_requires_multisig(&state.db, &vendor, f.require == "yes")
        .await?;
    Ok(Redirect::to("/sell/escrow").into_response())
}
