//! What a run on PostgreSQL reports when it fails, beyond the shape every dialect shares
//! ([`qvdiff_core::backend::RunError`]): a revision that ran outside a transaction, a statement
//! that gave up waiting for a table lock, and qvdiff's own queries.

use super::ADVISORY_LOCK_KEY;
use crate::error::PgError;
use qvdiff_core::backend::{committed_before, rolled_back_note, Direction, LockWait};
use qvdiff_core::sqltext::excerpt;
use qvdiff_core::wording::{human_duration, plural};
use std::fmt;
use std::time::Duration;

pub use qvdiff_core::backend::FailedStatement;

/// Why `upgrade`, `downgrade`, `stamp` or a read of the ledger failed, in the shape every
/// dialect shares. Whenever a transaction was open, it was rolled back; the message says what,
/// if anything, stays applied.
pub type RunError = qvdiff_core::backend::RunError<PgRunFailure>;

/// What the batches of a batched `UPDATE` (under a `-- qvdiff:batch` line) committed in a run
/// before a later batch failed: each batch commits on its own, so they stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBatches {
    /// How many batches committed in this run (0: none, but an earlier run's batches reached
    /// `last_key`).
    pub batches: u64,
    /// How many rows they changed.
    pub changed: u64,
    /// The key the last of them reached, as SQL literals: the next run continues after it.
    pub last_key: String,
}

impl CommittedBatches {
    /// What stays and how to go on, for a message (`command`: `upgrade` or `downgrade`).
    fn note(&self, command: &str) -> String {
        let committed = if self.batches == 0 {
            format!(
                "its batched UPDATE committed no batch in this run; the batches an earlier run \
                 committed, up to key {}, stay",
                self.last_key
            )
        } else {
            format!(
                "its batched UPDATE committed {} batch{} ({} row{} changed, up to key {}) before \
                 it stopped, and they stay",
                self.batches,
                if self.batches == 1 { "" } else { "es" },
                self.changed,
                plural(usize::try_from(self.changed).unwrap_or(usize::MAX)),
                self.last_key,
            )
        };
        format!(
            "{committed}: each batch commits on its own with the key it reached, and \
             running `qvdiff {command}` again continues after key {}, so no row is changed \
             twice",
            self.last_key,
        )
    }
}

fn command_of(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    }
}

/// What only PostgreSQL adds to a run's failures.
#[derive(Debug)]
pub enum PgRunFailure {
    /// A statement of a revision that runs outside a transaction (`CREATE INDEX CONCURRENTLY`)
    /// failed. Its earlier statements stay; the revision is not recorded.
    OutsideTransaction {
        /// The statement and its revision.
        failed: Box<FailedStatement>,
        /// How many statements of the section ran (and stay) before the failing one.
        done: usize,
        /// Revisions of this run committed before it; they stay applied.
        committed: Vec<String>,
        /// When the failing statement is a batched `UPDATE`: what its batches committed.
        batches: Option<Box<CommittedBatches>>,
    },
    /// A statement waited `lock_timeout` for a table lock on every attempt (see
    /// [`qvdiff_core::backend::LockRetry`]); each time, what the open transaction had done was
    /// rolled back.
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
        /// When the statement that waited is a batched `UPDATE`: what its batches committed.
        batches: Option<Box<CommittedBatches>>,
    },
    /// A database operation of qvdiff's own failed (the ledger, commit, the connection). The
    /// message says what was rolled back.
    Postgres(PgError),
}

impl fmt::Display for PgRunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgRunFailure::OutsideTransaction {
                failed,
                done,
                committed,
                batches,
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
                if let Some(batches) = batches {
                    write!(f, "\n  {}", batches.note(command))?;
                }
                if !committed.is_empty() {
                    write!(f, "\n  {}", committed_before(committed))?;
                }
                Ok(())
            }
            PgRunFailure::LockTimeout {
                failed,
                timeout,
                attempts,
                blockers,
                committed,
                done_outside,
                batches,
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
                let stays = match (done_outside, batches) {
                    (Some(done), _) => *done > 0 || batches.is_some(),
                    (None, _) => false,
                };
                match (done_outside, batches) {
                    (Some(done), _) if *done > 0 => write!(
                        f,
                        "this revision runs outside a transaction, so its first {done} \
                         statement{} took effect and stay{}, recorded: running again continues \
                         with the statement that waited",
                        plural(*done),
                        if *done == 1 { "s" } else { "" }
                    )?,
                    (Some(_), Some(_)) => write!(
                        f,
                        "this revision runs outside a transaction, one recorded step at a time"
                    )?,
                    _ => write!(f, "{}", rolled_back_note(committed))?,
                }
                if let Some(batches) = batches {
                    write!(f, "; {}", batches.note(command_of(failed.direction)))?;
                }
                if stays && !committed.is_empty() {
                    write!(f, "\n  {}", committed_before(committed))?;
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
            PgRunFailure::Postgres(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PgRunFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PgRunFailure::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<PgError> for RunError {
    fn from(e: PgError) -> Self {
        RunError::Dialect(PgRunFailure::Postgres(e))
    }
}

/// Another session held the migration lock for the whole busy timeout (`holder`: who, when the
/// server says, e.g. `process 4242 (qvdiff) from 10.0.0.7`).
pub(super) fn migration_lock_held(
    database: &str,
    waited: Duration,
    holder: Option<String>,
) -> RunError {
    let held_by = holder.map(|h| format!(", held by {h}")).unwrap_or_default();
    RunError::Locked(LockWait {
        database: database.to_string(),
        waited,
        holder: "another qvdiff run".to_string(),
        detail: format!("advisory lock {ADVISORY_LOCK_KEY}{held_by}"),
    })
}
