//! Disputes decided by an arbiter through the forms pay the right addresses.

use std::io::Write;
use std::process::Stdio;

use crate::common::browser::Browser;
use crate::common::souk;
use crate::support::{COMMISSION_BPS, PASSWORD, Setup, Shop, XMR, chain, fees_on};
use crate::support::{mine_until, wait_page};

/// An admin (created with the CLI) makes `name` an arbiter through the admin
/// pages; returns the arbiter's signed-in browser.
fn arbiter(shop: &Shop, name: &str) -> Browser {
    let dir = shop.souk.dir.path();
    let mut child = souk(dir)
        .args(["admin", "create", "--username", "boss", "--config"])
        .arg(dir.join("souk.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let mut a = Browser::new(shop.souk.shop);
    a.register(name, PASSWORD);
    let db = rusqlite::Connection::open(shop.souk.data_dir().join("souk.db")).unwrap();
    let id: i64 = db
        .query_row("SELECT id FROM accounts WHERE username = ?1", [name], |r| {
            r.get(0)
        })
        .unwrap();
    let mut admin = Browser::new(shop.souk.shop);
    admin.login("boss", PASSWORD);
    admin.get(&format!("/admin/accounts/{id}"));
    let r = admin.post_form(
        &format!("/admin/accounts/{id}/roles"),
        &[
            ("role", "arbiter"),
            ("change", "grant"),
            ("reason", "Handles disputes"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    a.login(name, PASSWORD);
    a
}

/// Two paid orders are disputed by the buyer, who gives a refund address on
/// each order page. The arbiter refunds one and splits the other 40/60: the
/// buyer gets everything back (minus the network fee) on the first; on the
/// second the vendor gets 40 % minus the commission, the buyer 60 %, and the
/// operator the commission minus the fee.
#[test]
fn dispute_refund_and_split_pay_the_right_addresses() {
    let chain = chain();
    let mut shop = Shop::start("disputes", Setup::default());
    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    assert_eq!(shop.set_payout_address(&vendor_address).status, 200);
    let (refunded, a1) = shop.order();
    let (split, a2) = shop.order();
    chain.pay(&a1, XMR);
    chain.pay(&a2, XMR);
    chain.mine(10);
    wait_page(&mut shop.buyer, &refunded, "state-paid", 60);
    wait_page(&mut shop.buyer, &split, "state-paid", 60);
    let mut refund_minors = Vec::new();
    for (order, label) in [(&refunded, "refund-1"), (&split, "refund-2")] {
        shop.buyer.get(order);
        let r = shop.buyer.post_form(
            &format!("{order}/dispute"),
            &[("reason", "It never arrived, sadly.")],
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("refund-form"), "{}", r.body);
        let (address, minor) = chain.receiver(shop.account, label);
        assert_eq!(shop.give_refund_address(order, &address).status, 200);
        refund_minors.push(minor);
    }
    let mut arbiter = arbiter(&shop, "judy");
    let queue = arbiter.get("/disputes").body;
    for (order, decision, percent) in [(&refunded, "refund", ""), (&split, "split", "40")] {
        let public_id = order.strip_prefix("/orders/").unwrap();
        let end = queue
            .find(&format!("\">{public_id}</a>"))
            .unwrap_or_else(|| panic!("{public_id} not in the queue:\n{queue}"));
        let start = queue[..end].rfind("/disputes/").unwrap() + "/disputes/".len();
        let id = queue[start..end].to_owned();
        arbiter.get(&format!("/disputes/{id}"));
        let r = arbiter.post_form(
            &format!("/disputes/{id}/decide"),
            &[
                ("decision", decision),
                ("vendor_percent", percent),
                ("rationale", "The parcel was lost in the post."),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let got = chain.wait_received(shop.account, refund_minors[0], "full refund");
    let page = mine_until(&mut shop.buyer, &refunded, "confirmed");
    assert_eq!(got, vec![XMR - fees_on(&page)[0]], "{page}");

    let vendor_gross = 4 * XMR / 10;
    let commission = vendor_gross * COMMISSION_BPS / 10_000;
    assert_eq!(
        chain.wait_received(shop.account, vendor_minor, "vendor's part of the split"),
        vec![vendor_gross - commission]
    );
    let page = mine_until(&mut shop.buyer, &split, "confirmed");
    let fee = fees_on(&page)[0];
    assert_eq!(
        chain.received(shop.account, refund_minors[1]),
        vec![6 * XMR / 10]
    );
    assert_eq!(
        chain.received(shop.account, shop.fee.1),
        vec![commission - fee]
    );
}
