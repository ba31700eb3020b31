//! `[escrow]`: how the managed escrow takes and pays out money, and the
//! non-custodial 2-of-3 multisig escrow's arbiter wallets.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Network;
use super::monero::{Endpoint, Login};

/// Escrow settings (used when `[monero]` has a wallet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscrowConfig {
    /// "managed": the shop's wallet holds payments; "multisig": 2-of-3 multisig
    /// with buyer, vendor and the shop's arbiter; "both": the buyer picks per
    /// order; "off": no payments.
    pub mode: String,
    /// Confirmations before a payment counts and a payout is final.
    pub confirmations: u64,
    /// The shop's commission on the vendor's part, in basis points (250 = 2.5 %).
    pub commission_bps: u32,
    /// Where commissions are sent; empty keeps them in the shop's wallet.
    pub fee_address: String,
    /// Seconds between two watcher cycles (one wallet call each) and payout retries.
    pub watcher_interval_secs: u64,
    /// Secret file whose content seals the multisig arbiter wallets' passwords
    /// (needed when multisig is on).
    pub wallet_key_file: PathBuf,
    /// monero-wallet-rpc processes souk starts for the arbiter's wallets.
    pub multisig_pool_size: usize,
    /// The monero-wallet-rpc program souk starts.
    pub multisig_wallet_rpc: PathBuf,
    /// Already running monero-wallet-rpc processes to use instead of starting
    /// children (`http://127.0.0.1:PORT`, each with `--rpc-login`).
    pub multisig_wallet_rpc_urls: Vec<String>,
    /// `user:password` of those processes.
    pub multisig_wallet_login_file: PathBuf,
    /// Their `--wallet-dir` (souk's children use `<data_dir>/multisig-wallets`).
    pub multisig_wallet_dir: PathBuf,
    /// Seconds buyer and vendor have to finish the multisig setup.
    pub multisig_setup_window_secs: u64,
}

impl Default for EscrowConfig {
    fn default() -> Self {
        Self {
            mode: "managed".to_owned(),
            confirmations: 10,
            commission_bps: 0,
            fee_address: String::new(),
            watcher_interval_secs: 10,
            wallet_key_file: PathBuf::new(),
            multisig_pool_size: 2,
            multisig_wallet_rpc: PathBuf::from("monero-wallet-rpc"),
            multisig_wallet_rpc_urls: Vec::new(),
            multisig_wallet_login_file: PathBuf::new(),
            multisig_wallet_dir: PathBuf::new(),
            multisig_setup_window_secs: 86_400,
        }
    }
}

impl EscrowConfig {
    /// Whether the managed escrow runs (when a wallet is configured).
    pub fn managed(&self) -> bool {
        matches!(self.mode.as_str(), "managed" | "both")
    }

    /// The modes orders may use, for placing orders.
    pub fn mode_policy(&self) -> crate::market::escrow::ModePolicy {
        crate::market::escrow::ModePolicy {
            managed: self.managed(),
            multisig: self.multisig(),
            setup_window_secs: i64::try_from(self.multisig_setup_window_secs)
                .unwrap_or(i64::MAX / 4),
        }
    }

    /// Whether orders may use the 2-of-3 multisig escrow.
    pub fn multisig(&self) -> bool {
        matches!(self.mode.as_str(), "multisig" | "both")
    }

    /// Whether souk starts its own wallet-rpc children for the arbiter.
    pub fn multisig_children(&self) -> bool {
        self.multisig_wallet_rpc_urls.is_empty()
    }

    /// Problems of the multisig settings (only checked when multisig is on).
    fn multisig_problems(&self, out: &mut Vec<String>) {
        if self.wallet_key_file.as_os_str().is_empty() {
            out.push("escrow.wallet_key_file is empty: multisig needs a secret file to seal the arbiter wallets' passwords; create one with `head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE` and keep it with your backups".to_owned());
        } else if let Err(e) = super::read_secret_file(&self.wallet_key_file) {
            out.push(format!("escrow.wallet_key_file: {e}"));
        }
        if self.multisig_children() {
            if !(1..=64).contains(&self.multisig_pool_size) {
                out.push("escrow.multisig_pool_size: use a number from 1 to 64 (each process takes about 30 MB)".to_owned());
            }
        } else {
            for u in &self.multisig_wallet_rpc_urls {
                if let Err(e) = Endpoint::parse("escrow.multisig_wallet_rpc_urls", u.trim()) {
                    out.push(e);
                }
            }
            if let Err(e) = self.multisig_login() {
                out.push(e);
            }
            if self.multisig_wallet_dir.as_os_str().is_empty() {
                out.push("escrow.multisig_wallet_dir is empty: set it to the --wallet-dir of the processes in multisig_wallet_rpc_urls".to_owned());
            }
        }
        if self.multisig_setup_window_secs < 600 {
            out.push("escrow.multisig_setup_window_secs: use at least 600 (buyer and vendor need time for four rounds)".to_owned());
        }
    }

    /// The login of the pre-started multisig wallet-rpc processes.
    pub fn multisig_login(&self) -> Result<Login, String> {
        if self.multisig_wallet_login_file.as_os_str().is_empty() {
            return Err("escrow.multisig_wallet_login_file is empty: run the wallet-rpc processes with --rpc-login user:password and put that line in a file souk can read (chmod 600)".to_owned());
        }
        super::monero::read_login_file(
            "escrow.multisig_wallet_login_file",
            &self.multisig_wallet_login_file,
        )
    }

    /// Where the arbiter's wallet files live.
    pub fn multisig_wallet_dir(&self, data_dir: &Path) -> PathBuf {
        if self.multisig_wallet_dir.as_os_str().is_empty() {
            data_dir.join("multisig-wallets")
        } else {
            self.multisig_wallet_dir.clone()
        }
    }

    /// One line per problem, for preflight.
    pub fn problems(&self, network: Network) -> Vec<String> {
        let mut out = Vec::new();
        if !matches!(self.mode.as_str(), "managed" | "multisig" | "both" | "off") {
            out.push(format!(
                "escrow.mode = \"{}\": use \"managed\", \"multisig\", \"both\" or \"off\"",
                self.mode
            ));
        }
        if self.multisig() {
            self.multisig_problems(&mut out);
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

/// A login for a wallet-rpc child souk starts itself (random credentials).
pub fn generated_login(user: &str, password: String) -> Login {
    Login {
        user: user.to_owned(),
        password: super::Secret(password),
    }
}

/// A secret for unit tests of code that derives keys from secret files.
#[cfg(test)]
pub fn test_secret(value: &str) -> super::Secret {
    super::Secret(value.to_owned())
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
            ..EscrowConfig::default()
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

    #[test]
    fn multisig_needs_a_key_file_and_sane_limits() {
        let c = EscrowConfig {
            mode: "both".into(),
            multisig_pool_size: 0,
            multisig_setup_window_secs: 5,
            ..EscrowConfig::default()
        };
        let p = c.problems(Network::Regtest);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("escrow.wallet_key_file is empty"), "{p:?}");
        assert!(p[1].contains("multisig_pool_size"), "{p:?}");
        assert!(p[2].contains("multisig_setup_window_secs"), "{p:?}");
        let attached = EscrowConfig {
            mode: "multisig".into(),
            multisig_wallet_rpc_urls: vec!["http://localhost:1".into()],
            ..EscrowConfig::default()
        };
        let p = attached.problems(Network::Regtest);
        assert!(
            p.iter().any(|l| l.contains("multisig_wallet_login_file")),
            "{p:?}"
        );
        assert!(p.iter().any(|l| l.contains("multisig_wallet_dir")), "{p:?}");
        assert!(p.iter().any(|l| l.contains("IP literal")), "{p:?}");
        let policy = c.mode_policy();
        assert!(policy.managed && policy.multisig);
        assert!(
            EscrowConfig::default()
                .problems(Network::Mainnet)
                .is_empty()
        );
    }
}
