//! Mode choice: with `mode = "both"` the buyer picks on the order form and the
//! mode is fixed on the order; a vendor may require multisig.

use crate::common::regtest::Regtest;
use crate::common::shop::Shop;
use crate::common::visitor::{Browser, between};
use crate::setup::{key_file, souk_toml};

/// Orders one unit with the given escrow choice; returns the answer (after redirects).
fn order_with(buyer: &mut Browser, listing: i64, mode: &str) -> crate::common::visitor::Reply {
    let page = buyer.get(&format!("/listings/{listing}"));
    page.expect(200);
    let option = between(&page.body, "name=\"delivery_option\" value=\"", "\"").unwrap();
    buyer.post_form(
        &format!("/listings/{listing}/order"),
        &[
            ("quantity", "1"),
            ("delivery_option", &option),
            ("delivery_note", ""),
            ("escrow_mode", mode),
        ],
    )
}

fn mode_of(shop: &Shop, reply: &crate::common::visitor::Reply) -> String {
    let pid = reply.path.strip_prefix("/orders/").expect("an order page");
    shop.text(&format!(
        "SELECT escrow_mode FROM orders WHERE public_id = '{pid}'"
    ))
}

#[test]
fn the_buyer_picks_the_mode_unless_the_vendor_requires_multisig() {
    let chain = Regtest::start(0);
    let key = key_file(&chain);
    let toml = souk_toml(&chain, &key).replace("mode = \"multisig\"", "mode = \"both\"");
    let shop = Shop::start_with(&toml);
    let mut vendor = shop.vendor("val");
    let mut buyer = shop.buyer("ben");
    let listing = shop.listing(&mut vendor, "A kettle", "1", "9");

    buyer
        .get(&format!("/listings/{listing}"))
        .expect(200)
        .expect_text("name=\"escrow_mode\" value=\"managed\" checked")
        .expect_text("name=\"escrow_mode\" value=\"multisig\"");
    let r = order_with(&mut buyer, listing, "managed");
    r.expect(200);
    assert_eq!(mode_of(&shop, &r), "managed");
    let r = order_with(&mut buyer, listing, "multisig");
    r.expect(200).expect_text("any two of them must sign");
    assert_eq!(mode_of(&shop, &r), "multisig");
    let r = order_with(&mut buyer, listing, "custodial");
    r.expect(422).expect_text("Choose how the payment is held");

    vendor
        .get("/sell")
        .expect(200)
        .expect_text("href=\"/sell/escrow\"");
    vendor
        .get("/sell/escrow")
        .expect(200)
        .expect_text("Buyers choose");
    vendor
        .post_form("/sell/escrow", &[("require", "yes")])
        .expect(200)
        .expect_text("You take only 2-of-3 multisig orders");
    // A buyer cannot change the vendor's setting.
    assert_eq!(buyer.get("/sell/escrow").status, 403);
    let r = order_with(&mut buyer, listing, "managed");
    r.expect(422)
        .expect_text("takes only 2-of-3 multisig orders");
    let r = order_with(&mut buyer, listing, "");
    r.expect(200);
    assert_eq!(mode_of(&shop, &r), "multisig");
}

/// Pre-started wallet-rpc processes from the config serve the arbiter instead
/// of children: the order's arbiter wallet is created there and takes its
/// first turn.
#[test]
fn pre_started_wallet_rpc_processes_serve_the_arbiter() {
    use std::os::unix::fs::PermissionsExt;
    let chain = Regtest::start(1);
    let key = key_file(&chain);
    let login = chain.dir.path().join("arbiter.login");
    std::fs::write(&login, chain.wallet(0).login_line()).unwrap();
    std::fs::set_permissions(&login, std::fs::Permissions::from_mode(0o600)).unwrap();
    let toml = souk_toml(&chain, &key).replace(
        "multisig_pool_size = 2\n",
        &format!(
            "multisig_wallet_rpc_urls = [\"{}\"]\nmultisig_wallet_login_file = \"{}\"\nmultisig_wallet_dir = \"{}\"\n",
            chain.wallet(0).url(),
            login.display(),
            chain.dir.path().join("wallets").display()
        ),
    );
    let shop = Shop::start_with(&toml);
    assert!(
        !shop.souk.data_dir().join("multisig-wallets").exists(),
        "no children started"
    );
    let mut vendor = shop.vendor("vin");
    let mut buyer = shop.buyer("boris");
    let listing = shop.listing(&mut vendor, "A spoon", "1", "9");
    let pid = shop.order(&mut buyer, listing, "");
    let id = shop.order_id(&pid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while shop.i64(&format!(
        "SELECT count(*) FROM multisig_messages WHERE order_id = {id} AND participant = 'arbiter' AND round = 1"
    )) == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the arbiter never took its first turn:\n{}",
            shop.souk.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let file = shop.text(&format!(
        "SELECT wallet_file FROM multisig_escrows WHERE order_id = {id}"
    ));
    assert!(
        chain
            .dir
            .path()
            .join("wallets")
            .join(format!("{file}.keys"))
            .exists(),
        "the arbiter's wallet lives in the pre-started process's wallet dir"
    );
}
