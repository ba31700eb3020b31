//! Orders: placing (stock reserved atomically), paying through the domain API,
//! shipping, finalizing, cancelling, the timed jobs, and the private delivery note.

use std::sync::{Arc, Barrier};

use crate::common::shop::Shop;
use crate::common::visitor::between;
use souk::market::orders::{Timing, jobs};

#[test]
fn order_lifecycle_through_the_pages() {
    let shop = Shop::start();
    let mut v = shop.vendor("quinn");
    let mut buyer = shop.buyer("rosa");
    let mut other = shop.buyer("sami");
    let listing = shop.listing(&mut v, "Linen notebook", "0.2", "3");

    // A quantity that is not a number: the form comes back with the message and the note.
    let page = buyer.get(&format!("/listings/{listing}"));
    let option = between(&page.body, "name=\"delivery_option\" value=\"", "\"").unwrap();
    let r = buyer.post_form(
        &format!("/listings/{listing}/order"),
        &[
            ("quantity", "two"),
            ("delivery_option", &option),
            ("delivery_note", "Flat 4, Elm Road"),
        ],
    );
    r.expect(422)
        .expect_text("Quantity:")
        .expect_text("Flat 4, Elm Road");
    let r = buyer.post_form(
        &format!("/listings/{listing}/order"),
        &[
            ("quantity", "4"),
            ("delivery_option", &option),
            ("delivery_note", ""),
        ],
    );
    r.expect(409).expect_text("Not enough stock");
    assert_eq!(shop.i64("SELECT count(*) FROM orders"), 0);

    let order = shop.order(&mut buyer, listing, "Flat 4, Elm Road, PGP-encrypted");
    let page = buyer.get(&format!("/orders/{order}"));
    page.expect(200)
        .expect_text("Placed")
        .expect_text("0.21 XMR")
        .expect_text("Flat 4, Elm Road");
    assert!(!page.body.contains("value=\"ship\""), "buyers cannot ship");
    assert_eq!(
        shop.i64(&format!("SELECT stock FROM listings WHERE id = {listing}")),
        2
    );
    // The vendor sees the note and was told; other people cannot see the order at all.
    v.get(&format!("/orders/{order}"))
        .expect(200)
        .expect_text("Flat 4, Elm Road");
    assert!(v.get("/orders?side=sold").body.contains(&order));
    other.get(&format!("/orders/{order}")).expect(404);
    shop.browser()
        .get_raw(&format!("/orders/{order}"))
        .expect(303);
    assert_eq!(
        shop.i64("SELECT count(*) FROM notifications WHERE kind = 'order_placed'"),
        1
    );

    shop.pay(&order);
    assert_eq!(shop.order_state(&order), "paid");
    let vendor_page = v.get(&format!("/orders/{order}"));
    vendor_page.expect(200).expect_text("Mark as shipped");
    v.post_form(&format!("/orders/{order}/action"), &[("action", "ship")])
        .expect(200)
        .expect_text("Shipped");
    assert_eq!(shop.order_state(&order), "shipped");
    buyer
        .get(&format!("/orders/{order}"))
        .expect_text("Completes by itself");
    buyer
        .post_form(
            &format!("/orders/{order}/action"),
            &[("action", "finalize")],
        )
        .expect(200)
        .expect_text("Completed");
    assert_eq!(shop.order_state(&order), "completed");
    assert_eq!(
        shop.text(&format!(
            "SELECT outcome FROM orders WHERE public_id = '{order}'"
        )),
        "release"
    );
    // Acting again is refused and changes nothing.
    buyer.get(&format!("/orders/{order}"));
    buyer
        .post_form(&format!("/orders/{order}/action"), &[("action", "cancel")])
        .expect(409)
        .expect_text("cannot be cancelled now");
    let history: Vec<String> = shop.block_on(shop.db.read({
        let order = order.clone();
        move |c| {
            let mut s = c.prepare("SELECT e.to_state FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.public_id = ?1 ORDER BY e.id")?;
            let rows = s.query_map([order], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        }
    })).unwrap();
    assert_eq!(
        history,
        [
            "created",
            "awaiting_payment",
            "paid",
            "shipped",
            "completed"
        ]
    );
    // The profile counts the completed order.
    shop.browser()
        .get("/vendors/quinn")
        .expect_text("<dt>Completed orders</dt><dd>1</dd>");
}

#[test]
fn two_buyers_racing_for_the_last_unit_get_exactly_one_order() {
    let shop = Shop::start();
    let mut v = shop.vendor("tariq");
    let buyers: Vec<_> = (0..4).map(|i| shop.buyer(&format!("racer{i}"))).collect();
    let listings: Vec<i64> = (0..3)
        .map(|i| shop.listing(&mut v, &format!("Last one {i}"), "1", "1"))
        .collect();
    let mut buyers: Vec<_> = buyers
        .into_iter()
        .map(|mut b| {
            let page = b.get(&format!("/listings/{}", listings[0]));
            assert!(b.csrf().is_some());
            drop(page);
            b
        })
        .collect();
    for &listing in &listings {
        let option = shop
            .i64(&format!(
                "SELECT id FROM delivery_options WHERE listing_id = {listing}"
            ))
            .to_string();
        let gate = Arc::new(Barrier::new(buyers.len()));
        let results: Vec<u16> = std::thread::scope(|s| {
            let handles: Vec<_> = buyers
                .iter_mut()
                .map(|b| {
                    let (gate, option) = (gate.clone(), option.clone());
                    s.spawn(move || {
                        gate.wait();
                        b.post_form_raw(
                            &format!("/listings/{listing}/order"),
                            &[
                                ("quantity", "1"),
                                ("delivery_option", &option),
                                ("delivery_note", ""),
                            ],
                        )
                        .status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            results.iter().filter(|&&s| s == 303).count(),
            1,
            "{results:?}"
        );
        assert_eq!(
            results.iter().filter(|&&s| s == 409).count(),
            buyers.len() - 1,
            "{results:?}"
        );
        assert_eq!(
            shop.i64(&format!(
                "SELECT count(*) FROM orders WHERE listing_id = {listing}"
            )),
            1
        );
        assert_eq!(
            shop.i64(&format!("SELECT stock FROM listings WHERE id = {listing}")),
            0
        );
    }
}

#[test]
fn cancel_and_expiry_return_stock_and_jobs_finish_orders() {
    let shop = Shop::start();
    let mut v = shop.vendor("umar");
    let mut buyer = shop.buyer("vera");
    let mut other = shop.buyer("wim");
    let listing = shop.listing(&mut v, "Clay teapot", "0.7", "2");
    let stock = || shop.i64(&format!("SELECT stock FROM listings WHERE id = {listing}"));

    // Cancelled by the buyer before paying: the unit goes back.
    let a = shop.order(&mut buyer, listing, "");
    assert_eq!(stock(), 1);
    buyer
        .post_form(&format!("/orders/{a}/action"), &[("action", "cancel")])
        .expect(200)
        .expect_text("Cancelled");
    assert_eq!(stock(), 2);
    assert_eq!(shop.order_state(&a), "cancelled");

    // Not paid in time: the expiry job expires it and the unit goes back.
    let b = shop.order(&mut buyer, listing, "");
    let c = shop.order(&mut other, listing, "");
    assert_eq!(stock(), 0);
    shop.block_on(souk::market::orders::escrow_events::payment_requested(
        &shop.db,
        Timing::default(),
        shop.order_id(&c),
    ))
    .unwrap();
    assert_eq!(
        shop.block_on(jobs::expire_unpaid(&shop.db, Timing::default()))
            .unwrap(),
        0,
        "nothing is due yet"
    );
    shop.exec(&format!("UPDATE orders SET payment_deadline = strftime('%s','now') - 1 WHERE public_id IN ('{b}', '{c}')"));
    assert_eq!(
        shop.block_on(jobs::expire_unpaid(&shop.db, Timing::default()))
            .unwrap(),
        2
    );
    assert_eq!(
        (shop.order_state(&b), shop.order_state(&c)),
        ("expired".to_owned(), "expired".to_owned())
    );
    assert_eq!(stock(), 2);
    buyer.get(&format!("/orders/{b}")).expect_text("Expired");

    // Paid and shipped, then neither finalized nor disputed: the job completes it.
    let d = shop.order(&mut buyer, listing, "Deliver to the porch");
    shop.pay(&d);
    v.get(&format!("/orders/{d}"));
    v.post_form(&format!("/orders/{d}/action"), &[("action", "ship")])
        .expect(200);
    assert_eq!(
        shop.block_on(jobs::auto_finalize(&shop.db, Timing::default()))
            .unwrap(),
        0
    );
    shop.exec(&format!(
        "UPDATE orders SET finalize_after = strftime('%s','now') - 1 WHERE public_id = '{d}'"
    ));
    assert_eq!(
        shop.block_on(jobs::auto_finalize(&shop.db, Timing::default()))
            .unwrap(),
        1
    );
    assert_eq!(shop.order_state(&d), "completed");
    assert_eq!(stock(), 1, "sold units stay sold");

    // A vendor may call off a paid order (a refund); the unit stays sold.
    let e = shop.order(&mut other, listing, "");
    shop.pay(&e);
    v.get(&format!("/orders/{e}"));
    v.post_form(&format!("/orders/{e}/action"), &[("action", "cancel")])
        .expect(200);
    assert_eq!(
        shop.text(&format!(
            "SELECT outcome FROM orders WHERE public_id = '{e}'"
        )),
        "refund"
    );

    // The delivery note: buyer and vendor only, forgotten after the purge time.
    buyer
        .get(&format!("/orders/{d}"))
        .expect_text("Deliver to the porch");
    v.get(&format!("/orders/{d}"))
        .expect_text("Deliver to the porch");
    other.get(&format!("/orders/{d}")).expect(404);
    assert_eq!(
        shop.block_on(jobs::purge_delivery_notes(&shop.db)).unwrap(),
        0,
        "not yet"
    );
    shop.exec(&format!(
        "UPDATE orders SET note_purge_after = strftime('%s','now') - 1 WHERE public_id = '{d}'"
    ));
    assert_eq!(
        shop.block_on(jobs::purge_delivery_notes(&shop.db)).unwrap(),
        1
    );
    let page = buyer.get(&format!("/orders/{d}"));
    assert!(!page.body.contains("Deliver to the porch"));
    page.expect_text("None, or already deleted");
    assert_eq!(
        shop.i64(&format!(
            "SELECT delivery_note IS NULL FROM orders WHERE public_id = '{d}'"
        )),
        1
    );
}
