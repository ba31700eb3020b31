//! Verify and restore. Both decrypt the whole backup into a staging directory,
//! check every member against the manifest and run `PRAGMA integrity_check`;
//! only then does restore move the files into place. Any failure removes the
//! staging directory, so the target is never written half-way.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::archive::{ArchiveReader, copy_hashing};
use super::files::{self, human_bytes};
use super::lock::ServeLock;
use super::manifest::{self, Manifest, Member};
use super::progress::Progress;
use super::{BackupError, Result, snapshot};
use crate::store::migrate;

/// What a verified backup holds.
#[derive(Debug)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// Row count per table of the database.
    pub tables: Vec<(String, u64)>,
    staging: Staging,
}

/// Reads an age identity file (`age-keygen` output).
pub fn read_identity(path: &Path) -> Result<Vec<Box<dyn age::Identity>>> {
    let file = File::open(path).map_err(|e| {
        BackupError::Identity(format!(
            "identity file {} cannot be read: {e}",
            path.display()
        ))
    })?;
    let not_identity = || {
        BackupError::Identity(format!(
            "identity file {} holds no age identity: pass the file age-keygen wrote (AGE-SECRET-KEY-1...)",
            path.display()
        ))
    };
    let ids = age::IdentityFile::from_buffer(std::io::BufReader::new(file))
        .map_err(|_| not_identity())?
        .into_identities()
        .map_err(|_| not_identity())?;
    if ids.is_empty() {
        return Err(not_identity());
    }
    Ok(ids)
}

/// Decrypts and checks `backup` into a fresh staging dir under `parent`.
pub fn verify_into(
    backup: &Path,
    identity: &Path,
    parent: &Path,
    progress: Progress,
) -> Result<Verified> {
    let identities = read_identity(identity)?;
    if !backup.is_file() {
        return Err(BackupError::Other(format!(
            "backup {} does not exist or is not a file",
            backup.display()
        )));
    }
    let total = std::fs::metadata(backup).map(|m| m.len()).ok();
    let staging = Staging::create(parent)?;
    let step = progress.step("decrypt", total);
    let reader = ArchiveReader::open(backup, identity, &identities, step.clone())?;
    let mut unpacked: Vec<Member> = Vec::new();
    let mut manifest_json: Option<Vec<u8>> = None;
    reader.for_each(|name, data| {
        if name == manifest::NAME {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(data, 16 * 1024 * 1024), &mut buf)
                .map_err(|e| BackupError::io("cannot read the manifest", backup, e))?;
            manifest_json = Some(buf);
            return Ok(());
        }
        let dest = staging.path.join(name);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| BackupError::io(format!("cannot create {}", dir.display()), dir, e))?;
        }
        let write_err = |e: std::io::Error| {
            BackupError::io(format!("cannot write {}", dest.display()), &dest, e)
        };
        let mut out = create_private(&dest).map_err(write_err)?;
        let (size, sha256) = copy_hashing(data, &mut out).map_err(write_err)?;
        out.sync_all().map_err(write_err)?;
        unpacked.push(Member {
            path: name.to_owned(),
            kind: String::new(),
            size,
            sha256,
        });
        Ok(())
    })?;
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: backup.to_path_buf(),
        reason,
    };
    let json = manifest_json.ok_or_else(|| not_a_backup("it has no manifest.json".to_owned()))?;
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| not_a_backup(format!("its manifest cannot be read ({e})")))?;
    manifest.check(&unpacked).map_err(not_a_backup)?;
    if manifest.schema_version > migrate::latest_version() {
        return Err(BackupError::Other(format!(
            "{} holds schema version {}, newer than this souk knows ({}): install the souk version that made it ({}) or newer",
            backup.display(),
            manifest.schema_version,
            migrate::latest_version(),
            manifest.souk_version
        )));
    }
    let tables = snapshot::check(&staging.path.join(manifest::DATABASE))?;
    step.finish(&format!(
        "decrypted and checked {} member(s) against the manifest, database integrity ok",
        manifest.members.len()
    ));
    Ok(Verified {
        manifest,
        tables,
        staging,
    })
}

/// Where restore puts things and what it may overwrite.
#[derive(Debug, Clone)]
pub struct Target {
    /// The data dir to restore into.
    pub data_dir: PathBuf,
    /// Move existing data aside instead of refusing.
    pub force: bool,
    /// Also restore the config file and secret files to their original paths.
    pub with_config: bool,
}

/// Refuses a data dir that a souk serves from, or that holds data without `force`.
pub fn check_target(target: &Target) -> Result<()> {
    if ServeLock::held(&target.data_dir) {
        return Err(BackupError::Serving(target.data_dir.clone()));
    }
    let existing = existing_data(&target.data_dir)?;
    if !existing.is_empty() && !target.force {
        return Err(BackupError::TargetNotEmpty {
            dir: target.data_dir.clone(),
            entries: existing.join(", "),
        });
    }
    Ok(())
}

/// Moves a verified backup into the target; returns one line per thing done.
pub fn restore(verified: Verified, target: &Target) -> Result<Vec<String>> {
    check_target(target)?;
    let dir = &target.data_dir;
    let m = &verified.manifest;
    // Wallet dirs outside the data dir are restored to where they were: refuse
    // to replace files there without --force, before anything moves.
    let mut wallet_dests = Vec::new();
    for member in m.members.iter().filter(|x| x.kind == "wallet") {
        let dest = wallet_target(m, &member.path, dir).ok_or_else(|| BackupError::NotABackup {
            path: PathBuf::from(&m.data_dir),
            reason: format!("wallet member {} names no wallet dir", member.path),
        })?;
        wallet_dests.push((member.path.clone(), dest));
    }
    let occupied: Vec<String> = wallet_dests
        .iter()
        .filter(|(_, d)| !d.starts_with(dir) && d.exists())
        .map(|(_, d)| d.display().to_string())
        .collect();
    if !occupied.is_empty() && !target.force {
        return Err(BackupError::Other(format!(
            "wallet files already exist at {}: add --force to keep them as <name>.before-restore and restore the backup's",
            occupied.join(", ")
        )));
    }
    let mut done = Vec::new();
    if !dir.exists() {
        create_dir(dir)?;
    }
    let existing = existing_data(dir)?;
    if !existing.is_empty() {
        let aside = dir.join(format!(
            "before-restore-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        create_dir(&aside)?;
        for name in &existing {
            let from = dir.join(name);
            std::fs::rename(&from, aside.join(name)).map_err(|e| {
                BackupError::io(format!("cannot move {} aside", from.display()), &from, e)
            })?;
        }
        done.push(format!(
            "moved the existing {} to {}",
            existing.join(", "),
            aside.display()
        ));
    }
    let staged = |name: &str| verified.staging.path.join(name);
    let db = dir.join(manifest::DATABASE);
    place(&staged(manifest::DATABASE), &db, Some(dir))?;
    let rows: u64 = verified.tables.iter().map(|(_, n)| n).sum();
    done.push(format!(
        "restored the database to {} ({}, schema version {}, {} tables, {rows} rows, integrity ok)",
        db.display(),
        human_bytes(member_size(m, manifest::DATABASE)),
        m.schema_version,
        verified.tables.len()
    ));
    let mut wallets = 0;
    for (member, dest) in &wallet_dests {
        if !dest.starts_with(dir) && dest.exists() {
            let mut kept = dest.clone().into_os_string();
            kept.push(".before-restore");
            std::fs::rename(dest, &kept).map_err(|e| {
                BackupError::io(format!("cannot move {} aside", dest.display()), dest, e)
            })?;
        }
        if let Some(parent) = dest.parent() {
            create_dir(parent)?;
        }
        place(&staged(member), dest, Some(dir))?;
        wallets += 1;
    }
    if wallets > 0 {
        let dirs: Vec<String> = m
            .wallet_dirs
            .iter()
            .map(|w| match &w.in_data_dir {
                Some(rel) => dir.join(rel).display().to_string(),
                None => w.path.clone(),
            })
            .collect();
        done.push(format!(
            "restored {wallets} wallet file(s) to {}",
            dirs.join(", ")
        ));
    }
    if target.with_config {
        let mut restored = Vec::new();
        for member in m
            .members
            .iter()
            .filter(|x| x.kind == "config" || x.kind == "secret")
        {
            let original = if member.kind == "config" {
                m.config_path.clone()
            } else {
                indexed(&member.path).and_then(|i| m.secret_files.get(i).cloned())
            };
            let Some(original) = original.map(PathBuf::from) else {
                continue;
            };
            let mut kept = original.clone().into_os_string();
            kept.push(".before-restore");
            let kept = PathBuf::from(kept);
            let had_one = original.exists();
            if had_one {
                std::fs::rename(&original, &kept).map_err(|e| {
                    BackupError::io(
                        format!("cannot move {} aside", original.display()),
                        &original,
                        e,
                    )
                })?;
            }
            if let Some(parent) = original.parent() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    BackupError::io(format!("cannot create {}", parent.display()), parent, e)
                })?;
            }
            place(
                &staged(&member.path),
                &original,
                had_one.then_some(kept.as_path()),
            )?;
            if had_one {
                // Same mode as the file it replaces (e.g. root:souk 0640 for the conffile).
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(&kept) {
                    let _ = std::fs::set_permissions(
                        &original,
                        std::fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
                    );
                }
            }
            restored.push(original.display().to_string());
        }
        if restored.is_empty() {
            done.push("the backup holds no config file (backup.include_config was off)".to_owned());
        } else {
            done.push(format!(
                "restored {} (an existing file was kept as <name>.before-restore)",
                restored.join(", ")
            ));
        }
    } else if m.config_path.is_some() {
        done.push(format!(
            "left the config alone (the backup holds {}; add --with-config to restore it)",
            m.config_path.as_deref().unwrap_or_default()
        ));
    }
    files::fsync_dir(dir).map_err(|e| BackupError::io("cannot sync the data dir", dir, e))?;
    Ok(done)
}

/// Names in the data dir that a restore would replace (everything except the
/// backup and log dirs and lock files, which a restore leaves alone).
fn existing_data(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(BackupError::io(
                format!("cannot read {}", dir.display()),
                dir,
                e,
            ));
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            !matches!(
                n.as_str(),
                "backups" | "logs" | "backup.lock" | "serve.lock"
            ) && !n.starts_with("before-restore-")
        })
        .collect();
    names.sort();
    Ok(names)
}

fn wallet_target(m: &Manifest, member: &str, data_dir: &Path) -> Option<PathBuf> {
    let rest = member.strip_prefix("wallets/")?;
    let (index, rel) = rest.split_once('/')?;
    let w = m.wallet_dirs.get(index.parse::<usize>().ok()?)?;
    let base = match &w.in_data_dir {
        Some(r) => data_dir.join(r),
        None => PathBuf::from(&w.path),
    };
    Some(base.join(rel))
}

fn indexed(member: &str) -> Option<usize> {
    member.split('/').nth(1)?.parse().ok()
}

fn member_size(m: &Manifest, name: &str) -> u64 {
    m.members
        .iter()
        .find(|x| x.path == name)
        .map(|x| x.size)
        .unwrap_or(0)
}

/// Renames a staged file into place (copying across file systems), fsyncs it and
/// gives it the owner of `owner_like` when running as root.
fn place(from: &Path, to: &Path, owner_like: Option<&Path>) -> Result<()> {
    let err = |e| BackupError::io(format!("cannot write {}", to.display()), to, e);
    match std::fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(18) => {
            // EXDEV: another file system (e.g. /etc): copy, fsync, rename.
            let tmp = to.with_extension("souk-restore-tmp");
            let mut out = create_private(&tmp).map_err(err)?;
            let mut input = File::open(from).map_err(err)?;
            std::io::copy(&mut input, &mut out).map_err(err)?;
            out.flush().map_err(err)?;
            out.sync_all().map_err(err)?;
            std::fs::rename(&tmp, to).map_err(err)?;
        }
        Err(e) => return Err(err(e)),
    }
    if let Some(like) = owner_like {
        let _ = files::adopt_owner(to, like);
    }
    if let Some(parent) = to.parent() {
        let _ = files::fsync_dir(parent);
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .map_err(|e| BackupError::io(format!("cannot create {}", dir.display()), dir, e))
}

fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// A private scratch directory removed on drop.
#[derive(Debug)]
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn create(parent: &Path) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::create_dir_all(parent).map_err(|e| {
            BackupError::io(format!("cannot create {}", parent.display()), parent, e)
        })?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = parent.join(format!(".souk-restore-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| BackupError::io(format!("cannot create {}", path.display()), &path, e))?;
        Ok(Self { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
