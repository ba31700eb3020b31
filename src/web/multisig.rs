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
    payout: Option<PayoutPanel>,
}

crate::page!(SetupPage);

/// The payout part of the page (after the order ended).
struct PayoutPanel {
    kind: &'static str,
    lines: Vec<String>,
    signer: &'static str,
    i_sign: bool,
    arbiter_info: Option<String>,
    txset: Option<String>,
    steps: Vec<String>,
    /// What the form asks for: "payout_info", "signed_set" or "" (nothing).
    ask: &'static str,
    mine_pasted: bool,
    tx_hash: Option<String>,
    attempt: i64,
    can_restart: bool,
    /// The buyer is asked for a refund address.
    ask_refund_address: bool,
}

fn payout_panel(p: multisig::payout::PayoutView, me: Participant) -> PayoutPanel {
    use super::fmt::xmr;
    let r = &p.row;
    let kind = match (r.vendor_amount > 0, r.buyer_amount > 0) {
        (true, false) => "Release to the vendor",
        (false, _) => "Refund to the buyer",
        (true, true) => "Split between vendor and buyer",
    };
    let mut lines = Vec::new();
    let addr = |a: &Option<String>| {
        a.clone()
            .unwrap_or_else(|| "(no address given yet)".to_owned())
    };
    if r.vendor_amount > 0 {
        lines.push(format!(
            "Vendor: {} XMR to {}",
            xmr(&r.vendor_amount),
            addr(&r.vendor_address)
        ));
    }
    if r.buyer_amount > 0 {
        lines.push(format!(
            "Buyer: {} XMR to {}",
            xmr(&r.buyer_amount),
            addr(&r.buyer_address)
        ));
    }
    if r.commission > 0 {
        lines.push(format!("Shop commission: {} XMR", xmr(&r.commission)));
    }
    lines.push("The network fee comes out of these amounts.".to_owned());
    let i_sign = r.signer == me;
    let mine_pasted = p.pasted.contains(&me);
    let mut steps = Vec::new();
    let mut ask = "";
    match p.state {
        EscrowState::Funded if p.arbiter_info.is_some() && !mine_pasted => {
            ask = "payout_info";
            steps = vec![
                "Open your escrow wallet for this order in monero-wallet-cli and run: refresh".to_owned(),
                "Run: export_multisig_info payout-info".to_owned(),
                "Print the file as one line of hex: xxd -p payout-info | tr -d '\\n'".to_owned(),
                "Paste that hex below. Do not export again until the payout is signed: a newer export makes this one stale.".to_owned(),
            ];
        }
        EscrowState::SpendProposed if i_sign => {
            ask = "signed_set";
            steps = vec![
                "Save the shop's multisig info below to a file: echo 'ARBITER_INFO' | xxd -r -p > arbiter-info".to_owned(),
                "In your escrow wallet run: import_multisig_info arbiter-info".to_owned(),
                "Save the transaction set below: echo 'TX_SET' | xxd -r -p > payout-tx".to_owned(),
                "Check the destinations and amounts it shows, then run: sign_multisig payout-tx".to_owned(),
                "Then either send it yourself: submit_multisig payout-tx".to_owned(),
                "or paste the signed set for the shop to send: xxd -p payout-tx | tr -d '\\n'".to_owned(),
            ];
        }
        _ => {}
    }
    PayoutPanel {
        kind,
        lines,
        signer: r.signer.as_str(),
        i_sign,
        arbiter_info: p.arbiter_info,
        txset: p.txset.filter(|_| p.state == EscrowState::SpendProposed),
        steps,
        ask,
        mine_pasted,
        tx_hash: r.tx_hash.clone(),
        attempt: r.attempt,
        ask_refund_address: me == Participant::Buyer
            && r.buyer_amount > 0
            && r.buyer_address.is_none(),
        can_restart: matches!(p.state, EscrowState::SpendProposed | EscrowState::Funded)
            && r.tx_hash.is_none(),
    }
}

/// The pasted message.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MessageForm {
    message: String,
    /// Empty for a setup message; "payout_info", "signed_set" or "restart".
    action: String,
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
    let payout = engine
        .payout_view(view.order.id)
        .await?
        .map(|p| payout_panel(p, me));
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
            payout,
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
    let id = view.order.id;
    let done = match f.action.as_str() {
        "payout_info" => engine.submit_payout_info(id, me, &f.message).await,
        "signed_set" => engine.submit_signed_set(id, &f.message).await,
        "restart" => engine.restart_payout(id).await,
        "refund_address" => engine.set_refund_address(id, &f.message).await,
        _ => engine.submit(id, me, &f.message).await.map(|_| ()),
    };
    match done {
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
