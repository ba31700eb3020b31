//! monerod's RPC: the typed calls souk makes. Reads are [`Retry::Safe`]; anything
//! that changes the chain is [`Retry::Never`].

use serde::{Deserialize, Serialize};

use super::{MoneroError, Retry, RpcClient};

/// A monerod RPC client.
#[derive(Debug)]
pub struct DaemonClient {
    rpc: RpcClient,
}

/// `get_info`, the fields souk reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DaemonInfo {
    /// Blocks in the chain (top block height + 1).
    pub height: u64,
    /// Height the network claims; 0 when the daemon knows no peer that is ahead.
    pub target_height: u64,
    /// Whether the daemon considers itself synchronized.
    pub synchronized: bool,
    /// Started with `--offline`.
    #[serde(default)]
    pub offline: bool,
    /// Peers that connected to us.
    pub incoming_connections_count: u64,
    /// Peers we connected to.
    pub outgoing_connections_count: u64,
    /// Transactions in the pool.
    pub tx_pool_size: u64,
    /// Current difficulty (low 64 bits).
    pub difficulty: u64,
    /// Blockchain database size.
    #[serde(default)]
    pub database_size: u64,
    /// Free bytes on the daemon's disk.
    #[serde(default)]
    pub free_space: u64,
    /// "mainnet", "stagenet", "testnet" or "fakechain" (regtest).
    pub nettype: String,
    /// monerod's version string, e.g. "0.18.0.0-unknown".
    #[serde(default)]
    pub version: String,
    /// Whether a newer monerod was announced.
    #[serde(default)]
    pub update_available: bool,
    /// Whether the daemon is busy syncing.
    #[serde(default)]
    pub busy_syncing: bool,
}

/// A block header, the fields souk reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BlockHeader {
    /// Height of this block.
    pub height: u64,
    /// Unix time the miner put in the block.
    pub timestamp: u64,
    /// Block hash, hex.
    pub hash: String,
    /// Transactions in the block (besides the coinbase).
    pub num_txes: u64,
    /// Coinbase reward, piconero.
    pub reward: u64,
}

/// Transaction pool statistics.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct PoolStats {
    /// Transactions in the pool.
    pub txs_total: u64,
    /// Their total size.
    pub bytes_total: u64,
    /// Fees of all of them, piconero.
    pub fee_total: u64,
    /// Unix time of the oldest transaction (0 when empty).
    pub oldest: u64,
}

/// `get_version`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct RpcVersion {
    /// major << 16 | minor.
    pub version: u32,
    /// A release build.
    #[serde(default)]
    pub release: bool,
}

impl RpcVersion {
    /// "major.minor".
    pub fn display(self) -> String {
        format!("{}.{}", self.version >> 16, self.version & 0xffff)
    }
}

#[derive(Deserialize)]
struct HeaderResult {
    block_header: BlockHeader,
}

#[derive(Deserialize)]
struct PoolStatsResult {
    pool_stats: PoolStats,
}

#[derive(Serialize)]
struct NoParams {}

impl DaemonClient {
    /// Wraps a transport made for [`super::Target::Daemon`].
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// `get_info`.
    pub async fn get_info(&self) -> Result<DaemonInfo, MoneroError> {
        self.rpc
            .json_rpc("get_info", NoParams {}, Retry::Safe)
            .await
    }

    /// `get_last_block_header`.
    pub async fn get_last_block_header(&self) -> Result<BlockHeader, MoneroError> {
        let r: HeaderResult = self
            .rpc
            .json_rpc("get_last_block_header", NoParams {}, Retry::Safe)
            .await?;
        Ok(r.block_header)
    }

    /// `get_version` (the RPC interface version).
    pub async fn get_version(&self) -> Result<RpcVersion, MoneroError> {
        self.rpc
            .json_rpc("get_version", NoParams {}, Retry::Safe)
            .await
    }

    /// `/get_transaction_pool_stats`.
    pub async fn get_transaction_pool_stats(&self) -> Result<PoolStats, MoneroError> {
        let r: PoolStatsResult = self
            .rpc
            .plain("/get_transaction_pool_stats", NoParams {}, Retry::Safe)
            .await?;
        Ok(r.pool_stats)
    }
}
