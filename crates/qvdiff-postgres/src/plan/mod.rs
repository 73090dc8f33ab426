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
//!    indexes and checks (indexes and unique constraints online-safe: [`indexes`]);
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
    add_constraint_sql, check_comment_sql, column_definition, comment_sql, create_index_sql,
    create_table_sql, drop_constraint_sql, primary_key_clause, table_comments_sql, IDENTITY,
};
use crate::enums::{plan_enums, using_enum, EnumPlan};
use crate::locks::{is_volatile, type_change_rewrites};
use crate::render::{
    check_name, foreign_key_name, limit_name, parse_default, parse_type, primary_key_name,
    quote_ident, quote_string, render_default, render_type, unique_name,
};
use qvdiff_core::{
    foreign_key_order, Change, Check, Column, ColumnType, DefaultValue, Dialect, Fill, FillReason,
    ForeignKey, Index, Lock, LockMode, Loss, Plan, PlanError, Schema, Step, StepFacts, Table,
    Unique,
};
use std::collections::{BTreeMap, BTreeSet};

mod backfill;
mod carried_constraints;
mod constraints;
mod indexes;

/// The PostgreSQL dialect.
///
/// Plans run inside one transaction, except with [`Postgres::online_ddl`] (the default), whose
/// `CONCURRENTLY` statements PostgreSQL refuses inside a transaction block (the runner runs such
/// revisions outside one, statement by statement, with recorded progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Postgres {
    /// Write the online-safe form of DDL on tables that already exist, so the application keeps
    /// writing to a large table while it changes: indexes built and dropped `CONCURRENTLY`,
    /// UNIQUE constraints from a concurrently built unique index. On by default; off, every
    /// statement is the plain form and the whole revision runs in one transaction.
    pub online_ddl: bool,
}

impl Default for Postgres {
    fn default() -> Self {
        Postgres { online_ddl: true }
    }
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

    fn has_expand_contract(&self) -> bool {
        true
    }

    fn expand_contract(
        &self,
        from: &Schema,
        to: &Schema,
        changes: &[Change],
    ) -> Result<Option<qvdiff_core::ExpandContract>, PlanError> {
        expand::plan(self, from, to, changes)
    }

    fn engine(&self) -> &'static str {
        "PostgreSQL"
    }

    fn type_name(&self, ty: &ColumnType) -> String {
        render_type(ty)
    }

    fn spelling(&self) -> qvdiff_core::section::Spelling {
        crate::review::SPELLING
    }

    fn replay(&self) -> Box<dyn qvdiff_core::Replay> {
        Box::new(crate::review::ReplayedSchema::default())
    }

    fn facts_of(&self, before: &Schema, _after: &Schema, sql: &str) -> Vec<StepFacts> {
        crate::replay::facts_of(before, sql)
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
        // As the server prints it back (see `model::canonical_predicate`).
        index.predicate = index
            .predicate
            .as_deref()
            .map(crate::replay::canonical_predicate);
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
    /// `(column or None for the table, new comment)`.
    comments: Vec<(Option<String>, Option<String>)>,
    /// `(old, new)` names of indexes that stay as they are but for their name (it follows a
    /// renamed table or column): renamed, not rebuilt.
    index_renames: Vec<(String, String)>,
}

impl TableWork {
    /// Moves each dropped index that an added one equals but for its name (columns named as
    /// after the renames) into `index_renames`: `ALTER INDEX … RENAME` keeps the built index,
    /// where a drop and a create would rebuild it under lock.
    fn pair_index_renames(&mut self) {
        let mut dropped = std::mem::take(&mut self.dropped_indexes);
        dropped.retain(|old| {
            let old_predicate = old
                .predicate
                .as_deref()
                .map(|p| crate::replay::predicate_after_renames(p, &self.column_renames));
            let same_but_name = |new: &Index| {
                new.unique == old.unique
                    && new.columns == self.new_column_names(&old.columns)
                    && new
                        .predicate
                        .as_deref()
                        .map(crate::replay::canonical_predicate)
                        == old_predicate
            };
            match self.added_indexes.iter().position(same_but_name) {
                Some(at) => {
                    let new = self.added_indexes.remove(at);
                    // Same name: only the condition's column names changed, and the server
                    // renamed those with the column.
                    if new.name != old.name {
                        self.index_renames.push((old.name.clone(), new.name));
                    }
                    false
                }
                None => true,
            }
        });
        self.dropped_indexes = dropped;
    }

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

/// The tables a set of changes creates, drops and renames (`(old, new)`).
#[derive(Default)]
struct TableChanges {
    created: Vec<Table>,
    dropped: Vec<Table>,
    renames: Vec<(String, String)>,
}

struct Planner<'a> {
    /// Online-safe DDL on existing tables ([`Postgres::online_ddl`]): indexes `CONCURRENTLY`,
    /// constraints validated in a step of their own ([`constraints`]), backfills in batches
    /// ([`backfill`]).
    online_ddl: bool,
    from: Schema,
    to: Schema,
    changes: &'a [Change],
    steps: Vec<Step>,
    enums: EnumPlan,
    /// New names of the tables the plan renames: they exist before the migration too.
    renamed_to: BTreeSet<String>,
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
            online_ddl: dialect.online_ddl,
            enums: plan_enums(&from, &to, changes),
            from,
            to,
            changes,
            steps: Vec::new(),
            renamed_to: BTreeSet::new(),
        }
    }

    /// A statement that locks no table existing before the migration.
    fn step(&mut self, sql: String) {
        self.steps.push(Step::plain(sql));
    }

    /// A statement on `table` taking `mode`; `scans`: it reads every row under the lock;
    /// `rewrites`: it writes the table anew. The lock is a fact only on a table that exists
    /// before the migration (a new table has no readers or writers to block).
    fn locking(&mut self, sql: String, table: &str, mode: LockMode, scans: bool, rewrites: bool) {
        let facts = StepFacts {
            lock: self.lock(table, mode, scans, rewrites),
            ..StepFacts::default()
        };
        self.steps.push(Step::with(sql, facts));
    }

    /// A statement on `table` with facts of its own (losses, fills) and the lock `mode`.
    fn step_with(&mut self, sql: String, table: &str, mode: LockMode, mut facts: StepFacts) {
        let (scans, rewrites) = facts
            .lock
            .as_ref()
            .map_or((false, false), |l| (l.scans, l.rewrites));
        facts.lock = self.lock(table, mode, scans, rewrites);
        self.steps.push(Step::with(sql, facts));
    }

    fn lock(&self, table: &str, mode: LockMode, scans: bool, rewrites: bool) -> Option<Lock> {
        let existing = self.from.table(table).is_some() || self.renamed_to.contains(table);
        existing.then(|| Lock {
            mode,
            table: table.to_string(),
            scans,
            rewrites,
        })
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

    /// The steps, in phases that keep every statement valid where it runs: what references a
    /// thing goes before it, what a thing references comes before it.
    fn plan(mut self) -> Result<Plan, PlanError> {
        let tables = self.table_changes();
        self.renamed_to = tables.renames.iter().map(|(_, new)| new.clone()).collect();
        let works = self.table_works(&tables)?;
        let dropped: Vec<&Table> = tables.dropped.iter().collect();
        let drop_order: Vec<Table> = foreign_key_order(&dropped)
            .into_iter()
            .rev()
            .cloned()
            .collect();
        let suspended = self.suspended_foreign_keys(&works, &drop_order)?;

        // 0. Enum types: created, or changed in place, before any column uses them.
        for sql in std::mem::take(&mut self.enums.before) {
            self.step(sql);
        }
        // 1. Foreign keys first: nothing else can go while they point at it.
        self.drop_foreign_keys(&works, &suspended, &drop_order);
        // 2. Tables that go, referencing tables first.
        self.drop_tables(&drop_order);
        // 3. Constraints and indexes that go, under the names they have now.
        self.drop_constraints_and_indexes(&works)?;
        // 4. Renames, then the constraint names computed from the renamed things.
        self.renames(&tables.renames, &works, &suspended)?;
        // 5. Columns that go.
        self.drop_columns(&works);
        // 6. What existing tables gain or change, foreign keys aside.
        for work in &works {
            self.table_steps(work)?;
        }
        // 7. New tables; a foreign key to a table created later waits for phase 8.
        let mut deferred = self.create_tables(&tables.created);
        // 8. Foreign keys, now that every table and key they point at exists.
        for work in &works {
            for foreign_key in &work.added_foreign_keys {
                deferred.push((work.to_name.clone(), foreign_key.clone()));
            }
        }
        for held in &suspended {
            if let Some(restored) = self.restored_foreign_key(held, &works, &tables.renames) {
                deferred.push(restored);
            }
        }
        self.add_foreign_keys(deferred);
        // 9. Enum types no column uses any more.
        for sql in std::mem::take(&mut self.enums.after) {
            self.step(sql);
        }
        Ok(Plan { steps: self.steps })
    }

    /// The tables the changes create, drop and rename, as the schemas hold them.
    fn table_changes(&self) -> TableChanges {
        let mut tables = TableChanges::default();
        for change in self.changes {
            match change {
                Change::CreateTable { table } => tables.created.push(
                    self.to
                        .table(&table.name)
                        .cloned()
                        .unwrap_or_else(|| normalize_table(table)),
                ),
                Change::DropTable { table } => tables.dropped.push(
                    self.from
                        .table(&table.name)
                        .cloned()
                        .unwrap_or_else(|| normalize_table(table)),
                ),
                Change::RenameTable { from, to } => tables.renames.push((from.clone(), to.clone())),
                _ => {}
            }
        }
        tables
    }

    /// One entry per existing table that changes, in the order the changes name them (the
    /// differ's dependency order).
    fn table_works(&self, tables: &TableChanges) -> Result<Vec<TableWork>, PlanError> {
        let created_names: BTreeSet<&str> =
            tables.created.iter().map(|t| t.name.as_str()).collect();
        let mut works: Vec<TableWork> = Vec::new();
        let mut work_at: BTreeMap<String, usize> = BTreeMap::new();
        let mut entry = |works: &mut Vec<TableWork>, to_name: &str| -> usize {
            *work_at.entry(to_name.to_string()).or_insert_with(|| {
                let from_name = tables
                    .renames
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
        for (_, new) in &tables.renames {
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
        for work in &mut works {
            self.table_in_from(&work.from_name)?;
            self.table_in_to(&work.to_name)?;
            work.pair_index_renames();
        }
        Ok(works)
    }

    /// Phase 2: the dropped tables, in `drop_order`.
    fn drop_tables(&mut self, drop_order: &[Table]) {
        for table in drop_order {
            let change = Change::DropTable {
                table: table.clone(),
            };
            let losses = Loss::of_change(&change, &ColumnType::logical_name);
            self.step_with(
                format!("DROP TABLE {};", quote_ident(&table.name)),
                &table.name,
                LockMode::AccessExclusive,
                StepFacts::destroying(losses.into_iter().collect()),
            );
        }
    }

    /// Phase 3: checks, unique constraints, indexes and primary keys that go or change.
    fn drop_constraints_and_indexes(&mut self, works: &[TableWork]) -> Result<(), PlanError> {
        for work in works {
            let table = work.from_name.as_str();
            let exclusive = LockMode::AccessExclusive;
            for check in &work.dropped_checks {
                let sql = drop_constraint_sql(table, &check_name(check));
                self.locking(sql, table, exclusive, false, false);
            }
            for unique in &work.dropped_uniques {
                let sql = drop_constraint_sql(table, &unique_name(table, unique));
                self.locking(sql, table, exclusive, false, false);
            }
            for index in &work.dropped_indexes {
                self.drop_index(table, index);
            }
            let had_key = !self.table_in_from(table)?.primary_key.is_empty();
            if work.primary_key.is_some() && had_key {
                let sql = drop_constraint_sql(table, &primary_key_name(table));
                self.locking(sql, table, exclusive, false, false);
            }
        }
        Ok(())
    }

    /// Phase 4: table and column renames, then the constraints named after them.
    fn renames(
        &mut self,
        table_renames: &[(String, String)],
        works: &[TableWork],
        suspended: &[SuspendedForeignKey],
    ) -> Result<(), PlanError> {
        let exclusive = LockMode::AccessExclusive;
        for (old, new) in table_renames {
            let sql = format!(
                "ALTER TABLE {} RENAME TO {};",
                quote_ident(old),
                quote_ident(new)
            );
            self.locking(sql, old, exclusive, false, false);
        }
        for work in works {
            for (old, new) in &work.column_renames {
                let sql = format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};",
                    quote_ident(&work.to_name),
                    quote_ident(old),
                    quote_ident(new)
                );
                self.locking(sql, &work.to_name, exclusive, false, false);
            }
        }
        for work in works {
            for (old, new) in &work.index_renames {
                let sql = format!(
                    "ALTER INDEX {} RENAME TO {};",
                    quote_ident(&limit_name(old)),
                    quote_ident(&limit_name(new))
                );
                let mode = LockMode::ShareUpdateExclusive;
                self.locking(sql, &work.to_name, mode, false, false);
            }
            for (old, new) in self.constraint_renames(work, suspended)? {
                let sql = format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                    quote_ident(&work.to_name),
                    quote_ident(&old),
                    quote_ident(&new)
                );
                self.locking(sql, &work.to_name, exclusive, false, false);
            }
        }
        Ok(())
    }

    /// Phase 5: the dropped columns.
    fn drop_columns(&mut self, works: &[TableWork]) {
        for work in works {
            for column in &work.dropped_columns {
                let change = Change::DropColumn {
                    table: work.to_name.clone(),
                    column: column.clone(),
                };
                let losses = Loss::of_change(&change, &ColumnType::logical_name);
                self.step_with(
                    format!(
                        "ALTER TABLE {} DROP COLUMN {};",
                        quote_ident(&work.to_name),
                        quote_ident(&column.name)
                    ),
                    &work.to_name,
                    LockMode::AccessExclusive,
                    StepFacts::destroying(losses.into_iter().collect()),
                );
            }
        }
    }

    /// Phase 7: the new tables, referenced tables first, with their checks and indexes. Returns
    /// the foreign keys to tables created later, `(table, key)`, for phase 8.
    fn create_tables(&mut self, created: &[Table]) -> Vec<(String, ForeignKey)> {
        let created: Vec<&Table> = created.iter().collect();
        let create_order = foreign_key_order(&created);
        let mut deferred: Vec<(String, ForeignKey)> = Vec::new();
        for (position, table) in create_order.iter().enumerate() {
            let created_later: BTreeSet<&str> = create_order[position + 1..]
                .iter()
                .map(|later| later.name.as_str())
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
            for sql in table_comments_sql(table) {
                self.step(sql);
            }
            for index in &table.indexes {
                self.step(create_index_sql(&table.name, index, false));
            }
        }
        deferred
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
                if before.without_hints() != after.without_hints() {
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
            Change::SetComment { column, to, .. } => {
                work.comments.push((column.clone(), to.clone()))
            }
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
        if wanted.using.is_none() {
            wanted.using.clone_from(&column.using);
        }
        Ok(wanted)
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
        let exclusive = LockMode::AccessExclusive;
        if let Some(key) = &work.primary_key {
            if !key.is_empty() {
                let sql =
                    add_constraint_sql(table, &primary_key_name(table), &primary_key_clause(key));
                self.locking(sql, table, exclusive, true, false);
            }
        }
        for unique in &work.added_uniques {
            self.add_unique(table, unique);
        }
        for index in &work.added_indexes {
            self.create_index(table, index);
        }
        for check in &work.added_checks {
            self.add_check(table, check);
        }
        for column in &work.added_columns {
            if let Some(comment) = &column.comment {
                self.step(comment_sql(table, Some(&column.name), Some(comment)));
            }
        }
        for (column, comment) in &work.comments {
            self.step(comment_sql(table, column.as_deref(), comment.as_deref()));
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
            // An SQL expression may name other columns (`lower(name)`), which PostgreSQL refuses
            // in a DEFAULT: the column comes in nullable, the rows are filled, then it closes.
            // A literal typed at the prompt (`'unknown'`) takes the transient default below,
            // which fills the rows without rewriting the table.
            Some(fill @ DefaultValue::Sql(sql))
                if !column.autoincrement
                    && column.default.as_ref() != Some(fill)
                    && matches!(parse_default(sql, &column.ty), DefaultValue::Sql(_))
                    && sqlite_blob_hex(sql).is_none() =>
            {
                let open = Column {
                    nullable: true,
                    default: None,
                    ..column.clone()
                };
                let sql = format!(
                    "ALTER TABLE {quoted_table} ADD COLUMN {};",
                    column_definition(&open)
                );
                self.locking(sql, table, LockMode::AccessExclusive, false, false);
                let value = fill_value_sql(fill, &column.ty);
                self.backfill(table, &column.name, value, FillReason::Backfill);
                if !column.nullable {
                    self.set_not_null(table, &column.name);
                }
                if let Some(default) = &column.default {
                    let sql = alter(&format!("SET DEFAULT {}", render_default(default)));
                    self.locking(sql, table, LockMode::AccessExclusive, false, false);
                }
            }
            // Existing rows take the backfill through a transient default; new rows the real one.
            Some(fill) if !column.autoincrement && column.default.as_ref() != Some(fill) => {
                let transient = Column {
                    default: None,
                    ..column.clone()
                };
                let value = fill_value_sql(fill, &column.ty);
                let sql = format!(
                    "ALTER TABLE {quoted_table} ADD COLUMN {} DEFAULT {value};",
                    column_definition(&transient),
                );
                let facts = StepFacts {
                    lock: self.lock(table, LockMode::AccessExclusive, false, is_volatile(&value)),
                    fills: vec![fill_fact(table, &column.name, value, FillReason::Backfill)],
                    ..StepFacts::default()
                };
                self.steps.push(Step::with(sql, facts));
                let sql = match &column.default {
                    Some(default) => alter(&format!("SET DEFAULT {}", render_default(default))),
                    None => alter("DROP DEFAULT"),
                };
                self.locking(sql, table, LockMode::AccessExclusive, false, false);
            }
            _ => {
                // An identity column numbers the existing rows itself.
                if !column.nullable && column.default.is_none() && !column.autoincrement {
                    return Err(PlanError::missing_value(table, &column.name));
                }
                let default = column.default.as_ref().map(render_default);
                let rewrites = column.autoincrement || default.as_deref().is_some_and(is_volatile);
                let facts = StepFacts {
                    lock: self.lock(table, LockMode::AccessExclusive, false, rewrites),
                    fills: default
                        .map(|value| fill_fact(table, &column.name, value, FillReason::Default))
                        .into_iter()
                        .collect(),
                    ..StepFacts::default()
                };
                let sql = format!(
                    "ALTER TABLE {quoted_table} ADD COLUMN {};",
                    column_definition(column)
                );
                self.steps.push(Step::with(sql, facts));
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
            let sql = format!(
                "ALTER TABLE {quoted_table} ADD COLUMN {name} {} {IDENTITY} NOT NULL;",
                render_type(&column.ty)
            );
            self.locking(sql, table, LockMode::AccessExclusive, false, true);
            if !column.autoincrement {
                self.locking(
                    alter("DROP IDENTITY"),
                    table,
                    LockMode::AccessExclusive,
                    false,
                    false,
                );
            }
            if column.nullable {
                self.locking(
                    alter("DROP NOT NULL"),
                    table,
                    LockMode::AccessExclusive,
                    false,
                    false,
                );
            }
        } else {
            let sql = format!(
                "ALTER TABLE {quoted_table} ADD COLUMN {name} {};",
                render_type(&column.ty)
            );
            self.locking(sql, table, LockMode::AccessExclusive, false, false);
            // A row's physical position (its ctid) is distinct in every row; as a number, block
            // * 65536 + offset. Each type gets a value of its own (`ctid::text` into a date
            // column was refused: property seed 3653).
            let number = "((ctid::text::point)[0] * 65536 + (ctid::text::point)[1])";
            let distinct = match &column.ty {
                ColumnType::Uuid => "md5(ctid::text)::uuid".to_string(),
                ColumnType::Float | ColumnType::Float32 | ColumnType::Decimal { .. } => {
                    number.to_string()
                }
                ColumnType::Date => format!("DATE '1970-01-01' + {number}::integer"),
                ColumnType::DateTime => {
                    format!("TIMESTAMP '1970-01-01 00:00:00' + {number} * INTERVAL '1 second'")
                }
                ColumnType::DateTimeTz => {
                    format!("TIMESTAMPTZ '1970-01-01 00:00:00+00' + {number} * INTERVAL '1 second'")
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
                // A one-element list: the row's number, or its position as text.
                ColumnType::Array { element } => {
                    let item = match **element {
                        ColumnType::Integer { .. }
                        | ColumnType::Float
                        | ColumnType::Float32
                        | ColumnType::Decimal { .. } => number.to_string(),
                        _ => "ctid::text".to_string(),
                    };
                    format!("ARRAY[{item}]::{}", render_type(&column.ty))
                }
                // An enum has only its values: the first (distinct with the other columns).
                ColumnType::Enum { values, .. } => match values.first() {
                    Some(first) => quote_string(first),
                    None => "NULL".to_string(),
                },
            };
            let sql =
                format!("UPDATE {quoted_table} SET {name} = {distinct} WHERE {name} IS NULL;");
            self.update(sql, table, &column.name, distinct, FillReason::Backfill);
            if !column.nullable {
                self.set_not_null(table, &column.name);
            }
        }
        if let Some(default) = &column.default {
            let sql = alter(&format!("SET DEFAULT {}", render_default(default)));
            self.locking(sql, table, LockMode::AccessExclusive, false, false);
        }
    }

    /// An `UPDATE` of every row of `table` that fills `column` with `value`: row locks only, but
    /// it reads the whole table.
    fn update(&mut self, sql: String, table: &str, column: &str, value: String, why: FillReason) {
        let facts = StepFacts {
            lock: self.lock(table, LockMode::RowExclusive, true, false),
            fills: vec![fill_fact(table, column, value, why)],
            ..StepFacts::default()
        };
        self.steps.push(Step::with(sql, facts));
    }

    /// Identity off, type, default, nullability, identity on: each step valid after the one
    /// before (an identity needs NOT NULL and no default; a NOT NULL backfill is in the new type).
    fn alter_column(&mut self, table: &str, from: &Column, to: &Column) {
        let alter = |action: &str| Self::alter_column_sql(table, &to.name, action);
        let exclusive = LockMode::AccessExclusive;
        if from.autoincrement && !to.autoincrement {
            self.locking(alter("DROP IDENTITY"), table, exclusive, false, false);
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
                self.locking(alter("DROP DEFAULT"), table, exclusive, false, false);
                current_default = None;
            }
            let change = Change::AlterColumn {
                table: table.to_string(),
                from: from.clone(),
                to: to.clone(),
            };
            let conversion = match &to.using {
                // The model's conversion, when it gives one, over the column as it was.
                Some(using) => format!("TYPE {} USING ({using})", render_type(&to.ty)),
                // The server's own conversion refuses a value that does not fit (an explicit
                // cast would cut text to the length); the runner counts the values it would
                // round or refuse before the step runs.
                None if has_assignment_cast(&from.ty, &to.ty) => {
                    format!("TYPE {}", render_type(&to.ty))
                }
                None => format!(
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
                ),
            };
            let rewrites = type_change_rewrites(
                &render_type(&from.ty),
                &render_type(&to.ty),
                conversion.contains(" USING "),
            );
            let facts = StepFacts {
                lock: Some(Lock {
                    mode: exclusive,
                    table: table.to_string(),
                    scans: rewrites,
                    rewrites,
                }),
                destroys: Loss::of_change(&change, &render_type).into_iter().collect(),
                ..StepFacts::default()
            };
            self.step_with(alter(&conversion), table, exclusive, facts);
        }
        if current_default != to.default {
            let sql = match &to.default {
                Some(default) => alter(&format!("SET DEFAULT {}", render_default(default))),
                None => alter("DROP DEFAULT"),
            };
            self.locking(sql, table, exclusive, false, false);
        }
        if from.nullable && !to.nullable {
            // The backfill wins over the default; with neither, the runner reports the NULLs.
            if let Some(fill) = to.backfill.as_ref().or(to.default.as_ref()) {
                let value = fill_value_sql(fill, &to.ty);
                let why = if to.backfill.is_some() {
                    FillReason::Backfill
                } else {
                    FillReason::Default
                };
                self.backfill(table, &to.name, value, why);
            }
            self.set_not_null(table, &to.name);
        } else if !from.nullable && to.nullable {
            self.locking(alter("DROP NOT NULL"), table, exclusive, false, false);
        }
        if !from.autoincrement && to.autoincrement {
            let sql = alter(&format!("ADD {IDENTITY}"));
            self.locking(sql, table, exclusive, false, false);
            self.step(identity_past_existing_rows(table, &to.name));
        }
    }
}

/// A new identity's sequence starts at 1, but the rows already there hold their own ids: the
/// first insert without an id would collide with them. Moves the sequence past the largest id
/// (to 1 when there is none, or none above 0). A data step: `setval` changes no schema.
/// The fact that rows of `table` already there get `value` (SQL) in `column`.
fn fill_fact(table: &str, column: &str, value: String, why: FillReason) -> Fill {
    Fill {
        table: table.to_string(),
        column: column.to_string(),
        value,
        why,
    }
}

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
            ColumnType::DateTimeTz => "'1970-01-01 00:00:00+00'".to_string(),
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
    let numeric = |ty: &T| {
        matches!(
            ty,
            T::Integer { .. } | T::Float | T::Float32 | T::Decimal { .. }
        )
    };
    match (from, to) {
        // NULL stays NULL (`ELSE 0` made it 0: property seed 374).
        // A wall-clock reading is taken as UTC, and an instant is read on a UTC clock: the
        // server's `TimeZone` setting never changes the values.
        (T::DateTime, T::DateTimeTz) | (T::DateTimeTz, T::DateTime) => {
            format!("{quoted} AT TIME ZONE 'UTC'")
        }
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

/// Whether PostgreSQL converts `from` to `to` by itself in `ALTER COLUMN … TYPE` (an implicit
/// or assignment cast): between numbers, to text (the I/O conversion, but not from bytes, which
/// are decoded), from text to a shorter text, and between dates and timestamps. That
/// conversion refuses a value that does not fit where an explicit cast would cut it.
fn has_assignment_cast(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType as T;
    let numeric = |ty: &T| matches!(ty, T::Integer { .. } | T::Float | T::Decimal { .. });
    match (from, to) {
        (T::Custom { .. } | T::Blob, _) | (_, T::Custom { .. }) => false,
        (a, b) if numeric(a) && numeric(b) => true,
        (_, T::Text { .. }) => true,
        (T::Date | T::DateTime, T::Date | T::DateTime) | (T::DateTime, T::Time) => true,
        _ => false,
    }
}

/// Whether PostgreSQL has a cast from `from` to `to` (`x::to`). Between logical types without
/// one (a timestamp and an integer, a uuid and a date, an integer and jsonb, …) the server
/// refuses the bare cast even on an empty table; through its text form every value that reads
/// as the new type converts, and the others fail the statement (its step is DESTRUCTIVE), which
/// rolls the migration back. A custom type is assumed to have its casts.
fn has_direct_cast(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType as T;
    let numeric = |ty: &T| {
        matches!(
            ty,
            T::Integer { .. } | T::Float | T::Float32 | T::Decimal { .. }
        )
    };
    match (from, to) {
        (T::Custom { .. }, _) | (_, T::Custom { .. }) => true,
        // Every type reads from and prints to text (the I/O conversion casts).
        (T::Text { .. }, _) | (_, T::Text { .. }) => true,
        (a, b) if numeric(a) && numeric(b) => true,
        (T::Date | T::DateTime | T::DateTimeTz, T::Date | T::DateTime | T::DateTimeTz)
        | (T::DateTime | T::DateTimeTz, T::Time) => true,
        (T::Json, to) => numeric(to) || matches!(to, T::Bool),
        _ => false,
    }
}
pub mod expand;
#[cfg(test)]
mod tests;
