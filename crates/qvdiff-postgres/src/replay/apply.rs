//! Each statement's effect on the catalog, as the server applies it.

use super::catalog::{ColumnState, Constraint, ConstraintKind, FkState, IndexState, TableState};
use super::expr::{
    is_null_literal, referenced_columns, refused_in, rename_in_expression, serial_bits,
};
use super::naming::{display_ident, name_addition};
use super::parse::{
    is_table_constraint_start, parse_column_def, parse_table_constraint, ColumnDef, DropClause,
    NewConstraint, NewKind, Parser,
};
use super::{invalid, unsupported, SchemaReplay, Step};
use crate::render::quote_ident;
use crate::sqltext::TokenKind;
use qvdiff_core::runner::LEDGER_TABLE;
use qvdiff_core::ColumnType;

/// The server's refusal to drop `object` (`table "t"`, `column "c" of table "t"`, …) without
/// CASCADE while `constraint` on table `owner` depends on it.
fn needs_cascade(object: &str, owner: &str, constraint: &str) -> Step {
    invalid(format!(
        "cannot drop {object} because constraint {} on table {} depends on it (use CASCADE)",
        quote_ident(constraint),
        quote_ident(owner)
    ))
}

/// Reads one kind of statement, after its leading keywords.
type StatementReader = fn(&mut SchemaReplay, &mut Parser) -> Step;

/// The statements that change the schema, by their first keyword.
const STATEMENT_KINDS: &[(&str, StatementReader)] = &[
    ("COMMENT", SchemaReplay::comment),
    ("CREATE", SchemaReplay::create),
    ("DROP", SchemaReplay::drop),
    ("ALTER", SchemaReplay::alter),
];

/// The `DROP` and `ALTER` statements the replay reads, by their verb and the keyword after it.
const KINDS_AFTER_VERB: &[(&str, &str, StatementReader)] = &[
    ("DROP", "TABLE", SchemaReplay::drop_tables),
    ("DROP", "INDEX", SchemaReplay::drop_indexes),
    ("DROP", "TYPE", SchemaReplay::drop_enums),
    ("DROP", "TRIGGER", SchemaReplay::drop_sync_trigger),
    ("DROP", "FUNCTION", SchemaReplay::drop_sync_function),
    ("DROP", "VIEW", SchemaReplay::drop_table_views),
    ("ALTER", "TABLE", SchemaReplay::alter_table),
    ("ALTER", "INDEX", SchemaReplay::alter_index),
    ("ALTER", "TYPE", SchemaReplay::alter_enum),
];

impl SchemaReplay {
    // ----- one statement -----

    pub(super) fn statement(&mut self, sql: &str) -> Step {
        let mut p = Parser::new(sql);
        let Some(first) = p.peek_keyword() else {
            return unsupported("not a statement qvdiff writes");
        };
        if let Some((_, read)) = STATEMENT_KINDS.iter().find(|(verb, _)| *verb == first) {
            p.advance();
            return read(self, &mut p);
        }
        match first.as_str() {
            // `SELECT … INTO t` creates a table.
            "SELECT" if p.has_top_level_word("INTO") => {
                unsupported("SELECT … INTO creates a table qvdiff cannot know the columns of")
            }
            // Data, and statements that change nothing a Schema holds.
            "INSERT" | "UPDATE" | "DELETE" | "SELECT" | "COPY" | "WITH" | "VALUES" | "TRUNCATE"
            | "MERGE" | "ANALYZE" | "ANALYSE" | "VACUUM" | "LOCK" | "GRANT" | "REVOKE"
            | "NOTIFY" | "REINDEX" | "BEGIN" | "COMMIT" | "END" | "START" | "SAVEPOINT"
            | "RELEASE" | "RESET" => Ok(()),
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
            _ => unsupported(format!("{first} is not a statement qvdiff writes")),
        }
    }

    pub(super) fn create(&mut self, p: &mut Parser) -> Step {
        if p.eat("TABLE") {
            return self.create_table(p);
        }
        if p.eat("TYPE") {
            return self.create_enum(p);
        }
        if p.eat("TRIGGER") {
            return self.create_sync_trigger(p);
        }
        if p.eat("VIEW") {
            return self.create_table_view(p);
        }
        let replace = p.eat_all(&["OR", "REPLACE"]);
        if p.eat("FUNCTION") {
            return self.create_sync_function(p, replace);
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

    pub(super) fn drop(&mut self, p: &mut Parser) -> Step {
        self.read_kind(p, "DROP")
    }

    pub(super) fn alter(&mut self, p: &mut Parser) -> Step {
        self.read_kind(p, "ALTER")
    }

    /// Reads a `verb` statement by the keyword after the verb, with its reader in
    /// [`KINDS_AFTER_VERB`]; a kind not listed is not a statement qvdiff writes.
    fn read_kind(&mut self, p: &mut Parser, verb: &str) -> Step {
        for (_, keyword, read) in KINDS_AFTER_VERB.iter().filter(|(v, ..)| *v == verb) {
            if p.eat(keyword) {
                return read(self, p);
            }
        }
        let what = p.peek_keyword().unwrap_or_default();
        unsupported(format!("{verb} {what} is not a statement qvdiff writes"))
    }

    /// `COMMENT ON TABLE t IS '…' | NULL` and `COMMENT ON COLUMN t.c IS …`; a comment on
    /// anything else (a constraint, an index) is not part of a Schema.
    pub(super) fn comment(&mut self, p: &mut Parser) -> Step {
        if !p.eat("ON") {
            return unsupported("expected `COMMENT ON`");
        }
        let on_table = p.eat("TABLE");
        if !on_table && !p.eat("COLUMN") {
            return Ok(());
        }
        let mut names = vec![p.ident()?];
        while p.eat_punct(".") {
            names.push(p.ident()?);
        }
        p.expect("IS")?;
        let comment = if p.eat("NULL") {
            None
        } else {
            Some(p.string_literal()?)
        }
        // The server stores an empty comment as none.
        .filter(|c| !c.is_empty());
        p.expect_end()?;
        let (schema, table, column) = match (on_table, names.as_slice()) {
            (true, [table]) => (None, table, None),
            (true, [schema, table]) => (Some(schema), table, None),
            (false, [table, column]) => (None, table, Some(column)),
            (false, [schema, table, column]) => (Some(schema), table, Some(column)),
            _ => return unsupported("expected a table or `table.column` name"),
        };
        if schema.is_some_and(|s| s != "public") {
            return unsupported("only the public schema is modelled");
        }
        if table == LEDGER_TABLE {
            return Ok(());
        }
        let state = self.table_mut(table)?;
        match column {
            None => state.comment = comment,
            Some(column) => match state.columns.iter_mut().find(|c| &c.name == column) {
                Some(c) => c.comment = comment,
                None => {
                    return invalid(format!(
                        "column {} of relation {} does not exist",
                        quote_ident(column),
                        quote_ident(table)
                    ))
                }
            },
        }
        Ok(())
    }

    // ----- CREATE TABLE -----

    pub(super) fn create_table(&mut self, p: &mut Parser) -> Step {
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
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        for column in &columns {
            refuse_column_reference(column.default.as_deref(), &names)?;
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
                comment: None,
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
    pub(super) fn add_column(&mut self, table: &str, def: ColumnDef) -> Step<Vec<NewConstraint>> {
        let mut names = self.table(table)?.column_names();
        names.push(def.name.clone());
        refuse_column_reference(def.default.as_deref(), &names)?;
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
            comment: None,
        };
        self.table_mut(table)?.columns.push(column);
        self.register(table);
        Ok(def.constraints)
    }

    // ----- constraints -----

    pub(super) fn add_constraints(&mut self, table: &str, constraints: Vec<NewConstraint>) -> Step {
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

    pub(super) fn add_constraint(&mut self, table: &str, constraint: NewConstraint) -> Step {
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
                if !found.unique || found.predicate.is_some() {
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
                if let Some(why) = refused_in(&expr, "check constraint") {
                    return invalid(why);
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

    pub(super) fn push_constraint(
        &mut self,
        table: &str,
        name: String,
        kind: ConstraintKind,
    ) -> Step {
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
    pub(super) fn default_constraint_name(
        &self,
        table: &str,
        kind: &ConstraintKind,
    ) -> Step<String> {
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

    pub(super) fn create_index(&mut self, p: &mut Parser, unique: bool) -> Step {
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
        let mut predicate = None;
        while !p.at_end() {
            if p.eat("INCLUDE") {
                other_columns.extend(p.ident_list()?);
            } else if p.eat_all(&["NULLS", "NOT", "DISTINCT"]) || p.eat_all(&["NULLS", "DISTINCT"])
            {
            } else if p.eat("WITH") {
                p.paren_body()?;
            } else if p.eat("WHERE") {
                let (start, end) = p.expr_span(&[]);
                predicate = Some(super::canonical_predicate(&p.sql[start..end]));
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
            predicate,
            other_columns,
            oid,
        });
        self.register(&table);
        Ok(())
    }

    // ----- DROP -----

    pub(super) fn drop_tables(&mut self, p: &mut Parser) -> Step {
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
            self.drop_views_on_table(name, cascade)?;
            // Foreign keys of the other tables that reference this one.
            let dependents =
                self.foreign_keys_to(name, |owner, _| !dropping.iter().any(|d| d == owner));
            if let Some((owner, constraint)) = dependents.first() {
                if !cascade {
                    return needs_cascade(
                        &format!("table {}", quote_ident(name)),
                        owner,
                        constraint,
                    );
                }
            }
            self.drop_constraints(&dependents);
        }
        for name in dropping {
            self.tables.remove(&name);
        }
        Ok(())
    }

    pub(super) fn drop_indexes(&mut self, p: &mut Parser) -> Step {
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
    pub(super) fn drop_index_dependents(
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
                return needs_cascade(&format!("{what} {}", quote_ident(index)), owner, constraint);
            }
        }
        self.drop_constraints(&dependents);
        Ok(())
    }

    // ----- ALTER INDEX -----

    pub(super) fn alter_index(&mut self, p: &mut Parser) -> Step {
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

    pub(super) fn alter_table(&mut self, p: &mut Parser) -> Step {
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

    pub(super) fn alter_table_action(&mut self, table: &str, p: &mut Parser) -> Step {
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
                let drop = p.drop_clause()?;
                return self.drop_constraint(table, &drop);
            }
            p.eat("COLUMN");
            let drop = p.drop_clause()?;
            return self.drop_column(table, &drop);
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

    pub(super) fn alter_column(&mut self, table: &str, name: &str, p: &mut Parser) -> Step {
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
            self.refuse_type_change_under_view(table, name)?;
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
                let (start, end) = p.expr_span(&[]);
                if let Some(why) = refused_in(&p.sql[start..end], "transform expression") {
                    return invalid(why);
                }
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
            refuse_column_reference(Some(expr), &self.table(table)?.column_names())?;
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

    pub(super) fn drop_column(&mut self, table: &str, drop: &DropClause) -> Step {
        let (name, if_exists, cascade) = (drop.name.as_str(), drop.if_exists, drop.cascade);
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
        self.drop_views_on_column(table, name, cascade)?;
        let column = format!(
            "column {} of table {}",
            quote_ident(name),
            quote_ident(table)
        );
        let uses = |columns: &[String]| columns.iter().any(|c| c == name);
        // Foreign keys (of any table, this one included) that reference the column: they depend
        // on it and need CASCADE. The column's own keys, indexes and checks just go with it.
        let referencing = self.foreign_keys_to(table, |owner, fk| {
            uses(&fk.ref_columns) && !(owner == table && uses(&fk.columns))
        });
        if let Some((owner, constraint)) = referencing.first() {
            if !cascade {
                return needs_cascade(&column, owner, constraint);
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
                    return needs_cascade(&column, owner, constraint);
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

    pub(super) fn drop_constraint(&mut self, table: &str, drop: &DropClause) -> Step {
        let (name, if_exists, cascade) = (drop.name.as_str(), drop.if_exists, drop.cascade);
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

    pub(super) fn rename_table(&mut self, old: &str, new: &str) -> Step {
        if self.relation_exists(new) {
            return invalid(format!("relation {} already exists", quote_ident(new)));
        }
        let Some(mut state) = self.tables.remove(old) else {
            return invalid(format!("relation {} does not exist", quote_ident(old)));
        };
        state.name = new.to_string();
        self.tables.insert(new.to_string(), state);
        self.rename_views_table(old, new);
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

    pub(super) fn rename_column(&mut self, table: &str, old: &str, new: &str) -> Step {
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
        self.rename_views_column(table, old, new);
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
                    if let Some(predicate) = &mut index.predicate {
                        *predicate = rename_in_expression(predicate, old, new);
                    }
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

    pub(super) fn rename_constraint(&mut self, table: &str, old: &str, new: &str) -> Step {
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
    pub(super) fn rename_relation_references(&mut self, table: &str, old: &str, new: &str) {
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
}

/// A `DEFAULT` may not name a column (`DEFAULT lower(name)`), hold a subquery or an aggregate:
/// the server refuses it, whatever the rows hold, so the replay does too.
fn refuse_column_reference(default: Option<&str>, columns: &[String]) -> Step {
    let Some(expr) = default else {
        return Ok(());
    };
    if !referenced_columns(expr, columns).is_empty() {
        return invalid("cannot use column reference in DEFAULT expression".to_string());
    }
    match refused_in(expr, "DEFAULT expression") {
        Some(why) => invalid(why),
        None => Ok(()),
    }
}
