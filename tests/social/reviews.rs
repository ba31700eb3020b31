//! Reviews: only the buyer of a completed order, once; the vendor answers once.

use crate::market::*;

#[test]
fn reviews_follow_the_rules_and_feed_the_ratings() {
    let mut m = Market::start();
    let mut buyer = m.person("buyer", None);
    let mut stranger = m.person("stranger", None);
    let pid = m.order(&mut buyer);
    m.pay(&pid);
    let review = format!("/orders/{pid}/review");
    let r = buyer.post_form(&review, &[("rating", "5"), ("body", "too early")]);
    assert_eq!(r.status, 409);
    assert!(r.body.contains("once it is completed"), "{}", r.body);
    m.vendor.get(&format!("/orders/{pid}"));
    assert_eq!(
        m.vendor
            .post_form(&format!("/orders/{pid}/action"), &[("action", "ship")])
            .status,
        200
    );
    let page = buyer.get(&format!("/orders/{pid}"));
    assert!(!page.body.contains("Review this order"));
    buyer.post_form(&format!("/orders/{pid}/action"), &[("action", "finalize")]);
    let page = buyer.get(&format!("/orders/{pid}"));
    assert!(page.body.contains("Review this order"), "{}", page.body);

    let r = m
        .vendor
        .post_form(&review, &[("rating", "5"), ("body", "mine")]);
    assert_eq!(r.status, 403);
    assert_eq!(
        stranger
            .post_form(&review, &[("rating", "1"), ("body", "x")])
            .status,
        404
    );
    let r = buyer.post_form(&review, &[("rating", "9"), ("body", "kept text")]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("kept text"), "the input is kept");
    let r = buyer.post_form(&review, &[("rating", "4"), ("body", "Good <b>pot</b>.")]);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("★ 4 of 5") && r.body.contains(&escaped("Good <b>pot</b>.")));
    let r = buyer.post_form(&review, &[("rating", "1"), ("body", "again")]);
    assert_eq!(r.status, 409);
    let figures = "SELECT rating_sum * 1000 + rating_count FROM listings WHERE id = ?1";
    assert_eq!(m.count(figures, m.listing_id), 4001);

    // The vendor answers once; the buyer cannot answer.
    let reply = format!("/orders/{pid}/review/reply");
    assert_eq!(buyer.post_form(&reply, &[("reply", "me too")]).status, 403);
    m.vendor.get(&format!("/orders/{pid}"));
    let r = m.vendor.post_form(&reply, &[("reply", "Thank you!")]);
    assert_eq!(r.status, 200);
    assert_eq!(
        m.vendor.post_form(&reply, &[("reply", "Again")]).status,
        409
    );

    // Shown on the listing page and the vendor profile, reviewer name shortened.
    let listing = stranger.get(&format!("/listings/{}", m.listing_id));
    assert!(
        listing.body.contains("★ 4.0 from 1 reviews"),
        "{}",
        listing.body
    );
    assert!(
        listing.body.contains(&escaped("Good <b>pot</b>.")) && listing.body.contains("Thank you!")
    );
    assert!(listing.body.contains("b…r") && !listing.body.contains(">buyer<"));
    let profile = stranger.get("/vendors/vendor");
    assert!(
        profile.body.contains("★ 4.0 from 1 reviews"),
        "{}",
        profile.body
    );
    assert!(profile.body.contains(&escaped("Good <b>pot</b>.")));

    // A second review moves the figures; the review pages page.
    let pid2 = m.order(&mut buyer);
    m.pay(&pid2);
    m.vendor.get(&format!("/orders/{pid2}"));
    m.vendor
        .post_form(&format!("/orders/{pid2}/action"), &[("action", "ship")]);
    buyer.get(&format!("/orders/{pid2}"));
    buyer.post_form(&format!("/orders/{pid2}/action"), &[("action", "finalize")]);
    let r = buyer.post_form(
        &format!("/orders/{pid2}/review"),
        &[("rating", "2"), ("body", "Chipped.")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(m.count(figures, m.listing_id), 6002);
    let all = stranger.get(&format!("/listings/{}/reviews?page=1", m.listing_id));
    assert_eq!(all.status, 200);
    let (chipped, good) = (
        all.body.find("Chipped.").unwrap(),
        all.body.find(&escaped("Good <b")).unwrap(),
    );
    assert!(chipped < good, "newest first");
    assert!(
        stranger
            .get("/vendors/vendor/reviews")
            .body
            .contains("★★☆☆☆")
    );
    assert!(stranger.get("/listings/999999/reviews").status == 404);
}
