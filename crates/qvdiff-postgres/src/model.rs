//! The schema that PostgreSQL migration files produce, computed from their text alone.
//!
//! SQLite migrations are replayed into an in-memory database; PostgreSQL has no in-process
//! server, so `qvdiff migrate` on a laptop (and the offline proof of every generated migration)
//! interprets the DDL instead. The interpreter understands exactly the statements qvdiff's own
//! planner writes — and their usual hand-written spellings (any case, unquoted names,
//! `IF [NOT] EXISTS`, `CASCADE`, unnamed constraints) — and applies them to a model of the
//! catalog the way the server would, so that [`SchemaModel::schema`] equals what
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
//! - Data statements (`INSERT`, `UPDATE`, `DELETE`, `SELECT`, `COPY`, `WITH`, `TRUNCATE`, …),
//!   `COMMENT ON`, `SET` (not `search_path`), `GRANT`/`REVOKE`, `ANALYZE`, `LOCK` and
//!   `BEGIN`/`COMMIT` change nothing here. Statements on the ledger table are skipped.
//!
//! Anything else (views, functions, triggers, `DO` blocks, `ALTER … OWNER`, other schemas,
//! expression indexes, generated columns, …) is refused with a [`ModelError`] naming the
//! statement and its line: qvdiff cannot know what it does without a server.
//!
//! A CHECK expression and a raw SQL default are kept as written. The server prints back its own
//! parse of them (`price > 0` on a `numeric` column reads back as `price > 0::numeric`), so the
//! two agree when the text is written the way the server prints it, which is the planner's
//! business (see the introspection module).

use crate::render::{
    check_name, foreign_key_name, parse_default, parse_type, primary_key_name, quote_ident,
    render_default, unique_name, MAX_IDENTIFIER_BYTES,
};
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::runner::LEDGER_TABLE;
use qvdiff_core::{Check, Column, ColumnType, FkAction, ForeignKey, Index, Schema, Table, Unique};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// Applies one migration section's statements, in order, to `schema`.
///
/// `schema` is taken as the server would hold it with qvdiff's names for its constraints
/// ([`primary_key_name`], [`unique_name`], [`foreign_key_name`]); migration hints in it are
/// dropped. On success `schema` is the normalized result; on error it is left unchanged.
/// To keep the exact constraint names across several sections, use [`SchemaModel`].
pub fn apply_sql(schema: &mut Schema, sql: &str) -> Result<(), ModelError> {
    let mut model = SchemaModel::from_schema(schema);
    model.apply(sql)?;
    let mut result = model.schema();
    // Not modelled, so kept as they were.
    result.views = std::mem::take(&mut schema.views);
    result.triggers = std::mem::take(&mut schema.triggers);
    *schema = result;
    Ok(())
}

/// The schema a chain of migrations produces from an empty database: `(revision, up sql)` in
/// order. An error names the revision it happened in.
pub fn model_chain<'a>(
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Schema, ModelError> {
    SchemaModel::from_chain(scripts).map(|model| model.schema())
}

/// Whether a [`ModelError`] is about SQL the model does not understand, or about SQL the server
/// would reject too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelErrorKind {
    /// A statement qvdiff cannot model without a server (a view, a function, `OWNER TO`, …).
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
pub struct ModelError {
    /// The revision whose section holds the statement, when known.
    pub revision: Option<String>,
    /// The statement, whitespace collapsed and shortened for a one-line message.
    pub statement: String,
    /// 1-based line of the statement's first word in its section.
    pub line: usize,
    /// Why it cannot be modelled.
    pub message: String,
    /// Unsupported, or invalid.
    pub kind: ModelErrorKind,
}

impl ModelError {
    /// What the user can do about it (for [`ModelErrorKind::Unsupported`]); also part of the
    /// Display.
    pub fn hint(&self) -> Option<&'static str> {
        match self.kind {
            ModelErrorKind::Unsupported => Some(
                "qvdiff models only the DDL it writes itself plus data statements (INSERT, \
                 UPDATE, DELETE, SELECT, COPY, COMMENT ON, …); a migration with other \
                 hand-written DDL needs a PostgreSQL server: run qvdiff with --db",
            ),
            ModelErrorKind::Invalid => None,
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(revision) = &self.revision {
            write!(f, "revision {revision}: ")?;
        }
        match self.kind {
            ModelErrorKind::Unsupported => write!(
                f,
                "line {}: cannot model `{}` without a server: {}",
                self.line, self.statement, self.message
            )?,
            ModelErrorKind::Invalid => write!(
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

impl std::error::Error for ModelError {}

/// The catalog as the interpreter keeps it: a [`Schema`] plus what the server knows and a
/// Schema does not hold (every constraint's name, which unique index a foreign key relies on,
/// identity sequences, creation order). Clone it to try a section and keep the state before.
#[derive(Debug, Clone, Default)]
pub struct SchemaModel {
    tables: BTreeMap<String, TableState>,
    /// Creation counter: the server picks the oldest matching unique index for a foreign key.
    next_oid: u64,
    /// Lookups that would otherwise scan every table (a chain creating n tables would be
    /// O(n²)). They may hold stale entries, checked against the tables on use, and never miss
    /// one: [`SchemaModel::register`] runs after every change that names something.
    /// Index, key constraint or sequence name → the table holding it.
    relation_owner: HashMap<String, String>,
    /// Constraint name → the tables holding one of that name.
    constraint_owners: HashMap<String, BTreeSet<String>>,
    /// Referenced table → the tables that may hold a foreign key to it.
    referenced_by: HashMap<String, BTreeSet<String>>,
    /// Enum types (`CREATE TYPE … AS ENUM`): name → values in their sort order. A column of one
    /// holds `ColumnType::Enum` with no values; [`SchemaModel::schema`] fills them in.
    enums: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
struct TableState {
    name: String,
    columns: Vec<ColumnState>,
    constraints: Vec<Constraint>,
    indexes: Vec<IndexState>,
}

#[derive(Debug, Clone)]
struct ColumnState {
    name: String,
    ty: ColumnType,
    not_null: bool,
    /// The default expression as written.
    default: Option<String>,
    identity: bool,
    /// The sequence of an identity or `serial` column: a relation name, so it can clash.
    sequence: Option<String>,
}

#[derive(Debug, Clone)]
struct Constraint {
    name: String,
    oid: u64,
    kind: ConstraintKind,
}

#[derive(Debug, Clone)]
enum ConstraintKind {
    PrimaryKey(Vec<String>),
    Unique(Vec<String>),
    ForeignKey(FkState),
    Check(String),
}

#[derive(Debug, Clone)]
struct FkState {
    columns: Vec<String>,
    ref_table: String,
    ref_columns: Vec<String>,
    on_delete: FkAction,
    on_update: FkAction,
    /// The referenced table's unique index (or PK/unique constraint) the key depends on.
    ref_index: Option<String>,
}

#[derive(Debug, Clone)]
struct IndexState {
    name: String,
    columns: Vec<String>,
    unique: bool,
    /// Has a `WHERE`: cannot back a foreign key.
    partial: bool,
    /// Other columns it depends on (`INCLUDE`, the predicate): dropping one drops the index.
    other_columns: Vec<String>,
    oid: u64,
}

/// Why a statement failed, before line and revision are known.
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

impl SchemaModel {
    /// An empty database.
    pub fn new() -> SchemaModel {
        SchemaModel::default()
    }

    /// The model of a database holding `schema`, with qvdiff's names for its constraints and
    /// identity sequences. Hints, views and triggers are not part of it.
    pub fn from_schema(schema: &Schema) -> SchemaModel {
        let mut model = SchemaModel::new();
        for table in &schema.tables {
            for column in &table.columns {
                if let ColumnType::Enum { name, values, .. } = &column.ty {
                    model.enums.insert(name.clone(), values.clone());
                }
            }
            let mut state = TableState {
                name: table.name.clone(),
                columns: table
                    .columns
                    .iter()
                    .map(|c| ColumnState {
                        name: c.name.clone(),
                        ty: enum_reference(&c.ty),
                        not_null: !c.nullable || c.autoincrement,
                        default: c.default.as_ref().map(render_default),
                        identity: c.autoincrement,
                        sequence: c
                            .autoincrement
                            .then(|| make_object_name(&table.name, Some(&c.name), "seq")),
                    })
                    .collect(),
                constraints: Vec::new(),
                indexes: Vec::new(),
            };
            let mut add = |state: &mut TableState, name: String, kind: ConstraintKind| {
                model.next_oid += 1;
                state.constraints.push(Constraint {
                    name,
                    oid: model.next_oid,
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
                model.next_oid += 1;
                state.indexes.push(IndexState {
                    name: index.name.clone(),
                    columns: index.columns.clone(),
                    unique: index.unique,
                    partial: false,
                    other_columns: Vec::new(),
                    oid: model.next_oid,
                });
            }
            model.tables.insert(table.name.clone(), state);
            model.register(&table.name);
        }
        // Which unique index each foreign key relies on, now that all tables are there.
        let mut resolved = Vec::new();
        for (table, state) in &model.tables {
            for (i, constraint) in state.constraints.iter().enumerate() {
                if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                    let index = model
                        .tables
                        .get(&fk.ref_table)
                        .and_then(|r| r.unique_index_for(&fk.ref_columns));
                    resolved.push((table.clone(), i, index));
                }
            }
        }
        for (table, i, index) in resolved {
            if let Some(ConstraintKind::ForeignKey(fk)) = model
                .tables
                .get_mut(&table)
                .and_then(|t| t.constraints.get_mut(i))
                .map(|c| &mut c.kind)
            {
                fk.ref_index = index;
            }
        }
        model
    }

    /// The model after a chain of `(revision, up sql)` sections, from an empty database.
    pub fn from_chain<'a>(
        scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<SchemaModel, ModelError> {
        let mut model = SchemaModel::new();
        for (revision, sql) in scripts {
            model.apply(sql).map_err(|mut error| {
                error.revision = Some(revision.to_string());
                error
            })?;
        }
        Ok(model)
    }

    /// Applies one section's statements in order. On error the model holds the effect of the
    /// statements before the failing one (clone it first to keep the state before the section).
    pub fn apply(&mut self, sql: &str) -> Result<(), ModelError> {
        let mut line = 1;
        let mut counted = 0;
        for statement in sqltext::split_statements(sql) {
            // Lines counted incrementally: a long section is read once, not once per statement.
            line += sql[counted..statement.start].matches('\n').count();
            counted = statement.start;
            let text = statement.text(sql);
            self.statement(text).map_err(|fail| {
                let (kind, message) = match fail {
                    Fail::Unsupported(m) => (ModelErrorKind::Unsupported, m),
                    Fail::Invalid(m) => (ModelErrorKind::Invalid, m),
                };
                ModelError {
                    revision: None,
                    statement: sqltext::excerpt(text),
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
            ..Schema::default()
        }
        .normalized()
    }

    // ----- one statement -----

    fn statement(&mut self, sql: &str) -> Step {
        let mut p = Parser::new(sql);
        let Some(first) = p.peek_keyword() else {
            return unsupported("not a statement qvdiff writes");
        };
        match first.as_str() {
            // `SELECT … INTO t` creates a table.
            "SELECT" if p.has_top_level_word("INTO") => {
                unsupported("SELECT … INTO creates a table qvdiff cannot know the columns of")
            }
            // Data, and statements that change nothing a Schema holds.
            "INSERT" | "UPDATE" | "DELETE" | "SELECT" | "COPY" | "WITH" | "VALUES" | "TRUNCATE"
            | "MERGE" | "COMMENT" | "ANALYZE" | "ANALYSE" | "VACUUM" | "LOCK" | "GRANT"
            | "REVOKE" | "NOTIFY" | "REINDEX" | "BEGIN" | "COMMIT" | "END" | "START"
            | "SAVEPOINT" | "RELEASE" | "RESET" => Ok(()),
            "SET" => {
                // Only `search_path` changes where unqualified names go.
                let words = p.remaining_words();
                if words
                    .iter()
                    .any(|w| matches!(w.as_str(), "SEARCH_PATH" | "SCHEMA"))
                {
                    unsupported("changing search_path moves where tables are created")
                } else {
                    Ok(())
                }
            }
            "CREATE" => {
                p.advance();
                self.create(&mut p)
            }
            "DROP" => {
                p.advance();
                self.drop(&mut p)
            }
            "ALTER" => {
                p.advance();
                self.alter(&mut p)
            }
            _ => unsupported(format!("{first} is not a statement qvdiff writes")),
        }
    }

    fn create(&mut self, p: &mut Parser) -> Step {
        if p.eat("TABLE") {
            return self.create_table(p);
        }
        if p.eat("TYPE") {
            return self.create_enum(p);
        }
        let unique = p.eat("UNIQUE");
        if p.eat("INDEX") {
            return self.create_index(p, unique);
        }
        let what = p.remaining_words().into_iter().take(2).collect::<Vec<_>>();
        unsupported(format!(
            "CREATE {} is not a statement qvdiff writes",
            what.join(" ")
        ))
    }

    fn drop(&mut self, p: &mut Parser) -> Step {
        if p.eat("TABLE") {
            return self.drop_tables(p);
        }
        if p.eat("INDEX") {
            return self.drop_indexes(p);
        }
        if p.eat("TYPE") {
            return self.drop_enums(p);
        }
        let what = p.peek_keyword().unwrap_or_default();
        unsupported(format!("DROP {what} is not a statement qvdiff writes"))
    }

    fn alter(&mut self, p: &mut Parser) -> Step {
        if p.eat("TABLE") {
            return self.alter_table(p);
        }
        if p.eat("INDEX") {
            return self.alter_index(p);
        }
        if p.eat("TYPE") {
            return self.alter_enum(p);
        }
        let what = p.peek_keyword().unwrap_or_default();
        unsupported(format!("ALTER {what} is not a statement qvdiff writes"))
    }

    // ----- enum types -----

    /// `CREATE TYPE name AS ENUM ('a', …)`.
    fn create_enum(&mut self, p: &mut Parser) -> Step {
        let name = p.table_name()?;
        p.expect("AS")?;
        if !p.eat("ENUM") {
            return unsupported("only enum types (`AS ENUM`) are modelled");
        }
        if !p.eat_punct("(") {
            return unsupported(format!("expected `(` at `{}`", p.rest_text()));
        }
        let mut values = Vec::new();
        if !p.eat_punct(")") {
            loop {
                let value = p.string_literal()?;
                if values.contains(&value) {
                    return invalid(format!("enum label \"{value}\" used more than once"));
                }
                values.push(value);
                if p.eat_punct(")") {
                    break;
                }
                if !p.eat_punct(",") {
                    return unsupported(format!("expected `,` or `)` at `{}`", p.rest_text()));
                }
            }
        }
        p.expect_end()?;
        if self.enums.contains_key(&name) || self.tables.contains_key(&name) {
            return invalid(format!("type {} already exists", quote_ident(&name)));
        }
        self.enums.insert(name, values);
        Ok(())
    }

    /// `ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'v' [BEFORE | AFTER 'w']`,
    /// `… RENAME VALUE 'a' TO 'b'` and `… RENAME TO new`.
    fn alter_enum(&mut self, p: &mut Parser) -> Step {
        let name = p.table_name()?;
        let Some(values) = self.enums.get(&name).cloned() else {
            return invalid(format!("type {} does not exist", quote_ident(&name)));
        };
        let missing = |value: &str| invalid(format!("\"{value}\" is not an existing enum label"));
        let mut values = values;
        if p.eat_all(&["ADD", "VALUE"]) {
            let if_not_exists = p.eat_all(&["IF", "NOT", "EXISTS"]);
            let value = p.string_literal()?;
            let at = if p.eat("BEFORE") {
                let other = p.string_literal()?;
                match values.iter().position(|v| *v == other) {
                    Some(at) => at,
                    None => return missing(&other),
                }
            } else if p.eat("AFTER") {
                let other = p.string_literal()?;
                match values.iter().position(|v| *v == other) {
                    Some(at) => at + 1,
                    None => return missing(&other),
                }
            } else {
                values.len()
            };
            p.expect_end()?;
            if values.contains(&value) {
                return if if_not_exists {
                    Ok(())
                } else {
                    invalid(format!("enum label \"{value}\" already exists"))
                };
            }
            values.insert(at, value);
        } else if p.eat_all(&["RENAME", "VALUE"]) {
            let old = p.string_literal()?;
            p.expect("TO")?;
            let new = p.string_literal()?;
            p.expect_end()?;
            if values.contains(&new) {
                return invalid(format!("enum label \"{new}\" already exists"));
            }
            match values.iter_mut().find(|v| **v == old) {
                Some(value) => *value = new,
                None => return missing(&old),
            }
        } else if p.eat_all(&["RENAME", "TO"]) {
            let new = p.ident()?;
            p.expect_end()?;
            if self.enums.contains_key(&new) || self.tables.contains_key(&new) {
                return invalid(format!("type {} already exists", quote_ident(&new)));
            }
            self.enums.remove(&name);
            self.enums.insert(new.clone(), values);
            for table in self.tables.values_mut() {
                for column in &mut table.columns {
                    if matches!(&column.ty, ColumnType::Enum { name: n, .. } if *n == name) {
                        column.ty = enum_reference_named(&new);
                    }
                }
            }
            return Ok(());
        } else {
            return unsupported(format!(
                "ALTER TYPE … {} is not a statement qvdiff writes",
                p.rest_text()
            ));
        }
        self.enums.insert(name, values);
        Ok(())
    }

    /// `DROP TYPE [IF EXISTS] name [, …] [RESTRICT]`: refused while a column uses it.
    fn drop_enums(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let names = p.name_list()?;
        if p.drop_behavior()? {
            return unsupported("DROP TYPE … CASCADE drops columns qvdiff cannot name");
        }
        p.expect_end()?;
        for name in &names {
            if !self.enums.contains_key(name) {
                if if_exists {
                    continue;
                }
                return invalid(format!("type {} does not exist", quote_ident(name)));
            }
            let used = self.tables.values().find(|t| {
                t.columns
                    .iter()
                    .any(|c| matches!(&c.ty, ColumnType::Enum { name: n, .. } if n == name))
            });
            if let Some(table) = used {
                return invalid(format!(
                    "cannot drop type {} because column(s) of table {} depend on it",
                    quote_ident(name),
                    quote_ident(&table.name)
                ));
            }
        }
        for name in names {
            self.enums.remove(&name);
        }
        Ok(())
    }

    /// The logical type of a column's type text: an enum type of this catalog, or what
    /// [`parse_type`] reads.
    fn column_type(&self, type_text: &str) -> ColumnType {
        let trimmed = type_text.trim();
        let name = if trimmed.starts_with('"') {
            unquote_identifier(trimmed)
        } else {
            let bare = trimmed.strip_prefix("public.").unwrap_or(trimmed);
            fold_identifier(bare)
        };
        if self.enums.contains_key(&name) {
            return enum_reference_named(&name);
        }
        parse_type(type_text)
    }

    // ----- CREATE TABLE -----

    fn create_table(&mut self, p: &mut Parser) -> Step {
        let if_not_exists = p.eat_all(&["IF", "NOT", "EXISTS"]);
        let name = p.table_name()?;
        if name == LEDGER_TABLE {
            return Ok(());
        }
        if p.at("AS") || p.at("OF") || p.at("PARTITION") {
            return unsupported("only CREATE TABLE with a column list is modelled");
        }
        if !p.eat_punct("(") {
            return unsupported("expected `(` and the column list after the table name");
        }
        let mut columns: Vec<ColumnDef> = Vec::new();
        let mut constraints: Vec<NewConstraint> = Vec::new();
        if !p.eat_punct(")") {
            loop {
                if is_table_constraint_start(p) {
                    constraints.push(parse_table_constraint(p)?);
                } else if p.at("LIKE") || p.at("EXCLUDE") {
                    return unsupported("LIKE and EXCLUDE are not modelled");
                } else {
                    let column = parse_column_def(p)?;
                    if columns.iter().any(|c| c.name == column.name) {
                        return invalid(format!(
                            "column {} specified more than once",
                            quote_ident(&column.name)
                        ));
                    }
                    columns.push(column);
                }
                if p.eat_punct(",") {
                    continue;
                }
                if p.eat_punct(")") {
                    break;
                }
                return unsupported(format!("unexpected `{}` in the column list", p.peek_text()));
            }
        }
        if !p.at_end() {
            return unsupported(format!(
                "table options (`{}`) are not modelled",
                p.rest_text()
            ));
        }
        if self.relation_exists(&name) {
            return if if_not_exists {
                Ok(())
            } else {
                invalid(format!("relation {} already exists", quote_ident(&name)))
            };
        }
        self.tables.insert(
            name.clone(),
            TableState {
                name: name.clone(),
                columns: Vec::new(),
                constraints: Vec::new(),
                indexes: Vec::new(),
            },
        );
        let mut pending = Vec::new();
        for column in columns {
            pending.extend(self.add_column(&name, column)?);
        }
        pending.extend(constraints);
        self.add_constraints(&name, pending)
    }

    /// Adds a column (with its identity sequence) and returns its inline constraints, to be added
    /// once every column of the statement exists.
    fn add_column(&mut self, table: &str, def: ColumnDef) -> Step<Vec<NewConstraint>> {
        let mut ty = self.column_type(&def.type_text);
        let mut default = def.default;
        let mut sequence = None;
        let mut not_null = def.not_null || def.identity;
        if let Some(bits) = serial_bits(&def.type_text) {
            // `serial` is an integer with a sequence of its own as default.
            ty = ColumnType::Integer { bits };
            let name = self.choose_relation_name(table, Some(&def.name), "seq");
            default = Some(format!("nextval('{}'::regclass)", display_ident(&name)));
            sequence = Some(name);
            not_null = true;
        }
        if def.identity {
            if default.is_some() {
                return invalid(format!(
                    "both default and identity specified for column {}",
                    quote_ident(&def.name)
                ));
            }
            if !matches!(ty, ColumnType::Integer { .. }) {
                return invalid(format!(
                    "identity column type must be smallint, integer, or bigint (column {})",
                    quote_ident(&def.name)
                ));
            }
            sequence = Some(self.choose_relation_name(table, Some(&def.name), "seq"));
        }
        let column = ColumnState {
            name: def.name,
            ty,
            not_null,
            default: default.filter(|d| !is_null_literal(d)),
            identity: def.identity,
            sequence,
        };
        self.table_mut(table)?.columns.push(column);
        self.register(table);
        Ok(def.constraints)
    }

    // ----- constraints -----

    fn add_constraints(&mut self, table: &str, constraints: Vec<NewConstraint>) -> Step {
        // The server creates the indexes of PRIMARY KEY and UNIQUE first, then the foreign keys
        // (which may reference them, in the same table) and the checks.
        let (keys, others): (Vec<_>, Vec<_>) = constraints.into_iter().partition(|c| {
            matches!(
                c.kind,
                NewKind::PrimaryKey(_) | NewKind::Unique(_) | NewKind::UsingIndex { .. }
            )
        });
        for constraint in keys.into_iter().chain(others) {
            self.add_constraint(table, constraint)?;
        }
        Ok(())
    }

    fn add_constraint(&mut self, table: &str, constraint: NewConstraint) -> Step {
        let state = self.table(table)?;
        let kind = match constraint.kind {
            NewKind::PrimaryKey(columns) => {
                state.require_columns(&columns)?;
                if state.primary_key().is_some() {
                    return invalid(format!(
                        "multiple primary keys for table {} are not allowed",
                        quote_ident(table)
                    ));
                }
                ConstraintKind::PrimaryKey(columns)
            }
            NewKind::Unique(columns) => {
                state.require_columns(&columns)?;
                ConstraintKind::Unique(columns)
            }
            NewKind::UsingIndex { primary, index } => {
                let Some(found) = state.indexes.iter().find(|i| i.name == index) else {
                    return invalid(format!(
                        "index {} does not exist on table {}",
                        quote_ident(&index),
                        quote_ident(table)
                    ));
                };
                if !found.unique || found.partial {
                    return invalid(format!(
                        "index {} is not a plain unique index",
                        quote_ident(&index)
                    ));
                }
                if primary && state.primary_key().is_some() {
                    return invalid(format!(
                        "multiple primary keys for table {} are not allowed",
                        quote_ident(table)
                    ));
                }
                let columns = found.columns.clone();
                // The index becomes the constraint's and takes its name.
                let name = constraint.name.unwrap_or_else(|| index.clone());
                if name != index && self.relation_exists(&name) {
                    return invalid(format!("relation {} already exists", quote_ident(&name)));
                }
                let state = self.table_mut(table)?;
                state.indexes.retain(|i| i.name != index);
                let kind = if primary {
                    ConstraintKind::PrimaryKey(columns)
                } else {
                    ConstraintKind::Unique(columns)
                };
                self.rename_relation_references(table, &index, &name);
                return self.push_constraint(table, name, kind);
            }
            NewKind::ForeignKey(fk) => {
                state.require_columns(&fk.columns)?;
                let Some(referenced) = self.tables.get(&fk.ref_table) else {
                    return invalid(format!(
                        "relation {} does not exist",
                        quote_ident(&fk.ref_table)
                    ));
                };
                let ref_columns = match fk.ref_columns {
                    Some(columns) => {
                        referenced.require_columns(&columns)?;
                        columns
                    }
                    None => match referenced.primary_key() {
                        Some(columns) => columns.to_vec(),
                        None => {
                            return invalid(format!(
                                "there is no primary key for referenced table {}",
                                quote_ident(&fk.ref_table)
                            ))
                        }
                    },
                };
                if ref_columns.len() != fk.columns.len() {
                    return invalid(
                        "number of referencing and referenced columns for foreign key disagree",
                    );
                }
                let Some(ref_index) = referenced.unique_index_for(&ref_columns) else {
                    return invalid(format!(
                        "there is no unique constraint matching given keys for referenced \
                         table {}",
                        quote_ident(&fk.ref_table)
                    ));
                };
                ConstraintKind::ForeignKey(FkState {
                    columns: fk.columns,
                    ref_table: fk.ref_table,
                    ref_columns,
                    on_delete: fk.on_delete,
                    on_update: fk.on_update,
                    ref_index: Some(ref_index),
                })
            }
            NewKind::Check(expr) => {
                if expr.trim().is_empty() {
                    return unsupported("an empty CHECK is not modelled");
                }
                ConstraintKind::Check(expr)
            }
        };
        let name = match constraint.name {
            Some(name) => name,
            None => self.default_constraint_name(table, &kind)?,
        };
        let index_backed = matches!(
            kind,
            ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
        );
        if index_backed && self.relation_exists(&name) {
            return invalid(format!("relation {} already exists", quote_ident(&name)));
        }
        if let ConstraintKind::PrimaryKey(columns) = &kind {
            // A primary key makes its columns NOT NULL, and they stay so when it is dropped.
            let state = self.table_mut(table)?;
            for column in &mut state.columns {
                if columns.contains(&column.name) {
                    column.not_null = true;
                }
            }
        }
        self.push_constraint(table, name, kind)
    }

    fn push_constraint(&mut self, table: &str, name: String, kind: ConstraintKind) -> Step {
        self.next_oid += 1;
        let oid = self.next_oid;
        let state = self.table_mut(table)?;
        if state.constraints.iter().any(|c| c.name == name) {
            return invalid(format!(
                "constraint {} for relation {} already exists",
                quote_ident(&name),
                quote_ident(table)
            ));
        }
        state.constraints.push(Constraint { name, oid, kind });
        self.register(table);
        Ok(())
    }

    /// The name the server gives an unnamed constraint.
    fn default_constraint_name(&self, table: &str, kind: &ConstraintKind) -> Step<String> {
        let name = match kind {
            ConstraintKind::PrimaryKey(_) => self.choose_relation_name(table, None, "pkey"),
            ConstraintKind::Unique(columns) => {
                self.choose_relation_name(table, Some(&name_addition(columns)), "key")
            }
            ConstraintKind::ForeignKey(fk) => {
                self.choose_constraint_name(table, Some(&name_addition(&fk.columns)), "fkey")
            }
            ConstraintKind::Check(expr) => {
                // Named after the first column the expression uses, as the server does.
                let state = self.table(table)?;
                let column = referenced_columns(expr, &state.column_names())
                    .into_iter()
                    .next();
                self.choose_constraint_name(table, column.as_deref(), "check")
            }
        };
        Ok(name)
    }

    // ----- CREATE INDEX -----

    fn create_index(&mut self, p: &mut Parser, unique: bool) -> Step {
        p.eat("CONCURRENTLY");
        let if_not_exists = p.eat_all(&["IF", "NOT", "EXISTS"]);
        let name = if p.at("ON") { None } else { Some(p.ident()?) };
        p.expect("ON")?;
        p.eat("ONLY");
        let table = p.table_name()?;
        if table == LEDGER_TABLE {
            return Ok(());
        }
        if p.eat("USING") {
            p.ident()?;
        }
        if !p.eat_punct("(") {
            return unsupported("expected `(` and the indexed columns");
        }
        let mut columns = Vec::new();
        loop {
            if p.peek_kind() == Some(TokenKind::Open)
                || p.peek_at(1).is_some_and(|t| t.kind == TokenKind::Open)
            {
                return unsupported("an index on an expression is not modelled");
            }
            columns.push(p.ident()?);
            // Per-column options the Schema does not hold: collation, operator class, order.
            loop {
                if p.eat("COLLATE") {
                    p.ident()?;
                } else if p.eat("ASC") || p.eat("DESC") {
                } else if p.eat("NULLS") {
                    if !(p.eat("FIRST") || p.eat("LAST")) {
                        return unsupported("expected FIRST or LAST after NULLS");
                    }
                } else if p.peek_kind() == Some(TokenKind::Word) {
                    p.ident()?;
                } else {
                    break;
                }
            }
            if p.eat_punct(",") {
                continue;
            }
            if p.eat_punct(")") {
                break;
            }
            return unsupported(format!(
                "unexpected `{}` in the index columns",
                p.peek_text()
            ));
        }
        let mut other_columns = Vec::new();
        let mut partial = false;
        while !p.at_end() {
            if p.eat("INCLUDE") {
                other_columns.extend(p.ident_list()?);
            } else if p.eat_all(&["NULLS", "NOT", "DISTINCT"]) || p.eat_all(&["NULLS", "DISTINCT"])
            {
            } else if p.eat("WITH") {
                p.paren_body()?;
            } else if p.eat("WHERE") {
                let (start, end) = p.expr_span(&[]);
                partial = true;
                let state = self.table(&table)?;
                other_columns.extend(referenced_columns(
                    &p.sql[start..end],
                    &state.column_names(),
                ));
            } else {
                return unsupported(format!("index option `{}` is not modelled", p.rest_text()));
            }
        }
        let state = self.table(&table)?;
        state.require_columns(&columns)?;
        state.require_columns(&other_columns)?;
        let name = match name {
            Some(name) => name,
            None => self.choose_relation_name(&table, Some(&name_addition(&columns)), "idx"),
        };
        if self.relation_exists(&name) {
            return if if_not_exists {
                Ok(())
            } else {
                invalid(format!("relation {} already exists", quote_ident(&name)))
            };
        }
        self.next_oid += 1;
        let oid = self.next_oid;
        self.table_mut(&table)?.indexes.push(IndexState {
            name,
            columns,
            unique,
            partial,
            other_columns,
            oid,
        });
        self.register(&table);
        Ok(())
    }

    // ----- DROP -----

    fn drop_tables(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let names = p.name_list()?;
        let cascade = p.drop_behavior()?;
        let mut dropping = Vec::new();
        for name in names {
            if name == LEDGER_TABLE {
                continue;
            }
            if self.tables.contains_key(&name) {
                dropping.push(name);
            } else if !if_exists {
                return invalid(format!("table {} does not exist", quote_ident(&name)));
            }
        }
        for name in &dropping {
            // Foreign keys of the other tables that reference this one.
            let dependents =
                self.foreign_keys_to(name, |owner, _| !dropping.iter().any(|d| d == owner));
            if let Some((owner, constraint)) = dependents.first() {
                if !cascade {
                    return invalid(format!(
                        "cannot drop table {} because constraint {} on table {} depends on it \
                         (use CASCADE)",
                        quote_ident(name),
                        quote_ident(constraint),
                        quote_ident(owner)
                    ));
                }
            }
            self.drop_constraints(&dependents);
        }
        for name in dropping {
            self.tables.remove(&name);
        }
        Ok(())
    }

    fn drop_indexes(&mut self, p: &mut Parser) -> Step {
        p.eat("CONCURRENTLY");
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let names = p.name_list()?;
        let cascade = p.drop_behavior()?;
        for name in names {
            let Some(owner) = self.index_owner(&name) else {
                if let Some(table) = self.constraint_index_owner(&name) {
                    return invalid(format!(
                        "cannot drop index {} because constraint {} on table {} requires it",
                        quote_ident(&name),
                        quote_ident(&name),
                        quote_ident(&table)
                    ));
                }
                if if_exists {
                    continue;
                }
                return invalid(format!("index {} does not exist", quote_ident(&name)));
            };
            self.drop_index_dependents("index", &owner, &name, cascade)?;
            self.table_mut(&owner)?.indexes.retain(|i| i.name != name);
        }
        Ok(())
    }

    /// Drops the foreign keys relying on unique index (or constraint) `index`, with `CASCADE`;
    /// without it, an error when there are any.
    fn drop_index_dependents(
        &mut self,
        what: &str,
        table: &str,
        index: &str,
        cascade: bool,
    ) -> Step {
        let dependents =
            self.foreign_keys_to(table, |_, fk| fk.ref_index.as_deref() == Some(index));
        if let Some((owner, constraint)) = dependents.first() {
            if !cascade {
                return invalid(format!(
                    "cannot drop {what} {} because constraint {} on table {} depends on it \
                     (use CASCADE)",
                    quote_ident(index),
                    quote_ident(constraint),
                    quote_ident(owner)
                ));
            }
        }
        self.drop_constraints(&dependents);
        Ok(())
    }

    // ----- ALTER INDEX -----

    fn alter_index(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        let name = p.table_name()?;
        if !p.eat_all(&["RENAME", "TO"]) {
            return unsupported("only ALTER INDEX … RENAME TO is modelled");
        }
        let new = p.ident()?;
        p.expect_end()?;
        let constraint_owner = self.constraint_index_owner(&name);
        let Some(owner) = self.index_owner(&name).or(constraint_owner.clone()) else {
            return if if_exists {
                Ok(())
            } else {
                invalid(format!("index {} does not exist", quote_ident(&name)))
            };
        };
        if self.relation_exists(&new) {
            return invalid(format!("relation {} already exists", quote_ident(&new)));
        }
        let state = self.table_mut(&owner)?;
        if constraint_owner.is_some() && state.constraints.iter().any(|c| c.name == new) {
            return invalid(format!(
                "constraint {} for relation {} already exists",
                quote_ident(&new),
                quote_ident(&owner)
            ));
        }
        for index in &mut state.indexes {
            if index.name == name {
                index.name = new.clone();
            }
        }
        if constraint_owner.is_some() {
            // The index of a PRIMARY KEY or UNIQUE constraint carries the constraint's name.
            for constraint in &mut state.constraints {
                if constraint.name == name {
                    constraint.name = new.clone();
                }
            }
        }
        self.rename_relation_references(&owner, &name, &new);
        self.register(&owner);
        Ok(())
    }

    // ----- ALTER TABLE -----

    fn alter_table(&mut self, p: &mut Parser) -> Step {
        let if_exists = p.eat_all(&["IF", "EXISTS"]);
        p.eat("ONLY");
        let table = p.table_name()?;
        if table == LEDGER_TABLE {
            return Ok(());
        }
        if !self.tables.contains_key(&table) {
            return if if_exists {
                Ok(())
            } else {
                invalid(format!("relation {} does not exist", quote_ident(&table)))
            };
        }
        if p.eat("RENAME") {
            if p.eat("TO") {
                let new = p.ident()?;
                p.expect_end()?;
                return self.rename_table(&table, &new);
            }
            if p.eat("CONSTRAINT") {
                let old = p.ident()?;
                p.expect("TO")?;
                let new = p.ident()?;
                p.expect_end()?;
                return self.rename_constraint(&table, &old, &new);
            }
            p.eat("COLUMN");
            let old = p.ident()?;
            p.expect("TO")?;
            let new = p.ident()?;
            p.expect_end()?;
            return self.rename_column(&table, &old, &new);
        }
        loop {
            self.alter_table_action(&table, p)?;
            if p.eat_punct(",") {
                continue;
            }
            return p.expect_end();
        }
    }

    fn alter_table_action(&mut self, table: &str, p: &mut Parser) -> Step {
        if p.eat("ADD") {
            if is_table_constraint_start(p) {
                let constraint = parse_table_constraint(p)?;
                return self.add_constraint(table, constraint);
            }
            if p.at("EXCLUDE") {
                return unsupported("EXCLUDE constraints are not modelled");
            }
            p.eat("COLUMN");
            let if_not_exists = p.eat_all(&["IF", "NOT", "EXISTS"]);
            let def = parse_column_def(p)?;
            if self.table(table)?.column(&def.name).is_some() {
                return if if_not_exists {
                    Ok(())
                } else {
                    invalid(format!(
                        "column {} of relation {} already exists",
                        quote_ident(&def.name),
                        quote_ident(table)
                    ))
                };
            }
            let constraints = self.add_column(table, def)?;
            return self.add_constraints(table, constraints);
        }
        if p.eat("DROP") {
            if p.eat("CONSTRAINT") {
                let if_exists = p.eat_all(&["IF", "EXISTS"]);
                let name = p.ident()?;
                let cascade = p.drop_behavior()?;
                return self.drop_constraint(table, &name, if_exists, cascade);
            }
            p.eat("COLUMN");
            let if_exists = p.eat_all(&["IF", "EXISTS"]);
            let name = p.ident()?;
            let cascade = p.drop_behavior()?;
            return self.drop_column(table, &name, if_exists, cascade);
        }
        if p.eat("VALIDATE") {
            p.expect("CONSTRAINT")?;
            let name = p.ident()?;
            return self.table(table)?.require_constraint(&name).map(|_| ());
        }
        if p.eat("ALTER") {
            if p.eat("CONSTRAINT") {
                // Deferrability only: nothing a Schema holds.
                let name = p.ident()?;
                self.table(table)?.require_constraint(&name)?;
                while !p.at_end() && !p.at_punct(",") {
                    p.advance();
                }
                return Ok(());
            }
            p.eat("COLUMN");
            let column = p.ident()?;
            return self.alter_column(table, &column, p);
        }
        let what = p.remaining_words().into_iter().take(2).collect::<Vec<_>>();
        unsupported(format!(
            "ALTER TABLE … {} is not a statement qvdiff writes",
            what.join(" ")
        ))
    }

    fn alter_column(&mut self, table: &str, name: &str, p: &mut Parser) -> Step {
        let column = self.table(table)?.require_column(name)?.clone();
        let in_primary_key = self
            .table(table)?
            .primary_key()
            .is_some_and(|pk| pk.iter().any(|c| c == name));
        let identity_error = || {
            invalid(format!(
                "column {} of relation {} is an identity column",
                quote_ident(name),
                quote_ident(table)
            ))
        };
        let mut changed = column.clone();
        if p.eat_all(&["SET", "DATA", "TYPE"]) || p.eat("TYPE") {
            let (start, end) = p.type_span();
            let type_text = &p.sql[start..end];
            if type_text.is_empty() {
                return unsupported("expected a type");
            }
            if serial_bits(type_text).is_some() {
                return invalid(format!("type {type_text} does not exist"));
            }
            if p.at("COLLATE") {
                return unsupported("COLLATE is not modelled");
            }
            if p.eat("USING") {
                // The conversion of existing values; it does not change the schema.
                p.expr_span(&[]);
            }
            changed.ty = self.column_type(type_text);
            if changed.identity && !matches!(changed.ty, ColumnType::Integer { .. }) {
                return invalid(format!(
                    "identity column type must be smallint, integer, or bigint (column {})",
                    quote_ident(name)
                ));
            }
        } else if p.eat_all(&["SET", "NOT", "NULL"]) {
            changed.not_null = true;
        } else if p.eat_all(&["DROP", "NOT", "NULL"]) {
            if column.identity {
                return identity_error();
            }
            if in_primary_key {
                return invalid(format!("column {} is in a primary key", quote_ident(name)));
            }
            changed.not_null = false;
        } else if p.eat_all(&["SET", "DEFAULT"]) {
            if column.identity {
                return identity_error();
            }
            let (start, end) = p.expr_span(&[]);
            let expr = p.sql[start..end].trim();
            if expr.is_empty() {
                return unsupported("expected an expression after SET DEFAULT");
            }
            changed.default = (!is_null_literal(expr)).then(|| expr.to_string());
        } else if p.eat_all(&["DROP", "DEFAULT"]) {
            if column.identity {
                return identity_error();
            }
            changed.default = None;
        } else if p.eat_all(&["ADD", "GENERATED"]) {
            if !(p.eat("ALWAYS") || p.eat_all(&["BY", "DEFAULT"])) {
                return unsupported("expected ALWAYS or BY DEFAULT after GENERATED");
            }
            p.expect("AS")?;
            p.expect("IDENTITY")?;
            if p.at_punct("(") {
                p.paren_body()?;
            }
            if !matches!(column.ty, ColumnType::Integer { .. }) {
                return invalid(format!(
                    "identity column type must be smallint, integer, or bigint (column {})",
                    quote_ident(name)
                ));
            }
            if column.identity {
                return invalid(format!(
                    "column {} of relation {} is already an identity column",
                    quote_ident(name),
                    quote_ident(table)
                ));
            }
            if !column.not_null {
                return invalid(format!(
                    "column {} of relation {} must be declared NOT NULL before identity can be \
                     added",
                    quote_ident(name),
                    quote_ident(table)
                ));
            }
            if column.default.is_some() {
                return invalid(format!(
                    "column {} of relation {} already has a default value",
                    quote_ident(name),
                    quote_ident(table)
                ));
            }
            changed.identity = true;
            changed.sequence = Some(self.choose_relation_name(table, Some(name), "seq"));
        } else if p.eat_all(&["DROP", "IDENTITY"]) {
            let if_exists = p.eat_all(&["IF", "EXISTS"]);
            if !column.identity {
                return if if_exists {
                    Ok(())
                } else {
                    invalid(format!(
                        "column {} of relation {} is not an identity column",
                        quote_ident(name),
                        quote_ident(table)
                    ))
                };
            }
            changed.identity = false;
            changed.sequence = None;
        } else if p.at("SET") || p.at("RESTART") {
            // Identity options (`SET GENERATED ALWAYS`, `RESTART WITH 1000`, `SET INCREMENT BY`):
            // the column stays an identity column.
            if p.at("SET")
                && !matches!(
                    p.peek_keyword_at(1).as_deref(),
                    Some("GENERATED" | "INCREMENT" | "START" | "MINVALUE" | "MAXVALUE" | "CACHE")
                )
            {
                return unsupported(format!("ALTER COLUMN … {} is not modelled", p.rest_text()));
            }
            if !column.identity {
                return invalid(format!(
                    "column {} of relation {} is not an identity column",
                    quote_ident(name),
                    quote_ident(table)
                ));
            }
            while !p.at_end() && !p.at_punct(",") {
                p.advance();
            }
        } else {
            return unsupported(format!("ALTER COLUMN … {} is not modelled", p.rest_text()));
        }
        let state = self.table_mut(table)?;
        if let Some(slot) = state.columns.iter_mut().find(|c| c.name == name) {
            *slot = changed;
        }
        self.register(table);
        Ok(())
    }

    fn drop_column(&mut self, table: &str, name: &str, if_exists: bool, cascade: bool) -> Step {
        let state = self.table(table)?;
        if state.column(name).is_none() {
            return if if_exists {
                Ok(())
            } else {
                invalid(format!(
                    "column {} of relation {} does not exist",
                    quote_ident(name),
                    quote_ident(table)
                ))
            };
        }
        let uses = |columns: &[String]| columns.iter().any(|c| c == name);
        // Foreign keys (of any table, this one included) that reference the column: they depend
        // on it and need CASCADE. The column's own keys, indexes and checks just go with it.
        let referencing = self.foreign_keys_to(table, |owner, fk| {
            uses(&fk.ref_columns) && !(owner == table && uses(&fk.columns))
        });
        if let Some((owner, constraint)) = referencing.first() {
            if !cascade {
                return invalid(format!(
                    "cannot drop column {} of table {} because constraint {} on table {} \
                     depends on it (use CASCADE)",
                    quote_ident(name),
                    quote_ident(table),
                    quote_ident(constraint),
                    quote_ident(owner)
                ));
            }
        }
        self.drop_constraints(&referencing);
        let state = self.table(table)?;
        let column_names = state.column_names();
        let mut dropped_keys = Vec::new();
        for constraint in &state.constraints {
            let used = match &constraint.kind {
                ConstraintKind::PrimaryKey(columns) | ConstraintKind::Unique(columns) => {
                    uses(columns)
                }
                ConstraintKind::ForeignKey(fk) => uses(&fk.columns),
                ConstraintKind::Check(expr) => referenced_columns(expr, &column_names)
                    .iter()
                    .any(|c| c == name),
            };
            if used {
                dropped_keys.push((table.to_string(), constraint.name.clone()));
            }
        }
        let dropped_indexes: Vec<String> = state
            .indexes
            .iter()
            .filter(|i| uses(&i.columns) || uses(&i.other_columns))
            .map(|i| i.name.clone())
            .collect();
        // Whatever else relied on an index that goes (a foreign key on other columns of a
        // composite unique) needs CASCADE too.
        for index in dropped_keys
            .iter()
            .map(|(_, n)| n.as_str())
            .chain(dropped_indexes.iter().map(String::as_str))
        {
            let dependents =
                self.foreign_keys_to(table, |_, fk| fk.ref_index.as_deref() == Some(index));
            let outside: Vec<_> = dependents
                .iter()
                .filter(|d| !dropped_keys.contains(d))
                .collect();
            if let Some((owner, constraint)) = outside.first() {
                if !cascade {
                    return invalid(format!(
                        "cannot drop column {} of table {} because constraint {} on table {} \
                         depends on it (use CASCADE)",
                        quote_ident(name),
                        quote_ident(table),
                        quote_ident(constraint),
                        quote_ident(owner)
                    ));
                }
            }
        }
        let keys: Vec<String> = dropped_keys.iter().map(|(_, n)| n.clone()).collect();
        for index in keys.iter().chain(&dropped_indexes) {
            let dependents =
                self.foreign_keys_to(table, |_, fk| fk.ref_index.as_deref() == Some(index));
            self.drop_constraints(&dependents);
        }
        let state = self.table_mut(table)?;
        state.constraints.retain(|c| !keys.contains(&c.name));
        state.indexes.retain(|i| !dropped_indexes.contains(&i.name));
        state.columns.retain(|c| c.name != name);
        Ok(())
    }

    fn drop_constraint(&mut self, table: &str, name: &str, if_exists: bool, cascade: bool) -> Step {
        let state = self.table(table)?;
        let Some(constraint) = state.constraints.iter().find(|c| c.name == name) else {
            return if if_exists {
                Ok(())
            } else {
                invalid(format!(
                    "constraint {} of relation {} does not exist",
                    quote_ident(name),
                    quote_ident(table)
                ))
            };
        };
        if matches!(
            constraint.kind,
            ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
        ) {
            self.drop_index_dependents("constraint", table, name, cascade)?;
        }
        self.table_mut(table)?
            .constraints
            .retain(|c| c.name != name);
        Ok(())
    }

    // ----- renames -----

    fn rename_table(&mut self, old: &str, new: &str) -> Step {
        if self.relation_exists(new) {
            return invalid(format!("relation {} already exists", quote_ident(new)));
        }
        let Some(mut state) = self.tables.remove(old) else {
            return invalid(format!("relation {} does not exist", quote_ident(old)));
        };
        state.name = new.to_string();
        self.tables.insert(new.to_string(), state);
        let mut referencing = self.referenced_by.remove(old).unwrap_or_default();
        referencing.insert(new.to_string());
        for owner in &referencing {
            let owner = if owner == old { new } else { owner.as_str() };
            let Some(table) = self.tables.get_mut(owner) else {
                continue;
            };
            for constraint in &mut table.constraints {
                if let ConstraintKind::ForeignKey(fk) = &mut constraint.kind {
                    if fk.ref_table == old {
                        fk.ref_table = new.to_string();
                    }
                }
            }
        }
        for owner in referencing {
            let owner = if owner == old { new.to_string() } else { owner };
            self.register(&owner);
        }
        self.register(new);
        Ok(())
    }

    fn rename_column(&mut self, table: &str, old: &str, new: &str) -> Step {
        let state = self.table(table)?;
        state.require_column(old)?;
        if state.column(new).is_some() {
            return invalid(format!(
                "column {} of relation {} already exists",
                quote_ident(new),
                quote_ident(table)
            ));
        }
        let rename = |columns: &mut Vec<String>| {
            for column in columns.iter_mut() {
                if column == old {
                    *column = new.to_string();
                }
            }
        };
        let mut owners = self.referenced_by.get(table).cloned().unwrap_or_default();
        owners.insert(table.to_string());
        for owner in &owners {
            let Some(other) = self.tables.get_mut(owner) else {
                continue;
            };
            let this_table = other.name == table;
            for constraint in &mut other.constraints {
                match &mut constraint.kind {
                    ConstraintKind::ForeignKey(fk) => {
                        if this_table {
                            rename(&mut fk.columns);
                        }
                        if fk.ref_table == table {
                            rename(&mut fk.ref_columns);
                        }
                    }
                    ConstraintKind::PrimaryKey(columns) | ConstraintKind::Unique(columns)
                        if this_table =>
                    {
                        rename(columns);
                    }
                    ConstraintKind::Check(expr) if this_table => {
                        *expr = rename_in_expression(expr, old, new);
                    }
                    _ => {}
                }
            }
            if this_table {
                for index in &mut other.indexes {
                    rename(&mut index.columns);
                    rename(&mut index.other_columns);
                }
                for column in &mut other.columns {
                    if column.name == old {
                        column.name = new.to_string();
                    }
                }
            }
        }
        Ok(())
    }

    fn rename_constraint(&mut self, table: &str, old: &str, new: &str) -> Step {
        let state = self.table(table)?;
        let constraint = state.require_constraint(old)?;
        let index_backed = matches!(
            constraint.kind,
            ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
        );
        if state.constraints.iter().any(|c| c.name == new) {
            return invalid(format!(
                "constraint {} for relation {} already exists",
                quote_ident(new),
                quote_ident(table)
            ));
        }
        if index_backed && self.relation_exists(new) {
            return invalid(format!("relation {} already exists", quote_ident(new)));
        }
        let state = self.table_mut(table)?;
        for constraint in &mut state.constraints {
            if constraint.name == old {
                constraint.name = new.to_string();
            }
        }
        if index_backed {
            // Its index is renamed with it.
            self.rename_relation_references(table, old, new);
        }
        self.register(table);
        Ok(())
    }

    /// Foreign keys that rely on unique index `old` of `table` now rely on `new`.
    fn rename_relation_references(&mut self, table: &str, old: &str, new: &str) {
        let mut owners = self.referenced_by.get(table).cloned().unwrap_or_default();
        owners.insert(table.to_string());
        for owner in owners {
            let Some(state) = self.tables.get_mut(&owner) else {
                continue;
            };
            for constraint in &mut state.constraints {
                if let ConstraintKind::ForeignKey(fk) = &mut constraint.kind {
                    if fk.ref_index.as_deref() == Some(old) {
                        fk.ref_index = Some(new.to_string());
                    }
                }
            }
        }
    }

    // ----- lookups -----

    fn table(&self, name: &str) -> Step<&TableState> {
        match self.tables.get(name) {
            Some(table) => Ok(table),
            None => invalid(format!("relation {} does not exist", quote_ident(name))),
        }
    }

    fn table_mut(&mut self, name: &str) -> Step<&mut TableState> {
        match self.tables.get_mut(name) {
            Some(table) => Ok(table),
            None => invalid(format!("relation {} does not exist", quote_ident(name))),
        }
    }

    /// Whether a table, index, key constraint (its index) or sequence has this name: they share
    /// one namespace in the server.
    fn relation_exists(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.relation_table(name).is_some()
    }

    /// The table holding the index, key constraint or sequence `name`.
    fn relation_table(&self, name: &str) -> Option<&TableState> {
        let owner = self.relation_owner.get(name)?;
        self.tables
            .get(owner)
            .filter(|t| t.relation_names().any(|n| n == name))
    }

    /// The table holding the index (not a constraint's) named `name`.
    fn index_owner(&self, name: &str) -> Option<String> {
        self.relation_table(name)
            .filter(|t| t.indexes.iter().any(|i| i.name == name))
            .map(|t| t.name.clone())
    }

    /// The table whose PRIMARY KEY or UNIQUE constraint (and so its index) is named `name`.
    fn constraint_index_owner(&self, name: &str) -> Option<String> {
        self.relation_table(name)
            .filter(|t| {
                t.constraints
                    .iter()
                    .any(|c| c.name == name && c.is_index_backed())
            })
            .map(|t| t.name.clone())
    }

    /// Records the names `table` holds (after a change that may have named something) in the
    /// lookups: its indexes, key constraints and sequences, its constraints, and the tables
    /// its foreign keys reference. Costs the size of that one table.
    fn register(&mut self, table: &str) {
        let Some(state) = self.tables.get(table) else {
            return;
        };
        for name in state.relation_names() {
            self.relation_owner
                .insert(name.to_string(), table.to_string());
        }
        for constraint in &state.constraints {
            self.constraint_owners
                .entry(constraint.name.clone())
                .or_default()
                .insert(table.to_string());
            if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                self.referenced_by
                    .entry(fk.ref_table.clone())
                    .or_default()
                    .insert(table.to_string());
            }
        }
    }

    /// `(table, constraint)` of every foreign key to `ref_table` that satisfies
    /// `filter(table, key)`.
    fn foreign_keys_to(
        &self,
        ref_table: &str,
        filter: impl Fn(&str, &FkState) -> bool,
    ) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let Some(owners) = self.referenced_by.get(ref_table) else {
            return found;
        };
        for table in owners.iter().filter_map(|o| self.tables.get(o)) {
            for constraint in &table.constraints {
                if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                    if fk.ref_table == ref_table && filter(&table.name, fk) {
                        found.push((table.name.clone(), constraint.name.clone()));
                    }
                }
            }
        }
        found
    }

    fn drop_constraints(&mut self, constraints: &[(String, String)]) {
        for (table, name) in constraints {
            if let Some(state) = self.tables.get_mut(table) {
                state.constraints.retain(|c| &c.name != name);
            }
        }
    }

    /// The server's `ChooseRelationName`: `name1_name2_label`, cut to fit, with a number after
    /// the label until no relation has the name.
    fn choose_relation_name(&self, name1: &str, name2: Option<&str>, label: &str) -> String {
        choose_name(name1, name2, label, |name| self.relation_exists(name))
    }

    /// The server's `ChooseConstraintName`: like [`Self::choose_relation_name`], unique among
    /// all constraints of the schema.
    fn choose_constraint_name(&self, name1: &str, name2: Option<&str>, label: &str) -> String {
        choose_name(name1, name2, label, |name| {
            self.constraint_owners.get(name).is_some_and(|owners| {
                owners
                    .iter()
                    .filter_map(|o| self.tables.get(o))
                    .any(|t| t.constraints.iter().any(|c| c.name == name))
            })
        })
    }
}

impl Constraint {
    /// A PRIMARY KEY or UNIQUE constraint: its index is a relation of the same name.
    fn is_index_backed(&self) -> bool {
        matches!(
            self.kind,
            ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
        )
    }
}

impl TableState {
    /// The names this table puts in the relation namespace besides its own: indexes, key
    /// constraints (their indexes) and sequences.
    fn relation_names(&self) -> impl Iterator<Item = &str> {
        let indexes = self.indexes.iter().map(|i| i.name.as_str());
        let keys = self
            .constraints
            .iter()
            .filter(|c| c.is_index_backed())
            .map(|c| c.name.as_str());
        let sequences = self.columns.iter().filter_map(|c| c.sequence.as_deref());
        indexes.chain(keys).chain(sequences)
    }

    fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn require_column(&self, name: &str) -> Step<&ColumnState> {
        match self.column(name) {
            Some(column) => Ok(column),
            None => invalid(format!(
                "column {} of relation {} does not exist",
                quote_ident(name),
                quote_ident(&self.name)
            )),
        }
    }

    fn require_columns(&self, names: &[String]) -> Step {
        for name in names {
            self.require_column(name)?;
        }
        Ok(())
    }

    fn require_constraint(&self, name: &str) -> Step<&Constraint> {
        match self.constraints.iter().find(|c| c.name == name) {
            Some(constraint) => Ok(constraint),
            None => invalid(format!(
                "constraint {} of relation {} does not exist",
                quote_ident(name),
                quote_ident(&self.name)
            )),
        }
    }

    fn primary_key(&self) -> Option<&[String]> {
        self.constraints.iter().find_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey(columns) => Some(columns.as_slice()),
            _ => None,
        })
    }

    /// The oldest unique index (primary key, unique constraint or plain unique index) over
    /// exactly this set of columns: what a foreign key to them relies on.
    fn unique_index_for(&self, columns: &[String]) -> Option<String> {
        let same_set = |other: &[String]| {
            other.len() == columns.len() && columns.iter().all(|c| other.contains(c))
        };
        let keys = self.constraints.iter().filter_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey(cols) | ConstraintKind::Unique(cols) if same_set(cols) => {
                Some((c.oid, c.name.clone()))
            }
            _ => None,
        });
        let indexes = self
            .indexes
            .iter()
            .filter(|i| i.unique && !i.partial && same_set(&i.columns))
            .map(|i| (i.oid, i.name.clone()));
        keys.chain(indexes).min().map(|(_, name)| name)
    }

    fn to_table(&self) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                // What introspection sees: an identity column, or one whose default draws from a
                // sequence, is autoincrement without a default.
                let serial = c.default.as_deref().is_some_and(is_nextval);
                let autoincrement = c.identity || serial;
                let default = match &c.default {
                    Some(expr) if !autoincrement => {
                        Some(parse_default(&canonical_default(expr), &c.ty))
                    }
                    _ => None,
                };
                Column {
                    nullable: !c.not_null,
                    default,
                    autoincrement,
                    ..Column::new(c.name.clone(), c.ty.clone())
                }
            })
            .collect();
        let mut table = Table::new(self.name.clone(), columns);
        for constraint in &self.constraints {
            match &constraint.kind {
                ConstraintKind::PrimaryKey(columns) => table.primary_key = columns.clone(),
                ConstraintKind::Unique(columns) => {
                    let unnamed = Unique {
                        name: None,
                        columns: columns.clone(),
                    };
                    let name = (constraint.name != unique_name(&self.name, &unnamed))
                        .then(|| constraint.name.clone());
                    table.uniques.push(Unique { name, ..unnamed });
                }
                ConstraintKind::ForeignKey(fk) => table.foreign_keys.push(ForeignKey {
                    columns: fk.columns.clone(),
                    ref_table: fk.ref_table.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    on_delete: fk.on_delete,
                    on_update: fk.on_update,
                }),
                ConstraintKind::Check(expr) => table.checks.push(Check {
                    name: constraint.name.clone(),
                    expr: expr.clone(),
                }),
            }
        }
        table.indexes = self
            .indexes
            .iter()
            .map(|i| Index {
                name: i.name.clone(),
                columns: i.columns.clone(),
                unique: i.unique,
            })
            .collect();
        table
    }
}

// ----- statement pieces -----

/// A column definition of `CREATE TABLE` or `ADD COLUMN`.
#[derive(Debug)]
struct ColumnDef {
    name: String,
    type_text: String,
    not_null: bool,
    default: Option<String>,
    identity: bool,
    constraints: Vec<NewConstraint>,
}

/// A constraint as written, before the server names it and resolves its references.
#[derive(Debug)]
struct NewConstraint {
    name: Option<String>,
    kind: NewKind,
}

#[derive(Debug)]
enum NewKind {
    PrimaryKey(Vec<String>),
    Unique(Vec<String>),
    /// `ADD [CONSTRAINT n] PRIMARY KEY|UNIQUE USING INDEX i`.
    UsingIndex {
        primary: bool,
        index: String,
    },
    ForeignKey(NewForeignKey),
    Check(String),
}

#[derive(Debug)]
struct NewForeignKey {
    columns: Vec<String>,
    ref_table: String,
    /// `None`: the referenced table's primary key.
    ref_columns: Option<Vec<String>>,
    on_delete: FkAction,
    on_update: FkAction,
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "NOT",
    "NULL",
    "DEFAULT",
    "GENERATED",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "COLLATE",
    "DEFERRABLE",
    "INITIALLY",
];

fn is_table_constraint_start(p: &Parser) -> bool {
    matches!(
        p.peek_keyword().as_deref(),
        Some("CONSTRAINT" | "PRIMARY" | "UNIQUE" | "FOREIGN" | "CHECK")
    )
}

fn parse_column_def(p: &mut Parser) -> Step<ColumnDef> {
    let name = p.ident()?;
    let (start, end) = p.type_span();
    let type_text = p.sql[start..end].trim().to_string();
    if type_text.is_empty() {
        return unsupported(format!("column {} has no type", quote_ident(&name)));
    }
    let mut def = ColumnDef {
        name,
        type_text,
        not_null: false,
        default: None,
        identity: false,
        constraints: Vec::new(),
    };
    let mut constraint_name = None;
    loop {
        if p.at_end() || p.at_punct(",") || p.at_punct(")") {
            break;
        }
        if p.eat("CONSTRAINT") {
            constraint_name = Some(p.ident()?);
            continue;
        }
        let column = vec![def.name.clone()];
        let kind = if p.eat_all(&["NOT", "NULL"]) {
            def.not_null = true;
            None
        } else if p.eat("NULL") {
            def.not_null = false;
            None
        } else if p.eat("DEFAULT") {
            let (start, end) = p.expr_span(COLUMN_CONSTRAINT_WORDS);
            def.default = Some(p.sql[start..end].trim().to_string());
            None
        } else if p.eat("GENERATED") {
            if !(p.eat("ALWAYS") || p.eat_all(&["BY", "DEFAULT"])) {
                return unsupported("expected ALWAYS or BY DEFAULT after GENERATED");
            }
            p.expect("AS")?;
            if !p.eat("IDENTITY") {
                return unsupported("generated columns are not modelled");
            }
            if p.at_punct("(") {
                p.paren_body()?;
            }
            def.identity = true;
            None
        } else if p.eat_all(&["PRIMARY", "KEY"]) {
            Some(NewKind::PrimaryKey(column))
        } else if p.eat("UNIQUE") {
            p.eat_all(&["NULLS", "NOT", "DISTINCT"]);
            p.eat_all(&["NULLS", "DISTINCT"]);
            Some(NewKind::Unique(column))
        } else if p.eat("REFERENCES") {
            Some(NewKind::ForeignKey(parse_references(p, column)?))
        } else if p.eat("CHECK") {
            let (start, end) = p.paren_body()?;
            p.eat_all(&["NO", "INHERIT"]);
            Some(NewKind::Check(p.sql[start..end].trim().to_string()))
        } else if p.at("COLLATE") {
            return unsupported("COLLATE is not modelled");
        } else if eat_deferrability(p) {
            None
        } else {
            return unsupported(format!("column option `{}` is not modelled", p.rest_text()));
        };
        // A `CONSTRAINT name` belongs to the one clause after it (a named NOT NULL too).
        let name = constraint_name.take();
        if let Some(kind) = kind {
            def.constraints.push(NewConstraint { name, kind });
        }
    }
    Ok(def)
}

fn parse_table_constraint(p: &mut Parser) -> Step<NewConstraint> {
    let name = if p.eat("CONSTRAINT") {
        Some(p.ident()?)
    } else {
        None
    };
    let kind = if p.eat_all(&["PRIMARY", "KEY"]) {
        if p.eat_all(&["USING", "INDEX"]) {
            NewKind::UsingIndex {
                primary: true,
                index: p.ident()?,
            }
        } else {
            NewKind::PrimaryKey(p.ident_list()?)
        }
    } else if p.eat("UNIQUE") {
        p.eat_all(&["NULLS", "NOT", "DISTINCT"]);
        p.eat_all(&["NULLS", "DISTINCT"]);
        if p.eat_all(&["USING", "INDEX"]) {
            NewKind::UsingIndex {
                primary: false,
                index: p.ident()?,
            }
        } else {
            NewKind::Unique(p.ident_list()?)
        }
    } else if p.eat_all(&["FOREIGN", "KEY"]) {
        let columns = p.ident_list()?;
        p.expect("REFERENCES")?;
        NewKind::ForeignKey(parse_references(p, columns)?)
    } else if p.eat("CHECK") {
        let (start, end) = p.paren_body()?;
        p.eat_all(&["NO", "INHERIT"]);
        NewKind::Check(p.sql[start..end].trim().to_string())
    } else {
        return unsupported(format!("constraint `{}` is not modelled", p.rest_text()));
    };
    if p.eat("INCLUDE") {
        p.ident_list()?;
    }
    while eat_deferrability(p) || p.eat_all(&["NOT", "VALID"]) {}
    if p.at("USING") || p.at("WITH") {
        return unsupported(format!(
            "constraint option `{}` is not modelled",
            p.rest_text()
        ));
    }
    Ok(NewConstraint { name, kind })
}

/// `REFERENCES t [(cols)] [MATCH …] [ON DELETE …] [ON UPDATE …]`, after `REFERENCES`.
fn parse_references(p: &mut Parser, columns: Vec<String>) -> Step<NewForeignKey> {
    let ref_table = p.table_name()?;
    let ref_columns = if p.at_punct("(") {
        Some(p.ident_list()?)
    } else {
        None
    };
    let mut fk = NewForeignKey {
        columns,
        ref_table,
        ref_columns,
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    };
    loop {
        if p.eat("MATCH") {
            if !(p.eat("SIMPLE") || p.eat("FULL") || p.eat("PARTIAL")) {
                return unsupported("expected SIMPLE, FULL or PARTIAL after MATCH");
            }
        } else if p.eat_all(&["ON", "DELETE"]) {
            fk.on_delete = parse_action(p)?;
        } else if p.eat_all(&["ON", "UPDATE"]) {
            fk.on_update = parse_action(p)?;
        } else {
            return Ok(fk);
        }
    }
}

fn parse_action(p: &mut Parser) -> Step<FkAction> {
    let action = if p.eat_all(&["NO", "ACTION"]) {
        FkAction::NoAction
    } else if p.eat("RESTRICT") {
        FkAction::Restrict
    } else if p.eat("CASCADE") {
        FkAction::Cascade
    } else if p.eat_all(&["SET", "NULL"]) {
        FkAction::SetNull
    } else if p.eat_all(&["SET", "DEFAULT"]) {
        FkAction::SetDefault
    } else {
        return unsupported(format!("unknown foreign key action `{}`", p.rest_text()));
    };
    if p.at_punct("(") {
        return unsupported("a column list after SET NULL / SET DEFAULT is not modelled");
    }
    Ok(action)
}

/// `[NOT] DEFERRABLE`, `INITIALLY DEFERRED|IMMEDIATE`: not part of a Schema.
fn eat_deferrability(p: &mut Parser) -> bool {
    p.eat("DEFERRABLE")
        || p.eat_all(&["NOT", "DEFERRABLE"])
        || p.eat_all(&["INITIALLY", "DEFERRED"])
        || p.eat_all(&["INITIALLY", "IMMEDIATE"])
}

// ----- names and expressions -----

/// The server's `makeObjectName`: `name1[_name2][_label]`, the two names shortened (the longer
/// one first) so that the whole fits in [`MAX_IDENTIFIER_BYTES`].
fn make_object_name(name1: &str, name2: Option<&str>, label: &str) -> String {
    let overhead =
        usize::from(!label.is_empty()) * (label.len() + 1) + usize::from(name2.is_some());
    let available = MAX_IDENTIFIER_BYTES.saturating_sub(overhead);
    let mut len1 = name1.len();
    let mut len2 = name2.map_or(0, str::len);
    while len1 + len2 > available {
        if len1 > len2 {
            len1 -= 1;
        } else {
            len2 -= 1;
        }
    }
    let mut name = clip(name1, len1).to_string();
    if let Some(name2) = name2 {
        name.push('_');
        name.push_str(clip(name2, len2));
    }
    if !label.is_empty() {
        name.push('_');
        name.push_str(label);
    }
    name
}

/// The longest prefix of `name` of at most `bytes` bytes that ends on a character boundary.
fn clip(name: &str, bytes: usize) -> &str {
    let mut end = bytes.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

fn choose_name(
    name1: &str,
    name2: Option<&str>,
    label: &str,
    taken: impl Fn(&str) -> bool,
) -> String {
    let mut pass = 0usize;
    loop {
        let label = if pass == 0 {
            label.to_string()
        } else {
            format!("{label}{pass}")
        };
        let name = make_object_name(name1, name2, &label);
        if !taken(&name) {
            return name;
        }
        pass += 1;
    }
}

/// The server's `ChooseIndexNameAddition`: column names joined by `_`, stopping once the text
/// is a full identifier long (`makeObjectName` cuts it afterwards).
fn name_addition(columns: &[String]) -> String {
    let mut text = String::new();
    for column in columns {
        if !text.is_empty() {
            text.push('_');
        }
        text.push_str(column);
        if text.len() > MAX_IDENTIFIER_BYTES {
            break;
        }
    }
    text
}

/// The integer width of a `serial` pseudo-type, if `type_text` is one.
fn serial_bits(type_text: &str) -> Option<u8> {
    match type_text.trim().to_ascii_lowercase().as_str() {
        "smallserial" | "serial2" => Some(16),
        "serial" | "serial4" => Some(32),
        "bigserial" | "serial8" => Some(64),
        _ => None,
    }
}

/// `NULL` (possibly cast or parenthesized): a default the server does not store.
fn is_null_literal(expr: &str) -> bool {
    let tokens = sqltext::tokenize(expr);
    let mut words = tokens
        .iter()
        .filter(|t| !matches!(t.kind, TokenKind::Open | TokenKind::Close));
    let Some(first) = words.next() else {
        return false;
    };
    // `NULL`, `(NULL)`, `NULL::text`.
    first.is_word(expr, "NULL") && words.next().is_none_or(|t| &expr[t.start..t.end] == ":")
}

fn is_nextval(expr: &str) -> bool {
    expr.trim_start()
        .get(..8)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("nextval("))
}

/// A default spelled as the server prints it where that is cheap to know: the SQL value
/// functions upper case (`current_timestamp` → `CURRENT_TIMESTAMP`), a call without arguments
/// lower case (`NOW()` → `now()`).
fn canonical_default(expr: &str) -> String {
    const VALUE_FUNCTIONS: &[&str] = &[
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "CURRENT_USER",
        "CURRENT_ROLE",
        "SESSION_USER",
        "USER",
        "CURRENT_CATALOG",
        "CURRENT_SCHEMA",
    ];
    let trimmed = expr.trim();
    let upper = trimmed.to_ascii_uppercase();
    if VALUE_FUNCTIONS.contains(&upper.as_str()) {
        return upper;
    }
    if let Some(name) = trimmed.strip_suffix("()") {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return format!("{}()", name.to_ascii_lowercase());
        }
    }
    trimmed.to_string()
}

/// The columns of `columns` that `expr` names, in order of first use. A name followed by `(` is
/// a function, one followed by `.` a qualifier, one after `::` a type.
fn referenced_columns(expr: &str, columns: &[String]) -> Vec<String> {
    let tokens = sqltext::tokenize(expr);
    let mut found: Vec<String> = Vec::new();
    for i in 0..tokens.len() {
        if let Some(name) = column_reference(expr, &tokens, i) {
            if columns.contains(&name) && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

/// `expr` with every reference to column `old` renamed to `new`, spelled as the server prints
/// a name (quoted only when it must be).
fn rename_in_expression(expr: &str, old: &str, new: &str) -> String {
    let tokens = sqltext::tokenize(expr);
    let mut out = String::with_capacity(expr.len());
    let mut copied = 0;
    for (i, token) in tokens.iter().enumerate() {
        if column_reference(expr, &tokens, i).as_deref() == Some(old) {
            out.push_str(&expr[copied..token.start]);
            out.push_str(&display_ident(new));
            copied = token.end;
        }
    }
    out.push_str(&expr[copied..]);
    out
}

/// The column name token `i` would be, if it can be one.
fn column_reference(expr: &str, tokens: &[Token], i: usize) -> Option<String> {
    let token = tokens[i];
    let text = &expr[token.start..token.end];
    let next = tokens.get(i + 1).map(|t| &expr[t.start..t.end]);
    if next == Some("(") || next == Some(".") {
        return None;
    }
    let before = |back: usize| {
        i.checked_sub(back)
            .and_then(|j| tokens.get(j))
            .map(|t| &expr[t.start..t.end])
    };
    if before(1) == Some(":") && before(2) == Some(":") {
        return None;
    }
    match token.kind {
        TokenKind::Word if !text.starts_with(|c: char| c.is_ascii_digit()) => {
            Some(fold_identifier(text))
        }
        TokenKind::Quoted if text.starts_with('"') => Some(unquote_identifier(text)),
        _ => None,
    }
}

/// Keywords the server's `quote_identifier` quotes (every category but unreserved), as
/// `pg_get_keywords()` lists them.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// A name as the server prints it in an expression: bare when it is a lower-case word that is
/// not a keyword, quoted otherwise.
/// A column's reference to an enum type: the name only (the values live in the catalog).
fn enum_reference(ty: &ColumnType) -> ColumnType {
    match ty {
        ColumnType::Enum { name, .. } => enum_reference_named(name),
        other => other.clone(),
    }
}

fn enum_reference_named(name: &str) -> ColumnType {
    ColumnType::Enum {
        name: name.to_string(),
        values: Vec::new(),
        renames: Vec::new(),
    }
}

fn display_ident(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !QUOTED_KEYWORDS.contains(&name) {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

/// An unquoted identifier as the server reads it: ASCII folded to lower case, cut to
/// [`MAX_IDENTIFIER_BYTES`].
fn fold_identifier(text: &str) -> String {
    clip(&text.to_ascii_lowercase(), MAX_IDENTIFIER_BYTES).to_string()
}

/// A `"quoted"` identifier's name: quotes removed, `""` undone, cut to
/// [`MAX_IDENTIFIER_BYTES`].
fn unquote_identifier(text: &str) -> String {
    let inner = text
        .strip_prefix('"')
        .map(|t| t.strip_suffix('"').unwrap_or(t))
        .unwrap_or(text);
    clip(&inner.replace("\"\"", "\""), MAX_IDENTIFIER_BYTES).to_string()
}

// ----- the token cursor -----

/// A cursor over one statement's tokens.
struct Parser<'a> {
    sql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(sql: &'a str) -> Parser<'a> {
        Parser {
            sql,
            tokens: sqltext::tokenize(sql),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<Token> {
        self.tokens.get(self.pos + ahead).copied()
    }

    fn peek_kind(&self) -> Option<TokenKind> {
        self.peek().map(|t| t.kind)
    }

    fn text(&self, token: Token) -> &'a str {
        &self.sql[token.start..token.end]
    }

    fn peek_text(&self) -> &'a str {
        self.peek().map_or("", |t| self.text(t))
    }

    /// From the current token to the end of the statement.
    fn rest_text(&self) -> &'a str {
        self.peek().map_or("", |t| self.sql[t.start..].trim())
    }

    /// The current token upper-cased, when it is a bare word.
    fn peek_keyword(&self) -> Option<String> {
        self.peek_keyword_at(0)
    }

    fn peek_keyword_at(&self, ahead: usize) -> Option<String> {
        self.peek_at(ahead)
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(t).to_ascii_uppercase())
    }

    /// The bare words from here on, upper-cased.
    fn remaining_words(&self) -> Vec<String> {
        self.tokens[self.pos..]
            .iter()
            .filter(|t| t.kind == TokenKind::Word)
            .map(|t| self.text(*t).to_ascii_uppercase())
            .collect()
    }

    /// Whether `word` appears from here on outside parentheses.
    fn has_top_level_word(&self, word: &str) -> bool {
        let mut depth = 0usize;
        self.tokens[self.pos..].iter().any(|t| {
            match t.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            depth == 0 && t.is_word(self.sql, word)
        })
    }

    fn advance(&mut self) {
        self.pos += 1;
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn at(&self, word: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.sql, word))
    }

    fn at_punct(&self, punct: &str) -> bool {
        self.peek().is_some_and(|t| {
            t.kind != TokenKind::Word && t.kind != TokenKind::Quoted && self.text(t) == punct
        })
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self.at(word);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Eats all of `words` in sequence, or none of them.
    fn eat_all(&mut self, words: &[&str]) -> bool {
        let matches = words
            .iter()
            .enumerate()
            .all(|(i, word)| self.peek_at(i).is_some_and(|t| t.is_word(self.sql, word)));
        if matches {
            self.pos += words.len();
        }
        matches
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = self.at_punct(punct);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, word: &str) -> Step {
        if self.eat(word) {
            Ok(())
        } else {
            unsupported(format!("expected {word} at `{}`", self.rest_text()))
        }
    }

    fn expect_end(&self) -> Step {
        if self.at_end() {
            Ok(())
        } else {
            unsupported(format!("`{}` is not modelled", self.rest_text()))
        }
    }

    /// An identifier: a bare word (folded to lower case) or a `"quoted"` name.
    fn ident(&mut self) -> Step<String> {
        let Some(token) = self.peek() else {
            return unsupported("expected a name at the end of the statement");
        };
        let text = self.text(token);
        let name = match token.kind {
            TokenKind::Word if !text.starts_with(|c: char| c.is_ascii_digit()) => {
                fold_identifier(text)
            }
            TokenKind::Quoted if text.starts_with('"') => {
                let name = unquote_identifier(text);
                if name.is_empty() {
                    return invalid("zero-length delimited identifier");
                }
                name
            }
            _ => return unsupported(format!("expected a name at `{}`", self.rest_text())),
        };
        self.pos += 1;
        Ok(name)
    }

    /// A string literal `'…'` (doubled quotes undone).
    fn string_literal(&mut self) -> Step<String> {
        let Some(token) = self.peek() else {
            return unsupported("expected a string literal at the end of the statement");
        };
        let text = self.text(token);
        if token.kind != TokenKind::Quoted || !text.starts_with('\'') || text.len() < 2 {
            return unsupported(format!(
                "expected a string literal at `{}`",
                self.rest_text()
            ));
        }
        self.pos += 1;
        Ok(text[1..text.len() - 1].replace("''", "'"))
    }

    /// A table name, possibly qualified by the `public` schema (the only one modelled).
    fn table_name(&mut self) -> Step<String> {
        let first = self.ident()?;
        if self.at_punct(".") {
            self.pos += 1;
            let second = self.ident()?;
            if first != "public" {
                return unsupported(format!(
                    "schema {} is not modelled: qvdiff models the public schema",
                    quote_ident(&first)
                ));
            }
            return Ok(second);
        }
        Ok(first)
    }

    /// `name [, name …]`.
    fn name_list(&mut self) -> Step<Vec<String>> {
        let mut names = vec![self.table_name()?];
        while self.eat_punct(",") {
            names.push(self.table_name()?);
        }
        Ok(names)
    }

    /// `[CASCADE | RESTRICT]`: whether it cascades.
    fn drop_behavior(&mut self) -> Step<bool> {
        if self.eat("CASCADE") {
            return Ok(true);
        }
        self.eat("RESTRICT");
        Ok(false)
    }

    /// `(a, b, …)`.
    fn ident_list(&mut self) -> Step<Vec<String>> {
        if !self.eat_punct("(") {
            return unsupported(format!("expected `(` at `{}`", self.rest_text()));
        }
        let mut names = vec![self.ident()?];
        loop {
            if self.eat_punct(",") {
                names.push(self.ident()?);
            } else if self.eat_punct(")") {
                return Ok(names);
            } else {
                return unsupported(format!(
                    "expected a column name list at `{}`",
                    self.rest_text()
                ));
            }
        }
    }

    /// Consumes `( … )` and returns the byte span inside the parentheses.
    fn paren_body(&mut self) -> Step<(usize, usize)> {
        let Some(open) = self.peek().filter(|t| t.kind == TokenKind::Open) else {
            return unsupported(format!("expected `(` at `{}`", self.rest_text()));
        };
        let mut depth = 0usize;
        while let Some(token) = self.peek() {
            self.pos += 1;
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok((open.end, token.start));
                    }
                }
                _ => {}
            }
        }
        unsupported("unbalanced parentheses")
    }

    /// Consumes an expression: tokens up to a `,` or `)` outside parentheses, the end, or one of
    /// `stop` words outside parentheses (`NOT` only as `NOT NULL`, not `IS NOT NULL`). Returns
    /// its byte span.
    fn expr_span(&mut self, stop: &[&str]) -> (usize, usize) {
        let start = self.peek().map_or(self.sql.len(), |t| t.start);
        let mut end = start;
        let mut depth = 0usize;
        let mut first = true;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::Open => depth += 1,
                TokenKind::Close if depth == 0 => break,
                TokenKind::Close => depth -= 1,
                _ if depth == 0 && self.text(token) == "," => break,
                TokenKind::Word if depth == 0 && !first => {
                    let word = self.text(token).to_ascii_uppercase();
                    if stop.contains(&word.as_str()) {
                        let is_not_null = word != "NOT"
                            || (self.peek_keyword_at(1).as_deref() == Some("NULL")
                                && !self
                                    .pos
                                    .checked_sub(1)
                                    .and_then(|i| self.tokens.get(i))
                                    .is_some_and(|t| t.is_word(self.sql, "IS")));
                        if is_not_null {
                            break;
                        }
                    }
                }
                _ => {}
            }
            first = false;
            end = token.end;
            self.pos += 1;
        }
        (start, end)
    }

    /// Consumes a column type: words, parenthesized modifiers and `[]` up to the first column
    /// constraint word, `,` or `)`. Returns its byte span.
    fn type_span(&mut self) -> (usize, usize) {
        let start = self.peek().map_or(self.sql.len(), |t| t.start);
        let mut end = start;
        while let Some(token) = self.peek() {
            match token.kind {
                TokenKind::Open => {
                    if self.paren_body().is_err() {
                        break;
                    }
                    end = self.tokens[self.pos - 1].end;
                    continue;
                }
                TokenKind::Close => break,
                TokenKind::Word => {
                    let word = self.text(token).to_ascii_uppercase();
                    if COLUMN_CONSTRAINT_WORDS.contains(&word.as_str()) || word == "USING" {
                        break;
                    }
                }
                _ if self.text(token) == "," => break,
                _ => {}
            }
            end = token.end;
            self.pos += 1;
        }
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qvdiff_core::DefaultValue;

    fn model(sql: &str) -> Schema {
        model_chain([("r1", sql)]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(sql: &str) -> ModelError {
        match model_chain([("r1", sql)]) {
            Ok(schema) => panic!("modelled without error: {schema:?}"),
            Err(e) => e,
        }
    }

    fn table<'s>(schema: &'s Schema, name: &str) -> &'s Table {
        schema
            .table(name)
            .unwrap_or_else(|| panic!("no table {name} in {schema:?}"))
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const USERS: &str = r#"CREATE TABLE "users" (
    "id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,
    "email" varchar(200) NOT NULL,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "users_email_key" UNIQUE ("email")
);
"#;

    const ITEMS: &str = r#"CREATE TABLE "items" (
    "id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,
    "user_id" bigint NOT NULL,
    "title" varchar(200) NOT NULL DEFAULT 'x',
    "notes" text,
    "price" numeric(10, 2) DEFAULT -1.5,
    "seen" timestamp DEFAULT current_timestamp,
    CONSTRAINT "items_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "items_user_id_title_key" UNIQUE ("user_id", "title"),
    CONSTRAINT "uq_notes" UNIQUE ("notes"),
    CONSTRAINT "items_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE ON UPDATE NO ACTION,
    CONSTRAINT "price_positive" CHECK (price > 0)
);
CREATE INDEX "ix_items_title" ON "items" ("title", "notes");
CREATE UNIQUE INDEX CONCURRENTLY "ix_items_notes" ON "items" ("notes");
"#;

    fn base() -> String {
        format!("{USERS}{ITEMS}")
    }

    #[test]
    fn create_table_and_index_as_the_planner_writes_them() {
        let schema = model(&base());
        let items = table(&schema, "items");
        let mut id = Column::new("id", ColumnType::Integer { bits: 64 });
        id.autoincrement = true;
        let mut title = Column::new(
            "title",
            ColumnType::Text {
                max_length: Some(200),
            },
        );
        title.default = Some(DefaultValue::Text("x".into()));
        let price = Column {
            nullable: true,
            default: Some(DefaultValue::Float(-1.5)),
            ..Column::new(
                "price",
                ColumnType::Decimal {
                    precision: Some(10),
                    scale: Some(2),
                },
            )
        };
        let seen = Column {
            nullable: true,
            default: Some(DefaultValue::Sql("CURRENT_TIMESTAMP".into())),
            ..Column::new("seen", ColumnType::DateTime)
        };
        let expected = Table {
            primary_key: strings(&["id"]),
            uniques: vec![
                Unique {
                    name: None,
                    columns: strings(&["user_id", "title"]),
                },
                Unique {
                    name: Some("uq_notes".into()),
                    columns: strings(&["notes"]),
                },
            ],
            indexes: vec![
                Index {
                    name: "ix_items_notes".into(),
                    columns: strings(&["notes"]),
                    unique: true,
                },
                Index {
                    name: "ix_items_title".into(),
                    columns: strings(&["title", "notes"]),
                    unique: false,
                },
            ],
            foreign_keys: vec![ForeignKey {
                columns: strings(&["user_id"]),
                ref_table: "users".into(),
                ref_columns: strings(&["id"]),
                on_delete: FkAction::Cascade,
                on_update: FkAction::NoAction,
            }],
            checks: vec![Check {
                name: "price_positive".into(),
                expr: "price > 0".into(),
            }],
            ..Table::new(
                "items",
                vec![
                    id,
                    Column::new("user_id", ColumnType::Integer { bits: 64 }),
                    title,
                    Column {
                        nullable: true,
                        ..Column::new("notes", ColumnType::Text { max_length: None })
                    },
                    price,
                    seen,
                ],
            )
        };
        let mut expected = expected;
        expected.normalize();
        assert_eq!(items, &expected);
        assert_eq!(schema.tables.len(), 2);
    }

    #[test]
    fn every_alter_column_form() {
        let sql = format!(
            "{}{}",
            base(),
            r#"ALTER TABLE "items" ADD COLUMN "qty" integer NOT NULL DEFAULT 1;
ALTER TABLE "items" ADD COLUMN "flag" boolean DEFAULT true;
ALTER TABLE "items" ALTER COLUMN "qty" TYPE bigint USING "qty"::bigint;
ALTER TABLE "items" ALTER COLUMN "notes" SET NOT NULL;
ALTER TABLE "items" ALTER COLUMN "title" DROP NOT NULL;
ALTER TABLE "items" ALTER COLUMN "notes" SET DEFAULT 'n';
ALTER TABLE "items" ALTER COLUMN "title" DROP DEFAULT;
ALTER TABLE "items" ALTER COLUMN "id" DROP IDENTITY;
ALTER TABLE "items" ALTER COLUMN "user_id" ADD GENERATED BY DEFAULT AS IDENTITY;
ALTER TABLE "items" ALTER COLUMN "flag" SET DEFAULT NULL;
"#
        );
        let schema = model(&sql);
        let items = table(&schema, "items");
        let column = |name: &str| items.column(name).expect(name);
        assert_eq!(column("qty").ty, ColumnType::Integer { bits: 64 });
        assert_eq!(column("qty").default, Some(DefaultValue::Integer(1)));
        assert!(!column("qty").nullable);
        assert!(!column("notes").nullable);
        assert_eq!(
            column("notes").default,
            Some(DefaultValue::Text("n".into()))
        );
        assert!(column("title").nullable);
        assert_eq!(column("title").default, None);
        assert!(!column("id").autoincrement);
        assert!(!column("id").nullable, "NOT NULL stays after DROP IDENTITY");
        assert!(column("user_id").autoincrement);
        assert_eq!(column("flag").default, None, "DEFAULT NULL is no default");
        assert_eq!(items.columns.last().map(|c| c.name.as_str()), Some("flag"));
    }

    #[test]
    fn add_and_drop_every_constraint_kind() {
        let sql = format!(
            "{}{}",
            base(),
            r#"ALTER TABLE "items" DROP CONSTRAINT "items_user_id_fkey";
ALTER TABLE "items" DROP CONSTRAINT "uq_notes";
ALTER TABLE "items" DROP CONSTRAINT "price_positive";
ALTER TABLE "items" DROP CONSTRAINT "items_pkey";
ALTER TABLE "items" ADD CONSTRAINT "items_pkey" PRIMARY KEY ("id", "user_id");
ALTER TABLE "items" ADD CONSTRAINT "items_title_key" UNIQUE ("title");
ALTER TABLE "items" ADD CONSTRAINT "fk_owner" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE SET NULL ON UPDATE RESTRICT;
ALTER TABLE "items" ADD CONSTRAINT "title_long" CHECK ((length(title) > 3));
"#
        );
        let schema = model(&sql);
        let items = table(&schema, "items");
        assert_eq!(items.primary_key, strings(&["id", "user_id"]));
        assert_eq!(
            items.uniques,
            vec![
                Unique {
                    name: None,
                    columns: strings(&["title"])
                },
                Unique {
                    name: None,
                    columns: strings(&["user_id", "title"])
                },
            ]
        );
        assert_eq!(items.foreign_keys.len(), 1);
        assert_eq!(items.foreign_keys[0].on_delete, FkAction::SetNull);
        assert_eq!(items.foreign_keys[0].on_update, FkAction::Restrict);
        assert_eq!(
            items.checks,
            vec![Check {
                name: "title_long".into(),
                expr: "(length(title) > 3)".into()
            }]
        );
    }

    #[test]
    fn column_renames_reach_every_reference() {
        let sql = format!(
            "{}{}",
            base(),
            r#"ALTER TABLE "users" RENAME COLUMN "id" TO "user pk";
ALTER TABLE "items" RENAME COLUMN "title" TO "heading";
ALTER TABLE "items" RENAME COLUMN "price" TO "cost";
ALTER TABLE "items" RENAME COLUMN "id" TO "item_id";
"#
        );
        let schema = model(&sql);
        let users = table(&schema, "users");
        assert_eq!(users.primary_key, strings(&["user pk"]));
        let items = table(&schema, "items");
        assert_eq!(items.primary_key, strings(&["item_id"]));
        assert_eq!(items.foreign_keys[0].ref_columns, strings(&["user pk"]));
        // The unique keeps its name, which is no longer the default one for its columns.
        assert!(items.uniques.contains(&Unique {
            name: Some("items_user_id_title_key".into()),
            columns: strings(&["user_id", "heading"]),
        }));
        let index = items.indexes.iter().find(|i| i.name == "ix_items_title");
        assert_eq!(
            index.map(|i| i.columns.clone()),
            Some(strings(&["heading", "notes"]))
        );
        assert_eq!(items.checks[0].expr, "cost > 0");
    }

    #[test]
    fn table_renames_reach_foreign_keys_and_default_names() {
        let sql = format!(
            "{}{}",
            base(),
            r#"ALTER TABLE "users" RENAME TO "people";
ALTER TABLE "items" RENAME TO "things";
ALTER TABLE "things" RENAME CONSTRAINT "items_user_id_title_key" TO "things_user_id_title_key";
ALTER TABLE "things" RENAME CONSTRAINT "uq_notes" TO "things_notes_key";
ALTER INDEX "ix_items_title" RENAME TO "ix_things_title";
ALTER INDEX "items_pkey" RENAME TO "things_pkey";
ALTER TABLE "things" DROP CONSTRAINT "things_pkey";
"#
        );
        let schema = model(&sql);
        let things = table(&schema, "things");
        assert_eq!(things.foreign_keys[0].ref_table, "people");
        assert!(things.primary_key.is_empty());
        assert!(things.uniques.iter().all(|u| u.name.is_none()));
        assert!(things.indexes.iter().any(|i| i.name == "ix_things_title"));
        assert_eq!(
            table(&schema, "people").uniques,
            vec![Unique {
                name: Some("users_email_key".into()),
                columns: strings(&["email"])
            }]
        );
    }

    #[test]
    fn dropped_columns_take_their_indexes_and_constraints() {
        let sql = format!(
            "{}{}",
            base(),
            r#"ALTER TABLE "items" DROP COLUMN "notes";
ALTER TABLE "items" DROP COLUMN "price";
ALTER TABLE "items" DROP COLUMN "title";
"#
        );
        let schema = model(&sql);
        let items = table(&schema, "items");
        assert!(items.indexes.is_empty(), "{:?}", items.indexes);
        assert!(items.uniques.is_empty());
        assert!(items.checks.is_empty());
        assert_eq!(items.foreign_keys.len(), 1);
        assert_eq!(items.columns.len(), 3);
    }

    #[test]
    fn drops_that_other_tables_depend_on_need_cascade() {
        for statement in [
            r#"DROP TABLE "users";"#,
            r#"ALTER TABLE "users" DROP COLUMN "id";"#,
            r#"ALTER TABLE "users" DROP CONSTRAINT "users_pkey";"#,
        ] {
            let e = error(&format!("{}{statement}", base()));
            assert_eq!(e.kind, ModelErrorKind::Invalid, "{e}");
            assert!(e.message.contains("items_user_id_fkey"), "{e}");
            let cascade = statement.replace(';', " CASCADE;");
            let schema = model(&format!("{}{cascade}", base()));
            assert!(table(&schema, "items").foreign_keys.is_empty(), "{cascade}");
        }
        let schema = model(&format!("{}DROP TABLE \"items\", \"users\";", base()));
        assert!(schema.tables.is_empty());
    }

    #[test]
    fn unnamed_constraints_get_the_servers_names() {
        let schema = model(
            "create table T (ID serial primary key, A int unique, B int, check (b > a), \
             unique (a, b), foreign key (b) references t (a));
             create index on t (a);
             create index on t (a);
             alter table t add column c int check (c > 0);",
        );
        let t = table(&schema, "t");
        assert_eq!(t.primary_key, strings(&["id"]));
        assert!(t
            .column("id")
            .is_some_and(|c| c.autoincrement && c.default.is_none()));
        assert_eq!(
            t.uniques,
            vec![
                Unique {
                    name: None,
                    columns: strings(&["a"])
                },
                Unique {
                    name: None,
                    columns: strings(&["a", "b"])
                },
            ]
        );
        let names: Vec<&str> = t.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["t_a_idx", "t_a_idx1"]);
        let checks: Vec<&str> = t.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(checks, ["t_b_check", "t_c_check"]);
        let model = SchemaModel::from_chain([(
            "r1",
            "create table t (a int primary key); create table t_pkey1 (x int);
             alter table t drop constraint t_pkey; create table t_pkey (y int);
             alter table t add primary key (a);",
        )])
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(model.tables["t"]
            .constraints
            .iter()
            .any(|c| c.name == "t_pkey2"));
    }

    #[test]
    fn long_names_are_cut_as_the_server_cuts_them() {
        assert_eq!(make_object_name("t", Some("a_b"), "key"), "t_a_b_key");
        let long = "x".repeat(70);
        let name = make_object_name(&long, Some(&long), "fkey");
        assert_eq!(name.len(), MAX_IDENTIFIER_BYTES);
        assert!(name.ends_with("_fkey"));
        assert_eq!(fold_identifier(&"A".repeat(70)), "a".repeat(63));
    }

    #[test]
    fn statements_qvdiff_does_not_write_are_refused_with_their_line() {
        let e = error("CREATE TABLE t (a int);\n\n  -- a view\n  CREATE VIEW v AS\n  SELECT 1;");
        assert_eq!(e.kind, ModelErrorKind::Unsupported);
        assert_eq!(e.line, 4);
        assert_eq!(e.revision.as_deref(), Some("r1"));
        assert_eq!(e.statement, "CREATE VIEW v AS SELECT 1");
        let shown = e.to_string();
        assert!(
            shown.starts_with(
                "revision r1: line 4: cannot model `CREATE VIEW v AS SELECT 1` without a server:"
            ),
            "{shown}"
        );
        assert!(shown.contains("hint: qvdiff models only the DDL it writes itself"));
        for sql in [
            "ALTER TABLE t OWNER TO bob",
            "DO $$ BEGIN PERFORM 1; END $$",
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
            "CREATE INDEX ix ON t (lower(a))",
            "CREATE TABLE other.t (a int)",
            "SET search_path TO other",
            "ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS (a * 2) STORED",
            "ALTER TABLE t ALTER COLUMN a SET STATISTICS 100",
            "CREATE TEMP TABLE x (a int)",
            "SELECT * INTO copy FROM t",
            "CREATE EXTENSION pgcrypto",
        ] {
            let e = error(&format!("CREATE TABLE t (a int);\n{sql};"));
            assert_eq!(e.kind, ModelErrorKind::Unsupported, "{sql}: {e}");
            assert_eq!(e.line, 2, "{sql}");
        }
    }

    #[test]
    fn statements_the_server_would_reject_say_why() {
        let e = error(r#"ALTER TABLE "nope" ADD COLUMN "a" int;"#);
        assert_eq!(e.kind, ModelErrorKind::Invalid);
        assert_eq!(
            e.to_string(),
            "revision r1: line 1: `ALTER TABLE \"nope\" ADD COLUMN \"a\" int` would fail: \
             relation \"nope\" does not exist"
        );
        let e = error(&format!(
            "{}\nALTER TABLE \"items\" DROP COLUMN \"x\";",
            base()
        ));
        assert!(e
            .message
            .contains("column \"x\" of relation \"items\" does not exist"));
        assert_eq!(e.line, 23);
        let e = error(&format!(
            "{}ALTER TABLE \"items\" DROP CONSTRAINT \"x\";",
            base()
        ));
        assert!(e.message.contains("constraint \"x\""), "{e}");
    }

    #[test]
    fn data_statements_and_quoted_semicolons_change_nothing() {
        let sql = format!(
            "{}{}",
            base(),
            "-- a comment; DROP TABLE users;\n\
             /* block; /* nested; */ DROP TABLE users; */\n\
             INSERT INTO users (email) VALUES ('a;b'), ($$DROP TABLE users;$$), ($x$;$x$);\n\
             UPDATE items SET notes = E'it\\'s; here' WHERE id = 1;\n\
             DELETE FROM items;\n\
             SELECT 1;\n\
             SELECT a FROM (SELECT 1 AS a) s WHERE a IN (SELECT 1);\n\
             COPY users TO STDOUT;\n\
             COMMENT ON COLUMN items.notes IS 'x; y';\n\
             CREATE TABLE \"a;b\" (\"c;d\" text DEFAULT 'e;f');\n\
             INSERT INTO qvdiff_migrations VALUES ('1');\n\
             CREATE TABLE IF NOT EXISTS qvdiff_migrations (revision text);\n"
        );
        let schema = model(&sql);
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a;b", "items", "users"]);
        let column = table(&schema, "a;b").column("c;d").cloned();
        assert_eq!(
            column.and_then(|c| c.default),
            Some(DefaultValue::Text("e;f".into()))
        );
    }

    #[test]
    fn a_chain_error_names_its_revision() {
        let e = match model_chain([("001", USERS), ("002", "DROP TABLE \"nope\";")]) {
            Ok(_) => panic!("modelled"),
            Err(e) => e,
        };
        assert_eq!(e.revision.as_deref(), Some("002"));
        assert_eq!(e.line, 1);
    }

    #[test]
    fn apply_sql_starts_from_a_schema_with_qvdiffs_names() {
        let mut schema = model(&base());
        let before = schema.clone();
        apply_sql(
            &mut schema,
            r#"ALTER TABLE "items" DROP CONSTRAINT "items_user_id_fkey";
ALTER TABLE "users" DROP CONSTRAINT "users_pkey";"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(table(&schema, "users").primary_key.is_empty());
        assert!(table(&schema, "items").foreign_keys.is_empty());
        // A failing section leaves the schema as it was.
        let mut unchanged = before.clone();
        let result = apply_sql(
            &mut unchanged,
            "DROP INDEX \"ix_items_title\"; DROP TABLE \"users\";",
        );
        assert!(result.is_err());
        assert_eq!(unchanged, before);
        // The foreign key relies on the users primary key, also when read from a Schema.
        let mut dependent = before.clone();
        assert!(apply_sql(&mut dependent, "DROP INDEX \"users_pkey\";").is_err());
        assert!(apply_sql(
            &mut dependent,
            "ALTER TABLE \"users\" DROP CONSTRAINT \"users_pkey\";"
        )
        .is_err());
    }

    #[test]
    fn expression_renames_quote_only_when_needed() {
        assert_eq!(
            rename_in_expression("price > 0 AND t.price < \"price\"", "price", "cost"),
            "cost > 0 AND t.cost < cost"
        );
        assert_eq!(rename_in_expression("a > 0", "a", "Big"), "\"Big\" > 0");
        assert_eq!(rename_in_expression("a > 0", "a", "user"), "\"user\" > 0");
        assert_eq!(rename_in_expression("a(a)::a", "a", "b"), "a(b)::a");
        assert_eq!(
            referenced_columns(
                "length(title) > n AND 'n' <> x",
                &strings(&["n", "title", "x"])
            ),
            strings(&["title", "n", "x"])
        );
    }

    #[test]
    fn any_prefix_of_a_script_is_an_answer_not_a_panic() {
        let sql = format!(
            "{}{}",
            base(),
            "ALTER TABLE items ADD COLUMN q int CONSTRAINT nn NOT NULL UNIQUE, \
             ALTER COLUMN notes TYPE varchar(3) USING substr(notes, 1, 3); \
             CREATE UNIQUE INDEX ON items (q) INCLUDE (notes) WHERE q > 0; \
             ALTER TABLE items RENAME CONSTRAINT price_positive TO pp; \
             DROP TABLE IF EXISTS items, users CASCADE;"
        );
        let mut cut = 0;
        while cut < sql.len() {
            let _ = model_chain([("r1", &sql[..cut])]);
            cut += sql[cut..].chars().next().map_or(1, char::len_utf8);
        }
        let whole =
            SchemaModel::from_chain([("r1", &sql[..sql.find("DROP TABLE IF").unwrap_or(0)])])
                .unwrap_or_else(|e| panic!("{e}"));
        let items = &whole.tables["items"];
        assert!(
            items.constraints.iter().any(|c| c.name == "items_q_key"),
            "{items:?}"
        );
        assert!(model(&sql).tables.is_empty());
    }

    #[test]
    fn defaults_read_as_introspection_reads_them() {
        assert_eq!(canonical_default("current_timestamp"), "CURRENT_TIMESTAMP");
        assert_eq!(canonical_default("NOW()"), "now()");
        assert_eq!(canonical_default("gen_random_uuid()"), "gen_random_uuid()");
        assert!(is_null_literal("NULL"));
        assert!(is_null_literal("(null)"));
        assert!(is_null_literal("NULL::text"));
        assert!(!is_null_literal("'NULL'"));
        assert!(!is_null_literal("nullif(a, b)"));
    }
}
