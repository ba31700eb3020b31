//! monero-wallet-rpc calls of the 2-of-3 multisig escrow: the arbiter's wallet
//! per escrow (create, open, close, store) and the key-exchange rounds of
//! monero 0.18 (`prepare_multisig` with the experimental flag, `make_multisig`,
//! `exchange_multisig_keys`). Everything that changes a wallet is
//! [`Retry::Never`]: the escrow records a mark before the call and settles an
//! unknown outcome on resume. Messages and passwords are never logged.

use serde::{Deserialize, Serialize};

use super::{MoneroError, Retry, WalletClient};

/// What `is_multisig` says.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct MultisigStatus {
    /// `make_multisig` has run.
    pub multisig: bool,
    /// The key exchange is finished: the wallet has its final address.
    pub ready: bool,
    /// Signatures needed.
    #[serde(default)]
    pub threshold: u32,
    /// Participants.
    #[serde(default)]
    pub total: u32,
}

/// The answer of `make_multisig` / `exchange_multisig_keys`.
#[derive(Debug, Clone, Deserialize)]
pub struct KexStep {
    /// The address so far (a placeholder until the exchange is finished).
    #[serde(default)]
    pub address: String,
    /// The message for the next round (not empty even after the last round).
    #[serde(default)]
    pub multisig_info: String,
}

#[derive(Serialize)]
struct NoParams {}

#[derive(Deserialize)]
struct Empty {}

impl WalletClient {
    /// `create_wallet`: creates `filename` in the process's wallet dir and opens it.
    pub async fn create_wallet(&self, filename: &str, password: &str) -> Result<(), MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            filename: &'a str,
            password: &'a str,
            language: &'static str,
        }
        let _: Empty = self
            .rpc
            .json_rpc(
                "create_wallet",
                P {
                    filename,
                    password,
                    language: "English",
                },
                Retry::Never,
            )
            .await?;
        Ok(())
    }

    /// `open_wallet` (the process saves and closes the wallet it had open).
    pub async fn open_wallet(&self, filename: &str, password: &str) -> Result<(), MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            filename: &'a str,
            password: &'a str,
        }
        let _: Empty = self
            .rpc
            .json_rpc("open_wallet", P { filename, password }, Retry::Never)
            .await?;
        Ok(())
    }

    /// `close_wallet` (saves it first).
    pub async fn close_wallet(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .rpc
            .json_rpc("close_wallet", NoParams {}, Retry::Never)
            .await?;
        Ok(())
    }

    /// `store`: writes the open wallet to its files.
    pub async fn store(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .rpc
            .json_rpc("store", NoParams {}, Retry::Never)
            .await?;
        Ok(())
    }

    /// `refresh`: scans new blocks (always after opening a wallet: 0.18 loses
    /// outputs when multisig info is imported into a wallet that was not refreshed).
    pub async fn refresh(&self) -> Result<(), MoneroError> {
        let _: serde_json::Value = self
            .rpc
            .json_rpc("refresh", NoParams {}, Retry::Safe)
            .await?;
        Ok(())
    }

    /// `stop_wallet`: saves the open wallet and ends the process.
    pub async fn stop_wallet(&self) -> Result<(), MoneroError> {
        let _: Empty = self
            .rpc
            .json_rpc("stop_wallet", NoParams {}, Retry::Never)
            .await?;
        Ok(())
    }

    /// `get_address` of account 0: the primary address.
    pub async fn primary_address(&self) -> Result<String, MoneroError> {
        #[derive(Serialize)]
        struct P {
            account_index: u32,
        }
        #[derive(Deserialize)]
        struct R {
            address: String,
        }
        let r: R = self
            .rpc
            .json_rpc("get_address", P { account_index: 0 }, Retry::Safe)
            .await?;
        Ok(r.address)
    }

    /// `is_multisig`.
    pub async fn is_multisig(&self) -> Result<MultisigStatus, MoneroError> {
        self.rpc
            .json_rpc("is_multisig", NoParams {}, Retry::Safe)
            .await
    }

    /// `prepare_multisig` with `enable_multisig_experimental` (0.18 refuses the
    /// later rounds without it; the flag lives in memory until `make_multisig`
    /// saves it): the first key-exchange message.
    pub async fn prepare_multisig(&self) -> Result<String, MoneroError> {
        #[derive(Serialize)]
        struct P {
            enable_multisig_experimental: bool,
        }
        #[derive(Deserialize)]
        struct R {
            multisig_info: String,
        }
        let r: R = self
            .rpc
            .json_rpc(
                "prepare_multisig",
                P {
                    enable_multisig_experimental: true,
                },
                Retry::Never,
            )
            .await?;
        Ok(r.multisig_info)
    }

    /// `make_multisig` with the other participants' first messages.
    pub async fn make_multisig(
        &self,
        others: &[String],
        threshold: u32,
        password: &str,
    ) -> Result<KexStep, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            multisig_info: &'a [String],
            threshold: u32,
            password: &'a str,
        }
        self.rpc
            .json_rpc(
                "make_multisig",
                P {
                    multisig_info: others,
                    threshold,
                    password,
                },
                Retry::Never,
            )
            .await
    }

    /// `exchange_multisig_keys` with the other participants' last messages.
    pub async fn exchange_multisig_keys(
        &self,
        others: &[String],
        password: &str,
    ) -> Result<KexStep, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            multisig_info: &'a [String],
            password: &'a str,
        }
        self.rpc
            .json_rpc(
                "exchange_multisig_keys",
                P {
                    multisig_info: others,
                    password,
                },
                Retry::Never,
            )
            .await
    }
}

/// A multisig transaction set the arbiter built (and signed its part of).
#[derive(Debug, Clone)]
pub struct MultisigSet {
    /// `multisig_txset` for the co-signer's `sign_multisig`.
    pub txset: String,
    /// Network fee, piconero.
    pub fee: u64,
}

/// An outgoing transfer the wallet knows (`get_transfers` out / pending / pool).
#[derive(Debug, Clone, Deserialize)]
pub struct Outgoing {
    /// Transaction hash.
    pub txid: String,
    /// Confirmations (0 while in the pool).
    #[serde(default)]
    pub confirmations: u64,
}

impl WalletClient {
    /// `export_multisig_info`: this wallet's fresh info for the others to import.
    pub async fn export_multisig_info(&self) -> Result<String, MoneroError> {
        #[derive(Deserialize)]
        struct R {
            info: String,
        }
        let r: R = self
            .rpc
            .json_rpc("export_multisig_info", NoParams {}, Retry::Never)
            .await?;
        Ok(r.info)
    }

    /// `import_multisig_info` of the others' infos (refresh first: see [`Self::refresh`]);
    /// returns how many outputs it completed.
    pub async fn import_multisig_info(&self, infos: &[String]) -> Result<u64, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            info: &'a [String],
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            n_outputs: u64,
        }
        let r: R = self
            .rpc
            .json_rpc("import_multisig_info", P { info: infos }, Retry::Never)
            .await?;
        Ok(r.n_outputs)
    }

    /// `transfer` from a multisig wallet: never relayed, the answer is the set
    /// for the co-signer, with this wallet's signature in it.
    pub async fn transfer_multisig(
        &self,
        destinations: &[super::Destination],
    ) -> Result<MultisigSet, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            destinations: &'a [super::Destination],
            account_index: u32,
            priority: u32,
            do_not_relay: bool,
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            multisig_txset: String,
            #[serde(default)]
            fee: u64,
        }
        let r: R = self
            .rpc
            .json_rpc(
                "transfer",
                P {
                    destinations,
                    account_index: 0,
                    priority: 0,
                    do_not_relay: true,
                },
                Retry::Never,
            )
            .await?;
        Ok(MultisigSet {
            txset: r.multisig_txset,
            fee: r.fee,
        })
    }

    /// `sweep_all` of account 0 to one address from a multisig wallet (the fee
    /// comes out of the amount): the set for the co-signer.
    pub async fn sweep_multisig(&self, address: &str) -> Result<MultisigSet, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            address: &'a str,
            account_index: u32,
            priority: u32,
            do_not_relay: bool,
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            multisig_txset: String,
            #[serde(default)]
            fee_list: Vec<u64>,
        }
        let r: R = self
            .rpc
            .json_rpc(
                "sweep_all",
                P {
                    address,
                    account_index: 0,
                    priority: 0,
                    do_not_relay: true,
                },
                Retry::Never,
            )
            .await?;
        Ok(MultisigSet {
            txset: r.multisig_txset,
            fee: r.fee_list.iter().sum(),
        })
    }

    /// `submit_multisig` of a fully signed set; the relayed hashes.
    pub async fn submit_multisig(&self, signed: &str) -> Result<Vec<String>, MoneroError> {
        #[derive(Serialize)]
        struct P<'a> {
            tx_data_hex: &'a str,
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            tx_hash_list: Vec<String>,
        }
        let r: R = self
            .rpc
            .json_rpc(
                "submit_multisig",
                P {
                    tx_data_hex: signed,
                },
                Retry::Never,
            )
            .await?;
        Ok(r.tx_hash_list)
    }

    /// Outgoing transfers of account 0 (confirmed, pending and in the pool):
    /// how souk sees a spend the co-signer submitted themselves.
    pub async fn outgoing(&self) -> Result<Vec<Outgoing>, MoneroError> {
        #[derive(Serialize)]
        struct P {
            out: bool,
            pending: bool,
            pool: bool,
            account_index: u32,
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(default)]
            out: Vec<Outgoing>,
            #[serde(default)]
            pending: Vec<Outgoing>,
            #[serde(default)]
            pool: Vec<Outgoing>,
        }
        let r: R = self
            .rpc
            .json_rpc(
                "get_transfers",
                P {
                    out: true,
                    pending: true,
                    pool: true,
                    account_index: 0,
                },
                Retry::Safe,
            )
            .await?;
        Ok(r.out.into_iter().chain(r.pending).chain(r.pool).collect())
    }
}
