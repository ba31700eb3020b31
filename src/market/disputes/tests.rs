use super::*;
use crate::market::testing::Shop;

fn input(decision: &str, percent: &str) -> DecisionInput {
    DecisionInput {
        decision: decision.to_owned(),
        vendor_percent: percent.to_owned(),
        rationale: "Tracking shows delivery; the photos show damage.".to_owned(),
    }
}

async fn dispute_id(shop: &Shop, order_id: i64) -> i64 {
    shop.db
        .read(move |c| Ok(store::latest_for_order(c, order_id)?.unwrap().id))
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_parties_open_and_only_on_paid_or_shipped_orders() {
    let shop = Shop::new().await;
    let o = shop.paid_order().await;
    let pid = o.public_id.as_str();
    let arbiter = shop.person("arbiter", &["arbiter"]).await;
    let stranger = shop.person("stranger", &[]).await;
    let reason = "The vendor stopped answering.";
    for outsider in [&stranger, &arbiter] {
        let r = open(&shop.db, shop.timing, outsider, pid, reason).await;
        assert!(matches!(r, Err(MarketError::NotFound)), "{r:?}");
    }
    let short = open(&shop.db, shop.timing, &shop.buyer, pid, "bad").await;
    assert!(matches!(short, Err(MarketError::Invalid(_))), "{short:?}");
    assert_eq!(
        shop.order(pid).await.state,
        OrderState::Paid,
        "nothing moved"
    );

    open(&shop.db, shop.timing, &shop.buyer, pid, reason)
        .await
        .unwrap();
    let after = shop.order(pid).await;
    assert_eq!(after.state, OrderState::Disputed);
    let d = shop
        .db
        .read(move |c| store::latest_for_order(c, o.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.state.as_str(), d.reason.as_str()), ("open", reason));
    assert_eq!(d.opened_by_id, shop.buyer.account_id);
    let again = open(&shop.db, shop.timing, &shop.vendor, pid, reason).await;
    assert!(matches!(again, Err(MarketError::Conflict(_))), "{again:?}");

    // Not before payment, not after completion.
    let option = {
        let id = shop.listing_id;
        shop.db
            .read(move |c| Ok(crate::store::listings::get(c, id)?.unwrap().delivery[0].id))
            .await
            .unwrap()
    };
    let unpaid = orders::place(
        &shop.db,
        &None,
        shop.timing,
        &shop.buyer,
        &orders::OrderInput {
            listing_id: shop.listing_id,
            quantity: "1".to_owned(),
            delivery_option: option.to_string(),
            delivery_note: String::new(),
        },
    )
    .await
    .unwrap();
    let done = shop.completed_order().await;
    for pid in [unpaid.as_str(), done.public_id.as_str()] {
        let r = open(&shop.db, shop.timing, &shop.buyer, pid, reason).await;
        assert!(matches!(r, Err(MarketError::Conflict(_))), "{r:?}");
    }
}

#[tokio::test]
async fn decisions_store_their_outcome_and_tell_both_parties() {
    let shop = Shop::new().await;
    let arbiter = shop.person("arbiter", &["arbiter"]).await;
    let cap = arbiter.arbiter().unwrap();
    for (decision, percent, outcome, vendor_percent) in [
        ("release", "", "release", 100),
        ("refund", "", "refund", 0),
        ("split", "30", "split", 30),
    ] {
        let o = shop.paid_order().await;
        shop.dispute(&shop.vendor, &o.public_id).await;
        let id = dispute_id(&shop, o.id).await;
        let (b0, v0) = (
            shop.unread(shop.buyer.account_id).await,
            shop.unread(shop.vendor.account_id).await,
        );
        decide(
            &shop.db,
            shop.timing,
            &None,
            &cap,
            id,
            &input(decision, percent),
        )
        .await
        .unwrap();
        let after = shop.order(&o.public_id).await;
        assert_eq!(after.state, OrderState::Resolved);
        assert_eq!(after.outcome.as_deref(), Some(outcome));
        assert_eq!(after.outcome_vendor_percent, Some(vendor_percent));
        let d = shop
            .db
            .read(move |c| store::by_id(c, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.state, "decided");
        assert_eq!(d.decision.as_deref(), Some(outcome));
        assert_eq!(d.arbiter.as_deref(), Some("arbiter"));
        assert!(d.rationale.unwrap().starts_with("Tracking shows"));
        assert_eq!(shop.unread(shop.buyer.account_id).await, b0 + 1);
        assert_eq!(shop.unread(shop.vendor.account_id).await, v0 + 1);
    }
    let audited: i64 = shop
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit_log WHERE action = 'dispute_decided'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(audited, 3);
}

#[tokio::test]
async fn bad_decisions_and_conflicted_arbiters_change_nothing() {
    let shop = Shop::new().await;
    let arbiter = shop.person("arbiter", &["arbiter"]).await;
    let o = shop.paid_order().await;
    shop.dispute(&shop.buyer, &o.public_id).await;
    let id = dispute_id(&shop, o.id).await;
    let cap = arbiter.arbiter().unwrap();
    for bad in [
        input("split", "0"),
        input("split", "100"),
        input("split", "half"),
        input("keep", ""),
        DecisionInput {
            rationale: "short".to_owned(),
            ..input("refund", "")
        },
    ] {
        let r = decide(&shop.db, shop.timing, &None, &cap, id, &bad).await;
        assert!(matches!(r, Err(MarketError::Invalid(_))), "{bad:?}: {r:?}");
    }
    // A vendor who is also an arbiter may not decide their own order.
    let both = shop.person("vendor2", &["vendor", "arbiter"]).await;
    let own = shop.db.clone();
    let (oid, vid) = (o.id, both.account_id);
    own.write(
        move |c| Ok(c.execute("UPDATE orders SET vendor_id = ?2 WHERE id = ?1", [oid, vid])?),
    )
    .await
    .unwrap();
    let r = decide(
        &shop.db,
        shop.timing,
        &None,
        &both.arbiter().unwrap(),
        id,
        &input("release", ""),
    )
    .await;
    assert!(matches!(r, Err(MarketError::Forbidden)), "{r:?}");
    assert_eq!(shop.order(&o.public_id).await.state, OrderState::Disputed);
    assert!(matches!(
        case(&shop.db, &cap, id + 1000).await,
        Err(MarketError::NotFound)
    ));
}

#[tokio::test]
async fn two_arbiters_at_once_exactly_one_wins() {
    let shop = Shop::new().await;
    let a = shop.person("arbiter_a", &["arbiter"]).await;
    let b = shop.person("arbiter_b", &["arbiter"]).await;
    let o = shop.paid_order().await;
    shop.dispute(&shop.buyer, &o.public_id).await;
    let id = dispute_id(&shop, o.id).await;
    let (ca, cb) = (a.arbiter().unwrap(), b.arbiter().unwrap());
    let (ia, ib) = (input("refund", ""), input("release", ""));
    let (ra, rb) = tokio::join!(
        decide(&shop.db, shop.timing, &None, &ca, id, &ia),
        decide(&shop.db, shop.timing, &None, &cb, id, &ib),
    );
    assert!(ra.is_ok() != rb.is_ok(), "{ra:?} / {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    match loser {
        Err(MarketError::Conflict(m)) => assert!(m.contains("already decided by arbiter_"), "{m}"),
        other => panic!("{other:?}"),
    }
    let resolved: i64 = shop
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT count(*) FROM order_events WHERE order_id = ?1 AND to_state = 'resolved'",
                [o.id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(resolved, 1);
    let (queue_open, _) = queue(&shop.db, &ca, false, 1).await.unwrap();
    assert!(queue_open.is_empty());
    let (decided, _) = queue(&shop.db, &ca, true, 1).await.unwrap();
    assert_eq!(decided.len(), 1);
}

#[tokio::test]
async fn the_queue_is_oldest_first() {
    let shop = Shop::new().await;
    let arbiter = shop.person("arbiter", &["arbiter"]).await;
    let mut opened = Vec::new();
    for _ in 0..3 {
        let o = shop.paid_order().await;
        shop.dispute(&shop.buyer, &o.public_id).await;
        opened.push(o.public_id);
    }
    // Same second: the id breaks the tie, so the first opened still comes first.
    let (rows, more) = queue(&shop.db, &arbiter.arbiter().unwrap(), false, 1)
        .await
        .unwrap();
    let got: Vec<_> = rows.into_iter().map(|d| d.public_id).collect();
    assert_eq!(got, opened);
    assert!(!more);
}
