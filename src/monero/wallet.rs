//! monero-wallet-rpc: the typed calls souk makes. One wallet-rpc process has one
//! wallet open at a time (sharing it between concurrent users corrupted wallets,
//! monero issue 5586): callers that switch wallets must serialize per process.

use serde::{Deserialize, Serialize};

use super::{MoneroError, Retry, RpcClient};

/// A monero-wallet-rpc client.
#[derive(Debug)]
pub struct WalletClient {
    pub(super) rpc: RpcClient,
}

/// `get_balance` for account 0. Amounts are integer piconero.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Balance {
    /// Everything the wallet holds, locked or not.
    pub balance: u64,
    /// What can be spent now.
    pub unlocked_balance: u64,
    /// Blocks until the locked part unlocks.
    #[serde(default)]
    pub blocks_to_unlock: u64,
}

#[derive(Deserialize)]
struct HeightResult {
    height: u64,
}

#[derive(Deserialize)]
struct VersionResult {
    version: u32,
}

#[derive(Serialize)]
struct NoParams {}

impl WalletClient {
    /// Wraps a transport made for [`super::Target::Wallet`].
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// `get_version`: answers without an open wallet, so it tells "reachable".
    pub async fn get_version(&self) -> Result<u32, MoneroError> {
        let r: VersionResult = self
            .rpc
            .json_rpc("get_version", NoParams {}, Retry::Safe)
            .await?;
        Ok(r.version)
    }

    /// `get_height`: the height the open wallet has scanned to.
    pub async fn get_height(&self) -> Result<u64, MoneroError> {
        let r: HeightResult = self
            .rpc
            .json_rpc("get_height", NoParams {}, Retry::Safe)
            .await?;
        Ok(r.height)
    }

    /// `get_balance` of account 0.
    pub async fn get_balance(&self) -> Result<Balance, MoneroError> {
        #[derive(Serialize)]
        struct P {
            account_index: u32,
        }
        self.rpc
            .json_rpc("get_balance", P { account_index: 0 }, Retry::Safe)
            .await
    }
}
