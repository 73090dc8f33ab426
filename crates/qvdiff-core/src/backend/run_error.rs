//! One shape for every dialect's run failures: what the decisions refused, a failing statement,
//! rows in the way, a lock held by another writer, and what only the dialect knows. Each dialect
//! builds a [`RunError`] with its own failures as `E`; which [`BackendErrorKind`] a failure is,
//! and how the shared ones read, is decided here once.

use super::{BackendError, BackendErrorKind, Direction};
use crate::data_problem::DataProblem;
use crate::runner::Refusal;
use crate::sqltext::excerpt;
use crate::wording::{human_duration, plural};
use std::fmt;
use std::time::Duration;

/// A statement of a migration that failed, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStatement {
    /// The revision.
    pub revision: String,
    /// Its file.
    pub path: String,
    /// Which section.
    pub direction: Direction,
    /// The failing statement.
    pub statement: String,
    /// The database's message (PostgreSQL: with detail, hint and context).
    pub message: String,
}

impl fmt::Display for FailedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "revision {} ({}, {}) failed: {}\n  in statement: {}",
            self.revision,
            self.path,
            self.direction,
            self.message,
            excerpt(&self.statement)
        )
    }
}

/// Another writer held the database's lock for the whole wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    /// The database (a file path, or a URL without its password).
    pub database: String,
    /// How long qvdiff waited.
    pub waited: Duration,
    /// Who holds the lock, as far as known (`another writer`, `another qvdiff run`).
    pub holder: String,
    /// Which lock, or what is likely holding it, for the message.
    pub detail: String,
}

impl fmt::Display for LockWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stayed locked by {} for {} ({}); nothing was changed: retry, or raise the busy \
             timeout",
            self.database,
            self.holder,
            human_duration(self.waited),
            self.detail
        )
    }
}

/// Why `upgrade`, `downgrade`, `stamp`, `accept` or a read of the ledger failed. Whenever a
/// transaction was open, it was rolled back; the message says what, if anything, stays applied
/// (on SQLite a run is one transaction, so `committed` is always empty there).
#[derive(Debug)]
pub enum RunError<E> {
    /// The ledger and the files disagree, or the target is not usable (see [`Refusal`]).
    Refused(Refusal),
    /// A statement of a migration failed inside the run's transaction, which was rolled back.
    Statement {
        /// The statement and its revision.
        failed: Box<FailedStatement>,
        /// Revisions of this run committed before the failing transaction began (only after a
        /// revision that runs outside a transaction); they stay applied.
        committed: Vec<String>,
    },
    /// Existing rows do not allow a statement of a migration, or would come out of it changed
    /// (preflight refusal): counted, with example keys, before anything of it took effect.
    Data {
        /// The revision, its file, the section and the statement the rows block (empty when no
        /// one statement is to blame, e.g. values a type change left unconverted).
        failed: Box<FailedStatement>,
        /// The rows in the way, per table.
        problems: Vec<DataProblem>,
        /// Revisions of this run committed before the refused transaction began; they stay.
        committed: Vec<String>,
        /// In a revision that runs outside a transaction, how many of its statements ran (and
        /// stay) before the refused one.
        done_outside: Option<usize>,
        /// When undoing what the revision did before the refusal failed: why, what stays and
        /// how to remove it by hand (said instead of what `done_outside` says).
        undo_failed: Option<String>,
    },
    /// Another writer held the lock for the whole busy timeout.
    Locked(LockWait),
    /// What only the dialect knows (its own database operations, backups, statements run
    /// outside a transaction, table-lock timeouts).
    Dialect(E),
}

impl<E> RunError<E> {
    /// Whether it is a lock wait, a refusal or a failure.
    pub fn kind(&self) -> BackendErrorKind {
        match self {
            RunError::Locked(_) => BackendErrorKind::Locked,
            RunError::Refused(_) | RunError::Data { .. } => BackendErrorKind::Refused,
            RunError::Statement { .. } | RunError::Dialect(_) => BackendErrorKind::Failed,
        }
    }

    /// The failure of `statement` of `migration`'s section in `direction`, before anything of
    /// the run was committed.
    pub fn statement(
        migration: &crate::runner::Migration,
        direction: Direction,
        statement: impl Into<String>,
        message: impl Into<String>,
    ) -> RunError<E> {
        RunError::Statement {
            failed: Box::new(FailedStatement {
                revision: migration.file.revision.clone(),
                path: migration.path.clone(),
                direction,
                statement: statement.into(),
                message: message.into(),
            }),
            committed: Vec::new(),
        }
    }

    /// Rows that do not allow `migration`'s section in `direction` (at `statement`, empty when
    /// no one statement is to blame), before anything of the run was committed.
    pub fn data(
        migration: &crate::runner::Migration,
        direction: Direction,
        statement: impl Into<String>,
        problems: Vec<DataProblem>,
    ) -> RunError<E> {
        RunError::Data {
            failed: Box::new(FailedStatement {
                revision: migration.file.revision.clone(),
                path: migration.path.clone(),
                direction,
                statement: statement.into(),
                message: String::new(),
            }),
            problems,
            committed: Vec::new(),
            done_outside: None,
            undo_failed: None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for RunError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Refused(refusal) => write!(f, "{refusal}"),
            RunError::Statement { failed, committed } => {
                write!(f, "{failed}\n  {}", rolled_back_note(committed))
            }
            RunError::Data {
                failed,
                problems,
                committed,
                done_outside,
                undo_failed,
            } => {
                write!(
                    f,
                    "revision {} ({}, {}) cannot run on the existing data; ",
                    failed.revision, failed.path, failed.direction
                )?;
                match done_outside {
                    _ if undo_failed.is_some() => {
                        write!(f, "{}", undo_failed.as_deref().unwrap_or_default())?
                    }
                    Some(done) if *done > 0 => write!(
                        f,
                        "the refused statement did not run, but this revision runs outside a \
                         transaction, so its first {done} statement{} took effect and stay{}, \
                         recorded: once the rows are fixed, running again continues with the \
                         refused statement",
                        plural(*done),
                        if *done == 1 { "s" } else { "" }
                    )?,
                    _ if committed.is_empty() => write!(f, "nothing was changed")?,
                    None => write!(f, "{}", rolled_back_note(committed))?,
                    Some(_) => {}
                }
                if done_outside.is_some() && !committed.is_empty() {
                    write!(f, "; {}", committed_before(committed))?;
                }
                for problem in problems {
                    write!(f, "\n  {problem}; {}", problem.hint())?;
                }
                if failed.statement.is_empty() {
                    return Ok(());
                }
                write!(f, "\n  in statement: {}", excerpt(&failed.statement))
            }
            RunError::Locked(wait) => write!(f, "{wait}"),
            RunError::Dialect(e) => write!(f, "{e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RunError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Refused(e) => Some(e),
            RunError::Dialect(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<Refusal> for RunError<E> {
    fn from(e: Refusal) -> Self {
        RunError::Refused(e)
    }
}

impl<E: fmt::Display> From<RunError<E>> for BackendError {
    /// The run error as a [`BackendError`], its message unchanged.
    fn from(error: RunError<E>) -> BackendError {
        BackendError {
            kind: error.kind(),
            message: error.to_string(),
        }
    }
}

/// What a rolled-back transaction leaves, given the revisions this run committed before it.
pub fn rolled_back_note(committed: &[String]) -> String {
    if committed.is_empty() {
        "the transaction was rolled back: nothing was applied".to_string()
    } else {
        format!(
            "the transaction was rolled back: nothing of it was applied; revision{} {} of this \
             run {} committed before it (a revision that runs outside a transaction, such as \
             CREATE INDEX CONCURRENTLY, ends the transaction before it) and stay{} applied",
            plural(committed.len()),
            committed.join(", "),
            if committed.len() == 1 { "was" } else { "were" },
            if committed.len() == 1 { "s" } else { "" },
        )
    }
}

/// `revisions r1, r2 of this run were committed before it and stay`: what a failure outside a
/// transaction leaves of the run's earlier revisions (`committed` not empty).
pub fn committed_before(committed: &[String]) -> String {
    format!(
        "revision{} {} of this run {} committed before it and stay{}",
        plural(committed.len()),
        committed.join(", "),
        if committed.len() == 1 { "was" } else { "were" },
        if committed.len() == 1 { "s" } else { "" },
    )
}
