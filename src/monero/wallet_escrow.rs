//! monero-wallet-rpc calls of the managed escrow: a subaddress per order, one
//! incoming-transfer query per watcher cycle, payouts built without relaying
//! (so souk records the tx hash, key and metadata first), relaying, looking a
//! payout up by its hash, and address validation. Anything that creates state is
//! [`Retry::Never`]: an unknown outcome is settled by reconciliation, not by
//! sending the call again.

use serde::{Deserialize, Serialize};

use super::{MoneroError, Retry, WalletClient};
use crate::config::Network;

/// A fresh subaddress of account 0.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct NewSubaddress {
    /// The address to show the buyer.
    pub address: String,
    /// Its minor index in account 0.
    pub address_index: u32,
}

/// `subaddr_index` of a transfer.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub struct SubaddressIndex {
    /// Account.
    pub major: u32,
    /// Subaddress within the account.
    pub minor: u32,
}

/// One incoming transfer (confirmed or in the pool) to a subaddress.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct IncomingTransfer {
    /// Transaction hash.
    pub txid: String,
    /// Piconero received by this subaddress in this transaction.
    pub amount: u64,
    /// Block height; 0 while in the pool.
    #[serde(default)]
    pub height: u64,
    /// Confirmations; 0 while in the pool.
    #[serde(default)]
    pub confirmations: u64,
    /// Which subaddress received it.
    #[serde(default)]
    pub subaddr_index: SubaddressIndex,
    /// Blocks (or a timestamp) before it can be spent; non-zero is suspicious.
    #[serde(default)]
    pub unlock_time: u64,
    /// The pool saw a double spend attempt of this transaction.
    #[serde(default)]
    pub double_spend_seen: bool,
}

/// `get_transfers` answer for `in` and `pool` (keys are absent when empty).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IncomingTransfers {
    /// Confirmed.
    #[serde(default, rename = "in")]
    pub confirmed: Vec<IncomingTransfer>,
    /// In the pool.
    #[serde(default)]
    pub pool: Vec<IncomingTransfer>,
}

/// One destination of a payout.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Destination {
    /// Piconero.
    pub amount: u64,
    /// Standard address or subaddress.
    pub address: String,
}

/// A payout the wallet built and signed but did not relay.
#[derive(Debug, Clone, Deserialize)]
pub struct UnrelayedTransfer {
    /// Transaction hash: ties the transfer to its intent.
    pub tx_hash: String,
    /// Transaction secret key: proves the payment to a recipient.
    #[serde(default)]
    pub tx_key: String,
    /// Network fee, piconero.
    pub fee: u64,
    /// Amount sent (without the fee), piconero.
    pub amount: u64,
    /// What `relay_tx` takes.
    pub tx_metadata: String,
}

/// An outgoing (or any) transfer as the wallet knows it.
#[derive(Debug, Clone, Deserialize)]
pub struct KnownTransfer {
    /// Transaction hash.
    pub txid: String,
    /// "out", "pending", "failed", "in", "pool".
    #[serde(rename = "type")]
    pub kind: String,
    /// Confirmations (0 while pending).
    #[serde(default)]
    pub confirmations: u64,
    /// Block height, 0 while pending.
    #[serde(default)]
    pub height: u64,
    /// Network fee, piconero.
    #[serde(default)]
    pub fee: u64,
}

/// `validate_address` answer.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Validity {
    pub(super) valid: bool,
    #[serde(default)]
    pub(super) integrated: bool,
    #[serde(default)]
    pub(super) nettype: String,
}

/// monero-wallet-rpc's code for "transaction not found" (get_transfer_by_txid).
pub const WALLET_RPC_WRONG_TXID: i64 = -8;

impl WalletClient {
    /// `create_address` in account 0, labelled (the order's public id, so the
    /// operator can match subaddresses to orders in any wallet tool).
    pub async fn create_address(&self, label: &str) -> Result<NewSubaddress, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            account_index: u32,
            label: &'a str,
        }
        self.rpc
            .json_rpc(
                "create_address",
                P {
                    account_index: 0,
                    label,
                },
                Retry::Never,
            )
            .await
    }

    /// `get_transfers` of incoming transfers, confirmed and pooled, to the given
    /// subaddresses of account 0: one call however many orders are watched.
    pub async fn incoming_transfers(
        &self,
        subaddr_indices: &[u32],
    ) -> Result<IncomingTransfers, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            #[serde(rename = "in")]
            incoming: bool,
            pool: bool,
            account_index: u32,
            subaddr_indices: &'a [u32],
        }
        if subaddr_indices.is_empty() {
            return Ok(IncomingTransfers::default());
        }
        self.rpc
            .json_rpc(
                "get_transfers",
                P {
                    incoming: true,
                    pool: true,
                    account_index: 0,
                    subaddr_indices,
                },
                Retry::Safe,
            )
            .await
    }

    /// `transfer` from account 0 with `do_not_relay`: the wallet signs and hands
    /// back hash, key and metadata; nothing reaches the network until
    /// [`Self::relay_tx`]. Never retried (the caller keeps its intent pending).
    pub async fn transfer_unrelayed(
        &self,
        destinations: &[Destination],
    ) -> Result<UnrelayedTransfer, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            destinations: &'a [Destination],
            account_index: u32,
            priority: u32,
            do_not_relay: bool,
            get_tx_hex: bool,
            get_tx_key: bool,
            get_tx_metadata: bool,
        }
        self.rpc
            .json_rpc(
                "transfer",
                P {
                    destinations,
                    account_index: 0,
                    priority: 0,
                    do_not_relay: true,
                    get_tx_hex: true,
                    get_tx_key: true,
                    get_tx_metadata: true,
                },
                Retry::Never,
            )
            .await
    }

    /// `relay_tx` of a transfer built by [`Self::transfer_unrelayed`]; returns its hash.
    pub async fn relay_tx(&self, tx_metadata: &str) -> Result<String, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            hex: &'a str,
        }
        #[derive(Deserialize)]
        struct R {
            tx_hash: String,
        }
        let r: R = self
            .rpc
            .json_rpc("relay_tx", P { hex: tx_metadata }, Retry::Never)
            .await?;
        Ok(r.tx_hash)
    }

    /// `get_transfer_by_txid` in account 0: `None` when the wallet does not know it
    /// (never relayed, or dropped from the pool).
    pub async fn transfer_by_txid(&self, txid: &str) -> Result<Option<KnownTransfer>, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            txid: &'a str,
            account_index: u32,
        }
        #[derive(Deserialize)]
        struct R {
            transfer: KnownTransfer,
        }
        match self
            .rpc
            .json_rpc::<_, R>(
                "get_transfer_by_txid",
                P {
                    txid,
                    account_index: 0,
                },
                Retry::Safe,
            )
            .await
        {
            Ok(r) => Ok(Some(r.transfer)),
            Err(e) if e.rpc_code() == Some(WALLET_RPC_WRONG_TXID) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `validate_address`: `Ok(Err(line))` names what is wrong with an address a
    /// person typed (not an address, integrated, another network).
    pub async fn check_address(
        &self,
        address: &str,
        network: Network,
    ) -> Result<Result<(), String>, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            address: &'a str,
            any_net_type: bool,
            allow_openalias: bool,
        }
        let v: Validity = self
            .rpc
            .json_rpc(
                "validate_address",
                P {
                    address,
                    any_net_type: true,
                    allow_openalias: false,
                },
                Retry::Safe,
            )
            .await?;
        Ok(judge_address(&v, network))
    }
}

/// The network name `validate_address` reports for addresses of `network`
/// (regtest uses mainnet addresses).
fn address_nettype(network: Network) -> &'static str {
    match network {
        Network::Mainnet | Network::Regtest => "mainnet",
        Network::Stagenet => "stagenet",
        Network::Testnet => "testnet",
    }
}

pub(super) fn judge_address(v: &Validity, network: Network) -> Result<(), String> {
    if !v.valid {
        return Err("That is not a Monero address: copy it again from your wallet.".to_owned());
    }
    if v.integrated {
        return Err(
            "Integrated addresses are not accepted: give a standard address or a subaddress."
                .to_owned(),
        );
    }
    let want = address_nettype(network);
    if v.nettype != want {
        return Err(format!(
            "That is a {} address, but this shop runs on {want}: give a {want} address.",
            v.nettype
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(valid: bool, integrated: bool, nettype: &str) -> Validity {
        Validity {
            valid,
            integrated,
            nettype: nettype.to_owned(),
        }
    }

    #[test]
    fn addresses_are_judged_by_validity_kind_and_network() {
        assert!(judge_address(&v(true, false, "mainnet"), Network::Mainnet).is_ok());
        assert!(judge_address(&v(true, false, "mainnet"), Network::Regtest).is_ok());
        let e = judge_address(&v(true, false, "stagenet"), Network::Mainnet).unwrap_err();
        assert!(
            e.contains("stagenet address") && e.contains("mainnet"),
            "{e}"
        );
        assert!(judge_address(&v(false, false, ""), Network::Mainnet).is_err());
        assert!(
            judge_address(&v(true, true, "mainnet"), Network::Mainnet)
                .unwrap_err()
                .contains("Integrated")
        );
    }

    #[test]
    fn incoming_transfers_parse_with_absent_keys() {
        let t: IncomingTransfers = serde_json::from_str("{}").unwrap();
        assert!(t.confirmed.is_empty() && t.pool.is_empty());
        let t: IncomingTransfers = serde_json::from_str(
            r#"{"pool":[{"txid":"ab","amount":5,"subaddr_index":{"major":0,"minor":3},"double_spend_seen":false}]}"#,
        )
        .unwrap();
        assert_eq!(t.pool[0].subaddr_index.minor, 3);
        assert_eq!(t.pool[0].confirmations, 0);
    }
}
