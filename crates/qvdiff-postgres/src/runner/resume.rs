//! Revisions that run outside a transaction, step by step, so that a failed or killed run
//! continues where it stopped.
//!
//! A revision holding `CREATE INDEX CONCURRENTLY` (or another statement PostgreSQL refuses in a
//! transaction block) cannot be all-or-nothing. Instead each of its statements is a step whose
//! completion is recorded in [`PROGRESS_TABLE`] (revision, direction, the file's checksum, the
//! statement's number; for a batched `UPDATE` under way, the key its last committed batch
//! reached, see `runner/batch.rs`):
//!
//! - any other statement runs in a transaction of its own together with its progress row, so it
//!   is done exactly when it is recorded;
//! - a `CONCURRENTLY` statement cannot share a transaction, so before it runs the server is
//!   asked what a killed earlier attempt left: an index that is already valid was built (only
//!   the record was missing), an `INVALID` one (`pg_index.indisvalid`) is what a failed or
//!   killed build leaves and is dropped and built again, and an index to drop that no longer
//!   exists was dropped.
//!
//! When every step is done, the ledger row is written and the progress rows deleted in one
//! transaction. A later run skips the recorded steps. Progress recorded from another version of
//! the file is refused: the steps would not be the same.

use super::index_step::IndexStep;
use crate::error::PgError;
use crate::render::quote_string;
use crate::session::{Session, SessionError, TextRow};
use qvdiff_core::backend::{Direction, HalfDone};
use qvdiff_core::runner::{Migration, PROGRESS_TABLE};

/// `CREATE TABLE` of the progress table, sent by [`ensure_table`] when it is missing.
///
/// `last_key`: NULL on the row of a finished step; on the row of a batched `UPDATE` still
/// under way, the key its last committed batch reached (SQL literals), where the next run
/// continues (`runner/batch.rs`). That row is filed under [`under_way_number`], a negative
/// statement number that versions reading no `last_key` skip, so none of them takes a
/// backfill under way for done.
const CREATE_PROGRESS_SQL: &str =
    "CREATE TABLE IF NOT EXISTS \"qvdiff_migrations_progress\" (\n    \
     \"revision\" text NOT NULL,\n    \
     \"direction\" text NOT NULL,\n    \
     \"checksum\" text NOT NULL,\n    \
     \"statement\" integer NOT NULL,\n    \
     \"last_key\" text,\n    \
     PRIMARY KEY (\"revision\", \"direction\", \"statement\")\n)";

/// Adds `last_key` to a progress table from before that column.
const ADD_LAST_KEY_SQL: &str =
    "ALTER TABLE \"qvdiff_migrations_progress\" ADD COLUMN IF NOT EXISTS \"last_key\" text";

/// Whether the progress table exists and whether it has `last_key`: `t` or `f` each.
const TABLE_AND_COLUMN_SQL: &str = "SELECT to_regclass('\"qvdiff_migrations_progress\"') IS NOT NULL, \
     EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('\"qvdiff_migrations_progress\"') \
     AND attname = 'last_key' AND NOT attisdropped)";

/// The `last_key` of a progress row `p`, read so that a table from before the column (which
/// only a run recording progress adds) reads as NULL rather than failing: reading never
/// changes the table.
const LAST_KEY_SQL: &str = "to_jsonb(p) ->> 'last_key'";

/// The statement number under which the batches under way of statement `index` are recorded:
/// `-(index + 2)`, below the `-1` of [`record_started`]. Versions before `last_key` read only
/// numbers from 0 as statements (and count only those as done), so they ignore this row rather
/// than skip the rest of the backfill; they still see the revision as started.
fn under_way_number(index: usize) -> i64 {
    -i64::try_from(index).unwrap_or(i64::MAX - 2) - 2
}

fn progress_error(context: String, error: SessionError) -> PgError {
    PgError::new(format!("{context} (table {PROGRESS_TABLE})"), error.message)
}

fn progress_table_exists(session: &mut (impl Session + ?Sized)) -> Result<bool, PgError> {
    crate::ledger::table_exists(session, PROGRESS_TABLE)
        .map_err(|e| progress_error("looking for the progress table".to_string(), e))
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

/// What earlier runs recorded of a revision's section (see [`progress`]).
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// Whether the progress table exists.
    pub table_exists: bool,
    /// Whether it has the `last_key` column.
    pub has_last_key: bool,
    /// Whether any row is recorded for the section, the marker of a started concurrent step
    /// included: then an earlier run changed something.
    pub started: bool,
    /// The statements completed, by number from 0.
    pub done: Vec<usize>,
    /// The batched `UPDATE`s under way: statement number and the key (SQL literals) their last
    /// committed batch reached.
    pub batched_to: Vec<(usize, String)>,
}

/// What a previous run of `migration`'s `direction` section recorded; nothing without a
/// progress table. Refuses progress recorded from another version of the file.
pub(super) fn progress(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
) -> Result<Progress, PgError> {
    let revision = &migration.file.revision;
    let found = session
        .simple_query(TABLE_AND_COLUMN_SQL)
        .map_err(|e| progress_error("looking for the progress table".to_string(), e))?;
    let mut found = found
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|value| value.as_deref() == Some("t"));
    let (table_exists, has_last_key) =
        (found.next().unwrap_or(false), found.next().unwrap_or(false));
    if !table_exists {
        return Ok(Progress::default());
    }
    let rows = session
        .simple_query(&format!(
            "SELECT statement, checksum, {LAST_KEY_SQL} FROM \"qvdiff_migrations_progress\" p \
             WHERE revision = {} AND direction = {} ORDER BY statement",
            quote_string(revision),
            quote_string(direction_word(direction)),
        ))
        .map_err(|e| progress_error(format!("reading the progress of revision {revision}"), e))?;
    let mut progress = Progress {
        table_exists: true,
        has_last_key,
        started: !rows.is_empty(),
        done: Vec::with_capacity(rows.len()),
        batched_to: Vec::new(),
    };
    for row in rows {
        let mut values = row.into_iter();
        let statement = values.next().flatten().unwrap_or_default();
        let checksum = values.next().flatten().unwrap_or_default();
        let last_key = values.next().flatten();
        if !migration.applied_as(&checksum) {
            return Err(PgError::new(
                format!("continuing revision {revision} ({})", migration.path),
                format!(
                    "a run stopped half way through this revision ({direction}) when the file \
                     was different, and its first steps took effect: put the file back as it was \
                     and run again, or finish or undo the revision by hand, then delete its rows \
                     from {PROGRESS_TABLE} (and record a finished one with `qvdiff stamp`)"
                ),
            ));
        }
        // Batches under way are filed under their negative number; a row of statement `n`
        // with a key is one a version filing them under `n` wrote.
        match (statement.parse::<i64>().ok(), last_key) {
            (Some(number @ ..=-2), Some(key)) => {
                if let Ok(index) = usize::try_from(-2 - number) {
                    progress.batched_to.push((index, key));
                }
            }
            (Some(number @ 0..), key) => match (usize::try_from(number), key) {
                (Ok(index), Some(key)) => progress.batched_to.push((index, key)),
                (Ok(index), None) => progress.done.push(index),
                (Err(_), _) => {}
            },
            _ => {}
        }
    }
    Ok(progress)
}

/// Creates the progress table, or adds `last_key` to one from before that column, when
/// `progress` (read by [`progress`] at the start of the section) found it missing: once per
/// section, before its first step and outside any step's transaction, under the runner's
/// advisory lock. The steps' own statements then only insert, update and delete rows, which a
/// role that does not own the table may be granted, and take no lock on the table that a
/// reader of it would hold up.
pub(super) fn ensure_table(
    session: &mut (impl Session + ?Sized),
    progress: &Progress,
) -> Result<(), PgError> {
    let (sql, context) = match (progress.table_exists, progress.has_last_key) {
        (false, _) => (
            CREATE_PROGRESS_SQL,
            "creating the progress table".to_string(),
        ),
        (true, false) => (
            ADD_LAST_KEY_SQL,
            format!(
                "adding the column last_key, where a batched UPDATE's progress is kept, to the \
                 progress table (no step of the revision ran; the table's owner can add \
                 it: {ADD_LAST_KEY_SQL})"
            ),
        ),
        (true, true) => return Ok(()),
    };
    session.execute(sql).map_err(|e| progress_error(context, e))
}

/// The statement removing a revision's progress rows, or the progress table when `drop_table`.
pub(super) fn forget_sql(migration: &Migration, direction: Direction, drop_table: bool) -> String {
    if drop_table {
        "DROP TABLE IF EXISTS \"qvdiff_migrations_progress\"".to_string()
    } else {
        format!(
            "DELETE FROM \"qvdiff_migrations_progress\" WHERE revision = {} AND direction = {}",
            quote_string(&migration.file.revision),
            quote_string(direction_word(direction)),
        )
    }
}

/// Undoes the steps this run committed of a revision that started afresh: `undo` (the
/// inverses, see `runner/undo.rs`) and the removal of its progress rows, or of the progress
/// table when `drop_table` (this revision created it), in one transaction. On failure it is
/// rolled back and the steps stay, recorded.
pub(super) fn undo_steps(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
    undo: &[String],
    drop_table: bool,
) -> Result<(), SessionError> {
    let mut sql = vec!["BEGIN".to_string()];
    sql.extend(undo.iter().cloned());
    sql.push(forget_sql(migration, direction, drop_table));
    sql.push("COMMIT".to_string());
    let result = session.execute(&sql.join(";\n"));
    if result.is_err() {
        let _ = session.execute("ROLLBACK");
    }
    result
}

/// The statements recording statement `index` of `migration`'s section as done: the row of its
/// batches under way, if any, deleted and the row of the statement inserted (over a row with a
/// key that a version filing batches under the statement's own number wrote).
fn record_step_sql(migration: &Migration, direction: Direction, index: usize) -> String {
    let (revision, direction) = (
        quote_string(&migration.file.revision),
        quote_string(direction_word(direction)),
    );
    format!(
        "DELETE FROM \"qvdiff_migrations_progress\" WHERE revision = {revision} \
         AND direction = {direction} AND statement = {under_way}; \
         INSERT INTO \"qvdiff_migrations_progress\" (revision, direction, checksum, statement) \
         VALUES ({revision}, {direction}, {}, {index}) \
         ON CONFLICT (revision, direction, statement) DO UPDATE SET last_key = NULL",
        quote_string(&migration.checksum),
        under_way = under_way_number(index),
    )
}

/// The `INSERT` recording how far the batches of statement `index` got: `key`, an expression
/// of `SELECT … FROM from` giving the key as SQL literals, under the statement's
/// [`under_way_number`]. Part of each batch's statement, so that the batch and its record
/// commit together (the table and column exist: [`ensure_table`] ran first).
pub(super) fn record_batch_sql(
    migration: &Migration,
    direction: Direction,
    index: usize,
    (key, from): (&str, &str),
) -> String {
    format!(
        "INSERT INTO \"qvdiff_migrations_progress\" \
         (revision, direction, checksum, statement, last_key) \
         SELECT {}, {}, {}, {under_way}, {key} FROM {from} \
         ON CONFLICT (revision, direction, statement) DO UPDATE SET last_key = EXCLUDED.last_key",
        quote_string(&migration.file.revision),
        quote_string(direction_word(direction)),
        quote_string(&migration.checksum),
        under_way = under_way_number(index),
    )
}

/// Records statement `index` as done (after a `CONCURRENTLY` statement, which ran on its own).
pub(super) fn record_step(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
    index: usize,
) -> Result<(), SessionError> {
    session.execute(&record_step_sql(migration, direction, index))
}

/// Runs one statement in a transaction of its own with its progress row (done exactly when
/// recorded), in one round trip: `BEGIN`, the statement, the record and `COMMIT` go together (on a busy server each round trip is a wake-up of two processes). On
/// failure the server skips the rest, and the transaction is rolled back.
pub(super) fn run_step(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
    index: usize,
    statement: &str,
) -> Result<(), SessionError> {
    // The statement may end in a line comment: its `;` goes on a line of its own.
    let result = session.execute(&format!(
        "BEGIN;\n{statement}\n;\n{};\nCOMMIT",
        record_step_sql(migration, direction, index)
    ));
    if result.is_err() {
        let _ = session.execute("ROLLBACK");
    }
    result
}

/// Records that a `CONCURRENTLY` statement of `migration` is about to run (statement number
/// `-1`, once), so that a run killed during the revision's first step still shows it as half
/// done.
pub(super) fn record_started(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
) -> Result<(), SessionError> {
    session.execute(&format!(
        "INSERT INTO \"qvdiff_migrations_progress\" \
         (revision, direction, checksum, statement) VALUES ({}, {}, {}, -1) ON CONFLICT DO NOTHING",
        quote_string(&migration.file.revision),
        quote_string(direction_word(direction)),
        quote_string(&migration.checksum),
    ))
}

/// The revisions a stopped run left half done, with how many statements each has done.
pub(super) fn half_done(session: &mut (impl Session + ?Sized)) -> Result<Vec<HalfDone>, PgError> {
    if !progress_table_exists(session)? {
        return Ok(Vec::new());
    }
    let rows = session
        .simple_query(&half_done_sql())
        .map_err(|e| progress_error("reading the progress table".to_string(), e))?;
    Ok(half_done_from_rows(rows))
}

/// The query of the half-done revisions, three columns a row (read by [`half_done_from_rows`]):
/// the statements done, a batched one counted once its last batch is recorded. It fails when
/// there is no progress table.
pub(super) fn half_done_sql() -> String {
    format!(
        "SELECT revision, direction, \
             count(*) FILTER (WHERE statement >= 0 AND {LAST_KEY_SQL} IS NULL) \
             FROM \"qvdiff_migrations_progress\" p GROUP BY 1, 2 ORDER BY 1, 2"
    )
}

/// The half-done revisions in the rows of [`half_done_sql`].
pub(super) fn half_done_from_rows(rows: Vec<TextRow>) -> Vec<HalfDone> {
    rows.into_iter()
        .map(|row| {
            let mut values = row.into_iter().map(Option::unwrap_or_default);
            let revision = values.next().unwrap_or_default();
            let direction = match values.next().as_deref() {
                Some("down") => Direction::Down,
                _ => Direction::Up,
            };
            let statements_done = values.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            HalfDone {
                revision,
                direction,
                statements_done,
            }
        })
        .collect()
}

/// Deletes a finished revision's progress rows (in the transaction that writes its ledger row).
pub(super) fn forget_progress(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
) -> Result<(), PgError> {
    let revision = &migration.file.revision;
    session
        .execute(&format!(
            "DELETE FROM \"qvdiff_migrations_progress\" WHERE revision = {} AND direction = {}",
            quote_string(revision),
            quote_string(direction_word(direction)),
        ))
        .map_err(|e| progress_error(format!("finishing revision {revision}"), e))
}

/// What to do with a `CONCURRENTLY` statement before running it, given what an earlier,
/// stopped attempt may have left.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Before {
    /// Run it.
    Run,
    /// Its effect is there already: only the record is missing.
    Done,
    /// An invalid index of that name is left from a build that failed or was killed: drop it
    /// (this statement), then run.
    DropInvalid(String),
}

/// Asks the server what an earlier attempt at this `CONCURRENTLY` statement left (see
/// [`Before`]). Statements without an index name (`VACUUM`, an unnamed index) just run.
pub(super) fn before_concurrent(
    session: &mut (impl Session + ?Sized),
    statement_text: &str,
) -> Result<Before, SessionError> {
    let Some(IndexStep { creates, name, .. }) = IndexStep::of(statement_text) else {
        return Ok(Before::Run);
    };
    let name = name.sql;
    let valid = session.query_value(&format!(
        "SELECT i.indisvalid::text FROM pg_index i WHERE i.indexrelid = to_regclass({})",
        quote_string(&name)
    ))?;
    Ok(match (creates, valid.as_deref()) {
        (true, None) | (false, Some(_)) => Before::Run,
        (true, Some("true")) => Before::Done,
        (true, Some(_)) => Before::DropInvalid(format!("DROP INDEX CONCURRENTLY IF EXISTS {name}")),
        (false, None) => Before::Done,
    })
}
