//! The shared chain, the bank wallet, and a shop with a vendor, a buyer and a
//! 1 XMR listing, driven through the forms.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::browser::Browser;
use crate::common::regtest::{Regtest, WalletRpc, stop_when_tests_end};
use crate::common::storefront::{Teapot, between, goods_category, order_one, vendor_with_teapot};
use crate::common::{Opts, Resp, Souk};

/// One piconero-exact XMR.
pub const XMR: u64 = 1_000_000_000_000;
/// The shop's commission in the tests (2.5 %).
pub const COMMISSION_BPS: u64 = 250;
/// The commission on a 1 XMR sale.
pub const COMMISSION: u64 = XMR * COMMISSION_BPS / 10_000;
/// The password every test account uses.
pub const PASSWORD: &str = "correct horse battery";

/// Blocks mined at start. Coinbase unlocks after 60; the wallet picks ring
/// members mostly among recent unlocked outputs, and with only a score of them
/// (80 blocks) a transfer could spin for minutes choosing decoys, so many
/// tests paying from one bank want well over a hundred unlocked outputs.
const START_BLOCKS: u64 = 180;

/// The chain every test of this binary shares.
pub struct Chain {
    regtest: Regtest,
    bank_address: String,
    /// Serializes the bank's transfers (one wallet, one spender at a time).
    bank: Mutex<()>,
    /// Serializes mining.
    miner: Mutex<()>,
    next_wallet: AtomicUsize,
}

/// The shared chain: monerod plus the bank's wallet-rpc, the bank funded by
/// [`START_BLOCKS`] mined blocks. Stopped by PID when the tests end.
pub fn chain() -> &'static Chain {
    static CHAIN: OnceLock<Chain> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let regtest = Regtest::start(1);
        regtest.stop_when_tests_end();
        let bank_address = regtest.wallet(0).create_wallet("bank");
        regtest.daemon.mine(START_BLOCKS, &bank_address);
        regtest.wallet(0).refresh();
        Chain {
            regtest,
            bank_address,
            bank: Mutex::new(()),
            miner: Mutex::new(()),
            next_wallet: AtomicUsize::new(1),
        }
    })
}

impl Chain {
    fn bank(&self) -> &WalletRpc {
        self.regtest.wallet(0)
    }

    /// Mines `n` blocks (to the bank), one test at a time: two miners on the
    /// same tip get "Block not accepted" for one of them.
    pub fn mine(&self, n: u64) {
        let _one = self.miner.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..5 {
            match self.regtest.daemon.rpc(
                "generateblocks",
                json!({"amount_of_blocks": n, "wallet_address": self.bank_address}),
            ) {
                Ok(_) => return,
                Err(e) => eprintln!("mining retried: {e:?}"),
            }
        }
        panic!("monerod did not accept {n} mined blocks");
    }

    /// The bank pays `amount` to `address`, as a buyer's wallet would. When its
    /// unlocked outputs are all in flight for other tests, a block unlocks more.
    pub fn pay(&self, address: &str, amount: u64) -> String {
        let _one = self.bank.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..20 {
            self.bank().refresh();
            match self.bank().rpc(
                "transfer",
                json!({"destinations": [{"amount": amount, "address": address}], "account_index": 0, "priority": 0}),
            ) {
                Ok(r) => return r["tx_hash"].as_str().unwrap().to_owned(),
                // No answer: the transfer may still go out, so a retry could pay twice.
                Err(e @ crate::common::regtest::RpcError::Transport(_)) => {
                    panic!("the bank's transfer got no answer: {e:?}")
                }
                Err(e) => {
                    eprintln!("bank transfer retried after a block: {e:?}");
                    self.mine(1);
                }
            }
        }
        panic!("the bank could not pay {amount} piconero");
    }

    /// A fresh account of the bank for one test's receiving addresses.
    pub fn account(&self, label: &str) -> u64 {
        self.bank()
            .rpc("create_account", json!({"label": label}))
            .unwrap()["account_index"]
            .as_u64()
            .unwrap()
    }

    /// A new subaddress in `account`: (address, minor index).
    pub fn receiver(&self, account: u64, label: &str) -> (String, u64) {
        let r = self
            .bank()
            .rpc(
                "create_address",
                json!({"account_index": account, "label": label}),
            )
            .unwrap();
        (
            r["address"].as_str().unwrap().to_owned(),
            r["address_index"].as_u64().unwrap(),
        )
    }

    /// An integrated address of the bank (refused by the shop).
    pub fn integrated(&self) -> String {
        self.bank()
            .rpc("make_integrated_address", json!({}))
            .unwrap()["integrated_address"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Amounts `account`'s subaddress `minor` received (confirmed and in the pool).
    pub fn received(&self, account: u64, minor: u64) -> Vec<u64> {
        let _one = self.bank.lock().unwrap_or_else(|e| e.into_inner());
        self.bank().refresh();
        let got = self
            .bank()
            .rpc(
                "get_transfers",
                json!({"in": true, "pool": true, "account_index": account, "subaddr_indices": [minor]}),
            )
            .unwrap();
        ["in", "pool"]
            .iter()
            .filter_map(|k| got[*k].as_array())
            .flatten()
            .map(|t| t["amount"].as_u64().unwrap())
            .collect()
    }

    /// Waits until `account`'s subaddress `minor` received something, mining a
    /// block every few seconds as the network would (a shop wallet's change
    /// unlocks after 10 blocks, and a payout may need it); returns the amounts.
    pub fn wait_received(&self, account: u64, minor: u64, what: &str) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let got = self.received(account, minor);
            if !got.is_empty() {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: nothing arrived");
            std::thread::sleep(Duration::from_secs(3));
            self.mine(1);
        }
    }

    /// A wallet-rpc of its own for one shop, with a fresh wallet open and
    /// refreshing every second: (process, wallet name).
    pub fn shop_wallet(&self) -> (WalletRpc, String) {
        let n = self.next_wallet.fetch_add(1, Ordering::SeqCst);
        let w = WalletRpc::start(&self.regtest.daemon, self.regtest.dir.path(), n);
        guard_wallet(&w);
        let name = format!("shop{n}");
        w.create_wallet(&name);
        auto_refresh(&w);
        (w, name)
    }

    /// The `[monero]` section for a shop on `wallet`.
    pub fn souk_toml(&self, wallet: &WalletRpc) -> String {
        format!(
            "[monero]\ndaemon_url = \"{}\"\nwallet_url = \"{}\"\nwallet_login_file = \"wallet.login\"\nnetwork = \"regtest\"\npoll_interval_secs = 1\nrequest_timeout_secs = 10\nconnect_timeout_secs = 1\n",
            self.regtest.daemon.url(),
            wallet.url()
        )
    }
}

/// Stops souk by PID should this test binary be killed (its `Drop` would not run).
fn guard_souk(souk: &Souk) {
    let pid = souk.child.as_ref().map(std::process::Child::id);
    stop_when_tests_end(&pid.into_iter().collect::<Vec<_>>(), None);
}

/// Stops a (restarted) wallet-rpc by PID should this test binary be killed.
pub fn guard_wallet(w: &WalletRpc) {
    stop_when_tests_end(&w.pid().into_iter().collect::<Vec<_>>(), None);
}

/// Makes wallet-rpc scan new blocks every second (its default is 20 s).
pub fn auto_refresh(w: &WalletRpc) {
    w.rpc("auto_refresh", json!({"enable": true, "period": 1}))
        .unwrap();
}

/// Parses "1.234" XMR into piconero (exact).
pub fn piconero(xmr: &str) -> u64 {
    let (int, frac) = xmr.split_once('.').unwrap_or((xmr, ""));
    let frac = format!("{frac:0<12}");
    int.parse::<u64>().unwrap() * XMR + frac[..12].parse::<u64>().unwrap()
}

/// What a test shop is set up with.
#[derive(Default)]
pub struct Setup {
    /// `[market] payment_window_minutes` (default 120).
    pub window_minutes: Option<u64>,
    /// Extra environment for souk.
    pub env: Vec<(String, String)>,
}

/// A shop on its own wallet, with a vendor, a buyer and a 1 XMR listing.
pub struct Shop {
    /// The process.
    pub souk: Souk,
    /// Its wallet-rpc.
    pub wallet: WalletRpc,
    /// The wallet's file name (to open it again after a restart).
    pub wallet_name: String,
    /// The vendor's browser.
    pub vendor: Browser,
    /// The buyer's browser.
    pub buyer: Browser,
    /// The listing.
    pub listing: String,
    /// This test's account in the bank.
    pub account: u64,
    /// The operator's fee address (a subaddress of `account`) and its index.
    pub fee: (String, u64),
    opts: Opts,
}

impl Shop {
    /// Starts a shop for test `name`.
    pub fn start(name: &str, setup: Setup) -> Self {
        let chain = chain();
        let (wallet, wallet_name) = chain.shop_wallet();
        let account = chain.account(name);
        let fee = chain.receiver(account, "operator");
        let opts = Opts {
            extra_toml: format!(
                "{}\n[market]\nopen_vendor_signup = true\npayment_window_minutes = {}\n[escrow]\nwatcher_interval_secs = 1\ncommission_bps = {COMMISSION_BPS}\nfee_address = \"{}\"\n",
                chain.souk_toml(&wallet),
                setup.window_minutes.unwrap_or(120),
                fee.0
            ),
            files: vec![(
                "wallet.login".to_owned(),
                format!("{}\n", wallet.login_line()),
                0o600,
            )],
            env: setup.env,
            ..Opts::default()
        };
        let souk = Souk::start(Opts {
            extra_toml: opts.extra_toml.clone(),
            files: opts.files.clone(),
            env: opts.env.clone(),
            ..Opts::default()
        });
        guard_souk(&souk);
        goods_category(&souk);
        let (vendor, listing) = vendor_with_teapot(
            &souk,
            PASSWORD,
            Teapot {
                price: "1",
                stock: "500",
                delivery: "0",
            },
        );
        let mut buyer = Browser::new(souk.shop);
        buyer.register("buyer", PASSWORD);
        Self {
            souk,
            wallet,
            wallet_name,
            vendor,
            buyer,
            listing,
            account,
            fee,
            opts: Opts {
                extra_toml: opts.extra_toml,
                files: opts.files,
                ..Opts::default()
            },
        }
    }

    /// Restarts souk on the same data (without the extra environment), after it
    /// was killed; browsers keep their sessions.
    pub fn restart_souk(&mut self) {
        let dir = std::mem::replace(&mut self.souk.dir, tempfile::tempdir().unwrap());
        self.souk.child = None;
        let opts = Opts {
            extra_toml: self.opts.extra_toml.clone(),
            files: self.opts.files.clone(),
            ..Opts::default()
        };
        self.souk = Souk::start_in(dir, opts);
        guard_souk(&self.souk);
        for b in [&mut self.vendor, &mut self.buyer] {
            let path = b.path.clone();
            *b = b.clone().moved_to(self.souk.shop);
            b.path = path;
        }
    }

    /// The buyer orders one teapot (1 XMR): (order page path, payment address).
    pub fn order(&mut self) -> (String, String) {
        let r = order_one(&mut self.buyer, &self.listing, "Flat 3, 1 Harbour Road");
        assert!(r.body.contains("Pay exactly"), "{}", r.body);
        let address = between(
            &r.body,
            "To this address</dt><dd><code class=\"address\">",
            "<",
        );
        (self.buyer.path.clone(), address)
    }

    /// The vendor sets the payout address through the settings form.
    pub fn set_payout_address(&mut self, address: &str) -> Resp {
        self.vendor.get("/sell/payout-address");
        self.vendor
            .post_form("/sell/payout-address", &[("address", address)])
    }

    /// The buyer gives the order's refund address on the order page.
    pub fn give_refund_address(&mut self, order: &str, address: &str) -> Resp {
        self.buyer.get(order);
        self.buyer
            .post_form(&format!("{order}/refund-address"), &[("address", address)])
    }

    /// An action button on the order page ("ship", "finalize", "cancel").
    pub fn act(who: &mut Browser, order: &str, action: &str) -> Resp {
        who.get(order);
        who.post_form(&format!("{order}/action"), &[("action", action)])
    }
}

/// Reloads `path` until its page contains `text` (up to `secs`); returns it.
pub fn wait_page(b: &mut Browser, path: &str, text: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let p = b.get(path);
        if p.body.contains(text) {
            return p.body;
        }
        assert!(Instant::now() < deadline, "no {text:?} on:\n{}", p.body);
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// Reloads `path` until `text` appears, mining a block every few seconds so
/// payouts get their confirmations; returns the page.
pub fn mine_until(b: &mut Browser, path: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let p = b.get(path);
        if p.body.contains(text) {
            return p.body;
        }
        assert!(Instant::now() < deadline, "no {text:?} on:\n{}", p.body);
        chain().mine(1);
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The network fees of the payouts listed on an order page, piconero.
pub fn fees_on(page: &str) -> Vec<u64> {
    page.split(", network fee ")
        .skip(1)
        .map(|rest| piconero(rest.split(' ').next().unwrap()))
        .collect()
}
