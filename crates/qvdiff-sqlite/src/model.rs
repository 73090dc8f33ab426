//! A pure model of the schema SQLite builds from the plain DDL qvdiff writes.
//!
//! SQLite parses every `CREATE` three times (the statement, the nested `sqlite_master` insert,
//! the schema reload) and scans `sqlite_master` for each: replaying a 1000-table history or
//! proving its initial migration was most of a cold `check` or `migrate`, even in parts. The
//! statements qvdiff's renderer writes for tables and indexes — `CREATE TABLE` without CHECKs or
//! expression defaults, `CREATE [UNIQUE] INDEX`, `DROP TABLE`, `DROP INDEX`, `ALTER TABLE …
//! ADD COLUMN` — are interpreted here instead, into the schema [`crate::introspect`] would read
//! and the `sqlite_master` rows [`crate::stored_objects`] would list (an added column spliced
//! into the stored `CREATE TABLE` text where SQLite puts it).
//!
//! Two rules keep it exact:
//! - A statement is accepted only when rendering what was read from it gives back its text byte
//!   for byte, so the reading is never looser than the writer: a hand-written spelling, a
//!   comment inside a statement, an option the renderer never writes, all fall outside.
//! - It is an accelerator, never the judge of a failure. A statement SQLite would refuse (a
//!   taken or reserved name, an unknown column, a foreign key whose parent key is not a key) or
//!   any statement outside the model makes the caller run SQLite, so every error a user sees is
//!   SQLite's own. The property suite (`tests/property.rs`) holds the model to SQLite on every
//!   generated history and on deliberately wrong down sections.

use crate::introspect::{is_internal_table, is_sqlite_table};
use crate::partition::{parent_keys_resolve, run_in_parallel, StoredObject};
use crate::render::{
    column_definition, create_index_sql, create_table_statement, parse_declared_type,
    parse_default, quote_ident, references_clause,
};
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::{Column, ColumnType, FkAction, ForeignKey, Index, Schema, Table, Unique};
use std::collections::{BTreeMap, HashMap, HashSet};

/// SQLite's default limit on the columns of a table (`SQLITE_MAX_COLUMN`).
const MAX_COLUMNS: usize = 2000;

/// Words that end a column's declared type: the column constraints SQLite knows.
const COLUMN_CONSTRAINT_WORDS: [&str; 11] = [
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
];

/// The words of a declared type the model takes: qvdiff's own types and common SQL spellings
/// (none is an SQLite keyword).
const TYPE_WORDS: [&str; 34] = [
    "INTEGER",
    "INT",
    "TINYINT",
    "SMALLINT",
    "MEDIUMINT",
    "BIGINT",
    "UNSIGNED",
    "BIG",
    "INT2",
    "INT4",
    "INT8",
    "REAL",
    "DOUBLE",
    "PRECISION",
    "FLOAT",
    "NUMERIC",
    "DECIMAL",
    "TEXT",
    "VARCHAR",
    "CHARACTER",
    "VARYING",
    "NCHAR",
    "NVARCHAR",
    "CHAR",
    "CLOB",
    "BLOB",
    "BOOLEAN",
    "BOOL",
    "DATE",
    "DATETIME",
    "TIME",
    "TIMESTAMP",
    "JSON",
    "UUID",
];

/// The tables and indexes of one database, as SQLite would hold them after the statements run
/// so far. Tables hold no rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaModel {
    /// `sqlite_master` rows by creation order (SQLite gives a new row the largest rowid).
    objects: BTreeMap<u64, StoredObject>,
    /// Every object's rowid by ASCII-lowercased name: tables and indexes share one namespace.
    names: HashMap<String, u64>,
    /// Tables by ASCII-lowercased name, normalized as introspection reads them.
    tables: HashMap<String, Table>,
    next_rowid: u64,
    /// Per table (ASCII-lowercased name): the byte offset in its stored text where SQLite
    /// inserts a column `ALTER TABLE … ADD COLUMN` adds.
    add_column_at: HashMap<String, usize>,
    /// The tokens of the statement being read, kept to reuse its allocation.
    tokens: Vec<Token>,
}

impl SchemaModel {
    /// The model of a database holding `objects` (as [`crate::stored_objects`] lists them), or
    /// `None` when any of them is outside the model.
    pub(crate) fn from_stored(objects: &[StoredObject]) -> Option<SchemaModel> {
        // Views and triggers are outside the model: known before reading any table.
        if !objects
            .iter()
            .all(|o| o.kind == "table" || o.kind == "index")
        {
            return None;
        }
        let mut model = SchemaModel::default();
        let statements: Vec<&str> = objects.iter().map(|o| o.sql.as_str()).collect();
        model.run_all(&statements)?;
        Some(model)
    }

    /// The statements of `scripts`, when every one is of a kind the model reads (`CREATE TABLE`,
    /// `CREATE [UNIQUE] INDEX`, `DROP TABLE`, `DROP INDEX`, `ALTER TABLE … ADD COLUMN`), judged
    /// by its first words: a script with any other statement is known to be outside the model
    /// before any work.
    pub(crate) fn statements_of<'a>(
        scripts: impl IntoIterator<Item = &'a str>,
    ) -> Option<Vec<&'a str>> {
        let statements: Vec<&str> = scripts
            .into_iter()
            .flat_map(sqltext::statement_texts)
            .collect();
        let read = statements.iter().all(|statement| {
            let first_words: Vec<Token> = sqltext::tokens(statement).take(5).collect();
            StatementKind::of(statement, &first_words).is_some()
        });
        read.then_some(statements)
    }

    /// Runs `scripts` as one transaction of [`crate::apply_scripts`] would: every statement,
    /// then `PRAGMA foreign_key_check`. `None` when a statement is outside the model or SQLite
    /// would refuse it; the model is then in no defined state.
    pub(crate) fn apply<'a>(&mut self, scripts: impl IntoIterator<Item = &'a str>) -> Option<()> {
        let statements = SchemaModel::statements_of(scripts)?;
        self.run_statements(&statements)
    }

    /// [`SchemaModel::apply`] of statements [`SchemaModel::statements_of`] gave.
    pub(crate) fn run_statements(&mut self, statements: &[&str]) -> Option<()> {
        self.run_all(statements)?;
        // The one check SQLite makes on tables without rows: a parent key must be a key.
        parent_keys_resolve(self.tables.values()).then_some(())
    }

    /// Runs every statement in order. Reading a `CREATE TABLE` or `CREATE INDEX` needs no other
    /// object (only adding it does), so for many statements those are read first, on all cores
    /// — the reading is nearly all of the work — and then added in order. A statement that does
    /// not read fails the run either way, so the outcome is the one-by-one run's.
    fn run_all(&mut self, statements: &[&str]) -> Option<()> {
        if statements.len() < PARALLEL_READ_MIN {
            for statement in statements {
                self.run_statement(statement)?;
            }
            return Some(());
        }
        for (statement, read) in statements.iter().zip(read_creates(statements)?) {
            match read {
                Some(created) => self.add_created(statement, created)?,
                None => self.run_statement(statement)?,
            }
        }
        Some(())
    }

    /// The schema as [`crate::introspect`] reads it: application tables only, normalized.
    pub(crate) fn schema(&self) -> Schema {
        let mut tables: Vec<Table> = self
            .tables
            .values()
            .filter(|table| !is_internal_table(&table.name))
            .cloned()
            .collect();
        // Each table is kept normalized: sorting them is all that is left to do.
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        Schema {
            tables,
            ..Schema::default()
        }
    }

    /// Every table (SQLite's and qvdiff's own included), normalized, in no order.
    pub(crate) fn tables(&self) -> impl Iterator<Item = &Table> + Clone {
        self.tables.values()
    }

    /// The stored objects as [`crate::stored_objects`] lists them: tables, then indexes, each
    /// in creation order.
    pub(crate) fn objects(&self) -> Vec<StoredObject> {
        let of_kind = |kind: &'static str| {
            self.objects
                .values()
                .filter(move |object| object.kind == kind)
                .cloned()
        };
        of_kind("table").chain(of_kind("index")).collect()
    }

    fn run_statement(&mut self, text: &str) -> Option<()> {
        let mut tokens = std::mem::take(&mut self.tokens);
        sqltext::tokenize_into(text, &mut tokens);
        let ran = match StatementKind::of(text, &tokens) {
            Some(kind @ (StatementKind::CreateTable | StatementKind::CreateIndex)) => {
                read_created(kind, text, &tokens)
                    .and_then(|created| self.add_created(text, created))
            }
            Some(StatementKind::DropTable) => self.drop_table(text, &tokens),
            Some(StatementKind::DropIndex) => self.drop_index(text, &tokens),
            Some(StatementKind::AddColumn) => self.add_column(text, &tokens),
            None => None,
        };
        self.tokens = tokens;
        ran
    }

    /// Adds what [`read_created`] read from `text`.
    fn add_created(&mut self, text: &str, created: Created) -> Option<()> {
        match created {
            Created::Table(table) => self.add_table(text, table),
            Created::Index(index, table) => self.add_index(text, index, &table),
        }
    }

    /// Adds a table [`read_create_table`] read from `text`; `None` when its name is taken.
    fn add_table(&mut self, text: &str, read: ReadTable) -> Option<()> {
        let ReadTable {
            name,
            table,
            add_column_at,
        } = read;
        self.add_object("table", &name, &name, text)?;
        self.add_column_at.insert(lower(&name), add_column_at);
        self.tables.insert(lower(&name), table);
        Some(())
    }

    /// Adds an index [`read_create_index`] read from `text` to table `table_name`; `None` when
    /// the table or a column is missing, or the name is taken.
    fn add_index(&mut self, text: &str, index: Index, table_name: &str) -> Option<()> {
        let table = self.tables.get(&lower(table_name))?;
        let index = Index {
            columns: table_columns(table, &index.columns)?,
            ..index
        };
        let stored_table = table.name.clone();
        self.add_object("index", &index.name, &stored_table, text)?;
        let indexes = &mut self.tables.get_mut(&lower(&stored_table))?.indexes;
        indexes.push(index);
        indexes.sort_by(|a, b| a.name.cmp(&b.name));
        Some(())
    }

    /// `ALTER TABLE "t" ADD COLUMN <definition> [REFERENCES …]`, as the planner writes it.
    fn add_column(&mut self, text: &str, tokens: &[Token]) -> Option<()> {
        let table_name = tokens.get(2)?.ident(text)?;
        let end = match tokens.last()?.kind {
            TokenKind::Semicolon => tokens.len() - 1,
            _ => tokens.len(),
        };
        let definition = tokens.get(5..end)?;
        let mut read = Table::new(table_name.clone(), Vec::new());
        read_column(text, definition, &mut read)?;
        let column = read.columns.pop()?;
        let key = read.foreign_keys.pop();
        let mut expected = format!("ALTER TABLE {} ADD COLUMN ", quote_ident(&table_name));
        expected.push_str(&added_column_definition(&column, key.as_ref()));
        expected.push(';');
        if !is_rendered(text, &expected) {
            return None;
        }
        // What SQLite refuses (or refuses only when the table has rows): a key, a unique, NOT
        // NULL without a default, an expression default, a foreign key with a default or to
        // more than one column.
        let refused = !read.primary_key.is_empty()
            || !column.nullable && column.default.is_none()
            || matches!(column.default, Some(qvdiff_core::DefaultValue::Sql(_)))
            || key
                .as_ref()
                .is_some_and(|key| column.default.is_some() || key.ref_columns.len() > 1);
        if refused {
            return None;
        }
        let lowered = lower(&table_name);
        let table = self.tables.get_mut(&lowered)?;
        let taken = table
            .columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&column.name));
        if taken || table.columns.len() >= MAX_COLUMNS {
            return None;
        }
        table.columns.push(column);
        table.foreign_keys.extend(key);
        table.normalize();
        // SQLite splices ", <definition>" into the stored CREATE TABLE text.
        let definition_text = &text[definition.first()?.start..definition.last()?.end];
        let rowid = *self.names.get(&lowered)?;
        let at = self.add_column_at.get_mut(&lowered)?;
        let sql = &mut self.objects.get_mut(&rowid)?.sql;
        sql.insert_str(*at, &format!(", {definition_text}"));
        *at += 2 + definition_text.len();
        Some(())
    }

    fn drop_table(&mut self, text: &str, tokens: &[Token]) -> Option<()> {
        let name = dropped_name(text, tokens, "TABLE")?;
        let table = self.tables.remove(&lower(&name))?;
        self.add_column_at.remove(&lower(&name));
        for index in &table.indexes {
            self.remove_object(&index.name);
        }
        self.remove_object(&table.name);
        Some(())
    }

    fn drop_index(&mut self, text: &str, tokens: &[Token]) -> Option<()> {
        let name = dropped_name(text, tokens, "INDEX")?;
        let rowid = *self.names.get(&lower(&name))?;
        let object = self.objects.get(&rowid)?;
        if object.kind != "index" {
            return None;
        }
        let table = self.tables.get_mut(&lower(&object.table))?;
        table
            .indexes
            .retain(|index| !index.name.eq_ignore_ascii_case(&name));
        self.remove_object(&name);
        Some(())
    }

    /// Records a new `sqlite_master` row; `None` when SQLite would refuse the name (taken by
    /// any table or index, or reserved).
    fn add_object(&mut self, kind: &str, name: &str, table: &str, text: &str) -> Option<()> {
        if is_sqlite_table(name) || self.names.contains_key(&lower(name)) {
            return None;
        }
        let rowid = self.next_rowid;
        self.next_rowid += 1;
        // SQLite stores the statement from `CREATE` to its last token: no `;`.
        let sql = text.strip_suffix(';').unwrap_or(text).to_string();
        self.objects.insert(
            rowid,
            StoredObject {
                kind: kind.to_string(),
                name: name.to_string(),
                table: table.to_string(),
                sql,
            },
        );
        self.names.insert(lower(name), rowid);
        Some(())
    }

    fn remove_object(&mut self, name: &str) {
        if let Some(rowid) = self.names.remove(&lower(name)) {
            self.objects.remove(&rowid);
        }
    }
}

/// A `CREATE TABLE` as the model reads it, before it is added.
#[derive(Debug)]
struct ReadTable {
    name: String,
    /// Normalized, with column names resolved.
    table: Table,
    /// Where SQLite inserts a column `ALTER TABLE … ADD COLUMN` adds (a byte offset).
    add_column_at: usize,
}

/// Reads a `CREATE TABLE` statement exactly as the renderer writes it (with any columns SQLite
/// spliced in for `ADD COLUMN`), or `None`. Needs no other object.
fn read_create_table(text: &str, tokens: &[Token]) -> Option<ReadTable> {
    let name = tokens.get(2)?.ident(text)?;
    if tokens.get(3)?.kind != TokenKind::Open {
        return None;
    }
    // Each definition with the token before it (`(` or `,`).
    let mut definitions: Vec<(&Token, &[Token])> = Vec::new();
    let mut depth = 0usize;
    let mut start = 4;
    let mut close = None;
    for (i, token) in tokens.iter().enumerate().skip(4) {
        match token.kind {
            TokenKind::Open => depth += 1,
            TokenKind::Close if depth == 0 => {
                definitions.push((&tokens[start - 1], &tokens[start..i]));
                close = Some(i);
                break;
            }
            TokenKind::Close => depth -= 1,
            TokenKind::Comma if depth == 0 => {
                definitions.push((&tokens[start - 1], &tokens[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    let close_at = close?;
    ends_statement(tokens, close_at + 1)?;
    let close = &tokens[close_at];
    let mut table = Table::new(name.clone(), Vec::with_capacity(definitions.len()));
    // Columns `ALTER TABLE … ADD COLUMN` appended (SQLite writes ", " and the definition
    // into the stored text), with their inline foreign keys.
    let mut added_columns = 0usize;
    let mut inline_keys = Vec::new();
    // Where SQLite inserts an added column: the `,` before the first table constraint, or
    // the closing `)`.
    let mut add_column_at = None;
    for (before, definition) in definitions {
        let columns = table.columns.len();
        let keys = table.foreign_keys.len();
        read_definition(text, definition, &mut table)?;
        let is_column = table.columns.len() > columns;
        let appended = text.get(before.end..definition.first()?.start) == Some(" ");
        match (is_column, appended) {
            (true, true) if add_column_at.is_none() => {
                added_columns += 1;
                inline_keys.extend(keys..table.foreign_keys.len());
            }
            // A column after the appended ones or after the constraints is not a shape
            // SQLite's storage or the renderer makes.
            (true, false) if added_columns == 0 && add_column_at.is_none() => {}
            (false, false) => {
                add_column_at.get_or_insert(before.start);
            }
            _ => return None,
        }
    }
    let add_column_at = add_column_at.unwrap_or(close.start);
    // Without added columns the text is the table's own rendering (the common case: no copy).
    let expected = if added_columns == 0 {
        create_table_statement(&table, &name)
    } else {
        let mut base = table.clone();
        let added = base.columns.split_off(base.columns.len() - added_columns);
        let (inline, table_level): (Vec<_>, Vec<_>) = std::mem::take(&mut base.foreign_keys)
            .into_iter()
            .enumerate()
            .partition(|(i, _)| inline_keys.contains(i));
        base.foreign_keys = table_level.into_iter().map(|(_, key)| key).collect();
        let mut appended = String::new();
        for column in &added {
            appended.push_str(", ");
            let key = inline
                .iter()
                .map(|(_, key)| key)
                .find(|key| key.columns == [column.name.clone()]);
            appended.push_str(&added_column_definition(column, key));
        }
        let rendered = create_table_statement(&base, &name);
        let at = add_column_at.checked_sub(appended.len())?;
        format!("{}{appended}{}", rendered.get(..at)?, rendered.get(at..)?)
    };
    if !is_rendered(text, &expected) {
        return None;
    }
    let mut table = resolve_table(table)?;
    // `normalize_table` would leave it as it is but for the order of its constraints: each
    // type and default is what reading its own rendering gives (the text matched), and
    // what it merges or resets (repeated uniques, AUTOINCREMENT off the rowid) was refused.
    table.normalize();
    Some(ReadTable {
        name,
        table,
        add_column_at,
    })
}

/// Reads a `CREATE [UNIQUE] INDEX` statement exactly as the renderer writes it: the index (its
/// columns as written) and its table's name, or `None`. Needs no other object.
fn read_create_index(text: &str, tokens: &[Token]) -> Option<(Index, String)> {
    let unique = tokens.get(1)?.is_word(text, "UNIQUE");
    let at = if unique { 3 } else { 2 };
    let name = tokens.get(at)?.ident(text)?;
    if !tokens.get(at + 1)?.is_word(text, "ON") {
        return None;
    }
    let table_name = tokens.get(at + 2)?.ident(text)?;
    let (columns, next) = ident_list(text, tokens, at + 3)?;
    ends_statement(tokens, next)?;
    let index = Index {
        name,
        columns,
        unique,
    };
    is_rendered(text, &create_index_sql(&table_name, &index)).then_some((index, table_name))
}

/// A `CREATE TABLE` or `CREATE INDEX` statement of that `kind` read (`None` when it does not
/// read, or for any other kind). Needs no other object.
fn read_created(kind: StatementKind, text: &str, tokens: &[Token]) -> Option<Created> {
    match kind {
        StatementKind::CreateTable => read_create_table(text, tokens).map(Created::Table),
        StatementKind::CreateIndex => {
            read_create_index(text, tokens).map(|(index, table)| Created::Index(index, table))
        }
        _ => None,
    }
}

/// A `CREATE TABLE` or `CREATE INDEX` as the model reads it, before it is added.
enum Created {
    Table(ReadTable),
    /// The index and its table's name.
    Index(Index, String),
}

/// Below this many statements, reading them on other threads costs more than it saves.
const PARALLEL_READ_MIN: usize = 256;

/// Each `CREATE TABLE` and `CREATE INDEX` of `statements` read (`None` for other statements),
/// on all cores; `None` when one of them does not read.
fn read_creates(statements: &[&str]) -> Option<Vec<Option<Created>>> {
    // Runs of statements, so that each run reuses one token buffer.
    let runs: Vec<&[&str]> = statements.chunks(64).collect();
    let read_run = |run: &&[&str]| -> Option<Vec<Option<Created>>> {
        let mut tokens = Vec::new();
        run.iter()
            .map(|text| {
                sqltext::tokenize_into(text, &mut tokens);
                match StatementKind::of(text, &tokens) {
                    Some(kind @ (StatementKind::CreateTable | StatementKind::CreateIndex)) => {
                        read_created(kind, text, &tokens).map(Some)
                    }
                    _ => Some(None),
                }
            })
            .collect()
    };
    let mut read = Vec::with_capacity(statements.len());
    for run in run_in_parallel(&runs, read_run) {
        read.extend(run?);
    }
    Some(read)
}

/// The statements the model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatementKind {
    CreateTable,
    CreateIndex,
    DropTable,
    DropIndex,
    AddColumn,
}

impl StatementKind {
    /// The kind of the statement `text` by its first words (`tokens`: at least its first five
    /// tokens), or `None` for any other statement.
    fn of(text: &str, tokens: &[Token]) -> Option<StatementKind> {
        let is = |i: usize, word: &str| tokens.get(i).is_some_and(|t| t.is_word(text, word));
        if is(0, "CREATE") && is(1, "TABLE") {
            Some(StatementKind::CreateTable)
        } else if is(0, "CREATE") && (is(1, "INDEX") || is(1, "UNIQUE") && is(2, "INDEX")) {
            Some(StatementKind::CreateIndex)
        } else if is(0, "DROP") && is(1, "TABLE") {
            Some(StatementKind::DropTable)
        } else if is(0, "DROP") && is(1, "INDEX") {
            Some(StatementKind::DropIndex)
        } else if is(0, "ALTER") && is(1, "TABLE") && is(3, "ADD") && is(4, "COLUMN") {
            Some(StatementKind::AddColumn)
        } else {
            None
        }
    }
}

/// Whether `text` is exactly what the renderer wrote (`rendered` ends in `;`; a statement
/// stored by SQLite or ending a script may have none).
fn is_rendered(text: &str, rendered: &str) -> bool {
    text == rendered || rendered.strip_suffix(';') == Some(text)
}

/// The name a `DROP TABLE` or `DROP INDEX` (`what`) statement drops, when it is written as the
/// planner writes it.
fn dropped_name(text: &str, tokens: &[Token], what: &str) -> Option<String> {
    let name = tokens.get(2)?.ident(text)?;
    ends_statement(tokens, 3)?;
    is_rendered(text, &format!("DROP {what} {};", quote_ident(&name))).then_some(name)
}

/// `Some` when nothing but an optional `;` follows position `at`.
fn ends_statement(tokens: &[Token], at: usize) -> Option<()> {
    match &tokens[at.min(tokens.len())..] {
        [] => Some(()),
        [last] if last.kind == TokenKind::Semicolon => Some(()),
        _ => None,
    }
}

/// `( "a", "b" )` starting at `at`: the names and the position after `)`.
fn ident_list(text: &str, tokens: &[Token], at: usize) -> Option<(Vec<String>, usize)> {
    if tokens.get(at)?.kind != TokenKind::Open {
        return None;
    }
    let mut names = Vec::new();
    let mut i = at + 1;
    loop {
        let token = tokens.get(i)?;
        if token.kind != TokenKind::QuotedIdent {
            return None;
        }
        names.push(token.ident(text)?);
        match tokens.get(i + 1)?.kind {
            TokenKind::Comma => i += 2,
            TokenKind::Close => return Some((names, i + 2)),
            _ => return None,
        }
    }
}

/// Reads one definition of a `CREATE TABLE` body into `table` (names as written; see
/// [`resolve_table`]). `None` for anything the renderer does not write, and for CHECKs: SQLite
/// resolves their names and functions, which only SQLite can judge.
fn read_definition(text: &str, definition: &[Token], table: &mut Table) -> Option<()> {
    let first = definition.first()?;
    let at = |i: usize, word: &str| definition.get(i).is_some_and(|t| t.is_word(text, word));
    if at(0, "PRIMARY") && at(1, "KEY") {
        let (columns, next) = ident_list(text, definition, 2)?;
        (next == definition.len() && table.primary_key.is_empty()).then_some(())?;
        table.primary_key = columns;
        return Some(());
    }
    if at(0, "CONSTRAINT") && at(2, "UNIQUE") || at(0, "UNIQUE") {
        let (name, from) = if at(0, "CONSTRAINT") {
            (Some(definition.get(1)?.ident(text)?), 3)
        } else {
            (None, 1)
        };
        let (columns, next) = ident_list(text, definition, from)?;
        (next == definition.len()).then_some(())?;
        table.uniques.push(Unique { name, columns });
        return Some(());
    }
    if at(0, "FOREIGN") && at(1, "KEY") {
        let foreign_key = read_foreign_key(text, definition)?;
        table.foreign_keys.push(foreign_key);
        return Some(());
    }
    if first.kind != TokenKind::QuotedIdent {
        return None;
    }
    read_column(text, definition, table)
}

/// `FOREIGN KEY (…) REFERENCES …`.
fn read_foreign_key(text: &str, definition: &[Token]) -> Option<ForeignKey> {
    let (columns, next) = ident_list(text, definition, 2)?;
    read_references(text, &definition[next..], columns)
}

/// `REFERENCES "t" [(…)] [ON DELETE action] [ON UPDATE action]` to the end of `tokens`: the
/// foreign key of `columns`.
fn read_references(text: &str, tokens: &[Token], columns: Vec<String>) -> Option<ForeignKey> {
    if !tokens.first()?.is_word(text, "REFERENCES") {
        return None;
    }
    let ref_table = tokens.get(1)?.ident(text)?;
    let mut i = 2;
    let mut ref_columns = Vec::new();
    if tokens.get(i).is_some_and(|t| t.kind == TokenKind::Open) {
        (ref_columns, i) = ident_list(text, tokens, i)?;
    }
    let mut foreign_key = ForeignKey {
        columns,
        ref_table,
        ref_columns,
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    };
    while i < tokens.len() {
        if !tokens[i].is_word(text, "ON") {
            return None;
        }
        let event = tokens.get(i + 1)?;
        let first = tokens.get(i + 2)?;
        // SET NULL and SET DEFAULT are two words.
        let words = if first.is_word(text, "SET") { 2 } else { 1 };
        let last = tokens.get(i + 1 + words)?;
        let action = FkAction::parse(&text[first.start..last.end])?;
        if event.is_word(text, "DELETE") {
            foreign_key.on_delete = action;
        } else if event.is_word(text, "UPDATE") {
            foreign_key.on_update = action;
        } else {
            return None;
        }
        i += 2 + words;
    }
    Some(foreign_key)
}

/// A column as `ADD COLUMN` writes it: its definition, then its foreign key inline.
fn added_column_definition(column: &Column, key: Option<&ForeignKey>) -> String {
    let mut definition = column_definition(column, false);
    if let Some(key) = key {
        definition.push(' ');
        definition.push_str(&references_clause(key));
    }
    definition
}

/// `"name" TYPE [NOT NULL] [PRIMARY KEY [AUTOINCREMENT]] [DEFAULT literal]`.
fn read_column(text: &str, definition: &[Token], table: &mut Table) -> Option<()> {
    let name = definition.first()?.ident(text)?;
    let mut i = 1;
    while definition.get(i).is_some_and(|t| {
        t.kind == TokenKind::Word && !COLUMN_CONSTRAINT_WORDS.iter().any(|w| t.is_word(text, w))
    }) {
        // SQLite reads some keywords as part of a type name and refuses others: only the
        // words of common SQL types are taken, anything else is SQLite's to judge.
        TYPE_WORDS
            .iter()
            .any(|w| definition[i].is_word(text, w))
            .then_some(())?;
        i += 1;
    }
    if i > 1 && definition.get(i).is_some_and(|t| t.kind == TokenKind::Open) {
        let close = i + definition[i..]
            .iter()
            .position(|t| t.kind == TokenKind::Close)?;
        let numbers_only = definition[i + 1..close]
            .iter()
            .all(|t| matches!(t.kind, TokenKind::Number | TokenKind::Comma));
        numbers_only.then_some(())?;
        i = close + 1;
    }
    let declared = if i > 1 {
        &text[definition[1].start..definition[i - 1].end]
    } else {
        ""
    };
    let mut column = Column {
        nullable: true,
        ..Column::new(name, parse_declared_type(declared))
    };
    let at = |i: usize, word: &str| definition.get(i).is_some_and(|t| t.is_word(text, word));
    while i < definition.len() {
        if at(i, "NOT") && at(i + 1, "NULL") {
            column.nullable = false;
            i += 2;
        } else if at(i, "PRIMARY") && at(i + 1, "KEY") {
            table.primary_key.is_empty().then_some(())?;
            table.primary_key = vec![column.name.clone()];
            i += 2;
            if at(i, "AUTOINCREMENT") {
                column.autoincrement = true;
                i += 1;
            }
        } else if at(i, "REFERENCES") {
            // Last: the rest is the clause (only an added column is written this way).
            let key = read_references(text, &definition[i..], vec![column.name.clone()])?;
            table.foreign_keys.push(key);
            i = definition.len();
        } else if at(i, "DEFAULT") {
            // A literal, a signed number or a keyword: an expression in parentheses is
            // SQLite's to judge (it must be constant).
            let value = definition.get(i + 1)?;
            let last = match value.kind {
                TokenKind::Number | TokenKind::String | TokenKind::Word => value,
                TokenKind::Other if matches!(value.text(text), "-" | "+") => {
                    let number = definition.get(i + 2)?;
                    (number.kind == TokenKind::Number).then_some(number)?
                }
                _ => return None,
            };
            // SQLite keeps the default's text as written, and introspection reads it back.
            column.default = parse_default(&text[value.start..last.end], &column.ty);
            i += if value.kind == TokenKind::Other { 3 } else { 2 };
        } else {
            return None;
        }
    }
    table.columns.push(column);
    Some(())
}

/// The table as introspection reads it from SQLite: key, unique and foreign-key columns named
/// as the table declares them. `None` where SQLite refuses the definition.
fn resolve_table(mut table: Table) -> Option<Table> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if !all_distinct(&names) || table.columns.len() > MAX_COLUMNS {
        return None;
    }
    let rowid_alias = match table.primary_key.as_slice() {
        [single] => table
            .column(single)
            .is_some_and(|c| c.ty == ColumnType::Integer { bits: 64 }),
        _ => false,
    };
    if table.columns.iter().any(|c| c.autoincrement) && !rowid_alias {
        return None; // "AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY"
    }
    table.primary_key = table_columns(&table, &table.primary_key)?;
    let key_set = column_set(&table.primary_key);
    let mut unique_sets = Vec::new();
    for i in 0..table.uniques.len() {
        let columns = table_columns(&table, &table.uniques[i].columns)?;
        // SQLite keeps one index per column list: a repeated one is not a constraint of its
        // own. Rare enough to leave to SQLite.
        let set = column_set(&columns);
        if set == key_set || unique_sets.contains(&set) {
            return None;
        }
        unique_sets.push(set);
        table.uniques[i].columns = columns;
    }
    for i in 0..table.foreign_keys.len() {
        let foreign_key = &table.foreign_keys[i];
        let lengths_agree = foreign_key.ref_columns.is_empty()
            || foreign_key.ref_columns.len() == foreign_key.columns.len();
        lengths_agree.then_some(())?;
        table.foreign_keys[i].columns = table_columns(&table, &foreign_key.columns)?;
    }
    Some(table)
}

/// `names` as `table` declares them (SQLite matches ASCII case-insensitively); `None` when one
/// is not a column or one repeats.
fn table_columns(table: &Table, names: &[String]) -> Option<Vec<String>> {
    let borrowed: Vec<&str> = names.iter().map(String::as_str).collect();
    all_distinct(&borrowed).then_some(())?;
    names
        .iter()
        .map(|name| {
            table
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.name.clone())
        })
        .collect()
}

/// Whether no two of `names` are equal, ASCII case-insensitively (as SQLite compares names).
fn all_distinct(names: &[&str]) -> bool {
    if names.len() <= 64 {
        // A table's few columns: comparing pairs allocates nothing.
        return names
            .iter()
            .enumerate()
            .all(|(i, a)| names[i + 1..].iter().all(|b| !a.eq_ignore_ascii_case(b)));
    }
    let mut seen = HashSet::new();
    names.iter().all(|name| seen.insert(lower(name)))
}

fn column_set(columns: &[String]) -> Vec<String> {
    let mut set: Vec<String> = columns.iter().map(|c| lower(c)).collect();
    set.sort();
    set
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{replay, stored_objects};
    use crate::introspect::introspect;

    /// The model and SQLite on the same scripts: both schema and stored objects.
    fn assert_same_as_sqlite(scripts: &[&str]) {
        let mut model = SchemaModel::default();
        model
            .apply(scripts.iter().copied())
            .expect("the model reads these scripts");
        let conn = replay(scripts.iter().map(|sql| ("test", *sql))).unwrap();
        assert_eq!(model.schema(), introspect(&conn).unwrap());
        assert_eq!(model.objects(), stored_objects(&conn).unwrap());
    }

    const PARENT: &str = concat!(
        "CREATE TABLE \"parent\" (\n",
        "    \"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,\n",
        "    \"code\" VARCHAR(12) NOT NULL DEFAULT 'a''b',\n",
        "    \"ratio\" REAL DEFAULT -2.5,\n",
        "    \"on\" BOOLEAN NOT NULL DEFAULT TRUE,\n",
        "    \"at\" DATETIME DEFAULT CURRENT_TIMESTAMP,\n",
        "    \"n\" BIGINT,\n",
        "    CONSTRAINT \"uq_code\" UNIQUE (\"code\")\n",
        ");",
    );
    const CHILD: &str = concat!(
        "CREATE TABLE \"child\" (\n",
        "    \"a\" INTEGER NOT NULL,\n",
        "    \"b\" TEXT NOT NULL,\n",
        "    \"parent_id\" INTEGER,\n",
        "    PRIMARY KEY (\"a\", \"b\"),\n",
        "    UNIQUE (\"b\", \"parent_id\"),\n",
        "    FOREIGN KEY (\"parent_id\") REFERENCES \"parent\" (\"id\") ON DELETE SET NULL ON UPDATE CASCADE\n",
        ");\n",
        "CREATE UNIQUE INDEX \"ix_child_b\" ON \"child\" (\"b\");\n",
        "CREATE INDEX \"ix_child_pa\" ON \"child\" (\"parent_id\", \"a\");",
    );

    #[test]
    fn reads_what_the_renderer_writes_as_sqlite_does() {
        assert_same_as_sqlite(&[PARENT, CHILD]);
        assert_same_as_sqlite(&[
            PARENT,
            CHILD,
            "DROP INDEX \"ix_child_b\";\nDROP TABLE \"parent\";",
            "CREATE TABLE \"parent\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
        ]);
    }

    const ADD_COLUMNS: &str = concat!(
        "ALTER TABLE \"child\" ADD COLUMN \"note\" TEXT DEFAULT 'x';\n",
        "ALTER TABLE \"parent\" ADD COLUMN \"up\" INTEGER REFERENCES \"parent\" (\"id\") ON DELETE CASCADE;\n",
        "ALTER TABLE \"parent\" ADD COLUMN \"size\" REAL NOT NULL DEFAULT 1.5;",
    );

    #[test]
    fn adds_columns_as_sqlite_stores_them() {
        // Into the text of a table with constraints and of one without.
        assert_same_as_sqlite(&[PARENT, CHILD, ADD_COLUMNS]);
        let bare = "CREATE TABLE \"bare\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);";
        assert_same_as_sqlite(&[
            bare,
            "ALTER TABLE \"bare\" ADD COLUMN \"a\" TEXT;\nALTER TABLE \"bare\" ADD COLUMN \"b\" BLOB;",
        ]);
        // And reads such stored text back, then adds more.
        let conn = replay([("test", PARENT), ("test", CHILD), ("test", ADD_COLUMNS)]).unwrap();
        let objects = stored_objects(&conn).unwrap();
        let mut model = SchemaModel::from_stored(&objects).expect("reads ADD COLUMN's text");
        assert_eq!(model.objects(), objects);
        assert_eq!(model.schema(), introspect(&conn).unwrap());
        let more = "ALTER TABLE \"parent\" ADD COLUMN \"last\" DATE;";
        model.apply([more]).unwrap();
        let conn = replay([
            ("test", PARENT),
            ("test", CHILD),
            ("test", ADD_COLUMNS),
            ("test", more),
        ])
        .unwrap();
        assert_eq!(model.objects(), stored_objects(&conn).unwrap());
        assert_eq!(model.schema(), introspect(&conn).unwrap());
    }

    #[test]
    fn leaves_to_sqlite_what_it_does_not_write_or_sqlite_refuses() {
        let outside = [
            // hand-written spellings
            "create table \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
            "CREATE TABLE \"t\" (\"id\" INTEGER NOT NULL PRIMARY KEY);",
            "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY -- key\n);",
            // CHECKs and expression defaults are SQLite's to judge
            "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY,\n    CHECK (id > 0)\n);",
            "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY DEFAULT (abs(1))\n);",
            // a type word SQLite may refuse (a keyword)
            "CREATE TABLE \"t\" (\n    \"id\" INT ON\n);",
            // refused by SQLite
            "CREATE TABLE \"t\" (\n    \"id\" TEXT NOT NULL PRIMARY KEY AUTOINCREMENT\n);",
            "CREATE TABLE \"t\" (\n    \"a\" INTEGER NOT NULL,\n    \"A\" INTEGER NOT NULL\n);",
            "CREATE TABLE \"sqlite_x\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
            "CREATE INDEX \"ix\" ON \"missing\" (\"id\");",
            "CREATE TABLE \"t\" (\n    \"a\" INTEGER NOT NULL,\n    FOREIGN KEY (\"b\") REFERENCES \"p\" (\"id\")\n);",
            "DROP TABLE \"missing\";",
            "ALTER TABLE \"missing\" ADD COLUMN \"x\" INTEGER;",
            // not plain DDL
            "CREATE VIEW \"v\" AS SELECT 1;",
        ];
        for sql in outside {
            assert!(SchemaModel::default().apply([sql]).is_none(), "{sql}");
        }
        let mut model = SchemaModel::default();
        model.apply([PARENT]).unwrap();
        assert!(model.apply([PARENT]).is_none(), "a taken name");
        let added = [
            // refused by SQLite, at least on a table with rows
            "ALTER TABLE \"parent\" ADD COLUMN \"code\" TEXT;",
            "ALTER TABLE \"parent\" ADD COLUMN \"x\" TEXT NOT NULL;",
            "ALTER TABLE \"parent\" ADD COLUMN \"x\" DATETIME DEFAULT CURRENT_TIMESTAMP;",
            "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER DEFAULT 1 REFERENCES \"parent\" (\"id\");",
            "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER NOT NULL PRIMARY KEY;",
            // not as the planner writes it
            "ALTER TABLE \"parent\" ADD \"x\" INTEGER;",
            "ALTER TABLE \"parent\" ADD COLUMN;",
            "CREATE TABLE \"t\" ();",
        ];
        for sql in added {
            let mut model = SchemaModel::default();
            model.apply([PARENT]).unwrap();
            assert!(model.apply([sql]).is_none(), "{sql}");
        }
        // A foreign key whose parent key is not a key fails SQLite's foreign_key_check.
        let child = "CREATE TABLE \"c\" (\n    \"p\" INTEGER,\n    FOREIGN KEY (\"p\") REFERENCES \"parent\" (\"n\")\n);";
        assert!(SchemaModel::default().apply([PARENT, child]).is_none());
        assert!(replay([("test", PARENT), ("test", child)]).is_err());
    }

    #[test]
    fn knows_what_it_reads_by_the_first_words() {
        let statements = SchemaModel::statements_of([
            PARENT,
            CHILD,
            "DROP INDEX \"ix_child_b\";\nDROP TABLE \"child\";",
        ]);
        assert_eq!(statements.map(|s| s.len()), Some(6));
        let statements = SchemaModel::statements_of([
            PARENT,
            "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER;",
        ]);
        assert_eq!(statements.map(|s| s.len()), Some(2));
        assert!(
            SchemaModel::statements_of([PARENT, "ALTER TABLE \"parent\" RENAME TO \"p\";"])
                .is_none()
        );
        assert!(SchemaModel::statements_of(["CREATE TEMP TABLE \"t\" (\"x\")"]).is_none());
        assert!(SchemaModel::default()
            .apply([PARENT, "INSERT INTO \"parent\" DEFAULT VALUES;"])
            .is_none());
    }

    #[test]
    fn every_prefix_of_a_script_is_read_as_sqlite_runs_it_or_left_to_sqlite() {
        // Cut anywhere, statements come out truncated, unbalanced or unterminated: the model
        // must never panic, and whatever it reads must be what SQLite does with the same text.
        let script = format!("{PARENT}\n{CHILD}\n{ADD_COLUMNS}\nDROP INDEX \"ix_child_b\";");
        let mut read = 0;
        for end in (0..=script.len()).filter(|&end| script.is_char_boundary(end)) {
            let prefix = &script[..end];
            let mut model = SchemaModel::default();
            if model.apply([prefix]).is_none() {
                continue;
            }
            read += 1;
            let conn = replay([("test", prefix)])
                .unwrap_or_else(|e| panic!("the model read what SQLite refuses: {e}\n{prefix}"));
            assert_eq!(model.schema(), introspect(&conn).unwrap(), "{prefix}");
            assert_eq!(model.objects(), stored_objects(&conn).unwrap(), "{prefix}");
        }
        assert!(read > 8, "only {read} prefixes were read");
    }

    /// A script of `n` parent/child table pairs (each child with its two indexes): past
    /// [`PARALLEL_READ_MIN`] statements, so its creates are read on several threads.
    fn many_tables(n: usize) -> String {
        (0..n)
            .map(|i| {
                let rename = |sql: &str| {
                    sql.replace("\"parent\"", &format!("\"parent{i}\""))
                        .replace("\"child\"", &format!("\"child{i}\""))
                        .replace("\"ix_child_", &format!("\"ix_child{i}_"))
                        .replace("\"uq_code\"", &format!("\"uq_code{i}\""))
                };
                format!("{}\n{}\n", rename(PARENT), rename(CHILD))
            })
            .collect()
    }

    #[test]
    fn many_statements_are_read_on_all_cores_as_one_by_one() {
        let script = many_tables(100);
        let statements = sqltext::statement_texts(&script);
        assert!(statements.len() >= PARALLEL_READ_MIN);
        assert_same_as_sqlite(&[&script]);
        // Stored objects read back in parallel too.
        let conn = replay([("test", script.as_str())]).unwrap();
        let objects = stored_objects(&conn).unwrap();
        let model = SchemaModel::from_stored(&objects).unwrap();
        assert_eq!(model.objects(), objects);
        // One statement that does not read, early or late, or a name taken late, fails the run
        // as it fails one by one.
        for cut in [3, statements.len() / 2, statements.len() - 1] {
            let mut edited: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
            edited[cut] = edited[cut].replace("CREATE", "CREATE  ");
            let edited: Vec<&str> = edited.iter().map(String::as_str).collect();
            assert!(SchemaModel::default().run_statements(&edited).is_none());
            let mut one_by_one = SchemaModel::default();
            assert!(edited.iter().any(|s| one_by_one.run_statement(s).is_none()));
        }
        let mut taken: Vec<&str> = statements.clone();
        taken.push(statements[0]);
        assert!(SchemaModel::default().run_statements(&taken).is_none());
    }

    #[test]
    fn starts_from_stored_objects() {
        let conn = replay([("test", PARENT), ("test", CHILD)]).unwrap();
        let objects = stored_objects(&conn).unwrap();
        let model = SchemaModel::from_stored(&objects).unwrap();
        assert_eq!(model.objects(), objects);
        assert_eq!(model.schema(), introspect(&conn).unwrap());
    }
}
