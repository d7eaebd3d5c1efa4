//! A progress line on stderr (rows, rows/s, share of the file read), only when stderr is a
//! terminal: logs and scripts never see it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::output::Stderr;

pub struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
    size: u64,
    drawn: bool,
}

const EVERY: Duration = Duration::from_millis(200);
const WIDTH: usize = 24;

impl Progress {
    pub fn new(size: u64, quiet: bool) -> Self {
        let now = Instant::now();
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            started: now,
            last: now,
            size,
            drawn: false,
        }
    }

    /// Redraws at most every 200 ms.
    pub fn tick(&mut self, rows: u64, position: u64) {
        if !self.enabled || self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let share = if self.size == 0 {
            1.0
        } else {
            position as f64 / self.size as f64
        };
        let filled = ((share * WIDTH as f64) as usize).min(WIDTH);
        let rate = rows as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let _ = Stderr.write_all(
            format!(
                "\r[{}{}] {:>3.0}% {rows} rows, {rate:.0} rows/s ",
                "#".repeat(filled),
                "-".repeat(WIDTH - filled),
                share * 100.0
            )
            .as_bytes(),
        );
        self.drawn = true;
    }

    pub fn finish(&mut self) {
        if self.drawn {
            let _ = Stderr.write_all(format!("\r{}\r", " ".repeat(WIDTH + 48)).as_bytes());
            self.drawn = false;
        }
    }
}
