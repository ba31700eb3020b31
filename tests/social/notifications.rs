//! Notifications: only for the people involved; mark all read.

use crate::common::browser::Browser;
use crate::market::*;

#[test]
fn notifications_reach_only_the_people_involved() {
    let mut m = Market::start();
    let mut buyer = m.person("buyer", None);
    let mut stranger = m.person("stranger", None);
    let pid = m.order(&mut buyer);
    m.pay(&pid);
    let mine = buyer.get("/notifications");
    assert!(mine.body.contains("Your payment for"), "{}", mine.body);
    assert!(mine.body.contains("A fine teapot"));
    assert!(
        !mine.body.contains("please ship it"),
        "the vendor's notice stays the vendor's"
    );
    let theirs = m.vendor.get("/notifications");
    assert!(
        theirs.body.contains("was paid: please ship it."),
        "{}",
        theirs.body
    );
    assert!(theirs.body.contains("New order for"));
    assert!(!theirs.body.contains("Your payment for"));
    m.vendor
        .post_form(&format!("/orders/{pid}/action"), &[("action", "ship")]);
    assert!(buyer.get("/notifications").body.contains("was shipped"));
    let nothing = stranger.get("/notifications");
    assert!(nothing.body.contains("Nothing yet"), "{}", nothing.body);
    assert_eq!(unread(&mut stranger), 0);

    // Mark all read: the buyer's count goes to 0, the vendor's stays.
    let vendor_unread = unread(&mut m.vendor);
    assert!(vendor_unread > 0 && unread(&mut buyer) > 0);
    buyer.get("/notifications");
    assert_eq!(buyer.post_raw_form("/notifications/read", &[]).status, 403);
    let r = buyer.post_form("/notifications/read", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(unread(&mut buyer), 0);
    assert_eq!(unread(&mut m.vendor), vendor_unread);
    assert!(
        !buyer
            .get("/notifications")
            .body
            .contains("class=\"unread\"")
    );
    let anonymous = Browser::new(m.souk.shop).get_no_follow("/notifications");
    assert_eq!(anonymous.status, 303);

    // Read state belongs to the account, not the session.
    buyer.logout();
    assert_eq!(buyer.get_no_follow("/notifications").status, 303);
    buyer.login("buyer", PASSWORD);
    assert_eq!(unread(&mut buyer), 0);
    assert_eq!(unread(&mut m.vendor), vendor_unread);
}
