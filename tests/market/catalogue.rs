//! Browsing: the front page, categories, sorting, pages and full-text search.

use crate::common::shop::Shop;

/// Titles of the cards on a page, in order.
fn titles(body: &str) -> Vec<String> {
    body.split("<span class=\"title\">")
        .skip(1)
        .filter_map(|s| s.split_once("</span>").map(|(t, _)| t.to_owned()))
        .collect()
}

#[test]
fn catalogue_pages_sorting_and_search_with_filters() {
    let shop = Shop::start();
    let mut olga = shop.vendor("olga");
    let mut pavel = shop.vendor("pavel");
    let a = shop.listing_in(
        &mut olga,
        "books",
        "Atlas of rivers",
        "0.3",
        "5",
        "Maps of every river delta.",
    );
    let b = shop.listing_in(
        &mut olga,
        "tools",
        "Brass compass",
        "1.2",
        "5",
        "Points north, mostly. Works near rivers.",
    );
    let c = shop.listing_in(
        &mut pavel,
        "books",
        "Cookbook of the river",
        "0.05",
        "5",
        "Fish recipes from the delta.",
    );
    let d = shop.listing_in(
        &mut pavel,
        "tools",
        "Digging spade",
        "0.8",
        "5",
        "A sturdy spade with an ash handle.",
    );
    // Enough filler for a second page.
    for i in 0..25 {
        shop.listing_in(
            &mut pavel,
            "tools",
            &format!("Filler nail {i:02}"),
            "2",
            "1",
            "Plain nails.",
        );
    }
    // Ratings come from reviews (built elsewhere): set the cached figures here.
    shop.exec(&format!(
        "UPDATE listings SET rating_count = 9, rating_sum = 40 WHERE id = {b}"
    ));
    shop.exec(&format!(
        "UPDATE listings SET rating_count = 3, rating_sum = 15 WHERE id = {c}"
    ));

    let mut visitor = shop.browser();
    let home = visitor.get("/");
    home.expect(200)
        .expect_text("href=\"/c/books\"")
        .expect_text("href=\"/c/tools\"");
    assert!(
        home.header("set-cookie").is_none(),
        "browsing sets no cookie"
    );
    assert_eq!(titles(&home.body).len(), 24, "a full first page");
    assert_eq!(titles(&home.body)[0], "Filler nail 24", "newest first");
    home.expect_text("rel=\"next\"");
    let page2 = visitor.get("/?page=2");
    assert_eq!(titles(&page2.body).len(), 29 - 24);
    assert_eq!(titles(&page2.body).last().unwrap(), "Atlas of rivers");
    page2.expect_text("rel=\"prev\"");
    assert!(!page2.body.contains("rel=\"next\""));

    let books = visitor.get("/c/books");
    books.expect(200).expect_text("<h1>Books</h1>");
    assert_eq!(
        titles(&books.body),
        ["Cookbook of the river", "Atlas of rivers"]
    );
    let cheap = visitor.get("/c/books?sort=price_low");
    assert_eq!(
        titles(&cheap.body),
        ["Cookbook of the river", "Atlas of rivers"]
    );
    let dear = visitor.get("/c/tools?sort=price_high");
    assert_eq!(
        titles(&dear.body)[..2],
        ["Filler nail 24", "Filler nail 23"]
    );
    let rated = visitor.get("/search?sort=rating");
    assert_eq!(
        titles(&rated.body)[..2],
        ["Brass compass", "Cookbook of the river"]
    );
    rated.expect_text("★ 4.4 (9)");
    visitor.get("/c/no-such-category").expect(404);

    // Full-text search over title and description, prefix terms, best match first.
    let river = visitor.get("/search?q=river");
    river.expect(200).expect_text("Results for “river”");
    let mut found = titles(&river.body);
    found.sort();
    assert_eq!(
        found,
        ["Atlas of rivers", "Brass compass", "Cookbook of the river"]
    );
    let filtered = visitor.get("/search?q=river&category=books&sort=price_high");
    assert_eq!(
        titles(&filtered.body),
        ["Atlas of rivers", "Cookbook of the river"]
    );
    filtered.expect_text("<option value=\"books\" selected>");
    let ranged = visitor.get("/search?q=river&min=0.1&max=1");
    assert_eq!(titles(&ranged.body), ["Atlas of rivers"]);
    let by_vendor = visitor.get("/search?q=delta&vendor=pavel");
    assert_eq!(titles(&by_vendor.body), ["Cookbook of the river"]);
    let none = visitor.get("/search?q=river&vendor=nobody");
    none.expect(200).expect_text("Nothing here yet");
    visitor
        .get("/search?q=spade%20ash")
        .expect(200)
        .expect_text("Digging spade");
    visitor
        .get("/search?q=river&min=cheap")
        .expect(422)
        .expect_text("Lowest price");
    // Accents and case do not matter; syntax is never FTS syntax.
    visitor
        .get("/search?q=R%C3%8EVER")
        .expect(200)
        .expect_text("Atlas of rivers");
    visitor.get("/search?q=%22OR%20NEAR(a%20b)%20*").expect(200);

    // Vendor profile: figures and their own listings only.
    let profile = visitor.get("/vendors/olga");
    profile
        .expect(200)
        .expect_text("Member since")
        .expect_text("Dispute rate");
    let mut on_profile = titles(&profile.body);
    on_profile.sort();
    assert_eq!(on_profile, ["Atlas of rivers", "Brass compass"]);
    visitor.get("/vendors/nobody").expect(404);
    let _ = (a, d);
}

#[test]
fn cached_catalogue_pages_follow_every_change() {
    let shop = Shop::start();
    let mut v = shop.vendor("ravi");
    let id = shop.listing(&mut v, "Copper kettle", "1", "2");
    let mut visitor = shop.browser();
    assert_eq!(titles(&visitor.get("/").body), ["Copper kettle"]);
    // A change through the shop shows at once.
    v.get(&format!("/sell/{id}/edit"));
    v.post_form(&format!("/sell/{id}/state"), &[("action", "pause")])
        .expect(200);
    assert!(titles(&visitor.get("/").body).is_empty());
    v.get("/sell");
    v.post_form(&format!("/sell/{id}/state"), &[("action", "resume")])
        .expect(200);
    assert_eq!(titles(&visitor.get("/").body), ["Copper kettle"]);
    // A change by another process shows within a second or so.
    shop.exec(&format!(
        "UPDATE listings SET title = 'Brass kettle' WHERE id = {id}"
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while titles(&visitor.get("/").body) != ["Brass kettle"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the front page kept the old title"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Signed-in people get their own page, never the anonymous one.
    v.get("/").expect_text("href=\"/account\">ravi</a>");
    assert!(!visitor.get("/").body.contains("/account\">ravi"));
}
