//! Import progress: a bar on a terminal, a line a second otherwise.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::{PLAIN_PROGRESS_EVERY, Tally};

pub(super) enum Progress {
    Bar(ProgressBar),
    Plain {
        total: u64,
        started: Instant,
        last: Instant,
    },
}

impl Progress {
    pub(super) fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows, eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::new(total).with_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            Self::Bar(bar)
        } else {
            let now = Instant::now();
            Self::Plain {
                total,
                started: now,
                last: now,
            }
        }
    }

    /// A message line on stderr that does not tear the bar.
    pub(super) fn line(&self, text: &str) {
        match self {
            Self::Bar(bar) => bar.println(text),
            Self::Plain { .. } => eprintln!("{text}"),
        }
    }

    pub(super) fn advance(&mut self, tally: &Tally) {
        match self {
            Self::Bar(bar) => {
                bar.inc(1);
                let rate = tally.rows() as f64 / bar.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "({} imported, {} present, {} bad) {rate:.0} rows/s",
                    tally.imported, tally.already_present, tally.bad
                ));
            }
            Self::Plain {
                total,
                started,
                last,
            } => {
                if last.elapsed() >= PLAIN_PROGRESS_EVERY {
                    *last = Instant::now();
                    let rate = tally.rows() as f64 / started.elapsed().as_secs_f64().max(1e-9);
                    eprintln!(
                        "import: {}/{total} rows ({} imported, {} already present, {} bad), {rate:.0} rows/s",
                        tally.rows(),
                        tally.imported,
                        tally.already_present,
                        tally.bad
                    );
                }
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
