//! One backup from start to finish: lock, snapshot, stream into a temp file,
//! fsync, rename, prune, post command. Blocking; the job and the CLI share it.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

use super::archive::ArchiveWriter;
use super::files::{self, PARTIAL_PREFIX};
use super::lock::BackupLock;
use super::manifest::{self, Manifest, WalletDir};
use super::progress::Progress;
use super::retention::{self, Keep};
use super::{BackupError, Result, snapshot};
use crate::config::Config;
use crate::telemetry::metrics::{COMMIT, VERSION};

/// Everything one backup needs, taken from the config once.
#[derive(Debug, Clone)]
pub struct Plan {
    data_dir: PathBuf,
    db_path: PathBuf,
    /// Where backups go.
    pub dir: PathBuf,
    recipients: Vec<age::x25519::Recipient>,
    level: i32,
    wallet_dirs: Vec<PathBuf>,
    config_file: Option<PathBuf>,
    secret_files: Vec<PathBuf>,
    keep: Keep,
    post_command: String,
    post_timeout: Duration,
}

/// What a successful backup did.
#[derive(Debug)]
pub struct Outcome {
    /// The new backup file.
    pub file: PathBuf,
    /// Its size.
    pub size: u64,
    /// Size of the database snapshot in it.
    pub db_bytes: u64,
    /// How long it took (without the post command).
    pub duration: Duration,
    /// Backups deleted by retention.
    pub pruned: Vec<PathBuf>,
}

impl Plan {
    /// The plan for `config`; `config_file` is the file souk was started with.
    pub fn new(config: &Config, config_file: Option<&Path>) -> Result<Self> {
        let b = &config.backup;
        if !b.enabled() {
            return Err(BackupError::NotConfigured);
        }
        let recipients = b.parsed_recipients().map_err(BackupError::Other)?;
        let mut secret_files = Vec::new();
        if b.include_secrets && !config.metrics.token_file.as_os_str().is_empty() {
            let t = &config.metrics.token_file;
            secret_files.push(std::path::absolute(t).unwrap_or_else(|_| t.clone()));
        }
        Ok(Self {
            data_dir: config.data_dir.clone(),
            db_path: config.db_path(),
            dir: b.dir_in(&config.data_dir),
            recipients,
            level: b.compression_level,
            wallet_dirs: b.wallet_dirs.clone(),
            config_file: config_file
                .filter(|_| b.include_config)
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())),
            secret_files,
            keep: Keep {
                last: b.keep_last,
                daily: b.keep_daily,
                weekly: b.keep_weekly,
                monthly: b.keep_monthly,
            },
            post_command: b.post_command.trim().to_owned(),
            post_timeout: Duration::from_secs(b.post_command_timeout_secs),
        })
    }

    /// Makes one backup. Fails with [`BackupError::Busy`] when one is running.
    pub fn run(&self, progress: Progress) -> Result<Outcome> {
        let started = Instant::now();
        if !self.db_path.is_file() {
            return Err(BackupError::NoDatabase(self.db_path.clone()));
        }
        let _lock = BackupLock::acquire(&self.data_dir)?;
        self.prepare_dir()?;
        // Leftovers of a backup killed half-way: only this lock holder writes them.
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(PARTIAL_PREFIX)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let time = self.unused_time();
        let final_path = self.dir.join(files::name_for(time));
        let tag = format!("{PARTIAL_PREFIX}{}", std::process::id());
        let scratch = Scratch(vec![
            self.dir.join(format!("{tag}.db")),
            self.dir.join(format!("{tag}.age")),
        ]);
        let (snap_path, out_path) = (&scratch.0[0], &scratch.0[1]);

        // Fast path: stream the live file under a frozen read transaction;
        // otherwise copy a snapshot into the scratch file first.
        let step = progress.step("snapshot", None);
        let frozen = snapshot::freeze(&self.db_path, Duration::from_secs(2))?;
        let (db_source, db_bytes, schema_version) = match &frozen {
            Some(f) => (self.db_path.clone(), f.bytes, f.schema_version),
            None => {
                let snap = snapshot::take(&self.db_path, snap_path)?;
                (snap_path.clone(), snap.bytes, snap.schema_version)
            }
        };
        self.fix_owners_after_snapshot();
        step.finish(&format!(
            "snapshot of {} ({}, schema version {schema_version}{})",
            self.db_path.display(),
            files::human_bytes(db_bytes),
            if frozen.is_some() {
                ", streamed from a frozen read transaction"
            } else {
                ", copied with the online backup API"
            }
        ));

        let mut manifest = Manifest {
            format: manifest::FORMAT,
            souk_version: VERSION.to_owned(),
            souk_commit: COMMIT.to_owned(),
            schema_version,
            created_at: time.to_rfc3339_opts(SecondsFormat::Secs, true),
            data_dir: self.data_dir.display().to_string(),
            config_path: None,
            wallet_dirs: Vec::new(),
            secret_files: Vec::new(),
            members: Vec::new(),
        };
        // The snapshot above ran at normal priority: it holds the write lock for a
        // moment, and a starved holder would stall the shop's writers. From here on
        // the backup only reads the frozen file, so it may yield every core.
        let size = in_background(|| -> Result<u64> {
            let write_err = |e: std::io::Error| {
                BackupError::io(format!("cannot write {}", out_path.display()), out_path, e)
            };
            let file = create_private(out_path).map_err(write_err)?;
            let mut writer = ArchiveWriter::new(
                BufWriter::with_capacity(256 * 1024, file),
                &self.recipients,
                self.level,
                compression_workers(),
            )
            .map_err(write_err)?;
            let step = progress.step("archive", Some(db_bytes));
            writer
                .add_prefix(manifest::DATABASE, "database", &db_source, db_bytes, &step)
                .map_err(write_err)?;
            drop(frozen); // checkpoints may run again
            // Wallet files: the escrow engines ask monero-wallet-rpc to `store` before
            // calling a backup; until then these are plain files copied as they are.
            for (index, dir) in self.wallet_dirs.iter().enumerate() {
                manifest.wallet_dirs.push(WalletDir {
                    path: dir.display().to_string(),
                    in_data_dir: dir
                        .strip_prefix(&self.data_dir)
                        .ok()
                        .map(|p| p.display().to_string()),
                });
                for (rel, path) in wallet_files(dir)? {
                    let name = format!("wallets/{index}/{rel}");
                    writer
                        .add_file(&name, "wallet", &path, &step)
                        .map_err(|e| {
                            BackupError::io(format!("cannot back up {}", path.display()), &path, e)
                        })?;
                }
            }
            if let Some(config) = &self.config_file {
                let name = format!("config/{}", file_name(config));
                writer
                    .add_file(&name, "config", config, &step)
                    .map_err(|e| {
                        BackupError::io(format!("cannot back up {}", config.display()), config, e)
                    })?;
                manifest.config_path = Some(config.display().to_string());
            }
            for (index, secret) in self.secret_files.iter().enumerate() {
                let name = format!("secrets/{index}/{}", file_name(secret));
                writer
                    .add_file(&name, "secret", secret, &step)
                    .map_err(|e| {
                        BackupError::io(format!("cannot back up {}", secret.display()), secret, e)
                    })?;
                manifest.secret_files.push(secret.display().to_string());
            }
            let buffered = writer.finish(manifest).map_err(write_err)?;
            let file = buffered
                .into_inner()
                .map_err(|e| write_err(e.into_error()))?;
            file.sync_all().map_err(write_err)?;
            drop(file);
            std::fs::rename(out_path, &final_path).map_err(write_err)?;
            files::fsync_dir(&self.dir).map_err(write_err)?;
            let _ = files::adopt_owner(&final_path, &self.data_dir);
            let size = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
            step.finish(&format!(
                "wrote {} ({})",
                final_path.display(),
                files::human_bytes(size)
            ));
            Ok(size)
        })?;
        drop(scratch);

        let pruned = retention::prune(&self.dir, self.keep, &final_path)?;
        Ok(Outcome {
            file: final_path,
            size,
            db_bytes,
            duration: started.elapsed(),
            pruned,
        })
    }

    fn prepare_dir(&self) -> Result<()> {
        if !self.dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .map_err(|e| {
                    BackupError::io(
                        format!(
                            "backup dir {} cannot be created (give the souk user write access or set backup.dir)",
                            self.dir.display()
                        ),
                        &self.dir,
                        e,
                    )
                })?;
            let _ = files::adopt_owner(&self.dir, &self.data_dir);
        }
        Ok(())
    }

    /// Now, or the next second when a backup of this second exists already.
    fn unused_time(&self) -> DateTime<Utc> {
        loop {
            let now = Utc::now();
            let t = now - chrono::Duration::nanoseconds(now.timestamp_subsec_nanos().into());
            if !self.dir.join(files::name_for(t)).exists() {
                return t;
            }
            std::thread::sleep(Duration::from_millis(
                1000 - u64::from(now.timestamp_subsec_millis()),
            ));
        }
    }

    /// A root `souk backup now` may have created the WAL index files; the service
    /// user must keep being able to open them.
    fn fix_owners_after_snapshot(&self) {
        for suffix in ["-wal", "-shm"] {
            let mut p = self.db_path.clone().into_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            if p.exists() {
                let _ = files::adopt_owner(&p, &self.data_dir);
            }
        }
    }

    /// Runs the post command with the backup file as `$1`, killed after the
    /// timeout. Ok(None) when there is none.
    pub fn post_command(&self, file: &Path) -> std::result::Result<Option<String>, String> {
        if self.post_command.is_empty() {
            return Ok(None);
        }
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(&self.post_command)
            .arg("souk-backup")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("post_command cannot start: {e}"))?;
        let deadline = Instant::now() + self.post_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(Some("ok".to_owned())),
                Ok(Some(status)) => return Err(format!("post_command failed ({status})")),
                Ok(None) if Instant::now() >= deadline => {
                    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                        let _ =
                            rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                    }
                    let _ = child.wait();
                    return Err(format!(
                        "post_command timed out after {} s and was killed",
                        self.post_timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("post_command: {e}")),
            }
        }
    }
}

/// Regular files under a wallet dir, with their paths relative to it.
fn wallet_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let read_err =
            |e| BackupError::io(format!("cannot read wallet dir {}", d.display()), &d, e);
        for entry in std::fs::read_dir(&d).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let ty = entry.file_type().map_err(read_err)?;
            if ty.is_dir() {
                todo.push(entry.path());
            } else if ty.is_file()
                && let Ok(rel) = entry.path().strip_prefix(dir)
            {
                out.push((rel.display().to_string(), entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned())
}

fn create_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Scratch files removed whatever happens (success, error, panic).
struct Scratch(Vec<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// zstd workers: one per core but one (at most 4). The archive thread itself
/// reads, hashes (SHA-256), encrypts and writes, about half of the CPU time of a
/// backup at level 1; the workers do the other half, so on 2 cores one worker
/// keeps both busy, and a second would only add a third thread competing with
/// the shop. All of them run at the lowest priority (see [`in_background`]).
fn compression_workers() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1).clamp(1, 4) as u32)
        .unwrap_or(1)
}

/// Runs `work` on a thread of its own at the lowest CPU priority (nice 19),
/// which the zstd workers it starts inherit: while the shop is busy its requests
/// get the cores, while it is idle the backup gets them all. A thread of its own
/// because a nice value cannot be lowered again without privileges: it must not
/// stay with a pooled thread (tokio's blocking pool) that later runs queries.
/// Where `setpriority` is refused the backup runs at normal priority.
fn in_background<T: Send>(work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name("souk-backup".to_owned())
            .spawn_scoped(s, || {
                if let Err(e) = rustix::process::setpriority_process(None, 19) {
                    tracing::info!(error = %e, "backup runs at normal CPU priority: setpriority refused");
                }
                work()
            })
            .map_err(|e| BackupError::Other(format!("cannot start the backup thread: {e}")))?;
        thread
            .join()
            .unwrap_or_else(|_| Err(BackupError::Other("the backup thread panicked".to_owned())))
    })
}
