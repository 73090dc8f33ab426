//! A pure replay of the schema SQLite builds from the plain DDL qvdiff writes.
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
//!   any statement outside the replay makes the caller run SQLite, so every error a user sees is
//!   SQLite's own. The property suite (`tests/property.rs`) holds the replay to SQLite on every
//!   generated history and on deliberately wrong down sections.

use crate::introspect::{is_internal_table, is_sqlite_table};
use crate::partition::{parent_keys_resolve, StoredObject};
use crate::render::quote_ident;
use crate::sqltext::{self, Token, TokenKind};
use parse::{
    added_column_definition, dropped_name, is_rendered, lower, read_column, read_created,
    read_creates, table_columns, Created, ReadTable, StatementKind, MAX_COLUMNS, PARALLEL_READ_MIN,
};
use qvdiff_core::{Index, Schema, Table};
use std::collections::{BTreeMap, HashMap};

mod parse;
#[cfg(test)]
mod tests;

/// The tables and indexes of one database, as SQLite would hold them after the statements run
/// so far. Tables hold no rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaReplay {
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

impl SchemaReplay {
    /// The replay of a database holding `objects` (as [`crate::stored_objects`] lists them), or
    /// `None` when any of them is outside the replay.
    pub(crate) fn from_stored(objects: &[StoredObject]) -> Option<SchemaReplay> {
        // Views and triggers are outside the replay: known before reading any table.
        if !objects
            .iter()
            .all(|o| o.kind == "table" || o.kind == "index")
        {
            return None;
        }
        let mut pure = SchemaReplay::default();
        let statements: Vec<&str> = objects.iter().map(|o| o.sql.as_str()).collect();
        pure.run_all(&statements)?;
        Some(pure)
    }

    /// The statements of `scripts`, when every one is of a kind the replay reads (`CREATE TABLE`,
    /// `CREATE [UNIQUE] INDEX`, `DROP TABLE`, `DROP INDEX`, `ALTER TABLE … ADD COLUMN`), judged
    /// by its first words: a script with any other statement is known to be outside the replay
    /// before any work.
    pub(crate) fn statements_of<'a>(
        scripts: impl IntoIterator<Item = &'a str>,
    ) -> Option<Vec<&'a str>> {
        let statements: Vec<&str> = scripts
            .into_iter()
            .flat_map(sqltext::statement_texts)
            .collect();
        // One buffer for every statement's first words.
        let mut first_words: Vec<Token> = Vec::with_capacity(5);
        let read = statements.iter().all(|statement| {
            first_words.clear();
            first_words.extend(sqltext::tokens(statement).take(5));
            StatementKind::of(statement, &first_words).is_some()
        });
        read.then_some(statements)
    }

    /// Runs `scripts` as one transaction of [`crate::apply_scripts`] would: every statement,
    /// then `PRAGMA foreign_key_check`. `None` when a statement is outside the replay or SQLite
    /// would refuse it; the replay is then in no defined state.
    pub(crate) fn apply<'a>(&mut self, scripts: impl IntoIterator<Item = &'a str>) -> Option<()> {
        let statements = SchemaReplay::statements_of(scripts)?;
        self.run_statements(&statements)
    }

    /// [`SchemaReplay::apply`] of statements [`SchemaReplay::statements_of`] gave.
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

    /// The schema as [`crate::introspect`] reads it (application tables only, normalized) and
    /// the stored objects as [`SchemaReplay::objects`] lists them, moved out rather than copied:
    /// at the end of a long history the replay holds the only copy of every table.
    pub(crate) fn into_parts(self) -> (Schema, Vec<StoredObject>) {
        let mut tables: Vec<Table> = self
            .tables
            .into_values()
            .filter(|table| !is_internal_table(&table.name))
            .collect();
        // Each table is kept normalized: sorting them is all that is left to do.
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        // The replay stores only tables and indexes: tables, then indexes, each in creation order.
        let (mut objects, indexes): (Vec<StoredObject>, Vec<StoredObject>) = self
            .objects
            .into_values()
            .partition(|object| object.kind == "table");
        objects.extend(indexes);
        let schema = Schema {
            tables,
            ..Schema::default()
        };
        (schema, objects)
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
