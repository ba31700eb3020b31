//! Listener addresses (`host:port` or `unix:/path`) and unix socket modes.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a listener accepts connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ListenAddr {
    /// A TCP socket on an IP literal (the static binary cannot resolve host names).
    Tcp(SocketAddr),
    /// A unix socket at this path (how Tor reaches the shop without a TCP port).
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err(format!(
                    "\"{s}\" is not an absolute unix socket path: write unix:/run/souk/shop.sock"
                ));
            }
            return Ok(Self::Unix(path));
        }
        s.parse::<SocketAddr>().map(Self::Tcp).map_err(|_| {
            format!(
                "\"{s}\" is not an IP literal with a port: write e.g. 127.0.0.1:8080, [::1]:8080 or unix:/path"
            )
        })
    }
}

impl TryFrom<String> for ListenAddr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ListenAddr> for String {
    fn from(a: ListenAddr) -> Self {
        a.to_string()
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(a) => write!(f, "{a}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// File mode for a unix socket, written in octal in the config (`"0660"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SocketMode(pub u32);

impl TryFrom<String> for SocketMode {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
            Ok(m) if m <= 0o777 => Ok(Self(m)),
            _ => Err(format!(
                "\"{s}\" is not an octal file mode: write e.g. \"0660\""
            )),
        }
    }
}

impl From<SocketMode> for String {
    fn from(m: SocketMode) -> Self {
        format!("{:04o}", m.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_unix() {
        assert_eq!(
            "127.0.0.1:8080".parse::<ListenAddr>().unwrap(),
            ListenAddr::Tcp(([127, 0, 0, 1], 8080).into())
        );
        assert!(matches!(
            "[::1]:1".parse::<ListenAddr>(),
            Ok(ListenAddr::Tcp(_))
        ));
        assert_eq!(
            "unix:/run/souk/shop.sock".parse::<ListenAddr>().unwrap(),
            ListenAddr::Unix("/run/souk/shop.sock".into())
        );
        assert!("unix:rel.sock".parse::<ListenAddr>().is_err());
        assert!("localhost:80".parse::<ListenAddr>().is_err());
        assert!("127.0.0.1".parse::<ListenAddr>().is_err());
    }

    #[test]
    fn socket_mode_is_octal() {
        assert_eq!(
            SocketMode::try_from("0660".to_owned()).unwrap(),
            SocketMode(0o660)
        );
        assert!(SocketMode::try_from("0999".to_owned()).is_err());
        assert!(SocketMode::try_from("7777".to_owned()).is_err());
        assert_eq!(String::from(SocketMode(0o600)), "0600");
    }
}
