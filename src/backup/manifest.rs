//! `manifest.json`, the last member of every backup: who wrote it, the schema
//! version, and size + SHA-256 of every other member, so restore can prove it got
//! everything back bit for bit.

use serde::{Deserialize, Serialize};

/// Format version of the manifest itself.
pub const FORMAT: u32 = 1;
/// Member name of the manifest inside the tar stream.
pub const NAME: &str = "manifest.json";
/// Member name of the database snapshot.
pub const DATABASE: &str = "souk.db";

/// What one backup holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// souk version that wrote it.
    pub souk_version: String,
    /// Git commit of that souk.
    pub souk_commit: String,
    /// Schema version of the database snapshot.
    pub schema_version: usize,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// The data dir it was taken from.
    pub data_dir: String,
    /// Where the config file came from, when included.
    pub config_path: Option<String>,
    /// Wallet directories, by index (`wallets/<index>/...` members).
    pub wallet_dirs: Vec<WalletDir>,
    /// Secret files, by index (`secrets/<index>/<name>` members).
    pub secret_files: Vec<String>,
    /// Every other member.
    pub members: Vec<Member>,
}

/// A wallet directory in the backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalletDir {
    /// Where it was.
    pub path: String,
    /// Its path relative to the data dir, when it lies inside it (restored
    /// relative to the target data dir then).
    pub in_data_dir: Option<String>,
}

/// One member of the tar stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Path inside the archive.
    pub path: String,
    /// What it is: `database`, `wallet`, `config` or `secret`.
    pub kind: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

impl Manifest {
    /// Checks what was unpacked against the manifest: every member present with
    /// the same size and hash, nothing extra. The error names the first mismatch.
    pub fn check(&self, unpacked: &[Member]) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "manifest format {} is not one this souk reads ({FORMAT}): use a matching souk version",
                self.format
            ));
        }
        for want in &self.members {
            match unpacked.iter().find(|m| m.path == want.path) {
                None => return Err(format!("member {} is missing", want.path)),
                Some(got) if got.size != want.size => {
                    return Err(format!(
                        "member {} has {} bytes, the manifest says {}",
                        want.path, got.size, want.size
                    ));
                }
                Some(got) if got.sha256 != want.sha256 => {
                    return Err(format!(
                        "member {} does not match its SHA-256 in the manifest",
                        want.path
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = unpacked
            .iter()
            .find(|m| !self.members.iter().any(|w| w.path == m.path))
        {
            return Err(format!("member {} is not in the manifest", extra.path));
        }
        if !self.members.iter().any(|m| m.path == DATABASE) {
            return Err(format!("the manifest lists no {DATABASE}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(path: &str, size: u64, sha: &str) -> Member {
        Member {
            path: path.into(),
            kind: "database".into(),
            size,
            sha256: sha.into(),
        }
    }

    fn manifest(members: Vec<Member>) -> Manifest {
        Manifest {
            format: FORMAT,
            souk_version: "0".into(),
            souk_commit: "x".into(),
            schema_version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            data_dir: "/d".into(),
            config_path: None,
            wallet_dirs: vec![],
            secret_files: vec![],
            members,
        }
    }

    #[test]
    fn mismatches_are_named() {
        let m = manifest(vec![
            member("souk.db", 3, "aa"),
            member("wallets/0/w", 1, "bb"),
        ]);
        assert!(m.check(&m.members).is_ok());
        let e = m.check(&[member("souk.db", 3, "aa")]).unwrap_err();
        assert!(e.contains("wallets/0/w is missing"), "{e}");
        let e = m
            .check(&[member("souk.db", 4, "aa"), member("wallets/0/w", 1, "bb")])
            .unwrap_err();
        assert!(e.contains("has 4 bytes"), "{e}");
        let e = m
            .check(&[member("souk.db", 3, "ab"), member("wallets/0/w", 1, "bb")])
            .unwrap_err();
        assert!(e.contains("SHA-256"), "{e}");
        let mut more = m.members.clone();
        more.push(member("x", 1, "cc"));
        assert!(
            m.check(&more)
                .unwrap_err()
                .contains("x is not in the manifest")
        );
    }
}
