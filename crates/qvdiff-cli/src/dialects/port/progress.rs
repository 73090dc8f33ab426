//! Progress of a port for a person at a terminal: rows per table, rows per second and the time
//! left, at most one line a second (nothing when stderr is not a terminal, see
//! [`Console::progress`]).

use crate::output::{human_seconds, Console, Pace};
use qvdiff_core::wording::plural;

/// Rows copied so far over all tables, and when the copy started.
pub struct Progress<'a> {
    console: &'a Console,
    pace: Pace,
    total: u64,
    done: u64,
}

impl<'a> Progress<'a> {
    /// Progress of a copy of `total` rows starting now.
    pub fn new(console: &'a Console, total: u64) -> Progress<'a> {
        Progress {
            console,
            pace: Pace::new(false),
            total,
            done: 0,
        }
    }

    /// `added` more rows written; `copied` of `of` in `table`.
    pub fn copied(&mut self, table: &str, copied: u64, of: u64, added: u64) {
        self.done += added;
        if !self.pace.line_due() {
            return;
        }
        let (rate, left) = Pace::rate_and_left(self.done, self.total, self.pace.elapsed());
        self.console.progress(&format!(
            "copying {table}: {copied}/{of} rows ({} rows/s, about {} left to copy)",
            rate as u64,
            human_seconds(left)
        ));
    }

    /// `table` is written; its rows are read back for the checksum.
    pub fn checking(&mut self, table: &str, rows: u64) {
        self.console.progress(&format!(
            "copied {table}: {rows} row{}; reading them back to compare",
            plural(rows as usize)
        ));
        self.pace.line_shown();
    }
}
