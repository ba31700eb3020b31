//! Order threads: who reads, who writes, evidence images, limits and pages.

use souk::market::auth::Role;

use crate::market::*;

#[test]
fn threads_are_for_the_parties_then_arbiters_and_moderators_of_reported_orders() {
    let mut m = Market::start();
    let key =
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQINBGVendorKey\n-----END PGP PUBLIC KEY BLOCK-----";
    let r = m.vendor.post_form("/account/pgp", &[("pgp", key)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut buyer = m.person("buyer", None);
    let mut stranger = m.person("stranger", None);
    let mut arbiter = m.person("arbiter", Some(Role::Arbiter));
    let mut moderator = m.person("moderator", Some(Role::Moderator));
    let pid = m.order(&mut buyer);
    m.pay(&pid);
    let thread = format!("/orders/{pid}/messages");

    // The buyer sees the vendor's key next to the form and writes; text is escaped.
    let page = buyer.get(&thread);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("has published a PGP key"),
        "{}",
        page.body
    );
    assert!(page.body.contains("mQINBGVendorKey"));
    let vendor_unread = unread(&mut m.vendor);
    let r = buyer.post_form(&thread, &[("body", "<script>alert(1)</script> when?")]);
    assert_eq!((r.status, buyer.path.as_str()), (200, thread.as_str()));
    assert!(
        r.body.contains(&escaped("<script>alert(1)</script> when?")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<script>alert(1)"));
    let page = m.vendor.get(&thread);
    assert!(page.body.contains("when?") && page.body.contains("(buyer)"));
    assert!(
        !page.body.contains("has published a PGP key"),
        "only the buyer is asked"
    );
    assert_eq!(unread(&mut m.vendor), vendor_unread + 1);
    let notes = m.vendor.get("/notifications");
    assert!(notes.body.contains("buyer wrote about"), "{}", notes.body);
    assert!(notes.body.contains(&format!("href=\"{thread}\"")));

    // Limits, form token, and everyone else.
    let r = buyer.post_form(&thread, &[("body", "   ")]);
    assert_eq!(r.status, 422);
    let long = "x".repeat(5001);
    let r = buyer.post_form(&thread, &[("body", &long)]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("too long"), "{}", r.body);
    assert!(r.body.contains(&long), "the draft is kept");
    let r = buyer.post_raw_form(&thread, &[("body", "no token")]);
    assert_eq!(r.status, 403);
    for who in [&mut stranger, &mut arbiter, &mut moderator] {
        assert_eq!(who.get(&thread).status, 404);
        assert_eq!(who.post_form(&thread, &[("body", "hi")]).status, 404);
    }

    // A report opens the thread to moderators, read only.
    let order_id = m.order_id(&pid);
    m.rt.block_on(m.db.write(move |c| {
        c.execute(
            "INSERT INTO reports (reporter_id, target_kind, target_id, reason, created_at)
             SELECT id, 'order', ?1, 'suspicious', 0 FROM accounts WHERE username = 'buyer'",
            [order_id],
        )?;
        Ok(())
    }))
    .unwrap();
    let page = moderator.get(&thread);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("because the order was reported"));
    assert!(page.body.contains("when?"));
    assert!(!page.body.contains("Write a message"));
    assert!(!page.body.contains("Flat 3"), "no delivery note in threads");
    assert_eq!(moderator.post_form(&thread, &[("body", "hi")]).status, 403);
    assert_eq!(moderator.get(&format!("/orders/{pid}")).status, 404);
    assert_eq!(stranger.get(&thread).status, 404);

    // A dispute brings arbiters in; evidence images go to parties and arbiters only.
    let r = buyer.post_form(
        &format!("/orders/{pid}/dispute"),
        &[("reason", "The teapot arrived broken.")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Waiting for an arbiter"));
    let page = arbiter.get(&thread);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Write a message"));
    let (b0, v0) = (unread(&mut buyer), unread(&mut m.vendor));
    let r = arbiter.post_form(&thread, &[("body", "Please both send photos.")]);
    assert_eq!(r.status, 200);
    assert_eq!(
        (unread(&mut buyer), unread(&mut m.vendor)),
        (b0 + 1, v0 + 1)
    );
    buyer.get(&thread);
    let r = buyer.post_multipart(
        &format!("/orders/{pid}/evidence"),
        &[("caption", "the pieces")],
        &[("image", "broken.png", "image/png", &png())],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let image = between(&r.body, "src=\"/attachments/", "\"");
    let image = format!("/attachments/{image}");
    assert!(r.body.contains("the pieces"));
    for who in [&mut buyer, &mut m.vendor, &mut arbiter] {
        let img = who.get(&image);
        assert_eq!(img.status, 200);
        assert_eq!(img.header("content-type"), Some("image/jpeg"));
    }
    for who in [&mut stranger, &mut moderator] {
        assert_eq!(who.get(&image).status, 404);
    }
    assert!(
        moderator
            .get(&thread)
            .body
            .contains("shown only to the buyer")
    );
    buyer.get(&thread);
    let r = buyer.post_multipart(
        &format!("/orders/{pid}/evidence"),
        &[("caption", "")],
        &[("image", "x.png", "image/png", b"not an image")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("not a JPEG, PNG or WebP"), "{}", r.body);

    // Pagination: oldest first, the newest page by default.
    let author = m.account_id("vendor");
    m.rt.block_on(m.db.write(move |c| {
        for i in 0..60 {
            souk::store::messages::insert(c, order_id, author, &format!("filler {i:02}"), None, 1)?;
        }
        Ok(())
    }))
    .unwrap();
    let last = buyer.get(&thread);
    assert!(last.body.contains("Page 2 of 2"), "{}", last.body);
    assert!(last.body.contains("filler 59") && !last.body.contains("when?"));
    let first = buyer.get(&format!("{thread}?page=1"));
    assert!(first.body.contains("when?") && !first.body.contains("filler 59"));
    assert!(first.body.contains("rel=\"next\""));
}
