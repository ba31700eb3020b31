//! A shop front made through the real forms, as the escrow, payment, metrics and
//! social tests all need it: a category from the CLI, a vendor (open sign-up)
//! with one listing, and orders placed from the listing page.

use super::browser::Browser;
use super::{Resp, Souk, run};

/// The text between `start` and the next `end` in `s`; panics with the page.
pub fn between(s: &str, start: &str, end: &str) -> String {
    let from = s
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not on the page:\n{s}"))
        + start.len();
    s[from..][..s[from..].find(end).unwrap()].to_owned()
}

/// `souk admin category goods Goods` on the running shop's config.
pub fn goods_category(souk: &Souk) {
    let config = souk.dir.path().join("souk.toml");
    let out = run(
        souk.dir.path(),
        &[
            "admin",
            "category",
            "--config",
            config.to_str().unwrap(),
            "goods",
            "Goods",
        ],
    );
    assert!(out.status.success(), "{out:?}");
}

/// What the teapot listing costs.
pub struct Teapot<'a> {
    /// Price in XMR as typed.
    pub price: &'a str,
    /// Units in stock.
    pub stock: &'a str,
    /// The one delivery option's price in XMR.
    pub delivery: &'a str,
}

/// Registers `vendor` (open vendor sign-up must be on), applies, and lists a
/// teapot in `goods`; returns the vendor's browser and the listing id.
pub fn vendor_with_teapot(souk: &Souk, password: &str, t: Teapot<'_>) -> (Browser, String) {
    let mut vendor = Browser::new(souk.shop);
    vendor.register("vendor", password);
    let r = vendor.post_form(
        "/account/vendor-application",
        &[("statement", "Fine things")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = vendor.post_form(
        "/sell/new",
        &[
            ("title", "A fine teapot"),
            ("category", "goods"),
            ("price", t.price),
            ("stock", t.stock),
            ("description", "Porcelain."),
            ("delivery_label_0", "Post"),
            ("delivery_price_0", t.delivery),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let listing = vendor
        .path
        .strip_prefix("/sell/")
        .and_then(|p| p.strip_suffix("/edit"))
        .unwrap_or_else(|| panic!("listing created at {}", vendor.path))
        .to_owned();
    (vendor, listing)
}

/// Orders one unit of `listing` with its first delivery option; the answer is
/// the order page (status 200 asserted).
pub fn order_one(buyer: &mut Browser, listing: &str, note: &str) -> Resp {
    let page = buyer.get(&format!("/listings/{listing}"));
    let option = between(&page.body, "name=\"delivery_option\" value=\"", "\"");
    let r = buyer.post_form(
        &format!("/listings/{listing}/order"),
        &[
            ("quantity", "1"),
            ("delivery_option", &option),
            ("delivery_note", note),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r
}
