//! The `[backup]` section: where encrypted backups go, to whom they are encrypted,
//! when they run and how many are kept.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Encrypted, scheduled backups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Directory the `souk-*.tar.zst.age` files go to; empty means `<data_dir>/backups`.
    pub dir: PathBuf,
    /// age X25519 public keys (`age1...`) every backup is encrypted to. Empty: no backups.
    #[serde(deserialize_with = "string_or_list")]
    pub recipients: Vec<String>,
    /// When backups run: 5-field crontab line or 6 fields with seconds (UTC); empty: none.
    pub schedule: String,
    /// Run once at start when a scheduled run was missed while souk was stopped.
    pub run_missed_at_start: bool,
    /// Keep the newest this many backups.
    pub keep_last: usize,
    /// Also keep the newest backup of each of this many days (UTC).
    pub keep_daily: usize,
    /// Also keep the newest backup of each of this many ISO weeks.
    pub keep_weekly: usize,
    /// Also keep the newest backup of each of this many months.
    pub keep_monthly: usize,
    /// `/readyz` reports the backup entry as `stale` when the newest backup is older.
    pub stale_after_hours: u64,
    /// Put the config file souk runs with into each backup.
    pub include_config: bool,
    /// Also put the secret files the config names (`*_file` keys) into each backup.
    pub include_secrets: bool,
    /// Directories of wallet files souk is responsible for, copied into each backup.
    pub wallet_dirs: Vec<PathBuf>,
    /// Shell command run after each successful backup; the file is `$1`. Empty: none.
    pub post_command: String,
    /// The post command is killed after this long.
    pub post_command_timeout_secs: u64,
    /// zstd compression level: -7 fastest .. 19 smallest (negative: zstd's fast levels).
    pub compression_level: i32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            recipients: Vec::new(),
            schedule: "17 3 * * *".to_owned(),
            run_missed_at_start: true,
            keep_last: 7,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
            stale_after_hours: 48,
            include_config: true,
            include_secrets: false,
            wallet_dirs: Vec::new(),
            post_command: String::new(),
            post_command_timeout_secs: 600,
            compression_level: 1,
        }
    }
}

impl BackupConfig {
    /// Backups are on once at least one recipient is configured.
    pub fn enabled(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// The backup directory, defaulting to `<data_dir>/backups`.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        if self.dir.as_os_str().is_empty() {
            data_dir.join("backups")
        } else {
            self.dir.clone()
        }
    }

    /// The recipients as age keys; the error names the entry (never echoing a
    /// secret key pasted by mistake) and says what to write instead.
    /// Everything `serve` and `check-config` refuse, one line each.
    pub fn problems(&self, data_dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = self.parsed_recipients() {
            problems.push(e);
        }
        if !self.schedule.trim().is_empty()
            && let Err(e) = crate::jobs::Schedule::parse(&self.schedule)
        {
            problems.push(format!("backup.schedule: {e}"));
        }
        if !(-7..=19).contains(&self.compression_level) || self.compression_level == 0 {
            problems.push(format!(
                "backup.compression_level is {}: use -7 (fastest) to 19 (smallest), not 0",
                self.compression_level
            ));
        }
        for (key, value) in [
            (
                "backup.post_command_timeout_secs",
                self.post_command_timeout_secs,
            ),
            ("backup.stale_after_hours", self.stale_after_hours),
        ] {
            if value == 0 {
                problems.push(format!("{key} is 0: it must be at least 1"));
            }
        }
        if !self.enabled() {
            return problems;
        }
        if let Err(e) = super::check::writable_dir("backup.dir", &self.dir_in(data_dir)) {
            problems.push(e);
        }
        for dir in &self.wallet_dirs {
            if !dir.is_dir() {
                problems.push(format!(
                    "backup.wallet_dirs: {} is not a directory: create it or remove it from the list",
                    dir.display()
                ));
            } else if let Err(e) = std::fs::read_dir(dir) {
                problems.push(format!(
                    "backup.wallet_dirs: {} cannot be read ({e}): give the souk user read access",
                    dir.display()
                ));
            }
        }
        problems
    }

    pub fn parsed_recipients(&self) -> Result<Vec<age::x25519::Recipient>, String> {
        self.recipients
            .iter()
            .enumerate()
            .map(|(i, r)| parse_recipient(i, r))
            .collect()
    }
}

fn parse_recipient(index: usize, text: &str) -> Result<age::x25519::Recipient, String> {
    let text = text.trim();
    if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
        return Err(format!(
            "backup.recipients entry {} is an age secret key, not a public key: put the \"public key: age1...\" line of age-keygen's output here and keep the identity offline",
            index + 1
        ));
    }
    text.parse::<age::x25519::Recipient>().map_err(|e| {
        format!(
            "backup.recipients entry {} \"{text}\" is not a valid age X25519 public key ({e}): write the age1... key printed by `age-keygen`",
            index + 1
        )
    })
}

/// Accepts a TOML list or one string holding one key or a comma-separated list
/// (what `SOUK_BACKUP__RECIPIENTS` gives).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Clone, Copy)]
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of age1... keys or one string of comma-separated keys")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.extend(self.visit_str::<A::Error>(&s)?);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Keys)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use crate::config::{Overrides, load};
    use figment::Jail;

    const KEY_A: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const KEY_B: &str = "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg";

    fn recipients_from_env(value: &str) -> Vec<String> {
        let mut out = Vec::new();
        Jail::expect_with(|jail| {
            jail.set_env("SOUK_BACKUP__RECIPIENTS", value);
            jail.create_file("souk.toml", "").unwrap();
            out = load(&Overrides {
                config_file: Some(jail.directory().join("souk.toml")),
                data_dir: None,
            })
            .unwrap()
            .config
            .backup
            .recipients;
            Ok(())
        });
        out
    }

    #[test]
    fn env_takes_one_key_or_a_comma_separated_list() {
        assert_eq!(recipients_from_env(KEY_A), vec![KEY_A.to_owned()]);
        assert_eq!(
            recipients_from_env(&format!("{KEY_A}, {KEY_B}")),
            vec![KEY_A.to_owned(), KEY_B.to_owned()]
        );
    }

    #[test]
    fn toml_list_is_read() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "souk.toml",
                &format!("[backup]\nrecipients = [\"{KEY_A}\", \"{KEY_B}\"]\n"),
            )?;
            let c = load(&Overrides {
                config_file: Some(jail.directory().join("souk.toml")),
                data_dir: None,
            })
            .unwrap()
            .config;
            assert_eq!(c.backup.parsed_recipients().unwrap().len(), 2);
            Ok(())
        });
    }

    #[test]
    fn bad_recipients_are_named_and_secrets_not_echoed() {
        let mut c = BackupConfig {
            recipients: vec![KEY_A.to_owned(), "age1nope".to_owned()],
            ..BackupConfig::default()
        };
        let e = c.parsed_recipients().unwrap_err();
        assert!(e.contains("entry 2 \"age1nope\""), "{e}");
        c.recipients = vec!["AGE-SECRET-KEY-1QQQQ".to_owned()];
        let e = c.parsed_recipients().unwrap_err();
        assert!(e.contains("secret key") && !e.contains("QQQQ"), "{e}");
    }

    #[test]
    fn compression_level_takes_zstd_fast_levels_but_not_0() {
        let with = |level| BackupConfig {
            compression_level: level,
            ..BackupConfig::default()
        };
        for ok in [-7, -1, 1, 19] {
            assert!(with(ok).problems(Path::new("/d")).is_empty(), "{ok}");
        }
        for bad in [-8, 0, 20] {
            let p = with(bad).problems(Path::new("/d"));
            assert!(
                p.iter().any(|l| l.contains("backup.compression_level is")),
                "{bad}: {p:?}"
            );
        }
    }

    #[test]
    fn dir_defaults_under_the_data_dir() {
        let c = BackupConfig::default();
        assert_eq!(
            c.dir_in(Path::new("/var/lib/souk")),
            PathBuf::from("/var/lib/souk/backups")
        );
        assert!(!c.enabled());
    }
}
