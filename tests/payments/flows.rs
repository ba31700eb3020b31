//! Paying for orders like a buyer does: exact, short then topped up, too much,
//! too little until the window closes, and too late.

use crate::common::regtest::stagenet_address;
use crate::support::{COMMISSION, Setup, Shop, XMR, chain, fees_on, mine_until, wait_page};

/// Exact payment, then completion. The vendor had not set a payout address:
/// the order page tells the vendor, the payout waits, and once the address is
/// set (bad ones refused with a clear message) the vendor receives the price
/// minus the commission and the operator the commission minus the network fee.
#[test]
fn exact_payment_pays_vendor_and_operator_once_the_payout_address_is_set() {
    let chain = chain();
    let mut shop = Shop::start("exact", Setup::default());
    let (order, address) = shop.order();
    let body = shop.buyer.get(&order).body;
    assert!(
        body.contains("<svg"),
        "the payment link as a QR code: {body}"
    );
    assert!(
        body.contains(&format!("monero:{address}?tx_amount=1")),
        "{body}"
    );
    assert!(body.contains("Pay before"), "the deadline: {body}");
    chain.pay(&address, XMR);
    wait_page(&mut shop.buyer, &order, "1 XMR seen", 60);
    chain.mine(10);
    wait_page(&mut shop.buyer, &order, "state-paid", 60);
    let r = Shop::act(&mut shop.vendor, &order, "ship");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = Shop::act(&mut shop.buyer, &order, "finalize");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("state-completed"), "{}", r.body);

    let page = shop.vendor.get(&order).body;
    assert!(page.contains("set your payout address"), "{page}");
    assert!(
        page.contains("waiting for the vendor&#39;s payout address"),
        "{page}"
    );

    // Bad addresses are refused with a message naming the problem; nothing is saved.
    let r = shop.set_payout_address(&chain.integrated());
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("Integrated addresses"), "{}", r.body);
    let other = stagenet_address(shop.souk.dir.path());
    let r = shop.set_payout_address(&other);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains(
            "That is a stagenet address, but this shop runs on mainnet: give a mainnet address."
        ),
        "{}",
        r.body
    );
    let r = shop.set_payout_address("not an address");
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("not a Monero address"), "{}", r.body);
    assert!(r.body.contains("Not set."), "{}", r.body);

    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    let r = shop.set_payout_address(&vendor_address);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("1 waiting payout(s)"), "{}", r.body);
    let to_vendor = chain.wait_received(shop.account, vendor_minor, "vendor payout");
    assert_eq!(to_vendor, vec![XMR - COMMISSION]);
    let page = mine_until(&mut shop.vendor, &order, "confirmed");
    let fees = fees_on(&page);
    assert_eq!(fees.len(), 1, "{page}");
    assert_eq!(
        chain.received(shop.account, shop.fee.1),
        vec![COMMISSION - fees[0]],
        "the operator receives the commission minus the network fee"
    );
    assert_eq!(
        chain.received(shop.account, vendor_minor),
        vec![XMR - COMMISSION],
        "exactly one payout"
    );
}

/// Two payments that add up: the page asks for the rest, then says paid.
#[test]
fn underpayment_then_top_up_becomes_paid() {
    let chain = chain();
    let mut shop = Shop::start("topup", Setup::default());
    let (order, address) = shop.order();
    chain.pay(&address, 4 * XMR / 10);
    wait_page(
        &mut shop.buyer,
        &order,
        "pay the remaining 0.6 XMR to the same address",
        60,
    );
    chain.mine(10);
    let body = wait_page(
        &mut shop.buyer,
        &order,
        "0.4 XMR seen, 0.4 XMR with 10 confirmations",
        60,
    );
    assert!(body.contains("state-awaiting_payment"), "{body}");
    chain.pay(&address, 6 * XMR / 10);
    wait_page(&mut shop.buyer, &order, "1 XMR seen", 60);
    chain.mine(10);
    let body = wait_page(&mut shop.buyer, &order, "state-paid", 60);
    assert!(body.contains("1 XMR with 10 confirmations"), "{body}");
    assert!(!body.contains("refund-form"), "nothing to refund: {body}");
}

/// Paying more than due: the buyer is asked for a refund address at once, and
/// when the order completes one transaction pays the vendor, the operator and
/// the excess back to the buyer.
#[test]
fn overpayment_excess_is_refunded_when_the_order_ends() {
    let chain = chain();
    let mut shop = Shop::start("over", Setup::default());
    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    assert_eq!(shop.set_payout_address(&vendor_address).status, 200);
    let (order, address) = shop.order();
    chain.pay(&address, 13 * XMR / 10);
    chain.mine(10);
    let body = wait_page(&mut shop.buyer, &order, "state-paid", 60);
    assert!(body.contains("refund-form"), "{body}");
    let (refund, refund_minor) = chain.receiver(shop.account, "buyer");
    let r = shop.give_refund_address(&order, &refund);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains(&format!("id=\"refund-address\">{refund}<")),
        "{}",
        r.body
    );
    assert!(!r.body.contains("refund-form"), "given once: {}", r.body);
    assert_eq!(Shop::act(&mut shop.vendor, &order, "ship").status, 200);
    assert_eq!(Shop::act(&mut shop.buyer, &order, "finalize").status, 200);
    assert_eq!(
        chain.wait_received(shop.account, vendor_minor, "vendor payout"),
        vec![XMR - COMMISSION]
    );
    let page = mine_until(&mut shop.buyer, &order, "confirmed");
    let fees = fees_on(&page);
    assert_eq!(fees.len(), 1, "{page}");
    assert_eq!(
        chain.received(shop.account, refund_minor),
        vec![3 * XMR / 10]
    );
    assert_eq!(
        chain.received(shop.account, shop.fee.1),
        vec![COMMISSION - fees[0]]
    );
}

/// A one-minute payment window. One order is under-paid and expires at the
/// deadline: its confirmed payment goes back to the refund address the buyer
/// gives on the expired order's page (bad input refused, nothing lost). The
/// other expires unpaid and is paid afterwards: the late payment is recorded
/// and refunded the same way.
#[test]
fn underpaid_and_late_payments_are_refunded_after_expiry() {
    let chain = chain();
    let mut shop = Shop::start(
        "expiry",
        Setup {
            window_minutes: Some(1),
            ..Setup::default()
        },
    );
    let (short, short_address) = shop.order();
    let (late, late_address) = shop.order();
    chain.pay(&short_address, 4 * XMR / 10);
    chain.mine(10);
    wait_page(&mut shop.buyer, &short, "0.4 XMR with 10 confirmations", 60);
    let body = wait_page(&mut shop.buyer, &short, "state-expired", 150);
    assert!(body.contains("refund-form"), "{body}");
    let (refund, refund_minor) = chain.receiver(shop.account, "buyer-short");
    // One character mistyped: the wallet's checksum catches it.
    let typo = format!(
        "{}{}",
        &refund[..90],
        if &refund[90..91] == "A" { "B" } else { "A" }
    ) + &refund[91..];
    let r = shop.give_refund_address(&short, &typo);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains("Refund address: That is not a Monero address"),
        "{}",
        r.body
    );
    assert!(r.body.contains(&typo), "the input is kept: {}", r.body);
    let r = shop.give_refund_address(&short, &refund);
    assert_eq!(r.status, 200, "{}", r.body);
    let got = chain.wait_received(shop.account, refund_minor, "refund of the under-payment");
    let page = mine_until(&mut shop.buyer, &short, "confirmed");
    let fees = fees_on(&page);
    assert_eq!(got, vec![4 * XMR / 10 - fees[0]], "{page}");

    // The unpaid order expired too; now the buyer pays it anyway.
    let body = wait_page(&mut shop.buyer, &late, "state-expired", 60);
    assert!(
        !body.contains("refund-form"),
        "nothing received yet: {body}"
    );
    chain.pay(&late_address, 5 * XMR / 10);
    chain.mine(10);
    let body = wait_page(&mut shop.buyer, &late, "0.5 XMR with 10 confirmations", 60);
    assert!(body.contains("refund-form"), "{body}");
    let (refund, refund_minor) = chain.receiver(shop.account, "buyer-late");
    assert_eq!(shop.give_refund_address(&late, &refund).status, 200);
    let got = chain.wait_received(shop.account, refund_minor, "refund of the late payment");
    let page = mine_until(&mut shop.buyer, &late, "confirmed");
    let fees = fees_on(&page);
    assert_eq!(got, vec![5 * XMR / 10 - fees[0]], "{page}");
}
