//! Batched `UPDATE`s: a statement under a `-- qvdiff:batch <rows>` line
//! ([`qvdiff_core::migration::BATCH_PREFIX`]) runs as a series of statements that each change at
//! most `rows` rows, in primary-key order, each committed on its own, so no row stays locked
//! for the whole table and a killed run loses at most one batch of work.
//!
//! The file holds an ordinary `UPDATE table SET … [WHERE …]`: read by a person, or run by
//! `psql`, it means what it says. The runner turns it into
//!
//! ```sql
//! WITH qvdiff_bound AS (
//!     (SELECT <key> FROM <table> WHERE (<key>) > (<last key>) ORDER BY <key>
//!      LIMIT 1 OFFSET <rows> - 1)
//!     UNION ALL
//!     (SELECT <key> FROM <table> WHERE (<key>) > (<last key>) ORDER BY <key> DESC LIMIT 1)
//!     LIMIT 1
//! ), qvdiff_changed AS (
//!     UPDATE <table> SET … WHERE (<key>) > (<last key>)
//!     AND (<key>) <= (SELECT <key> FROM qvdiff_bound) AND (<where>) RETURNING 1
//! ), qvdiff_recorded AS (
//!     INSERT INTO qvdiff_migrations_progress … <bound as literals> … ON CONFLICT … DO UPDATE
//! )
//! SELECT <bound as literals>, (SELECT count(*) FROM qvdiff_changed) FROM qvdiff_bound
//! ```
//!
//! and repeats it from the bound until no key is left. Each batch is a range of the key: the
//! bound is read from the key's index, and the `UPDATE` reads the range once, in key order, as a
//! hand-written `WHERE id > 20000 AND id <= 30000` would (picking the keys that match the
//! `WHERE` first and updating them by key read every row twice). The key only grows, so it
//! ends even when the `SET` leaves a row matching the `WHERE`. Each batch records its bound in
//! the progress table in the same statement, so it is committed exactly with the rows it
//! changed; a run that stopped (killed, or given up waiting for a lock) is continued after the
//! last recorded bound, by the next attempt or the next `upgrade`, without walking the keys
//! done again. A table without a primary key has no order to resume from: its `UPDATE` runs
//! whole, in a transaction of its own.
//!
//! When the batches changed rows, the table is vacuumed and analyzed (`VACUUM (ANALYZE)`,
//! without `lock_timeout`) before the statement is recorded as done. Rewriting many rows wakes
//! autovacuum, which holds a lock that the next `ALTER TABLE` of the table waits for; the server
//! cancels autovacuum only after `deadlock_timeout` (1 s by default), and every writer of the
//! table queues behind the waiting `ALTER` for that second. A manual vacuum takes the same lock
//! as autovacuum, which lets writers through: waiting for it stops no writer, autovacuum gives
//! way to it, and afterwards autovacuum has nothing to do on the table.

use super::{resume, table_locks};
use crate::render::quote_string;
use crate::session::{Session, SessionError};
use crate::sqltext::{Statement, TokenKind};
use qvdiff_core::backend::{BatchHook, BatchProgress, Direction, LockRetry};
use qvdiff_core::migration::batch_rows;
use qvdiff_core::runner::Migration;
use std::time::Instant;

/// Sent before each batch, in its implicit transaction: the settings by which the server writes
/// a key as text and reads it back, pinned for the batch alone, so that the key recorded under
/// one session's `DateStyle` (`'04/03/2024'` under `SQL, DMY`) is not read as another key
/// (April 3rd under `ISO, MDY`) by the run that continues after it, and a float or bytea key
/// reads back whole. `SET LOCAL` ends with the batch: the session's settings stay its own.
const PINNED_KEY_FORMATS: &str =
    "SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres'; \
     SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'; ";

/// The rows per batch of each statement of a section, from a batch line between it and the
/// statement before.
pub(super) fn batch_lines(sql: &str, statements: &[Statement]) -> Vec<Option<u64>> {
    let mut previous_end = 0;
    statements
        .iter()
        .map(|statement| {
            // From the previous statement's end: its `;` and note start with `;`, never a batch
            // line.
            let gap = &sql[previous_end..statement.start];
            previous_end = statement.end;
            gap.lines().rev().find_map(batch_rows)
        })
        .collect()
}

/// An `UPDATE table SET … [WHERE …]` split into what the batches are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BatchedUpdate {
    /// The table as written (possibly `ONLY`-less quoted or qualified name).
    table: String,
    /// The `SET` list as written.
    assignments: String,
    /// The `WHERE` condition as written; `TRUE` when there is none.
    condition: String,
}

impl BatchedUpdate {
    /// Reads `UPDATE [ONLY] table SET … [WHERE …]`; `Err` says why a statement under a batch
    /// line cannot be batched (another statement, `FROM`, `RETURNING`, `WHERE CURRENT OF`).
    pub(super) fn of(statement: &Statement, sql: &str) -> Result<BatchedUpdate, String> {
        let tokens = statement.tokens();
        let refuse = |why: &str| {
            Err(format!(
                "a `-- qvdiff:batch` line must stand above `UPDATE table SET … [WHERE …]`: {why}"
            ))
        };
        if !tokens.first().is_some_and(|t| t.is_word(sql, "UPDATE")) {
            return refuse("this statement is no UPDATE");
        }
        let mut depth = 0usize;
        let (mut set_at, mut where_at) = (None, None);
        for (i, token) in tokens.iter().enumerate() {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                TokenKind::Word if depth == 0 => {
                    if set_at.is_none() && token.is_word(sql, "SET") {
                        set_at = Some(i);
                    } else if set_at.is_some() && where_at.is_none() && token.is_word(sql, "WHERE")
                    {
                        where_at = Some(i);
                    } else if set_at.is_some()
                        && (token.is_word(sql, "FROM") || token.is_word(sql, "RETURNING"))
                    {
                        return refuse("it has a FROM or RETURNING clause");
                    }
                }
                _ => {}
            }
        }
        let Some(set_at) = set_at else {
            return refuse("it has no SET");
        };
        let table_from = if tokens.get(1).is_some_and(|t| t.is_word(sql, "ONLY")) {
            2
        } else {
            1
        };
        if set_at <= table_from {
            return refuse("it names no table");
        }
        let text = |from: usize, to: usize| sql[tokens[from].start..tokens[to].end].to_string();
        let last = tokens.len() - 1;
        let (assignments, condition) = match where_at {
            Some(at) if at == last => return refuse("its WHERE has no condition"),
            Some(at) => {
                if tokens[at + 1].is_word(sql, "CURRENT") {
                    return refuse("WHERE CURRENT OF names a cursor");
                }
                (text(set_at + 1, at - 1), text(at + 1, last))
            }
            None => (text(set_at + 1, last), "TRUE".to_string()),
        };
        if assignments.trim().is_empty() {
            return refuse("its SET is empty");
        }
        Ok(BatchedUpdate {
            table: text(table_from, set_at - 1),
            assignments,
            condition,
        })
    }

    /// One batch after `last` (the previous batch's bound as literals; `None`: from the
    /// start): the next `rows` keys at most, over the key columns `key` (quoted). Its result is
    /// the batch's bound and how many rows it changed, or no row when no key was left.
    /// `record`, given the expression of the bound as literals and the relation it is read
    /// from, is the `INSERT` recording the bound (see [`resume::record_batch_sql`]); it runs in
    /// the batch's statement.
    fn sql(
        &self,
        key: &[String],
        rows: u64,
        last: Option<&str>,
        record: impl Fn((&str, &str)) -> String,
    ) -> String {
        let key_list = key.join(", ");
        let after = last.map_or(String::new(), |last| format!("({key_list}) > ({last})"));
        let (where_after, and_after) = if after.is_empty() {
            (String::new(), String::new())
        } else {
            (format!(" WHERE {after}"), format!("{after} AND "))
        };
        let descending: Vec<String> = key.iter().map(|k| format!("{k} DESC")).collect();
        let literals: Vec<String> = key.iter().map(|k| format!("quote_literal({k})")).collect();
        let bound = format!("concat_ws(', ', {})", literals.join(", "));
        format!(
            "WITH qvdiff_bound AS ((SELECT {key_list} FROM {table}{where_after} \
             ORDER BY {key_list} LIMIT 1 OFFSET {offset}) UNION ALL \
             (SELECT {key_list} FROM {table}{where_after} ORDER BY {descending} LIMIT 1) \
             LIMIT 1), \
             qvdiff_changed AS (UPDATE {table} SET {assignments} WHERE {and_after}\
             ({key_list}) <= (SELECT {key_list} FROM qvdiff_bound) AND ({condition}) \
             RETURNING 1), \
             qvdiff_recorded AS ({record}) \
             SELECT {bound}, (SELECT count(*) FROM qvdiff_changed) FROM qvdiff_bound",
            table = self.table,
            offset = rows.saturating_sub(1),
            condition = self.condition,
            assignments = self.assignments,
            descending = descending.join(", "),
            record = record((&bound, "qvdiff_bound")),
        )
    }
}

/// The primary key columns of `table` (as written in the statement), quoted, in key order
/// (empty when it has none), and the rows the server estimates the table holds (`None` before
/// its first `ANALYZE` or vacuum).
fn primary_key_and_estimate(
    session: &mut (impl Session + ?Sized),
    table: &str,
) -> Result<(Vec<String>, Option<u64>), SessionError> {
    let table = quote_string(table);
    let rows = session.simple_query(&format!(
        "SELECT (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.n) \
         FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = {table}::regclass AND i.indisprimary), \
         (SELECT reltuples::bigint FROM pg_class WHERE oid = {table}::regclass)"
    ))?;
    let mut row = rows.into_iter().next().unwrap_or_default().into_iter();
    let key = row
        .next()
        .flatten()
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    // `reltuples` is -1 for a table never vacuumed or analyzed.
    let estimate = row
        .next()
        .flatten()
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|n| u64::try_from(n).ok());
    Ok((key, estimate))
}

/// The rows of `table` after key `last` (SQL literals) over the key columns `key`, as the
/// planner estimates them (no row is read); `None` when it gives no figure.
fn rows_after(
    session: &mut (impl Session + ?Sized),
    table: &str,
    key: &[String],
    last: &str,
) -> Result<Option<u64>, SessionError> {
    let key_list = key.join(", ");
    let plan = session.query_value(&format!(
        "{PINNED_KEY_FORMATS}EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE ({key_list}) > ({last})"
    ))?;
    // `[{"Plan": {… "Plan Rows": 123, …}}]`: the top node's estimate.
    Ok(plan.and_then(|plan| {
        let at = plan.find("\"Plan Rows\":")? + "\"Plan Rows\":".len();
        let digits: String = plan[at..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }))
}

/// What the batches of one batched statement committed in this run (over all its attempts):
/// they stay when a later batch fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Committed {
    /// The statement's number in its section.
    pub statement: usize,
    /// Batches committed.
    pub batches: u64,
    /// Rows they changed.
    pub changed: u64,
    /// The key the last of them reached, as SQL literals.
    pub last_key: String,
}

/// The batched statements of a section run: who is told of their progress, where a stopped run
/// left them, and what this run committed.
#[derive(Default)]
pub(super) struct Batches<'a> {
    /// Told after each batch.
    pub hook: Option<&'a BatchHook>,
    /// Per statement, the key its last batch recorded in an earlier run
    /// ([`resume::Progress::batched_to`]).
    pub recorded: &'a [(usize, String)],
    /// What the batches of the last batched statement run committed in this run.
    pub committed: Option<Committed>,
    /// The batched statement whose table this run vacuumed: an attempt again after its record
    /// failed does not vacuum the whole table twice.
    pub vacuumed: Option<usize>,
}

impl Batches<'_> {
    /// What the batches of statement `index` committed that stays: this run's, or none of
    /// this run's over the key an earlier run recorded; `None` when no batch of it committed.
    pub(super) fn committed_by(&self, index: usize) -> Option<Committed> {
        match &self.committed {
            Some(committed) if committed.statement == index && committed.batches > 0 => {
                Some(committed.clone())
            }
            _ => self.resume_after(index).map(|last_key| Committed {
                statement: index,
                batches: 0,
                changed: 0,
                last_key,
            }),
        }
    }

    /// The key statement `index` continues after: where this run's last attempt got, else
    /// where an earlier run's did; `None`: from the first key.
    fn resume_after(&self, index: usize) -> Option<String> {
        match &self.committed {
            Some(committed) if committed.statement == index => Some(committed.last_key.clone()),
            _ => self
                .recorded
                .iter()
                .find(|(statement, _)| *statement == index)
                .map(|(_, key)| key.clone()),
        }
    }
}

/// Runs statement `index` of `migration` (`text`, an `UPDATE` read as `update`) in batches of
/// `rows`, each committed on its own with its bound recorded, continuing after the bound a
/// stopped attempt recorded, telling `batches.hook` after each; then vacuums the table when
/// rows changed (see the module docs) and records the statement as done. Outside a
/// transaction only.
pub(super) fn run(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
    index: usize,
    (text, update, rows): (&str, &BatchedUpdate, u64),
    (retry, batches): (&LockRetry, &mut Batches<'_>),
) -> Result<(), SessionError> {
    resume::record_started(session, migration, direction)?;
    let (key, estimate) = primary_key_and_estimate(session, &update.table)?;
    if key.is_empty() {
        return resume::run_step(session, migration, direction, index, text);
    }
    let started = Instant::now();
    let mut report = BatchProgress {
        table: update.table.clone(),
        walked: 0,
        changed: 0,
        estimate,
        elapsed: started.elapsed(),
        done: false,
    };
    let mut last = batches.resume_after(index);
    // A stopped attempt changed rows that no vacuum followed.
    let resumed = last.is_some();
    if let Some(last) = last.as_deref().filter(|_| estimate.is_some()) {
        // The count starts at the key reached: shown against the rows after it.
        report.estimate = rows_after(session, &update.table, &key, last)?.or(estimate);
    }
    let record = |bound: (&str, &str)| resume::record_batch_sql(migration, direction, index, bound);
    loop {
        let batch = session.simple_query(&format!(
            "{PINNED_KEY_FORMATS}{}",
            update.sql(&key, rows, last.as_deref(), record)
        ))?;
        let Some(row) = batch.into_iter().next() else {
            break;
        };
        let mut values = row.into_iter().map(Option::unwrap_or_default);
        let bound = values.next().unwrap_or_default();
        let changed: u64 = values.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if batches
            .committed
            .as_ref()
            .is_none_or(|c| c.statement != index)
        {
            batches.committed = Some(Committed {
                statement: index,
                batches: 0,
                changed: 0,
                last_key: String::new(),
            });
        }
        let Some(committed) = batches.committed.as_mut() else {
            unreachable!("set just above")
        };
        committed.batches += 1;
        committed.changed += changed;
        committed.last_key.clone_from(&bound);
        last = Some(bound);
        // The last batch may hold fewer keys: the estimate is what the count is shown against.
        report.walked += rows;
        report.changed += changed;
        report.elapsed = started.elapsed();
        if let Some(progress) = batches.hook {
            progress(&report);
        }
    }
    if (report.changed > 0 || resumed) && batches.vacuumed != Some(index) {
        table_locks::execute_without_timeout(
            session,
            &format!("VACUUM (ANALYZE) {}", update.table),
            retry,
        )?;
        batches.vacuumed = Some(index);
    }
    resume::record_step(session, migration, direction, index)?;
    report.elapsed = started.elapsed();
    report.done = true;
    if let Some(progress) = batches.hook {
        progress(&report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqltext::split_statements;

    fn update(sql: &str) -> Result<BatchedUpdate, String> {
        BatchedUpdate::of(&split_statements(sql)[0], sql)
    }

    /// A record that writes nothing: the bound read back.
    fn select((bound, from): (&str, &str)) -> String {
        format!("SELECT {bound} FROM {from}")
    }

    #[test]
    fn an_update_is_read_into_table_assignments_and_condition() {
        let read = update("UPDATE \"items\" SET \"notes\" = 'a (b)' WHERE \"notes\" IS NULL;")
            .expect("an update");
        assert_eq!(read.table, "\"items\"");
        assert_eq!(read.assignments, "\"notes\" = 'a (b)'");
        assert_eq!(read.condition, "\"notes\" IS NULL");
        let whole = update("UPDATE ONLY t SET a = (SELECT max(x) FROM u WHERE u.y = 1)")
            .expect("a subquery's FROM and WHERE are its own");
        assert_eq!(whole.table, "t");
        assert_eq!(whole.condition, "TRUE");
        assert_eq!(
            whole.sql(&["\"id\"".to_string()], 50, Some("'7'"), select),
            "WITH qvdiff_bound AS ((SELECT \"id\" FROM t WHERE (\"id\") > ('7') ORDER BY \"id\" \
             LIMIT 1 OFFSET 49) UNION ALL (SELECT \"id\" FROM t WHERE (\"id\") > ('7') ORDER BY \
             \"id\" DESC LIMIT 1) LIMIT 1), qvdiff_changed AS (UPDATE t SET a = (SELECT max(x) \
             FROM u WHERE u.y = 1) WHERE (\"id\") > ('7') AND (\"id\") <= (SELECT \"id\" FROM \
             qvdiff_bound) AND (TRUE) RETURNING 1), qvdiff_recorded AS (SELECT concat_ws(', ', \
             quote_literal(\"id\")) FROM qvdiff_bound) SELECT concat_ws(', ', \
             quote_literal(\"id\")), (SELECT count(*) FROM qvdiff_changed) FROM qvdiff_bound"
        );
        let first = read.sql(&["a".to_string(), "b".to_string()], 1, None, select);
        assert!(
            first.starts_with(
                "WITH qvdiff_bound AS ((SELECT a, b FROM \"items\" ORDER BY a, b LIMIT 1 \
                 OFFSET 0) UNION ALL (SELECT a, b FROM \"items\" ORDER BY a DESC, b DESC LIMIT 1)"
            ),
            "{first}"
        );
        assert!(
            first.contains("WHERE (a, b) <= (SELECT a, b FROM qvdiff_bound) AND"),
            "{first}"
        );
    }

    /// On a column the server has no statistics for yet (a column just added, as a backfill's),
    /// the planner guesses few rows match the `WHERE`; no batch may then read the whole table,
    /// or a backfill would take time in the square of the rows. Each batch's plan goes by the
    /// primary key's index, first batch and later ones.
    #[test]
    fn no_batch_reads_the_whole_table() {
        let Some(db) = crate::testing::TestDatabase::create("batch_plans") else {
            return;
        };
        let mut client = db.connect();
        client
            .batch_execute(
                "CREATE TABLE items (id bigint PRIMARY KEY, qty integer NOT NULL); \
                 INSERT INTO items SELECT g, g % 100 FROM generate_series(1, 50000) g; \
                 ANALYZE items; \
                 ALTER TABLE items ADD COLUMN qty_new bigint",
            )
            .unwrap();
        let sql = "UPDATE \"items\" SET \"qty_new\" = \"qty\" \
                   WHERE \"qty_new\" IS NULL AND \"qty\" IS NOT NULL;";
        let read = update(sql).expect("an update");
        let key = ["\"id\"".to_string()];
        for last in [None, Some("'20000'")] {
            let plan: Vec<String> = client
                .simple_query(&format!("EXPLAIN {}", read.sql(&key, 10_000, last, select)))
                .unwrap()
                .into_iter()
                .filter_map(|message| match message {
                    postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                    _ => None,
                })
                .collect();
            let plan = plan.join("\n");
            assert!(plan.contains("items_pkey"), "{plan}");
            assert!(!plan.contains("Seq Scan"), "{plan}");
        }
    }

    #[test]
    fn what_cannot_be_batched_is_refused_with_the_reason() {
        for (sql, why) in [
            ("DELETE FROM t WHERE a IS NULL", "no UPDATE"),
            (
                "UPDATE t SET a = u.b FROM u WHERE u.id = t.id",
                "FROM or RETURNING",
            ),
            ("UPDATE t SET a = 1 RETURNING id", "FROM or RETURNING"),
            ("UPDATE t SET a = 1 WHERE CURRENT OF c", "cursor"),
        ] {
            let error = update(sql).expect_err(sql);
            assert!(error.contains(why), "{sql}: {error}");
        }
    }

    #[test]
    fn the_batch_line_right_above_a_statement_is_its_own() {
        let sql = "ALTER TABLE t ADD COLUMN a text;  -- note\n\
                   -- qvdiff:batch 500\n\
                   UPDATE t SET a = 'x' WHERE a IS NULL;\n\
                   UPDATE t SET a = 'y';\n";
        let statements = split_statements(sql);
        assert_eq!(batch_lines(sql, &statements), vec![None, Some(500), None]);
        let first = "-- qvdiff:batch 7\nUPDATE t SET a = 1;";
        assert_eq!(batch_lines(first, &split_statements(first)), vec![Some(7)]);
    }
}
