//! The SQLite [`Dialect`]: normalization and planning (`ALTER TABLE` where SQLite allows it,
//! the table rebuild otherwise).

use crate::partition::run_in_parallel;
use crate::render::{
    column_definition, column_list, create_index_sql, create_table_statement, parse_default,
    quote_ident, quote_string, references_clause, render_default, render_type, stored_type,
};
use crate::sqltext;
use qvdiff_core::{
    Change, Column, ColumnType, DefaultValue, Dialect, EnumChange, Fill, FillReason, Index, Loss,
    Plan, PlanError, RawObject, Schema, Step, StepFacts, Table,
};
use std::collections::{BTreeMap, BTreeSet};

/// The SQLite dialect.
///
/// `plan` output is meant to run with foreign keys OFF inside one transaction, followed by
/// `PRAGMA foreign_key_check` — which is what [`crate::apply_script`] does. The generated SQL
/// itself contains no `PRAGMA` lines, because `PRAGMA foreign_keys` is a no-op inside a
/// transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sqlite;

/// Prefix of the temporary table a rebuild copies rows into.
pub const REBUILD_PREFIX: &str = "_qvdiff_new_";

impl Dialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn normalize(&self, schema: &Schema) -> Schema {
        Schema {
            tables: run_in_parallel(&schema.tables, normalize_table),
            views: schema.views.clone(),
            triggers: schema.triggers.clone(),
        }
        .normalized()
    }

    fn normalize_owned(&self, mut schema: Schema) -> Schema {
        // In place, on this thread: no copy to make, and a few milliseconds of work at most.
        schema.tables.iter_mut().for_each(normalize_table_in_place);
        schema.normalized()
    }

    fn plan(&self, from: &Schema, to: &Schema, changes: &[Change]) -> Result<Plan, PlanError> {
        Planner::new(from, to, changes)?.plan()
    }

    fn engine(&self) -> &'static str {
        "SQLite"
    }

    fn type_name(&self, ty: &ColumnType) -> String {
        // A column with no declared type has ANY affinity: say so rather than print nothing.
        let rendered = render_type(ty);
        if rendered.is_empty() {
            "ANY".to_string()
        } else {
            rendered
        }
    }

    fn spelling(&self) -> qvdiff_core::section::Spelling {
        crate::review::SPELLING
    }

    fn replay(&self) -> Box<dyn qvdiff_core::Replay> {
        Box::new(crate::review::ScratchDatabase::new())
    }

    fn facts_of(&self, before: &Schema, after: &Schema, sql: &str) -> Vec<StepFacts> {
        crate::review::facts_of(before, after, sql)
    }
}

/// SQLite has no array type: a `Vec<T>` field (PostgreSQL's `T[]`) is refused with the way to
/// store the list in SQLite, naming the first such column.
fn refuse_arrays(to: &Schema) -> Result<(), PlanError> {
    for table in &to.tables {
        for column in &table.columns {
            if let ColumnType::Array { element } = &column.ty {
                return Err(PlanError {
                    table: table.name.clone(),
                    column: Some(column.name.clone()),
                    message: format!(
                        "a `Vec` field is a list of {} values, which PostgreSQL stores as an \
                         array and SQLite cannot: store it as JSON with #[column(sql_type = \
                         \"JSON\")] on the field, or keep the list in a table of its own",
                        render_type(element)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The table as SQLite stores it: declared types and defaults as they read back, AUTOINCREMENT
/// only on a single INTEGER primary key, unique constraints SQLite would merge merged, constraint
/// lists sorted, no comments (SQLite has nowhere to keep them). Migration hints are kept.
pub fn normalize_table(table: &Table) -> Table {
    let mut table = table.clone();
    normalize_table_in_place(&mut table);
    table
}

/// [`normalize_table`] without the copy.
fn normalize_table_in_place(table: &mut Table) {
    table.comment = None;
    let single_pk = match table.primary_key.as_slice() {
        [single] => Some(single.clone()),
        _ => None,
    };
    for column in &mut table.columns {
        column.comment = None;
        column.ty = stored_type(&column.ty);
        column.default = column
            .default
            .as_ref()
            .and_then(|d| parse_default(&render_default(d), &column.ty));
        let is_rowid_alias = single_pk.as_deref() == Some(column.name.as_str())
            && column.ty == ColumnType::Integer { bits: 64 };
        if !is_rowid_alias {
            column.autoincrement = false;
        }
    }
    for check in &mut table.checks {
        check.expr = check.expr.trim().to_string();
    }
    // SQLite keeps one index per distinct column list among the primary key and the unique
    // constraints; only an INTEGER PRIMARY KEY (the rowid) has no index of its own.
    let pk_is_rowid = single_pk
        .as_deref()
        .and_then(|pk| table.column(pk))
        .is_some_and(|c| c.ty == ColumnType::Integer { bits: 64 });
    let mut merged: Vec<qvdiff_core::Unique> = Vec::new();
    for unique in &table.uniques {
        if !pk_is_rowid && unique.columns == table.primary_key {
            continue;
        }
        match merged.iter_mut().find(|u| u.columns == unique.columns) {
            Some(existing) => {
                if existing.name.is_none() {
                    existing.name.clone_from(&unique.name);
                }
            }
            None => merged.push(unique.clone()),
        }
    }
    table.uniques = merged;
    table.normalize();
}

/// Everything the changes say about one table that exists on both sides.
#[derive(Default)]
struct TableWork {
    /// Name in `from` (before a table rename).
    from_name: String,
    /// `(old, new)` column renames.
    column_renames: Vec<(String, String)>,
    added_columns: Vec<Column>,
    dropped_columns: Vec<Column>,
    added_indexes: Vec<Index>,
    dropped_indexes: Vec<Index>,
    /// Why the table must be rebuilt; empty when ALTER statements suffice.
    rebuild_reasons: Vec<String>,
    /// Foreign keys that can be declared inline by `ADD COLUMN`, by column name.
    inline_foreign_keys: BTreeMap<String, qvdiff_core::ForeignKey>,
    /// Foreign keys added that need a rebuild unless inlined.
    added_foreign_keys: Vec<qvdiff_core::ForeignKey>,
    /// Enum columns whose rows change value in the copy: `(old, new)` stored values.
    enum_renames: BTreeMap<String, Vec<(String, String)>>,
}

struct Planner<'a> {
    from: &'a Schema,
    to: &'a Schema,
    changes: &'a [Change],
    steps: Vec<Step>,
}

impl<'a> Planner<'a> {
    fn new(
        from: &'a Schema,
        to: &'a Schema,
        changes: &'a [Change],
    ) -> Result<Planner<'a>, PlanError> {
        refuse_arrays(to)?;
        Ok(Planner {
            from,
            to,
            changes,
            steps: Vec::new(),
        })
    }

    fn step(&mut self, sql: String, facts: Option<StepFacts>) {
        self.steps.push(Step::with(sql, facts.unwrap_or_default()));
    }

    /// The target table, as SQLite stores it. Only the tables a plan touches are normalized:
    /// normalizing all of a 1000-table schema, twice per direction, was a tenth of a `migrate`.
    fn to_table(&self, name: &str) -> Result<Table, PlanError> {
        self.to
            .table(name)
            .map(normalize_table)
            .ok_or_else(|| PlanError {
                table: name.to_string(),
                column: None,
                message: "table is not in the target schema".to_string(),
            })
    }

    fn plan(mut self) -> Result<Plan, PlanError> {
        let mut created: Vec<&Table> = Vec::new();
        let mut dropped: Vec<&Table> = Vec::new();
        let mut table_renames: Vec<(String, String)> = Vec::new();
        let mut work: BTreeMap<String, TableWork> = BTreeMap::new();

        for change in self.changes {
            match change {
                Change::CreateTable { table } => created.push(table),
                Change::DropTable { table } => dropped.push(table),
                Change::RenameTable { from, to } => table_renames.push((from.clone(), to.clone())),
                _ => {}
            }
        }
        let from_name_of = |to_name: &str| -> String {
            table_renames
                .iter()
                .find(|(_, new)| new == to_name)
                .map_or_else(|| to_name.to_string(), |(old, _)| old.clone())
        };
        for change in self.changes {
            let Some(table) = change.altered_table() else {
                continue;
            };
            // A new table is created whole; its parts need no separate work.
            if created.iter().any(|t| t.name == table) {
                continue;
            }
            let entry = work.entry(table.to_string()).or_insert_with(|| TableWork {
                from_name: from_name_of(table),
                ..TableWork::default()
            });
            self.collect(change, entry)?;
        }
        for (name, entry) in &mut work {
            let to_table = self.to_table(name)?;
            // The differ strips migration hints; the wanted table still has them (`backfill`).
            for column in &mut entry.added_columns {
                if let Some(wanted) = to_table.column(&column.name) {
                    *column = wanted.clone();
                }
            }
            self.decide_rebuild(&to_table, entry)?;
        }

        // Views and triggers that mention a rebuilt table must be dropped before it is dropped
        // (SQLite refuses to rename the new table over a dangling view) and recreated after.
        let rebuilt: Vec<(&String, &TableWork)> = work
            .iter()
            .filter(|(_, w)| !w.rebuild_reasons.is_empty())
            .collect();
        let dependents = self.dependents(&rebuilt);
        for object in &dependents {
            let kind = if self.from.views.contains(object) {
                "VIEW"
            } else {
                "TRIGGER"
            };
            self.step(
                format!("DROP {kind} IF EXISTS {};", quote_ident(&object.name)),
                None,
            );
        }

        for table in &dropped {
            self.step(
                format!("DROP TABLE {};", quote_ident(&table.name)),
                Some(StepFacts::destroying(vec![Loss::new(
                    &table.name,
                    None,
                    format!("drops table {} and all its rows", table.name),
                )])),
            );
        }
        for (old, new) in order_renames(&table_renames) {
            self.step(
                format!(
                    "ALTER TABLE {} RENAME TO {};",
                    quote_ident(&old),
                    quote_ident(&new)
                ),
                None,
            );
        }
        // Each new table on its own: a 1000-table first migration renders on all cores.
        let creations = run_in_parallel(&created, |table| {
            let table = normalize_table(table);
            let mut sql = vec![create_table_statement(&table, &table.name)];
            sql.extend(
                table
                    .indexes
                    .iter()
                    .map(|index| create_index_sql(&table.name, index)),
            );
            sql
        });
        for sql in creations.into_iter().flatten() {
            self.step(sql, None);
        }
        for (name, entry) in &work {
            self.table_steps(name, entry)?;
        }

        // Recreate dependents, views first (a trigger may be INSTEAD OF on a view), with the
        // plan's renames applied to their text.
        let dropped_names: BTreeSet<&str> = dropped.iter().map(|t| t.name.as_str()).collect();
        let mut recreate = Vec::new();
        for object in &dependents {
            if !object.table.is_empty() && dropped_names.contains(object.table.as_str()) {
                continue;
            }
            let mut sql = object.sql.clone();
            for (old, new) in &table_renames {
                sql = sqltext::rename_identifier(&sql, old, new);
            }
            for (table, entry) in &work {
                if sqltext::mentions_identifier(&sql, table) {
                    for (old, new) in &entry.column_renames {
                        sql = sqltext::rename_identifier(&sql, old, new);
                    }
                }
            }
            let is_view = self.from.views.contains(object);
            recreate.push((!is_view, format!("{};", sql.trim().trim_end_matches(';'))));
        }
        recreate.sort_by_key(|(is_trigger, _)| *is_trigger);
        for (_, sql) in recreate {
            self.step(sql, None);
        }
        Ok(Plan { steps: self.steps })
    }

    /// Records one change into its table's work.
    fn collect(&self, change: &Change, work: &mut TableWork) -> Result<(), PlanError> {
        match change {
            Change::AddColumn { column, .. } => work.added_columns.push(column.clone()),
            Change::DropColumn { column, .. } => work.dropped_columns.push(column.clone()),
            Change::RenameColumn { from, to, .. } => {
                work.column_renames.push((from.clone(), to.clone()))
            }
            Change::AlterColumn { from, to, .. } => {
                if let Some(change) = EnumChange::between(&from.ty, &to.ty) {
                    if !change.renamed.is_empty() {
                        work.enum_renames.insert(to.name.clone(), change.renamed);
                    }
                }
                let (from, to) = (normalize_column(from), normalize_column(to));
                if from.without_hints() != to.without_hints() {
                    work.rebuild_reasons.push(describe_alter(&from, &to));
                }
            }
            Change::SetPrimaryKey { from, to, .. } => work.rebuild_reasons.push(format!(
                "primary key changes from ({}) to ({})",
                column_list(from),
                column_list(to)
            )),
            Change::AddIndex { index, .. } => work.added_indexes.push(index.clone()),
            Change::DropIndex { index, .. } => work.dropped_indexes.push(index.clone()),
            Change::AddUnique { unique, .. } => work.rebuild_reasons.push(format!(
                "unique constraint on ({}) is added",
                column_list(&unique.columns)
            )),
            Change::DropUnique { unique, .. } => work.rebuild_reasons.push(format!(
                "unique constraint on ({}) is dropped",
                column_list(&unique.columns)
            )),
            Change::AddForeignKey { foreign_key, .. } => {
                work.added_foreign_keys.push(foreign_key.clone())
            }
            Change::DropForeignKey { foreign_key, .. } => work.rebuild_reasons.push(format!(
                "foreign key ({}) {} is dropped",
                column_list(&foreign_key.columns),
                references_clause(foreign_key)
            )),
            Change::AddCheck { check, .. } => work
                .rebuild_reasons
                .push(format!("check {} is added", check_label(check))),
            Change::DropCheck { check, .. } => work
                .rebuild_reasons
                .push(format!("check {} is dropped", check_label(check))),
            // SQLite keeps no comments (`normalize` removes them before any diff).
            Change::SetComment { .. } => {}
            Change::CreateTable { .. } | Change::DropTable { .. } | Change::RenameTable { .. } => {}
        }
        Ok(())
    }

    /// Decides whether `ALTER TABLE` can do the table's work, or a rebuild is needed.
    fn decide_rebuild(&self, to_table: &Table, work: &mut TableWork) -> Result<(), PlanError> {
        for column in &work.added_columns {
            let column = normalize_column(column);
            if !column.nullable && column.default.is_none() && column.backfill.is_none() {
                return Err(PlanError::missing_value(&to_table.name, &column.name));
            }
        }
        // Foreign keys on a newly added nullable column without default can be declared inline.
        for fk in std::mem::take(&mut work.added_foreign_keys) {
            let inline_column = match fk.columns.as_slice() {
                [single] => work
                    .added_columns
                    .iter()
                    .find(|c| &c.name == single && c.default.is_none() && c.nullable),
                _ => None,
            };
            match inline_column {
                Some(column) if !work.inline_foreign_keys.contains_key(&column.name) => {
                    work.inline_foreign_keys.insert(column.name.clone(), fk);
                }
                _ => work.rebuild_reasons.push(format!(
                    "foreign key ({}) {} is added",
                    column_list(&fk.columns),
                    references_clause(&fk)
                )),
            }
        }
        for column in &work.added_columns {
            if let Some(reason) = add_column_obstacle(to_table, column) {
                work.rebuild_reasons.push(reason);
            }
        }
        let old_table = self.old_table(work)?;
        for column in &work.dropped_columns {
            if let Some(reason) =
                self.drop_column_obstacle(&old_table, column, &work.dropped_indexes)
            {
                work.rebuild_reasons.push(reason);
            }
        }
        Ok(())
    }

    /// The `from` table as it is after the table and column renames (which run first).
    fn old_table(&self, work: &TableWork) -> Result<Table, PlanError> {
        let mut table = self
            .from
            .table(&work.from_name)
            .cloned()
            .ok_or_else(|| PlanError {
                table: work.from_name.clone(),
                column: None,
                message: "table is not in the current schema".to_string(),
            })?;
        rename_columns_in_table(&mut table, &work.column_renames);
        Ok(table)
    }

    /// Why SQLite's `DROP COLUMN` cannot drop `column`, if it cannot. Indexes this migration
    /// drops are no obstacle: their `DROP INDEX` runs before the `DROP COLUMN`.
    fn drop_column_obstacle(
        &self,
        table: &Table,
        column: &Column,
        dropped_indexes: &[Index],
    ) -> Option<String> {
        let name = &column.name;
        let kept_index = |index: &&Index| !dropped_indexes.iter().any(|d| d.name == index.name);
        let why = if table.primary_key.contains(name) {
            "is part of the primary key"
        } else if table.uniques.iter().any(|u| u.columns.contains(name)) {
            "is in a unique constraint"
        } else if table.indexes.iter().filter(kept_index).any(|i| {
            i.columns.contains(name)
                || i.predicate
                    .as_deref()
                    .is_some_and(|p| sqltext::mentions_identifier(p, name))
        }) {
            "is indexed"
        } else if table.foreign_keys.iter().any(|f| f.columns.contains(name)) {
            "is in a foreign key"
        } else if a_check_mentions(table, name) {
            "is used by a check"
        } else if self.from.views.iter().chain(&self.from.triggers).any(|o| {
            sqltext::mentions_identifier(&o.sql, &table.name)
                && sqltext::mentions_identifier(&o.sql, name)
        }) {
            "is used by a view or trigger"
        } else {
            return None;
        };
        Some(format!("dropped column {} {why}", quote_ident(name)))
    }

    /// Views and triggers to drop and recreate around the rebuilds, including views and
    /// triggers that mention those views.
    fn dependents(&self, rebuilt: &[(&String, &TableWork)]) -> Vec<RawObject> {
        let mut names: Vec<String> = rebuilt
            .iter()
            .flat_map(|(to_name, work)| [(*to_name).clone(), work.from_name.clone()])
            .collect();
        let mut found: Vec<RawObject> = Vec::new();
        let all: Vec<&RawObject> = self.from.views.iter().chain(&self.from.triggers).collect();
        loop {
            let before = found.len();
            for object in &all {
                if found.contains(object) {
                    continue;
                }
                let attached = names.iter().any(|n| n.eq_ignore_ascii_case(&object.table));
                if attached
                    || names
                        .iter()
                        .any(|n| sqltext::mentions_identifier(&object.sql, n))
                {
                    found.push((*object).clone());
                    names.push(object.name.clone());
                }
            }
            if found.len() == before {
                break;
            }
        }
        found
    }

    fn table_steps(&mut self, name: &str, work: &TableWork) -> Result<(), PlanError> {
        for (old, new) in order_renames(&work.column_renames) {
            self.step(
                format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {};",
                    quote_ident(name),
                    quote_ident(&old),
                    quote_ident(&new)
                ),
                None,
            );
        }
        if !work.rebuild_reasons.is_empty() {
            return self.rebuild(name, work);
        }
        for index in &work.dropped_indexes {
            self.step(format!("DROP INDEX {};", quote_ident(&index.name)), None);
        }
        for column in &work.dropped_columns {
            self.step(
                format!(
                    "ALTER TABLE {} DROP COLUMN {};",
                    quote_ident(name),
                    quote_ident(&column.name)
                ),
                Some(StepFacts::destroying(vec![Loss::new(
                    name,
                    Some(&column.name),
                    format!("drops data in {name}.{}", column.name),
                )])),
            );
        }
        for column in &work.added_columns {
            let column = normalize_column(column);
            let mut sql = format!(
                "ALTER TABLE {} ADD COLUMN {}",
                quote_ident(name),
                column_definition(&column, false)
            );
            if let Some(fk) = work.inline_foreign_keys.get(&column.name) {
                sql.push(' ');
                sql.push_str(&references_clause(fk));
            }
            sql.push(';');
            let took_default = column
                .default
                .as_ref()
                .map(|value| fill(name, &column.name, value, FillReason::Default));
            self.step(
                sql,
                Some(StepFacts {
                    fills: took_default.into_iter().collect(),
                    ..StepFacts::default()
                }),
            );
            // Existing rows got the default; a backfill that differs from it wins for them.
            if let Some(backfill) = &column.backfill {
                if column.default.as_ref() != Some(backfill) {
                    self.step(
                        format!(
                            "UPDATE {} SET {} = {};",
                            quote_ident(name),
                            quote_ident(&column.name),
                            render_default(backfill)
                        ),
                        Some(StepFacts {
                            fills: vec![fill(name, &column.name, backfill, FillReason::Backfill)],
                            ..StepFacts::default()
                        }),
                    );
                }
            }
        }
        for index in &work.added_indexes {
            self.step(create_index_sql(name, index), None);
        }
        Ok(())
    }

    /// The 12-step table rebuild from SQLite's documentation, minus the PRAGMA and transaction
    /// steps, which the caller runs around the whole script.
    fn rebuild(&mut self, name: &str, work: &TableWork) -> Result<(), PlanError> {
        let old = self.old_table(work)?;
        let new = self.to_table(name)?;
        let temp = format!("{REBUILD_PREFIX}{name}");

        let mut insert_columns = Vec::new();
        let mut select_exprs = Vec::new();
        let mut losses: Vec<Loss> = Vec::new();
        let mut fills: Vec<Fill> = Vec::new();
        for column in &new.columns {
            let quoted = quote_ident(&column.name);
            match old.column(&column.name) {
                Some(old_column) => {
                    insert_columns.push(quoted.clone());
                    // A type change the model gives the conversion for copies through it (only
                    // then: left in the model afterwards, it must not convert the rows again).
                    // Existing NULLs of a column becoming NOT NULL take the backfill, else the
                    // column's default (as Django does); with neither, the copy refuses them.
                    let fill = column.backfill.as_ref().or(column.default.as_ref());
                    // A renamed variant's rows take the new stored value.
                    let value = match (&column.using, work.enum_renames.get(&column.name)) {
                        (Some(using), _) if old_column.ty != column.ty => format!("({using})"),
                        (_, Some(renamed)) => {
                            let mut case = format!("CASE {quoted}");
                            for (old_value, new_value) in renamed {
                                case.push_str(&format!(
                                    " WHEN {} THEN {}",
                                    quote_string(old_value),
                                    quote_string(new_value)
                                ));
                            }
                            case.push_str(&format!(" ELSE {quoted} END"));
                            case
                        }
                        _ => quoted.clone(),
                    };
                    match fill {
                        Some(value_for_nulls) if old_column.nullable && !column.nullable => {
                            select_exprs.push(format!(
                                "COALESCE({value}, {})",
                                render_default(value_for_nulls)
                            ));
                            fills.push(self::fill(
                                name,
                                &column.name,
                                value_for_nulls,
                                fill_reason(column),
                            ));
                        }
                        _ => select_exprs.push(value),
                    }
                    // The core's rule, so the file's comment and `migrate`'s console summary agree.
                    let new_type = match (&column.ty, work.enum_renames.get(&column.name)) {
                        (
                            ColumnType::Enum {
                                name: type_name,
                                values,
                                ..
                            },
                            Some(renamed),
                        ) => ColumnType::Enum {
                            name: type_name.clone(),
                            values: values.clone(),
                            renames: renamed
                                .iter()
                                .map(|(from, to)| qvdiff_core::VariantRename {
                                    from: from.clone(),
                                    to: to.clone(),
                                })
                                .collect(),
                        },
                        _ => column.ty.clone(),
                    };
                    if let Some(change) = EnumChange::between(&old_column.ty, &new_type)
                        .filter(|change| !change.removed.is_empty())
                    {
                        let reason = format!(
                            "{name}.{} loses enum values {}: rows holding them are refused",
                            column.name,
                            quoted_list(&change.removed)
                        );
                        losses.push(Loss::new(name, Some(&column.name), reason));
                    } else if !old_column.ty.converts_losslessly_to(&new_type) {
                        let reason = format!(
                            "{name}.{} changes type from {} to {}",
                            column.name,
                            display_type(&old_column.ty),
                            display_type(&column.ty)
                        );
                        losses.push(Loss::new(name, Some(&column.name), reason));
                    }
                }
                None => match (&column.backfill, &column.default) {
                    (Some(value), _) => {
                        insert_columns.push(quoted);
                        select_exprs.push(render_default(value));
                        fills.push(fill(name, &column.name, value, FillReason::Backfill));
                    }
                    // Left out of the copy, the column takes its default (or NULL).
                    (None, Some(value)) => {
                        fills.push(fill(name, &column.name, value, FillReason::Default));
                    }
                    (None, None) if column.nullable => {}
                    (None, None) => return Err(PlanError::missing_value(name, &column.name)),
                },
            }
        }
        for column in &old.columns {
            if new.column(&column.name).is_none() {
                let reason = format!("drops data in {name}.{}", column.name);
                losses.push(Loss::new(name, Some(&column.name), reason));
            }
        }

        // One comment line whatever the names hold: a newline in a name (possible through a
        // manifest) would otherwise end the comment and turn the rest of the name into SQL.
        let comment = format!(
            "-- rebuild {}\n",
            qvdiff_core::migration::sanitize_message(&format!(
                "{}: {}",
                quote_ident(name),
                work.rebuild_reasons.join("; ")
            ))
        );
        self.step(
            format!("{comment}{}", create_table_statement(&new, &temp)),
            Some(StepFacts {
                rebuilds: Some(name.to_string()),
                ..StepFacts::default()
            }),
        );
        self.step(
            format!(
                "INSERT INTO {} ({})\nSELECT {}\nFROM {};",
                quote_ident(&temp),
                insert_columns.join(", "),
                select_exprs.join(", "),
                quote_ident(name)
            ),
            Some(StepFacts {
                fills,
                ..StepFacts::default()
            }),
        );
        let both_autoincrement = old.columns.iter().any(|c| c.autoincrement)
            && new.columns.iter().any(|c| c.autoincrement);
        if both_autoincrement {
            // Keep AUTOINCREMENT's promise: ids of deleted rows are never reused.
            self.step(
                format!(
                    "DELETE FROM \"sqlite_sequence\" WHERE \"name\" = {};",
                    quote_string(&temp)
                ),
                None,
            );
            self.step(
                format!(
                    "UPDATE \"sqlite_sequence\" SET \"name\" = {} WHERE \"name\" = {};",
                    quote_string(&temp),
                    quote_string(name)
                ),
                None,
            );
        }
        self.step(
            format!("DROP TABLE {};", quote_ident(name)),
            Some(StepFacts::destroying(losses)),
        );
        self.step(
            format!(
                "ALTER TABLE {} RENAME TO {};",
                quote_ident(&temp),
                quote_ident(name)
            ),
            None,
        );
        for index in &new.indexes {
            self.step(create_index_sql(name, index), None);
        }
        Ok(())
    }
}

/// The fact that rows of `table` already there get `value` in `column`.
fn fill(table: &str, column: &str, value: &DefaultValue, why: FillReason) -> Fill {
    Fill {
        table: table.to_string(),
        column: column.to_string(),
        value: render_default(value),
        why,
    }
}

/// Whether a column's value for existing rows is its backfill or, without one, its default.
fn fill_reason(column: &Column) -> FillReason {
    if column.backfill.is_some() {
        FillReason::Backfill
    } else {
        FillReason::Default
    }
}

fn normalize_column(column: &Column) -> Column {
    let mut column = column.clone();
    column.ty = stored_type(&column.ty);
    column.default = column
        .default
        .as_ref()
        .and_then(|d| parse_default(&render_default(d), &column.ty));
    column
}
/// Why `ALTER TABLE … ADD COLUMN` cannot add `column`, if it cannot.
fn add_column_obstacle(table: &Table, column: &Column) -> Option<String> {
    let column = normalize_column(column);
    let name = &column.name;
    let why = if table.primary_key.contains(name) {
        "is part of the primary key"
    } else if table.uniques.iter().any(|u| u.columns.contains(name)) {
        "is in a unique constraint"
    } else if !column.nullable && column.default.is_none() {
        "is NOT NULL without a default"
    } else if matches!(column.default, Some(DefaultValue::Sql(_))) {
        "has a non-constant default"
    } else if a_check_mentions(table, name) {
        "is used by a check"
    } else {
        return None;
    };
    Some(format!("new column {} {why}", quote_ident(name)))
}

/// `values` as SQL string literals, comma-separated (the enum values a change removes).
fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| quote_string(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a CHECK constraint of `table` names the column `name`.
fn a_check_mentions(table: &Table, name: &str) -> bool {
    table
        .checks
        .iter()
        .any(|c| sqltext::mentions_identifier(&c.expr, name))
}

/// Applies all column renames at once (so a swap `a → b, b → a` works).
fn rename_columns_in_table(table: &mut Table, renames: &[(String, String)]) {
    let rename = |name: &mut String| {
        if let Some((_, new)) = renames.iter().find(|(old, _)| old == name) {
            *name = new.clone();
        }
    };
    for column in &mut table.columns {
        rename(&mut column.name);
    }
    table.primary_key.iter_mut().for_each(rename);
    for unique in &mut table.uniques {
        unique.columns.iter_mut().for_each(rename);
    }
    for index in &mut table.indexes {
        index.columns.iter_mut().for_each(rename);
    }
    for fk in &mut table.foreign_keys {
        fk.columns.iter_mut().for_each(rename);
    }
}

/// Orders renames so none overwrites a name still to be renamed; a cycle goes through a
/// temporary name.
fn order_renames(renames: &[(String, String)]) -> Vec<(String, String)> {
    let mut pending: Vec<(String, String)> = renames.to_vec();
    let mut ordered = Vec::new();
    while !pending.is_empty() {
        let free = pending
            .iter()
            .position(|(_, new)| !pending.iter().any(|(old, _)| old == new));
        match free {
            Some(i) => ordered.push(pending.remove(i)),
            None => {
                // Every target is still taken: break the cycle with a temporary name.
                let (old, new) = pending.remove(0);
                let temporary = format!("_qvdiff_tmp_{old}");
                ordered.push((old, temporary.clone()));
                pending.push((temporary, new));
            }
        }
    }
    ordered
}

fn check_label(check: &qvdiff_core::Check) -> String {
    if check.name.is_empty() {
        format!("({})", check.expr)
    } else {
        quote_ident(&check.name)
    }
}

pub(crate) fn display_type(ty: &ColumnType) -> String {
    let rendered = render_type(ty);
    if rendered.is_empty() {
        "(no type)".to_string()
    } else {
        rendered
    }
}

fn describe_alter(from: &Column, to: &Column) -> String {
    let name = quote_ident(&to.name);
    let mut parts = Vec::new();
    if let Some(change) = EnumChange::between(&from.ty, &to.ty)
        .filter(|_| from.ty.without_hints() != to.ty.without_hints())
    {
        parts.push(format!(
            "values of {name} change ({})",
            to.ty.logical_name().replace('\n', " ")
        ));
        if !change.removed.is_empty() {
            parts.push(format!(
                "rows holding {} are refused",
                quoted_list(&change.removed)
            ));
        }
    } else if from.ty != to.ty {
        parts.push(format!(
            "type of {name} changes from {} to {}",
            display_type(&from.ty),
            display_type(&to.ty)
        ));
    }
    if from.nullable != to.nullable {
        parts.push(if to.nullable {
            format!("{name} becomes nullable")
        } else {
            format!("{name} becomes NOT NULL")
        });
    }
    if from.default != to.default {
        parts.push(format!("default of {name} changes"));
    }
    if from.autoincrement != to.autoincrement {
        parts.push(format!("AUTOINCREMENT of {name} changes"));
    }
    if parts.is_empty() {
        parts.push(format!("{name} changes"));
    }
    parts.join("; ")
}
