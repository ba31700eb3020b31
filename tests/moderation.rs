//! Moderation and administration through the real binary and its HTML forms:
//! reports, the moderator queue, listing actions, the admin pages. For every
//! state-changing route each role (anonymous, buyer, vendor, moderator, arbiter,
//! admin) acts on its own and on someone else's resource; only the intended
//! combinations succeed, the rest get 401/403/404 and leave the database as it was.

#[path = "moderation/admin.rs"]
mod admin;
// The moderation suite's own browser: `get`/`post_form` do not follow redirects,
// so the tests can check where each refusal sends the visitor.
#[path = "moderation/browser.rs"]
mod browser;
mod common;
#[path = "moderation/world.rs"]
mod world;

use browser::{Browser, location};
use common::{Opts, Souk};
use world::{PASSWORD, Who, World, redirected};

/// Files a report through the form as `who`; returns the response.
fn report(w: &mut World, who: Who, kind: &str, id: &str, reason: &str) -> common::Resp {
    w.b(who).visit(&format!("/report?kind={kind}&id={id}"));
    w.b(who)
        .post_form("/report", &[("kind", kind), ("id", id), ("reason", reason)])
}

fn report_id(w: &World, reporter: i64, kind: &str, target: i64) -> i64 {
    w.scalar(&format!(
        "SELECT id FROM reports WHERE reporter_id = {reporter} AND target_kind = '{kind}'
         AND target_id = {target} ORDER BY id DESC LIMIT 1"
    ))
}

#[test]
fn registration_never_grants_a_role() {
    let shop = Souk::start(Opts::default());
    let mut b = Browser::new(shop.shop);
    b.register_with(
        "mallory",
        PASSWORD,
        &[
            ("role", "admin"),
            ("roles", "admin"),
            ("roles[]", "moderator"),
            ("is_admin", "1"),
            ("status", "active"),
        ],
    );
    let db = rusqlite::Connection::open(shop.data_dir().join("souk.db")).unwrap();
    let roles: i64 = db
        .query_row("SELECT count(*) FROM account_roles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(roles, 0, "no role came from the registration form");
    for page in ["/admin", "/moderation", "/admin/accounts", "/sell"] {
        let r = b.get(page);
        assert_eq!(r.status, 403, "{page}: {}", r.body);
    }
    let home = b.visit("/");
    assert!(!home.body.contains("href=\"/admin\""), "no admin link");
    assert!(!home.body.contains("href=\"/moderation\""));
}

#[test]
fn reports_are_filed_once_and_only_about_what_the_reporter_may_see() {
    let mut w = World::new();
    let (l, order) = (w.id.listing, w.id.order.clone());
    let (vendor, buyer, arbiter) = (w.id.vendor, w.id.buyer, w.id.arbiter);

    // The pages link to the report form.
    let page = w.buyer.visit(&format!("/listings/{l}"));
    assert!(
        page.body
            .contains(&format!("/report?kind=listing&amp;id={l}"))
    );
    let page = w.buyer.visit("/vendors/vera");
    assert!(
        page.body
            .contains(&format!("/report?kind=user&amp;id={vendor}"))
    );
    let page = w.buyer.visit(&format!("/orders/{order}"));
    assert!(
        page.body
            .contains(&format!("/report?kind=order&amp;id={order}"))
    );
    let page = w.vendor.visit("/vendors/vera");
    assert!(
        !page.body.contains("Report this vendor"),
        "not on one's own profile"
    );

    // Signed out, the form asks to sign in and comes back with the query intact.
    let mut later = Browser::new(w.souk.shop);
    let r = later.get(&format!("/report?kind=listing&id={l}"));
    let to = redirected(&r, "report form signed out");
    assert_eq!(
        to,
        format!("/login?next=/report%3Fkind%3Dlisting%26id%3D{l}")
    );
    later.visit(&to);
    let signed_in = later.post_form(
        "/login",
        &[
            ("username", "arno"),
            ("password", PASSWORD),
            ("next", &format!("/report?kind=listing&id={l}")),
        ],
    );
    let back = later.follow(signed_in);
    assert!(
        back.body
            .contains("You are reporting the listing “Brass lamp” by vera"),
        "{}",
        back.body
    );
    w.expect(
        Who::Anon,
        "/report",
        &[("kind", "listing"), ("id", &l.to_string()), ("reason", "x")],
        401,
    );

    // A report, then the same again: refused politely, nothing added.
    let r = report(
        &mut w,
        Who::Buyer,
        "listing",
        &l.to_string(),
        "Not brass at all.",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Thank you"), "{}", r.body);
    assert_eq!(w.scalar("SELECT count(*) FROM reports"), 1);
    let again = w.expect(
        Who::Buyer,
        "/report",
        &[
            ("kind", "listing"),
            ("id", &l.to_string()),
            ("reason", "Still not brass."),
        ],
        409,
    );
    assert!(
        again.body.contains("already reported this"),
        "{}",
        again.body
    );
    assert!(again.body.contains("Still not brass."), "the text is kept");

    // Things one may not report, and things one may not see.
    let own = w.expect(
        Who::Vendor,
        "/report",
        &[
            ("kind", "listing"),
            ("id", &l.to_string()),
            ("reason", "mine"),
        ],
        422,
    );
    assert!(own.body.contains("your own listing"), "{}", own.body);
    let me = buyer.to_string();
    w.expect(
        Who::Buyer,
        "/report",
        &[("kind", "user"), ("id", &me), ("reason", "me")],
        422,
    );
    let stranger = arbiter.to_string();
    w.expect(
        Who::Buyer,
        "/report",
        &[("kind", "user"), ("id", &stranger), ("reason", "who?")],
        404,
    );
    w.expect(
        Who::Arbiter,
        "/report",
        &[("kind", "order"), ("id", &order), ("reason", "not mine")],
        404,
    );
    for (kind, id) in [
        ("listing", "999999"),
        ("order", "nosuchorder"),
        ("admin", "1"),
        ("user", "x"),
    ] {
        w.expect(
            Who::Buyer,
            "/report",
            &[("kind", kind), ("id", id), ("reason", "r")],
            404,
        );
    }
    let l_id = l.to_string();
    w.expect(
        Who::Moderator,
        "/report",
        &[("kind", "listing"), ("id", &l_id), ("reason", " ")],
        422,
    );
    let long = "x".repeat(2001);
    w.expect(
        Who::Moderator,
        "/report",
        &[("kind", "listing"), ("id", &l_id), ("reason", &long)],
        422,
    );

    // Reports that are allowed: a vendor (public profile), the other party of an
    // order, an order one is part of.
    let v = vendor.to_string();
    for (who, kind, id) in [
        (Who::Buyer, "user", v.as_str()),
        (Who::Vendor, "user", me.as_str()),
        (Who::Vendor, "order", order.as_str()),
        (Who::Buyer, "order", order.as_str()),
        (Who::Arbiter, "user", v.as_str()),
    ] {
        let r = report(
            &mut w,
            who,
            kind,
            id,
            "<script>alert(1)</script> please look",
        );
        assert_eq!(r.status, 200, "{who:?} {kind} {id}: {}", r.body);
    }
    assert_eq!(
        w.scalar("SELECT count(*) FROM reports WHERE state = 'open'"),
        6
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM reports WHERE target_kind = 'order' AND target_id = {}",
            w.id.order_id
        )),
        2,
        "orders are stored by their internal id"
    );
}

#[test]
fn moderators_handle_reports_and_listings_and_nobody_else_can() {
    let mut w = World::new();
    let (l, ml) = (w.id.listing, w.id.mod_listing);
    let (ls, mls, vendor) = (l.to_string(), ml.to_string(), w.id.vendor.to_string());
    for (who, kind, id, reason) in [
        (
            Who::Buyer,
            "listing",
            ls.as_str(),
            "<script>alert(1)</script> Fake brass.",
        ),
        (Who::Buyer, "user", vendor.as_str(), "Rude in messages."),
        (Who::Buyer, "listing", mls.as_str(), "Teapot leaks."),
        (Who::Arbiter, "listing", ls.as_str(), "Also fake."),
    ] {
        let r = report(&mut w, who, kind, id, reason);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r_listing = report_id(&w, w.id.buyer, "listing", l);
    let r_user = report_id(&w, w.id.buyer, "user", w.id.vendor);
    let r_own = report_id(&w, w.id.buyer, "listing", ml);

    // The queue: moderators and admins only; never reports about oneself.
    let r = w.anon.get("/moderation");
    assert_eq!(location(&r), Some("/login?next=/moderation"));
    for who in [Who::Buyer, Who::Vendor, Who::Arbiter] {
        let r = w.b(who).get("/moderation");
        assert_eq!(r.status, 403, "{who:?}");
        let r = w.b(who).get(&format!("/moderation/reports/{r_user}"));
        assert_eq!(r.status, 403, "{who:?}");
    }
    let q = w.moderator.visit("/moderation");
    assert_eq!(q.status, 200);
    assert!(q.body.contains("Brass lamp") && q.body.contains("Rude in messages."));
    assert!(
        q.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped"
    );
    assert!(!q.body.contains("<script>alert"), "never markup");
    assert!(q.body.contains("2 open reports"), "counted per target");
    assert!(
        !q.body.contains("teapot"),
        "the moderator's own listing is not theirs to judge"
    );
    assert!(
        q.body.find("Fake brass").unwrap() < q.body.find("Rude in messages").unwrap(),
        "oldest first"
    );
    let q = w.admin.visit("/moderation");
    assert!(q.body.contains("teapot"), "admins moderate too");
    let r = w.moderator.get(&format!("/moderation/reports/{r_own}"));
    assert_eq!(r.status, 404);
    let r = w.moderator.visit(&format!("/moderation/reports/{r_user}"));
    assert!(r.body.contains("Account vera") && !r.body.contains("Manage this account"));
    let r = w
        .moderator
        .visit(&format!("/moderation/reports/{r_listing}"));
    assert!(
        r.body
            .contains(&format!("action=\"/moderation/listings/{l}/state\""))
    );
    assert!(
        r.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; Fake brass.")
    );
    let r = w.admin.visit(&format!("/moderation/reports/{r_user}"));
    assert!(r.body.contains(&format!("/admin/accounts/{}", w.id.vendor)));

    // Closing a report.
    w.refresh(Who::Moderator);
    w.refresh(Who::Admin);
    let close = format!("/moderation/reports/{r_user}/close");
    let fields = [("resolution", "Warned the vendor.")];
    w.refused_for_all_but(&[Who::Moderator, Who::Admin], &close, &fields);
    w.expect(
        Who::Moderator,
        &format!("/moderation/reports/{r_own}/close"),
        &fields,
        404,
    );
    w.expect(Who::Moderator, &close, &[("resolution", "")], 422);
    let r = w.expect(Who::Moderator, &close, &fields, 303);
    assert_eq!(location(&r), Some("/moderation"));
    assert_eq!(
        w.text(&format!(
            "SELECT state || ':' || resolution FROM reports WHERE id = {r_user}"
        )),
        "closed:Warned the vendor."
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE account_id = {} AND kind = 'report_closed'",
            w.id.buyer
        )),
        1
    );
    assert_eq!(
        w.scalar(
            "SELECT actor_id FROM audit_log WHERE action = 'report_closed'
             AND reason = 'Warned the vendor.'"
        ),
        w.id.moderator
    );
    w.expect(Who::Admin, &close, &fields, 409);

    // Hiding a listing: moderators and admins, never on their own listing.
    let state = format!("/moderation/listings/{l}/state");
    let hide = [("action", "hide"), ("reason", "Counterfeit brass.")];
    w.refused_for_all_but(&[Who::Moderator, Who::Admin], &state, &hide);
    w.expect(
        Who::Vendor,
        &format!("/moderation/listings/{ml}/state"),
        &hide,
        403,
    );
    w.expect(
        Who::Moderator,
        &format!("/moderation/listings/{ml}/state"),
        &hide,
        403,
    );
    w.expect(
        Who::Moderator,
        "/moderation/listings/999999/state",
        &hide,
        404,
    );
    w.expect(
        Who::Moderator,
        &state,
        &[("action", "hide"), ("reason", "")],
        422,
    );
    w.expect(
        Who::Moderator,
        &state,
        &[("action", "burn"), ("reason", "x")],
        400,
    );
    let r = w.expect(Who::Moderator, &state, &hide, 303);
    assert_eq!(
        location(&r),
        Some(format!("/moderation/listings/{l}").as_str())
    );
    assert_eq!(
        w.text(&format!(
            "SELECT state || ':' || moderation_reason FROM listings WHERE id = {l}"
        )),
        "hidden:Counterfeit brass."
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM reports WHERE target_kind = 'listing' AND target_id = {l}
             AND state = 'closed' AND resolution = 'Listing hidden: Counterfeit brass.'"
        )),
        2,
        "hiding closes the open reports on the listing"
    );
    assert_eq!(
        w.text(&format!("SELECT state FROM reports WHERE id = {r_listing}")),
        "closed"
    );
    assert_eq!(
        w.text(&format!(
            "SELECT kind || ':' || text FROM notifications WHERE account_id = {} ORDER BY id DESC LIMIT 1",
            w.id.vendor
        )),
        "listing_hidden:A moderator hid your listing “Brass lamp”: Counterfeit brass."
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE account_id = {} AND kind = 'report_closed'",
            w.id.arbiter
        )),
        1,
        "the other reporter is told"
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'listing_hidden' AND actor_id = {}
             AND target = 'listing {l}' AND reason = 'Counterfeit brass.'",
            w.id.moderator
        )),
        1
    );
    assert_eq!(w.anon.get(&format!("/listings/{l}")).status, 404);
    assert!(!w.anon.visit("/search?q=brass").body.contains("Brass lamp"));
    let edit = w.vendor.visit(&format!("/sell/{l}/edit"));
    assert!(
        edit.body
            .contains("A moderator hid this listing: Counterfeit brass."),
        "{}",
        edit.body
    );
    let hidden = w.moderator.visit("/moderation/hidden");
    assert!(hidden.body.contains("Brass lamp") && hidden.body.contains("Counterfeit brass."));
    w.expect(Who::Moderator, &state, &hide, 409);

    // Restoring it: the same people.
    w.refresh(Who::Moderator);
    let restore = [("action", "restore"), ("reason", "Vendor sent proof.")];
    w.refused_for_all_but(&[Who::Moderator, Who::Admin], &state, &restore);
    let r = w.expect(
        Who::Admin,
        &state,
        &[
            ("action", "restore"),
            ("reason", "Vendor sent proof."),
            ("back", "/moderation/hidden"),
        ],
        303,
    );
    assert_eq!(location(&r), Some("/moderation/hidden"));
    assert_eq!(
        w.text(&format!(
            "SELECT state || ':' || coalesce(moderation_reason, '-') FROM listings WHERE id = {l}"
        )),
        "active:-"
    );
    assert_eq!(w.anon.get(&format!("/listings/{l}")).status, 200);
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE account_id = {} AND kind = 'listing_restored'",
            w.id.vendor
        )),
        1
    );

    // Removal is final; an admin may act on a moderator's listing.
    let remove = [("action", "remove"), ("reason", "Fake, confirmed.")];
    w.refused_for_all_but(&[Who::Moderator, Who::Admin], &state, &remove);
    w.expect(Who::Moderator, &state, &remove, 303);
    w.expect(Who::Admin, &state, &restore, 409);
    let r = w.moderator.visit(&format!("/moderation/listings/{l}"));
    assert!(
        r.body.contains("Removed listings stay removed"),
        "{}",
        r.body
    );
    w.refresh(Who::Admin);
    w.expect(
        Who::Admin,
        &format!("/moderation/listings/{ml}/state"),
        &hide,
        303,
    );
    let own = w.moderator.visit(&format!("/moderation/listings/{ml}"));
    assert!(own.body.contains("another moderator must act on it"));
}
