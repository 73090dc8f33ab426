//! What running migrations on a live database takes and gives, for every dialect: options,
//! reports, and the [`Backend`] trait the CLI drives a database through.
//!
//! The types are plain data; the work (locking, transactions, the ledger) is each dialect
//! crate's. The decisions (what to apply, when to refuse) are [`crate::runner`]'s, shared by all;
//! the loop that carries them out is [`crate::run_loop`]'s. A dialect reports a failure as a
//! [`RunError`] (its own failures inside), which becomes a [`BackendError`] at this boundary.

mod run_error;

pub use run_error::{committed_before, rolled_back_note, FailedStatement, LockWait, RunError};

use crate::dialect::Dialect;
use crate::run_loop::{script_plan, Accept, RunRequest, Stamp};
use crate::runner::{
    plan_stamp, AcceptedEdit, AppliedRevision, Migration, Migrations, Refusal, RevisionTarget,
    ScriptPlan,
};
use crate::schema::Schema;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How long `upgrade`/`downgrade`/`stamp` wait for another writer by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one migration statement may wait for a table lock, and how often a statement that
/// waited that long is tried again (PostgreSQL's `lock_timeout`; SQLite locks the whole file and
/// has its busy timeout instead).
///
/// A statement queued for a table lock behind a long transaction makes every later writer of the
/// table queue behind it, so the wait is cut short: the work since the last commit is rolled
/// back, which lets the writers through, and tried again after a pause that doubles each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRetry {
    /// How long one attempt waits for a lock (`Duration::ZERO`: without limit).
    pub timeout: Duration,
    /// How many times a timed-out attempt is tried again before the run gives up.
    pub retries: u32,
}

/// A few seconds per attempt, five more attempts: writers wait at most the timeout at a time,
/// and a run gives up after about half a minute behind a session that does not let go.
pub const DEFAULT_LOCK_RETRY: LockRetry = LockRetry {
    timeout: Duration::from_secs(2),
    retries: 5,
};

/// A revision a stopped run left half done: it runs outside a transaction (PostgreSQL's
/// `CREATE INDEX CONCURRENTLY`), its first steps took effect, and the next run in the same
/// direction continues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HalfDone {
    /// The revision.
    pub revision: String,
    /// Which way it was running.
    pub direction: Direction,
    /// How many of its statements are recorded as done.
    pub statements_done: usize,
}

/// Where and how many backups `upgrade`/`downgrade` keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// The backup directory (created 0700 when missing).
    pub dir: PathBuf,
    /// How many backups of the database to keep (newest first).
    pub keep: usize,
}

/// Called just before each revision runs, with the direction and the migration: a long table
/// rebuild then shows which revision is working instead of a silent wait.
pub type ProgressHook = std::sync::Arc<dyn Fn(Direction, &Migration) + Send + Sync>;

/// How far a batched statement (an `UPDATE` under a `-- qvdiff:batch` line) has got: told after
/// each batch, and once more when the last one is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchProgress {
    /// The table the statement changes, as written in it.
    pub table: String,
    /// Rows the batches have gone past in key order so far.
    pub walked: u64,
    /// Rows the batches changed so far (those the statement's `WHERE` still matched).
    pub changed: u64,
    /// The rows the batches have to walk, as the server estimates them when the statement
    /// starts: the table's rows, or those after the key a stopped run reached when it continues
    /// (`None`: not known, as before its first `ANALYZE`).
    pub estimate: Option<u64>,
    /// How long the statement has been running.
    pub elapsed: Duration,
    /// Whether this is the report after the last batch.
    pub done: bool,
}

/// Told how a batched statement is going (see [`BatchProgress`]): a backfill of a big table runs
/// for minutes, and a person at a terminal wants to see it move.
pub type BatchHook = std::sync::Arc<dyn Fn(&BatchProgress) + Send + Sync>;

/// How `upgrade`, `downgrade` and `stamp` run.
#[derive(Clone)]
pub struct RunOptions {
    /// How long to wait for another writer's lock before giving up.
    pub busy_timeout: Duration,
    /// Take an online backup under the write lock before changing anything (`None`:
    /// `--no-backup`). Skipped when there is nothing to do.
    pub backup: Option<BackupSettings>,
    /// Told about each revision before it runs (`None`: silent).
    pub progress: Option<ProgressHook>,
    /// Told how each batched statement is going (`None`: silent).
    pub batch_progress: Option<BatchHook>,
    /// How long a migration statement waits for a table lock, and how often it is retried.
    pub lock_retry: LockRetry,
    /// Go through contract revisions (`upgrade --contract`). Without it an upgrade stops before
    /// the first pending one: it belongs after the new app version is deployed everywhere.
    pub contract: bool,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("busy_timeout", &self.busy_timeout)
            .field("backup", &self.backup)
            .field("progress", &self.progress.is_some())
            .field("batch_progress", &self.batch_progress.is_some())
            .field("lock_retry", &self.lock_retry)
            .field("contract", &self.contract)
            .finish()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            backup: None,
            progress: None,
            batch_progress: None,
            lock_retry: DEFAULT_LOCK_RETRY,
            contract: false,
        }
    }
}

/// Which section of a migration was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The `up` section (`upgrade`).
    Up,
    /// The `down` section (`downgrade`).
    Down,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// One revision applied or reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    /// Revision id.
    pub revision: String,
    /// Its message.
    pub message: String,
    /// Its file.
    pub path: String,
    /// How long its SQL took.
    pub execution_ms: i64,
}

/// What `upgrade` or `downgrade` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Revisions applied (upgrade, parents first) or reverted (downgrade, children first).
    /// Empty: the database was already there ("up to date").
    pub steps: Vec<StepReport>,
    /// The backup taken before, if any.
    pub backup: Option<PathBuf>,
    /// The applied heads afterwards (empty at base).
    pub current: Vec<String>,
    /// The revisions the upgrade would have run but left pending, from the contract revision it
    /// stopped before (empty: it stopped nowhere; see [`RunOptions::contract`]).
    pub held: Vec<String>,
}

impl RunReport {
    /// Whether nothing had to be done.
    pub fn is_noop(&self) -> bool {
        self.steps.is_empty()
    }
}

/// What `stamp` changed in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StampReport {
    /// Revisions recorded as applied.
    pub added: Vec<String>,
    /// Revisions removed from the ledger.
    pub removed: Vec<String>,
    /// Applied revisions whose stored checksum was replaced by the file's.
    pub rechecksummed: Vec<String>,
}

/// What kind of failure a [`BackendError`] is, for the hints a front end adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendErrorKind {
    /// Another process held the database's lock for the whole wait.
    Locked,
    /// The runner refused (ledger and files disagree, unknown target, data in the way, …).
    Refused,
    /// Anything else: a failing statement, a lost connection, an IO error.
    Failed,
}

/// A live-database failure, as one message that names the database, revision and statement.
/// Whenever a transaction was open, it was rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// What went wrong.
    pub kind: BackendErrorKind,
    /// The full message.
    pub message: String,
}

impl BackendError {
    /// A failure of kind [`BackendErrorKind::Failed`].
    pub fn failed(message: impl Into<String>) -> BackendError {
        BackendError {
            kind: BackendErrorKind::Failed,
            message: message.into(),
        }
    }
}

impl From<Refusal> for BackendError {
    /// A refusal of the decisions, before the database was changed.
    fn from(refusal: Refusal) -> BackendError {
        BackendError {
            kind: BackendErrorKind::Refused,
            message: refusal.to_string(),
        }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BackendError {}

/// A live database of one dialect, as the deploy commands use it. `qvdiff-sqlite` and
/// `qvdiff-postgres` each implement it; the CLI picks one from the database URL and never asks
/// which it got.
///
/// A dialect implements what differs: reading the database, its script shape, and how it opens
/// a run ([`Backend::run`]) or a ledger write ([`Backend::write_stamp`], [`Backend::write_accept`]) under its lock. The
/// provided methods (the scripts, `stamp`, `accept`) are the same for every dialect. Targets arrive parsed ([`RevisionTarget`]): no dialect reads one from text.
pub trait Backend {
    /// The dialect whose SQL this database runs (and whose `normalize` its schema went through).
    fn dialect(&self) -> &dyn Dialect;

    /// The database, for messages (a file path, or a URL without its password).
    fn describe(&self) -> String;

    /// The ledger rows, in the order they were applied (empty without a ledger).
    fn applied(&mut self) -> Result<Vec<AppliedRevision>, BackendError>;

    /// Revisions a failed or killed run left half done (none where every revision runs in a
    /// transaction, as on SQLite).
    fn half_done(&mut self) -> Result<Vec<HalfDone>, BackendError> {
        Ok(Vec::new())
    }

    /// [`Backend::applied`] and [`Backend::half_done`] read together (`current`, `history`): a
    /// server answers both in fewer round trips than one after the other.
    fn applied_and_half_done(
        &mut self,
    ) -> Result<(Vec<AppliedRevision>, Vec<HalfDone>), BackendError> {
        Ok((self.applied()?, self.half_done()?))
    }

    /// The live schema, read back into the logical model.
    fn introspect(&mut self) -> Result<Schema, BackendError>;

    /// How many rows `table` holds (what a review shows next to a rebuild or a drop).
    fn count_rows(&mut self, table: &str) -> Result<u64, BackendError>;

    /// How many rows of `table` hold NULL in `column` (what a column becoming NOT NULL needs a
    /// value for).
    fn count_nulls(&mut self, table: &str, column: &str) -> Result<u64, BackendError>;

    /// The offline script of `plan`, in the transaction shape the dialect's runner uses, with
    /// `range` (`base -> head`) in its header.
    fn render_script(&self, plan: &ScriptPlan<'_>, range: &str) -> Result<String, BackendError>;

    /// Runs the `upgrade` (to `head`, a revision, `+N`) or `downgrade` (to `base`, a revision
    /// that stays applied, `-N`) of `request` under the dialect's lock, all or nothing (see
    /// [`crate::run_loop::run_revisions`]).
    fn run(&mut self, request: &RunRequest<'_>) -> Result<RunReport, BackendError>;

    /// Writes `stamp` in one transaction under the dialect's lock, running no migration SQL.
    fn write_stamp(
        &mut self,
        stamp: &Stamp<'_>,
        options: &RunOptions,
    ) -> Result<StampReport, BackendError>;

    /// Writes `accept` in one transaction under the dialect's lock, running no migration SQL.
    fn write_accept(
        &mut self,
        accept: &Accept<'_>,
        options: &RunOptions,
    ) -> Result<AcceptedEdit, BackendError>;

    /// Every accepted edit, oldest first (empty without an audit table).
    fn accepted_edits(&mut self) -> Result<Vec<AcceptedEdit>, BackendError>;

    /// The script `upgrade TARGET --sql` would run on this database now; nothing is changed.
    /// It stops before the first contract revision unless `contract`, as `upgrade` does.
    fn upgrade_script(
        &mut self,
        migrations: &Migrations,
        target: &RevisionTarget,
        contract: bool,
    ) -> Result<String, BackendError> {
        let ledger = self.applied()?;
        let (plan, range) = script_plan(migrations, &ledger, Direction::Up, target, contract)?;
        self.render_script(&plan, &range)
    }

    /// The script `downgrade TARGET --sql` would run on this database now; nothing is changed.
    fn downgrade_script(
        &mut self,
        migrations: &Migrations,
        target: &RevisionTarget,
    ) -> Result<String, BackendError> {
        let ledger = self.applied()?;
        let (plan, range) = script_plan(migrations, &ledger, Direction::Down, target, false)?;
        self.render_script(&plan, &range)
    }

    /// Writes the ledger as if `target` (a revision, `head`, `heads`, `base`) were applied,
    /// running no migration SQL.
    fn stamp(
        &mut self,
        migrations: &Migrations,
        target: &RevisionTarget,
        options: &RunOptions,
    ) -> Result<StampReport, BackendError> {
        let keep = plan_stamp(migrations, target)?;
        self.write_stamp(&Stamp(&keep), options)
    }

    /// Accepts an intended edit of the applied file of `revision`: the audit table beside the
    /// ledger records the old and new checksum, the reason and the time, and the ledger takes
    /// the new checksum, in one transaction ([`crate::runner::plan_accept`] decides). No
    /// migration SQL runs; the caller has checked that the edit changes no schema.
    fn accept(
        &mut self,
        migrations: &Migrations,
        revision: &str,
        reason: &str,
        options: &RunOptions,
    ) -> Result<AcceptedEdit, BackendError> {
        let accept = Accept {
            migrations,
            revision,
            reason,
        };
        self.write_accept(&accept, options)
    }
}
