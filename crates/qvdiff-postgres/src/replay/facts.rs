//! The facts of a section's statements ([`qvdiff_core::StepFacts`]), read from their SQL with the
//! statement parser while the catalog replay follows the section: the lock each statement takes
//! on a table that exists before the section, whether it reads or writes every row under it,
//! what it destroys, and the actions PostgreSQL's lint rules judge.

use super::catalog::ConstraintKind;
use super::parse::Parser;
use super::parse::{is_table_constraint_start, parse_column_def, parse_table_constraint, NewKind};
use super::SchemaReplay;
use crate::locks::{is_volatile, type_change_rewrites};
use crate::render::{parse_type, render_type};
use qvdiff_core::{Action, Change, Column, ColumnType, Lock, LockMode, Loss, Schema, StepFacts};
use std::collections::BTreeSet;

/// The facts of each statement of `sql`, in the order of [`crate::review::section`], as it runs
/// on a database holding `before`.
pub fn facts_of(before: &Schema, sql: &str) -> Vec<StepFacts> {
    let mut reader = Reader {
        replay: SchemaReplay::from_schema(before),
        existing: before.tables.iter().map(|t| t.name.clone()).collect(),
        unvalidated: BTreeSet::new(),
    };
    crate::review::section(sql, 0)
        .statements
        .iter()
        .map(|statement| {
            let mut facts = reader.statement(statement.sql.trim_end().trim_end_matches(';'));
            // An `UPDATE` under a batch line runs in batches, on its own (`runner::batch`).
            let batched = statement
                .comments
                .iter()
                .any(|(_, line)| qvdiff_core::migration::batch_rows(line).is_some());
            if batched && statement.starts_with(&["UPDATE"]) {
                facts.outside_transaction = true;
            }
            // A statement the replay refuses leaves it as it was; the facts still stand.
            let _ = reader.replay.apply(&statement.sql);
            facts
        })
        .collect()
}

/// `SET to = from` and nothing else but a `WHERE` (after `UPDATE t`): a column copied into
/// another, as a carried column's backfill writes it.
fn copied_column(p: &mut Parser) -> Option<Action> {
    p.expect("SET").ok()?;
    let to = p.ident().ok()?;
    if !p.eat_punct("=") {
        return None;
    }
    let from = p.ident().ok()?;
    (p.at_end() || p.eat("WHERE")).then_some(Action::CopyColumn { from, to })
}

struct Reader {
    /// The catalog before the statement being read.
    replay: SchemaReplay,
    /// Tables that exist before the section, under their current names.
    existing: BTreeSet<String>,
    /// Constraints added `NOT VALID` in this section and not validated since: `(table, name)`.
    unvalidated: BTreeSet<(String, String)>,
}

impl Reader {
    fn statement(&mut self, sql: &str) -> StepFacts {
        let mut p = Parser::new(sql);
        let mut facts = StepFacts::default();
        match p.peek_keyword().as_deref() {
            Some("CREATE") => {
                p.advance();
                self.create(&mut p, &mut facts);
            }
            Some("DROP") => {
                p.advance();
                self.drop(&mut p, &mut facts);
            }
            Some("ALTER") => {
                p.advance();
                if p.eat("TABLE") {
                    self.alter_table(&mut p, &mut facts);
                } else if p.eat("INDEX") {
                    p.eat_all(&["IF", "EXISTS"]);
                    if let Some(table) = p.table_name().ok().and_then(|i| self.index_table(&i)) {
                        facts.lock = self.lock(&table, LockMode::ShareUpdateExclusive);
                    }
                }
            }
            Some("UPDATE") => {
                p.advance();
                p.eat("ONLY");
                if let Ok(table) = p.table_name() {
                    facts.lock = self.lock(&table, LockMode::RowExclusive);
                    if let Some(lock) = &mut facts.lock {
                        lock.scans = true;
                    }
                    facts.actions.extend(copied_column(&mut p));
                }
            }
            Some("DELETE") => {
                p.advance();
                p.eat("FROM");
                p.eat("ONLY");
                if let Ok(table) = p.table_name() {
                    facts.lock = self.lock(&table, LockMode::RowExclusive);
                    if let Some(lock) = &mut facts.lock {
                        lock.scans = true;
                    }
                    let reason = format!("deletes rows from {table}");
                    facts.destroys.push(Loss::new(&table, None, reason));
                }
            }
            _ => {}
        }
        facts
    }

    /// The lock on `table` when it exists before the section.
    fn lock(&self, table: &str, mode: LockMode) -> Option<Lock> {
        self.existing.contains(table).then(|| Lock {
            mode,
            table: table.to_string(),
            scans: false,
            rewrites: false,
        })
    }

    fn index_table(&self, index: &str) -> Option<String> {
        self.replay.index_owner(index)
    }

    fn create(&mut self, p: &mut Parser, facts: &mut StepFacts) {
        if p.eat("TRIGGER") {
            if let Some(table) = Self::trigger_table(p) {
                facts.lock = self.lock(&table, LockMode::ShareRowExclusive);
            }
            return;
        }
        if p.eat("TABLE") {
            p.eat_all(&["IF", "NOT", "EXISTS"]);
            if p.table_name().is_err() || !p.eat_punct("(") {
                return;
            }
            loop {
                if is_table_constraint_start(p) {
                    if let Ok(constraint) = parse_table_constraint(p) {
                        if let NewKind::ForeignKey(fk) = constraint.kind {
                            facts.actions.push(Action::AddForeignKey {
                                columns: fk.columns,
                                checks_rows: false,
                            });
                        }
                    }
                } else if let Ok(def) = parse_column_def(p) {
                    if is_naive_timestamp(&def.type_text) {
                        facts
                            .actions
                            .push(Action::NaiveTimestamp { column: def.name });
                    }
                    for constraint in def.constraints {
                        if let NewKind::ForeignKey(fk) = constraint.kind {
                            facts.actions.push(Action::AddForeignKey {
                                columns: fk.columns,
                                checks_rows: false,
                            });
                        }
                    }
                }
                if !p.eat_punct(",") {
                    return;
                }
            }
        }
        p.eat("UNIQUE");
        if !p.eat("INDEX") {
            return;
        }
        let concurrently = p.eat("CONCURRENTLY");
        p.eat_all(&["IF", "NOT", "EXISTS"]);
        if !p.at("ON") && p.ident().is_err() {
            return;
        }
        if !p.eat("ON") {
            return;
        }
        p.eat("ONLY");
        let Ok(table) = p.table_name() else { return };
        facts.actions.push(Action::BuildIndex { concurrently });
        facts.outside_transaction = concurrently;
        let mode = if concurrently {
            LockMode::ShareUpdateExclusive
        } else {
            LockMode::Share
        };
        facts.lock = self.lock(&table, mode);
        if let Some(lock) = &mut facts.lock {
            lock.scans = true;
        }
    }

    /// A trigger's table: `name … ON table` (`CREATE TRIGGER`, `DROP TRIGGER`).
    fn trigger_table(p: &mut Parser) -> Option<String> {
        while !p.at_end() && !p.eat("ON") {
            p.advance();
        }
        p.table_name().ok()
    }

    fn drop(&mut self, p: &mut Parser, facts: &mut StepFacts) {
        if p.eat("TRIGGER") {
            if let Some(table) = Self::trigger_table(p) {
                facts.lock = self.lock(&table, LockMode::AccessExclusive);
            }
            return;
        }
        if p.eat("TABLE") {
            p.eat_all(&["IF", "EXISTS"]);
            let Ok(names) = p.name_list() else { return };
            for table in names {
                if facts.lock.is_none() {
                    facts.lock = self.lock(&table, LockMode::AccessExclusive);
                }
                if self.replay.table(&table).is_ok() {
                    let reason = format!("drops table {table} and all its rows");
                    facts.destroys.push(Loss::new(&table, None, reason));
                }
                self.existing.remove(&table);
            }
            return;
        }
        if !p.eat("INDEX") {
            return;
        }
        let concurrently = p.eat("CONCURRENTLY");
        p.eat_all(&["IF", "EXISTS"]);
        let Ok(names) = p.name_list() else { return };
        facts.actions.push(Action::DropIndex { concurrently });
        facts.outside_transaction = concurrently;
        let mode = if concurrently {
            LockMode::ShareUpdateExclusive
        } else {
            LockMode::AccessExclusive
        };
        if let Some(table) = names.first().and_then(|i| self.index_table(i)) {
            facts.lock = self.lock(&table, mode);
        }
    }

    fn alter_table(&mut self, p: &mut Parser, facts: &mut StepFacts) {
        p.eat_all(&["IF", "EXISTS"]);
        p.eat("ONLY");
        let Ok(table) = p.table_name() else { return };
        facts.lock = self.lock(&table, LockMode::AccessExclusive);
        if p.eat("RENAME") {
            if p.eat("TO") {
                if let Ok(new) = p.ident() {
                    facts.actions.push(Action::RenameTable {
                        from: table.clone(),
                        to: new.clone(),
                    });
                    if self.existing.remove(&table) {
                        self.existing.insert(new);
                    }
                }
            } else if !p.eat("CONSTRAINT") {
                p.eat("COLUMN");
                if let (Ok(from), true) = (p.ident(), p.eat("TO")) {
                    if let Ok(to) = p.ident() {
                        facts.actions.push(Action::RenameColumn { from, to });
                    }
                }
            }
            return;
        }
        // Several actions take the strongest of their locks.
        let mut mode = LockMode::RowExclusive;
        loop {
            mode = mode.min(self.alter_table_action(&table, p, facts));
            // On to the next action.
            let mut depth = 0usize;
            while !(p.at_end() || depth == 0 && p.at_punct(",")) {
                if p.at_punct("(") {
                    depth += 1;
                } else if p.at_punct(")") {
                    depth = depth.saturating_sub(1);
                }
                p.advance();
            }
            if !p.eat_punct(",") {
                break;
            }
        }
        if let Some(lock) = &mut facts.lock {
            lock.mode = mode;
        }
    }

    /// Reads one `ALTER TABLE` action into `facts`; returns the lock mode it needs.
    fn alter_table_action(
        &mut self,
        table: &str,
        p: &mut Parser,
        facts: &mut StepFacts,
    ) -> LockMode {
        let scans = |facts: &mut StepFacts| {
            if let Some(lock) = &mut facts.lock {
                lock.scans = true;
            }
        };
        if p.eat("ADD") {
            if is_table_constraint_start(p) {
                let Ok(constraint) = parse_table_constraint(p) else {
                    return LockMode::AccessExclusive;
                };
                let not_valid = p.sql.to_ascii_uppercase().contains("NOT VALID");
                if not_valid {
                    if let Some(name) = &constraint.name {
                        self.unvalidated.insert((table.to_string(), name.clone()));
                    }
                }
                let checks_rows = !not_valid && self.existing.contains(table);
                return match constraint.kind {
                    NewKind::ForeignKey(fk) => {
                        facts.actions.push(Action::AddForeignKey {
                            columns: fk.columns,
                            checks_rows,
                        });
                        if checks_rows {
                            scans(facts);
                        }
                        LockMode::ShareRowExclusive
                    }
                    NewKind::Check(_) => {
                        facts.actions.push(Action::AddCheck { checks_rows });
                        if checks_rows {
                            scans(facts);
                        }
                        LockMode::AccessExclusive
                    }
                    NewKind::PrimaryKey(_) => {
                        scans(facts);
                        LockMode::AccessExclusive
                    }
                    NewKind::Unique(_) => {
                        // Builds its index under the exclusive lock; the online form builds
                        // it concurrently first and adds the constraint `USING INDEX`.
                        facts.actions.push(Action::BuildIndex {
                            concurrently: false,
                        });
                        scans(facts);
                        LockMode::AccessExclusive
                    }
                    NewKind::UsingIndex { .. } => LockMode::AccessExclusive,
                };
            }
            p.eat("COLUMN");
            p.eat_all(&["IF", "NOT", "EXISTS"]);
            let Ok(def) = parse_column_def(p) else {
                return LockMode::AccessExclusive;
            };
            if is_naive_timestamp(&def.type_text) {
                facts.actions.push(Action::NaiveTimestamp {
                    column: def.name.clone(),
                });
            }
            let volatile = def.default.as_deref().is_some_and(is_volatile);
            if volatile {
                facts.actions.push(Action::VolatileDefault {
                    column: def.name.clone(),
                });
            }
            let serial = matches!(
                def.type_text.to_ascii_lowercase().as_str(),
                "serial" | "bigserial" | "smallserial"
            );
            if volatile || def.identity || serial {
                if let Some(lock) = &mut facts.lock {
                    lock.rewrites = true;
                }
            }
            for constraint in def.constraints {
                match constraint.kind {
                    NewKind::ForeignKey(fk) => facts.actions.push(Action::AddForeignKey {
                        columns: fk.columns,
                        checks_rows: false,
                    }),
                    NewKind::Check(_) => {
                        facts.actions.push(Action::AddCheck { checks_rows: false })
                    }
                    _ => {}
                }
            }
            return LockMode::AccessExclusive;
        }
        if p.eat("DROP") {
            if !p.eat("CONSTRAINT") {
                p.eat("COLUMN");
                p.eat_all(&["IF", "EXISTS"]);
                if let Ok(column) = p.ident() {
                    if self.column_type(table, &column).is_some() {
                        let reason = format!("drops data in {table}.{column}");
                        facts.destroys.push(Loss::new(table, Some(&column), reason));
                    }
                }
            }
            return LockMode::AccessExclusive;
        }
        if p.eat("VALIDATE") {
            p.eat("CONSTRAINT");
            if let Ok(name) = p.ident() {
                self.unvalidated.remove(&(table.to_string(), name));
            }
            scans(facts);
            // Its revision runs step by step (`sqltext::runs_on_its_own`).
            facts.outside_transaction = true;
            return LockMode::ShareUpdateExclusive;
        }
        if !p.eat("ALTER") {
            return LockMode::AccessExclusive;
        }
        p.eat("COLUMN");
        let Ok(column) = p.ident() else {
            return LockMode::AccessExclusive;
        };
        if p.eat_all(&["SET", "NOT", "NULL"]) {
            let proven = self.proven_not_null(table, &column);
            if !proven {
                scans(facts);
            }
            facts.actions.push(Action::SetNotNull {
                column,
                scans: !proven,
            });
        } else if p.eat_all(&["SET", "DATA", "TYPE"]) || p.eat("TYPE") {
            let (start, end) = p.type_span();
            let new_text = p.sql[start..end].trim().to_string();
            let using = p.at("USING");
            let Some(old) = self.column_type(table, &column) else {
                return LockMode::AccessExclusive;
            };
            let new = self.type_of(&new_text);
            let rewrites = type_change_rewrites(&render_type(&old), &new_text, using);
            if rewrites {
                if let Some(lock) = &mut facts.lock {
                    lock.rewrites = true;
                    lock.scans = true;
                }
            }
            if is_naive_timestamp(&new_text) {
                facts.actions.push(Action::NaiveTimestamp {
                    column: column.clone(),
                });
            }
            let change = Change::AlterColumn {
                table: table.to_string(),
                from: Column::new(&column, old),
                to: Column::new(&column, new),
            };
            facts
                .destroys
                .extend(Loss::of_change(&change, &render_type));
            facts.actions.push(Action::ChangeType { column, rewrites });
        }
        LockMode::AccessExclusive
    }

    /// The type of `table.column` now, when both exist.
    fn column_type(&self, table: &str, column: &str) -> Option<ColumnType> {
        let table = self.replay.table(table).ok()?;
        let column = table.columns.iter().find(|c| c.name == column)?;
        Some(column.ty.clone())
    }

    /// A type as written, an enum type of the catalog with its values.
    fn type_of(&self, text: &str) -> ColumnType {
        match parse_type(text) {
            ColumnType::Enum { name, .. } | ColumnType::Custom { sql: name }
                if self.replay.enums.contains_key(&name) =>
            {
                ColumnType::Enum {
                    values: self.replay.enums[&name].clone(),
                    name,
                    renames: Vec::new(),
                }
            }
            other => other,
        }
    }

    /// Whether a validated `CHECK (column IS NOT NULL)` on `table` proves the column holds no
    /// NULL, so `SET NOT NULL` needs no scan (PostgreSQL 12 and later).
    fn proven_not_null(&self, table: &str, column: &str) -> bool {
        let Ok(state) = self.replay.table(table) else {
            return false;
        };
        let wanted = format!("{column} IS NOT NULL").to_ascii_lowercase();
        state.constraints.iter().any(|c| match &c.kind {
            ConstraintKind::Check(expr) => {
                let expr: String = expr
                    .chars()
                    .filter(|ch| !matches!(ch, '"' | '(' | ')'))
                    .collect::<String>()
                    .to_ascii_lowercase();
                expr.split_whitespace().collect::<Vec<_>>().join(" ") == wanted
                    && !self
                        .unvalidated
                        .contains(&(table.to_string(), c.name.clone()))
            }
            _ => false,
        })
    }
}

/// Whether a declared type is `timestamp` without time zone.
fn is_naive_timestamp(type_text: &str) -> bool {
    let text = type_text.to_ascii_lowercase();
    let text: Vec<&str> = text.split_whitespace().collect();
    let text = text.join(" ");
    let base = text.split('(').next().unwrap_or("").trim();
    (base == "timestamp" && !text.contains("with time zone"))
        || text.ends_with("without time zone") && text.starts_with("timestamp")
}
