//! The PostgreSQL [`Dialect`]: normalization (the schema as PostgreSQL stores it) and planning
//! with native `ALTER TABLE` statements, one [`Step`] per statement.
//!
//! # Order of the steps
//!
//! PostgreSQL checks every statement against the objects that exist when it runs, so the plan is
//! built in phases rather than in the order of the changes:
//!
//! 1. foreign keys that are dropped, that point at a key (primary key, unique constraint, unique
//!    index) about to be dropped (they come back in phase 8), or that would keep a dropped table
//!    referenced by another dropped table (a cycle);
//! 2. `DROP TABLE`, referencing tables first;
//! 3. checks, unique constraints, indexes and primary keys that go away (with their old names);
//! 4. table renames, column renames, then the constraints whose deterministic names change
//!    with them (`RENAME CONSTRAINT`);
//! 5. dropped columns;
//! 6. per existing table: new columns, altered columns, the new primary key, unique constraints,
//!    indexes and checks;
//! 7. `CREATE TABLE` (referenced tables first) with their indexes;
//! 8. new foreign keys: those of existing tables, those of new tables that point at a table
//!    created after them, and the ones phase 1 took away for a moment.
//!
//! Every statement that creates a CHECK constraint (`CREATE TABLE`, `ADD CONSTRAINT … CHECK`) is
//! followed by `COMMENT ON CONSTRAINT … IS 'qvdiff: <expr>'` ([`check_comment_sql`]): the server
//! prints a CHECK back in its own rewrite, and introspection reads the model's text from the
//! comment instead. Both statements name the table as it is called at that point of the plan
//! (phases 6 and 7 come after the renames), and the server keeps the comment through later
//! renames of the constraint or its table.

use crate::ddl::{
    add_constraint_sql, check_clause, check_comment_sql, column_definition, create_index_sql,
    create_table_sql, drop_constraint_sql, drop_index_sql, foreign_key_clause, primary_key_clause,
    unique_clause, IDENTITY,
};
use crate::enums::{plan_enums, using_enum, EnumPlan};
use crate::render::{
    check_name, foreign_key_name, limit_name, parse_default, parse_type, primary_key_name,
    quote_ident, quote_string, render_default, render_type, unique_name,
};
use qvdiff_core::{
    Change, Check, Column, ColumnType, DefaultValue, Dialect, ForeignKey, Index, Plan, PlanError,
    Schema, Step, Table, Unique,
};
use std::collections::{BTreeMap, BTreeSet};

/// The PostgreSQL dialect.
///
/// Plans run inside one transaction, except with [`Postgres::concurrent_indexes`], whose
/// `CONCURRENTLY` statements PostgreSQL refuses inside a transaction block (the runner runs such
/// revisions outside one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Postgres {
    /// Build and drop the indexes of tables that already exist with `CONCURRENTLY`, so writes to
    /// a large table are not blocked while its index is built. Off by default: such a migration
    /// cannot run in a transaction, so a failure can leave it half applied.
    pub concurrent_indexes: bool,
}

impl Dialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn normalize(&self, schema: &Schema) -> Schema {
        // PostgreSQL tracks what depends on what itself: views and triggers are not modelled.
        Schema {
            tables: schema.tables.iter().map(normalize_table).collect(),
            views: Vec::new(),
            triggers: Vec::new(),
        }
        .normalized()
    }

    fn plan(&self, from: &Schema, to: &Schema, changes: &[Change]) -> Result<Plan, PlanError> {
        Planner::new(*self, from, to, changes).plan()
    }
}

/// A logical type as PostgreSQL keeps it: there is no 8-bit integer (`smallint` is the
/// narrowest), and a custom type that names a known one becomes that logical type.
pub fn normalize_type(ty: &ColumnType) -> ColumnType {
    match ty {
        ColumnType::Custom { sql } => parse_type(sql),
        ColumnType::Enum { .. } => ty.clone(),
        // What the server reports is what was rendered, read back (`numeric(7)` is
        // `numeric(7,0)`, an 8-bit integer a `smallint`).
        other => parse_type(&render_type(other)),
    }
}

/// The table as PostgreSQL stores it: types and defaults as they read back, identity
/// (`autoincrement`) exactly on the column of a single-column integer primary key, key columns
/// NOT NULL, index and constraint names as the server keeps them (at most 63 bytes), lists
/// sorted. Migration hints are kept.
pub fn normalize_table(table: &Table) -> Table {
    let mut table = table.clone();
    let single_key = match table.primary_key.as_slice() {
        [single] => Some(single.clone()),
        _ => None,
    };
    for column in &mut table.columns {
        normalize_column_type_and_default(column);
        column.autoincrement = single_key.as_deref() == Some(column.name.as_str())
            && matches!(column.ty, ColumnType::Integer { .. });
        if table.primary_key.contains(&column.name) {
            column.nullable = false;
        }
    }
    for index in &mut table.indexes {
        index.name = limit_name(&index.name);
    }
    for unique in &mut table.uniques {
        unique.name = unique.name.as_deref().map(limit_name);
    }
    for check in &mut table.checks {
        check.name = limit_name(&check.name);
        // As the planner writes it (`CHECK (<expr>)`, and the comment) and the model reads it.
        check.expr = check.expr.trim().to_string();
    }
    table.normalize();
    table
}

fn normalize_column_type_and_default(column: &mut Column) {
    column.ty = normalize_type(&column.ty);
    column.default = column
        .default
        .as_ref()
        .map(|d| parse_default(&render_default(d), &column.ty));
}

/// A column with its migration hints removed, for "did it really change" comparisons.
fn without_hints(column: &Column) -> Column {
    Column {
        renamed_from: None,
        backfill: None,
        ty: column.ty.without_hints(),
        ..column.clone()
    }
}

/// Everything the changes do to one table that exists on both sides.
#[derive(Debug, Default)]
struct TableWork {
    /// Name in `to` (after a rename).
    to_name: String,
    /// Name in `from` (before a rename).
    from_name: String,
    /// `(old, new)` column names.
    column_renames: Vec<(String, String)>,
    dropped_indexes: Vec<Index>,
    dropped_uniques: Vec<Unique>,
    dropped_foreign_keys: Vec<ForeignKey>,
    dropped_checks: Vec<Check>,
    dropped_columns: Vec<Column>,
    added_columns: Vec<Column>,
    /// `(from, to)`, both named as in `to`.
    altered_columns: Vec<(Column, Column)>,
    /// The new key, when it changes.
    primary_key: Option<Vec<String>>,
    added_uniques: Vec<Unique>,
    added_indexes: Vec<Index>,
    added_foreign_keys: Vec<ForeignKey>,
    added_checks: Vec<Check>,
}

impl TableWork {
    fn new_column_name<'n>(&'n self, old: &'n str) -> &'n str {
        self.column_renames
            .iter()
            .find(|(from, _)| from == old)
            .map_or(old, |(_, to)| to.as_str())
    }

    fn old_column_name<'n>(&'n self, new: &'n str) -> &'n str {
        self.column_renames
            .iter()
            .find(|(_, to)| to == new)
            .map_or(new, |(from, _)| from.as_str())
    }

    fn new_column_names(&self, old: &[String]) -> Vec<String> {
        old.iter()
            .map(|c| self.new_column_name(c).to_string())
            .collect()
    }
}

/// A foreign key dropped for a moment because the key it points at is replaced.
#[derive(Debug)]
struct SuspendedForeignKey {
    /// Its table, named as in `from`.
    from_table: String,
    /// The key as it is in `from`.
    foreign_key: ForeignKey,
}

struct Planner<'a> {
    concurrent_indexes: bool,
    from: Schema,
    to: Schema,
    changes: &'a [Change],
    steps: Vec<Step>,
    enums: EnumPlan,
}

impl<'a> Planner<'a> {
    fn new(dialect: Postgres, from: &Schema, to: &Schema, changes: &'a [Change]) -> Planner<'a> {
        let normalize = |schema: &Schema| Schema {
            tables: schema.tables.iter().map(normalize_table).collect(),
            views: Vec::new(),
            triggers: Vec::new(),
        };
        let (from, to) = (normalize(from), normalize(to));
        Planner {
            concurrent_indexes: dialect.concurrent_indexes,
            enums: plan_enums(&from, &to, changes),
            from,
            to,
            changes,
            steps: Vec::new(),
        }
    }

    fn step(&mut self, sql: String) {
        self.steps.push(Step {
            sql,
            destructive: None,
        });
    }

    fn destructive_step(&mut self, sql: String, reason: Option<String>) {
        self.steps.push(Step {
            sql,
            destructive: reason,
        });
    }

    fn table_in_from(&self, name: &str) -> Result<&Table, PlanError> {
        self.from.table(name).ok_or_else(|| PlanError {
            table: name.to_string(),
            column: None,
            message: "table is not in the current schema".to_string(),
        })
    }

    fn table_in_to(&self, name: &str) -> Result<&Table, PlanError> {
        self.to.table(name).ok_or_else(|| PlanError {
            table: name.to_string(),
            column: None,
            message: "table is not in the target schema".to_string(),
        })
    }

    fn plan(mut self) -> Result<Plan, PlanError> {
        let mut created: Vec<Table> = Vec::new();
        let mut dropped: Vec<Table> = Vec::new();
        let mut table_renames: Vec<(String, String)> = Vec::new();
        for change in self.changes {
            match change {
                Change::CreateTable { table } => created.push(
                    self.to
                        .table(&table.name)
                        .cloned()
                        .unwrap_or_else(|| normalize_table(table)),
                ),
                Change::DropTable { table } => dropped.push(
                    self.from
                        .table(&table.name)
                        .cloned()
                        .unwrap_or_else(|| normalize_table(table)),
                ),
                Change::RenameTable { from, to } => table_renames.push((from.clone(), to.clone())),
                _ => {}
            }
        }
        let created_names: BTreeSet<String> = created.iter().map(|t| t.name.clone()).collect();

        // One entry per existing table that changes, in the order the changes name them (the
        // differ's dependency order).
        let mut works: Vec<TableWork> = Vec::new();
        let mut work_at: BTreeMap<String, usize> = BTreeMap::new();
        let mut entry = |works: &mut Vec<TableWork>, to_name: &str| -> usize {
            *work_at.entry(to_name.to_string()).or_insert_with(|| {
                let from_name = table_renames
                    .iter()
                    .find(|(_, new)| new == to_name)
                    .map_or(to_name, |(old, _)| old.as_str());
                works.push(TableWork {
                    to_name: to_name.to_string(),
                    from_name: from_name.to_string(),
                    ..TableWork::default()
                });
                works.len() - 1
            })
        };
        for (_, new) in &table_renames {
            entry(&mut works, new);
        }
        for change in self.changes {
            let Some(table) = change.altered_table() else {
                continue;
            };
            // A new table is created whole; its parts need no separate work.
            if created_names.contains(table) {
                continue;
            }
            let at = entry(&mut works, table);
            self.collect(change, &mut works[at])?;
        }
        for work in &works {
            self.table_in_from(&work.from_name)?;
            self.table_in_to(&work.to_name)?;
        }

        let drop_order: Vec<Table> = dependency_order(&dropped)
            .into_iter()
            .rev()
            .map(|i| dropped[i].clone())
            .collect();
        let suspended = self.suspended_foreign_keys(&works, &drop_order)?;

        // 0. Enum types: created, or changed in place, before any column uses them.
        for sql in std::mem::take(&mut self.enums.before) {
            self.step(sql);
        }

        // 1. Foreign keys first: nothing else can go while they point at it.
        for work in &works {
            for foreign_key in &work.dropped_foreign_keys {
                self.step(drop_constraint_sql(
                    &work.from_name,
                    &foreign_key_name(&work.from_name, foreign_key),
                ));
            }
        }
        for held in &suspended {
            self.step(drop_constraint_sql(
                &held.from_table,
                &foreign_key_name(&held.from_table, &held.foreign_key),
            ));
        }
        for (position, table) in drop_order.iter().enumerate() {
            for foreign_key in &table.foreign_keys {
                let dropped_before = drop_order[..position]
                    .iter()
                    .any(|t| t.name == foreign_key.ref_table);
                if dropped_before {
                    self.step(drop_constraint_sql(
                        &table.name,
                        &foreign_key_name(&table.name, foreign_key),
                    ));
                }
            }
        }

        // 2. Tables that go, referencing tables first.
        for table in &drop_order {
            let change = Change::DropTable {
                table: table.clone(),
            };
            self.destructive_step(
                format!("DROP TABLE {};", quote_ident(&table.name)),
                change.destructive_reason(),
            );
        }

        // 3. Constraints and indexes that go, under the names they have now.
        for work in &works {
            for check in &work.dropped_checks {
                self.step(drop_constraint_sql(&work.from_name, &check_name(check)));
            }
            for unique in &work.dropped_uniques {
                self.step(drop_constraint_sql(
                    &work.from_name,
                    &unique_name(&work.from_name, unique),
                ));
            }
            for index in &work.dropped_indexes {
                self.step(drop_index_sql(index, self.concurrent_indexes));
            }
            let had_key = !self.table_in_from(&work.from_name)?.primary_key.is_empty();
            if work.primary_key.is_some() && had_key {
                self.step(drop_constraint_sql(
                    &work.from_name,
                    &primary_key_name(&work.from_name),
                ));
            }
        }

        // 4. Renames, then the constraint names computed from the renamed things.
        for (old, new) in &table_renames {
            self.step(format!(
                "ALTER TABLE {} RENAME TO {};",
                quote_ident(old),
                quote_ident(new)
            ));
        }
        for work in &works {
            for (old, new) in &work.column_renames {
                self.step(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};",
                    quote_ident(&work.to_name),
                    quote_ident(old),
                    quote_ident(new)
                ));
            }
        }
        for work in &works {
            for (old, new) in self.constraint_renames(work, &suspended)? {
                self.step(format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                    quote_ident(&work.to_name),
                    quote_ident(&old),
                    quote_ident(&new)
                ));
            }
        }

        // 5. Columns that go.
        for work in &works {
            for column in &work.dropped_columns {
                let change = Change::DropColumn {
                    table: work.to_name.clone(),
                    column: column.clone(),
                };
                self.destructive_step(
                    format!(
                        "ALTER TABLE {} DROP COLUMN {};",
                        quote_ident(&work.to_name),
                        quote_ident(&column.name)
                    ),
                    change.destructive_reason(),
                );
            }
        }

        // 6. What existing tables gain or change, foreign keys aside.
        for work in &works {
            self.table_steps(work)?;
        }

        // 7. New tables; a foreign key to a table created later waits for phase 8.
        let create_order = dependency_order(&created);
        let mut deferred: Vec<(String, ForeignKey)> = Vec::new();
        for (position, &at) in create_order.iter().enumerate() {
            let table = &created[at];
            let created_later: BTreeSet<&str> = create_order[position + 1..]
                .iter()
                .map(|&later| created[later].name.as_str())
                .collect();
            let (inline, later): (Vec<&ForeignKey>, Vec<&ForeignKey>) = table
                .foreign_keys
                .iter()
                .partition(|fk| !created_later.contains(fk.ref_table.as_str()));
            deferred.extend(later.into_iter().map(|fk| (table.name.clone(), fk.clone())));
            self.step(create_table_sql(table, &inline));
            for check in &table.checks {
                self.step(check_comment_sql(&table.name, check));
            }
            for index in &table.indexes {
                self.step(create_index_sql(&table.name, index, false));
            }
        }

        // 8. Foreign keys, now that every table and key they point at exists.
        for work in &works {
            for foreign_key in &work.added_foreign_keys {
                deferred.push((work.to_name.clone(), foreign_key.clone()));
            }
        }
        for held in &suspended {
            if let Some(restored) = self.restored_foreign_key(held, &works, &table_renames) {
                deferred.push(restored);
            }
        }
        for (table, foreign_key) in deferred {
            self.step(add_constraint_sql(
                &table,
                &foreign_key_name(&table, &foreign_key),
                &foreign_key_clause(&foreign_key),
            ));
        }

        // 9. Enum types no column uses any more.
        for sql in std::mem::take(&mut self.enums.after) {
            self.step(sql);
        }
        Ok(Plan { steps: self.steps })
    }

    /// Records one change into its table's work.
    fn collect(&self, change: &Change, work: &mut TableWork) -> Result<(), PlanError> {
        match change {
            Change::AddColumn { column, .. } => {
                let wanted = self.wanted_column(&work.to_name, column)?;
                work.added_columns.push(wanted);
            }
            Change::DropColumn { column, .. } => work.dropped_columns.push(column.clone()),
            Change::RenameColumn { from, to, .. } => {
                work.column_renames.push((from.clone(), to.clone()))
            }
            Change::AlterColumn { from, to, .. } => {
                let old_name = work.old_column_name(&from.name).to_string();
                let mut before = match self.table_in_from(&work.from_name)?.column(&old_name) {
                    Some(existing) => existing.clone(),
                    None => {
                        let mut alone = from.clone();
                        normalize_column_type_and_default(&mut alone);
                        alone
                    }
                };
                before.name = to.name.clone();
                let after = self.wanted_column(&work.to_name, to)?;
                if without_hints(&before) != without_hints(&after) {
                    work.altered_columns.push((before, after));
                }
            }
            Change::SetPrimaryKey { to, .. } => work.primary_key = Some(to.clone()),
            Change::AddIndex { index, .. } => work.added_indexes.push(index.clone()),
            Change::DropIndex { index, .. } => work.dropped_indexes.push(index.clone()),
            Change::AddUnique { unique, .. } => work.added_uniques.push(unique.clone()),
            Change::DropUnique { unique, .. } => work.dropped_uniques.push(unique.clone()),
            Change::AddForeignKey { foreign_key, .. } => {
                work.added_foreign_keys.push(foreign_key.clone())
            }
            Change::DropForeignKey { foreign_key, .. } => {
                work.dropped_foreign_keys.push(foreign_key.clone())
            }
            Change::AddCheck { check, .. } => work.added_checks.push(check.clone()),
            Change::DropCheck { check, .. } => work.dropped_checks.push(check.clone()),
            Change::CreateTable { .. } | Change::DropTable { .. } | Change::RenameTable { .. } => {}
        }
        Ok(())
    }

    /// The column as the (normalized) target table has it, hints included; the change's own
    /// backfill when the table carries none.
    fn wanted_column(&self, table: &str, column: &Column) -> Result<Column, PlanError> {
        let mut wanted = match self.table_in_to(table)?.column(&column.name) {
            Some(wanted) => wanted.clone(),
            None => {
                let mut alone = column.clone();
                normalize_column_type_and_default(&mut alone);
                alone
            }
        };
        if wanted.backfill.is_none() {
            wanted.backfill.clone_from(&column.backfill);
        }
        Ok(wanted)
    }

    /// Foreign keys of tables that stay which point at a primary key, unique constraint or
    /// unique index this plan drops: PostgreSQL refuses to drop a key a foreign key depends on.
    fn suspended_foreign_keys(
        &self,
        works: &[TableWork],
        dropped: &[Table],
    ) -> Result<Vec<SuspendedForeignKey>, PlanError> {
        let mut dropped_keys: BTreeSet<(String, BTreeSet<String>)> = BTreeSet::new();
        for work in works {
            let table = self.table_in_from(&work.from_name)?;
            let key =
                |columns: &[String]| (work.from_name.clone(), columns.iter().cloned().collect());
            if work.primary_key.is_some() && !table.primary_key.is_empty() {
                dropped_keys.insert(key(&table.primary_key));
            }
            for unique in &work.dropped_uniques {
                dropped_keys.insert(key(&unique.columns));
            }
            for index in work.dropped_indexes.iter().filter(|i| i.unique) {
                dropped_keys.insert(key(&index.columns));
            }
        }
        let mut suspended = Vec::new();
        if dropped_keys.is_empty() {
            return Ok(suspended);
        }
        for table in &self.from.tables {
            if dropped.iter().any(|t| t.name == table.name) {
                continue;
            }
            let work = works.iter().find(|w| w.from_name == table.name);
            for foreign_key in &table.foreign_keys {
                let target = (
                    foreign_key.ref_table.clone(),
                    foreign_key.ref_columns.iter().cloned().collect(),
                );
                let dropped_anyway =
                    work.is_some_and(|w| w.dropped_foreign_keys.contains(foreign_key));
                if dropped_keys.contains(&target) && !dropped_anyway {
                    suspended.push(SuspendedForeignKey {
                        from_table: table.name.clone(),
                        foreign_key: foreign_key.clone(),
                    });
                }
            }
        }
        Ok(suspended)
    }

    /// A suspended foreign key as the target schema has it (table, columns and referenced
    /// names after the renames), when the target still has it.
    fn restored_foreign_key(
        &self,
        held: &SuspendedForeignKey,
        works: &[TableWork],
        table_renames: &[(String, String)],
    ) -> Option<(String, ForeignKey)> {
        let new_table_name = |old: &str| -> String {
            table_renames
                .iter()
                .find(|(from, _)| from == old)
                .map_or_else(|| old.to_string(), |(_, to)| to.clone())
        };
        let new_columns = |old_table: &str, columns: &[String]| -> Vec<String> {
            match works.iter().find(|w| w.from_name == old_table) {
                Some(work) => work.new_column_names(columns),
                None => columns.to_vec(),
            }
        };
        let fk = &held.foreign_key;
        let table = new_table_name(&held.from_table);
        let restored = ForeignKey {
            columns: new_columns(&held.from_table, &fk.columns),
            ref_table: new_table_name(&fk.ref_table),
            ref_columns: new_columns(&fk.ref_table, &fk.ref_columns),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
        };
        let still_wanted = self
            .to
            .table(&table)
            .is_some_and(|t| t.foreign_keys.contains(&restored));
        still_wanted.then_some((table, restored))
    }

    /// `(old, new)` names of the constraints of a table that stay but whose deterministic name
    /// changes with a table or column rename.
    fn constraint_renames(
        &self,
        work: &TableWork,
        suspended: &[SuspendedForeignKey],
    ) -> Result<Vec<(String, String)>, PlanError> {
        let table = self.table_in_from(&work.from_name)?;
        let (old_table, new_table) = (work.from_name.as_str(), work.to_name.as_str());
        let mut renames = Vec::new();
        if work.primary_key.is_none() && !table.primary_key.is_empty() {
            renames.push((primary_key_name(old_table), primary_key_name(new_table)));
        }
        for unique in &table.uniques {
            if work.dropped_uniques.contains(unique) {
                continue;
            }
            let renamed = Unique {
                name: unique.name.clone(),
                columns: work.new_column_names(&unique.columns),
            };
            renames.push((
                unique_name(old_table, unique),
                unique_name(new_table, &renamed),
            ));
        }
        for foreign_key in &table.foreign_keys {
            let held = suspended
                .iter()
                .any(|s| s.from_table == old_table && &s.foreign_key == foreign_key);
            if held || work.dropped_foreign_keys.contains(foreign_key) {
                continue;
            }
            let renamed = ForeignKey {
                columns: work.new_column_names(&foreign_key.columns),
                ..foreign_key.clone()
            };
            renames.push((
                foreign_key_name(old_table, foreign_key),
                foreign_key_name(new_table, &renamed),
            ));
        }
        renames.retain(|(old, new)| old != new);
        Ok(renames)
    }

    /// Phase 6 for one existing table.
    fn table_steps(&mut self, work: &TableWork) -> Result<(), PlanError> {
        let table = work.to_name.as_str();
        for column in &work.added_columns {
            self.add_column(table, column)?;
        }
        for (from, to) in &work.altered_columns {
            self.alter_column(table, from, to);
        }
        if let Some(key) = &work.primary_key {
            if !key.is_empty() {
                self.step(add_constraint_sql(
                    table,
                    &primary_key_name(table),
                    &primary_key_clause(key),
                ));
            }
        }
        for unique in &work.added_uniques {
            self.step(add_constraint_sql(
                table,
                &unique_name(table, unique),
                &unique_clause(unique),
            ));
        }
        for index in &work.added_indexes {
            self.step(create_index_sql(table, index, self.concurrent_indexes));
        }
        for check in &work.added_checks {
            self.step(add_constraint_sql(
                table,
                &check_name(check),
                &check_clause(check),
            ));
            self.step(check_comment_sql(table, check));
        }
        Ok(())
    }

    fn alter_column_sql(table: &str, column: &str, action: &str) -> String {
        format!(
            "ALTER TABLE {} ALTER COLUMN {} {action};",
            quote_ident(table),
            quote_ident(column)
        )
    }

    /// `ADD COLUMN` on a table that has rows: they get the backfill (else the default); a NOT
    /// NULL column with neither cannot be added.
    fn add_column(&mut self, table: &str, column: &Column) -> Result<(), PlanError> {
        let quoted_table = quote_ident(table);
        let alter = |action: &str| Self::alter_column_sql(table, &column.name, action);
        match &column.backfill {
            Some(fill) if is_row_number(fill) => {
                self.add_column_distinct_per_row(table, column);
            }
            // Existing rows take the backfill through a transient default; new rows the real one.
            Some(fill) if !column.autoincrement && column.default.as_ref() != Some(fill) => {
                let transient = Column {
                    default: None,
                    ..column.clone()
                };
                self.step(format!(
                    "ALTER TABLE {quoted_table} ADD COLUMN {} DEFAULT {};",
                    column_definition(&transient),
                    fill_value_sql(fill, &column.ty)
                ));
                self.step(match &column.default {
                    Some(default) => alter(&format!("SET DEFAULT {}", render_default(default))),
                    None => alter("DROP DEFAULT"),
                });
            }
            _ => {
                // An identity column numbers the existing rows itself.
                if !column.nullable && column.default.is_none() && !column.autoincrement {
                    return Err(missing_value_error(table, &column.name));
                }
                self.step(format!(
                    "ALTER TABLE {quoted_table} ADD COLUMN {};",
                    column_definition(column)
                ));
            }
        }
        Ok(())
    }

    /// A column re-added by a migration's way back into a key or unique constraint: every row
    /// needs its own value (the core's `rowid` backfill, which PostgreSQL does not have).
    fn add_column_distinct_per_row(&mut self, table: &str, column: &Column) {
        let quoted_table = quote_ident(table);
        let name = quote_ident(&column.name);
        let alter = |action: &str| Self::alter_column_sql(table, &column.name, action);
        if matches!(column.ty, ColumnType::Integer { .. }) {
            // An identity column added to a table numbers its rows 1, 2, 3, …
            self.step(format!(
                "ALTER TABLE {quoted_table} ADD COLUMN {name} {} {IDENTITY} NOT NULL;",
                render_type(&column.ty)
            ));
            if !column.autoincrement {
                self.step(alter("DROP IDENTITY"));
            }
            if column.nullable {
                self.step(alter("DROP NOT NULL"));
            }
        } else {
            self.step(format!(
                "ALTER TABLE {quoted_table} ADD COLUMN {name} {};",
                render_type(&column.ty)
            ));
            // A row's physical position (its ctid) is distinct in every row; as a number, block
            // * 65536 + offset. Each type gets a value of its own (`ctid::text` into a date
            // column was refused: property seed 3653).
            let number = "((ctid::text::point)[0] * 65536 + (ctid::text::point)[1])";
            let distinct = match &column.ty {
                ColumnType::Uuid => "md5(ctid::text)::uuid".to_string(),
                ColumnType::Float | ColumnType::Decimal { .. } => number.to_string(),
                ColumnType::Date => format!("DATE '1970-01-01' + {number}::integer"),
                ColumnType::DateTime => {
                    format!("TIMESTAMP '1970-01-01 00:00:00' + {number} * INTERVAL '1 second'")
                }
                ColumnType::Time => {
                    format!("TIME '00:00:00' + {number} * INTERVAL '1 microsecond'")
                }
                ColumnType::Json => "to_jsonb(ctid::text)".to_string(),
                ColumnType::Blob => "convert_to(ctid::text, 'UTF8')".to_string(),
                // Two values only: distinct together with the other columns of its constraint.
                ColumnType::Bool => format!("{number}::bigint % 2 = 1"),
                ColumnType::Custom { .. } => {
                    format!("{number}::bigint::{}", render_type(&column.ty))
                }
                ColumnType::Text { .. } | ColumnType::Integer { .. } => "ctid::text".to_string(),
                // An enum has only its values: the first (distinct with the other columns).
                ColumnType::Enum { values, .. } => match values.first() {
                    Some(first) => quote_string(first),
                    None => "NULL".to_string(),
                },
            };
            self.step(format!(
                "UPDATE {quoted_table} SET {name} = {distinct} WHERE {name} IS NULL;"
            ));
            if !column.nullable {
                self.step(alter("SET NOT NULL"));
            }
        }
        if let Some(default) = &column.default {
            self.step(alter(&format!("SET DEFAULT {}", render_default(default))));
        }
    }

    /// Identity off, type, default, nullability, identity on: each step valid after the one
    /// before (an identity needs NOT NULL and no default; a NOT NULL backfill is in the new type).
    fn alter_column(&mut self, table: &str, from: &Column, to: &Column) {
        let alter = |action: &str| Self::alter_column_sql(table, &to.name, action);
        if from.autoincrement && !to.autoincrement {
            self.step(alter("DROP IDENTITY"));
        }
        let mut current_default = from.default.clone();
        let enum_in_place = matches!((&from.ty, &to.ty), (
            ColumnType::Enum { name: a, .. },
            ColumnType::Enum { name: b, .. },
        ) if a == b && self.enums.in_place.contains(a));
        if from.ty.without_hints() != to.ty.without_hints() && !enum_in_place {
            // PostgreSQL casts the old default to the new type without the USING expression,
            // which fails for e.g. boolean -> integer: the default goes first, comes back after.
            if current_default.is_some() {
                self.step(alter("DROP DEFAULT"));
                current_default = None;
            }
            let change = Change::AlterColumn {
                table: table.to_string(),
                from: from.clone(),
                to: to.clone(),
            };
            self.destructive_step(
                alter(&format!(
                    "TYPE {} USING {}",
                    render_type(&to.ty),
                    match &to.ty {
                        ColumnType::Enum { name, .. } => using_enum(
                            &to.name,
                            name,
                            self.enums.renames.get(name).map_or(&[], Vec::as_slice)
                        ),
                        _ => using_expression(&to.name, &from.ty, &to.ty),
                    }
                )),
                change.destructive_reason(),
            );
        }
        if current_default != to.default {
            self.step(match &to.default {
                Some(default) => alter(&format!("SET DEFAULT {}", render_default(default))),
                None => alter("DROP DEFAULT"),
            });
        }
        if from.nullable && !to.nullable {
            // The backfill wins over the default; with neither, the runner reports the NULLs.
            if let Some(fill) = to.backfill.as_ref().or(to.default.as_ref()) {
                let name = quote_ident(&to.name);
                self.step(format!(
                    "UPDATE {} SET {name} = {} WHERE {name} IS NULL;",
                    quote_ident(table),
                    fill_value_sql(fill, &to.ty)
                ));
            }
            self.step(alter("SET NOT NULL"));
        } else if !from.nullable && to.nullable {
            self.step(alter("DROP NOT NULL"));
        }
        if !from.autoincrement && to.autoincrement {
            self.step(alter(&format!("ADD {IDENTITY}")));
            self.step(identity_past_existing_rows(table, &to.name));
        }
    }
}

/// A new identity's sequence starts at 1, but the rows already there hold their own ids: the
/// first insert without an id would collide with them. Moves the sequence past the largest id
/// (to 1 when there is none, or none above 0). A data step: `setval` changes no schema.
fn identity_past_existing_rows(table: &str, column: &str) -> String {
    let quoted = quote_ident(column);
    format!(
        "SELECT setval(pg_get_serial_sequence({}, {}), GREATEST(MAX({quoted}), 1), \
         COALESCE(MAX({quoted}) >= 1, false)) FROM {};",
        quote_string(&quote_ident(table)),
        quote_string(column),
        quote_ident(table)
    )
}

/// Whether a backfill asks for a value distinct in every row (the core fills a restored key
/// column with SQLite's `rowid`).
fn is_row_number(value: &DefaultValue) -> bool {
    matches!(value, DefaultValue::Sql(sql) if sql.trim().eq_ignore_ascii_case("rowid"))
}

/// The SQL of a value existing rows are given. The core's placeholders for a restored column
/// are written for SQLite, which stores anything anywhere; PostgreSQL checks types, so the empty
/// text of a date, time, UUID or JSON column, and the `X''` blob, are spelled as that type's zero.
fn fill_value_sql(value: &DefaultValue, ty: &ColumnType) -> String {
    match (value, ty) {
        (DefaultValue::Text(text), _) if text.is_empty() => match ty {
            ColumnType::DateTime => "'1970-01-01 00:00:00'".to_string(),
            ColumnType::Date => "'1970-01-01'".to_string(),
            ColumnType::Time => "'00:00:00'".to_string(),
            ColumnType::Uuid => "'00000000-0000-0000-0000-000000000000'".to_string(),
            ColumnType::Json => "'null'".to_string(),
            _ => render_default(value),
        },
        (DefaultValue::Sql(sql), ColumnType::Blob) => match sqlite_blob_hex(sql) {
            Some(hex) => format!("'\\x{hex}'::bytea"),
            None => render_default(value),
        },
        _ => render_default(value),
    }
}

/// The hex digits of a SQLite blob literal `X'…'`.
fn sqlite_blob_hex(sql: &str) -> Option<&str> {
    let sql = sql.trim();
    let rest = sql.strip_prefix(['X', 'x'])?;
    let hex = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    hex.chars().all(|c| c.is_ascii_hexdigit()).then_some(hex)
}

/// The `USING` expression converting column `column` from `from` to `to`: a cast where
/// PostgreSQL has one, a working expression where it does not (booleans and numbers, bytes and
/// text), and the text form otherwise (see [`has_direct_cast`]).
fn using_expression(column: &str, from: &ColumnType, to: &ColumnType) -> String {
    use ColumnType as T;
    let quoted = quote_ident(column);
    let target = render_type(to);
    let numeric = |ty: &T| matches!(ty, T::Integer { .. } | T::Float | T::Decimal { .. });
    match (from, to) {
        // NULL stays NULL (`ELSE 0` made it 0: property seed 374).
        (T::Bool, to) if numeric(to) => {
            format!("CASE WHEN {quoted} THEN 1 WHEN NOT {quoted} THEN 0 END")
        }
        (from, T::Bool) if numeric(from) => format!("({quoted} <> 0)"),
        (T::Blob, T::Text { .. }) => format!("convert_from({quoted}, 'UTF8')"),
        (T::Blob, _) => format!("convert_from({quoted}, 'UTF8')::{target}"),
        (_, T::Blob) => format!("convert_to({quoted}::text, 'UTF8')"),
        _ if has_direct_cast(from, to) => format!("{quoted}::{target}"),
        _ => format!("{quoted}::text::{target}"),
    }
}

/// Whether PostgreSQL has a cast from `from` to `to` (`x::to`). Between logical types without
/// one (a timestamp and an integer, a uuid and a date, an integer and jsonb, …) the server
/// refuses the bare cast even on an empty table; through its text form every value that reads
/// as the new type converts, and the others fail the statement (its step is DESTRUCTIVE), which
/// rolls the migration back. A custom type is assumed to have its casts.
fn has_direct_cast(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType as T;
    let numeric = |ty: &T| matches!(ty, T::Integer { .. } | T::Float | T::Decimal { .. });
    match (from, to) {
        (T::Custom { .. }, _) | (_, T::Custom { .. }) => true,
        // Every type reads from and prints to text (the I/O conversion casts).
        (T::Text { .. }, _) | (_, T::Text { .. }) => true,
        (a, b) if numeric(a) && numeric(b) => true,
        (T::Date | T::DateTime, T::Date | T::DateTime) | (T::DateTime, T::Time) => true,
        (T::Json, to) => numeric(to) || matches!(to, T::Bool),
        _ => false,
    }
}

fn missing_value_error(table: &str, column: &str) -> PlanError {
    PlanError {
        table: table.to_string(),
        column: Some(column.to_string()),
        message: "a new NOT NULL column needs a value for the existing rows: add \
                  `#[column(default = …)]` or `#[column(backfill = …)]`"
            .to_string(),
    }
}

/// Positions of `tables`, each after the tables of the list its foreign keys reference; ties by
/// name, a cycle broken at the smallest name (its keys to later tables are added afterwards).
fn dependency_order(tables: &[Table]) -> Vec<usize> {
    let position: BTreeMap<&str, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for table in tables {
        let needs: BTreeSet<&str> = table
            .foreign_keys
            .iter()
            .map(|fk| fk.ref_table.as_str())
            .filter(|r| *r != table.name && position.contains_key(r))
            .collect();
        for need in &needs {
            dependents
                .entry(need)
                .or_default()
                .push(table.name.as_str());
        }
        waiting.insert(table.name.as_str(), needs.len());
    }
    let mut remaining: BTreeSet<&str> = position.keys().copied().collect();
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(name, _)| *name)
        .collect();
    let mut order = Vec::with_capacity(tables.len());
    while let Some(next) = ready.pop_first().or_else(|| remaining.first().copied()) {
        if !remaining.remove(next) {
            continue;
        }
        if let Some(&at) = position.get(next) {
            order.push(at);
        }
        for dependent in dependents.get(next).into_iter().flatten() {
            if let Some(count) = waiting.get_mut(dependent) {
                *count = count.saturating_sub(1);
                if *count == 0 && remaining.contains(dependent) {
                    ready.insert(dependent);
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use qvdiff_core::{diff, FkAction, Renames};

    const INT64: ColumnType = ColumnType::Integer { bits: 64 };
    const TEXT: ColumnType = ColumnType::Text { max_length: None };

    fn column(name: &str, ty: ColumnType) -> Column {
        Column::new(name, ty)
    }

    fn nullable(name: &str, ty: ColumnType) -> Column {
        Column {
            nullable: true,
            ..Column::new(name, ty)
        }
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// A table with an `id` primary key and the given other columns.
    fn table(name: &str, columns: Vec<Column>) -> Table {
        let mut all = vec![column("id", INT64)];
        all.extend(columns);
        let mut table = Table::new(name, all);
        table.primary_key = strings(&["id"]);
        table
    }

    fn fk(columns: &[&str], ref_table: &str, ref_columns: &[&str]) -> ForeignKey {
        ForeignKey {
            columns: strings(columns),
            ref_table: ref_table.into(),
            ref_columns: strings(ref_columns),
            on_delete: FkAction::NoAction,
            on_update: FkAction::NoAction,
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            tables,
            ..Schema::default()
        }
    }

    fn plan_with(dialect: Postgres, from: &Schema, to: &Schema) -> Result<Plan, PlanError> {
        let from = dialect.normalize(from).without_hints();
        let to = dialect.normalize(to);
        let changes = diff(&from, &to, &Renames::from_hints(&to));
        dialect.plan(&from, &to, &changes)
    }

    fn sql(from: &Schema, to: &Schema) -> Vec<String> {
        match plan_with(Postgres::default(), from, to) {
            Ok(plan) => plan.steps.into_iter().map(|s| s.sql).collect(),
            Err(e) => panic!("plan failed: {e}"),
        }
    }

    fn users() -> Table {
        table("users", vec![column("email", TEXT)])
    }

    #[test]
    fn normalize_follows_what_postgres_stores() {
        let mut t = Table::new(
            "t",
            vec![
                Column {
                    autoincrement: false,
                    ..column("id", ColumnType::Integer { bits: 32 })
                },
                nullable("tiny", ColumnType::Integer { bits: 8 }),
                Column {
                    autoincrement: true,
                    default: Some(DefaultValue::Sql(" 'x' ".into())),
                    ..nullable(
                        "c",
                        ColumnType::Custom {
                            sql: "VARCHAR(20)".into(),
                        },
                    )
                },
            ],
        );
        t.primary_key = strings(&["id"]);
        let long = "x".repeat(70);
        t.indexes = vec![Index {
            name: long.clone(),
            columns: strings(&["c"]),
            unique: false,
        }];
        let s = Schema {
            tables: vec![t],
            views: vec![qvdiff_core::RawObject {
                name: "v".into(),
                table: String::new(),
                sql: "CREATE VIEW v AS SELECT 1".into(),
            }],
            triggers: Vec::new(),
        };
        let n = Postgres::default().normalize(&s);
        assert!(n.views.is_empty());
        let t = &n.tables[0];
        assert!(t.columns[0].autoincrement);
        assert!(!t.columns[0].nullable);
        assert_eq!(t.columns[1].ty, ColumnType::Integer { bits: 16 });
        assert!(!t.columns[2].autoincrement);
        assert_eq!(
            t.columns[2].ty,
            ColumnType::Text {
                max_length: Some(20)
            }
        );
        assert_eq!(t.columns[2].default, Some(DefaultValue::Text("x".into())));
        assert_eq!(t.indexes[0].name, limit_name(&long));
        assert_eq!(Postgres::default().normalize(&n), n);
        // `numeric(7)` is kept as `numeric(7,0)`, from the logical type or a custom spelling.
        let numeric_7 = ColumnType::Decimal {
            precision: Some(7),
            scale: Some(0),
        };
        for ty in [
            ColumnType::Decimal {
                precision: Some(7),
                scale: None,
            },
            ColumnType::Custom {
                sql: "NUMERIC(7)".into(),
            },
        ] {
            assert_eq!(normalize_type(&ty), numeric_7);
        }
    }

    #[test]
    fn create_tables_parents_first_and_cycles_through_add_constraint() {
        let mut items = table("items", vec![column("user_id", INT64)]);
        items.foreign_keys = vec![fk(&["user_id"], "users", &["id"])];
        items.indexes = vec![Index {
            name: "ix_items_user_id".into(),
            columns: strings(&["user_id"]),
            unique: false,
        }];
        assert_eq!(
            sql(&Schema::default(), &schema(vec![items.clone(), users()])),
            vec![
                "CREATE TABLE \"users\" (\n    \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \"email\" text NOT NULL,\n    CONSTRAINT \"users_pkey\" PRIMARY KEY (\"id\")\n);",
                "CREATE TABLE \"items\" (\n    \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \"user_id\" bigint NOT NULL,\n    CONSTRAINT \"items_pkey\" PRIMARY KEY (\"id\"),\n    CONSTRAINT \"items_user_id_fkey\" FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION\n);",
                "CREATE INDEX \"ix_items_user_id\" ON \"items\" (\"user_id\");",
            ]
        );

        let mut a = table("a", vec![nullable("b_id", INT64)]);
        a.foreign_keys = vec![fk(&["b_id"], "b", &["id"])];
        let mut b = table("b", vec![nullable("a_id", INT64)]);
        b.foreign_keys = vec![fk(&["a_id"], "a", &["id"])];
        let steps = sql(&Schema::default(), &schema(vec![a, b]));
        assert_eq!(steps.len(), 3);
        assert!(steps[0].starts_with("CREATE TABLE \"a\""));
        assert!(!steps[0].contains("FOREIGN KEY"));
        assert!(steps[1].starts_with("CREATE TABLE \"b\""));
        assert!(steps[1].contains("CONSTRAINT \"b_a_id_fkey\" FOREIGN KEY"));
        assert_eq!(
            steps[2],
            "ALTER TABLE \"a\" ADD CONSTRAINT \"a_b_id_fkey\" FOREIGN KEY (\"b_id\") REFERENCES \"b\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION;"
        );
    }

    #[test]
    fn drop_tables_children_first_after_foreign_keys_pointing_at_them() {
        let mut items = table("items", vec![column("user_id", INT64)]);
        items.foreign_keys = vec![fk(&["user_id"], "users", &["id"])];
        let mut notes = table("notes", vec![nullable("user_id", INT64)]);
        notes.foreign_keys = vec![fk(&["user_id"], "users", &["id"])];
        let before = schema(vec![users(), items, notes]);
        let after = schema(vec![table("notes", vec![nullable("user_id", INT64)])]);
        let plan = plan_with(Postgres::default(), &before, &after).expect("plan");
        let steps: Vec<(&str, Option<&str>)> = plan
            .steps
            .iter()
            .map(|s| (s.sql.as_str(), s.destructive.as_deref()))
            .collect();
        assert_eq!(
            steps,
            vec![
                (
                    "ALTER TABLE \"notes\" DROP CONSTRAINT \"notes_user_id_fkey\";",
                    None
                ),
                (
                    "DROP TABLE \"items\";",
                    Some("drops table items and all its rows")
                ),
                (
                    "DROP TABLE \"users\";",
                    Some("drops table users and all its rows")
                ),
            ]
        );
    }

    #[test]
    fn dropped_tables_in_a_cycle_lose_the_blocking_foreign_key_first() {
        let mut a = table("a", vec![nullable("b_id", INT64)]);
        a.foreign_keys = vec![fk(&["b_id"], "b", &["id"])];
        let mut b = table("b", vec![nullable("a_id", INT64)]);
        b.foreign_keys = vec![fk(&["a_id"], "a", &["id"])];
        assert_eq!(
            sql(&schema(vec![a, b]), &Schema::default()),
            vec![
                "ALTER TABLE \"a\" DROP CONSTRAINT \"a_b_id_fkey\";",
                "DROP TABLE \"b\";",
                "DROP TABLE \"a\";",
            ]
        );
    }

    #[test]
    fn add_columns() {
        let before = schema(vec![table("t", vec![])]);
        let with = |c: Column| schema(vec![table("t", vec![c])]);
        assert_eq!(
            sql(&before, &with(nullable("notes", TEXT))),
            vec!["ALTER TABLE \"t\" ADD COLUMN \"notes\" text;"]
        );
        let defaulted = Column {
            default: Some(DefaultValue::Integer(1)),
            ..column("qty", INT64)
        };
        assert_eq!(
            sql(&before, &with(defaulted.clone())),
            vec!["ALTER TABLE \"t\" ADD COLUMN \"qty\" bigint NOT NULL DEFAULT 1;"]
        );
        let backfilled = Column {
            backfill: Some(DefaultValue::Text("n/a".into())),
            ..column("title", TEXT)
        };
        assert_eq!(
            sql(&before, &with(backfilled)),
            vec![
                "ALTER TABLE \"t\" ADD COLUMN \"title\" text NOT NULL DEFAULT 'n/a';",
                "ALTER TABLE \"t\" ALTER COLUMN \"title\" DROP DEFAULT;",
            ]
        );
        let both = Column {
            backfill: Some(DefaultValue::Integer(0)),
            ..defaulted
        };
        assert_eq!(
            sql(&before, &with(both)),
            vec![
                "ALTER TABLE \"t\" ADD COLUMN \"qty\" bigint NOT NULL DEFAULT 0;",
                "ALTER TABLE \"t\" ALTER COLUMN \"qty\" SET DEFAULT 1;",
            ]
        );
    }

    #[test]
    fn a_new_not_null_column_without_a_value_is_a_plan_error() {
        let before = schema(vec![table("t", vec![])]);
        let after = schema(vec![table("t", vec![column("location", TEXT)])]);
        let err = plan_with(Postgres::default(), &before, &after).expect_err("refused");
        assert_eq!(err.table, "t");
        assert_eq!(err.column.as_deref(), Some("location"));
        assert!(err
            .to_string()
            .starts_with("t.location: a new NOT NULL column"));
        // A new table has no rows: nothing to fill.
        assert!(plan_with(Postgres::default(), &Schema::default(), &after).is_ok());
    }

    #[test]
    fn drop_column_is_destructive_and_comes_after_its_index() {
        let mut before_table = table("t", vec![nullable("a", TEXT)]);
        before_table.indexes = vec![Index {
            name: "ix_t_a".into(),
            columns: strings(&["a"]),
            unique: false,
        }];
        let plan = plan_with(
            Postgres::default(),
            &schema(vec![before_table]),
            &schema(vec![table("t", vec![])]),
        )
        .expect("plan");
        assert_eq!(plan.steps[0].sql, "DROP INDEX \"ix_t_a\";");
        assert_eq!(plan.steps[1].sql, "ALTER TABLE \"t\" DROP COLUMN \"a\";");
        assert_eq!(
            plan.steps[1].destructive.as_deref(),
            Some("drops data in t.a")
        );
    }

    #[test]
    fn renames_rename_the_constraints_named_after_them() {
        let mut before_items = table("items", vec![column("user_id", INT64), column("sku", TEXT)]);
        before_items.foreign_keys = vec![fk(&["user_id"], "users", &["id"])];
        before_items.uniques = vec![Unique {
            name: None,
            columns: strings(&["sku"]),
        }];
        before_items.indexes = vec![Index {
            name: "ix_items_sku".into(),
            columns: strings(&["sku"]),
            unique: false,
        }];
        let mut after_goods = table(
            "goods",
            vec![
                Column {
                    renamed_from: Some("user_id".into()),
                    ..column("owner_id", INT64)
                },
                column("sku", TEXT),
            ],
        );
        after_goods.renamed_from = Some("items".into());
        after_goods.foreign_keys = vec![fk(&["owner_id"], "users", &["id"])];
        after_goods.uniques = before_items.uniques.clone();
        after_goods.indexes = before_items.indexes.clone();
        assert_eq!(
            sql(
                &schema(vec![users(), before_items]),
                &schema(vec![users(), after_goods])
            ),
            vec![
                "ALTER TABLE \"items\" RENAME TO \"goods\";",
                "ALTER TABLE \"goods\" RENAME COLUMN \"user_id\" TO \"owner_id\";",
                "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_pkey\" TO \"goods_pkey\";",
                "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_sku_key\" TO \"goods_sku_key\";",
                "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_user_id_fkey\" TO \"goods_owner_id_fkey\";",
            ]
        );
    }

    #[test]
    fn type_changes_cast_with_using_and_mark_losses() {
        let before = schema(vec![table(
            "t",
            vec![
                Column {
                    default: Some(DefaultValue::Bool(true)),
                    ..column("flag", ColumnType::Bool)
                },
                column("n", INT64),
                column("price", ColumnType::Float),
            ],
        )]);
        let after = schema(vec![table(
            "t",
            vec![
                Column {
                    default: Some(DefaultValue::Integer(1)),
                    ..column("flag", ColumnType::Integer { bits: 32 })
                },
                column("n", ColumnType::Bool),
                column("price", ColumnType::Integer { bits: 64 }),
            ],
        )]);
        let plan = plan_with(Postgres::default(), &before, &after).expect("plan");
        let steps: Vec<(&str, bool)> = plan
            .steps
            .iter()
            .map(|s| (s.sql.as_str(), s.destructive.is_some()))
            .collect();
        assert_eq!(
            steps,
            vec![
                ("ALTER TABLE \"t\" ALTER COLUMN \"flag\" DROP DEFAULT;", false),
                (
                    "ALTER TABLE \"t\" ALTER COLUMN \"flag\" TYPE integer USING CASE WHEN \"flag\" THEN 1 WHEN NOT \"flag\" THEN 0 END;",
                    false
                ),
                ("ALTER TABLE \"t\" ALTER COLUMN \"flag\" SET DEFAULT 1;", false),
                (
                    "ALTER TABLE \"t\" ALTER COLUMN \"n\" TYPE boolean USING (\"n\" <> 0);",
                    true
                ),
                (
                    "ALTER TABLE \"t\" ALTER COLUMN \"price\" TYPE bigint USING \"price\"::bigint;",
                    true
                ),
            ]
        );
        assert_eq!(
            plan.steps[4].destructive.as_deref(),
            Some("converts t.price from FLOAT to INTEGER; values that do not fit are lost or changed")
        );
    }

    /// Property seed 2: `timestamp` → `bigint` has no cast in PostgreSQL, which refused the bare
    /// `"c"::bigint` even on an empty table; types without a cast go through their text form.
    #[test]
    fn conversions_without_a_cast_go_through_text() {
        let cases = [
            (ColumnType::DateTime, INT64, "\"c\"::text::bigint"),
            (ColumnType::Uuid, ColumnType::Date, "\"c\"::text::date"),
            (INT64, ColumnType::Json, "\"c\"::text::jsonb"),
            (
                ColumnType::Time,
                ColumnType::DateTime,
                "\"c\"::text::timestamp",
            ),
            (ColumnType::Bool, ColumnType::Uuid, "\"c\"::text::uuid"),
            (ColumnType::Json, ColumnType::Date, "\"c\"::text::date"),
            // Property seed 374: a NULL boolean stays NULL (it became 0 with `ELSE 0`).
            (
                ColumnType::Bool,
                INT64,
                "CASE WHEN \"c\" THEN 1 WHEN NOT \"c\" THEN 0 END",
            ),
            // Casts PostgreSQL has stay casts.
            (ColumnType::Float, INT64, "\"c\"::bigint"),
            (ColumnType::Date, ColumnType::DateTime, "\"c\"::timestamp"),
            (ColumnType::DateTime, ColumnType::Time, "\"c\"::time"),
            (
                ColumnType::Json,
                ColumnType::Float,
                "\"c\"::double precision",
            ),
            (TEXT, ColumnType::Uuid, "\"c\"::uuid"),
            (ColumnType::Uuid, TEXT, "\"c\"::text"),
        ];
        for (from, to, using) in cases {
            assert_eq!(
                using_expression("c", &from, &to),
                using,
                "{from:?} -> {to:?}"
            );
        }
    }

    #[test]
    fn nullability_and_defaults() {
        let before = schema(vec![table(
            "t",
            vec![
                nullable("a", TEXT),
                nullable("b", TEXT),
                column("c", TEXT),
                nullable("d", TEXT),
            ],
        )]);
        let after = schema(vec![table(
            "t",
            vec![
                Column {
                    backfill: Some(DefaultValue::Text("(none)".into())),
                    default: Some(DefaultValue::Text("x".into())),
                    ..column("a", TEXT)
                },
                Column {
                    default: Some(DefaultValue::Text("draft".into())),
                    ..column("b", TEXT)
                },
                nullable("c", TEXT),
                column("d", TEXT),
            ],
        )]);
        assert_eq!(
            sql(&before, &after),
            vec![
                "ALTER TABLE \"t\" ALTER COLUMN \"a\" SET DEFAULT 'x';",
                "UPDATE \"t\" SET \"a\" = '(none)' WHERE \"a\" IS NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"a\" SET NOT NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"b\" SET DEFAULT 'draft';",
                "UPDATE \"t\" SET \"b\" = 'draft' WHERE \"b\" IS NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"b\" SET NOT NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"c\" DROP NOT NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"d\" SET NOT NULL;",
            ]
        );
        assert_eq!(
            sql(&after, &before)[0],
            "ALTER TABLE \"t\" ALTER COLUMN \"a\" DROP DEFAULT;"
        );
    }

    #[test]
    fn primary_key_change_moves_identity_and_suspends_incoming_foreign_keys() {
        let tags = table("tags", vec![column("slug", TEXT)]);
        let mut links = table("links", vec![column("tag_id", INT64)]);
        links.foreign_keys = vec![fk(&["tag_id"], "tags", &["id"])];
        let mut composite = tags.clone();
        composite.primary_key = strings(&["slug", "id"]);
        composite.uniques = vec![Unique {
            name: None,
            columns: strings(&["id"]),
        }];
        let before = schema(vec![tags, links.clone()]);
        let after = schema(vec![composite, links]);
        assert_eq!(
            sql(&before, &after),
            vec![
                "ALTER TABLE \"links\" DROP CONSTRAINT \"links_tag_id_fkey\";",
                "ALTER TABLE \"tags\" DROP CONSTRAINT \"tags_pkey\";",
                "ALTER TABLE \"tags\" ALTER COLUMN \"id\" DROP IDENTITY;",
                "ALTER TABLE \"tags\" ADD CONSTRAINT \"tags_pkey\" PRIMARY KEY (\"slug\", \"id\");",
                "ALTER TABLE \"tags\" ADD CONSTRAINT \"tags_id_key\" UNIQUE (\"id\");",
                "ALTER TABLE \"links\" ADD CONSTRAINT \"links_tag_id_fkey\" FOREIGN KEY (\"tag_id\") REFERENCES \"tags\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION;",
            ]
        );
        let back = sql(&after, &before);
        let identity = back
            .iter()
            .position(|s| {
                s == "ALTER TABLE \"tags\" ALTER COLUMN \"id\" ADD GENERATED BY DEFAULT AS IDENTITY;"
            })
            .expect("identity comes back");
        assert_eq!(
            back[identity + 1],
            "SELECT setval(pg_get_serial_sequence('\"tags\"', 'id'), GREATEST(MAX(\"id\"), 1), \
             COALESCE(MAX(\"id\") >= 1, false)) FROM \"tags\";"
        );
    }

    #[test]
    fn constraints_and_indexes_of_existing_tables() {
        let before = schema(vec![
            users(),
            table("t", vec![nullable("a", INT64), column("b", TEXT)]),
        ]);
        let mut t = table("t", vec![nullable("a", INT64), column("b", TEXT)]);
        t.uniques = vec![Unique {
            name: Some("t_b_unique".into()),
            columns: strings(&["b"]),
        }];
        t.indexes = vec![Index {
            name: "ix_t_a_b".into(),
            columns: strings(&["a", "b"]),
            unique: true,
        }];
        t.foreign_keys = vec![ForeignKey {
            on_delete: FkAction::SetNull,
            ..fk(&["a"], "users", &["id"])
        }];
        t.checks = vec![Check {
            name: "b_not_empty".into(),
            expr: "b <> ''".into(),
        }];
        let after = schema(vec![users(), t]);
        let concurrent = Postgres {
            concurrent_indexes: true,
        };
        let up: Vec<String> = plan_with(concurrent, &before, &after)
            .expect("plan")
            .steps
            .into_iter()
            .map(|s| s.sql)
            .collect();
        assert_eq!(
            up,
            vec![
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_b_unique\" UNIQUE (\"b\");",
                "CREATE UNIQUE INDEX CONCURRENTLY \"ix_t_a_b\" ON \"t\" (\"a\", \"b\");",
                "ALTER TABLE \"t\" ADD CONSTRAINT \"b_not_empty\" CHECK (b <> '');",
                "COMMENT ON CONSTRAINT \"b_not_empty\" ON \"t\" IS 'qvdiff: b <> ''''';",
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_fkey\" FOREIGN KEY (\"a\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION;",
            ]
        );
        assert_eq!(
            sql(&after, &before),
            vec![
                "ALTER TABLE \"t\" DROP CONSTRAINT \"t_a_fkey\";",
                "ALTER TABLE \"t\" DROP CONSTRAINT \"b_not_empty\";",
                "ALTER TABLE \"t\" DROP CONSTRAINT \"t_b_unique\";",
                "DROP INDEX \"ix_t_a_b\";",
            ]
        );
        let down_concurrent: Vec<String> = plan_with(concurrent, &after, &before)
            .expect("plan")
            .steps
            .into_iter()
            .map(|s| s.sql)
            .collect();
        assert!(down_concurrent.contains(&"DROP INDEX CONCURRENTLY \"ix_t_a_b\";".to_string()));
        // A new table's indexes are never built concurrently: nobody writes to it yet.
        let mut fresh = table("fresh", vec![column("a", INT64)]);
        fresh.indexes = vec![Index {
            name: "ix_fresh_a".into(),
            columns: strings(&["a"]),
            unique: false,
        }];
        let created: Vec<String> = plan_with(concurrent, &Schema::default(), &schema(vec![fresh]))
            .expect("plan")
            .steps
            .into_iter()
            .map(|s| s.sql)
            .collect();
        assert_eq!(
            created[1],
            "CREATE INDEX \"ix_fresh_a\" ON \"fresh\" (\"a\");"
        );
    }

    #[test]
    fn every_new_check_is_followed_by_its_comment_under_the_current_table_name() {
        let before = schema(vec![table("items", vec![column("qty", INT64)])]);
        let mut goods = table("goods", vec![column("qty", INT64)]);
        goods.renamed_from = Some("items".into());
        goods.checks = vec![Check {
            name: "qty_positive".into(),
            expr: "  qty > 0 ".into(),
        }];
        let mut fresh = table("fresh", vec![column("status", TEXT)]);
        fresh.checks = vec![
            Check {
                name: "status_known".into(),
                expr: "status IN ('new', 'it''s')".into(),
            },
            Check {
                name: "id_positive".into(),
                expr: "id > 0".into(),
            },
        ];
        fresh.indexes = vec![Index {
            name: "ix_fresh_status".into(),
            columns: strings(&["status"]),
            unique: false,
        }];
        let after = schema(vec![goods, fresh]);
        assert_eq!(
            sql(&before, &after),
            vec![
                "ALTER TABLE \"items\" RENAME TO \"goods\";",
                "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_pkey\" TO \"goods_pkey\";",
                "ALTER TABLE \"goods\" ADD CONSTRAINT \"qty_positive\" CHECK (qty > 0);",
                "COMMENT ON CONSTRAINT \"qty_positive\" ON \"goods\" IS 'qvdiff: qty > 0';",
                "CREATE TABLE \"fresh\" (\n    \
                 \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \
                 \"status\" text NOT NULL,\n    \
                 CONSTRAINT \"fresh_pkey\" PRIMARY KEY (\"id\"),\n    \
                 CONSTRAINT \"id_positive\" CHECK (id > 0),\n    \
                 CONSTRAINT \"status_known\" CHECK (status IN ('new', 'it''s'))\n);",
                "COMMENT ON CONSTRAINT \"id_positive\" ON \"fresh\" IS 'qvdiff: id > 0';",
                "COMMENT ON CONSTRAINT \"status_known\" ON \"fresh\" \
                 IS 'qvdiff: status IN (''new'', ''it''''s'')';",
                "CREATE INDEX \"ix_fresh_status\" ON \"fresh\" (\"status\");",
            ]
        );
        // A changed expression is a new constraint, with a new comment.
        let mut changed = after.clone();
        changed.tables[0].checks[0].expr = "qty >= 1".into();
        assert_eq!(
            sql(&after, &changed),
            vec![
                "ALTER TABLE \"goods\" DROP CONSTRAINT \"qty_positive\";",
                "ALTER TABLE \"goods\" ADD CONSTRAINT \"qty_positive\" CHECK (qty >= 1);",
                "COMMENT ON CONSTRAINT \"qty_positive\" ON \"goods\" IS 'qvdiff: qty >= 1';",
            ]
        );
    }

    #[test]
    fn restored_key_columns_get_a_distinct_value_per_row() {
        let before = schema(vec![table("t", vec![])]);
        let mut after_table = table(
            "t",
            vec![
                Column {
                    backfill: Some(DefaultValue::Sql("rowid".into())),
                    ..column("code", ColumnType::Integer { bits: 32 })
                },
                Column {
                    backfill: Some(DefaultValue::Sql("rowid".into())),
                    ..column("sku", TEXT)
                },
                Column {
                    backfill: Some(DefaultValue::Text(String::new())),
                    ..column("at", ColumnType::DateTime)
                },
                Column {
                    backfill: Some(DefaultValue::Sql("rowid".into())),
                    ..column("day", ColumnType::Date)
                },
            ],
        );
        after_table.uniques = vec![
            Unique {
                name: None,
                columns: strings(&["code"]),
            },
            Unique {
                name: None,
                columns: strings(&["sku"]),
            },
            Unique {
                name: None,
                columns: strings(&["day"]),
            },
        ];
        assert_eq!(
            sql(&before, &schema(vec![after_table])),
            vec![
                "ALTER TABLE \"t\" ADD COLUMN \"code\" integer GENERATED BY DEFAULT AS IDENTITY NOT NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"code\" DROP IDENTITY;",
                "ALTER TABLE \"t\" ADD COLUMN \"sku\" text;",
                "UPDATE \"t\" SET \"sku\" = ctid::text WHERE \"sku\" IS NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"sku\" SET NOT NULL;",
                "ALTER TABLE \"t\" ADD COLUMN \"at\" timestamp NOT NULL DEFAULT '1970-01-01 00:00:00';",
                "ALTER TABLE \"t\" ALTER COLUMN \"at\" DROP DEFAULT;",
                // Property seed 3653: a value of the column's type (`ctid::text` is no date).
                "ALTER TABLE \"t\" ADD COLUMN \"day\" date;",
                "UPDATE \"t\" SET \"day\" = DATE '1970-01-01' + ((ctid::text::point)[0] * 65536 + (ctid::text::point)[1])::integer WHERE \"day\" IS NULL;",
                "ALTER TABLE \"t\" ALTER COLUMN \"day\" SET NOT NULL;",
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_code_key\" UNIQUE (\"code\");",
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_day_key\" UNIQUE (\"day\");",
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_sku_key\" UNIQUE (\"sku\");",
            ]
        );
    }
}
