//! What `qvdiff lint` and `qvdiff review` need to know about a section's SQL, read with the
//! one tokenizer in SQLite's spelling: its statements with their lines and comments, the table each acts on,
//! and the renames it performs.
//!
//! Like the tokenizer, this is not a parser: it recognises the statement shapes qvdiff writes
//! and the common hand-written ones; anything else is a statement with no table.

use crate::plan::REBUILD_PREFIX;
use crate::{apply_script, comparable, introspect, replay, schema_copy, SqliteError};
use qvdiff_core::diff::diff;
use qvdiff_core::lint::{down_mismatch, Analysis, Section, SectionKind};
use qvdiff_core::section::Spelling;
use qvdiff_core::{EnumChange, Loss, Renames, Replay, Schema, StepFacts, Table};
use rusqlite::Connection;
use std::collections::BTreeSet;

/// SQLite's lexicon; it keeps a bare name as written and reads a string literal where a name
/// must be as that name; a rebuild's temporary table is `_qvdiff_new_<table>`.
pub(crate) const SPELLING: Spelling = Spelling {
    lexicon: crate::sqltext::LEXICON,
    fold: str::to_string,
    unquote: crate::sqltext::unquote,
    strings_are_names: true,
    rebuild_prefix: Some(REBUILD_PREFIX),
};

/// Splits a section body into statements. `marker_line` is the 1-based line of the section's
/// marker; the body starts on the next line.
///
/// The temporary table of a rebuild (`_qvdiff_new_t`) is reported as the table it rebuilds
/// (`t`), so every statement of a rebuild points at the same table.
pub(crate) fn section(body: &str, marker_line: usize) -> Section {
    qvdiff_core::section::section(body, marker_line, &SPELLING)
}

/// The renames a script performs (see [`qvdiff_core::section::renames`]).
pub(crate) fn renames(sql: &str) -> Renames {
    qvdiff_core::section::renames(sql, &SPELLING)
}

/// The facts of each statement of a section ([`qvdiff_core::Dialect::facts_of`]), read from its
/// SQL on a database holding `before` and leaving one holding `after`: the rebuilds (a
/// `CREATE TABLE "_qvdiff_new_t"`, or a table dropped that exists again afterwards) and what each
/// statement destroys. SQLite locks the whole file for a write, so no lock is a fact here.
pub fn facts_of(before: &Schema, after: &Schema, sql: &str) -> Vec<StepFacts> {
    let section = section(sql, 0);
    let renames = renames(sql);
    let mut rebuilding: BTreeSet<String> = BTreeSet::new();
    section
        .statements
        .iter()
        .map(|statement| {
            let mut facts = StepFacts::default();
            let Some(table) = statement.table.clone() else {
                return facts;
            };
            if statement.starts_with(&["CREATE", "TABLE"]) {
                let temporary = crate::render::quote_ident(&format!("{REBUILD_PREFIX}{table}"));
                if statement.sql.contains(&temporary) {
                    rebuilding.insert(table.clone());
                    facts.rebuilds = Some(table);
                }
            } else if statement.starts_with(&["DROP", "TABLE"]) {
                // Under its own name, or renamed earlier in the section.
                let old = before.table(&table).or_else(|| {
                    let (from, _) = renames.tables.iter().find(|(_, to)| *to == table)?;
                    before.table(from)
                });
                match (old, after.table(&table)) {
                    (Some(old), Some(new)) => {
                        if rebuilding.insert(table.clone()) {
                            // Dropped by hand and back afterwards: a rebuild all the same.
                            facts.rebuilds = Some(table.clone());
                        }
                        // The copy's CASE maps renamed enum values: they are not lost.
                        let copy = section.statements.iter().find(|s| {
                            s.starts_with(&["INSERT", "INTO"]) && s.table.as_deref() == Some(&table)
                        });
                        let copied = copy.map_or("", |s| s.sql.as_str());
                        facts.destroys = rebuild_losses(old, new, &renames, copied);
                    }
                    (Some(_), None) => {
                        let reason = format!("drops table {table} and all its rows");
                        facts.destroys.push(Loss::new(&table, None, reason));
                    }
                    _ => {}
                }
            } else if statement.starts_with(&["ALTER", "TABLE"])
                && statement.words.iter().any(|w| w == "DROP")
            {
                let dropped = before.table(&table).and_then(|old| {
                    old.columns.iter().find(|c| {
                        statement.sql.contains(&format!(
                            "DROP COLUMN {}",
                            crate::render::quote_ident(&c.name)
                        ))
                    })
                });
                if let Some(column) = dropped {
                    let reason = format!("drops data in {table}.{}", column.name);
                    facts
                        .destroys
                        .push(Loss::new(&table, Some(&column.name), reason));
                }
            } else if statement.starts_with(&["DELETE", "FROM"]) && table != "sqlite_sequence" {
                let reason = format!("deletes rows from {table}");
                facts.destroys.push(Loss::new(&table, None, reason));
            }
            facts
        })
        .collect()
}

/// What rebuilding `old` as `new` loses, in the planner's words: values of a type that does not
/// hold them all, enum values removed, columns left out.
fn rebuild_losses(old: &Table, new: &Table, renames: &Renames, copy: &str) -> Vec<Loss> {
    let old = crate::normalize_table(old);
    let new = crate::normalize_table(new);
    let name = &new.name;
    let renamed = |column: &str| {
        renames
            .columns
            .iter()
            .find(|(t, _, to)| t == name && to == column)
            .map_or(column.to_string(), |(_, from, _)| from.clone())
    };
    let mut losses = Vec::new();
    for column in &new.columns {
        let Some(old_column) = old.column(&renamed(&column.name)) else {
            continue;
        };
        let enum_change = EnumChange::between(&old_column.ty, &column.ty);
        let removed: Vec<String> = enum_change
            .as_ref()
            .map(|change| change.removed.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|v| crate::render::quote_string(v))
            .filter(|v| !copy.contains(&format!("WHEN {v} THEN")))
            .collect();
        if !removed.is_empty() {
            let reason = format!(
                "{name}.{} loses enum values {}: rows holding them are refused",
                column.name,
                removed.join(", ")
            );
            losses.push(Loss::new(name, Some(&column.name), reason));
        } else if enum_change.is_none() && !old_column.ty.converts_losslessly_to(&column.ty) {
            let reason = format!(
                "{name}.{} changes type from {} to {}",
                column.name,
                crate::plan::display_type(&old_column.ty),
                crate::plan::display_type(&column.ty)
            );
            losses.push(Loss::new(name, Some(&column.name), reason));
        }
    }
    for column in &old.columns {
        let kept = new.columns.iter().any(|c| renamed(&c.name) == column.name);
        if !kept {
            let reason = format!("drops data in {name}.{}", column.name);
            losses.push(Loss::new(name, Some(&column.name), reason));
        }
    }
    losses
}

/// A scratch in-memory database that migration files are replayed on for `lint` and `review`
/// ([`qvdiff_core::Replay`]). A database that could not be opened refuses every script.
pub struct ScratchDatabase {
    conn: Result<Connection, String>,
}

impl ScratchDatabase {
    /// An empty in-memory database.
    pub fn new() -> ScratchDatabase {
        ScratchDatabase {
            conn: replay(std::iter::empty()).map_err(|e| e.to_string()),
        }
    }
}

impl Default for ScratchDatabase {
    fn default() -> Self {
        ScratchDatabase::new()
    }
}

impl Replay for ScratchDatabase {
    fn apply(&mut self, revision: &str, sql: &str) -> Result<(), String> {
        let conn = self.conn.as_mut().map_err(|e| e.clone())?;
        apply_script(conn, revision, sql).map_err(|e| e.to_string())
    }

    fn analyze(&self, revision: &str, up: &str, down: &str) -> Option<Analysis> {
        let mut conn = schema_copy(self.conn.as_ref().ok()?).ok()?;
        let before = introspect(&conn).ok()?;
        let mut analysis = Analysis::starting_at(before.clone(), "SQLite");
        if let Err(e) = apply_script(&mut conn, revision, up) {
            analysis.failure = Some(failure(SectionKind::Up, e));
            return Some(analysis);
        }
        let after = introspect(&conn).ok()?;
        analysis.changes = diff(&before, &after, &renames(up));
        analysis.after = after;
        if let Err(e) = apply_script(&mut conn, revision, down) {
            analysis.failure = Some(failure(SectionKind::Down, e));
            return Some(analysis);
        }
        let back = introspect(&conn).ok()?;
        analysis.down_mismatch = down_mismatch(&comparable(&before), &comparable(&back));
        Some(analysis)
    }
}

/// A failed statement as lint reports it: section, statement, SQLite's message.
fn failure(kind: SectionKind, error: SqliteError) -> (SectionKind, String, String) {
    match error {
        SqliteError::Statement {
            statement, message, ..
        } => (kind, statement, message),
        other => (kind, String::new(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_lines_comments_and_tables() {
        let body = "ALTER TABLE \"items\" RENAME COLUMN \"notes\" TO \"description\";\n\
                    -- rebuild \"items\": \"price\" becomes NOT NULL\n\
                    CREATE TABLE \"_qvdiff_new_items\" (\n    \"id\" INTEGER\n);\n\
                    -- qvdiff:allow destructive \"unused\"\n\
                    DROP TABLE \"items\";  -- DESTRUCTIVE: drops data in items.url\n\
                    CREATE UNIQUE INDEX IF NOT EXISTS \"ix\" ON \"items\" (\"id\");\n\
                    -- the end\n";
        let s = section(body, 4);
        let lines: Vec<usize> = s.statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [5, 7, 11, 12]);
        let tables: Vec<Option<&str>> = s.statements.iter().map(|s| s.table.as_deref()).collect();
        assert_eq!(tables, [Some("items"); 4]);
        assert_eq!(
            s.statements[1].comments,
            [(
                6,
                "-- rebuild \"items\": \"price\" becomes NOT NULL".to_string()
            )]
        );
        assert_eq!(s.statements[2].comments[0].0, 10);
        assert_eq!(
            s.statements[2].trailing_comment.as_deref(),
            Some("-- DESTRUCTIVE: drops data in items.url")
        );
        assert!(s.statements[3].comments.is_empty());
        assert_eq!(s.tail_comments, [(13, "-- the end".to_string())]);
    }

    #[test]
    fn facts_come_from_the_sql_and_never_from_comments() {
        use qvdiff_core::{Column, ColumnType};
        let text = || ColumnType::Text { max_length: None };
        let before = Schema {
            tables: vec![Table::new(
                "items",
                vec![
                    Column::new("id", ColumnType::Integer { bits: 64 }),
                    Column::new("url", text()),
                    Column::new("price", ColumnType::Float),
                ],
            )],
            ..Schema::default()
        };
        let mut after = before.clone();
        after.tables[0].columns.truncate(1);
        after.tables[0]
            .columns
            .push(Column::new("price", ColumnType::Integer { bits: 64 }));
        // A generated rebuild, its comments lying about what it does.
        let generated = "-- rebuild \"other\": nothing\n\
                         CREATE TABLE \"_qvdiff_new_items\" (\"id\" INTEGER, \"price\" INTEGER);\n\
                         INSERT INTO \"_qvdiff_new_items\" (\"id\", \"price\") SELECT \"id\", \"price\" FROM \"items\";\n\
                         DROP TABLE \"items\";  -- DESTRUCTIVE: drops table other\n\
                         ALTER TABLE \"_qvdiff_new_items\" RENAME TO \"items\";\n";
        let facts = facts_of(&before, &after, generated);
        assert_eq!(facts.len(), 4);
        assert_eq!(facts[0].rebuilds.as_deref(), Some("items"));
        let lost: Vec<(&str, Option<&str>)> = facts[2]
            .destroys
            .iter()
            .map(|l| (l.table.as_str(), l.column.as_deref()))
            .collect();
        assert_eq!(lost, [("items", Some("price")), ("items", Some("url"))]);
        assert!(facts[2].rebuilds.is_none() && facts[3] == StepFacts::default());
        // A hand-written rebuild: the table dropped is back afterwards.
        let by_hand = "CREATE TABLE \"tmp\" (\"id\" INTEGER, \"price\" INTEGER);\n\
                       DROP TABLE items;\n\
                       ALTER TABLE \"tmp\" RENAME TO \"items\";\n";
        let facts = facts_of(&before, &after, by_hand);
        assert_eq!(facts[1].rebuilds.as_deref(), Some("items"));
        assert_eq!(facts[1].destroys.len(), 2);
        // Gone for good: the rows are lost; a DELETE loses rows too.
        let dropped = "-- rebuild \"items\": x\nDROP TABLE \"items\";\nDELETE FROM \"items\";\n";
        let facts = facts_of(&before, &Schema::default(), dropped);
        assert!(facts[0].rebuilds.is_none());
        assert_eq!(
            facts[0].destroys[0].reason,
            "drops table items and all its rows"
        );
        assert_eq!(facts[1].destroys[0].reason, "deletes rows from items");
        // Nothing dropped, nothing rebuilt, whatever a comment says.
        let created = "-- rebuild \"items\": x\nCREATE TABLE \"items2\" (\"id\" INTEGER);\n";
        assert_eq!(facts_of(&before, &after, created), [StepFacts::default()]);
    }

    #[test]
    fn renames_are_read_from_alter_statements() {
        let sql = "ALTER TABLE users RENAME TO \"customers\";\n\
                   ALTER TABLE \"users\" RENAME \"mail\" TO \"email\";\n\
                   ALTER TABLE \"_qvdiff_new_x\" RENAME TO \"x\";\n";
        let r = renames(sql);
        assert_eq!(r.tables, [("users".to_string(), "customers".to_string())]);
        assert_eq!(
            r.columns,
            [(
                "customers".to_string(),
                "mail".to_string(),
                "email".to_string()
            )]
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement() {
        let body = "CREATE TRIGGER t AFTER INSERT ON items BEGIN UPDATE items SET a = 1; END;\nDELETE FROM items;\n";
        let s = section(body, 1);
        assert_eq!(s.statements.len(), 2);
        assert_eq!(s.statements[1].line, 3);
        assert_eq!(s.statements[1].table.as_deref(), Some("items"));
    }
}
