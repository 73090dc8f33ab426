//! The schema that PostgreSQL migration files produce, computed from their text alone.
//!
//! SQLite migrations are replayed into an in-memory database; PostgreSQL has no in-process
//! server, so `qvdiff migrate` on a laptop (and the offline proof of every generated migration)
//! interprets the DDL instead. The interpreter understands exactly the statements qvdiff's own
//! planner writes — and their usual hand-written spellings (any case, unquoted names,
//! `IF [NOT] EXISTS`, `CASCADE`, unnamed constraints) — and applies them to a replay of the
//! catalog the way the server would, so that [`SchemaReplay::schema`] equals what
//! [`crate::introspect::introspect`] reads from a server that ran the same SQL.
//!
//! What is modelled, as the server does it:
//!
//! - `CREATE TABLE` (columns with type, identity or `serial`, `NOT NULL`, `DEFAULT`, inline and
//!   table constraints), `CREATE [UNIQUE] INDEX`, `DROP TABLE|INDEX` (with `CASCADE` dropping the
//!   foreign keys that depend on what is dropped), every `ALTER TABLE` action of the planner
//!   (`RENAME TO|COLUMN|CONSTRAINT`, `ADD|DROP COLUMN`, `ALTER COLUMN … TYPE|SET|DROP NOT
//!   NULL|SET|DROP DEFAULT|ADD|DROP IDENTITY`, `ADD|DROP|VALIDATE CONSTRAINT`, `ADD … USING
//!   INDEX`) and `ALTER INDEX … RENAME TO`.
//! - Constraint names, also the ones the server chooses for an unnamed constraint or index
//!   (`t_a_key`, `t_pkey1`, …), and name clashes between relations and between constraints.
//! - Dependencies: a dropped column takes its indexes and constraints with it, a renamed column
//!   or table is renamed in every key and index that names it (foreign keys of other tables
//!   included) and in CHECK expressions, and a foreign key needs `CASCADE` to lose the unique
//!   index, column or table it references.
//! - `COMMENT ON TABLE|COLUMN` (the comments a Schema holds).
//! - Data statements (`INSERT`, `UPDATE`, `DELETE`, `SELECT`, `COPY`, `WITH`, `TRUNCATE`, …),
//!   other `COMMENT ON`, `SET` (not `search_path`), `GRANT`/`REVOKE`, `ANALYZE`, `LOCK` and
//!   `BEGIN`/`COMMIT` change nothing here. Statements on the ledger table are skipped.
//!
//! - qvdiff's own sync trigger functions and triggers and its batched backfill (`migrate
//!   --online`, see `sync`): tracked beside the tables, never part of [`SchemaReplay::schema`].
//! - A view over every column of one table (`CREATE VIEW old AS SELECT * FROM new`, a renamed
//!   table's old name under expand / contract, see `views`) and `DROP VIEW`: a relation with
//!   the dependencies the server gives it, in [`Schema::views`] (which comparisons leave out).
//!
//! Anything else (other views, other functions and triggers, other `DO` blocks, `ALTER … OWNER`, other
//! schemas, expression indexes, generated columns, …) is refused with a [`ReplayError`] naming the
//! statement and its line: qvdiff cannot know what it does without a server.
//!
//! A CHECK expression and a raw SQL default are kept as written. The server prints back its own
//! parse of them (`price > 0` on a `numeric` column reads back as `price > 0::numeric`), so the
//! two agree when the text is written the way the server prints it, which is the planner's
//! business (see the introspection module).

mod apply;
mod catalog;
mod enums;
mod expr;
mod facts;
pub(crate) use expr::rename_in_expression;
pub use expr::unusable_defaults;
pub(crate) mod naming;
pub use facts::facts_of;
mod parse;
mod predicate;
mod sync;
mod views;
pub use views::{create_table_view_sql, drop_table_view_sql, table_view_object};
#[cfg(test)]
mod tests;

use crate::render::{check_name, foreign_key_name, primary_key_name, render_default, unique_name};
use crate::sqltext;
use catalog::{ColumnState, Constraint, ConstraintKind, FkState, IndexState, TableState};
use naming::make_object_name;
use qvdiff_core::runner::LEDGER_TABLE;
use qvdiff_core::{ColumnType, Schema};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub use predicate::canonical_predicate;
pub(crate) use predicate::predicate_after_renames;

/// Applies one migration section's statements, in order, to `schema`.
///
/// `schema` is taken as the server would hold it with qvdiff's names for its constraints
/// ([`primary_key_name`], [`unique_name`], [`foreign_key_name`]); migration hints in it are
/// dropped. On success `schema` is the normalized result; on error it is left unchanged.
/// To keep the exact constraint names across several sections, use [`SchemaReplay`].
pub fn apply_sql(schema: &mut Schema, sql: &str) -> Result<(), ReplayError> {
    let mut replay = SchemaReplay::from_schema(schema);
    replay.apply(sql)?;
    let mut result = replay.schema();
    // The views the replay does not model, and triggers, are kept as they were.
    result.views.extend(
        schema
            .views
            .drain(..)
            .filter(|v| !views::is_table_view_object(v)),
    );
    result.views.sort();
    result.triggers = std::mem::take(&mut schema.triggers);
    *schema = result;
    Ok(())
}

/// The schema a chain of migrations produces from an empty database: `(revision, up sql)` in
/// order. An error names the revision it happened in.
pub fn replay_chain<'a>(
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Schema, ReplayError> {
    SchemaReplay::from_chain(scripts).map(|replay| replay.schema())
}

/// Whether a [`ReplayError`] is about SQL the replay does not understand, or about SQL the server
/// would reject too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayErrorKind {
    /// A statement qvdiff cannot replay without a server (a view, a function, `OWNER TO`, …).
    Unsupported,
    /// A statement that would fail on the server as well (a missing table, a duplicate name, …).
    Invalid,
}

/// A statement of a migration that could not be modelled.
///
/// Displayed as ``revision R: line N: cannot model `STATEMENT` without a server: WHY`` followed
/// by a hint line, or ``revision R: line N: `STATEMENT` would fail: WHY`` (without
/// `revision R: ` when the revision is not known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayError {
    /// The revision whose section holds the statement, when known.
    pub revision: Option<String>,
    /// The statement, whitespace collapsed and shortened for a one-line message.
    pub statement: String,
    /// 1-based line of the statement's first word in its section.
    pub line: usize,
    /// Why it cannot be modelled.
    pub message: String,
    /// Unsupported, or invalid.
    pub kind: ReplayErrorKind,
}

impl ReplayError {
    /// What the user can do about it (for [`ReplayErrorKind::Unsupported`]); also part of the
    /// Display.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ReplayErrorKind::Unsupported => Some(
                "qvdiff models only the DDL it writes itself plus data statements (INSERT, \
                 UPDATE, DELETE, SELECT, COPY, COMMENT ON, …); a migration with other \
                 hand-written DDL needs a PostgreSQL server: run qvdiff with --db",
            ),
            ReplayErrorKind::Invalid => None,
        }
    }
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(revision) = &self.revision {
            write!(f, "revision {revision}: ")?;
        }
        match self.kind {
            ReplayErrorKind::Unsupported => write!(
                f,
                "line {}: cannot model `{}` without a server: {}",
                self.line, self.statement, self.message
            )?,
            ReplayErrorKind::Invalid => write!(
                f,
                "line {}: `{}` would fail: {}",
                self.line, self.statement, self.message
            )?,
        }
        if let Some(hint) = self.hint() {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ReplayError {}

/// The catalog as the interpreter keeps it: a [`Schema`] plus what the server knows and a
/// Schema does not hold (every constraint's name, which unique index a foreign key relies on,
/// identity sequences, creation order). Clone it to try a section and keep the state before.
#[derive(Debug, Clone, Default)]
pub struct SchemaReplay {
    tables: BTreeMap<String, TableState>,
    /// Creation counter: the server picks the oldest matching unique index for a foreign key.
    next_oid: u64,
    /// Lookups that would otherwise scan every table (a chain creating n tables would be
    /// O(n²)). They may hold stale entries, checked against the tables on use, and never miss
    /// one: [`SchemaReplay::register`] runs after every change that names something.
    /// Index, key constraint or sequence name → the table holding it.
    relation_owner: HashMap<String, String>,
    /// Constraint name → the tables holding one of that name.
    constraint_owners: HashMap<String, BTreeSet<String>>,
    /// Referenced table → the tables that may hold a foreign key to it.
    referenced_by: HashMap<String, BTreeSet<String>>,
    /// Enum types (`CREATE TYPE … AS ENUM`): name → values in their sort order. A column of one
    /// holds `ColumnType::Enum` with no values; [`SchemaReplay::schema`] fills them in.
    enums: BTreeMap<String, Vec<String>>,
    /// qvdiff's sync trigger functions (`migrate --online`), by name.
    sync_functions: BTreeSet<String>,
    /// qvdiff's sync triggers: (table, trigger) → the function it runs.
    sync_triggers: BTreeMap<(String, String), String>,
    /// Views over every column of one table (a renamed table's old name), by name.
    table_views: BTreeMap<String, views::TableView>,
}

#[derive(Debug)]
enum Fail {
    Unsupported(String),
    Invalid(String),
}

type Step<T = ()> = Result<T, Fail>;

fn unsupported<T>(message: impl Into<String>) -> Step<T> {
    Err(Fail::Unsupported(message.into()))
}

fn invalid<T>(message: impl Into<String>) -> Step<T> {
    Err(Fail::Invalid(message.into()))
}

impl SchemaReplay {
    /// An empty database.
    pub fn new() -> SchemaReplay {
        SchemaReplay::default()
    }

    /// The replay of a database holding `schema`, with qvdiff's names for its constraints and
    /// identity sequences. Hints, views and triggers are not part of it.
    pub fn from_schema(schema: &Schema) -> SchemaReplay {
        let mut replay = SchemaReplay::new();
        for table in &schema.tables {
            for column in &table.columns {
                if let ColumnType::Enum { name, values, .. } = &column.ty {
                    replay.enums.insert(name.clone(), values.clone());
                }
            }
            let mut state = TableState {
                name: table.name.clone(),
                columns: table
                    .columns
                    .iter()
                    .map(|c| ColumnState {
                        name: c.name.clone(),
                        ty: enums::enum_reference(&c.ty),
                        not_null: !c.nullable || c.autoincrement,
                        default: c.default.as_ref().map(render_default),
                        identity: c.autoincrement,
                        sequence: c
                            .autoincrement
                            .then(|| make_object_name(&table.name, Some(&c.name), "seq")),
                        comment: c.comment.clone(),
                    })
                    .collect(),
                constraints: Vec::new(),
                indexes: Vec::new(),
                comment: table.comment.clone(),
            };
            let mut add = |state: &mut TableState, name: String, kind: ConstraintKind| {
                replay.next_oid += 1;
                state.constraints.push(Constraint {
                    name,
                    oid: replay.next_oid,
                    kind,
                });
            };
            if !table.primary_key.is_empty() {
                let kind = ConstraintKind::PrimaryKey(table.primary_key.clone());
                add(&mut state, primary_key_name(&table.name), kind);
            }
            for unique in &table.uniques {
                let kind = ConstraintKind::Unique(unique.columns.clone());
                add(&mut state, unique_name(&table.name, unique), kind);
            }
            for fk in &table.foreign_keys {
                let kind = ConstraintKind::ForeignKey(FkState {
                    columns: fk.columns.clone(),
                    ref_table: fk.ref_table.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    on_delete: fk.on_delete,
                    on_update: fk.on_update,
                    ref_index: None,
                });
                add(&mut state, foreign_key_name(&table.name, fk), kind);
            }
            for check in &table.checks {
                let kind = ConstraintKind::Check(check.expr.clone());
                add(&mut state, check_name(check), kind);
            }
            for index in &table.indexes {
                replay.next_oid += 1;
                state.indexes.push(IndexState {
                    name: index.name.clone(),
                    columns: index.columns.clone(),
                    unique: index.unique,
                    predicate: index.predicate.as_deref().map(canonical_predicate),
                    other_columns: index
                        .predicate
                        .as_deref()
                        .map(|p| expr::referenced_columns(p, &state.column_names()))
                        .unwrap_or_default(),
                    oid: replay.next_oid,
                });
            }
            replay.tables.insert(table.name.clone(), state);
            replay.register(&table.name);
        }
        // Which unique index each foreign key relies on, now that all tables are there.
        let mut resolved = Vec::new();
        for (table, state) in &replay.tables {
            for (i, constraint) in state.constraints.iter().enumerate() {
                if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                    let index = replay
                        .tables
                        .get(&fk.ref_table)
                        .and_then(|r| r.unique_index_for(&fk.ref_columns));
                    resolved.push((table.clone(), i, index));
                }
            }
        }
        for (table, i, index) in resolved {
            if let Some(ConstraintKind::ForeignKey(fk)) = replay
                .tables
                .get_mut(&table)
                .and_then(|t| t.constraints.get_mut(i))
                .map(|c| &mut c.kind)
            {
                fk.ref_index = index;
            }
        }
        replay.read_table_views(schema);
        replay
    }

    /// The replay after a chain of `(revision, up sql)` sections, from an empty database.
    pub fn from_chain<'a>(
        scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SchemaReplay, ReplayError> {
        let mut replay = SchemaReplay::new();
        for (revision, sql) in scripts {
            replay.apply(sql).map_err(|mut error| {
                error.revision = Some(revision.to_string());
                error
            })?;
        }
        Ok(replay)
    }

    /// Applies one section's statements in order. On error the replay holds the effect of the
    /// statements before the failing one (clone it first to keep the state before the section).
    pub fn apply(&mut self, sql: &str) -> Result<(), ReplayError> {
        let mut line = 1;
        let mut counted = 0;
        for statement in sqltext::split_statements(sql) {
            // Lines counted incrementally: a long section is read once, not once per statement.
            line += sql[counted..statement.start].matches('\n').count();
            counted = statement.start;
            let text = statement.text(sql);
            self.statement(text).map_err(|fail| {
                let (kind, message) = match fail {
                    Fail::Unsupported(m) => (ReplayErrorKind::Unsupported, m),
                    Fail::Invalid(m) => (ReplayErrorKind::Invalid, m),
                };
                ReplayError {
                    revision: None,
                    statement: qvdiff_core::sqltext::excerpt(text),
                    line,
                    message,
                    kind,
                }
            })?;
        }
        Ok(())
    }

    /// The schema as introspection of a server holding this catalog reads it: normalized, the
    /// ledger table left out.
    pub fn schema(&self) -> Schema {
        let tables = self
            .tables
            .values()
            .filter(|t| t.name != LEDGER_TABLE)
            .map(|state| {
                let mut table = state.to_table();
                for column in &mut table.columns {
                    if let ColumnType::Enum { name, values, .. } = &mut column.ty {
                        if let Some(known) = self.enums.get(name.as_str()) {
                            values.clone_from(known);
                        }
                    }
                }
                table
            })
            .collect();
        Schema {
            tables,
            views: self.table_view_objects(),
            ..Schema::default()
        }
        .normalized()
    }
}
