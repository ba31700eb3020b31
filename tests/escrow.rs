//! Managed escrow against a real regtest chain. Mining costs about 0.3 s a block
//! and coinbase outputs unlock after 60 blocks (75 for ring size 16), so each
//! test mines once and checks as much as a user would check on that chain.

mod common;

use std::time::Duration;

use common::regtest::{Regtest, WalletRpc};
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
