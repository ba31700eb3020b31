//! souk: a self-hosted marketplace appliance in one binary.
//!
//! Exit codes: 0 ok, 1 runtime or configuration error, 2 usage error.

mod app;
mod config;
mod health;
mod healthcheck;
mod jobs;
mod monero;
mod net;
mod store;
mod systemd;
mod telemetry;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use config::{Loaded, Overrides, PortProbe};
use jobs::Schedule;
use telemetry::metrics::{COMMIT, VERSION};

/// `souk --version` prints the version and the git commit.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BUILD_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "souk",
    version = LONG_VERSION,
    about = "Self-hosted marketplace appliance: shop, Monero escrow, metrics, backups and logs in one binary",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the shop (stops cleanly on SIGTERM or SIGINT).
    Serve(ConfigArgs),
    /// Check the configuration and print what `serve` would do; exit 1 on problems.
    CheckConfig(ConfigArgs),
    /// Print the complete, commented default configuration.
    DefaultConfig,
    /// Exit 0 when the running instance answers /healthz.
    Healthcheck(ConfigArgs),
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// Config file (default: /etc/souk/souk.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides data_dir from the file and SOUK_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> Result<Loaded, Vec<String>> {
        config::load(&Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
        })
        .map_err(|e| e.0)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::DefaultConfig => {
            print!("{}", config::DEFAULT_TOML);
            Ok(())
        }
        Command::CheckConfig(args) => check_config(&args),
        Command::Serve(args) => args
            .load()
            .and_then(|loaded| runtime()?.block_on(app::serve(loaded)).map_err(|e| e.0)),
        Command::Healthcheck(args) => args.load().and_then(|loaded| {
            runtime()?
                .block_on(healthcheck::check(&loaded.config))
                .map_err(|e| vec![e])
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(lines) => {
            for line in lines {
                eprintln!("souk: {line}");
            }
            ExitCode::from(1)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Vec<String>> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| vec![format!("cannot start the async runtime: {e}")])
}

fn check_config(args: &ConfigArgs) -> Result<(), Vec<String>> {
    let loaded = args.load()?;
    let c = &loaded.config;
    let config::Preflight {
        mut problems,
        notes,
    } = config::preflight(c, PortProbe::Bind);
    if let Err(e) = telemetry::logging::filter(&c.log) {
        problems.push(e);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let source = loaded
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none (built-in defaults)".to_owned());
    println!("souk {VERSION} (commit {COMMIT}): configuration is valid");
    println!("  config file       {source}");
    println!("  data dir          {}", c.data_dir.display());
    let schema = match store::Db::inspect(&c.db_path()) {
        Ok(None) => format!(
            "will be created at schema version {}",
            store::migrate::latest_version()
        ),
        Ok(Some(v)) if v > store::migrate::latest_version() => {
            return Err(vec![
                store::StoreError::TooNew {
                    found: v,
                    known: store::migrate::latest_version(),
                }
                .to_string(),
            ]);
        }
        Ok(Some(v)) if v < store::migrate::latest_version() => format!(
            "schema version {v}, will be migrated to {}",
            store::migrate::latest_version()
        ),
        Ok(Some(v)) => format!("schema version {v}, up to date"),
        Err(e) => return Err(vec![e.to_string()]),
    };
    println!("  database          {} ({schema})", c.db_path().display());
    println!(
        "  shop listener     {}{}",
        c.shop.listen,
        socket_note(&c.shop.listen, c.shop.socket_mode)
    );
    println!(
        "  metrics listener  {}{} (token: {})",
        c.metrics.listen,
        socket_note(&c.metrics.listen, c.metrics.socket_mode),
        if c.metrics.token_file.as_os_str().is_empty() {
            "none".to_owned()
        } else {
            format!("from {}", c.metrics.token_file.display())
        }
    );
    println!(
        "  limits            request timeout {} s, body {} bytes, shutdown grace {} s, HSTS {}",
        c.shop.request_timeout_secs,
        c.shop.body_limit_bytes,
        c.server.shutdown_grace_secs,
        if c.shop.hsts_max_age_secs == 0 {
            "off".to_owned()
        } else {
            format!("max-age {}", c.shop.hsts_max_age_secs)
        }
    );
    println!(
        "  logs              {} ({:?} rotation, level {}), keep {} files / {} MiB / {} days",
        c.log_dir().display(),
        c.log.rotation,
        c.log.level,
        c.log.keep_files,
        c.log.max_total_mb,
        c.log.max_age_days
    );
    let schedule = Schedule::parse(&c.log.cleanup_schedule).map_err(|e| vec![e])?;
    let next: Vec<String> = schedule
        .upcoming(3)
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .collect();
    println!(
        "  log retention     \"{}\" read as {} \"{}\"; next: {}",
        c.log.cleanup_schedule,
        schedule.form,
        schedule.normalized,
        next.join(", ")
    );
    for note in notes {
        println!("  note: {note}");
    }
    Ok(())
}

fn socket_note(addr: &config::ListenAddr, mode: config::SocketMode) -> String {
    match addr {
        config::ListenAddr::Unix(_) => format!(" (mode {:04o})", mode.0),
        config::ListenAddr::Tcp(_) => String::new(),
    }
}
