//! Setup rounds: bad messages are refused with the right error, good ones lead
//! to one address all three wallets agree on, and the order then awaits payment.

use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::common::regtest::{Regtest, WalletRpc};
use crate::common::shop::Shop;
use crate::common::visitor::{Browser, Reply, between};

/// A participant's own wallet (a wallet-rpc the test drives like monero-wallet-cli).
pub(crate) struct Own<'a> {
    pub(crate) rpc: &'a WalletRpc,
}

impl Own<'_> {
    fn call(&self, method: &str, params: Value) -> Value {
        self.rpc
            .rpc(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e:?}"))
    }

    pub(crate) fn prepare(&self) -> String {
        self.call(
            "prepare_multisig",
            json!({"enable_multisig_experimental": true}),
        )["multisig_info"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub(crate) fn make(&self, others: &[String]) -> String {
        self.call(
            "make_multisig",
            json!({"multisig_info": others, "threshold": 2, "password": self.password()}),
        )["multisig_info"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// (next message, address)
    pub(crate) fn exchange(&self, others: &[String]) -> (String, String) {
        let r = self.call(
            "exchange_multisig_keys",
            json!({"multisig_info": others, "password": self.password()}),
        );
        (
            r["multisig_info"].as_str().unwrap_or("").to_owned(),
            r["address"].as_str().unwrap_or("").to_owned(),
        )
    }

    fn password(&self) -> String {
        // create_wallet in the harness uses "wallet-NAME"; the test names them below.
        String::new()
    }
}

/// The other participants' messages the page shows for this round.
pub(crate) fn shown_messages(page: &Reply) -> Vec<String> {
    (1..=2)
        .map(|i| {
            between(&page.body, &format!("id=\"msg-{i}\">"), "</pre>")
                .unwrap_or_else(|| panic!("message {i} is on the page:\n{}", page.body))
        })
        .collect()
}

pub(crate) fn setup_page(b: &mut Browser, pid: &str) -> Reply {
    let r = b.get(&format!("/orders/{pid}/multisig"));
    r.expect(200);
    // The tab says what the page is, with no markup in it.
    let title = &r.body[r.body.find("<title>").unwrap()..r.body.find("</title>").unwrap()];
    assert!(
        title.starts_with(&format!("<title>Multisig escrow for order {pid} ·"))
            && !title[7..].contains('<'),
        "{title}"
    );
    r
}

/// Pastes `message` into the page's form; returns the answer without following
/// a redirect (303 = accepted).
pub(crate) fn paste(b: &mut Browser, pid: &str, message: &str) -> Reply {
    setup_page(b, pid);
    b.post_form_raw(&format!("/orders/{pid}/multisig"), &[("message", message)])
}

/// Waits (bounded) until the page shows `text`: the arbiter's turn may run in
/// souk's job rather than in the request.
pub(crate) fn wait_for(shop: &Shop, b: &mut Browser, pid: &str, text: &str) -> Reply {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let r = setup_page(b, pid);
        if r.body.contains(text) {
            return r;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "the page never showed {text:?}:\n{}\nsouk's log:\n{}",
                r.body,
                shop.souk.stderr()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[track_caller]
pub(crate) fn refused(r: &Reply, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.body.contains(text), "expected {text:?} in:\n{}", r.body);
}

#[track_caller]
pub(crate) fn accepted(r: &Reply) {
    assert_eq!(r.status, 303, "{}", r.body);
}

/// The config of a multisig shop on `chain`.
pub(crate) fn souk_toml(chain: &Regtest, key: &std::path::Path) -> String {
    format!(
        "[log]\nlevel = \"souk=debug,info\"\n\n[monero]\ndaemon_url = \"{}\"\nnetwork = \"regtest\"\n\n[escrow]\nmode = \"multisig\"\nwallet_key_file = \"{}\"\nmultisig_pool_size = 2\nwatcher_interval_secs = 1\nconfirmations = 2\n",
        chain.daemon.url(),
        key.display()
    )
}

/// A key file for sealing arbiter wallet passwords.
pub(crate) fn key_file(chain: &Regtest) -> std::path::PathBuf {
    let key = chain.dir.path().join("wallet.key");
    std::fs::write(&key, "a test key for sealing arbiter wallet passwords").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    key
}

/// Prints souk's log when the test fails (the temp dir goes away with it).
struct LogOnPanic<'a>(&'a Shop);

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("souk's log:\n{}", self.0.souk.stderr());
            for i in 0..2 {
                let log = self
                    .0
                    .souk
                    .data_dir()
                    .join(format!("multisig-wallets/wallet-rpc-{i}.log"));
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(25).collect();
                eprintln!(
                    "{}:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }
}

#[test]
fn buyer_vendor_and_arbiter_agree_on_one_address_through_the_pages() {
    let started = std::time::Instant::now();
    let chain = Regtest::start(2);
    let key = key_file(&chain);
    let shop = Shop::start_with(&souk_toml(&chain, &key));
    let _log = LogOnPanic(&shop);
    let mut vendor = shop.vendor("vera");
    let mut buyer = shop.buyer("bob");
    let listing = shop.listing(&mut vendor, "A book", "1.5", "5");
    let pid = shop.order(&mut buyer, listing, "Street 1");
    let other_pid = shop.order(&mut buyer, listing, "Street 1");
    assert_eq!(shop.order_state(&pid), "created", "waits for the setup");
    buyer
        .get(&format!("/orders/{pid}"))
        .expect(200)
        .expect_text(&format!("href=\"/orders/{pid}/multisig\""))
        .expect_text("any two of them must sign");
    assert_eq!(
        shop.text(&format!(
            "SELECT escrow_mode FROM orders WHERE public_id = '{pid}'"
        )),
        "multisig"
    );

    // The buyer's machine: a stray wallet made for something else, then the escrow wallet.
    let (b_rpc, v_rpc) = (chain.wallet(0), chain.wallet(1));
    b_rpc
        .rpc(
            "create_wallet",
            json!({"filename": "stray", "password": "", "language": "English"}),
        )
        .unwrap();
    let stray_first = Own { rpc: b_rpc }.prepare();
    b_rpc
        .rpc(
            "create_wallet",
            json!({"filename": "bob-escrow", "password": "", "language": "English"}),
        )
        .unwrap();
    v_rpc
        .rpc(
            "create_wallet",
            json!({"filename": "vera-escrow", "password": "", "language": "English"}),
        )
        .unwrap();
    let (b, v) = (Own { rpc: b_rpc }, Own { rpc: v_rpc });

    // Round 1: prepare.
    let page = setup_page(&mut buyer, &pid);
    for text in [
        "Round 1 of 4",
        "prepare_multisig",
        "set enable-multisig-experimental 1",
        "any two",
    ] {
        page.expect_text(text);
    }
    refused(
        &paste(&mut buyer, &pid, "hello"),
        422,
        "not a multisig message",
    );
    refused(
        &paste(&mut buyer, &pid, "MultisigV1abcdef"),
        422,
        "old-style MultisigV1",
    );
    let b1 = b.prepare();
    let mut cut = b1.clone();
    cut.truncate(150);
    refused(&paste(&mut buyer, &pid, &cut), 422, "incomplete or altered");
    accepted(&paste(&mut buyer, &pid, &format!("  {b1}\n")));
    accepted(&paste(&mut buyer, &pid, &b1)); // the same form sent twice is fine
    setup_page(&mut buyer, &pid).expect_text("Your round 1 message is received");
    refused(
        &paste(&mut vendor, &pid, &b1),
        422,
        "buyer&#39;s round 1 message, copied",
    );
    // A message already used by another escrow.
    accepted(&paste(&mut buyer, &other_pid, &stray_first));
    refused(
        &paste(&mut vendor, &pid, &stray_first),
        422,
        "another escrow",
    );
    let v1 = v.prepare();
    accepted(&paste(&mut vendor, &pid, &v1));

    // Round 2: make_multisig with the two messages the page shows.
    let page = wait_for(&shop, &mut buyer, &pid, "Round 2 of 4");
    page.expect_text("make_multisig 2 ");
    let shown = shown_messages(&page);
    assert!(
        shown.contains(&v1),
        "the vendor's message is shown to the buyer"
    );
    assert!(!shown.contains(&b1), "not the buyer's own");
    refused(
        &paste(&mut buyer, &pid, &b1),
        422,
        "your round 1 message again",
    );
    let b2 = b.make(&shown);
    let v2 = v.make(&shown_messages(&setup_page(&mut vendor, &pid)));
    accepted(&paste(&mut buyer, &pid, &b2));
    refused(
        &paste(&mut vendor, &pid, &b2),
        422,
        "buyer&#39;s round 2 message, copied",
    );
    accepted(&paste(&mut vendor, &pid, &v2));

    // Round 3: the first exchange.
    let page = wait_for(&shop, &mut vendor, &pid, "Round 3 of 4");
    page.expect_text("exchange_multisig_keys ");
    let (v3, _) = v.exchange(&shown_messages(&page));
    let (b3, _) = b.exchange(&shown_messages(&setup_page(&mut buyer, &pid)));
    refused(
        &paste(&mut buyer, &pid, &b2),
        422,
        "your round 2 message again",
    );
    accepted(&paste(&mut buyer, &pid, &b3));
    accepted(&paste(&mut vendor, &pid, &v3));

    // Round 4: the last exchange gives the address each wallet reports.
    let page = wait_for(&shop, &mut buyer, &pid, "Round 4 of 4");
    page.expect_text("address");
    let (_, b_addr) = b.exchange(&shown_messages(&page));
    let (_, v_addr) = v.exchange(&shown_messages(&setup_page(&mut vendor, &pid)));
    assert_eq!(b_addr, v_addr, "the two own wallets agree");
    refused(
        &paste(&mut buyer, &pid, &b3),
        422,
        "your round 3 message again",
    );
    refused(
        &paste(&mut buyer, &pid, "4notanaddress"),
        422,
        "not a standard",
    );
    accepted(&paste(&mut buyer, &pid, &b_addr));
    assert_eq!(
        shop.order_state(&pid),
        "created",
        "not before the vendor confirms"
    );
    accepted(&paste(&mut vendor, &pid, &v_addr));

    let page = wait_for(&shop, &mut buyer, &pid, "Set up: waiting for payment");
    assert_eq!(
        between(&page.body, "id=\"multisig-address\">", "</code>").as_deref(),
        Some(b_addr.as_str())
    );
    assert_eq!(shop.order_state(&pid), "awaiting_payment");
    assert_eq!(
        b_rpc.rpc("is_multisig", json!({})).unwrap()["ready"],
        json!(true)
    );
    refused(&paste(&mut vendor, &pid, &v_addr), 409, "setup is finished");
    // Nobody else sees the setup.
    let mut stranger = shop.buyer("eve");
    assert_eq!(stranger.get(&format!("/orders/{pid}/multisig")).status, 404);
    // The arbiter's wallet password is stored sealed, never in the clear.
    let sealed_len = shop.i64(&format!(
        "SELECT length(wallet_password) FROM multisig_escrows m JOIN orders o ON o.id = m.order_id WHERE o.public_id = '{pid}'"
    ));
    assert!(sealed_len > 40, "nonce + sealed password + tag");
    assert_eq!(
        shop.i64("SELECT count(*) FROM multisig_messages WHERE body LIKE '%Multisig%' OR length(body) = 95"),
        0,
        "setup messages are stored sealed"
    );
    assert!(shop.i64("SELECT count(*) FROM multisig_messages") >= 12);

    // A second escrow whose buyer reports a different address: aborted, and the
    // order is called off with the reason on its page.
    b_rpc
        .rpc("open_wallet", json!({"filename": "stray", "password": ""}))
        .unwrap();
    v_rpc
        .rpc(
            "create_wallet",
            json!({"filename": "vera-other", "password": "", "language": "English"}),
        )
        .unwrap();
    accepted(&paste(&mut vendor, &other_pid, &v.prepare()));
    let page = wait_for(&shop, &mut buyer, &other_pid, "Round 2 of 4");
    b.prepare(); // the multisig flag lives in memory until make_multisig saves it
    let b2 = b.make(&shown_messages(&page));
    let v2 = v.make(&shown_messages(&setup_page(&mut vendor, &other_pid)));
    accepted(&paste(&mut buyer, &other_pid, &b2));
    accepted(&paste(&mut vendor, &other_pid, &v2));
    let page = wait_for(&shop, &mut buyer, &other_pid, "Round 3 of 4");
    let (b3, _) = b.exchange(&shown_messages(&page));
    let (v3, _) = v.exchange(&shown_messages(&setup_page(&mut vendor, &other_pid)));
    accepted(&paste(&mut buyer, &other_pid, &b3));
    accepted(&paste(&mut vendor, &other_pid, &v3));
    let page = wait_for(&shop, &mut buyer, &other_pid, "Round 4 of 4");
    let (_, other_b_addr) = b.exchange(&shown_messages(&page));
    let (_, other_v_addr) = v.exchange(&shown_messages(&setup_page(&mut vendor, &other_pid)));
    assert_eq!(other_b_addr, other_v_addr);
    assert_ne!(other_b_addr, b_addr, "a new wallet, a new address");
    accepted(&paste(&mut buyer, &other_pid, &b_addr)); // the first order's address
    accepted(&paste(&mut vendor, &other_pid, &other_v_addr));
    let page = wait_for(&shop, &mut vendor, &other_pid, "Aborted");
    page.expect_text("do not agree on the multisig address")
        .expect_text("the buyer reported a different one");
    assert!(
        !page.body.contains("id=\"multisig-address\""),
        "no address to pay"
    );
    assert_eq!(shop.order_state(&other_pid), "cancelled");
    buyer
        .get(&format!("/orders/{other_pid}"))
        .expect(200)
        .expect_text("wallets reported different addresses");

    // Refund: the first order is paid, then cancelled by the vendor; the
    // buyer gives a refund address, co-signs and pastes the signed set.
    let refund_started = std::time::Instant::now();
    let funder = v_rpc.create_wallet("funder");
    chain.daemon.mine(75, &funder);
    v_rpc.refresh();
    let total = u64::try_from(shop.i64(&format!(
        "SELECT total_piconero FROM orders WHERE public_id = '{pid}'"
    )))
    .unwrap();
    v_rpc
        .rpc(
            "transfer",
            json!({"destinations": [{"amount": total, "address": b_addr}], "priority": 0}),
        )
        .unwrap();
    let sub = v_rpc
        .rpc(
            "create_address",
            json!({"account_index": 0, "label": "bob refund"}),
        )
        .unwrap();
    let refund_address = sub["address"].as_str().unwrap().to_owned();
    let refund_index = sub["address_index"].as_u64().unwrap();
    chain.daemon.mine(2, &funder);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while shop.order_state(&pid) != "paid" {
        assert!(
            std::time::Instant::now() < deadline,
            "the payment was never seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let r = vendor.post_form(&format!("/orders/{pid}/action"), &[("action", "cancel")]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(shop.order_state(&pid), "cancelled");
    chain.daemon.mine(10, &funder);
    let page = wait_for(&shop, &mut buyer, &pid, "id=\"refund-address\"");
    page.expect_text("Payout: Refund to the buyer");
    refused(
        &crate::payout::paste_payout(&mut buyer, &pid, "refund_address", "4notanaddress"),
        422,
        "Refund address",
    );
    accepted(&crate::payout::paste_payout(
        &mut buyer,
        &pid,
        "refund_address",
        &refund_address,
    ));
    b_rpc
        .rpc(
            "open_wallet",
            json!({"filename": "bob-escrow", "password": ""}),
        )
        .unwrap();
    let (_, txset) = crate::payout::cosign_through_page(
        &shop,
        &mut buyer,
        &pid,
        b_rpc,
        "Payout: Refund to the buyer",
    );
    // The vendor is not the co-signer of a refund: no form to sign.
    let vpage = setup_page(&mut vendor, &pid);
    assert!(
        !vpage.body.contains("name=\"action\" value=\"signed_set\""),
        "{}",
        vpage.body
    );
    let signed = b_rpc
        .rpc("sign_multisig", json!({"tx_data_hex": txset}))
        .unwrap();
    let hash = signed["tx_hash_list"][0].as_str().unwrap().to_owned();
    accepted(&crate::payout::paste_payout(
        &mut buyer,
        &pid,
        "signed_set",
        signed["tx_data_hex"].as_str().unwrap(),
    ));
    wait_for(&shop, &mut buyer, &pid, "id=\"payout-tx\"").expect_text(&hash);
    refused(
        &crate::payout::paste_payout(&mut buyer, &pid, "restart", ""),
        409,
        "already sent",
    );
    chain.daemon.mine(2, &funder);
    wait_for(&shop, &mut buyer, &pid, "Paid out");
    v_rpc.refresh();
    let got: u64 = v_rpc
        .rpc(
            "get_transfers",
            json!({"in": true, "account_index": 0, "subaddr_indices": [refund_index]}),
        )
        .unwrap()["in"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["txid"].as_str() == Some(hash.as_str()))
        .map(|t| t["amount"].as_u64().unwrap())
        .sum();
    let fee = u64::try_from(shop.i64(&format!(
        "SELECT fee FROM multisig_payouts p JOIN orders o ON o.id = p.order_id WHERE o.public_id = '{pid}'"
    )))
    .unwrap();
    assert!(fee > 0 && fee < total / 100, "fee {fee}");
    assert_eq!(
        got,
        total - fee,
        "the buyer got the escrow back minus the network fee"
    );
    eprintln!("multisig refund part took {:?}", refund_started.elapsed());

    // A clean stop saves the arbiter wallets and stops the children with souk.
    let wallets = shop.souk.data_dir().join("multisig-wallets");
    let children: Vec<String> = (0..2)
        .filter_map(|i| std::fs::read_to_string(wallets.join(format!("wallet-rpc-{i}.pid"))).ok())
        .map(|s| s.trim().to_owned())
        .collect();
    assert_eq!(children.len(), 2);
    drop(_log);
    let mut shop = shop;
    assert!(shop.souk.stop().success(), "souk stops cleanly");
    for pid in &children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "wallet-rpc {pid} stopped with souk"
        );
    }
    eprintln!("multisig setup test took {:?}", started.elapsed());
}
