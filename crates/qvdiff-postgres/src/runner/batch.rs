//! Batched `UPDATE`s: a statement under a `-- qvdiff:batch <rows>` line
//! ([`qvdiff_core::migration::BATCH_PREFIX`]) runs as a series of statements that each change at
//! most `rows` rows, in primary-key order, each committed on its own, so no row stays locked
//! for the whole table and a killed run loses at most one batch of work.
//!
//! The file holds an ordinary `UPDATE table SET … [WHERE …]`: read by a person, or run by
//! `psql`, it means what it says. The runner turns it into
//!
//! ```sql
//! WITH qvdiff_batch AS (
//!     SELECT <key> FROM <table> WHERE (<key>) > (<last key>) AND (<where>)
//!     ORDER BY <key> LIMIT <rows>
//! ), qvdiff_changed AS (
//!     UPDATE <table> SET … WHERE (<where>) AND (<key>) IN (SELECT <key> FROM qvdiff_batch)
//! )
//! SELECT <last key as literals> FROM qvdiff_batch ORDER BY <key> DESC LIMIT 1
//! ```
//!
//! and repeats it from the last key until a batch finds no row. The key only grows, so it ends
//! even when the `SET` leaves a row matching the `WHERE`. Run again after a kill, it starts from
//! the first key: a backfill's `WHERE col IS NULL` skips the rows already filled, and an
//! `UPDATE` without one sets the same values again. A table without a primary key has no
//! order to resume from: its `UPDATE` runs whole, in a transaction of its own.

use super::resume;
use crate::render::quote_string;
use crate::session::{Session, SessionError};
use crate::sqltext::{Statement, TokenKind};
use qvdiff_core::backend::Direction;
use qvdiff_core::migration::batch_rows;
use qvdiff_core::runner::Migration;

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

    /// One batch after `last` (the previous batch's last key as literals; `None`: from the
    /// start), `rows` rows at most, over the key columns `key` (quoted). Its result is the
    /// batch's last key, or no row when nothing was left.
    fn sql(&self, key: &[String], rows: u64, last: Option<&str>) -> String {
        let key_list = key.join(", ");
        let after = last.map_or(String::new(), |last| {
            format!("({key_list}) > ({last}) AND ")
        });
        let descending: Vec<String> = key.iter().map(|k| format!("{k} DESC")).collect();
        let literals: Vec<String> = key.iter().map(|k| format!("quote_literal({k})")).collect();
        format!(
            "WITH qvdiff_batch AS (SELECT {key_list} FROM {table} WHERE {after}({condition}) \
             ORDER BY {key_list} LIMIT {rows}), \
             qvdiff_changed AS (UPDATE {table} SET {assignments} WHERE ({condition}) \
             AND ({key_list}) IN (SELECT {key_list} FROM qvdiff_batch)) \
             SELECT concat_ws(', ', {literals}) FROM qvdiff_batch ORDER BY {descending} LIMIT 1",
            table = self.table,
            condition = self.condition,
            assignments = self.assignments,
            literals = literals.join(", "),
            descending = descending.join(", "),
        )
    }
}

/// The primary key columns of `table` (as written in the statement), quoted, in key order;
/// empty when it has none.
fn primary_key(
    session: &mut (impl Session + ?Sized),
    table: &str,
) -> Result<Vec<String>, SessionError> {
    let columns = session.query_value(&format!(
        "SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.n) \
         FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = {}::regclass AND i.indisprimary",
        quote_string(table)
    ))?;
    Ok(columns
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default())
}

/// Runs statement `index` of `migration` (`text`, an `UPDATE` read as `update`) in batches of
/// `rows`, each committed on its own, then records it as done. Outside a transaction only.
pub(super) fn run(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    direction: Direction,
    index: usize,
    (text, update, rows): (&str, &BatchedUpdate, u64),
) -> Result<(), SessionError> {
    resume::record_started(session, migration, direction)?;
    let key = primary_key(session, &update.table)?;
    if key.is_empty() {
        return resume::in_step_transaction(session, migration, direction, index, |s| {
            s.execute(text)
        });
    }
    let mut last: Option<String> = None;
    while let Some(next) = session.query_value(&update.sql(&key, rows, last.as_deref()))? {
        last = Some(next);
    }
    resume::record_step(session, migration, direction, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqltext::split_statements;

    fn update(sql: &str) -> Result<BatchedUpdate, String> {
        BatchedUpdate::of(&split_statements(sql)[0], sql)
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
            whole.sql(&["\"id\"".to_string()], 50, Some("'7'")),
            "WITH qvdiff_batch AS (SELECT \"id\" FROM t WHERE (\"id\") > ('7') AND (TRUE) \
             ORDER BY \"id\" LIMIT 50), qvdiff_changed AS (UPDATE t SET a = (SELECT max(x) \
             FROM u WHERE u.y = 1) WHERE (TRUE) AND (\"id\") IN (SELECT \"id\" FROM \
             qvdiff_batch)) SELECT concat_ws(', ', quote_literal(\"id\")) FROM qvdiff_batch \
             ORDER BY \"id\" DESC LIMIT 1"
        );
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
