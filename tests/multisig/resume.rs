//! Crash safety and deadlines: souk killed between the arbiter's wallet call
//! and storing its result resumes from the wallet copy it made before the
//! call; the wallet-rpc children the killed souk left are stopped at the next
//! start; the payment to the agreed address is seen through the arbiter's
//! wallet with the configured confirmations; a participant who never comes
//! back lets the order expire.

use std::time::Duration;

use serde_json::json;

use crate::common::regtest::Regtest;
use crate::common::shop::{PASSWORD, Shop};
use crate::common::visitor::Browser;
use crate::common::{Opts, Souk};
use crate::setup::{
    Own, accepted, key_file, paste, refused, setup_page, shown_messages, souk_toml, wait_for,
};

fn alive(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            c.starts_with(b"monero-wallet-rpc") || c.windows(17).any(|w| w == b"monero-wallet-rpc")
        })
        .unwrap_or(false)
}

/// Stops, by PID, wallet-rpc children a killed souk left, if the test fails
/// before the restarted souk does it.
struct Orphans(Vec<i32>);

impl Drop for Orphans {
    fn drop(&mut self) {
        for pid in &self.0 {
            if alive(*pid)
                && let Some(p) = rustix::process::Pid::from_raw(*pid)
            {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

#[test]
fn a_killed_souk_resumes_the_setup_the_payment_is_seen_and_an_abandoned_one_expires() {
    let chain = Regtest::start(2);
    let key = key_file(&chain);
    let mut shop = Shop::start_with(&souk_toml(&chain, &key));
    let mut vendor = shop.vendor("vic");
    let mut buyer = shop.buyer("bea");
    let listing = shop.listing(&mut vendor, "A lamp", "2", "5");
    let pid = shop.order(&mut buyer, listing, "Street 2");
    let abandoned = shop.order(&mut buyer, listing, "Street 2");
    let (b_rpc, v_rpc) = (chain.wallet(0), chain.wallet(1));
    for (rpc, name) in [(b_rpc, "bea-escrow"), (v_rpc, "vic-escrow")] {
        rpc.rpc(
            "create_wallet",
            json!({"filename": name, "password": "", "language": "English"}),
        )
        .unwrap();
    }
    let (b, v) = (Own { rpc: b_rpc }, Own { rpc: v_rpc });
    accepted(&paste(&mut buyer, &abandoned, &b.prepare()));
    accepted(&paste(&mut buyer, &pid, &b.prepare()));
    accepted(&paste(&mut vendor, &pid, &v.prepare()));
    wait_for(&shop, &mut buyer, &pid, "Round 2 of 4");

    // The crash: souk dies right after the arbiter's make_multisig returned and
    // before its result was stored. The database then still says round 1 with
    // the call claimed; the wallet file is already multisig.
    let order_id = shop.order_id(&pid);
    let data = shop.souk.data_dir();
    let wallets = data.join("multisig-wallets");
    let children: Vec<i32> = (0..2)
        .filter_map(|i| std::fs::read_to_string(wallets.join(format!("wallet-rpc-{i}.pid"))).ok())
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    assert_eq!(children.len(), 2, "souk records its children");
    let _orphans = Orphans(children.clone());
    shop.souk.signal(rustix::process::Signal::KILL);
    shop.souk
        .wait_exit(Duration::from_secs(10))
        .expect("souk was killed");
    assert!(
        children.iter().all(|p| alive(*p)),
        "a killed souk leaves its children"
    );
    shop.exec(&format!(
        "DELETE FROM multisig_messages WHERE order_id = {order_id} AND participant = 'arbiter' AND round = 2;
         UPDATE multisig_escrows SET state = 'kex1', pending_call = 'make' WHERE order_id = {order_id};"
    ));
    // The buyer's other order: the vendor never came back and the window ended.
    shop.exec(&format!(
        "UPDATE orders SET payment_deadline = 1 WHERE public_id = '{abandoned}'"
    ));

    let dir = std::mem::replace(&mut shop.souk.dir, tempfile::tempdir().unwrap());
    shop.souk = Souk::start_in(
        dir,
        Opts {
            extra_toml: souk_toml(&chain, &key),
            ..Opts::default()
        },
    );
    assert!(
        children.iter().all(|p| !alive(*p)),
        "the restarted souk stopped the children the killed one left"
    );
    let mut buyer = Browser::new(shop.souk.shop);
    buyer.login("bea", PASSWORD);
    let mut vendor = Browser::new(shop.souk.shop);
    vendor.login("vic", PASSWORD);

    // Resumed: the arbiter's wallet was put back and make_multisig ran again.
    let page = wait_for(&shop, &mut buyer, &pid, "Round 2 of 4");
    assert_eq!(
        shop.text(&format!(
            "SELECT coalesce(pending_call, 'none') FROM multisig_escrows WHERE order_id = {order_id}"
        )),
        "none"
    );
    let b2 = b.make(&shown_messages(&page));
    let v2 = v.make(&shown_messages(&setup_page(&mut vendor, &pid)));
    accepted(&paste(&mut buyer, &pid, &b2));
    accepted(&paste(&mut vendor, &pid, &v2));
    let page = wait_for(&shop, &mut buyer, &pid, "Round 3 of 4");
    let (b3, _) = b.exchange(&shown_messages(&page));
    let (v3, _) = v.exchange(&shown_messages(&setup_page(&mut vendor, &pid)));
    accepted(&paste(&mut buyer, &pid, &b3));
    accepted(&paste(&mut vendor, &pid, &v3));
    let page = wait_for(&shop, &mut buyer, &pid, "Round 4 of 4");
    let (_, b_addr) = b.exchange(&shown_messages(&page));
    let (_, v_addr) = v.exchange(&shown_messages(&setup_page(&mut vendor, &pid)));
    accepted(&paste(&mut buyer, &pid, &b_addr));
    accepted(&paste(&mut vendor, &pid, &v_addr));
    wait_for(&shop, &mut vendor, &pid, "Set up: waiting for payment").expect_text(&b_addr);
    assert_eq!(shop.order_state(&pid), "awaiting_payment");

    // Funding: the buyer pays the multisig address from an ordinary wallet; souk
    // sees it through the arbiter's wallet once it has the confirmations.
    let funder = b_rpc.create_wallet("funder");
    chain.daemon.mine(75, &funder);
    b_rpc.refresh();
    let total = u64::try_from(shop.i64(&format!(
        "SELECT total_piconero FROM orders WHERE public_id = '{pid}'"
    )))
    .unwrap();
    b_rpc
        .rpc(
            "transfer",
            json!({"destinations": [{"amount": total, "address": b_addr}], "priority": 0}),
        )
        .unwrap();
    chain.daemon.mine(1, &funder);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        shop.order_state(&pid),
        "awaiting_payment",
        "one confirmation is not enough"
    );
    chain.daemon.mine(1, &funder);
    // The arbiter's wallet sees it on its next refresh (wallet-rpc refreshes every
    // 20 s) and the job's next turn; a loaded CI machine needs more than a minute.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while shop.order_state(&pid) != "paid" {
        assert!(
            std::time::Instant::now() < deadline,
            "the payment was never seen:\n{}",
            shop.souk.stderr()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    wait_for(&shop, &mut vendor, &pid, "Funded");

    let release_started = std::time::Instant::now();
    // Release: the vendor's payout address (a subaddress of the funder's
    // wallet, so the test can see what arrives), shipped, finalized.
    let sub = b_rpc
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "vic payout"}),
        )
        .unwrap();
    let payout_address = sub["address"].as_str().unwrap().to_owned();
    let payout_index = sub["address_index"].as_u64().unwrap();
    let r = vendor.post_form("/sell/payout-address", &[("address", &payout_address)]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = vendor.post_form(&format!("/orders/{pid}/action"), &[("action", "ship")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = buyer.post_form(&format!("/orders/{pid}/action"), &[("action", "finalize")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(shop.order_state(&pid), "completed");
    // Multisig outputs spend after 10 confirmations.
    chain.daemon.mine(10, &funder);
    let (arbiter_info, txset) = crate::payout::cosign_through_page(
        &shop,
        &mut vendor,
        &pid,
        v_rpc,
        "Payout: Release to the vendor",
    );
    assert!(!arbiter_info.is_empty());
    let signed = v_rpc
        .rpc("sign_multisig", json!({"tx_data_hex": txset}))
        .unwrap();
    let hash = signed["tx_hash_list"][0].as_str().unwrap().to_owned();
    refused(
        &crate::payout::paste_payout(&mut vendor, &pid, "signed_set", &txset),
        422,
        "run sign_multisig on it",
    );
    accepted(&crate::payout::paste_payout(
        &mut vendor,
        &pid,
        "signed_set",
        signed["tx_data_hex"].as_str().unwrap(),
    ));
    wait_for(&shop, &mut buyer, &pid, "id=\"payout-tx\"").expect_text(&hash);
    chain.daemon.mine(2, &funder);
    wait_for(&shop, &mut vendor, &pid, "Paid out");
    b_rpc.refresh();
    let got: u64 = b_rpc
        .rpc(
            "get_transfers",
            json!({"in": true, "account_index": 0, "subaddr_indices": [payout_index]}),
        )
        .unwrap()["in"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["txid"].as_str() == Some(hash.as_str()))
        .map(|t| t["amount"].as_u64().unwrap())
        .sum();
    let fee = u64::try_from(shop.i64(&format!(
        "SELECT fee FROM multisig_payouts WHERE order_id = {order_id}"
    )))
    .unwrap();
    assert!(fee > 0 && fee < total / 100, "fee {fee}");
    assert_eq!(
        got,
        total - fee,
        "the vendor got the escrow minus the network fee"
    );
    assert_eq!(
        shop.text(&format!(
            "SELECT tx_hash FROM multisig_payouts WHERE order_id = {order_id}"
        )),
        hash
    );
    eprintln!("multisig release part took {:?}", release_started.elapsed());

    // The abandoned order expired at the restart, and its escrow with it.
    assert_eq!(shop.order_state(&abandoned), "expired");
    wait_for(&shop, &mut buyer, &abandoned, "Expired");
    refused(
        &paste(&mut vendor, &abandoned, "MultisigxV2R1abc"),
        409,
        "expired",
    );
}
