//! What a run reports when it fails: the statement and its revision, and what stays applied.

use super::ADVISORY_LOCK_KEY;
use crate::error::PgError;
use qvdiff_core::backend::{Direction, RunnerError};
use qvdiff_core::data_problem::DataProblem;
use qvdiff_core::runner::Refusal;
use qvdiff_core::sqltext::excerpt;
use qvdiff_core::wording::{human_duration, plural};
use qvdiff_core::BackendErrorKind;
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
    /// The server's message, detail, hint and context.
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

/// Why `upgrade`, `downgrade`, `stamp` or a read of the ledger failed. Whenever a transaction
/// was open, it was rolled back; the message says what, if anything, stays applied.
#[derive(Debug)]
pub enum RunError {
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
        /// The revision, its file, the section and the statement the rows block.
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
    /// A statement of a revision that runs outside a transaction (`CREATE INDEX CONCURRENTLY`)
    /// failed. Its earlier statements stay; the revision is not recorded.
    OutsideTransaction {
        /// The statement and its revision.
        failed: Box<FailedStatement>,
        /// How many statements of the section ran (and stay) before the failing one.
        done: usize,
        /// Revisions of this run committed before it; they stay applied.
        committed: Vec<String>,
    },
    /// A statement waited `lock_timeout` for a table lock on every attempt (see
    /// [`LockRetry`]); each time, what the open transaction had done was rolled back.
    LockTimeout {
        /// The statement and its revision.
        failed: Box<FailedStatement>,
        /// How long each attempt waited.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
        /// The sessions holding locks on the statement's tables, one line each.
        blockers: Vec<String>,
        /// Revisions of this run committed before the given-up transaction began; they stay.
        committed: Vec<String>,
        /// In a revision that runs outside a transaction, how many of its statements ran (and
        /// stay) before the one that waited.
        done_outside: Option<usize>,
    },
    /// Another session held the migration lock for the whole busy timeout.
    Locked {
        /// The database (URL without password).
        database: String,
        /// How long qvdiff waited.
        waited: Duration,
        /// Who holds the lock, when the server says (`process 4242 (qvdiff) from 10.0.0.7`).
        holder: Option<String>,
    },
    /// A database operation of qvdiff's own failed (the ledger, commit, the connection). The
    /// message says what was rolled back.
    Postgres(PgError),
}

impl fmt::Display for RunError {
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
                    write!(
                        f,
                        "; revision{} {} of this run {} committed before it and stay{}",
                        plural(committed.len()),
                        committed.join(", "),
                        if committed.len() == 1 { "was" } else { "were" },
                        if committed.len() == 1 { "s" } else { "" },
                    )?;
                }
                for problem in problems {
                    write!(f, "\n  {problem}; {}", problem.hint())?;
                }
                write!(f, "\n  in statement: {}", excerpt(&failed.statement))
            }
            RunError::OutsideTransaction {
                failed,
                done,
                committed,
            } => {
                write!(
                    f,
                    "{failed}\n  this revision runs outside a transaction (it holds a statement \
                     that runs on its own: CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT, a \
                     batched UPDATE), one recorded step at a time: "
                )?;
                match done {
                    0 => write!(f, "none of its statements took effect")?,
                    1 => write!(f, "its first statement took effect and stays, recorded")?,
                    _ => write!(
                        f,
                        "its first {done} statements took effect and stay, recorded"
                    )?,
                }
                let (state, command) = match failed.direction {
                    Direction::Up => ("applied", "upgrade"),
                    Direction::Down => ("reverted", "downgrade"),
                };
                write!(
                    f,
                    "; it is not recorded as {state}. Fix the cause and run `qvdiff {command}` \
                     again: it continues with the failed statement (an invalid index that a \
                     failed CREATE INDEX CONCURRENTLY left is dropped and built again)"
                )?;
                if !committed.is_empty() {
                    write!(
                        f,
                        "\n  revision{} {} of this run {} committed before it and stay{}",
                        plural(committed.len()),
                        committed.join(", "),
                        if committed.len() == 1 { "was" } else { "were" },
                        if committed.len() == 1 { "s" } else { "" },
                    )?;
                }
                Ok(())
            }
            RunError::LockTimeout {
                failed,
                timeout,
                attempts,
                blockers,
                committed,
                done_outside,
            } => {
                write!(
                    f,
                    "revision {} ({}, {}) gave up waiting for a table lock: the statement waited \
                     {} (lock_timeout) on each of {attempts} attempt{}, and each time what it \
                     waited in was rolled back so that the application could keep writing; ",
                    failed.revision,
                    failed.path,
                    failed.direction,
                    human_duration(*timeout),
                    plural(*attempts as usize),
                )?;
                match done_outside {
                    Some(done) if *done > 0 => write!(
                        f,
                        "this revision runs outside a transaction, so its first {done} \
                         statement{} took effect and stay{}, recorded: running again continues \
                         with the statement that waited",
                        plural(*done),
                        if *done == 1 { "s" } else { "" }
                    )?,
                    _ => write!(f, "{}", rolled_back_note(committed))?,
                }
                if blockers.is_empty() {
                    write!(
                        f,
                        "\n  no other session holds a lock on its tables now: run it again"
                    )?;
                }
                for blocker in blockers {
                    write!(f, "\n  blocked by {blocker}")?;
                }
                write!(
                    f,
                    "\n  in statement: {}\n  end the blocking session (SELECT \
                     pg_terminate_backend(<process>)) or wait until it is done, then run the \
                     upgrade again; lock_timeout_ms and lock_retries under [postgres] in \
                     qvdiff.toml set how long each attempt waits and how many are made",
                    excerpt(&failed.statement)
                )
            }
            RunError::Locked {
                database,
                waited,
                holder,
            } => {
                write!(
                    f,
                    "{database} stayed locked by another qvdiff run for {} (advisory lock \
                     {ADVISORY_LOCK_KEY}",
                    human_duration(*waited)
                )?;
                if let Some(holder) = holder {
                    write!(f, ", held by {holder}")?;
                }
                write!(
                    f,
                    "); nothing was changed: retry, or raise the busy timeout"
                )
            }
            RunError::Postgres(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Refused(e) => Some(e),
            RunError::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Refusal> for RunError {
    fn from(e: Refusal) -> Self {
        RunError::Refused(e)
    }
}

impl From<PgError> for RunError {
    fn from(e: PgError) -> Self {
        RunError::Postgres(e)
    }
}

impl RunnerError for RunError {
    fn backend_kind(&self) -> BackendErrorKind {
        match self {
            RunError::Locked { .. } => BackendErrorKind::Locked,
            RunError::Refused(_) | RunError::Data { .. } => BackendErrorKind::Refused,
            _ => BackendErrorKind::Failed,
        }
    }
}

/// What a rolled-back transaction leaves, given the revisions this run committed before it.
pub(super) fn rolled_back_note(committed: &[String]) -> String {
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
