//! Disputes: opening, the queue, decisions, and two arbiters at once.

use std::sync::{Arc, Barrier};

use souk::market::auth::Role;

use crate::common::browser::Browser;
use crate::market::*;

#[test]
fn disputes_are_decided_release_refund_split_with_a_rationale_both_see() {
    let mut m = Market::start();
    let mut buyer = m.person("buyer", None);
    let mut stranger = m.person("stranger", None);
    let mut arbiter = m.person("arbiter", Some(Role::Arbiter));
    let mut orders = Vec::new();
    for _ in 0..3 {
        let pid = m.order(&mut buyer);
        m.pay(&pid);
        orders.push(pid);
    }
    // Not yet: the dispute form is for paid and shipped orders only.
    let unpaid = m.order(&mut buyer);
    let r = buyer.post_form(
        &format!("/orders/{unpaid}/dispute"),
        &[("reason", "I changed my mind entirely.")],
    );
    assert_eq!(r.status, 409);
    // The buyer opens two, the vendor one (after shipping).
    let r = buyer.post_form(
        &format!("/orders/{}/dispute", orders[0]),
        &[("reason", "short")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains(">short</textarea>"), "the reason is kept");
    for pid in &orders[..2] {
        let r = buyer.post_form(
            &format!("/orders/{pid}/dispute"),
            &[("reason", "Nothing arrived after three weeks.")],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    m.vendor.get(&format!("/orders/{}", orders[2]));
    m.vendor.post_form(
        &format!("/orders/{}/action", orders[2]),
        &[("action", "ship")],
    );
    let r = m.vendor.post_form(
        &format!("/orders/{}/dispute", orders[2]),
        &[(
            "reason",
            "The buyer claims it never came; tracking says delivered.",
        )],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stranger.get("/disputes").status, 403);
    assert_eq!(buyer.get("/disputes").status, 403);

    // The arbiter hears of each dispute, with a link to its case; the stranger does not.
    let told = arbiter.get("/notifications");
    for pid in &orders {
        assert!(
            told.body
                .contains(&format!("A dispute was opened on order {pid}.")),
            "{}",
            told.body
        );
    }
    assert!(told.body.contains("href=\"/disputes/"), "{}", told.body);
    assert!(
        !stranger
            .get("/notifications")
            .body
            .contains("A dispute was opened")
    );

    // The queue, oldest first, and a case with the whole history.
    let queue = arbiter.get("/disputes");
    assert_eq!(queue.status, 200);
    let positions: Vec<usize> = orders
        .iter()
        .map(|p| queue.body.find(p.as_str()).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "oldest first");
    let case_of = |pid: &str, arbiter: &mut Browser| {
        let queue = arbiter.get("/disputes");
        let at = queue.body.find(&format!("\">{pid}</a>")).unwrap();
        let link = &queue.body[..at];
        let id = &link[link.rfind("/disputes/").unwrap() + "/disputes/".len()..];
        format!("/disputes/{id}")
    };
    let case = case_of(&orders[2], &mut arbiter);
    let page = arbiter.get(&case);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Flat 3, 1 Harbour Road"),
        "the delivery note"
    );
    assert!(page.body.contains("tracking says delivered") && page.body.contains("marked shipped"));
    assert_eq!(stranger.get(&case).status, 403);

    // Decide: release, refund, split (bad splits are refused with the input kept).
    let rationale = "Both sides were heard; the photos settle it.";
    for (pid, decision, percent, outcome, vendor_percent) in [
        (&orders[0], "release", "", "release", 100),
        (&orders[1], "refund", "", "refund", 0),
        (&orders[2], "split", "30", "split", 30),
    ] {
        let case = case_of(pid, &mut arbiter);
        arbiter.get(&case);
        if decision == "split" {
            for bad in ["0", "100"] {
                let r = arbiter.post_form(
                    &format!("{case}/decide"),
                    &[
                        ("decision", "split"),
                        ("vendor_percent", bad),
                        ("rationale", rationale),
                    ],
                );
                assert_eq!(r.status, 422, "{bad}");
                assert!(r.body.contains(rationale), "the rationale is kept");
            }
        }
        let (b0, v0, s0) = (
            unread(&mut buyer),
            unread(&mut m.vendor),
            unread(&mut stranger),
        );
        arbiter.get(&case);
        let r = arbiter.post_form(
            &format!("{case}/decide"),
            &[
                ("decision", decision),
                ("vendor_percent", percent),
                ("rationale", rationale),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            m.outcome(pid),
            (
                Some(outcome.to_owned()),
                Some(vendor_percent),
                "resolved".to_owned()
            )
        );
        assert_eq!(
            (unread(&mut buyer), unread(&mut m.vendor)),
            (b0 + 1, v0 + 1)
        );
        assert_eq!(unread(&mut stranger), s0);
        for who in [&mut buyer, &mut m.vendor] {
            let page = who.get(&format!("/orders/{pid}"));
            assert!(
                page.body.contains(rationale),
                "both parties read the rationale"
            );
        }
    }
    let page = buyer.get(&format!("/orders/{}", orders[2]));
    assert!(
        page.body
            .contains("split: 30 % to the vendor, 70 % to the buyer")
    );
    let notes = buyer.get("/notifications");
    assert!(notes.body.contains("was decided"));
    let audited = m.count(
        "SELECT count(*) FROM audit_log WHERE action = 'dispute_decided' AND actor_id = ?1",
        m.account_id("arbiter"),
    );
    assert_eq!(audited, 3);
    let decided = arbiter.get("/disputes?state=decided");
    assert!(orders.iter().all(|p| decided.body.contains(p.as_str())));
    assert!(
        arbiter
            .get("/disputes")
            .body
            .contains("No dispute is waiting")
    );
    // Deciding again is a conflict, not a second payout.
    let r = arbiter.post_form(
        &format!("{case}/decide"),
        &[
            ("decision", "refund"),
            ("vendor_percent", ""),
            ("rationale", rationale),
        ],
    );
    assert_eq!(r.status, 409);
}

#[test]
fn two_arbiters_deciding_at_once_one_wins_and_the_other_sees_409() {
    let m = Market::start();
    let mut buyer = m.person("buyer", None);
    let pid = m.order(&mut buyer);
    m.pay(&pid);
    let r = buyer.post_form(
        &format!("/orders/{pid}/dispute"),
        &[("reason", "It never arrived at all.")],
    );
    assert_eq!(r.status, 200);
    let mut a = m.person("arbiter_a", Some(Role::Arbiter));
    let mut b = m.person("arbiter_b", Some(Role::Arbiter));
    let queue = a.get("/disputes");
    let id = between(&queue.body, "href=\"/disputes/", "\"");
    let case = format!("/disputes/{id}");
    a.get(&case);
    b.get(&case);
    let barrier = Arc::new(Barrier::new(2));
    let go = |mut who: Browser, decision: &'static str| {
        let (barrier, case) = (barrier.clone(), case.clone());
        std::thread::spawn(move || {
            barrier.wait();
            who.post_form_no_follow(
                &format!("{case}/decide"),
                &[
                    ("decision", decision),
                    ("vendor_percent", ""),
                    ("rationale", "Decided after reading the thread."),
                ],
            )
        })
    };
    let (ta, tb) = (go(a, "refund"), go(b, "release"));
    let (ra, rb) = (ta.join().unwrap(), tb.join().unwrap());
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409], "{} / {}", ra.body, rb.body);
    let (winner, loser) = if ra.status == 303 { (ra, rb) } else { (rb, ra) };
    assert!(
        loser.body.contains("already decided by arbiter_"),
        "{}",
        loser.body
    );
    assert!(loser.body.contains("Your decision was not recorded"));
    assert_eq!(winner.header("location"), Some(case.as_str()));
    let order_id = m.order_id(&pid);
    let resolved = m.count(
        "SELECT count(*) FROM order_events WHERE order_id = ?1 AND to_state = 'resolved'",
        order_id,
    );
    assert_eq!(resolved, 1);
    let decided = m.count(
        "SELECT count(*) FROM disputes WHERE order_id = ?1 AND state = 'decided'",
        order_id,
    );
    assert_eq!(decided, 1);
    let (outcome, _, state) = m.outcome(&pid);
    assert_eq!(state, "resolved");
    assert!(matches!(outcome.as_deref(), Some("refund" | "release")));
}
