//! Managed escrow against a real regtest chain. Mining costs about 0.3 s a block
//! and coinbase outputs unlock after 60 blocks (75 for ring size 16), so each
//! test mines once and checks as much as a user would check on that chain.

mod common;

use std::time::Duration;

use common::regtest::{Regtest, WalletRpc};
use common::storefront::*;
use common::{Opts, Souk};
use serde_json::json;
use souk::config::Network;
use souk::config::monero::{Endpoint, read_login_file};
use souk::monero::{Destination, RpcClient, Target, Timeouts, WalletClient};

/// souk's own wallet client for a harness wallet-rpc (digest login from a 0600 file).
fn souk_client(w: &WalletRpc, dir: &std::path::Path) -> WalletClient {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join(format!("login-{}", w.addr.port()));
    std::fs::write(&file, w.login_line()).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let login = read_login_file("monero.wallet_login_file", &file).unwrap();
    let ep = Endpoint::parse("monero.wallet_url", &w.url()).unwrap();
    WalletClient::new(RpcClient::new(
        Target::Wallet,
        &ep,
        Some(login),
        Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(30),
        },
    ))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The wallet calls escrow is built on, each checked on chain: a labelled
/// subaddress receives a payment seen in the pool then confirmed (one query for
/// all watched subaddresses); a payout built without relaying is unknown to the
/// network until relayed, and relaying keeps its hash; addresses are judged by network.
#[test]
fn wallet_calls_for_escrow_work_on_regtest() {
    let chain = Regtest::start(2);
    let (shop_rpc, customer) = (chain.wallet(0), chain.wallet(1));
    let customer_address = customer.create_wallet("customer");
    let shop_address = shop_rpc.create_wallet("shop");
    chain.daemon.mine(75, &customer_address);
    customer.refresh();
    let shop = souk_client(shop_rpc, chain.dir.path());

    block_on(async {
        let sub = shop.create_address("order-abc").await.unwrap();
        assert_eq!(sub.address_index, 1);
        assert_ne!(sub.address, shop_address);
        let other = shop.create_address("order-def").await.unwrap();
        assert_eq!(other.address_index, 2);

        // Addresses: this chain's own are fine; junk and integrated ones are refused.
        assert_eq!(
            shop.check_address(&sub.address, Network::Regtest)
                .await
                .unwrap(),
            Ok(())
        );
        let e = shop
            .check_address(&sub.address, Network::Stagenet)
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.contains("mainnet address"), "{e}");
        assert!(
            shop.check_address("4notanaddress", Network::Regtest)
                .await
                .unwrap()
                .is_err()
        );

        // The customer pays 1.5 XMR to the first subaddress: in the pool first.
        let paid = 1_500_000_000_000u64;
        customer
            .rpc(
                "transfer",
                json!({"destinations": [{"amount": paid, "address": sub.address}], "priority": 0}),
            )
            .unwrap();
        shop_rpc.refresh();
        let seen = shop.incoming_transfers(&[1, 2]).await.unwrap();
        assert!(seen.confirmed.is_empty(), "{seen:?}");
        assert_eq!(seen.pool.len(), 1, "{seen:?}");
        assert_eq!(
            (seen.pool[0].amount, seen.pool[0].subaddr_index.minor),
            (paid, 1)
        );
        let txid = seen.pool[0].txid.clone();

        // Ten blocks: confirmed and spendable.
        chain.daemon.mine(10, &customer_address);
        shop_rpc.refresh();
        let seen = shop.incoming_transfers(&[1, 2]).await.unwrap();
        assert!(seen.pool.is_empty(), "{seen:?}");
        assert_eq!(seen.confirmed.len(), 1);
        let t = &seen.confirmed[0];
        assert_eq!((&t.txid, t.amount, t.confirmations), (&txid, paid, 10));
        assert!(
            shop.incoming_transfers(&[2])
                .await
                .unwrap()
                .confirmed
                .is_empty()
        );

        // A payout built but not relayed: the wallet and the network know nothing.
        let out = shop
            .transfer_unrelayed(&[Destination {
                amount: 1_000_000_000_000,
                address: customer_address.clone(),
            }])
            .await
            .unwrap();
        assert_eq!(out.tx_hash.len(), 64);
        assert_eq!(out.tx_key.len(), 64);
        assert!(out.fee > 0 && !out.tx_metadata.is_empty());
        assert!(shop.transfer_by_txid(&out.tx_hash).await.unwrap().is_none());
        chain.daemon.mine(1, &customer_address);
        customer.refresh();
        assert!(received(customer, &out.tx_hash).is_empty());

        // Relayed from its metadata: same hash, pending, then out with a confirmation.
        let hash = shop.relay_tx(&out.tx_metadata).await.unwrap();
        assert_eq!(hash, out.tx_hash);
        let pending = shop.transfer_by_txid(&hash).await.unwrap().unwrap();
        assert_eq!(
            (pending.kind.as_str(), pending.confirmations),
            ("pending", 0)
        );
        // Relaying the same metadata again (reconciliation after a crash) is
        // accepted and names the same transaction: it cannot pay twice.
        assert_eq!(shop.relay_tx(&out.tx_metadata).await.unwrap(), hash);
        chain.daemon.mine(1, &shop_address);
        shop_rpc.refresh();
        customer.refresh();
        let done = shop.transfer_by_txid(&hash).await.unwrap().unwrap();
        assert_eq!((done.kind.as_str(), done.confirmations), ("out", 1));
        assert_eq!(done.fee, out.fee);
        let received = received(customer, &hash);
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["amount"], 1_000_000_000_000u64);
    });
}

/// The transfers `wallet` received (or sees in the pool) in transaction `txid`.
fn received(wallet: &WalletRpc, txid: &str) -> Vec<serde_json::Value> {
    let got = wallet
        .rpc("get_transfers", json!({"in": true, "pool": true}))
        .unwrap();
    ["in", "pool"]
        .iter()
        .filter_map(|k| got[*k].as_array())
        .flatten()
        .filter(|t| t["txid"] == txid)
        .cloned()
        .collect()
}

/// A shop database with a vendor, a buyer and a 1 XMR listing.
struct Shop {
    db: souk::store::Db,
    vendor: souk::market::auth::Viewer,
    buyer: souk::market::auth::Viewer,
    listing_id: i64,
    _dir: tempfile::TempDir,
}

async fn person(db: &souk::store::Db, name: &str, vendor: bool) -> souk::market::auth::Viewer {
    use souk::store::accounts;
    let name = name.to_owned();
    let id = db
        .write(move |c| {
            let tx = c.transaction()?;
            let id = accounts::insert(&tx, &name, "!", 1)?.unwrap();
            if vendor {
                accounts::grant_role(&tx, id, "vendor", None, 1)?;
            }
            tx.commit()?;
            Ok(id)
        })
        .await
        .unwrap();
    let token = souk::market::auth::start_session(db, id).await.unwrap();
    souk::market::auth::viewer_from_cookie(db, &token)
        .await
        .unwrap()
        .unwrap()
}

impl Shop {
    async fn new() -> Self {
        use souk::store::listings::{self, ListingFields};
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = souk::store::Db::open(&dir.path().join("souk.db")).unwrap();
        let vendor = person(&db, "vendor", true).await;
        let buyer = person(&db, "buyer", false).await;
        let vendor_id = vendor.account_id;
        let listing_id = db
            .write(move |c| {
                listings::upsert_category(c, "goods", "Goods", 0)?;
                let category_id = listings::categories(c)?[0].id;
                let fields = ListingFields {
                    category_id,
                    title: "A fine thing".to_owned(),
                    description: "It is fine.".to_owned(),
                    price: XMR as i64,
                    stock: 100,
                    delivery: vec![("Post".to_owned(), 0)],
                };
                listings::insert(c, vendor_id, &fields, 1)
            })
            .await
            .unwrap();
        Self {
            db,
            vendor,
            buyer,
            listing_id,
            _dir: dir,
        }
    }

    /// Places an order with the managed escrow: a payment request on a fresh
    /// subaddress of the shop wallet; returns (order id, address, subaddress index).
    async fn order_with_request(
        &self,
        engine: &souk::market::escrow::SharedEscrow,
    ) -> (i64, String, u32) {
        use souk::market::orders::{self, OrderInput, Timing};
        let option = {
            let id = self.listing_id;
            self.db
                .read(move |c| Ok(souk::store::listings::get(c, id)?.unwrap().delivery[0].id))
                .await
                .unwrap()
        };
        let input = OrderInput {
            listing_id: self.listing_id,
            quantity: "1".to_owned(),
            delivery_option: option.to_string(),
            delivery_note: "1 Main Street".to_owned(),
        };
        let pid = orders::place(&self.db, engine, Timing::default(), &self.buyer, &input)
            .await
            .unwrap();
        let p = pid.clone();
        let id = self
            .db
            .read(move |c| Ok(souk::store::orders::by_public_id(c, &p)?.unwrap().id))
            .await
            .unwrap();
        let req = self
            .db
            .read(move |c| souk::store::escrow::payment_request(c, id))
            .await
            .unwrap()
            .expect("placing the order opened a payment request");
        assert_eq!(
            (req.amount_due, req.confirmations, req.commission_bps),
            (XMR as i64, 10, COMMISSION_BPS)
        );
        let state = self
            .db
            .read(move |c| Ok(souk::store::orders::by_id(c, id)?.unwrap().state))
            .await
            .unwrap();
        assert_eq!(state.as_str(), "awaiting_payment");
        (id, req.address, req.subaddress_index as u32)
    }
}

const XMR: u64 = 1_000_000_000_000;
const COMMISSION_BPS: i64 = 250;

/// Managed escrow on chain. Two orders are placed through the engine (a
/// subaddress each); the watcher sees the payments in the pool with one call,
/// and marks the orders paid at ten confirmations, not nine. Both are finalized. For one, souk "dies"
/// after the wallet's transaction was recorded and relayed but before the relay
/// was recorded; reconciliation relays it again and exactly one payout reaches
/// the vendor and the operator. For the other, 100 concurrent payout requests
/// from four independent payers (as if four processes) make exactly one payout.
#[test]
fn payouts_happen_exactly_once_across_crashes_and_races() {
    use souk::escrow::managed::{ManagedEscrow, Terms};
    use souk::escrow::payout::Payouts;
    use souk::escrow::watcher::watch_once;
    use souk::market::orders::{self, Action, Timing};
    use souk::store::escrow as store;

    let chain = Regtest::start(2);
    let (shop_rpc, customer) = (chain.wallet(0), chain.wallet(1));
    let customer_address = customer.create_wallet("customer");
    shop_rpc.create_wallet("shop");
    chain.daemon.mine(75, &customer_address);
    customer.refresh();
    // The vendor's payout address and the operator's fee address are
    // subaddresses of the customer's wallet, so one wallet-rpc reads both.
    let vendor_sub = customer
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "vendor"}),
        )
        .unwrap();
    let fee_sub = customer
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "operator"}),
        )
        .unwrap();
    let vendor_address = vendor_sub["address"].as_str().unwrap().to_owned();
    let fee_address = fee_sub["address"].as_str().unwrap().to_owned();
    let wallet = std::sync::Arc::new(souk_client(shop_rpc, chain.dir.path()));
    let rt = tokio::runtime::Runtime::new().unwrap();

    rt.block_on(async {
        let shop = Shop::new().await;
        let vendor_id = shop.vendor.account_id;
        let va = vendor_address.clone();
        shop.db
            .write(move |c| store::set_payout_address(c, vendor_id, &va))
            .await
            .unwrap();
        let payouts = std::sync::Arc::new(Payouts::new(
            shop.db.clone(),
            wallet.clone(),
            &fee_address,
            10,
        ));
        let engine: souk::market::escrow::SharedEscrow =
            Some(std::sync::Arc::new(ManagedEscrow::new(
                shop.db.clone(),
                wallet.clone(),
                Timing::default(),
                Terms {
                    confirmations: 10,
                    commission_bps: COMMISSION_BPS as u32,
                    network: Network::Regtest,
                },
                payouts,
            )));
        let (a, a_addr, a_index) = shop.order_with_request(&engine).await;
        let (b, b_addr, b_index) = shop.order_with_request(&engine).await;
        assert_ne!(a_index, b_index);
        for addr in [&a_addr, &b_addr] {
            customer
                .rpc(
                    "transfer",
                    json!({"destinations": [{"amount": XMR, "address": addr}], "priority": 0}),
                )
                .unwrap();
        }
        // The watcher sees both in the pool (one call for all), not yet paid.
        shop_rpc.refresh();
        let cycle = watch_once(&shop.db, &wallet, Timing::default())
            .await
            .unwrap();
        assert_eq!((cycle.watched, cycle.transfers, cycle.paid), (2, 2, 0));
        // Nine confirmations: still not paid; ten: paid, and spendable by the shop.
        chain.daemon.mine(9, &customer_address);
        shop_rpc.refresh();
        let cycle = watch_once(&shop.db, &wallet, Timing::default())
            .await
            .unwrap();
        assert_eq!(cycle.paid, 0);
        chain.daemon.mine(1, &customer_address);
        shop_rpc.refresh();
        let cycle = watch_once(&shop.db, &wallet, Timing::default())
            .await
            .unwrap();
        assert_eq!(cycle.paid, 2);
        for id in [a, b] {
            let pid = shop
                .db
                .read(move |c| Ok(souk::store::orders::by_id(c, id)?.unwrap().public_id))
                .await
                .unwrap();
            orders::act(
                &shop.db,
                Timing::default(),
                &shop.vendor,
                &pid,
                Action::Ship,
            )
            .await
            .unwrap();
            orders::act(
                &shop.db,
                Timing::default(),
                &shop.buyer,
                &pid,
                Action::Finalize,
            )
            .await
            .unwrap();
        }
        let intents = |id: i64| {
            let db = shop.db.clone();
            async move { db.read(move |c| store::intents_of(c, id)).await.unwrap() }
        };
        let commission = XMR * COMMISSION_BPS as u64 / 10_000;

        // Order A: sign, then relay behind souk's back and "crash" before recording it.
        let payer = Payouts::new(shop.db.clone(), wallet.clone(), &fee_address, 10);
        let pending = intents(a).await;
        assert_eq!(pending.len(), 1);
        assert!(payer.step(&pending[0]).await.unwrap());
        let signed = intents(a).await.remove(0);
        assert_eq!(signed.state, "signed");
        let hash = signed.tx_hash.clone().unwrap();
        assert_eq!(
            wallet
                .relay_tx(signed.tx_metadata.as_deref().unwrap())
                .await
                .unwrap(),
            hash
        );
        // Restart: reconciliation finds the signed intent and finishes it.
        let restarted = Payouts::new(shop.db.clone(), wallet.clone(), &fee_address, 10);
        restarted.reconcile().await.unwrap();
        let relayed = intents(a).await.remove(0);
        assert_eq!(
            (relayed.state.as_str(), relayed.tx_hash.as_deref()),
            ("relayed", Some(hash.as_str()))
        );
        let fee_a = relayed.fee.unwrap() as u64;
        assert!(fee_a > 0);

        // Order B: 100 concurrent requests through four independent payers.
        let payers: Vec<_> = (0..4)
            .map(|_| {
                std::sync::Arc::new(Payouts::new(
                    shop.db.clone(),
                    std::sync::Arc::new(souk_client(shop_rpc, chain.dir.path())),
                    &fee_address,
                    10,
                ))
            })
            .collect();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let p = payers[i % 4].clone();
            tasks.push(tokio::spawn(async move { p.pay_order(b).await.is_ok() }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let all_b = intents(b).await;
        assert_eq!(all_b.len(), 1);
        assert_eq!(all_b[0].state, "relayed", "{:?}", all_b[0]);
        let fee_b = all_b[0].fee.unwrap() as u64;

        // Ten more blocks: final, and each recipient holds exactly one payout per order.
        chain.daemon.mine(10, &customer_address);
        shop_rpc.refresh();
        restarted.reconcile().await.unwrap();
        for id in [a, b] {
            assert_eq!(intents(id).await[0].state, "confirmed");
        }
        customer.refresh();
        let got = customer
            .rpc(
                "get_transfers",
                json!({"in": true, "pool": true, "account_index": 0, "subaddr_indices": [
                    vendor_sub["address_index"], fee_sub["address_index"]]}),
            )
            .unwrap();
        let mut to_vendor = Vec::new();
        let mut to_operator = Vec::new();
        for t in got["in"].as_array().unwrap() {
            let amount = t["amount"].as_u64().unwrap();
            if t["subaddr_index"]["minor"] == vendor_sub["address_index"] {
                to_vendor.push(amount);
            } else {
                to_operator.push(amount);
            }
        }
        assert!(got["pool"].as_array().is_none_or(|p| p.is_empty()), "{got}");
        assert_eq!(to_vendor, vec![XMR - commission; 2]);
        to_operator.sort_unstable();
        let mut want = vec![commission - fee_a, commission - fee_b];
        want.sort_unstable();
        assert_eq!(to_operator, want, "the operator pays the network fees");
        // The shop keeps nothing of either order: only the two payments' dust of change.
        let (balance, _) = shop_rpc.balance();
        assert_eq!(
            balance, 0,
            "the shop wallet holds nothing once both orders are paid out"
        );
    });
}

/// Through the real binary and its HTML forms: a buyer orders, the order page
/// shows its own subaddress and the exact amount (as a `monero:` link too), the
/// buyer pays it from a real wallet, and the page says paid after ten
/// confirmations (the watcher runs in souk every second).
#[test]
fn a_buyer_pays_the_address_on_the_order_page_and_the_order_becomes_paid() {
    use common::browser::Browser;
    let chain = Regtest::start(2);
    let (shop_rpc, customer) = (chain.wallet(0), chain.wallet(1));
    let customer_address = customer.create_wallet("customer");
    shop_rpc.create_wallet("shop");
    chain.daemon.mine(75, &customer_address);
    customer.refresh();
    let souk = Souk::start(Opts {
        extra_toml: format!(
            "{}\n[market]\nopen_vendor_signup = true\n[escrow]\nwatcher_interval_secs = 1\ncommission_bps = 250\n",
            chain.souk_toml("wallet.login", 1)
        ),
        files: vec![(
            "wallet.login".to_owned(),
            format!("{}\n", shop_rpc.login_line()),
            0o600,
        )],
        ..Opts::default()
    });
    goods_category(&souk);
    let (mut vendor, listing) = vendor_with_teapot(
        &souk,
        "correct horse battery",
        Teapot {
            price: "0.5",
            stock: "50",
            delivery: "0.012345678901",
        },
    );

    let mut buyer = Browser::new(souk.shop);
    buyer.register("buyer", "correct horse battery");
    let r = order_one(&mut buyer, &listing, "Flat 3, 1 Harbour Road");
    let order_path = buyer.path.clone();
    assert!(r.body.contains("Pay exactly"), "{}", r.body);
    let address = between(
        &r.body,
        "To this address</dt><dd><code class=\"address\">",
        "<",
    );
    assert_eq!(address.len(), 95);
    assert!(address.starts_with('8'), "a subaddress: {address}");
    assert!(
        r.body
            .contains(&format!("monero:{address}?tx_amount=0.512345678901")),
        "{}",
        r.body
    );

    customer
        .rpc(
            "transfer",
            json!({"destinations": [{"amount": 512_345_678_901u64, "address": address}], "priority": 0}),
        )
        .unwrap();
    let wait_for = |b: &mut Browser, text: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let p = b.get(&order_path);
            if p.body.contains(text) {
                return p.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} on:\n{}",
                p.body
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    // Seen in the pool, not yet paid.
    let body = wait_for(
        &mut buyer,
        "0.512345678901 XMR seen, 0 XMR with 10 confirmations",
    );
    assert!(body.contains("Awaiting payment"), "{body}");
    chain.daemon.mine(10, &customer_address);
    wait_for(
        &mut buyer,
        "0.512345678901 XMR seen, 0.512345678901 XMR with 10 confirmations",
    );
    let body = wait_for(&mut buyer, "state-paid");
    assert!(!body.contains("To this address"), "{body}");

    // The vendor sets the payout address in the settings form: junk is refused
    // with a clear message and the input kept; a subaddress of a real wallet is saved.
    let vendor_sub = customer
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "vendor"}),
        )
        .unwrap();
    let vendor_address = vendor_sub["address"].as_str().unwrap().to_owned();
    let junk = format!("8{}", &vendor_address[1..94]);
    let r = vendor.post_form("/sell/payout-address", &[("address", &junk)]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("not a Monero address"), "{}", r.body);
    assert!(r.body.contains(&junk), "the input is kept: {}", r.body);
    let r = vendor.post_form("/sell/payout-address", &[("address", &vendor_address)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("id=\"current-payout-address\">{vendor_address}<")),
        "{}",
        r.body
    );
    let r = vendor.post_form(&format!("{order_path}/action"), &[("action", "ship")]);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = buyer.post_form(&format!("{order_path}/action"), &[("action", "finalize")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("state-completed"), "{}", r.body);
    // The payout job pays the vendor: price minus 2.5 % commission (kept in the
    // shop's wallet, which also pays the network fee from it).
    let total = 512_345_678_901u64;
    let want = total - total * 250 / 10_000;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        customer.refresh();
        let got = customer
            .rpc(
                "get_transfers",
                json!({"in": true, "pool": true, "account_index": 0, "subaddr_indices": [vendor_sub["address_index"]]}),
            )
            .unwrap();
        let amounts: Vec<u64> = ["in", "pool"]
            .iter()
            .filter_map(|k| got[*k].as_array())
            .flatten()
            .map(|t| t["amount"].as_u64().unwrap())
            .collect();
        if !amounts.is_empty() {
            assert_eq!(
                amounts,
                vec![want],
                "exactly one payout of price minus commission"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no payout reached the vendor"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    chain.daemon.mine(10, &customer_address);
    customer.refresh();
    let balance = customer
        .rpc(
            "get_balance",
            json!({"account_index": 0, "address_indices": [vendor_sub["address_index"]]}),
        )
        .unwrap();
    let vendor_unlocked = balance["per_subaddress"][0]["unlocked_balance"]
        .as_u64()
        .unwrap();
    assert_eq!(
        vendor_unlocked, want,
        "the vendor can spend the payout once it is final"
    );
}
