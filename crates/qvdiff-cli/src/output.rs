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
}
