//! The admin pages: vendor applications, roles, standing, rules, categories and
//! the audit log, each state change tried by every role on its own and on
//! someone else's account.

use crate::browser::location;
use crate::world::{PASSWORD, Who, World};

#[test]
fn admin_pages_are_for_admins_only() {
    let mut w = World::new();
    let buyer = w.id.buyer;
    for page in [
        "/admin".to_owned(),
        "/admin/accounts?q=b".to_owned(),
        format!("/admin/accounts/{buyer}"),
        "/admin/rules".to_owned(),
        "/admin/categories".to_owned(),
        "/admin/audit".to_owned(),
    ] {
        let r = w.anon.get(&page);
        assert_eq!(r.status, 303, "{page}");
        assert!(location(&r).unwrap().starts_with("/login?next=/admin"));
        for who in [Who::Buyer, Who::Vendor, Who::Moderator, Who::Arbiter] {
            assert_eq!(w.b(who).get(&page).status, 403, "{who:?} {page}");
        }
        let r = w.admin.get(&page);
        assert_eq!(r.status, 200, "{page}: {}", r.body);
    }
    let found = w.admin.visit("/admin/accounts?q=ve");
    assert!(found.body.contains("vera") && !found.body.contains("bertha"));
    assert_eq!(w.admin.get("/admin/accounts/999999").status, 404);
    let nav = w.admin.visit("/");
    assert!(nav.body.contains("href=\"/admin\"") && nav.body.contains("href=\"/moderation\""));
}

#[test]
fn vendor_applications_and_roles_only_change_by_another_admin() {
    let mut w = World::new();
    let (buyer, vendor, moderator, arbiter, admin) = (
        w.id.buyer,
        w.id.vendor,
        w.id.moderator,
        w.id.arbiter,
        w.id.admin,
    );

    // Applications: the arbiter's and the admin's own.
    for who in [Who::Arbiter, Who::Admin] {
        let r = w.b(who).post_form(
            "/account/vendor-application",
            &[("statement", "I would like to sell.")],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        w.refresh(who);
    }
    let app = |w: &World, id: i64| {
        w.scalar(&format!(
            "SELECT id FROM vendor_applications WHERE account_id = {id} AND state = 'pending'"
        ))
    };
    let (app_arbiter, app_admin) = (app(&w, arbiter), app(&w, admin));
    let page = w.admin.visit("/admin");
    assert!(
        page.body
            .contains("own application: another admin must decide it")
    );
    let decide = format!("/admin/applications/{app_arbiter}");
    w.refused_for_all_but(
        &[Who::Admin],
        &decide,
        &[("decision", "approve"), ("reason", "")],
    );
    w.expect(
        Who::Admin,
        &format!("/admin/applications/{app_admin}"),
        &[("decision", "approve"), ("reason", "")],
        403,
    );
    w.expect(
        Who::Admin,
        &decide,
        &[("decision", "reject"), ("reason", "")],
        422,
    );
    w.expect(
        Who::Admin,
        "/admin/applications/999999",
        &[("decision", "approve")],
        404,
    );
    w.expect(
        Who::Admin,
        &decide,
        &[("decision", "reject"), ("reason", "Not yet.")],
        303,
    );
    assert_eq!(w.roles(arbiter), "arbiter");
    assert_eq!(
        w.text(&format!(
            "SELECT text FROM notifications WHERE account_id = {arbiter} AND kind = 'vendor_rejected'"
        )),
        "Your vendor application was not approved: Not yet."
    );
    w.expect(
        Who::Admin,
        &decide,
        &[("decision", "approve"), ("reason", "")],
        409,
    );

    // Roles: every role tries to make itself and the buyer an admin.
    let grant_admin = [
        ("role", "admin"),
        ("change", "grant"),
        ("reason", "why not"),
    ];
    for (who, own) in [
        (Who::Anon, buyer),
        (Who::Buyer, buyer),
        (Who::Vendor, vendor),
        (Who::Moderator, moderator),
        (Who::Arbiter, arbiter),
    ] {
        let status = if who == Who::Anon { 401 } else { 403 };
        w.expect(
            who,
            &format!("/admin/accounts/{own}/roles"),
            &grant_admin,
            status,
        );
        w.expect(
            who,
            &format!("/admin/accounts/{buyer}/roles"),
            &grant_admin,
            status,
        );
    }
    let own_roles = format!("/admin/accounts/{admin}/roles");
    w.expect(
        Who::Admin,
        &own_roles,
        &[
            ("role", "arbiter"),
            ("change", "grant"),
            ("reason", "more power"),
        ],
        403,
    );
    w.expect(
        Who::Admin,
        &own_roles,
        &[("role", "admin"), ("change", "revoke"), ("reason", "oops")],
        403,
    );
    let own_page = w.admin.visit(&format!("/admin/accounts/{admin}"));
    assert!(own_page.body.contains("This is your own account"));
    assert!(
        !own_page.body.contains(&own_roles),
        "no role form for oneself"
    );
    let buyer_roles = format!("/admin/accounts/{buyer}/roles");
    w.admin.visit(&format!("/admin/accounts/{buyer}"));
    w.expect(
        Who::Admin,
        &buyer_roles,
        &[("role", "moderator"), ("change", "grant"), ("reason", "")],
        422,
    );
    w.expect(
        Who::Admin,
        &buyer_roles,
        &[("role", "emperor"), ("change", "grant"), ("reason", "x")],
        400,
    );
    w.expect(
        Who::Admin,
        "/admin/accounts/999999/roles",
        &[("role", "moderator"), ("change", "grant"), ("reason", "x")],
        404,
    );
    w.expect(
        Who::Admin,
        &buyer_roles,
        &[
            ("role", "moderator"),
            ("change", "grant"),
            ("reason", "Helpful member."),
        ],
        303,
    );
    assert_eq!(w.roles(buyer), "moderator");
    assert_eq!(
        w.buyer.get("/moderation").status,
        200,
        "the role works at once"
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM audit_log WHERE actor_id = {admin} AND action = 'grant_role'
             AND target = 'account {buyer} role moderator' AND reason = 'Helpful member.'"
        )),
        1
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE account_id = {buyer} AND kind = 'role_granted'"
        )),
        1
    );

    // Revoking the vendor role takes the vendor's listings off the shop.
    w.expect(
        Who::Admin,
        &format!("/admin/accounts/{vendor}/roles"),
        &[
            ("role", "vendor"),
            ("change", "revoke"),
            ("reason", "Stopped selling."),
        ],
        303,
    );
    assert_eq!(w.roles(vendor), "");
    assert_eq!(
        w.text(&format!(
            "SELECT state FROM listings WHERE id = {}",
            w.id.listing
        )),
        "paused"
    );
    assert_eq!(w.vendor.get("/sell").status, 403);
    assert_eq!(
        w.anon.get(&format!("/listings/{}", w.id.listing)).status,
        404
    );
}

#[test]
fn banned_and_suspended_accounts_are_shut_out_at_once() {
    let mut w = World::new();
    let (buyer, vendor, admin) = (w.id.buyer, w.id.vendor, w.id.admin);
    let ban = [("status", "banned"), ("reason", "Scamming vendors.")];
    let path = format!("/admin/accounts/{buyer}/status");
    w.refused_for_all_but(&[Who::Admin], &path, &ban);
    for (who, own) in [
        (Who::Buyer, buyer),
        (Who::Vendor, vendor),
        (Who::Moderator, w.id.moderator),
        (Who::Arbiter, w.id.arbiter),
    ] {
        let reinstate = [("status", "active"), ("reason", "I am fine.")];
        w.expect(
            who,
            &format!("/admin/accounts/{own}/status"),
            &reinstate,
            403,
        );
    }
    let own = format!("/admin/accounts/{admin}/status");
    w.expect(
        Who::Admin,
        &own,
        &[("status", "banned"), ("reason", "x")],
        403,
    );
    w.expect(
        Who::Admin,
        &own,
        &[("status", "active"), ("reason", "x")],
        403,
    );
    w.expect(
        Who::Admin,
        &path,
        &[("status", "banned"), ("reason", "")],
        422,
    );
    w.expect(
        Who::Admin,
        &path,
        &[("status", "deleted"), ("reason", "x")],
        400,
    );
    w.expect(Who::Admin, "/admin/accounts/999999/status", &ban, 404);

    // The ban ends the buyer's session at once.
    assert_eq!(w.buyer.signed_in_as().as_deref(), Some("bertha"));
    w.expect(Who::Admin, &path, &ban, 303);
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM sessions WHERE account_id = {buyer}"
        )),
        0
    );
    let r = w.buyer.get("/account");
    assert_eq!(location(&r), Some("/login?next=/account"), "signed out");
    assert_eq!(w.buyer.signed_in_as(), None);
    let r = w.buyer.post_form(
        "/account/password",
        &[("current", PASSWORD), ("new", "x".repeat(12).as_str())],
    );
    assert_eq!(r.status, 401, "the old session's forms are dead");
    let r = w.buyer.login("bertha", PASSWORD);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("This account is banned: Scamming vendors."),
        "{}",
        r.body
    );
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'account_banned' AND actor_id = {admin}
             AND target = 'account {buyer}' AND reason = 'Scamming vendors.'"
        )),
        1
    );

    // A suspended vendor is signed out, their listing leaves the shop, and they
    // see why when they try to sign in.
    let listing = format!("/listings/{}", w.id.listing);
    assert_eq!(w.anon.get(&listing).status, 200);
    w.admin.visit(&format!("/admin/accounts/{vendor}"));
    let vpath = format!("/admin/accounts/{vendor}/status");
    w.expect(
        Who::Admin,
        &vpath,
        &[("status", "suspended"), ("reason", "Unpaid fees.")],
        303,
    );
    assert_eq!(w.vendor.signed_in_as(), None);
    assert_eq!(w.anon.get(&listing).status, 404);
    assert!(!w.anon.visit("/search?q=lamp").body.contains("Brass lamp"));
    let r = w.vendor.login("vera", PASSWORD);
    assert_eq!(r.status, 409);
    assert!(
        r.body.contains("This account is suspended: Unpaid fees."),
        "{}",
        r.body
    );
    let page = w.admin.visit(&format!("/admin/accounts/{vendor}"));
    assert!(page.body.contains("suspended") && page.body.contains("Unpaid fees."));

    // Reinstated, everything comes back.
    w.expect(
        Who::Admin,
        &vpath,
        &[("status", "active"), ("reason", "Paid.")],
        303,
    );
    w.vendor.sign_in("vera", PASSWORD);
    assert_eq!(w.anon.get(&listing).status, 200);
    assert_eq!(
        w.scalar(&format!(
            "SELECT count(*) FROM notifications WHERE account_id = {vendor} AND kind = 'account_reinstated'"
        )),
        1
    );
}

#[test]
fn rules_categories_and_the_audit_log() {
    let mut w = World::new();

    // The rules page.
    let rules = [
        ("title", "House rules"),
        (
            "body",
            "## No fakes\n\n**Be kind.** <script>alert(1)</script>",
        ),
    ];
    w.refused_for_all_but(&[Who::Admin], "/admin/rules", &rules);
    w.admin.visit("/admin/rules");
    w.expect(
        Who::Admin,
        "/admin/rules",
        &[("title", ""), ("body", "x")],
        422,
    );
    let r = w.expect(Who::Admin, "/admin/rules", &rules, 303);
    assert_eq!(location(&r), Some("/rules"));
    let page = w.anon.visit("/rules");
    assert!(page.body.contains("<h1>House rules</h1>"));
    assert!(
        page.body.contains("<h3>No fakes</h3>") && page.body.contains("<strong>Be kind.</strong>")
    );
    assert!(page.body.contains("&lt;script&gt;") && !page.body.contains("<script>"));

    // Categories: add, rename, remove when unused.
    let add = [("slug", "tools"), ("name", "Tools"), ("position", "3")];
    w.refused_for_all_but(&[Who::Admin], "/admin/categories", &add);
    w.admin.visit("/admin/categories");
    w.expect(
        Who::Admin,
        "/admin/categories",
        &[("slug", "Bad Slug!"), ("name", "x")],
        422,
    );
    w.expect(
        Who::Admin,
        "/admin/categories",
        &[("slug", "tools"), ("name", "T"), ("position", "first")],
        422,
    );
    w.expect(Who::Admin, "/admin/categories", &add, 303);
    w.expect(
        Who::Admin,
        "/admin/categories",
        &[("slug", "tools"), ("name", "Hand tools"), ("position", "1")],
        303,
    );
    assert_eq!(
        w.text("SELECT name || ':' || position FROM categories WHERE slug = 'tools'"),
        "Hand tools:1"
    );
    assert!(w.anon.visit("/").body.contains("Hand tools"));
    let delete = [("reason", "Nobody sells tools.")];
    w.refused_for_all_but(&[Who::Admin], "/admin/categories/tools/delete", &delete);
    let in_use = w.expect(Who::Admin, "/admin/categories/misc/delete", &delete, 409);
    assert!(in_use.body.contains("in use"), "{}", in_use.body);
    w.expect(
        Who::Admin,
        "/admin/categories/tools/delete",
        &[("reason", "")],
        422,
    );
    w.expect(Who::Admin, "/admin/categories/tools/delete", &delete, 303);
    assert_eq!(
        w.scalar("SELECT count(*) FROM categories WHERE slug = 'tools'"),
        0
    );

    // The audit log: admins read it, page by page; nobody can change it.
    let log = w.admin.visit("/admin/audit");
    for action in [
        "edit_page",
        "category_saved",
        "category_deleted",
        "grant_role",
        "vendor_approved",
    ] {
        assert!(
            log.body.contains(action),
            "{action} missing from the audit page"
        );
    }
    assert!(log.body.contains("Nobody sells tools.") && log.body.contains("root"));
    assert!(
        log.body.contains("console or system"),
        "the CLI's entries have no account"
    );
    let entries = w.scalar("SELECT count(*) FROM audit_log");
    let db = w.db_rw();
    for sql in [
        "UPDATE audit_log SET reason = 'nothing happened'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE action = 'category_deleted'",
    ] {
        let e = db.execute(sql, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    drop(db);
    assert_eq!(w.scalar("SELECT count(*) FROM audit_log"), entries);
    assert_eq!(
        w.scalar("SELECT count(*) FROM audit_log WHERE reason = 'nothing happened'"),
        0
    );
    // 55 more entries make a second page.
    for i in 0..55 {
        w.expect(
            Who::Admin,
            "/admin/categories",
            &[
                ("slug", "tools"),
                ("name", &format!("Tools {i}")),
                ("position", "0"),
            ],
            303,
        );
    }
    let first = w.admin.visit("/admin/audit");
    assert!(
        first
            .body
            .contains("rel=\"next\" href=\"/admin/audit?page=2\"")
    );
    assert!(first.body.contains("Tools 54") && !first.body.contains("Nobody sells tools."));
    let second = w.admin.visit("/admin/audit?page=2");
    assert!(
        second.body.contains("Nobody sells tools."),
        "older entries on page 2"
    );
}
