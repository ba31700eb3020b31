//! Payout intents: when an order ends, how the money its subaddress received is
//! divided, written in the same transaction as the state change that fixed the
//! outcome. The engine pays intents later; the unique key and the allotment of
//! each incoming transfer to one intent make every piconero move exactly once.

use rusqlite::Connection;

use super::MarketResult;
use crate::store::escrow::{self as store, Shares};

/// Divides `received` piconero of an order that was due `due`: what exceeds the
/// price goes back to the buyer; of the rest the vendor gets `vendor_percent`
/// minus the commission (basis points of the vendor's part), the buyer the remainder.
/// Integer arithmetic; rounding favours the buyer, and the shares add up to `received`.
pub fn split(received: i64, due: i64, vendor_percent: u8, commission_bps: i64) -> Shares {
    let received = received.max(0);
    let base = received.min(due.max(0));
    let excess = received - base;
    let vendor_gross = (i128::from(base) * i128::from(vendor_percent.min(100)) / 100) as i64;
    let commission =
        (i128::from(vendor_gross) * i128::from(commission_bps.clamp(0, 10_000)) / 10_000) as i64;
    Shares {
        vendor: vendor_gross - commission,
        buyer: base - vendor_gross + excess,
        commission,
    }
}

/// The settlement intent's key: one per order, whoever asks and however often.
pub fn settle_key(order_id: i64) -> String {
    format!("order:{order_id}:settle")
}

/// The key of the refund of payments that arrived after the order ended, named
/// by the first of those transfers (its incoming_transfers id).
pub fn late_key(order_id: i64, first_free_transfer_id: i64) -> String {
    format!("order:{order_id}:late:{first_free_transfer_id}")
}

/// Called inside the transaction that ends an order (completed, resolved,
/// cancelled, expired): writes the settlement intent for what the order's
/// subaddress received, if it has one (managed escrow) and received anything
/// confirmed. `vendor_percent` is 0 for orders that end without a sale.
pub(crate) fn settle_in_transaction(
    c: &Connection,
    order_id: i64,
    vendor_percent: u8,
    now: i64,
) -> MarketResult<()> {
    let Some(req) = store::payment_request(c, order_id)? else {
        return Ok(());
    };
    let (_, _, unallotted) = store::received(c, order_id, req.confirmations)?;
    if unallotted == 0 {
        return Ok(());
    }
    let shares = split(
        unallotted,
        req.amount_due,
        vendor_percent,
        req.commission_bps,
    );
    store::insert_intent(
        c,
        order_id,
        "settle",
        &settle_key(order_id),
        shares,
        req.confirmations,
        now,
    )?;
    Ok(())
}

/// For an order that has ended: refunds, under a key of their own, transfers
/// that became `confirmations` deep after its settlement (late or extra
/// payments). Returns whether an intent was written.
pub fn refund_late_payments(
    c: &Connection,
    order_id: i64,
    now: i64,
) -> Result<bool, crate::store::StoreError> {
    let Some(req) = store::payment_request(c, order_id)? else {
        return Ok(false);
    };
    let Some(first) = store::first_free_transfer(c, order_id, req.confirmations)? else {
        return Ok(false);
    };
    let (_, _, free) = store::received(c, order_id, req.confirmations)?;
    let shares = Shares {
        vendor: 0,
        buyer: free,
        commission: 0,
    };
    Ok(store::insert_intent(
        c,
        order_id,
        "late",
        &late_key(order_id, first),
        shares,
        req.confirmations,
        now,
    )?
    .is_some())
}

/// What the order page shows about the payment.
#[derive(Debug, Clone)]
pub struct PaymentView {
    /// The order's subaddress.
    pub address: String,
    /// Piconero due.
    pub amount_due: i64,
    /// Seen so far (pool included).
    pub seen: i64,
    /// Of that, deep enough to count.
    pub confirmed: i64,
    /// Still to pay (amount due minus seen, at least 0).
    pub missing: i64,
    /// Confirmations that count.
    pub confirmations: i64,
    /// `monero:ADDRESS?tx_amount=X` with the exact amount.
    pub uri: String,
    /// The buyer's refund address, once given (fixed from then on).
    pub refund_address: Option<String>,
    /// The buyer is asked for a refund address.
    pub refund_wanted: bool,
    /// A payout waits for the vendor's payout address.
    pub waits_for_vendor: bool,
    /// The order's payouts, oldest first.
    pub payouts: Vec<PayoutLine>,
}

/// One payout as the order page shows it.
#[derive(Debug, Clone)]
pub struct PayoutLine {
    /// To the vendor, piconero.
    pub vendor: i64,
    /// To the buyer, piconero.
    pub buyer: i64,
    /// Commission, piconero.
    pub commission: i64,
    /// Where it is, in words.
    pub status: &'static str,
    /// Transaction hash once built.
    pub tx_hash: Option<String>,
    /// Network fee once built, piconero.
    pub fee: Option<i64>,
}

impl PayoutLine {
    fn of(i: &store::Intent) -> Self {
        let status = match (i.state.as_str(), i.missing_address()) {
            (_, Some(store::MissingAddress::Vendor)) => "waiting for the vendor's payout address",
            (_, Some(store::MissingAddress::Buyer)) => "waiting for the buyer's refund address",
            ("pending", None) => "being prepared",
            ("signed", _) => "being sent",
            ("relayed", _) => "sent, waiting for confirmations",
            ("confirmed", _) => "confirmed",
            _ => "failed: the operator was told",
        };
        Self {
            vendor: i.shares.vendor,
            buyer: i.shares.buyer,
            commission: i.shares.commission,
            status,
            tx_hash: i.tx_hash.clone(),
            fee: i.fee,
        }
    }
}

/// The payment details of an order, if it has a payment request (the caller
/// already decided the viewer may see the order).
pub async fn payment_view(
    db: &crate::store::Db,
    order_id: i64,
) -> MarketResult<Option<PaymentView>> {
    Ok(db
        .read(move |c| {
            let Some(req) = store::payment_request(c, order_id)? else {
                return Ok(None);
            };
            let (seen, confirmed, _) = store::received(c, order_id, req.confirmations)?;
            let uri = format!(
                "monero:{}?tx_amount={}",
                req.address,
                super::Piconero::from_i64(req.amount_due)
            );
            let intents = store::intents_of(c, order_id)?;
            Ok(Some(PaymentView {
                address: req.address,
                amount_due: req.amount_due,
                seen,
                confirmed,
                missing: (req.amount_due - seen).max(0),
                confirmations: req.confirmations,
                uri,
                refund_address: store::refund_address(c, order_id)?,
                refund_wanted: super::payout_addresses::refund_address_wanted(c, order_id)?,
                waits_for_vendor: intents
                    .iter()
                    .any(|i| i.missing_address() == Some(store::MissingAddress::Vendor)),
                payouts: intents.iter().map(PayoutLine::of).collect(),
            }))
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::orders::{self, Action};
    use crate::market::testing::Shop;
    use crate::store::escrow::{PaymentRequest, SeenTransfer};

    #[test]
    fn shares_add_up_and_follow_the_outcome() {
        let xmr = 1_000_000_000_000;
        // Release, 2.5 % commission, exact payment.
        assert_eq!(
            split(2 * xmr, 2 * xmr, 100, 250),
            Shares {
                vendor: 2 * xmr - 50_000_000_000,
                buyer: 0,
                commission: 50_000_000_000
            }
        );
        // Over-payment: the excess goes back to the buyer.
        assert_eq!(split(3 * xmr, 2 * xmr, 100, 0).buyer, xmr);
        // Refund and split.
        assert_eq!(split(xmr, xmr, 0, 250).buyer, xmr);
        let s = split(xmr, xmr, 30, 1000);
        assert_eq!(
            (s.vendor, s.commission, s.buyer),
            (270_000_000_000, 30_000_000_000, 700_000_000_000)
        );
        // Odd piconero: nothing lost to rounding.
        for (r, d, p, c) in [(7, 7, 33, 333), (10, 9, 50, 1), (1, 3, 100, 10_000)] {
            assert_eq!(split(r, d, p, c).total(), r);
        }
    }

    async fn with_payment(shop: &Shop, order_id: i64, received: &[(i64, i64)]) {
        let seen: Vec<_> = received.to_vec();
        shop.db
            .write(move |c| {
                store::insert_payment_request(
                    c,
                    &PaymentRequest {
                        order_id,
                        subaddress_index: order_id,
                        address: format!("sub{order_id}"),
                        amount_due: 1,
                        confirmations: 10,
                        commission_bps: 500,
                        created_at: 1,
                    },
                )?;
                for (i, (amount, confirmations)) in seen.iter().enumerate() {
                    store::upsert_incoming(
                        c,
                        &SeenTransfer {
                            order_id,
                            txid: format!("tx{order_id}-{i}"),
                            subaddress_index: order_id,
                            amount: *amount,
                            height: 1,
                            confirmations: *confirmations,
                        },
                        1,
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }

    async fn intents(shop: &Shop, order_id: i64) -> Vec<store::Intent> {
        shop.db
            .read(move |c| store::intents_of(c, order_id))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn finalizing_writes_one_settlement_intent_with_the_state_change() {
        let shop = Shop::new().await;
        let o = shop.paid_order().await;
        // Paid the price (total) in two confirmed parts, plus one still in the pool.
        let half = o.total / 2;
        with_payment(&shop, o.id, &[(half, 12), (o.total - half, 10), (5, 0)]).await;
        shop.db
            .write({
                let (id, total) = (o.id, o.total);
                move |c| {
                    c.execute(
                        "UPDATE payment_requests SET amount_due_piconero = ?2 WHERE order_id = ?1",
                        [id, total],
                    )?;
                    Ok(())
                }
            })
            .await
            .unwrap();
        orders::act(
            &shop.db,
            shop.timing,
            &shop.vendor,
            &o.public_id,
            Action::Ship,
        )
        .await
        .unwrap();
        assert!(
            intents(&shop, o.id).await.is_empty(),
            "nothing is paid before the end"
        );
        // Ten racing finalizations: one state change, one intent.
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (db, timing, buyer, pid) = (
                shop.db.clone(),
                shop.timing,
                shop.buyer.clone(),
                o.public_id.clone(),
            );
            tasks.push(tokio::spawn(async move {
                orders::act(&db, timing, &buyer, &pid, Action::Finalize)
                    .await
                    .is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        assert_eq!(ok, 1);
        let all = intents(&shop, o.id).await;
        assert_eq!(all.len(), 1, "{all:?}");
        let i = &all[0];
        assert_eq!((i.kind.as_str(), i.state.as_str()), ("settle", "pending"));
        assert_eq!(i.key, settle_key(o.id));
        let commission = o.total * 500 / 10_000;
        assert_eq!(
            i.shares,
            Shares {
                vendor: o.total - commission,
                buyer: 0,
                commission
            }
        );
        // The pooled 5 piconero is not allotted: it is refunded later, once confirmed.
        let (seen, deep, free) = shop
            .db
            .read({
                let id = o.id;
                move |c| store::received(c, id, 10)
            })
            .await
            .unwrap();
        assert_eq!((seen, deep, free), (o.total + 5, o.total, 0));
    }

    #[tokio::test]
    async fn a_payout_waits_for_the_vendor_address_and_keeps_the_one_it_got() {
        let shop = Shop::new().await;
        let o = shop.paid_order().await;
        with_payment(&shop, o.id, &[(o.total, 10)]).await;
        let (id, total) = (o.id, o.total);
        shop.db
            .write(move |c| {
                c.execute(
                    "UPDATE payment_requests SET amount_due_piconero = ?2 WHERE order_id = ?1",
                    [id, total],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        for (who, action) in [
            (&shop.vendor, Action::Ship),
            (&shop.buyer, Action::Finalize),
        ] {
            orders::act(&shop.db, shop.timing, who, &o.public_id, action)
                .await
                .unwrap();
        }
        let open = || {
            let db = shop.db.clone();
            async move { db.read(|c| store::open_intents(c, 10)).await.unwrap() }
        };
        let waiting = intents(&shop, o.id).await;
        assert_eq!(
            waiting[0].missing_address(),
            Some(store::MissingAddress::Vendor)
        );
        assert!(open().await.is_empty(), "not retried without an address");
        let vendor_id = shop.vendor.account_id;
        let filled = shop
            .db
            .write(move |c| store::set_payout_address(c, vendor_id, "first"))
            .await
            .unwrap();
        assert_eq!(filled, 1);
        assert_eq!(open().await.len(), 1);
        // A later change does not redirect the payout already decided.
        shop.db
            .write(move |c| store::set_payout_address(c, vendor_id, "second"))
            .await
            .unwrap();
        let i = &intents(&shop, o.id).await[0];
        assert_eq!(i.vendor_address.as_deref(), Some("first"));
        assert_eq!(i.missing_address(), None);
        // The refund address is fixed once given.
        let set = |a: &'static str| {
            let db = shop.db.clone();
            async move {
                db.write(move |c| store::set_refund_address(c, id, a))
                    .await
                    .unwrap()
            }
        };
        assert!(set("refund-1").await);
        assert!(!set("refund-2").await);
        let kept = shop
            .db
            .read(move |c| store::refund_address(c, id))
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some("refund-1"));
    }

    /// An order awaiting payment whose window closed a minute ago.
    async fn overdue(shop: &Shop) -> crate::store::orders::OrderRow {
        use crate::market::orders::{OrderInput, Timing};
        let id = shop.listing_id;
        let option = shop
            .db
            .read(move |c| Ok(crate::store::listings::get(c, id)?.unwrap().delivery[0].id))
            .await
            .unwrap();
        let input = OrderInput {
            listing_id: shop.listing_id,
            quantity: "1".to_owned(),
            delivery_option: option.to_string(),
            delivery_note: String::new(),
        };
        let pid = orders::place(&shop.db, &None, shop.timing, &shop.buyer, &input)
            .await
            .unwrap();
        let o = shop.order(&pid).await;
        let closed = Timing {
            payment_window_secs: -60,
            ..shop.timing
        };
        orders::escrow_events::payment_requested(&shop.db, closed, o.id)
            .await
            .unwrap();
        shop.order(&pid).await
    }

    async fn due_exactly(shop: &Shop, id: i64, total: i64) {
        shop.db
            .write(move |c| {
                c.execute(
                    "UPDATE payment_requests SET amount_due_piconero = ?2 WHERE order_id = ?1",
                    [id, total],
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_order_paid_in_full_by_its_deadline_waits_for_confirmations_within_the_grace() {
        use crate::market::orders::jobs::expire_unpaid;
        use crate::market::orders::state::OrderState;
        let shop = Shop::new().await;
        // Paid in full, still in the pool.
        let full = overdue(&shop).await;
        with_payment(&shop, full.id, &[(full.total, 0)]).await;
        due_exactly(&shop, full.id, full.total).await;
        // Under-paid: 0.4 of it confirmed.
        let short = overdue(&shop).await;
        with_payment(&shop, short.id, &[(short.total * 4 / 10, 10)]).await;
        due_exactly(&shop, short.id, short.total).await;
        // Nothing paid.
        let none = overdue(&shop).await;
        due_exactly(&shop, none.id, none.total).await;

        assert_eq!(expire_unpaid(&shop.db, shop.timing).await.unwrap(), 2);
        assert_eq!(
            shop.order(&full.public_id).await.state,
            OrderState::AwaitingPayment
        );
        assert_eq!(
            shop.order(&short.public_id).await.state,
            OrderState::Expired
        );
        assert_eq!(shop.order(&none.public_id).await.state, OrderState::Expired);
        // The under-paid order's confirmed money is refundable.
        let i = intents(&shop, short.id).await;
        assert_eq!(i.len(), 1);
        assert_eq!(
            i[0].shares,
            Shares {
                vendor: 0,
                buyer: short.total * 4 / 10,
                commission: 0
            }
        );
        // Past the grace it expires too, even paid in full.
        let short_grace = crate::market::orders::Timing {
            payment_grace_secs: 30,
            ..shop.timing
        };
        assert_eq!(expire_unpaid(&shop.db, short_grace).await.unwrap(), 1);
        assert_eq!(shop.order(&full.public_id).await.state, OrderState::Expired);
    }

    #[tokio::test]
    async fn orders_without_a_payment_request_or_money_write_no_intent() {
        let shop = Shop::new().await;
        let done = shop.completed_order().await;
        assert!(intents(&shop, done.id).await.is_empty());
        let o = shop.paid_order().await;
        with_payment(&shop, o.id, &[(7, 3)]).await;
        orders::act(
            &shop.db,
            shop.timing,
            &shop.vendor,
            &o.public_id,
            Action::Cancel,
        )
        .await
        .unwrap();
        assert!(
            intents(&shop, o.id).await.is_empty(),
            "3 confirmations are not money yet"
        );
    }
}
