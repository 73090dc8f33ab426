//! Progress of a port for a person at a terminal: rows per table, rows per second and the time
//! left, at most one line a second (nothing when stderr is not a terminal, see
//! [`Console::progress`]).

use crate::output::{human_seconds, Console};
use std::time::{Duration, Instant};

/// How often a progress line is printed at most.
const EVERY: Duration = Duration::from_secs(1);

/// Rows copied so far over all tables, and when the copy started.
pub struct Progress<'a> {
    console: &'a Console,
    started: Instant,
    last: Instant,
    total: u64,
    done: u64,
}

impl<'a> Progress<'a> {
    /// Progress of a copy of `total` rows starting now.
    pub fn new(console: &'a Console, total: u64) -> Progress<'a> {
        let now = Instant::now();
        Progress {
            console,
            started: now,
            last: now,
            total,
            done: 0,
        }
    }

    /// `added` more rows written; `copied` of `of` in `table`.
    pub fn copied(&mut self, table: &str, copied: u64, of: u64, added: u64) {
        self.done += added;
        if self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / seconds;
        let left = self.total.saturating_sub(self.done) as f64 / rate.max(1.0);
        self.console.progress(&format!(
            "copying {table}: {copied}/{of} rows ({} rows/s, about {} left to copy)",
            rate as u64,
            human_seconds(left)
        ));
    }

    /// `table` is written; its rows are read back for the checksum.
    pub fn checking(&mut self, table: &str, rows: u64) {
        self.console.progress(&format!(
            "copied {table}: {rows} rows; reading them back to compare"
        ));
        self.last = Instant::now();
    }
}
