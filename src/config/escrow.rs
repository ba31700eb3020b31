//! `[escrow]`: how the managed escrow takes and pays out money.

use serde::{Deserialize, Serialize};

use super::Network;

/// Escrow settings (used when `[monero]` has a wallet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscrowConfig {
    /// "managed": the shop's wallet holds payments; "off": no payments.
    pub mode: String,
    /// Confirmations before a payment counts and a payout is final.
    pub confirmations: u64,
    /// The shop's commission on the vendor's part, in basis points (250 = 2.5 %).
    pub commission_bps: u32,
    /// Where commissions are sent; empty keeps them in the shop's wallet.
    pub fee_address: String,
    /// Seconds between two watcher cycles (one wallet call each) and payout retries.
    pub watcher_interval_secs: u64,
}

impl Default for EscrowConfig {
    fn default() -> Self {
        Self {
            mode: "managed".to_owned(),
            confirmations: 10,
            commission_bps: 0,
            fee_address: String::new(),
            watcher_interval_secs: 10,
        }
    }
}

impl EscrowConfig {
    /// Whether the managed escrow runs (when a wallet is configured).
    pub fn managed(&self) -> bool {
        self.mode == "managed"
    }

    /// One line per problem, for preflight.
    pub fn problems(&self, network: Network) -> Vec<String> {
        let mut out = Vec::new();
        if !matches!(self.mode.as_str(), "managed" | "off") {
            out.push(format!(
                "escrow.mode = \"{}\": use \"managed\" or \"off\"",
                self.mode
            ));
        }
        if !(1..=1000).contains(&self.confirmations) {
            out.push("escrow.confirmations: use a number from 1 to 1000 (10 is usual)".to_owned());
        }
        if self.commission_bps > 10_000 {
            out.push(format!(
                "escrow.commission_bps = {}: basis points go from 0 to 10000 (250 = 2.5 %)",
                self.commission_bps
            ));
        }
        if self.watcher_interval_secs == 0 {
            out.push("escrow.watcher_interval_secs: use at least 1".to_owned());
        }
        let fee = self.fee_address.trim();
        if !fee.is_empty() && !looks_like_address(fee, network) {
            out.push(format!(
                "escrow.fee_address: not a standard address or subaddress of {network:?}; copy it again from your wallet (or leave it empty to keep commissions in the shop's wallet)"
            ));
        }
        out
    }
}

/// An offline check of a standard address or subaddress (95 base58 characters,
/// the network's first character); the wallet's `validate_address` is the full check.
pub fn looks_like_address(a: &str, network: Network) -> bool {
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let first: &[char] = match network {
        Network::Mainnet | Network::Regtest => &['4', '8'],
        Network::Stagenet => &['5', '7'],
        Network::Testnet => &['9', 'B'],
    };
    a.len() == 95 && a.starts_with(first) && a.chars().all(|c| BASE58.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let c = EscrowConfig {
            mode: "auto".into(),
            confirmations: 0,
            commission_bps: 20_000,
            fee_address: "4abc".into(),
            watcher_interval_secs: 0,
        };
        let p = c.problems(Network::Mainnet);
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(
            EscrowConfig::default()
                .problems(Network::Mainnet)
                .is_empty()
        );
        let a = format!("8{}", "A".repeat(94));
        assert!(looks_like_address(&a, Network::Regtest));
        assert!(!looks_like_address(&a, Network::Stagenet));
    }
}
