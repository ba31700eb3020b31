//! Order pages: placing an order, the lists, one order and its actions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::catalogue::{OrderForm, show_listing};
use super::chrome::{Chrome, render, render_status};
use super::forms::Submitted;
use super::order_extras::{self, Kept, OrderExtras};
use super::session::SignedIn;
use super::{AppState, WebError};
use crate::market::MarketError;
use crate::market::auth::{Role, Viewer};
use crate::market::orders::state::OrderState;
use crate::market::orders::{self, Action, OrderInput, Relation, Side};
use crate::store::orders::{Event, OrderRow};

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    orders: Vec<OrderRow>,
    sold: bool,
    is_vendor: bool,
    page: i64,
    has_next: bool,
    pager_base: String,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    message: String,
    o: OrderRow,
    events: Vec<Event>,
    escrow_note: String,
    show_note: bool,
    actions: Vec<(&'static str, &'static str, bool)>,
    x: OrderExtras,
    payment: Option<crate::market::payouts::PaymentView>,
    /// The order has a multisig escrow: link its setup page.
    multisig: bool,
    /// The payment link as a QR code (SVG), while the buyer is to pay.
    qr_svg: String,
    is_buyer: bool,
    is_vendor: bool,
}

crate::page!(OrdersPage, OrderPage);

/// `POST /listings/{id}/order`.
pub async fn place(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(id): Path<i64>,
    Submitted(f): Submitted<OrderForm>,
) -> Result<Response, WebError> {
    let input = OrderInput {
        listing_id: id,
        quantity: f.quantity.clone(),
        delivery_option: f.delivery_option.clone(),
        delivery_note: f.delivery_note.clone(),
    };
    let timing = state.config.market.timing();
    let policy = state.config.escrow.mode_policy();
    let placed = orders::place_with(
        &state.db,
        &state.escrow,
        timing,
        &v,
        &input,
        &policy,
        &f.escrow_mode,
    )
    .await;
    match placed {
        Ok(public_id) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(MarketError::Invalid(m)) => {
            show_listing(
                &state,
                &headers,
                Some(&v),
                id,
                m,
                f,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(MarketError::Conflict(m)) => {
            show_listing(&state, &headers, Some(&v), id, m, f, StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `?side=bought|sold&page=`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListParams {
    side: String,
    page: String,
}

/// `GET /orders`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Response, WebError> {
    let sold = p.side == "sold" && v.has(Role::Vendor);
    let page: i64 = p
        .page
        .parse()
        .unwrap_or(1)
        .clamp(1, crate::market::orders::MAX_LIST_PAGE);
    let side = if sold { Side::Vendor } else { Side::Buyer };
    let mut rows = orders::mine(&state.db, &v, side, page).await?;
    let has_next = rows.len() > 25;
    rows.truncate(25);
    render(&OrdersPage {
        chrome: Chrome::new(&state, &headers, Some(&v)),
        orders: rows,
        sold,
        is_vendor: v.has(Role::Vendor),
        page,
        has_next,
        pager_base: format!("/orders?side={}&", if sold { "sold" } else { "bought" }),
    })
}

/// Renders an order page, optionally with a form's error and its input kept.
pub(super) async fn order_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &Viewer,
    public_id: &str,
    message: String,
    status: StatusCode,
    kept: Kept,
) -> Result<Response, WebError> {
    let view = orders::view(&state.db, v, public_id).await?;
    let order_id = view.order.id;
    let x = order_extras::load(state, &view, kept).await?;
    let mut actions = Vec::new();
    for (action, value, label, danger) in [
        (Action::Ship, "ship", "Mark as shipped", false),
        (
            Action::Finalize,
            "finalize",
            "I received it: release the payment",
            false,
        ),
        (Action::Cancel, "cancel", "Cancel the order", true),
    ] {
        if orders::may(&view, action) {
            actions.push((value, label, danger));
        }
    }
    let escrow_note = match &state.escrow {
        Some(e) => e.who_can_move_money().to_owned(),
        None if view.order.state.holds_stock() => {
            "Payments are not set up on this shop yet.".to_owned()
        }
        None if view.order.state.is_funded() => {
            "The payment is held in escrow until the order ends.".to_owned()
        }
        None => String::new(),
    };
    let show_note = matches!(
        view.relation,
        Relation::Buyer | Relation::Vendor | Relation::Arbiter
    );
    let payment = crate::market::payouts::payment_view(&state.db, order_id).await?;
    let qr_svg = match &payment {
        Some(p) if view.order.state == OrderState::AwaitingPayment => {
            super::two_factor::qr_svg(&p.uri)
        }
        _ => String::new(),
    };
    render_status(
        &OrderPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            is_buyer: view.relation == Relation::Buyer,
            is_vendor: view.relation == Relation::Vendor,
            o: view.order,
            events: view.events,
            escrow_note,
            show_note,
            actions,
            x,
            multisig: match &state.multisig {
                Some(m) if matches!(view.relation, Relation::Buyer | Relation::Vendor) => {
                    m.view(order_id).await.is_ok()
                }
                _ => false,
            },
            payment,
            qr_svg,
        },
        status,
    )
}

/// `GET /orders/{public_id}`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
) -> Result<Response, WebError> {
    order_page(
        &state,
        &headers,
        &v,
        &public_id,
        String::new(),
        StatusCode::OK,
        Kept::default(),
    )
    .await
}

/// The action form.
#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
}

/// `POST /orders/{public_id}/action`.
pub async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<ActionForm>,
) -> Result<Response, WebError> {
    let action = match f.action.as_str() {
        "ship" => Action::Ship,
        "finalize" => Action::Finalize,
        "cancel" => Action::Cancel,
        _ => return Err(WebError::BadRequest("Unknown action.".to_owned())),
    };
    match orders::act_and_pay_out(
        &state.db,
        &state.escrow,
        state.config.market.timing(),
        &v,
        &public_id,
        action,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(MarketError::Conflict(m)) => {
            order_page(
                &state,
                &headers,
                &v,
                &public_id,
                m,
                StatusCode::CONFLICT,
                Kept::default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The refund address form.
#[derive(Deserialize)]
pub struct RefundAddressForm {
    address: String,
}

/// `POST /orders/{public_id}/refund-address`: the buyer gives where a refund
/// goes (checked by the shop's wallet; fixed once given).
pub async fn refund_address(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Path(public_id): Path<String>,
    Submitted(f): Submitted<RefundAddressForm>,
) -> Result<Response, WebError> {
    match crate::market::payout_addresses::set_refund_address(
        &state.db,
        &state.escrow,
        &v,
        &public_id,
        &f.address,
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/orders/{public_id}")).into_response()),
        Err(e) => {
            let status = match &e {
                MarketError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                MarketError::Conflict(_) => StatusCode::CONFLICT,
                MarketError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => return Err(e.into()),
            };
            order_page(
                &state,
                &headers,
                &v,
                &public_id,
                e.to_string(),
                status,
                Kept {
                    refund_address: f.address,
                    ..Kept::default()
                },
            )
            .await
        }
    }
}
