//! Payout helpers: the co-signer's side of a multisig payout through the page
//! (the release runs at the end of the resume test, on its funded escrow).

use serde_json::json;

use crate::common::regtest::WalletRpc;
use crate::common::shop::Shop;
use crate::common::visitor::{Browser, Reply, between};
use crate::setup::{accepted, refused, wait_for};

/// Posts a payout form (`action` = payout_info, signed_set or restart).
pub(crate) fn paste_payout(b: &mut Browser, pid: &str, action: &str, message: &str) -> Reply {
    b.get(&format!("/orders/{pid}/multisig")).expect(200);
    b.post_form_raw(
        &format!("/orders/{pid}/multisig"),
        &[("action", action), ("message", message)],
    )
}

/// The co-signer's part up to the set to sign: waits for the shop's info,
/// pastes the wallet's fresh export, imports the shop's info into the wallet,
/// and returns (the shop's info, the set the page shows).
pub(crate) fn cosign_through_page(
    shop: &Shop,
    b: &mut Browser,
    pid: &str,
    wallet: &WalletRpc,
    heading: &str,
) -> (String, String) {
    let page = wait_for(shop, b, pid, "id=\"arbiter-info\"");
    page.expect_text(heading)
        .expect_text("export_multisig_info payout-info");
    let arbiter_info = between(&page.body, "id=\"arbiter-info\">", "</pre>").unwrap();
    refused(
        &paste_payout(b, pid, "payout_info", "not hex at all"),
        422,
        "not multisig info",
    );
    refused(
        &paste_payout(b, pid, "payout_info", &arbiter_info),
        422,
        "the shop&#39;s arbiter info",
    );
    wallet.refresh();
    let info = wallet.rpc("export_multisig_info", json!({})).unwrap()["info"]
        .as_str()
        .unwrap()
        .to_owned();
    accepted(&paste_payout(b, pid, "payout_info", &info));
    let page = wait_for(shop, b, pid, "id=\"payout-txset\"");
    page.expect_text("sign_multisig payout-tx")
        .expect_text("submit_multisig payout-tx");
    let txset = between(&page.body, "id=\"payout-txset\">", "</pre>").unwrap();
    let n = wallet
        .rpc(
            "import_multisig_info",
            json!({"info": [arbiter_info.clone()]}),
        )
        .unwrap()["n_outputs"]
        .as_u64()
        .unwrap();
    assert_eq!(n, 1, "the shop's info completes the escrow's output");
    (arbiter_info, txset)
}
