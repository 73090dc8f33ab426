//! Typed errors of this crate.

use qvdiff_core::Schema;
use std::fmt;

/// An error from a SQLite database: a failing statement of a script, foreign keys violated by a
/// script, or a failing database operation of qvdiff's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteError {
    /// A statement of a migration script failed.
    Statement {
        /// Revision the script belongs to.
        revision: String,
        /// The whole failing statement (see [`qvdiff_core::sqltext::excerpt`] for a short form).
        statement: String,
        /// SQLite's message.
        message: String,
    },
    /// After a script ran, `PRAGMA foreign_key_check` found rows whose parent is missing.
    /// The transaction was rolled back.
    ForeignKeyViolations {
        /// Revision(s) whose scripts were applied in the transaction.
        revision: String,
        /// The violations, at most [`MAX_REPORTED_VIOLATIONS`] of them.
        violations: Vec<ForeignKeyViolation>,
        /// The total number of violations found.
        total: usize,
    },
    /// A database operation of qvdiff's own (open, introspect, transaction control) failed.
    Database {
        /// What qvdiff was doing.
        context: String,
        /// SQLite's message.
        message: String,
    },
}

/// How many foreign-key violations an error lists at most.
pub const MAX_REPORTED_VIOLATIONS: usize = 10;

/// One row that `PRAGMA foreign_key_check` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyViolation {
    /// The child table.
    pub table: String,
    /// The child row's rowid (`None` for a WITHOUT ROWID table).
    pub rowid: Option<i64>,
    /// The parent table the row points to.
    pub parent: String,
}

impl SqliteError {
    /// A [`SqliteError::Database`] from a rusqlite error.
    pub(crate) fn database(context: impl Into<String>, error: rusqlite::Error) -> SqliteError {
        SqliteError::Database {
            context: context.into(),
            message: sqlite_message(&error),
        }
    }
}

/// SQLite's own message for `error`. A syntax error's display in rusqlite repeats the whole
/// script it was found in (up to the next `;`, the comments after it included) and a byte
/// offset; the messages that name the statement already show it, so only SQLite's words are kept.
pub fn sqlite_message(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

impl fmt::Display for SqliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqliteError::Statement {
                revision,
                statement,
                message,
            } => write!(
                f,
                "revision {revision}: {message}\n  in statement: {}",
                qvdiff_core::sqltext::excerpt(statement)
            ),
            SqliteError::ForeignKeyViolations {
                revision,
                violations,
                total,
            } => {
                write!(
                    f,
                    "revision {revision}: {total} row(s) violate a foreign key; nothing was applied"
                )?;
                for v in violations {
                    match v.rowid {
                        Some(rowid) => write!(
                            f,
                            "\n  {} rowid {rowid} references a missing row in {}",
                            v.table, v.parent
                        )?,
                        None => write!(
                            f,
                            "\n  a row of {} references a missing row in {}",
                            v.table, v.parent
                        )?,
                    }
                }
                if *total > violations.len() {
                    write!(f, "\n  … and {} more", total - violations.len())?;
                }
                Ok(())
            }
            SqliteError::Database { context, message } => write!(f, "{context}: {message}"),
        }
    }
}

impl std::error::Error for SqliteError {}

/// Which application of a migration [`crate::verify`] was checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyStep {
    /// The first `up`.
    Up,
    /// `down` after `up`.
    Down,
    /// `up` again after `down`.
    UpAgain,
}

impl fmt::Display for VerifyStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyStep::Up => "up",
            VerifyStep::Down => "down",
            VerifyStep::UpAgain => "up (again, after down)",
        })
    }
}

/// Why a generated migration failed verification.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyError {
    /// The script of a step failed to apply.
    Apply {
        /// The step.
        step: VerifyStep,
        /// The failure.
        error: SqliteError,
    },
    /// After a step the database schema is not the expected one. Both schemas are normalized,
    /// hint-free and tables-only, ready for a unified diff.
    Mismatch {
        /// The step.
        step: VerifyStep,
        /// What the schema should be.
        expected: Box<Schema>,
        /// What introspection found.
        actual: Box<Schema>,
    },
    /// Reading the schema back failed.
    Introspect {
        /// The step after which introspection ran (`None`: before any step).
        step: Option<VerifyStep>,
        /// The failure.
        error: SqliteError,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Apply { step, error } => {
                write!(f, "verifying the migration: {step} failed: {error}")
            }
            VerifyError::Mismatch { step, .. } => {
                let what = match step {
                    VerifyStep::Down => "the previous schema",
                    VerifyStep::Up | VerifyStep::UpAgain => "the models",
                };
                write!(
                    f,
                    "verifying the migration: after {step} the database schema differs from {what}"
                )
            }
            VerifyError::Introspect { step, error } => match step {
                Some(step) => write!(f, "verifying the migration: after {step}: {error}"),
                None => write!(f, "verifying the migration: {error}"),
            },
        }
    }
}

impl std::error::Error for VerifyError {}
