//! Things going wrong: the wallet-rpc stopped mid-flow, souk killed between the
//! wallet relaying a payout and souk recording it, and a hundred racing releases.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use crate::support::{
    COMMISSION, Setup, Shop, XMR, auto_refresh, chain, guard_wallet, mine_until, wait_page,
};

/// The shop's wallet-rpc is stopped while the buyer pays and again while the
/// order is finalized. Pages keep working, nothing is lost: once it is back
/// the payment is seen, the order becomes paid, and the vendor is paid once.
#[test]
fn wallet_rpc_stopped_mid_flow_loses_nothing() {
    let chain = chain();
    let mut shop = Shop::start("wallet-down", Setup::default());
    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    assert_eq!(shop.set_payout_address(&vendor_address).status, 200);
    let (order, address) = shop.order();
    shop.wallet.stop();
    chain.pay(&address, XMR);
    chain.mine(10);
    std::thread::sleep(Duration::from_secs(3));
    let body = shop.buyer.get(&order).body;
    assert!(body.contains("state-awaiting_payment"), "{body}");
    shop.wallet.restart();
    guard_wallet(&shop.wallet);
    shop.wallet.open_wallet(&shop.wallet_name);
    auto_refresh(&shop.wallet);
    wait_page(&mut shop.buyer, &order, "state-paid", 90);
    assert_eq!(Shop::act(&mut shop.vendor, &order, "ship").status, 200);

    shop.wallet.stop();
    let started = std::time::Instant::now();
    let r = Shop::act(&mut shop.buyer, &order, "finalize");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("state-completed"), "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "finalizing does not hang on the wallet"
    );
    assert!(r.body.contains("being prepared"), "{}", r.body);
    shop.wallet.restart();
    guard_wallet(&shop.wallet);
    shop.wallet.open_wallet(&shop.wallet_name);
    auto_refresh(&shop.wallet);
    assert_eq!(
        chain.wait_received(
            shop.account,
            vendor_minor,
            "vendor payout after the restart"
        ),
        vec![XMR - COMMISSION]
    );
    mine_until(&mut shop.vendor, &order, "confirmed");
    assert_eq!(
        chain.received(shop.account, vendor_minor),
        vec![XMR - COMMISSION]
    );
}

/// Crash injection (debug builds): souk kills itself with SIGKILL right after
/// the wallet relayed the payout and before souk recorded it. After a restart
/// reconciliation finds the transaction by its hash: exactly one payout on
/// chain, and the order page shows it confirmed with that hash.
#[test]
fn souk_killed_after_relay_before_recording_pays_exactly_once() {
    let chain = chain();
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = marker_dir.path().join("relayed");
    let mut shop = Shop::start(
        "crash",
        Setup {
            env: vec![(
                "PAYFLOW_FAULT_AFTER_RELAY".to_owned(),
                marker.to_str().unwrap().to_owned(),
            )],
            ..Setup::default()
        },
    );
    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    assert_eq!(shop.set_payout_address(&vendor_address).status, 200);
    let (order, address) = shop.order();
    chain.pay(&address, XMR);
    chain.mine(10);
    wait_page(&mut shop.buyer, &order, "state-paid", 60);
    assert_eq!(Shop::act(&mut shop.vendor, &order, "ship").status, 200);
    // The finalize request itself pays out, so the connection dies with souk.
    let mut buyer = shop.buyer.clone();
    buyer.get(&order);
    let path = format!("{order}/action");
    let finalize = std::thread::spawn(move || {
        buyer.post_form_no_follow(&path, &[("action", "finalize")]);
    });
    let status = shop
        .souk
        .wait_exit(Duration::from_secs(30))
        .expect("souk killed itself after the relay");
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let _ = finalize.join();
    let hash = std::fs::read_to_string(&marker).unwrap();
    assert_eq!(hash.len(), 64);
    let db = rusqlite::Connection::open(shop.souk.data_dir().join("souk.db")).unwrap();
    let (state, recorded): (String, String) = db
        .query_row("SELECT state, tx_hash FROM payout_intents", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (state.as_str(), recorded.as_str()),
        ("signed", hash.as_str()),
        "the relay was not recorded"
    );
    drop(db);

    shop.restart_souk();
    let page = mine_until(&mut shop.buyer, &order, "confirmed");
    assert!(page.contains("state-completed"), "{page}");
    assert!(page.contains(&hash), "the same transaction: {page}");
    assert_eq!(
        chain.received(shop.account, vendor_minor),
        vec![XMR - COMMISSION],
        "exactly one payout"
    );
}

/// A hundred "release the payment" requests for one order at once: one
/// finalizes, the others are told the order changed, and one payout is made.
#[test]
fn hundred_concurrent_releases_make_one_payout() {
    let chain = chain();
    let mut shop = Shop::start("race", Setup::default());
    let (vendor_address, vendor_minor) = chain.receiver(shop.account, "vendor");
    assert_eq!(shop.set_payout_address(&vendor_address).status, 200);
    let (order, address) = shop.order();
    chain.pay(&address, XMR);
    chain.mine(10);
    wait_page(&mut shop.buyer, &order, "state-paid", 60);
    assert_eq!(Shop::act(&mut shop.vendor, &order, "ship").status, 200);
    shop.buyer.get(&order);
    let path = format!("{order}/action");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let mut b = shop.buyer.clone();
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                b.post_form_no_follow(&path, &[("action", "finalize")])
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = tasks.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        99,
        "{statuses:?}"
    );
    assert_eq!(
        chain.wait_received(shop.account, vendor_minor, "vendor payout"),
        vec![XMR - COMMISSION]
    );
    let page = mine_until(&mut shop.vendor, &order, "confirmed");
    assert_eq!(page.matches("to the vendor").count(), 1, "{page}");
    assert_eq!(
        chain.received(shop.account, vendor_minor),
        vec![XMR - COMMISSION]
    );
}
