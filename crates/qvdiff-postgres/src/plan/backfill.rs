//! Backfills: the `UPDATE` that gives the rows already there a value (a NULL column's fill
//! before it becomes NOT NULL, a new column's computed value).
//!
//! One `UPDATE` of a whole table holds each row's lock until it commits, so a writer touching
//! any row it changed waits for the end of the table. On a table that exists before the
//! migration (unless [`Postgres::online_ddl`](super::Postgres) is off) the statement is written
//! under a `-- qvdiff:batch <rows>` line ([`qvdiff_core::migration::BATCH_PREFIX`]): the runner
//! applies it in batches by primary key, each committed on its own (see `runner::batch`), and
//! the step runs on its own (`StepFacts::outside_transaction`). The statement stays an ordinary
//! `UPDATE … WHERE col IS NULL`, which a reader or `psql` takes as it is, and which a run that
//! resumes after a kill continues where the filled rows end.

use super::{fill_fact, Planner};
use crate::render::quote_ident;
use qvdiff_core::migration::BATCH_PREFIX;
use qvdiff_core::{FillReason, LockMode, Step, StepFacts};

/// Rows per batch of a backfill the planner writes: short enough that a writer waits at most
/// for one batch's row locks, long enough that a million rows take a hundred statements.
pub(crate) const BACKFILL_BATCH_ROWS: u64 = 10_000;

impl Planner<'_> {
    /// `UPDATE table SET column = value WHERE column IS NULL`: row locks only, but it reads the
    /// whole table; batched on a table that exists.
    pub(super) fn backfill(&mut self, table: &str, column: &str, value: String, why: FillReason) {
        let name = quote_ident(column);
        let update = format!(
            "UPDATE {} SET {name} = {value} WHERE {name} IS NULL;",
            quote_ident(table)
        );
        let lock = self.lock(table, LockMode::RowExclusive, true, false);
        let batched = self.online_ddl && lock.is_some();
        let facts = StepFacts {
            lock,
            fills: vec![fill_fact(table, column, value, why)],
            outside_transaction: batched,
            ..StepFacts::default()
        };
        let sql = if batched {
            batched_sql(&update)
        } else {
            update
        };
        self.steps.push(Step::with(sql, facts));
    }
}

/// `update` under a `-- qvdiff:batch` line of [`BACKFILL_BATCH_ROWS`] rows: the runner applies
/// it in batches by primary key, each committed on its own.
pub(crate) fn batched_sql(update: &str) -> String {
    format!("{BATCH_PREFIX} {BACKFILL_BATCH_ROWS}\n{update}")
}
