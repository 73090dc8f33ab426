//! The one error-reporting layer of the CLI: every failure becomes a [`CliError`] with a clear
//! message, and `main` turns it into text on stderr and an exit code.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for `check` when it found a difference.
pub const EXIT_DIFFERENCE: i32 = 1;
/// Exit code for any error.
pub const EXIT_ERROR: i32 = 2;

/// A user-facing failure: a headline plus optional detail lines (one per finding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// One sentence: what went wrong, naming the file, table, column or revision.
    pub message: String,
    /// Further lines, e.g. every `file:line:col: message` of a failed scan, or a hint.
    pub details: Vec<String>,
}

impl CliError {
    /// An error with just a message.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds detail lines.
    pub fn with_details(mut self, details: impl IntoIterator<Item = String>) -> CliError {
        self.details.extend(details);
        self
    }

    /// Adds one `hint:` line.
    pub fn with_hint(mut self, hint: impl fmt::Display) -> CliError {
        self.details.push(format!("hint: {hint}"));
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for d in &self.details {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

/// Result of a CLI step.
pub type CliResult<T> = Result<T, CliError>;

/// Wraps an IO error with the path and what was being done.
pub fn io_error(action: &str, path: &std::path::Path, err: std::io::Error) -> CliError {
    CliError::new(format!("cannot {action} {}: {err}", path.display()))
}
