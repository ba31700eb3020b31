//! One typed configuration: built-in defaults -> TOML file -> `SOUK_*` environment
//! (`__` nests) -> command-line flags. Secrets are read from files and never shown.

mod backup;
pub mod check;
pub mod escrow;
mod listen;
mod market;
pub mod monero;

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

pub use backup::BackupConfig;
pub use check::{PortProbe, Preflight, preflight};
pub use escrow::EscrowConfig;
pub use listen::{ListenAddr, SocketMode};
pub use market::MarketConfig;
pub use monero::{MoneroConfig, Network};

/// Where `serve` looks for its config when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/souk/souk.toml";

/// The whole configuration of one souk instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the database and, unless `log.dir` says otherwise, the logs.
    pub data_dir: PathBuf,
    /// Process-wide settings.
    pub server: ServerConfig,
    /// The shop listener (what Tor forwards to).
    pub shop: ShopConfig,
    /// The metrics listener (never forwarded by Tor).
    pub metrics: MetricsConfig,
    /// Logging and log retention.
    pub log: LogConfig,
    /// The shop's rules of business.
    pub market: MarketConfig,
    /// Encrypted, scheduled backups.
    pub backup: BackupConfig,
    /// The Monero daemon and wallet RPC souk talks to.
    pub monero: MoneroConfig,
    /// The managed escrow.
    pub escrow: EscrowConfig,
}

/// Process-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// `/readyz` reports not ready below this much free space in the data dir.
    pub min_free_disk_mb: u64,
}

/// The shop listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShopConfig {
    /// The shop's name, shown in every page header.
    pub name: String,
    /// `host:port` (IP literal) or `unix:/path`.
    pub listen: ListenAddr,
    /// File mode of a unix socket, octal.
    pub socket_mode: SocketMode,
    /// A request that takes longer gets 408.
    pub request_timeout_secs: u64,
    /// Larger request bodies get 413.
    pub body_limit_bytes: usize,
    /// `Strict-Transport-Security` max-age; 0 sends no HSTS (onion sites are http).
    pub hsts_max_age_secs: u64,
}

/// The metrics listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` (IP literal) or `unix:/path`.
    pub listen: ListenAddr,
    /// File mode of a unix socket, octal.
    pub socket_mode: SocketMode,
    /// File holding a bearer token for `/metrics`; empty means no token.
    pub token_file: PathBuf,
}

/// When log files are rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// A new file every hour.
    Hourly,
    /// A new file every day (UTC).
    Daily,
}

/// Logging and log retention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `souk=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
    /// Directory for JSON log files; empty means `<data_dir>/logs`.
    pub dir: PathBuf,
    /// When to start a new log file.
    pub rotation: Rotation,
    /// Keep at most this many log files.
    pub keep_files: usize,
    /// Keep at most this many MiB of log files.
    pub max_total_mb: u64,
    /// Delete log files older than this many days.
    pub max_age_days: u64,
    /// When retention runs: 5-field crontab line or 6-field with seconds (UTC).
    pub cleanup_schedule: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./souk-data"),
            server: ServerConfig::default(),
            shop: ShopConfig::default(),
            metrics: MetricsConfig::default(),
            log: LogConfig::default(),
            market: MarketConfig::default(),
            backup: BackupConfig::default(),
            monero: MoneroConfig::default(),
            escrow: EscrowConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 10,
            min_free_disk_mb: 512,
        }
    }
}

impl Default for ShopConfig {
    fn default() -> Self {
        Self {
            name: "souk".to_owned(),
            listen: ListenAddr::Tcp(([127, 0, 0, 1], 8080).into()),
            socket_mode: SocketMode(0o660),
            request_timeout_secs: 30,
            body_limit_bytes: 64 * 1024,
            hsts_max_age_secs: 0,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: ListenAddr::Tcp(([127, 0, 0, 1], 9101).into()),
            socket_mode: SocketMode(0o660),
            token_file: PathBuf::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            dir: PathBuf::new(),
            rotation: Rotation::Daily,
            keep_files: 14,
            max_total_mb: 512,
            max_age_days: 30,
            cleanup_schedule: "17 * * * *".to_owned(),
        }
    }
}

impl Config {
    /// Directory the JSON log files go to.
    pub fn log_dir(&self) -> PathBuf {
        if self.log.dir.as_os_str().is_empty() {
            self.data_dir.join("logs")
        } else {
            self.log.dir.clone()
        }
    }

    /// Path of the SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("souk.db")
    }
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--config FILE`: an explicit file must exist.
    pub config_file: Option<PathBuf>,
    /// `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
}

/// A config that failed to load: one line per problem, ready to print.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

/// Result of [`load`]: the config and the file it came from, if any.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The merged configuration.
    pub config: Config,
    /// The TOML file that was read (None: defaults and environment only).
    pub source: Option<PathBuf>,
}

/// Merges defaults, the TOML file, `SOUK_*` variables and flags into one [`Config`].
pub fn load(overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let source = match &overrides.config_file {
        Some(path) => {
            if !path.is_file() {
                return Err(ConfigError(vec![format!(
                    "config file {} does not exist or is not a file: check the path given to --config",
                    path.display()
                )]));
            }
            Some(path.clone())
        }
        None => Some(PathBuf::from(DEFAULT_CONFIG_PATH)).filter(|p| p.is_file()),
    };
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &source {
        if let Err(e) = std::fs::read_to_string(path) {
            return Err(ConfigError(vec![format!(
                "config file {} cannot be read ({e}): check its permissions",
                path.display()
            )]));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    figment = figment.merge(Env::prefixed("SOUK_").split("__"));
    let mut config: Config = figment
        .extract()
        .map_err(|e| ConfigError(e.into_iter().map(|e| describe(&e)).collect()))?;
    if let Some(dir) = &overrides.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(Loaded { config, source })
}

/// One line for one figment error: what is wrong, where, and how to fix it.
fn describe(err: &figment::Error) -> String {
    use figment::error::Kind;
    let key = if err.path.is_empty() {
        None
    } else {
        Some(err.path.join("."))
    };
    let origin = match &err.metadata {
        Some(md) => match &md.source {
            Some(figment::Source::File(p)) => format!("in {}", p.display()),
            _ if md.name.contains("environment") => {
                "in the SOUK_* environment variables".to_owned()
            }
            _ => format!("in {}", md.name),
        },
        None => String::new(),
    };
    let at = |k: &Option<String>| k.as_ref().map(|k| format!("`{k}` ")).unwrap_or_default();
    match &err.kind {
        Kind::UnknownField(field, _) => {
            // figment's path already ends with the unknown field.
            let full = key.unwrap_or_else(|| field.clone());
            format!(
                "unknown key `{full}` {origin}: remove it or fix its spelling (souk default-config lists every key)"
            )
        }
        Kind::Message(msg) => match &err.metadata {
            Some(_) if msg.contains('\n') => format!("{}{origin}: {}", at(&key), one_line(msg)),
            Some(_) => format!("{}{origin}: {msg}", at(&key)),
            None => format!("config: {msg}"),
        },
        other => format!("{}{origin}: {other}", at(&key)),
    }
}

/// Folds a multi-line parser message (with its source excerpt) into one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l.split('|').next().is_some_and(|n| {
                    !n.trim().is_empty() && n.trim().chars().all(|c| c.is_ascii_digit())
                })
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads a secret from a file, refusing files that others may read.
pub fn read_secret_file(path: &Path) -> Result<Secret, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("secret file {} cannot be read: {e}", path.display()))?;
    if meta.permissions().mode() & 0o007 != 0 {
        return Err(format!(
            "secret file {} is accessible to other users (mode {:o}): run chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("secret file {} cannot be read: {e}", path.display()))?;
    let value = text.trim().to_owned();
    if value.is_empty() {
        return Err(format!(
            "secret file {} is empty: write the secret into it",
            path.display()
        ));
    }
    Ok(Secret(value))
}

/// A value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The complete default configuration as commented TOML (`souk default-config`).
pub const DEFAULT_TOML: &str = include_str!("config/default.toml");

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in(jail: &mut Jail, toml: &str) -> Result<Config, ConfigError> {
        jail.create_file("souk.toml", toml).unwrap();
        let overrides = Overrides {
            config_file: Some(jail.directory().join("souk.toml")),
            data_dir: None,
        };
        load(&overrides).map(|l| l.config)
    }

    #[test]
    fn default_toml_is_the_default_config() {
        let parsed: Config = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn layers_apply_in_order() {
        Jail::expect_with(|jail| {
            jail.set_env("SOUK_SHOP__LISTEN", "unix:/run/x.sock");
            jail.set_env("SOUK_LOG__KEEP_FILES", "3");
            let c = load_in(
                jail,
                "data_dir = \"/srv/a\"\n[shop]\nlisten = \"127.0.0.1:9000\"\n[log]\nkeep_files = 9\n",
            )
            .unwrap();
            assert_eq!(c.data_dir, PathBuf::from("/srv/a"));
            assert_eq!(
                c.shop.listen,
                ListenAddr::Unix(PathBuf::from("/run/x.sock"))
            );
            assert_eq!(c.log.keep_files, 3);
            assert_eq!(c.metrics, MetricsConfig::default());
            let flagged = load(&Overrides {
                config_file: Some(jail.directory().join("souk.toml")),
                data_dir: Some(PathBuf::from("/srv/b")),
            })
            .unwrap();
            assert_eq!(flagged.config.data_dir, PathBuf::from("/srv/b"));
            Ok(())
        });
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        Jail::expect_with(|jail| {
            let err = load_in(jail, "[shop]\nlisten_on = \"x\"\n").unwrap_err();
            let line = &err.0[0];
            assert!(line.contains("unknown key `shop.listen_on`"), "{line}");
            assert!(line.contains("souk.toml"), "{line}");
            Ok(())
        });
    }

    #[test]
    fn unknown_env_key_names_the_variable_source() {
        Jail::expect_with(|jail| {
            jail.set_env("SOUK_SHOP__LISTN", "127.0.0.1:1");
            let err = load_in(jail, "").unwrap_err();
            let line = &err.0[0];
            assert!(line.contains("unknown key `shop.listn`"), "{line}");
            assert!(line.contains("SOUK_"), "{line}");
            Ok(())
        });
    }

    #[test]
    fn bad_listen_value_is_explained() {
        Jail::expect_with(|jail| {
            let err = load_in(jail, "[metrics]\nlisten = \"localhost:9101\"\n").unwrap_err();
            let line = &err.0[0];
            assert!(line.contains("metrics.listen"), "{line}");
            assert!(line.contains("IP literal"), "{line}");
            Ok(())
        });
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
