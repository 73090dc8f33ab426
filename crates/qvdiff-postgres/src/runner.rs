//! The deploy workflow on a PostgreSQL database: `upgrade`, `downgrade`, `stamp`, `current`.
//!
//! The decisions (what to apply, when to refuse) are [`qvdiff_core::runner`]'s, the same as for
//! SQLite; this module takes the lock, runs the SQL and keeps the ledger.
//!
//! # Locking
//!
//! Every run first takes a session-level advisory lock, [`ADVISORY_LOCK_KEY`], and holds it for
//! the whole run, across its transactions; it is released at the end (and by the server if the
//! connection drops). Only under the lock is the ledger read, checked against the files and
//! planned, so when several application servers upgrade at once they run one after the other,
//! and the later ones find the revisions applied and report "up to date": each revision runs
//! exactly once. The lock and the ledger's read go in one round trip, the read a statement after
//! the lock's; rows read by an attempt that did not get the lock are thrown away (see
//! `advisory::with_lock_reading`).
//!
//! The lock is polled with `pg_try_advisory_lock` (short sleeps, up to the busy timeout), not
//! waited for with `pg_advisory_lock`: a session blocked in a statement keeps a snapshot open,
//! and `CREATE INDEX CONCURRENTLY` in the lock holder waits for every older snapshot to go away,
//! which would deadlock the two. Between polls the waiter holds nothing.
//!
//! # Transactions
//!
//! All revisions of a run go in ONE transaction, with their ledger rows: all or nothing. A
//! section runs statement by statement, as `psql -f` would run the file, so that a failure
//! names its statement: PostgreSQL gives no error position for most DDL failures (`DROP TABLE`,
//! `ALTER TABLE` of a missing table, a unique index over duplicates), so a whole section sent at
//! once could only be blamed as a whole. The statements are found with psql's lexer rules
//! (quotes, `E'…'`, dollar quotes, nested comments, parentheses, `BEGIN ATOMIC` bodies); the
//! server parses each one. A failure rolls the whole transaction back.
//!
//! PostgreSQL refuses some statements inside a transaction block: `CREATE [UNIQUE] INDEX
//! CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `ALTER TABLE … DETACH
//! PARTITION … CONCURRENTLY`, `VACUUM`. A revision whose section holds one commits what ran
//! before it, runs its statements one by one as recorded steps (each other statement in a
//! transaction of its own with its record), records its ledger row, and the run continues in a
//! new transaction. All-or-nothing then holds per stretch between such revisions: a failure
//! rolls back only the stretch it is in, and the message says which revisions stay applied.
//! Inside such a revision, the steps done before a failure stay, and the next run continues
//! with the failed one (an invalid index left by a failed or killed concurrent build is dropped
//! and built again): see [`resume`] (`runner/resume.rs`). Rows that a data step refuses are
//! the exception: the steps before it are undone when each has a known inverse, or else the
//! rows are counted before the first step, so such a refusal changes nothing (see [`undo`]).
//!
//! # Table locks
//!
//! Every statement waits at most `lock_timeout` ([`RunOptions::lock_retry`]) for a table lock;
//! on a timeout the open transaction is rolled back (outside one: the statement) so that the
//! application's writers are not queued behind it, and the revisions of that transaction run
//! again after a pause. See [`table_locks`] (`runner/table_locks.rs`).
//!
//! `RunOptions::backup` is SQLite's: PostgreSQL is backed up with its own tools (`pg_dump`),
//! so it is ignored here.

use crate::connect::PostgresDatabase;
use crate::error::PgError;
use crate::ledger::{
    create_and_record, create_ledger, exists_sql, forget, ledger_from_rows, offline_delete_sql,
    offline_insert_sql, read_audit, read_ledger, record_accepted, record_applied, update_checksum,
    CREATE_LEDGER_SQL, LEDGER_EXISTS_SQL, LEDGER_ROWS_SQL,
};
use crate::preflight::{self, DataStep};
use crate::render::quote_ident;
use crate::session::{Session, SessionError, TextRow};
use crate::sqltext::{self, Statement};
pub use qvdiff_core::backend::{
    BatchHook, Direction, HalfDone, LockRetry, ProgressHook, RunOptions, RunReport, StampReport,
    StepReport, DEFAULT_BUSY_TIMEOUT, DEFAULT_LOCK_RETRY,
};
use qvdiff_core::data_problem::DataProblem;
use qvdiff_core::run_loop::{
    record_change, run_revisions, stamp_ledger, Accept, Ledger, LedgerWrite, RunRequest,
    RunSession, Stamp,
};
use qvdiff_core::runner::{
    self, parse_range, plan_range, plan_stamp, plan_upgrade, AcceptPlan, AcceptedEdit,
    AppliedRevision, Migration, Migrations, RevisionTarget, ScriptPlan, Status, LEDGER_TABLE,
    PROGRESS_TABLE,
};
use qvdiff_core::wording::plural;
use qvdiff_core::{Backend, BackendError, Dialect, Schema};
use std::time::{Duration, Instant};

mod advisory;
mod batch;
mod errors;
mod index_step;
mod resume;
mod table_locks;
mod undo;

use advisory::{poll_lock, with_lock, with_lock_reading, UnderLock};
pub use errors::{CommittedBatches, FailedStatement, PgRunFailure, RunError};
use qvdiff_core::backend::rolled_back_note;

/// The key of the advisory lock every run holds: FNV-1a (64 bits) of `"qvdiff_migrations"`.
/// In `pg_locks` it shows as `locktype = 'advisory'` with `classid` its high and `objid` its
/// low 32 bits. Advisory locks are per database, so databases of one server do not contend.
pub const ADVISORY_LOCK_KEY: i64 = fnv1a_64(LEDGER_TABLE);

const fn fnv1a_64(text: &str) -> i64 {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash as i64
}

/// A failed statement's message, saying so when the connection is gone.
fn server_message(error: SessionError) -> String {
    let mut text = error.message;
    if error.closed {
        // Whether a COMMIT in flight went through cannot be known from here.
        text.push_str(" (the connection was lost; `qvdiff current` shows what is applied)");
    }
    text
}

/// One planned revision's section, split and checked before anything runs.
#[derive(Clone)]
struct Section {
    statements: Vec<Statement>,
    /// Whether the section runs statement by statement outside a transaction block
    /// ([`sqltext::runs_on_its_own`], or a batched `UPDATE`).
    autocommit: bool,
    /// Per statement: the `UPDATE` under a `-- qvdiff:batch` line and its rows per batch.
    batched: Vec<Option<(batch::BatchedUpdate, u64)>>,
}

/// Splits a planned section and refuses transaction control before anything runs: a `COMMIT`
/// inside a section would commit half of the upgrade.
fn prepare(migration: &Migration, direction: Direction) -> Result<Section, RunError> {
    let sql = migration.file.section(direction);
    let statements = sqltext::split_statements(sql);
    let mut autocommit = false;
    for statement in &statements {
        let words = statement.words(sql);
        if sqltext::is_transaction_control(&words) {
            return Err(RunError::statement(
                migration,
                direction,
                statement.text(sql),
                "a migration must not contain BEGIN, COMMIT, END or ROLLBACK: qvdiff runs the \
                 revisions of a run in one transaction; remove the statement",
            ));
        }
        autocommit |= sqltext::runs_on_its_own(&words);
    }
    let mut batched = Vec::with_capacity(statements.len());
    for (statement, rows) in statements.iter().zip(batch::batch_lines(sql, &statements)) {
        let Some(rows) = rows else {
            batched.push(None);
            continue;
        };
        let update = batch::BatchedUpdate::of(statement, sql).map_err(|message| {
            RunError::statement(migration, direction, statement.text(sql), message)
        })?;
        autocommit = true;
        batched.push(Some((update, rows)));
    }
    Ok(Section {
        statements,
        autocommit,
        batched,
    })
}

/// Every planned section, prepared (see [`prepare`]).
fn prepare_all(plan: &[&Migration], direction: Direction) -> Result<Vec<Section>, RunError> {
    plan.iter()
        .map(|migration| prepare(migration, direction))
        .collect()
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Why a section stopped: the statement failed, rows do not allow it, or it waited
/// `lock_timeout` for a table lock. Each with how many statements ran before it.
enum SectionFailure {
    Statement(usize, Box<FailedStatement>),
    Data(usize, Box<FailedStatement>, Vec<DataProblem>),
    /// With how many attempts were made (outside a transaction; inside one, the caller retries).
    LockTimeout(usize, Box<FailedStatement>, u32),
}

/// The savepoint a data step runs under inside the migration transaction, so that a failure
/// can be explained by reading the rows it met (see [`crate::preflight`]).
const PREFLIGHT_SAVEPOINT: &str = "qvdiff_preflight";

/// Runs a section's statements one by one, returning how long they took; on failure, how
/// many ran before the failing one, and that one. `done`: statements a stopped run of this
/// revision completed (outside a transaction only, see [`resume`]). `undoable`: how many
/// leading statements run without a check before them, because a refusal of theirs is undone
/// (see [`undo`]); `None` when nothing is undone. A concurrent build that finds its index there
/// already is told to it: that index is not this run's to drop ([`undo::Reach::found_built`]).
/// Outside a transaction, a statement
/// that waited `lock_timeout` is tried again as `retry` says (inside one, the caller rolls back
/// the transaction and runs it again: see [`table_locks`]); a batched one continues after its
/// last committed batch.
fn run_statements(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    section: &Section,
    (direction, retry, batches): (Direction, &LockRetry, &mut batch::Batches<'_>),
    done: &[usize],
    mut undo: Option<&mut undo::Reach>,
) -> Result<i64, SectionFailure> {
    let started = Instant::now();
    for index in 0..section.statements.len() {
        if done.contains(&index) {
            continue;
        }
        let mut attempt = 0;
        loop {
            let optimistic = undo.as_ref().is_some_and(|reach| index < reach.optimistic);
            match run_statement(
                session,
                migration,
                section,
                (index, optimistic),
                direction,
                (retry, &mut *batches),
            ) {
                Ok(Ran::FoundDone) => {
                    if let Some(reach) = undo.as_deref_mut() {
                        reach.found_built(index);
                    }
                    break;
                }
                Ok(Ran::Done) => break,
                // Outside a transaction only the timed-out statement was undone.
                Err(SectionFailure::LockTimeout(..))
                    if section.autocommit && attempt < retry.retries =>
                {
                    std::thread::sleep(table_locks::pause_before_retry(attempt));
                    attempt += 1;
                }
                Err(SectionFailure::LockTimeout(done, failed, _)) => {
                    return Err(SectionFailure::LockTimeout(done, failed, attempt + 1))
                }
                Err(failure) => return Err(failure),
            }
        }
    }
    Ok(elapsed_ms(started))
}

/// How a statement ended that did not fail.
#[derive(Debug, PartialEq, Eq)]
enum Ran {
    /// It ran (or, in a transaction, will commit with it).
    Done,
    /// A concurrent statement whose effect the server showed there already: an index to build
    /// that exists and is valid (built by someone else, or by a run that stopped before
    /// recording it), or one to drop that is gone.
    FoundDone,
}

/// Runs statement `index` of a section. Statements that rows can block are checked as
/// [`crate::preflight`] describes (`optimistic`: a refusal undoes the steps before it, so
/// only a type change is checked first); `CONCURRENTLY` statements wait for locks without a
/// limit. Outside a transaction, each statement is recorded as a step when done (see
/// [`resume`]).
fn run_statement(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    section: &Section,
    (index, optimistic): (usize, bool),
    direction: Direction,
    (retry, batches): (&LockRetry, &mut batch::Batches<'_>),
) -> Result<Ran, SectionFailure> {
    let in_transaction = !section.autocommit;
    let sql = migration.file.section(direction);
    let statement = &section.statements[index];
    let text = statement.text(sql);
    let failed = |message: String| {
        Box::new(FailedStatement {
            revision: migration.file.revision.clone(),
            path: migration.path.clone(),
            direction,
            statement: text.to_string(),
            message,
        })
    };
    let server_failure = |error: SessionError| {
        let message = server_message(error);
        if table_locks::is_lock_timeout(&message) {
            SectionFailure::LockTimeout(index, failed(message), 1)
        } else {
            SectionFailure::Statement(index, failed(message))
        }
    };
    let step = DataStep::of(text);
    let refused =
        |problem: DataProblem| SectionFailure::Data(index, failed(String::new()), vec![problem]);
    // Runs without a transaction around it: `CONCURRENTLY` and the like.
    let concurrent = sqltext::needs_autocommit(&statement.words(sql));
    // A failure undoes the statement (its transaction or savepoint rolls back, or the runner
    // undoes the steps), so the rows in its way can be counted after it failed instead of read
    // twice on the way to success.
    let undone_on_failure = in_transaction || !concurrent || optimistic;
    if let Some(step) = step
        .as_ref()
        .filter(|s| s.checked_before(undone_on_failure))
    {
        let problem = preflight::check_before(session, step).map_err(server_failure)?;
        if let Some(problem) = problem {
            return Err(refused(problem));
        }
    }
    let savepoint = in_transaction && step.is_some();
    if savepoint {
        session
            .execute(&format!("SAVEPOINT {PREFLIGHT_SAVEPOINT}"))
            .map_err(server_failure)?;
    }
    let batched = section.batched[index].as_ref();
    let result = match (section.autocommit, concurrent, batched) {
        (false, _, _) => session.execute(text).map(|()| Ran::Done),
        (true, false, Some((update, rows))) => batch::run(
            session,
            migration,
            direction,
            index,
            (text, update, *rows),
            (retry, batches),
        )
        .map(|()| Ran::Done),
        (true, false, None) => {
            resume::run_step(session, migration, direction, index, text).map(|()| Ran::Done)
        }
        (true, true, _) => match resume::record_started(session, migration, direction)
            .and_then(|()| resume::before_concurrent(session, text))
        {
            Ok(resume::Before::Done) => Ok(Ran::FoundDone),
            Ok(resume::Before::Run) => {
                table_locks::execute_without_timeout(session, text, retry).map(|()| Ran::Done)
            }
            Ok(resume::Before::DropInvalid(drop)) => {
                table_locks::execute_without_timeout(session, &drop, retry)
                    .and_then(|()| table_locks::execute_without_timeout(session, text, retry))
                    .map(|()| Ran::Done)
            }
            Err(error) => Err(error),
        }
        .and_then(|ran| resume::record_step(session, migration, direction, index).map(|()| ran)),
    };
    match result {
        Ok(ran) if savepoint => session
            .execute(&format!("RELEASE SAVEPOINT {PREFLIGHT_SAVEPOINT}"))
            .map(|()| ran)
            .map_err(server_failure),
        Ok(ran) => Ok(ran),
        Err(error) => {
            let failure = server_failure(error);
            let explainable = savepoint || (!in_transaction && undone_on_failure);
            if let (SectionFailure::Statement(_, failed), true, Some(step)) =
                (&failure, explainable, &step)
            {
                if !message_is_lost(&failed.message) {
                    if let Some(problem) = explain(session, step, savepoint) {
                        return Err(refused(problem));
                    }
                }
            }
            Err(failure)
        }
    }
}

/// The error of a run that gave up on a statement waiting for a table lock, naming the
/// sessions holding locks on its tables (read after the rollback, from a clean session).
fn gave_up_waiting(
    session: &mut (impl Session + ?Sized),
    failed: Box<FailedStatement>,
    attempts: u32,
    retry: &LockRetry,
    committed: &[String],
    (done_outside, batches): (Option<usize>, Option<Box<CommittedBatches>>),
) -> RunError {
    RunError::Dialect(PgRunFailure::LockTimeout {
        blockers: table_locks::blocking_sessions(session, &failed.statement, retry.timeout),
        failed,
        timeout: retry.timeout,
        attempts,
        committed: committed.to_vec(),
        done_outside,
        batches,
    })
}

/// Whether a failure message says the connection is gone (nothing more can be asked).
fn message_is_lost(message: &str) -> bool {
    message.contains("(the connection was lost")
}

/// The rows that made a data step fail, read after rolling back to its savepoint (or after the
/// step's own transaction rolled back: `savepoint` false); `None` when
/// they do not explain it (or the reading fails), so the server's message stands.
fn explain(
    session: &mut (impl Session + ?Sized),
    step: &DataStep,
    savepoint: bool,
) -> Option<DataProblem> {
    if !savepoint {
        // A statement in a transaction of its own: rolled back already, nothing is open.
        return preflight::explain_failure(session, step).ok().flatten();
    }
    session
        .execute(&format!("ROLLBACK TO SAVEPOINT {PREFLIGHT_SAVEPOINT}"))
        .ok()?;
    session
        .execute(&format!("SAVEPOINT {PREFLIGHT_SAVEPOINT}"))
        .ok()?;
    match preflight::explain_failure(session, step) {
        Ok(problem) => problem,
        Err(_) => {
            // The reading itself failed: the transaction is aborted until rolled back to here.
            let _ = session.execute(&format!("ROLLBACK TO SAVEPOINT {PREFLIGHT_SAVEPOINT}"));
            None
        }
    }
}

/// A failure of qvdiff's own inside the run's transaction, with what was rolled back.
fn in_transaction(error: RunError, committed: &[String]) -> RunError {
    match error {
        RunError::Dialect(PgRunFailure::Postgres(error)) => RunError::from(PgError::new(
            error.context,
            format!("{}\n  {}", error.message, rolled_back_note(committed)),
        )),
        other => other,
    }
}

/// The ledger of the database behind a session, written in whatever transaction is open; a
/// run sends all its SQL through it (it is a [`Session`] too), so that a transaction can begin
/// with the run's next query rather than on its own.
struct PgLedger<'s, S: Session + ?Sized> {
    session: &'s mut S,
    /// The ledger's rows, when the run read them in the round trip that took the migration
    /// lock; its first ledger read uses them up.
    rows: Option<Vec<TextRow>>,
    /// A `BEGIN` not sent yet: it goes with the next query, in the same round trip.
    begin_pending: bool,
    /// Ledger writes of the open transaction not sent yet: they go with its next query (its
    /// next statement or its `COMMIT`), in the same round trip.
    held: Vec<String>,
    /// Whether queries are held rather than sent (only while writing a ledger row: writes
    /// return no rows).
    holding: bool,
}

impl<'s, S: Session + ?Sized> PgLedger<'s, S> {
    /// The ledger behind `session`, still to be read.
    fn of(session: &'s mut S) -> Self {
        PgLedger {
            session,
            rows: None,
            begin_pending: false,
            held: Vec::new(),
            holding: false,
        }
    }
}

impl<S: Session + ?Sized> Session for PgLedger<'_, S> {
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError> {
        if self.holding {
            self.held.push(sql.to_string());
            return Ok(Vec::new());
        }
        // `BEGIN` and the held writes give no rows, and when the query fails the transaction
        // is open and aborted, as if they had gone one by one. (A held write that fails is
        // reported with the query it went with.)
        let mut before = std::mem::take(&mut self.held);
        if std::mem::take(&mut self.begin_pending) {
            before.insert(0, "BEGIN".to_string());
        }
        if before.is_empty() {
            self.session.simple_query(sql)
        } else {
            self.session
                .simple_query(&format!("{};\n{sql}", before.join(";\n")))
        }
    }
}

/// A revision's ledger change in a run (see [`record_change`]); going up, the ledger table is
/// created when missing in the same transaction and round trip as the row, so a failed first
/// run leaves no ledger behind.
fn record_in_run<S: Session + ?Sized>(
    ledger: &mut PgLedger<'_, S>,
    migration: &Migration,
    direction: Direction,
    execution_ms: i64,
) -> Result<(), RunError> {
    match direction {
        Direction::Up => Ok(create_and_record(ledger, migration, execution_ms)?),
        Direction::Down => record_change(ledger, migration, direction, execution_ms),
    }
}

impl<S: Session + ?Sized> Ledger for PgLedger<'_, S> {
    type Error = RunError;

    fn read_ledger(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        match self.rows.take() {
            Some(rows) => Ok(ledger_from_rows(rows)?),
            None => Ok(read_ledger(self)?),
        }
    }

    fn create_ledger(&mut self) -> Result<(), RunError> {
        Ok(create_ledger(self)?)
    }

    fn record_applied(&mut self, migration: &Migration, execution_ms: i64) -> Result<(), RunError> {
        Ok(record_applied(self, migration, execution_ms)?)
    }

    fn forget(&mut self, revision: &str) -> Result<(), RunError> {
        Ok(forget(self, revision)?)
    }

    fn record_audit(&mut self, edit: &AcceptPlan<'_>) -> Result<AcceptedEdit, RunError> {
        Ok(record_accepted(self, edit)?)
    }

    fn store_checksum(&mut self, migration: &Migration) -> Result<(), RunError> {
        Ok(update_checksum(self, migration)?)
    }
}

/// One `upgrade` or `downgrade` under the migration lock, driven by the core's loop: the
/// revisions of the run go in one transaction (a stretch), and a revision that must run
/// outside a transaction ends the stretch before it and runs as recorded steps (see the module
/// docs).
struct PgRun<'s, S: Session + ?Sized> {
    ledger: PgLedger<'s, S>,
    /// How long a statement waits for a table lock, and how often it is retried.
    retry: LockRetry,
    /// Told how each batched statement is going.
    batch_progress: Option<BatchHook>,
    /// Revisions of this run already committed.
    committed: Vec<String>,
    /// The revisions in the open transaction; `None` when none is open.
    open: Option<Vec<String>>,
    /// The sections run in the open transaction, in order: run again after a lock timeout
    /// rolled it back.
    stretch: Vec<(Migration, Section, i64)>,
    /// How often the open stretch was rolled back for a lock timeout.
    lock_attempts: u32,
    /// What goes around the run's last `COMMIT` ([`Release::around_commit`]), until sent.
    release: Option<(String, String)>,
    /// Whether the last `COMMIT` carried the release.
    released: bool,
}

impl<S: Session + ?Sized> PgRun<'_, S> {
    /// Opens the stretch's transaction unless one is open: its `BEGIN` goes with the next
    /// query.
    fn begin_stretch(&mut self) {
        if self.open.is_none() {
            self.ledger.begin_pending = true;
            self.open = Some(Vec::new());
        }
    }

    /// Commits the open stretch, if any; its revisions are then committed for good. `last`:
    /// the run's last commit, which carries the release of the migration lock.
    fn commit_stretch(&mut self, last: bool) -> Result<(), RunError> {
        let Some(revisions) = self.open.take() else {
            return Ok(());
        };
        self.stretch.clear();
        self.lock_attempts = 0;
        if self.ledger.begin_pending && self.ledger.held.is_empty() {
            // Nothing was sent in the transaction: there is nothing to commit.
            self.ledger.begin_pending = false;
            self.committed.extend(revisions);
            return Ok(());
        }
        let (before, after) = if last {
            self.release.take().unwrap_or_default()
        } else {
            Default::default()
        };
        let commit = format!("{before}COMMIT{after}");
        self.ledger.execute(&commit).map_err(|e| {
            // A deferred constraint fails here, not in its statement.
            RunError::from(PgError::new(
                format!(
                    "committing revision{} {}",
                    plural(revisions.len()),
                    revisions.join(", ")
                ),
                format!(
                    "{}\n  {}",
                    server_message(e),
                    rolled_back_note(&self.committed)
                ),
            ))
        })?;
        self.released = !after.is_empty();
        self.committed.extend(revisions);
        Ok(())
    }

    /// Runs a section that must run outside a transaction, statement by statement as recorded
    /// steps (skipping those a stopped run completed), after committing the open stretch.
    fn run_outside_transaction(
        &mut self,
        migration: &Migration,
        section: &Section,
        direction: Direction,
    ) -> Result<i64, RunError> {
        self.commit_stretch(false)?;
        let progress = resume::progress(&mut self.ledger, migration, direction)?;
        let sql = migration.file.section(direction);
        let texts: Vec<&str> = section.statements.iter().map(|s| s.text(sql)).collect();
        // A revision started afresh: what a data step refuses after undoable steps is undone
        // rather than counted before the first step.
        let mut undoable = if progress.started {
            Vec::new()
        } else {
            undo::undoable_steps(&texts)
        };
        // An index there before the run is skipped as built: not this run's to drop.
        let built_before = undo::index_builds(&undoable).find(|&index| {
            !matches!(
                resume::before_concurrent(&mut self.ledger, texts[index]),
                Ok(resume::Before::Run | resume::Before::DropInvalid(_))
            )
        });
        if let Some(index) = built_before {
            undoable.truncate(index);
        }
        let refused = |index: usize, problems: Vec<DataProblem>, done: usize| RunError::Data {
            failed: Box::new(FailedStatement {
                revision: migration.file.revision.clone(),
                path: migration.path.clone(),
                direction,
                statement: texts[index].to_string(),
                message: String::new(),
            }),
            problems,
            committed: self.committed.clone(),
            done_outside: Some(done),
            undo_failed: None,
        };
        if !progress.started {
            // What a VALIDATE or a type change will refuse, before a step commits: nothing
            // changes.
            let in_reach = undo::validated_in_reach(&undoable);
            if let Some((index, problem)) =
                preflight::problem_before_steps(&mut self.ledger, &texts, &in_reach)
            {
                return Err(refused(index, vec![problem], 0));
            }
        }
        resume::ensure_table(&mut self.ledger, &progress)?;
        // The steps run without a count first: the undoable ones, and the one after them when
        // its failure leaves nothing behind that the undo cannot remove.
        let optimistic = undoable.len()
            + usize::from(section.statements.get(undoable.len()).is_some_and(|next| {
                let concurrent = sqltext::needs_autocommit(&next.words(sql));
                undo::failure_undone(texts[undoable.len()], concurrent)
            }));
        let retry = self.retry;
        let hook = self.batch_progress.clone();
        let mut batches = batch::Batches {
            hook: hook.as_ref(),
            recorded: &progress.batched_to,
            committed: None,
            vacuumed: None,
        };
        let mut reach = undo::Reach {
            steps: undoable,
            optimistic,
        };
        let result = run_statements(
            &mut self.ledger,
            migration,
            section,
            (direction, &retry, &mut batches),
            &progress.done,
            (!progress.started).then_some(&mut reach),
        );
        // As the steps found them: an index another session built in between is not undone.
        let undoable = reach.steps;
        let committed_batches = |index: usize| {
            batches.committed_by(index).map(|committed| {
                Box::new(CommittedBatches {
                    batches: committed.batches,
                    changed: committed.changed,
                    last_key: committed.last_key,
                })
            })
        };
        match result {
            Ok(execution_ms) => Ok(execution_ms),
            Err(SectionFailure::Data(done, _, problems))
                if !progress.started && done <= undoable.len() =>
            {
                let inverses = undo::undo_sql(&undoable, done, texts[done]);
                let drop_table = !progress.table_exists;
                let undone = resume::undo_steps(
                    &mut self.ledger,
                    migration,
                    direction,
                    &inverses,
                    drop_table,
                );
                match undone {
                    Ok(()) => Err(refused(
                        undo::refused_statement(&undoable, done),
                        problems,
                        0,
                    )),
                    Err(undo_error) => {
                        let by_hand = inverses
                            .iter()
                            .cloned()
                            .chain([resume::forget_sql(migration, direction, drop_table)])
                            .collect::<Vec<_>>()
                            .join("; ");
                        let mut error = refused(done, problems, done);
                        if let RunError::Data { undo_failed, .. } = &mut error {
                            *undo_failed = Some(format!(
                                "the refused statement did not finish, and undoing what this \
                                 run did failed ({}), so it stays, recorded: once the rows are \
                                 fixed, running again continues with the refused statement; or \
                                 remove it by hand: {by_hand}",
                                server_message(undo_error)
                            ));
                        }
                        Err(error)
                    }
                }
            }
            Err(SectionFailure::Statement(done, failed)) => {
                Err(RunError::Dialect(PgRunFailure::OutsideTransaction {
                    failed,
                    done,
                    committed: self.committed.clone(),
                    batches: committed_batches(done),
                }))
            }
            Err(SectionFailure::Data(done, failed, problems)) => Err(RunError::Data {
                failed,
                problems,
                committed: self.committed.clone(),
                done_outside: Some(done),
                undo_failed: None,
            }),
            Err(SectionFailure::LockTimeout(done, failed, attempts)) => Err(gave_up_waiting(
                &mut self.ledger,
                failed,
                attempts,
                &retry,
                &self.committed,
                (Some(done), committed_batches(done)),
            )),
        }
    }

    /// Runs a section inside the stretch's transaction, opening it if needed. On a lock
    /// timeout the whole transaction is rolled back (so that no lock it took holds up writers)
    /// and, after a pause, the stretch's earlier sections and this one run again.
    fn run_in_stretch(
        &mut self,
        migration: &Migration,
        section: &Section,
        direction: Direction,
    ) -> Result<i64, RunError> {
        let retry = self.retry;
        loop {
            self.begin_stretch();
            let failure = match self.replay_stretch(direction).and_then(|()| {
                run_statements(
                    &mut self.ledger,
                    migration,
                    section,
                    (direction, &retry, &mut batch::Batches::default()),
                    &[],
                    None,
                )
            }) {
                Ok(execution_ms) => return Ok(execution_ms),
                Err(failure) => failure,
            };
            match failure {
                SectionFailure::LockTimeout(_, failed, _) => {
                    self.ledger.held.clear();
                    let _ = self.ledger.execute("ROLLBACK");
                    self.open = None;
                    if self.lock_attempts >= retry.retries {
                        return Err(gave_up_waiting(
                            &mut self.ledger,
                            failed,
                            self.lock_attempts + 1,
                            &retry,
                            &self.committed,
                            (None, None),
                        ));
                    }
                    std::thread::sleep(table_locks::pause_before_retry(self.lock_attempts));
                    self.lock_attempts += 1;
                }
                SectionFailure::Statement(_, failed) => {
                    return Err(RunError::Statement {
                        failed,
                        committed: self.committed.clone(),
                    })
                }
                SectionFailure::Data(_, failed, problems) => {
                    return Err(RunError::Data {
                        failed,
                        problems,
                        committed: self.committed.clone(),
                        done_outside: None,
                        undo_failed: None,
                    })
                }
            }
        }
    }

    /// After a rollback for a lock timeout: runs the sections the stretch had run again, with
    /// their ledger changes, in the new transaction. Nothing to do on a first attempt.
    fn replay_stretch(&mut self, direction: Direction) -> Result<(), SectionFailure> {
        if self.open.as_ref().is_some_and(|open| !open.is_empty()) || self.stretch.is_empty() {
            return Ok(());
        }
        let retry = self.retry;
        for (migration, section, execution_ms) in &self.stretch {
            run_statements(
                &mut self.ledger,
                migration,
                section,
                (direction, &retry, &mut batch::Batches::default()),
                &[],
                None,
            )?;
            let recorded = record_in_run(&mut self.ledger, migration, direction, *execution_ms);
            if let Err(error) = recorded {
                // qvdiff's own write failed: reported as the section's failure.
                let statement = format!("(recording revision {})", migration.file.revision);
                return Err(SectionFailure::Statement(
                    0,
                    Box::new(FailedStatement {
                        revision: migration.file.revision.clone(),
                        path: migration.path.clone(),
                        direction,
                        statement,
                        message: error.to_string(),
                    }),
                ));
            }
            if let Some(open) = self.open.as_mut() {
                open.push(migration.file.revision.clone());
            }
        }
        Ok(())
    }

    /// Records a revision that ran outside a transaction and forgets its steps, in one
    /// transaction: recorded exactly when its progress is gone.
    fn finish_outside(
        &mut self,
        migration: &Migration,
        direction: Direction,
        execution_ms: i64,
    ) -> Result<(), RunError> {
        self.ledger
            .execute("BEGIN")
            .map_err(|e| PgError::new("starting the ledger transaction", server_message(e)))?;
        let recorded = record_in_run(&mut self.ledger, migration, direction, execution_ms)
            .and_then(|()| {
                Ok(resume::forget_progress(
                    &mut self.ledger,
                    migration,
                    direction,
                )?)
            })
            .and_then(|()| {
                self.ledger.execute("COMMIT").map_err(|e| {
                    RunError::from(PgError::new(
                        format!("recording revision {}", migration.file.revision),
                        server_message(e),
                    ))
                })
            });
        if recorded.is_err() {
            let _ = self.ledger.execute("ROLLBACK");
        }
        recorded
    }
}

impl<'s, S: Session + ?Sized> RunSession for PgRun<'s, S> {
    type Error = RunError;
    type Ledger = PgLedger<'s, S>;
    type Section = Section;

    fn ledger(&mut self) -> &mut PgLedger<'s, S> {
        &mut self.ledger
    }

    fn prepare(&self, migration: &Migration, direction: Direction) -> Result<Section, RunError> {
        prepare(migration, direction)
    }

    fn before_changes(&mut self, _: Direction, _: &[String]) -> Result<(), RunError> {
        // PostgreSQL is backed up with its own tools (`pg_dump`): `RunOptions::backup` is
        // SQLite's.
        Ok(())
    }

    fn run_section(
        &mut self,
        migration: &Migration,
        section: &Section,
        direction: Direction,
    ) -> Result<i64, RunError> {
        if section.autocommit {
            self.run_outside_transaction(migration, section, direction)
        } else {
            self.run_in_stretch(migration, section, direction)
        }
    }

    /// The ledger row goes in the stretch's transaction; going up, the ledger is created in
    /// it when missing, so a failed first run leaves no ledger behind.
    fn record(
        &mut self,
        migration: &Migration,
        section: &Section,
        direction: Direction,
        execution_ms: i64,
    ) -> Result<(), RunError> {
        let revision = &migration.file.revision;
        if section.autocommit {
            self.finish_outside(migration, direction, execution_ms)
                .map_err(|e| match e {
                    RunError::Dialect(PgRunFailure::Postgres(e)) => RunError::from(PgError::new(
                        e.context,
                        format!(
                            "{}\n  revision {revision} ran outside a transaction and its steps \
                             are recorded as done: run it again to record it",
                            e.message
                        ),
                    )),
                    other => other,
                })?;
            self.committed.push(revision.clone());
        } else {
            // Held until the transaction's next query: one round trip fewer per revision.
            self.ledger.holding = true;
            let recorded = record_in_run(&mut self.ledger, migration, direction, execution_ms);
            self.ledger.holding = false;
            recorded.map_err(|e| in_transaction(e, &self.committed))?;
            if let Some(open) = self.open.as_mut() {
                open.push(revision.clone());
            }
            self.stretch
                .push((migration.clone(), section.clone(), execution_ms));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), RunError> {
        self.commit_stretch(true)
    }
}

/// The ledger rows of the database behind `session`, in the order they were applied (empty
/// without a ledger).
pub fn applied(session: &mut (impl Session + ?Sized)) -> Result<Vec<AppliedRevision>, RunError> {
    Ok(read_ledger(session)?)
}

/// The ledger rows and the revisions a stopped run left half done (see [`applied`] and
/// `Backend::half_done`), in two round trips: which of the two tables exist, then the rows of
/// those that do.
pub fn applied_and_half_done(
    session: &mut (impl Session + ?Sized),
) -> Result<(Vec<AppliedRevision>, Vec<HalfDone>), RunError> {
    let looking = |e: SessionError| {
        PgError::new(
            format!("looking for the tables {LEDGER_TABLE} and {PROGRESS_TABLE}"),
            e.message,
        )
    };
    let found = session
        .simple_query(&format!(
            "SELECT {LEDGER_EXISTS_SQL}, {}",
            exists_sql(PROGRESS_TABLE)
        ))
        .map_err(looking)?;
    let found: Vec<bool> = found
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|value| value.as_deref() == Some("t"))
        .collect();
    let reads: Vec<String> = [LEDGER_ROWS_SQL.to_string(), resume::half_done_sql()]
        .into_iter()
        .zip(&found)
        .filter_map(|(read, &exists)| exists.then_some(read))
        .collect();
    if reads.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let rows = session.simple_query(&reads.join(";\n")).map_err(|e| {
        PgError::new(
            format!("reading the tables {LEDGER_TABLE} and {PROGRESS_TABLE}"),
            e.message,
        )
    })?;
    // A ledger row has five columns, a half-done revision three.
    let (ledger_rows, progress_rows): (Vec<TextRow>, Vec<TextRow>) =
        rows.into_iter().partition(|row| row.len() == 5);
    Ok((
        ledger_from_rows(ledger_rows)?,
        resume::half_done_from_rows(progress_rows),
    ))
}

/// Where the database behind `session` stands: applied heads, pending revisions, unknown and
/// edited revisions (`qvdiff current`, `check --db`). Never refuses.
pub fn status(
    session: &mut (impl Session + ?Sized),
    migrations: &Migrations,
) -> Result<Status, RunError> {
    Ok(runner::status(migrations, &read_ledger(session)?))
}

/// Applies the revisions up to `target` inside the transaction the caller holds open on
/// `session`, and records them in the ledger there, without committing: `port` commits the
/// schema, the ledger and the rows together, so a failed copy leaves none of them behind.
///
/// The migration lock is taken for the transaction (`pg_try_advisory_xact_lock`, polled for at
/// most `busy_timeout`). Meant for tables that hold no rows: `CREATE INDEX CONCURRENTLY` and
/// `DROP INDEX CONCURRENTLY` run without `CONCURRENTLY` (PostgreSQL refuses it inside a
/// transaction, and on empty tables it spares no writer); a revision with any other statement
/// that must run outside a transaction (`VACUUM`, `REINDEX … CONCURRENTLY`) is refused before
/// anything runs.
pub fn upgrade_in_transaction(
    session: &mut (impl Session + ?Sized),
    database: &str,
    migrations: &Migrations,
    target: &RevisionTarget,
    busy_timeout: Duration,
) -> Result<Vec<StepReport>, RunError> {
    poll_lock(session, database, busy_timeout, "pg_try_advisory_xact_lock")?;
    let ledger = read_ledger(session)?;
    let plan = plan_upgrade(migrations, &ledger, target)?;
    let sections = prepare_all(&plan, Direction::Up)?;
    // Every statement as it runs here, each outside-a-transaction one checked before any runs.
    let mut scripts = Vec::with_capacity(sections.len());
    for (migration, section) in plan.iter().zip(&sections) {
        let sql = migration.file.up.as_str();
        let mut statements = Vec::with_capacity(section.statements.len());
        for statement in &section.statements {
            let text = statement.text(sql);
            if !sqltext::needs_autocommit(&statement.words(sql)) {
                statements.push(text.to_string());
                continue;
            }
            let Some(inside) = sqltext::without_concurrently(statement, sql) else {
                return Err(RunError::statement(
                    migration,
                    Direction::Up,
                    text,
                    "this statement must run outside a transaction, and this run applies every \
                     revision in one; apply the migrations with `qvdiff upgrade` first",
                ));
            };
            statements.push(inside);
        }
        scripts.push(statements);
    }
    let mut steps = Vec::with_capacity(plan.len());
    for (migration, statements) in plan.iter().zip(scripts) {
        let started = Instant::now();
        for statement in statements {
            session.execute(&statement).map_err(|e| {
                RunError::statement(migration, Direction::Up, statement, server_message(e))
            })?;
        }
        let execution_ms = elapsed_ms(started);
        record_in_run(
            &mut PgLedger::of(&mut *session),
            migration,
            Direction::Up,
            execution_ms,
        )
        .map_err(|e| in_transaction(e, &[]))?;
        steps.push(StepReport {
            revision: migration.file.revision.clone(),
            message: migration.file.message.clone(),
            path: migration.path.clone(),
            execution_ms,
        });
    }
    Ok(steps)
}

/// Runs `upgrade` (to `head`, `heads`, a revision id or unique prefix, `+N`) or `downgrade`
/// (to `-N`, `base`, or a revision that stays applied) on the database behind `session` (named
/// `database` in messages, without its password): the core's loop under the migration lock (see
/// the module docs for locking and transactions).
///
/// Refuses (changing nothing) on an edited or missing applied file, a database newer than the
/// migrations, or several heads for `head`. An empty report means "up to date" (or, going down,
/// nothing applied).
pub fn run<S: Session + ?Sized>(
    session: &mut S,
    database: &str,
    request: &RunRequest<'_>,
) -> Result<RunReport, RunError> {
    let options = request.options;
    // The lock, the run's lock_timeout and the ledger in one round trip (see `with_lock_reading`).
    let under_lock = UnderLock {
        setting: (
            "lock_timeout",
            table_locks::setting(options.lock_retry.timeout),
        ),
        read: LEDGER_ROWS_SQL,
        readable: LEDGER_EXISTS_SQL,
    };
    with_lock_reading(
        session,
        database,
        options.busy_timeout,
        &under_lock,
        |session, release, ledger_rows| {
            let mut ledger = PgLedger::of(&mut *session);
            ledger.rows = ledger_rows;
            let mut run = PgRun {
                ledger,
                retry: options.lock_retry,
                batch_progress: options.batch_progress.clone(),
                committed: Vec::new(),
                open: None,
                stretch: Vec::new(),
                lock_attempts: 0,
                release: Some(release.around_commit()),
                released: false,
            };
            // A failure is rolled back by `with_lock_reading`, before the setting is put back.
            let result = run_revisions(&mut run, request);
            release.sent = run.released;
            result
        },
    )
}

/// Sets the ledger to exactly `target` and its ancestors without running any migration
/// SQL, in one transaction under the migration lock: missing rows are added, rows of other
/// revisions removed, and stored checksums that differ from the files replaced (the way out
/// after an intended edit).
///
/// The caller must first check that the live schema is what `target` produces: the ledger
/// then tells the truth.
pub fn stamp(
    session: &mut (impl Session + ?Sized),
    database: &str,
    migrations: &Migrations,
    target: &RevisionTarget,
    options: &RunOptions,
) -> Result<StampReport, RunError> {
    let keep = plan_stamp(migrations, target)?;
    with_lock(session, database, options.busy_timeout, |session, _| {
        in_one_transaction(session, "the stamp", |ledger| stamp_ledger(ledger, &keep))
    })
}

/// Makes a ledger write (`stamp`, `accept`) in one transaction under the migration lock: for
/// an accepted edit the audit table gets the old and new checksum with the reason and the
/// server's time, and the ledger the new checksum. No migration SQL runs.
///
/// The caller must first check that the ledger will tell the truth: the live schema is the
/// stamped revision's, or the edited history gives it.
pub fn write_ledger<W: LedgerWrite>(
    session: &mut (impl Session + ?Sized),
    database: &str,
    write: &W,
    options: &RunOptions,
) -> Result<W::Written, RunError> {
    with_lock(session, database, options.busy_timeout, |session, _| {
        in_one_transaction(session, write.what(), |ledger| write.apply(ledger))
    })
}

/// Runs `work` on the ledger in one transaction (`what` names it in messages), committed when
/// it succeeds; [`with_lock`] rolls back whatever a failure leaves open.
fn in_one_transaction<S: Session + ?Sized, T>(
    session: &mut S,
    what: &str,
    work: impl FnOnce(&mut PgLedger<'_, S>) -> Result<T, RunError>,
) -> Result<T, RunError> {
    session
        .execute("BEGIN")
        .map_err(|e| PgError::new(format!("starting {what} transaction"), server_message(e)))?;
    let done = work(&mut PgLedger::of(&mut *session))?;
    session
        .execute("COMMIT")
        .map_err(|e| PgError::new(format!("committing {what}"), server_message(e)))?;
    Ok(done)
}

impl<S: Session> PostgresDatabase<S> {
    /// The ledger rows, in the order they were applied (empty without a ledger).
    pub fn applied(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        applied(&mut self.client)
    }

    /// Where the database stands (see [`status`]).
    pub fn status(&mut self, migrations: &Migrations) -> Result<Status, RunError> {
        status(&mut self.client, migrations)
    }

    /// Runs an `upgrade` or `downgrade` (see [`run`]).
    pub fn run(&mut self, request: &RunRequest<'_>) -> Result<RunReport, RunError> {
        let database = self.url_redacted().to_string();
        run(&mut self.client, &database, request)
    }

    /// Sets the ledger to exactly `target` and its ancestors (see [`stamp`]).
    pub fn stamp(
        &mut self,
        migrations: &Migrations,
        target: &RevisionTarget,
        options: &RunOptions,
    ) -> Result<StampReport, RunError> {
        let database = self.url_redacted().to_string();
        stamp(&mut self.client, &database, migrations, target, options)
    }

    /// Makes a ledger write (`stamp`, `accept`) under the migration lock (see
    /// [`write_ledger`]).
    pub fn write_ledger<W: LedgerWrite>(
        &mut self,
        write: &W,
        options: &RunOptions,
    ) -> Result<W::Written, RunError> {
        let database = self.url_redacted().to_string();
        write_ledger(&mut self.client, &database, write, options)
    }

    /// Every edit accepted on this database, oldest first (`qvdiff history`).
    pub fn accepted_edits(&mut self) -> Result<Vec<AcceptedEdit>, RunError> {
        Ok(read_audit(&mut self.client)?)
    }

    /// How many rows `table` (in the default schema) holds.
    pub fn count_rows(&mut self, table: &str) -> Result<u64, RunError> {
        self.count(
            &format!("SELECT count(*) FROM {}", quote_ident(table)),
            format!("counting the rows of {table}"),
        )
    }

    /// How many rows of `table` hold NULL in `column`.
    pub fn count_nulls(&mut self, table: &str, column: &str) -> Result<u64, RunError> {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} IS NULL",
            quote_ident(table),
            quote_ident(column)
        );
        self.count(&sql, format!("counting the NULLs of {table}.{column}"))
    }

    /// The count a `SELECT count(*)` gives; `context` says what was counted in an error.
    fn count(&mut self, sql: &str, context: String) -> Result<u64, RunError> {
        let value = self
            .client
            .query_value(sql)
            .map_err(|e| PgError::new(context, server_message(e)))?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }
}

/// The offline script for `qvdiff sql [FROM:TO]` (`range` as typed; `None` = `base:head`).
pub fn sql_script(migrations: &Migrations, range: Option<&str>) -> Result<String, RunError> {
    let (from, to) = parse_range(range);
    let plan = plan_range(migrations, &from, &to)?;
    render_script(&plan, &format!("{from} -> {to}"))
}

/// A psql script with the runner's transaction shape: `BEGIN; <sections and ledger rows>;
/// COMMIT;`, a revision that must run outside a transaction between two such blocks, and
/// `ON_ERROR_STOP` so psql stops at the first error (the open transaction is then rolled back).
pub fn render_script(plan: &ScriptPlan<'_>, range: &str) -> Result<String, RunError> {
    let (migrations, direction) = match plan {
        ScriptPlan::Upgrade(list) => (list.clone(), Direction::Up),
        ScriptPlan::Downgrade(list) => (list.clone(), Direction::Down),
    };
    let sections = prepare_all(&migrations, direction)?;
    // Comment lines carry text from outside (the range as typed, file paths): flattened to one
    // line so nothing in them can end the comment and run as SQL.
    let one_line = qvdiff_core::migration::sanitize_message;
    let mut out = format!(
        "-- qvdiff offline script: {}\n\
         -- Run it with psql, which stops at the first error (ON_ERROR_STOP below) and then rolls\n\
         -- back the open transaction.\n\
         \\set ON_ERROR_STOP on\n",
        one_line(range)
    );
    let mut in_transaction = false;
    let mut ledger_created = direction == Direction::Down;
    for (migration, section) in migrations.iter().zip(&sections) {
        let sql = migration.file.section(direction);
        if section.autocommit && in_transaction {
            out.push_str("COMMIT;\n");
            in_transaction = false;
        }
        if !section.autocommit && !in_transaction {
            out.push_str("BEGIN;\n");
            in_transaction = true;
        }
        out.push_str(&format!(
            "\n-- revision {} ({}, {direction}): {}\n",
            migration.file.revision,
            one_line(&migration.path),
            one_line(&migration.file.message)
        ));
        if section.autocommit {
            out.push_str(
                "-- (outside a transaction: each statement commits on its own, as upgrade runs \
                 it)\n",
            );
        }
        // Verbatim, comments included: psql finds the statements itself, and runs each of a
        // revision outside a transaction on its own, as the runner does.
        out.push_str(sql.trim_end());
        if sqltext::ends_unterminated(sql) {
            // Else psql would read the ledger row below as part of the last statement.
            out.push(';');
        }
        out.push('\n');
        if !ledger_created {
            out.push_str(CREATE_LEDGER_SQL);
            out.push_str(";\n");
            ledger_created = true;
        }
        out.push_str(&migration.offline_ledger_sql(
            direction,
            offline_insert_sql,
            offline_delete_sql,
        ));
        out.push('\n');
    }
    if in_transaction {
        out.push_str("\nCOMMIT;\n");
    }
    Ok(out)
}

/// The dialect a [`PostgresDatabase`] reports: the default planner.
static DIALECT: crate::plan::Postgres = crate::plan::Postgres { online_ddl: true };

impl<S: Session> Backend for PostgresDatabase<S> {
    fn dialect(&self) -> &dyn Dialect {
        &DIALECT
    }

    fn describe(&self) -> String {
        self.url_redacted().to_string()
    }

    fn applied(&mut self) -> Result<Vec<AppliedRevision>, BackendError> {
        Ok(PostgresDatabase::applied(self)?)
    }

    fn half_done(&mut self) -> Result<Vec<HalfDone>, BackendError> {
        Ok(resume::half_done(&mut self.client).map_err(RunError::from)?)
    }

    fn applied_and_half_done(
        &mut self,
    ) -> Result<(Vec<AppliedRevision>, Vec<HalfDone>), BackendError> {
        Ok(applied_and_half_done(&mut self.client)?)
    }

    fn introspect(&mut self) -> Result<Schema, BackendError> {
        crate::introspect::introspect(&mut self.client)
            .map_err(|e| BackendError::failed(e.to_string()))
    }

    fn count_rows(&mut self, table: &str) -> Result<u64, BackendError> {
        Ok(PostgresDatabase::count_rows(self, table)?)
    }

    fn count_nulls(&mut self, table: &str, column: &str) -> Result<u64, BackendError> {
        Ok(PostgresDatabase::count_nulls(self, table, column)?)
    }

    fn render_script(&self, plan: &ScriptPlan<'_>, range: &str) -> Result<String, BackendError> {
        Ok(render_script(plan, range)?)
    }

    fn run(&mut self, request: &RunRequest<'_>) -> Result<RunReport, BackendError> {
        Ok(PostgresDatabase::run(self, request)?)
    }

    fn write_stamp(
        &mut self,
        stamp: &Stamp<'_>,
        options: &RunOptions,
    ) -> Result<StampReport, BackendError> {
        Ok(PostgresDatabase::write_ledger(self, stamp, options)?)
    }

    fn write_accept(
        &mut self,
        accept: &Accept<'_>,
        options: &RunOptions,
    ) -> Result<AcceptedEdit, BackendError> {
        Ok(PostgresDatabase::write_ledger(self, accept, options)?)
    }

    fn accepted_edits(&mut self) -> Result<Vec<AcceptedEdit>, BackendError> {
        Ok(PostgresDatabase::accepted_edits(self)?)
    }
}
