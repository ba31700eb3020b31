//! The backup commands: `souk backup now|list|verify` and `souk restore`. Each
//! returns its failure as lines for `main` to print as `souk: ...` (exit 1).

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::BackupError;
use super::files::{self, human_age, human_bytes};
use super::progress::Progress;
use super::restore::{self, Target};
use super::run::Plan;
use crate::config::{Config, Loaded};
use crate::jobs::Schedule;

type CliResult = Result<(), Vec<String>>;

fn line(e: BackupError) -> Vec<String> {
    vec![e.to_string()]
}

/// `souk backup now`: one backup with the config of the running instance.
pub fn now(loaded: &Loaded) -> CliResult {
    let plan = Plan::new(&loaded.config, loaded.source.as_deref()).map_err(line)?;
    if let Err(e) = crate::config::check::writable_dir("backup.dir", &plan.dir) {
        return Err(vec![e]);
    }
    let result = plan.run(Progress::for_cli());
    let outcome = result.map_err(line)?;
    for p in &outcome.pruned {
        println!("deleted {} (retention)", p.display());
    }
    println!(
        "backup {} done in {:.1} s",
        outcome.file.display(),
        outcome.duration.as_secs_f64()
    );
    match plan.post_command(&outcome.file) {
        Ok(None) => Ok(()),
        Ok(Some(_)) => {
            println!("post_command succeeded");
            Ok(())
        }
        Err(e) => Err(vec![format!("{e} (the backup itself was written)")]),
    }
}

/// `souk backup list`: backups with time, size and age, newest first.
pub fn list(config: &Config) -> CliResult {
    let dir = config.backup.dir_in(&config.data_dir);
    let backups = match files::list(&dir) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("no backups: {} does not exist yet", dir.display());
            return Ok(());
        }
        Err(e) => return Err(vec![format!("cannot list {}: {e}", dir.display())]),
    };
    if backups.is_empty() {
        println!("no backups in {}", dir.display());
        return Ok(());
    }
    let now = Utc::now().timestamp();
    println!(
        "{:<36} {:<22} {:>10} {:>10}",
        "file", "time (UTC)", "size", "age"
    );
    for b in &backups {
        println!(
            "{:<36} {:<22} {:>10} {:>10}",
            b.path.file_name().unwrap_or_default().to_string_lossy(),
            b.time.format("%Y-%m-%d %H:%M:%S"),
            human_bytes(b.size),
            human_age(now - b.time.timestamp())
        );
    }
    let total: u64 = backups.iter().map(|b| b.size).sum();
    println!(
        "{} backup(s), {} in {}",
        backups.len(),
        human_bytes(total),
        dir.display()
    );
    Ok(())
}

/// `souk backup verify`: everything restore checks, in a scratch dir.
pub fn verify(identity: &Path, backup: &Path) -> CliResult {
    let scratch = std::env::temp_dir();
    let verified =
        restore::verify_into(backup, identity, &scratch, Progress::for_cli()).map_err(line)?;
    let m = &verified.manifest;
    let rows: u64 = verified.tables.iter().map(|(_, n)| n).sum();
    println!(
        "{} is good: made {} by souk {} ({}), schema version {}",
        backup.display(),
        m.created_at,
        m.souk_version,
        m.souk_commit,
        m.schema_version
    );
    for member in &m.members {
        println!(
            "  {:<40} {:>10}  sha256 {}",
            member.path,
            human_bytes(member.size),
            member.sha256
        );
    }
    println!(
        "  database: integrity ok, {} tables, {rows} rows",
        verified.tables.len()
    );
    Ok(())
}

/// What `souk restore` was asked to do.
pub struct RestoreArgs<'a> {
    /// The age identity file.
    pub identity: &'a Path,
    /// The backup file.
    pub backup: &'a Path,
    /// The data dir to restore into.
    pub data_dir: PathBuf,
    /// Move existing data aside.
    pub force: bool,
    /// Also restore config and secret files.
    pub with_config: bool,
}

/// `souk restore`: verify into a staging dir beside the data dir, then move in.
pub fn restore(args: &RestoreArgs) -> CliResult {
    let target = Target {
        data_dir: args.data_dir.clone(),
        force: args.force,
        with_config: args.with_config,
    };
    // Refuse early, before decrypting gigabytes.
    restore::check_target(&target).map_err(line)?;
    let parent = match target.data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let verified = restore::verify_into(args.backup, args.identity, &parent, Progress::for_cli())
        .map_err(line)?;
    let m = &verified.manifest;
    println!(
        "{}: made {} by souk {}, schema version {}",
        args.backup.display(),
        m.created_at,
        m.souk_version,
        m.schema_version
    );
    for done in restore::restore(verified, &target).map_err(line)? {
        println!("{done}");
    }
    println!("restore complete: start souk (systemctl start souk) and check /readyz");
    Ok(())
}

/// The `backups` lines of `check-config`.
pub fn describe(config: &Config) -> Vec<String> {
    let b = &config.backup;
    if !b.enabled() {
        return vec!["off (set backup.recipients to an age public key to turn them on)".to_owned()];
    }
    let mut out = vec![format!(
        "to {} for {} recipient(s), zstd level {}",
        b.dir_in(&config.data_dir).display(),
        b.recipients.len(),
        b.compression_level
    )];
    if b.schedule.trim().is_empty() {
        out.push("no schedule: only `souk backup now` and SIGUSR1".to_owned());
    } else if let Ok(s) = Schedule::parse(&b.schedule) {
        let next: Vec<String> = s
            .upcoming(3)
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .collect();
        out.push(format!(
            "schedule \"{}\" read as {} \"{}\"; next: {}{}",
            b.schedule,
            s.form,
            s.normalized,
            next.join(", "),
            if b.run_missed_at_start {
                " (a missed run happens at start)"
            } else {
                ""
            }
        ));
    }
    out.push(format!(
        "keep last {}, daily {}, weekly {}, monthly {}; stale after {} h",
        b.keep_last, b.keep_daily, b.keep_weekly, b.keep_monthly, b.stale_after_hours
    ));
    out.push(format!(
        "contents: database{}{}{}",
        if b.wallet_dirs.is_empty() {
            String::new()
        } else {
            format!(", {} wallet dir(s)", b.wallet_dirs.len())
        },
        if b.include_config {
            ", config file"
        } else {
            ""
        },
        if b.include_secrets {
            ", secret files"
        } else {
            ""
        }
    ));
    if !b.post_command.trim().is_empty() {
        out.push(format!(
            "post_command set (timeout {} s)",
            b.post_command_timeout_secs
        ));
    }
    out
}
