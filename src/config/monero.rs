//! `[monero]`: where the operator's monerod and monero-wallet-rpc answer, which
//! network they must be on, and how often souk polls them.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::read_secret_file;

/// The Monero network souk expects the daemon (and every address) to be on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Real money.
    Mainnet,
    /// Public test network with worthless coins.
    Stagenet,
    /// Public test network for protocol changes.
    Testnet,
    /// A private chain (`monerod --regtest`); its addresses use the mainnet format.
    Regtest,
}

impl Network {
    /// The `nettype` monerod reports in `get_info` for this network.
    pub fn daemon_nettype(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Stagenet => "stagenet",
            Self::Testnet => "testnet",
            // monerod --regtest calls its chain "fakechain".
            Self::Regtest => "fakechain",
        }
    }

    /// The network a daemon's `nettype` names, if it is one souk knows.
    pub fn from_daemon_nettype(nettype: &str) -> Option<Self> {
        match nettype {
            "mainnet" => Some(Self::Mainnet),
            "stagenet" => Some(Self::Stagenet),
            "testnet" => Some(Self::Testnet),
            "fakechain" => Some(Self::Regtest),
            _ => None,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mainnet => "mainnet",
            Self::Stagenet => "stagenet",
            Self::Testnet => "testnet",
            Self::Regtest => "regtest",
        })
    }
}

/// `[monero]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MoneroConfig {
    /// monerod's RPC, `http://IP:port` on loopback; empty: no daemon configured.
    pub daemon_url: String,
    /// File with `user:password` when monerod runs with `--rpc-login`; empty: none.
    pub daemon_login_file: PathBuf,
    /// monero-wallet-rpc, `http://IP:port` on loopback; empty: no wallet configured.
    pub wallet_url: String,
    /// File with `user:password` matching monero-wallet-rpc's `--rpc-login`.
    pub wallet_login_file: PathBuf,
    /// The network the daemon must be on.
    pub network: Network,
    /// Seconds between two polls of the daemon and the wallet.
    pub poll_interval_secs: u64,
    /// Seconds to wait for a TCP connection to an RPC endpoint.
    pub connect_timeout_secs: u64,
    /// Seconds one RPC call may take (per attempt).
    pub request_timeout_secs: u64,
}

impl Default for MoneroConfig {
    fn default() -> Self {
        Self {
            daemon_url: String::new(),
            daemon_login_file: PathBuf::new(),
            wallet_url: String::new(),
            wallet_login_file: PathBuf::new(),
            network: Network::Mainnet,
            poll_interval_secs: 15,
            connect_timeout_secs: 3,
            request_timeout_secs: 10,
        }
    }
}

/// A checked RPC endpoint: an `http://` URL whose host is a loopback IP literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `IP:port`.
    pub addr: std::net::SocketAddr,
}

impl Endpoint {
    /// Parses `http://127.0.0.1:18081` (a trailing `/` is fine); `key` names the
    /// config key in the error line.
    pub fn parse(key: &str, url: &str) -> Result<Self, String> {
        let fix = "use http://127.0.0.1:PORT (an IP literal on loopback; souk has no DNS)";
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            if url.starts_with("https://") {
                format!(
                    "{key} = \"{url}\": TLS is not supported on loopback RPC; run the RPC with --rpc-ssl disabled and {fix}"
                )
            } else {
                format!("{key} = \"{url}\" is not an http:// URL: {fix}")
            }
        })?;
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if hostport.contains('/') || hostport.contains('@') || hostport.contains('?') {
            return Err(format!(
                "{key} = \"{url}\": give only scheme, address and port (no path or credentials): {fix}"
            ));
        }
        let addr: std::net::SocketAddr = hostport.parse().map_err(|_| {
            format!("{key} = \"{url}\": the host must be an IP literal with a port: {fix}")
        })?;
        if !addr.ip().is_loopback() {
            return Err(format!(
                "{key} = \"{url}\": {} is not a loopback address; souk's unit only reaches loopback: {fix} (tunnel a remote node to loopback if you must)",
                addr.ip()
            ));
        }
        Ok(Self { addr })
    }
}

/// `user:password` for RPC digest authentication.
#[derive(Clone)]
pub struct Login {
    /// User name.
    pub user: String,
    /// Password.
    pub password: super::Secret,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({}, [redacted])", self.user)
    }
}

/// Reads a `user:password` file (mode must keep other users out).
pub fn read_login_file(key: &str, path: &std::path::Path) -> Result<Login, String> {
    let secret = read_secret_file(path).map_err(|e| format!("{key}: {e}"))?;
    match secret.expose().split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Login {
            user: user.to_owned(),
            password: super::Secret(password.to_owned()),
        }),
        _ => Err(format!(
            "{key}: {} must hold one line user:password (the value given to --rpc-login)",
            path.display()
        )),
    }
}

impl MoneroConfig {
    /// Whether a daemon is configured.
    pub fn daemon_configured(&self) -> bool {
        !self.daemon_url.trim().is_empty()
    }

    /// Whether a wallet-rpc is configured.
    pub fn wallet_configured(&self) -> bool {
        !self.wallet_url.trim().is_empty()
    }

    /// One line per problem; reads the login files to check them.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.daemon_configured() {
            if let Err(e) = Endpoint::parse("monero.daemon_url", self.daemon_url.trim()) {
                out.push(e);
            }
            if !self.daemon_login_file.as_os_str().is_empty()
                && let Err(e) = read_login_file("monero.daemon_login_file", &self.daemon_login_file)
            {
                out.push(e);
            }
        }
        if self.wallet_configured() {
            if let Err(e) = Endpoint::parse("monero.wallet_url", self.wallet_url.trim()) {
                out.push(e);
            }
            if self.wallet_login_file.as_os_str().is_empty() {
                out.push(
                    "monero.wallet_login_file is empty: run monero-wallet-rpc with --rpc-login user:password (never --disable-rpc-login) and put that user:password in a file souk can read (chmod 600)"
                        .to_owned(),
                );
            } else if let Err(e) =
                read_login_file("monero.wallet_login_file", &self.wallet_login_file)
            {
                out.push(e);
            }
            if !self.daemon_configured() {
                out.push(
                    "monero.wallet_url is set but monero.daemon_url is empty: set daemon_url to the monerod the wallet uses"
                        .to_owned(),
                );
            }
        }
        for (key, value) in [
            ("monero.poll_interval_secs", self.poll_interval_secs),
            ("monero.connect_timeout_secs", self.connect_timeout_secs),
            ("monero.request_timeout_secs", self.request_timeout_secs),
        ] {
            if value == 0 {
                out.push(format!("{key} is 0: it must be at least 1"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_loopback_ip_literals() {
        assert_eq!(
            Endpoint::parse("k", "http://127.0.0.1:18081/")
                .unwrap()
                .addr,
            "127.0.0.1:18081".parse().unwrap()
        );
        assert!(Endpoint::parse("k", "http://[::1]:18081").is_ok());
        for (bad, says) in [
            ("http://localhost:18081", "IP literal"),
            ("https://127.0.0.1:18081", "TLS"),
            ("127.0.0.1:18081", "not an http:// URL"),
            ("http://10.0.0.2:18081", "not a loopback"),
            ("http://127.0.0.1:18081/json_rpc", "no path"),
            ("http://u:p@127.0.0.1:1", "no path or credentials"),
            ("http://127.0.0.1", "IP literal with a port"),
        ] {
            let e = Endpoint::parse("monero.daemon_url", bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.starts_with("monero.daemon_url"), "{e}");
        }
    }

    #[test]
    fn wallet_needs_a_login_and_a_daemon() {
        let c = MoneroConfig {
            wallet_url: "http://127.0.0.1:18083".into(),
            ..MoneroConfig::default()
        };
        let p = c.problems();
        assert!(p.iter().any(|l| l.contains("--rpc-login")), "{p:?}");
        assert!(p.iter().any(|l| l.contains("daemon_url is empty")), "{p:?}");
    }

    #[test]
    fn login_file_is_user_colon_password() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("login");
        std::fs::write(&f, "souk:pw:with:colons\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let l = read_login_file("k", &f).unwrap();
        assert_eq!(l.user, "souk");
        assert_eq!(l.password.expose(), "pw:with:colons");
        assert!(!format!("{l:?}").contains("pw:with"));
        std::fs::write(&f, "nocolon\n").unwrap();
        assert!(
            read_login_file("k", &f)
                .unwrap_err()
                .contains("user:password")
        );
    }

    #[test]
    fn nettype_round_trip() {
        for n in [
            Network::Mainnet,
            Network::Stagenet,
            Network::Testnet,
            Network::Regtest,
        ] {
            assert_eq!(Network::from_daemon_nettype(n.daemon_nettype()), Some(n));
        }
    }
}
