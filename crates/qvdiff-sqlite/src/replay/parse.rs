//! The statement reader: the statements qvdiff renders, read back into tables and indexes.

use crate::partition::run_in_parallel;
use crate::render::{
    column_definition, create_index_sql, create_table_statement, parse_declared_type,
    parse_default, quote_ident, references_clause,
};
use crate::sqltext::{self, Token, TokenKind};
use qvdiff_core::{Column, ColumnType, FkAction, ForeignKey, Index, Table, Unique};
use std::collections::HashSet;

/// SQLite's default limit on the columns of a table (`SQLITE_MAX_COLUMN`).
pub(super) const MAX_COLUMNS: usize = 2000;

/// Words that end a column's declared type: the column constraints SQLite knows.
pub(super) const COLUMN_CONSTRAINT_WORDS: [&str; 11] = [
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

/// The words of a declared type the replay takes: qvdiff's own types and common SQL spellings
/// (none is an SQLite keyword).
pub(super) const TYPE_WORDS: [&str; 34] = [
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

/// A `CREATE TABLE` as the replay reads it, before it is added.
#[derive(Debug)]
pub(super) struct ReadTable {
    pub(super) name: String,
    /// Normalized, with column names resolved.
    pub(super) table: Table,
    /// Where SQLite inserts a column `ALTER TABLE … ADD COLUMN` adds (a byte offset).
    pub(super) add_column_at: usize,
}

/// Reads a `CREATE TABLE` statement exactly as the renderer writes it (with any columns SQLite
/// spliced in for `ADD COLUMN`), or `None`. Needs no other object.
pub(super) fn read_create_table(text: &str, tokens: &[Token]) -> Option<ReadTable> {
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
pub(super) fn read_create_index(text: &str, tokens: &[Token]) -> Option<(Index, String)> {
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
        predicate: None,
    };
    is_rendered(text, &create_index_sql(&table_name, &index)).then_some((index, table_name))
}

/// A `CREATE TABLE` or `CREATE INDEX` statement of that `kind` read (`None` when it does not
/// read, or for any other kind). Needs no other object.
pub(super) fn read_created(kind: StatementKind, text: &str, tokens: &[Token]) -> Option<Created> {
    match kind {
        StatementKind::CreateTable => read_create_table(text, tokens).map(Created::Table),
        StatementKind::CreateIndex => {
            read_create_index(text, tokens).map(|(index, table)| Created::Index(index, table))
        }
        _ => None,
    }
}

/// A `CREATE TABLE` or `CREATE INDEX` as the replay reads it, before it is added.
pub(super) enum Created {
    Table(ReadTable),
    /// The index and its table's name.
    Index(Index, String),
}

/// Below this many statements, reading them on other threads costs more than it saves.
pub(super) const PARALLEL_READ_MIN: usize = 256;

/// Each `CREATE TABLE` and `CREATE INDEX` of `statements` read (`None` for other statements),
/// on all cores; `None` when one of them does not read.
pub(super) fn read_creates(statements: &[&str]) -> Option<Vec<Option<Created>>> {
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

/// The statements the replay reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatementKind {
    CreateTable,
    CreateIndex,
    DropTable,
    DropIndex,
    AddColumn,
}

impl StatementKind {
    /// The kind of the statement `text` by its first words (`tokens`: at least its first five
    /// tokens), or `None` for any other statement.
    pub(super) fn of(text: &str, tokens: &[Token]) -> Option<StatementKind> {
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
pub(super) fn is_rendered(text: &str, rendered: &str) -> bool {
    text == rendered || rendered.strip_suffix(';') == Some(text)
}

/// The name a `DROP TABLE` or `DROP INDEX` (`what`) statement drops, when it is written as the
/// planner writes it.
pub(super) fn dropped_name(text: &str, tokens: &[Token], what: &str) -> Option<String> {
    let name = tokens.get(2)?.ident(text)?;
    ends_statement(tokens, 3)?;
    is_rendered(text, &format!("DROP {what} {};", quote_ident(&name))).then_some(name)
}

/// `Some` when nothing but an optional `;` follows position `at`.
pub(super) fn ends_statement(tokens: &[Token], at: usize) -> Option<()> {
    match &tokens[at.min(tokens.len())..] {
        [] => Some(()),
        [last] if last.kind == TokenKind::Semicolon => Some(()),
        _ => None,
    }
}

/// `( "a", "b" )` starting at `at`: the names and the position after `)`.
pub(super) fn ident_list(text: &str, tokens: &[Token], at: usize) -> Option<(Vec<String>, usize)> {
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
pub(super) fn read_definition(text: &str, definition: &[Token], table: &mut Table) -> Option<()> {
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
pub(super) fn read_foreign_key(text: &str, definition: &[Token]) -> Option<ForeignKey> {
    let (columns, next) = ident_list(text, definition, 2)?;
    read_references(text, &definition[next..], columns)
}

/// `REFERENCES "t" [(…)] [ON DELETE action] [ON UPDATE action]` to the end of `tokens`: the
/// foreign key of `columns`.
pub(super) fn read_references(
    text: &str,
    tokens: &[Token],
    columns: Vec<String>,
) -> Option<ForeignKey> {
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
pub(super) fn added_column_definition(column: &Column, key: Option<&ForeignKey>) -> String {
    let mut definition = column_definition(column, false);
    if let Some(key) = key {
        definition.push(' ');
        definition.push_str(&references_clause(key));
    }
    definition
}

/// `"name" TYPE [NOT NULL] [PRIMARY KEY [AUTOINCREMENT]] [DEFAULT literal]`.
pub(super) fn read_column(text: &str, definition: &[Token], table: &mut Table) -> Option<()> {
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
pub(super) fn resolve_table(mut table: Table) -> Option<Table> {
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
pub(super) fn table_columns(table: &Table, names: &[String]) -> Option<Vec<String>> {
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
pub(super) fn all_distinct(names: &[&str]) -> bool {
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

pub(super) fn column_set(columns: &[String]) -> Vec<String> {
    let mut set: Vec<String> = columns.iter().map(|c| lower(c)).collect();
    set.sort();
    set
}

pub(super) fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}
