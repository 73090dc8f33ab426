//! Console output for people: colour only on a terminal and never with `NO_COLOR`, quiet and
//! verbose levels.

use std::io::{IsTerminal, Write};

/// How chatty the CLI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and requested output only.
    Quiet,
    /// The default.
    Normal,
    /// `-v`: also what qvdiff is doing.
    Verbose,
}

/// Where human-facing messages go (stderr), with styling decided once.
#[derive(Debug, Clone)]
pub struct Console {
    /// Verbosity level.
    pub verbosity: Verbosity,
    colour: bool,
    terminal: bool,
}

/// A colour for a message fragment.
#[derive(Debug, Clone, Copy)]
pub enum Tone {
    /// Success.
    Good,
    /// Warning: data loss, something to read.
    Warn,
    /// Error.
    Bad,
    /// De-emphasised.
    Dim,
    /// Emphasised.
    Bold,
}

impl Console {
    /// A console writing to stderr; colour when stderr is a terminal and `NO_COLOR` is unset.
    pub fn new(verbosity: Verbosity) -> Console {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let terminal = std::io::stderr().is_terminal();
        Console {
            verbosity,
            colour: !no_color && terminal,
            terminal,
        }
    }

    /// Styles `text` when colour is on.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Warn => "33",
            Tone::Bad => "31;1",
            Tone::Dim => "2",
            Tone::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A normal progress or summary line (hidden by `-q`).
    pub fn info(&self, line: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{line}");
        }
    }

    /// A progress line for a person watching long work: only on a terminal (logs and scripts get
    /// the summary lines instead), and not with `-q`.
    pub fn progress(&self, line: &str) {
        if self.terminal && self.verbosity >= Verbosity::Normal {
            eprintln!("{}", self.paint(Tone::Dim, line));
        }
    }

    /// A line shown only with `-v`.
    pub fn detail(&self, line: &str) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{}", self.paint(Tone::Dim, line));
        }
    }

    /// A warning (shown even with `-q`: warnings are about data).
    pub fn warn(&self, line: &str) {
        eprintln!("{} {line}", self.paint(Tone::Warn, "warning:"));
    }

    /// Many lines at once, each a warning (shown even with `-q`) or a summary line (as
    /// [`Console::info`]), in one write: a 1000-table migration lists a thousand changes.
    pub fn lines<S: AsRef<str>>(&self, lines: impl IntoIterator<Item = (S, bool)>) {
        let mut text = String::new();
        for (line, warning) in lines {
            if warning {
                text.push_str(&self.paint(Tone::Warn, "warning:"));
                text.push(' ');
            } else if self.verbosity < Verbosity::Normal {
                continue;
            }
            text.push_str(line.as_ref());
            text.push('\n');
        }
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    /// Prints an error and its details.
    pub fn error(&self, err: &crate::error::CliError) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{} {}",
            self.paint(Tone::Bad, "error:"),
            err.message
        );
        // Every line of a detail is indented, so a multi-line one (a schema diff) stays visibly
        // part of the error.
        for line in err.details.iter().flat_map(|d| d.lines()) {
            let _ = writeln!(stderr, "  {line}");
        }
    }
}

/// How often a progress line about long work is printed at most.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The pace of long work counted in rows, for its progress lines: when the next line is due
/// (one a second at most) and the rate and time left so far.
pub struct Pace {
    started: std::time::Instant,
    last_line: Option<std::time::Instant>,
}

impl Pace {
    /// Work starting now; `first_line_now` lets the first line out at once rather than after
    /// a second.
    pub fn new(first_line_now: bool) -> Pace {
        let now = std::time::Instant::now();
        Pace {
            started: now,
            last_line: (!first_line_now).then_some(now),
        }
    }

    /// Whether a line is due now; if so, the next one is a second away.
    pub fn line_due(&mut self) -> bool {
        if self
            .last_line
            .is_some_and(|at| at.elapsed() < PROGRESS_EVERY)
        {
            return false;
        }
        self.line_shown();
        true
    }

    /// A line was shown by other means: the next is a second away.
    pub fn line_shown(&mut self) {
        self.last_line = Some(std::time::Instant::now());
    }

    /// Rows per second after `done` rows in `elapsed`, and seconds left for `total` at that rate.
    pub fn rate_and_left(done: u64, total: u64, elapsed: std::time::Duration) -> (f64, f64) {
        let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
        (rate, total.saturating_sub(done) as f64 / rate.max(1.0))
    }

    /// Time since the work started.
    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }
}

/// `75` → `1 min 15 s`, `4.2` → `5 s`: a time left or taken, for a person.
pub fn human_seconds(seconds: f64) -> String {
    let whole = seconds.ceil() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else {
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_as_minutes_and_seconds() {
        assert_eq!(human_seconds(4.2), "5 s");
        assert_eq!(human_seconds(75.0), "1 min 15 s");
    }

    #[test]
    fn pace_lets_one_line_a_second_and_reckons_the_time_left() {
        let mut now = Pace::new(true);
        assert!(now.line_due());
        assert!(!now.line_due());
        assert!(!Pace::new(false).line_due());
        let (rate, left) = Pace::rate_and_left(500, 2_000, std::time::Duration::from_secs(2));
        assert_eq!((rate, left), (250.0, 6.0));
        assert_eq!(
            Pace::rate_and_left(10, 5, std::time::Duration::from_secs(1)).1,
            0.0
        );
    }
}
