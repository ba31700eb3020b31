//! tracing: human-readable lines to stderr (journald keeps them) and JSON lines to
//! rotating files in the log dir. Retention lives in [`super::retention`].

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation as AppenderRotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, Rotation};

/// File names are `souk.<date>.log`; retention only ever touches names of this shape.
pub const FILE_PREFIX: &str = "souk";
/// See [`FILE_PREFIX`].
pub const FILE_SUFFIX: &str = "log";

/// Keeps the background log writer alive; dropping it flushes the file.
pub struct LogGuard {
    _file: WorkerGuard,
}

/// The filter in force: `RUST_LOG` when set, else the configured level.
pub fn filter(config: &LogConfig) -> Result<EnvFilter, String> {
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v)
            .map_err(|e| format!("RUST_LOG \"{v}\" is not a valid log filter ({e}): write e.g. info")),
        _ => EnvFilter::try_new(&config.level).map_err(|e| {
            format!(
                "log.level \"{}\" is not a valid log filter ({e}): write e.g. info, warn or souk=debug,info",
                config.level
            )
        }),
    }
}

/// Installs the global subscriber: stderr plus JSON files in `dir` (created by the caller).
pub fn init(config: &LogConfig, dir: &Path) -> Result<LogGuard, String> {
    let rotation = match config.rotation {
        Rotation::Hourly => AppenderRotation::HOURLY,
        Rotation::Daily => AppenderRotation::DAILY,
    };
    let appender = RollingFileAppender::builder()
        .rotation(rotation)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix(FILE_SUFFIX)
        .build(dir)
        .map_err(|e| format!("log dir {}: cannot open a log file: {e}", dir.display()))?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let file_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(file_writer)
        .with_current_span(false)
        .with_span_list(false);
    tracing_subscriber::registry()
        .with(filter(config)?)
        .with(stderr_layer)
        .with(file_layer)
        .try_init()
        .map_err(|e| format!("logging is already set up: {e}"))?;
    Ok(LogGuard { _file: guard })
}
