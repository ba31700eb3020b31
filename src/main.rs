//! The `souk` command line.
//!
//! Exit codes: 0 ok, 1 runtime or configuration error, 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use souk::config::{self, Loaded, Overrides, PortProbe};
use souk::jobs::Schedule;
use souk::telemetry::metrics::{COMMIT, VERSION};
use souk::{app, backup, healthcheck, store, telemetry};

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
    /// Operator tasks on the shop's database (safe while the shop runs).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Encrypted backups: make one now, list them, verify one.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Restore a backup into the data dir (stop souk first).
    Restore(RestoreArgs),
    /// Start a demo shop with vendors, listings, buyers and orders on 127.0.0.1,
    /// in a temporary data dir (removed on exit) unless --data-dir is given.
    Demo(DemoArgs),
    /// Pay a demo order from the demo buyers' wallet (`souk demo` with its private chain).
    DemoPay {
        /// The running demo's data dir (the demo prints it).
        #[arg(long, value_name = "DIR")]
        demo_dir: PathBuf,
        /// The order page's monero: link, or the address.
        #[arg(value_name = "LINK_OR_ADDRESS")]
        target: String,
        /// The amount in XMR (when not in the link).
        #[arg(value_name = "AMOUNT")]
        amount: Option<String>,
    },
    /// The payment watcher on a private regtest chain with many open orders (bench/escrow.sh).
    #[command(hide = true)]
    BenchEscrow {
        /// Open orders awaiting payment.
        #[arg(long, default_value_t = 1000)]
        orders: usize,
        /// Watcher cycles timed.
        #[arg(long, default_value_t = 20)]
        cycles: usize,
        /// Payments timed from their confirming block to paid.
        #[arg(long, default_value_t = 5)]
        payments: usize,
    },
    /// Many multisig escrows set up and funded at once on a private regtest chain (bench/multisig.sh).
    #[command(hide = true)]
    BenchMultisig {
        /// Escrows set up and funded at the same time.
        #[arg(long, default_value_t = 50)]
        escrows: usize,
        /// souk's wallet-rpc pool size (escrow.multisig_pool_size).
        #[arg(long, default_value_t = 2)]
        pool: usize,
        /// wallet-rpc processes playing the buyers' wallets (as many again for the vendors').
        #[arg(long, default_value_t = 2)]
        participants: usize,
    },
    /// Serve a file's bytes from memory through the shop's layers (benchmark baseline).
    #[command(hide = true)]
    BenchServe {
        /// The file to serve at every path.
        file: PathBuf,
        /// Where to listen (an IP literal and port).
        #[arg(long)]
        listen: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Make a backup now (safe while souk serves from the same data dir).
    Now(ConfigArgs),
    /// List the backups in the backup dir with time, size and age.
    List(ConfigArgs),
    /// Decrypt and check a backup completely, without touching live data.
    Verify {
        /// age identity file (age-keygen output) matching a backup recipient.
        #[arg(long, value_name = "KEYFILE")]
        identity: PathBuf,
        /// The backup file (souk-<time>.tar.zst.age).
        #[arg(value_name = "BACKUP")]
        backup: PathBuf,
    },
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// age identity file (age-keygen output) matching a backup recipient.
    #[arg(long, value_name = "KEYFILE")]
    identity: PathBuf,
    /// The backup file (souk-<time>.tar.zst.age).
    #[arg(value_name = "BACKUP")]
    backup: PathBuf,
    #[command(flatten)]
    config: ConfigArgs,
    /// Move existing data in the data dir aside instead of refusing.
    #[arg(long)]
    force: bool,
    /// Also restore the config file (and secret files) to where they came from.
    #[arg(long)]
    with_config: bool,
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Keep the demo's data here (and reuse it next time).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Listings to create (benchmarks).
    #[arg(long, default_value_t = 1000, hide = true)]
    listings: usize,
    /// Orders to create in bulk instead of the demo's few (benchmarks).
    #[arg(long, default_value_t = 0, hide = true)]
    orders: usize,
    /// Seed the data dir and exit (benchmarks).
    #[arg(long, hide = true)]
    seed_only: bool,
    /// No private Monero chain, even when monerod is installed (starts at once).
    #[arg(long)]
    no_payments: bool,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account. The password is read from the terminal (or one
    /// line of standard input), never from the command line.
    Create {
        #[command(flatten)]
        config: ConfigArgs,
        /// The new admin's username.
        #[arg(long)]
        username: String,
    },
    /// Add or rename a category.
    Category {
        #[command(flatten)]
        config: ConfigArgs,
        /// Short name used in addresses (a-z, 0-9, -).
        slug: String,
        /// Display name.
        name: String,
        /// Position in lists (smaller first).
        #[arg(long, default_value_t = 0)]
        position: i64,
    },
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
        Command::Admin(cmd) => admin(cmd),
        Command::Demo(a) => runtime().and_then(|rt| {
            rt.block_on(souk::demo::run(souk::demo::DemoOptions {
                data_dir: a.data_dir,
                listings: a.listings,
                orders: a.orders,
                seed_only: a.seed_only,
                no_payments: a.no_payments,
            }))
        }),
        Command::DemoPay {
            demo_dir,
            target,
            amount,
        } => runtime().and_then(|rt| {
            let tx = rt
                .block_on(souk::demo::chain::pay(
                    &demo_dir,
                    &target,
                    amount.as_deref(),
                ))
                .map_err(|e| vec![e])?;
            println!("paid from the demo wallet: transaction {tx}");
            Ok(())
        }),
        Command::BenchEscrow {
            orders,
            cycles,
            payments,
        } => runtime().and_then(|rt| {
            rt.block_on(souk::demo::bench_escrow::run(
                souk::demo::bench_escrow::BenchEscrow {
                    orders,
                    cycles,
                    payments,
                },
            ))
        }),
        Command::BenchMultisig {
            escrows,
            pool,
            participants,
        } => runtime().and_then(|rt| {
            rt.block_on(souk::demo::bench_multisig::run(
                souk::demo::bench_multisig::BenchMultisig {
                    escrows,
                    pool,
                    participant_processes: participants,
                },
            ))
        }),
        Command::BenchServe { file, listen } => {
            runtime().and_then(|rt| rt.block_on(souk::demo::bench_serve::run(&file, listen)))
        }
        Command::Healthcheck(args) => args.load().and_then(|loaded| {
            runtime()?
                .block_on(healthcheck::check(&loaded.config))
                .map_err(|e| vec![e])
        }),
        Command::Backup { command } => match command {
            BackupCommand::Now(args) => args.load().and_then(|l| backup::cli::now(&l)),
            BackupCommand::List(args) => args.load().and_then(|l| backup::cli::list(&l.config)),
            BackupCommand::Verify { identity, backup } => backup::cli::verify(&identity, &backup),
        },
        Command::Restore(args) => args.config.load().and_then(|l| {
            backup::cli::restore(&backup::cli::RestoreArgs {
                identity: &args.identity,
                backup: &args.backup,
                data_dir: l.config.data_dir,
                force: args.force,
                with_config: args.with_config,
            })
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

/// Opens the database of the configured data dir (creating and migrating it).
fn open_db(args: &ConfigArgs) -> Result<store::Db, Vec<String>> {
    let loaded = args.load()?;
    let c = &loaded.config;
    config::check::writable_dir("data_dir", &c.data_dir).map_err(|e| vec![e])?;
    std::fs::create_dir_all(&c.data_dir)
        .map_err(|e| vec![format!("cannot create {}: {e}", c.data_dir.display())])?;
    store::Db::open(&c.db_path())
        .map(|(db, _)| db)
        .map_err(|e| vec![e.to_string()])
}

fn read_password() -> Result<String, Vec<String>> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| vec![format!("cannot read the password: {e}")])?;
        let second = rpassword::prompt_password("Password again: ")
            .map_err(|e| vec![format!("cannot read the password: {e}")])?;
        if first != second {
            return Err(vec![
                "the two passwords differ: run the command again".to_owned(),
            ]);
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| vec![format!("cannot read the password from standard input: {e}")])?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    Ok(password)
}

fn admin(cmd: AdminCommand) -> Result<(), Vec<String>> {
    use souk::market::{accounts, auth::AdminCap, site};
    match cmd {
        AdminCommand::Create { config, username } => {
            let db = open_db(&config)?;
            let password = read_password()?;
            let reg = runtime()?
                .block_on(accounts::create_admin(&db, &username, &password))
                .map_err(|e| vec![format!("admin create: {e}")])?;
            println!("created admin {username} (account {})", reg.account_id);
            println!("recovery codes (shown once; keep them offline):");
            for code in reg.recovery_codes {
                println!("  {code}");
            }
            Ok(())
        }
        AdminCommand::Category {
            config,
            slug,
            name,
            position,
        } => {
            let db = open_db(&config)?;
            runtime()?
                .block_on(site::upsert_category(
                    &db,
                    &AdminCap::console(),
                    &slug,
                    &name,
                    position,
                ))
                .map_err(|e| vec![format!("admin category: {e}")])?;
            println!("category {slug} saved as \"{name}\"");
            Ok(())
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
    for (i, l) in backup::cli::describe(c).iter().enumerate() {
        println!("  {:<17} {l}", if i == 0 { "backups" } else { "" });
    }
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
