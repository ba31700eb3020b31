//! Progress for the CLI: indicatif bars on a terminal, one plain line per finished
//! step otherwise (logs, pipes, systemd), nothing at all inside `serve`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (the service logs instead).
    Silent,
    /// A line per finished step on stdout.
    Plain,
    /// Bars on stderr, a line per finished step on stdout.
    Bars,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn for_cli() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Plain
        }
    }

    /// Starts a step of `total` bytes (None: unknown, a spinner).
    pub fn step(self, what: &str, total: Option<u64>) -> Step {
        let bar = (self == Self::Bars).then(|| {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template(
                            "{msg:<12} [{bar:32}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    ),
                None => {
                    let s = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                        .with_style(
                            ProgressStyle::with_template("{msg:<12} {spinner} {elapsed}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                    s.enable_steady_tick(Duration::from_millis(200));
                    s
                }
            };
            bar.set_message(what.to_owned());
            // Dropped on an error path: clear it rather than leave half a bar.
            bar.with_finish(ProgressFinish::AndClear)
        });
        Step {
            bar,
            print: self != Self::Silent,
            started: Instant::now(),
        }
    }
}

/// One step in progress; cheap to clone into a reader.
#[derive(Debug, Clone)]
pub struct Step {
    bar: Option<ProgressBar>,
    print: bool,
    started: Instant,
}

impl Step {
    /// Bytes done so far.
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// Ends the step with a summary line (the elapsed time is appended).
    pub fn finish(self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.print {
            println!("{summary} ({:.1} s)", self.started.elapsed().as_secs_f64());
        }
    }
}
