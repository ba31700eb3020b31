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
