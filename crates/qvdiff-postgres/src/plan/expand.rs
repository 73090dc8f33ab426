//! Expand / contract (`migrate --online`): a column type change that rewrites the table, a
//! column or table rename the old app still uses, or a new NOT NULL column with a computed
//! value, written as two revisions so that the old and the new app version both work between
//! them.
//!
//! - **Expand**: the other changes of the diff as usual; then per carried column a new column
//!   (the new type under `<column>_new`, or the new name), a trigger function and a `BEFORE
//!   INSERT OR UPDATE` trigger keeping both columns in step both ways, the backfill of the rows
//!   already there ([`backfill_sql`]: an `UPDATE` under a `-- qvdiff:batch` line, which the
//!   runner applies in batches by key, each committed on its own), and for a NOT NULL
//!   column a `CHECK (new IS NOT NULL)` added `NOT VALID` and validated, which lets the contract
//!   set NOT NULL without a scan; then each index on the old column built on the new one
//!   `CONCURRENTLY` (under `<index>_new` while the old index holds its name).
//! - **Contract**: drop the trigger and its function, drop the old column (and its indexes with
//!   it), give the new column the old one's place (rename, its indexes renamed to the wanted
//!   names, NOT NULL over the validated CHECK, default, comment), drop the CHECK. Every
//!   statement takes its lock briefly: nothing scans or rewrites the table.
//!
//! A renamed table ([`RenamedTable`]) keeps its old name as a view over every column in the
//! expand, which the contract drops. The view must come in the rename's transaction (and go
//! in the transaction of the rename back, undoing it), so an expand / contract that renames a
//! table and also holds, in any of its sections, a step that commits on its own (a carried
//! column's backfill, found on the table under its new name; an index build; a validation) is
//! refused with the advice to rename the table in a migration of its own.
//!
//! The UNIQUE constraints, foreign keys and CHECKs on a carried column move with it (see
//! `carried_constraints`), and so do partial indexes whose condition names it (the condition
//! rewritten). A column in the primary key, one another table's foreign key points at, an
//! index or constraint on it that changes otherwise too or covers another carried column as
//! well, a table without a single integer
//! primary key to batch by, and a type without assignment casts both ways stay in place (the
//! reason is reported); so does everything else.

use super::backfill::batched_sql;
use super::carried_constraints::{mentions, MovedConstraints};
use super::{
    fill_fact, fill_value_sql, has_assignment_cast, is_row_number, sqlite_blob_hex, Postgres,
};
use crate::ddl::{check_comment_sql, comment_sql, create_index_sql};
use crate::locks::type_change_rewrites;
use crate::render::{limit_name, parse_default, quote_ident, render_default, render_type};
use crate::replay::{
    canonical_predicate, create_table_view_sql, drop_table_view_sql, predicate_after_renames,
    table_view_object,
};
use qvdiff_core::{
    diff, fill_restored_columns, Change, Check, Column, ColumnType, DefaultValue, Dialect,
    ExpandContract, FillReason, Index, Lock, LockMode, Loss, Plan, PlanError, RawObject, Renames,
    Schema, Step, StepFacts,
};

/// Prefix of the trigger functions and triggers qvdiff writes to keep two columns in step.
/// The schema model and the comparisons know them by it.
pub const SYNC_PREFIX: &str = "qvdiff_sync_";

/// One column carried through expand / contract.
struct Carried {
    table: String,
    /// The column as it is (base schema).
    old: Column,
    /// The column as wanted (its final name and type).
    new: Column,
    /// The name of the new column between the two revisions.
    shadow: String,
    /// The indexes on the column, moved to the new column: built there in the expand, the old
    /// ones dropped with the old column in the contract.
    indexes: Vec<MovedIndex>,
    /// The UNIQUE constraints, foreign keys and CHECKs on the column, moved to the new column.
    constraints: MovedConstraints,
}

/// An index on a carried column: as it is, as wanted, and as built on the new column in the
/// expand (under a name of its own while the old one exists).
struct MovedIndex {
    old: Index,
    new: Index,
    expanded: Index,
}

impl Carried {
    fn sync_name(&self) -> String {
        limit_name(&format!("{SYNC_PREFIX}{}_{}", self.table, self.old.name))
    }

    fn not_null_check(&self) -> Option<Check> {
        (!self.old.nullable).then(|| Check {
            name: limit_name(&format!("{}_{}_not_null", self.table, self.shadow)),
            expr: format!("{} IS NOT NULL", quote_ident(&self.shadow)),
        })
    }

    /// The indexes and constraints moved with the column, by their names as they are.
    fn moved_objects(&self) -> Vec<String> {
        let mut objects: Vec<String> = self.indexes.iter().map(|m| m.old.name.clone()).collect();
        objects.extend(self.constraints.names(&self.table));
        objects
    }

    fn describe(&self) -> String {
        let moved = self.constraints.describe();
        let with = if moved.is_empty() {
            String::new()
        } else {
            format!(", with its {}", moved.join(", "))
        };
        format!("{}{with}", self.describe_column())
    }

    /// What happens to the column, with the value the new column gets in the rows there.
    fn describe_column(&self) -> String {
        let (t, old) = (&self.table, &self.old.name);
        let filled = format!("(existing rows: {old}, kept in step by a trigger)");
        if self.old.name == self.new.name {
            format!(
                "{t}.{old}: {} -> {} through {t}.{} {filled}",
                render_type(&self.old.ty),
                render_type(&self.new.ty),
                self.shadow
            )
        } else {
            format!("{t}.{old} renamed to {t}.{} {filled}", self.new.name)
        }
    }
}

/// The indexes on `old` of `table` in `from` (over it, or partial with a condition on it), each
/// with the index `to` wants on `new` in its place (same other columns, uniqueness and
/// condition); `None` when one has no such match, or `to` has an index on `new` that is not
/// such a match.
fn moved_indexes(
    from: &Schema,
    to: &Schema,
    table: &str,
    old: &str,
    new: &str,
) -> Option<Vec<(Index, Index)>> {
    let (before, after) = (from.table(table)?, to.table(table)?);
    let on = |i: &Index, column: &str| {
        i.columns.iter().any(|c| c == column)
            || i.predicate.as_deref().is_some_and(|p| mentions(p, column))
    };
    let condition = |i: &Index, renames: &[(String, String)]| {
        i.predicate
            .as_deref()
            .map(|p| canonical_predicate(&predicate_after_renames(p, renames)))
    };
    let to_new = [(old.to_string(), new.to_string())];
    let renamed = |i: &Index| -> Vec<String> {
        i.columns
            .iter()
            .map(|c| if c == old { new.to_string() } else { c.clone() })
            .collect()
    };
    let mut moved = Vec::new();
    for index in before.indexes.iter().filter(|i| on(i, old)) {
        let wanted = after.indexes.iter().find(|w| {
            w.columns == renamed(index)
                && w.unique == index.unique
                && condition(w, &[]) == condition(index, &to_new)
        })?;
        moved.push((index.clone(), wanted.clone()));
    }
    let all_matched = after
        .indexes
        .iter()
        .filter(|i| on(i, new))
        .all(|i| moved.iter().any(|(_, w)| w.name == i.name));
    all_matched.then_some(moved)
}

/// Whether `table` has a single integer primary key, the key a backfill goes by in batches.
fn integer_key(table: &qvdiff_core::Table) -> bool {
    match table.primary_key.as_slice() {
        [key] => table
            .column(key)
            .is_some_and(|c| matches!(c.ty, ColumnType::Integer { .. })),
        _ => false,
    }
}

/// Why `column` of `table` (named `name` in `to`) cannot be carried; `None`: it can.
fn obstacle(from: &Schema, to: &Schema, table: &str, old: &str, new: &str) -> Option<String> {
    let (Some(before), Some(after)) = (from.table(table), to.table(table)) else {
        return Some("its table is created or dropped".into());
    };
    if moved_indexes(from, to, table, old, new).is_none() {
        return Some("an index on it is partial or changes too".into());
    }
    if MovedConstraints::find(from, to, table, old, new, new).is_none() {
        return Some("a UNIQUE, foreign key or CHECK on it changes too".into());
    }
    for (t, column) in [(before, old), (after, new)] {
        let in_key = t.primary_key.iter().any(|c| c == column);
        let referenced = [from, to].iter().any(|s| {
            s.tables.iter().any(|other| {
                other
                    .foreign_keys
                    .iter()
                    .any(|fk| fk.ref_table == table && fk.ref_columns.iter().any(|c| c == column))
            })
        });
        if in_key || referenced {
            return Some(
                "it is in the primary key, or another table's foreign key points at it".into(),
            );
        }
    }
    if !integer_key(before) || before.primary_key != after.primary_key {
        return Some("its table has no single integer primary key to backfill by".into());
    }
    None
}

/// The columns `changes` rewrite or rename that can be carried, and the reasons for the ones
/// that stay in place.
fn carried_columns(from: &Schema, to: &Schema, changes: &[Change]) -> (Vec<Carried>, Vec<String>) {
    let mut carried = Vec::new();
    let mut in_place = Vec::new();
    for change in changes {
        let (table, old_name, new_name) = match change {
            Change::RenameColumn { table, from, to } => (table, from, to),
            Change::AlterColumn { table, from, to } => (table, &from.name, &to.name),
            _ => continue,
        };
        // A renamed column whose type changes too comes as a rename and an alteration: the
        // alteration (under the new name) is that of the same column.
        let renamed_from = changes.iter().find_map(|c| match c {
            Change::RenameColumn { table: t, from, to } if t == table && to == new_name => {
                Some(from.clone())
            }
            _ => None,
        });
        if matches!(change, Change::AlterColumn { .. }) && renamed_from.is_some() {
            continue;
        }
        let old_name = renamed_from.as_deref().unwrap_or(old_name);
        let (Some(old), Some(new)) = (
            from.table(table).and_then(|t| t.column(old_name)),
            to.table(table).and_then(|t| t.column(new_name)),
        ) else {
            continue;
        };
        let retyped = old.ty != new.ty;
        let rewrites = retyped
            && type_change_rewrites(
                &render_type(&old.ty),
                &render_type(&new.ty),
                new.using.is_some(),
            );
        if old_name == new_name && !rewrites {
            continue;
        }
        let what = format!("{table}.{old_name}");
        let why = if let Some(why) = obstacle(from, to, table, old_name, new_name) {
            Some(why)
        } else if old.nullable != new.nullable
            || old.default != new.default
            || old.autoincrement
            || new.autoincrement
            || new.using.is_some()
        {
            Some("its nullability, default, identity or USING changes too".into())
        } else if retyped
            && !(has_assignment_cast(&old.ty, &new.ty) && has_assignment_cast(&new.ty, &old.ty))
        {
            Some("its old and new types do not convert into each other by assignment".into())
        } else {
            None
        };
        let shadow = if old_name == new_name {
            limit_name(&format!("{old_name}_new"))
        } else {
            new_name.clone()
        };
        let taken = [from, to]
            .iter()
            .any(|s| s.table(table).and_then(|t| t.column(&shadow)).is_some());
        let why = why.or_else(|| {
            (old_name == new_name && taken)
                .then(|| format!("its table already has a column {shadow}"))
        });
        if let Some(why) = why {
            in_place.push(format!("{what} stays in place: {why}"));
            continue;
        }
        let before = from
            .table(table)
            .map(|t| t.indexes.as_slice())
            .unwrap_or(&[]);
        let indexes = moved_indexes(from, to, table, old_name, new_name)
            .unwrap_or_default()
            .into_iter()
            .map(|(old_index, new_index)| {
                let taken = before.iter().any(|i| i.name == new_index.name);
                let mut expanded = new_index.clone();
                if taken {
                    expanded.name = limit_name(&format!("{}_new", new_index.name));
                }
                for c in &mut expanded.columns {
                    if c == new_name {
                        c.clone_from(&shadow);
                    }
                }
                expanded.predicate = expanded.predicate.as_deref().map(|p| {
                    canonical_predicate(&predicate_after_renames(
                        p,
                        &[(new_name.clone(), shadow.clone())],
                    ))
                });
                MovedIndex {
                    old: old_index,
                    new: new_index,
                    expanded,
                }
            })
            .collect();
        let constraints = MovedConstraints::find(from, to, table, old_name, new_name, &shadow)
            .unwrap_or_default();
        carried.push(Carried {
            table: table.clone(),
            old: old.clone(),
            new: new.clone(),
            shadow,
            indexes,
            constraints,
        });
    }
    // An index or constraint over two carried columns would be built twice, on neither pair
    // of columns as the other expects: both stay in place.
    let shared: Vec<(String, String)> = carried
        .iter()
        .flat_map(|c| c.moved_objects().into_iter().map(|o| (c.table.clone(), o)))
        .collect();
    let (kept, stay): (Vec<Carried>, Vec<Carried>) = carried.into_iter().partition(|c| {
        c.moved_objects().iter().all(|o| {
            shared
                .iter()
                .filter(|(t, other)| *t == c.table && other == o)
                .count()
                == 1
        })
    });
    in_place.extend(stay.iter().map(|c| {
        format!(
            "{}.{} stays in place: an index or constraint on it covers another column carried \
             too",
            c.table, c.old.name
        )
    }));
    (kept, in_place)
}

/// `from` with the tables `changes` rename under their new names, and the foreign keys that
/// point at them too: the schema a carried column's table is looked up in, by the name it has
/// when the expand gives it its new column. Indexes and constraint names stay as they are.
fn with_tables_renamed(from: &Schema, changes: &[Change]) -> Schema {
    let mut renamed = from.clone();
    for change in changes {
        let Change::RenameTable { from: old, to: new } = change else {
            continue;
        };
        for table in &mut renamed.tables {
            if &table.name == old {
                table.name.clone_from(new);
            }
            for fk in &mut table.foreign_keys {
                if &fk.ref_table == old {
                    fk.ref_table.clone_from(new);
                }
            }
        }
    }
    renamed
}

/// `to` with each carried column as it is in `from`: the target of the other changes.
fn without_carried(from: &Schema, to: &Schema, carried: &[Carried]) -> Schema {
    let mut mid = to.clone();
    for c in carried {
        if let Some(table) = mid.tables.iter_mut().find(|t| t.name == c.table) {
            table.columns.retain(|col| col.name != c.new.name);
            if let Some(old) = from.table(&c.table).and_then(|t| t.column(&c.old.name)) {
                table.columns.push(old.clone());
            }
            table
                .indexes
                .retain(|i| !c.indexes.iter().any(|m| m.new.name == i.name));
            table
                .indexes
                .extend(c.indexes.iter().map(|m| m.old.clone()));
            c.constraints.keep_old(table);
        }
    }
    mid
}

/// `mid` with each carried column's new column beside the old one, and its NOT NULL CHECK.
fn expanded_schema(mid: &Schema, carried: &[Carried]) -> Schema {
    let mut expanded = mid.without_hints();
    for c in carried {
        if let Some(table) = expanded.tables.iter_mut().find(|t| t.name == c.table) {
            table.columns.push(shadow_column(c));
            table.checks.extend(c.not_null_check());
            table
                .indexes
                .extend(c.indexes.iter().map(|m| m.expanded.clone()));
            c.constraints.add_expanded(table);
        }
    }
    expanded.normalized()
}

fn shadow_column(c: &Carried) -> Column {
    Column::new_nullable(c.shadow.clone(), c.new.ty.clone())
}

fn lock(table: &str, mode: LockMode) -> StepFacts {
    StepFacts {
        lock: Some(Lock {
            mode,
            table: table.to_string(),
            scans: false,
            rewrites: false,
        }),
        ..StepFacts::default()
    }
}

/// A lock under which the statement reads every row.
fn scanning(table: &str, mode: LockMode) -> StepFacts {
    let mut facts = lock(table, mode);
    if let Some(lock) = &mut facts.lock {
        lock.scans = true;
    }
    facts
}

/// The trigger function keeping `old` and `shadow` in step: an insert that sets the new column
/// sets the old one from it, else the new one from the old; an update copies whichever of the
/// two changed to the other (the new one when both did).
fn sync_function_sql(c: &Carried) -> String {
    let (o, s) = (quote_ident(&c.old.name), quote_ident(&c.shadow));
    format!(
        "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $qvdiff_sync$\n\
         BEGIN\n\
         \x20 IF TG_OP = 'INSERT' THEN\n\
         \x20   IF NEW.{s} IS NULL THEN NEW.{s} := NEW.{o}; ELSE NEW.{o} := NEW.{s}; END IF;\n\
         \x20 ELSIF NEW.{s} IS DISTINCT FROM OLD.{s} THEN\n\
         \x20   NEW.{o} := NEW.{s};\n\
         \x20 ELSIF NEW.{o} IS DISTINCT FROM OLD.{o} THEN\n\
         \x20   NEW.{s} := NEW.{o};\n\
         \x20 END IF;\n\
         \x20 RETURN NEW;\n\
         END\n\
         $qvdiff_sync$;",
        name = quote_ident(&c.sync_name()),
    )
}

fn sync_trigger_sql(c: &Carried) -> String {
    format!(
        "CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION \
         {name}();",
        name = quote_ident(&c.sync_name()),
        table = quote_ident(&c.table),
    )
}

fn drop_sync_sql(c: &Carried) -> [String; 2] {
    let name = quote_ident(&c.sync_name());
    [
        format!(
            "DROP TRIGGER IF EXISTS {name} ON {};",
            quote_ident(&c.table)
        ),
        format!("DROP FUNCTION IF EXISTS {name}();"),
    ]
}

/// The backfill of the rows already there: `shadow = old` for the rows the trigger has not
/// filled, under a batch line (see `runner::batch`): committed batch by batch in key order, with
/// progress, and run again after a kill it skips the rows done.
pub fn backfill_sql(table: &str, old: &str, shadow: &str) -> String {
    let (o, s) = (quote_ident(old), quote_ident(shadow));
    batched_sql(&format!(
        "UPDATE {} SET {s} = {o} WHERE {s} IS NULL AND {o} IS NOT NULL;",
        quote_ident(table)
    ))
}

fn add_column_sql(c: &Carried) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {} {};",
        quote_ident(&c.table),
        quote_ident(&c.shadow),
        render_type(&c.new.ty)
    )
}

fn drop_column_step(table: &str, column: &str, why: &str) -> Step {
    let mut facts = lock(table, LockMode::AccessExclusive);
    facts.destroys.push(Loss {
        table: table.to_string(),
        column: Some(column.to_string()),
        reason: why.to_string(),
    });
    Step::with(
        format!(
            "ALTER TABLE {} DROP COLUMN {};",
            quote_ident(table),
            quote_ident(column)
        ),
        facts,
    )
}

/// The expand steps of one column: new column, sync function and trigger, backfill, the NOT
/// NULL CHECK.
fn expand_steps(c: &Carried) -> Vec<Step> {
    let table = c.table.as_str();
    let mut steps = vec![
        Step::with(add_column_sql(c), lock(table, LockMode::AccessExclusive)),
        Step::plain(sync_function_sql(c)),
        Step::with(
            sync_trigger_sql(c),
            lock(table, LockMode::ShareRowExclusive),
        ),
        Step::with(
            backfill_sql(table, &c.old.name, &c.shadow),
            StepFacts {
                outside_transaction: true,
                ..scanning(table, LockMode::RowExclusive)
            },
        ),
    ];
    if let Some(check) = c.not_null_check() {
        steps.extend(not_null_check_steps(table, &check));
    }
    // After the backfill, so the build reads each row once, filled.
    for m in &c.indexes {
        steps.push(Step::with(
            create_index_sql(table, &m.expanded, true),
            StepFacts {
                outside_transaction: true,
                ..scanning(table, LockMode::ShareUpdateExclusive)
            },
        ));
    }
    steps.extend(c.constraints.expand_steps(table));
    steps
}

/// `ALTER INDEX from RENAME TO to;`: a brief lock, no row read.
fn rename_index_step(table: &str, from: &str, to: &str) -> Step {
    Step::with(
        format!(
            "ALTER INDEX {} RENAME TO {};",
            quote_ident(from),
            quote_ident(to)
        ),
        lock(table, LockMode::ShareUpdateExclusive),
    )
}

/// The CHECK that lets `SET NOT NULL` skip its scan: added `NOT VALID` (a brief lock), its text
/// kept in a comment as every planned CHECK's, then validated (a scan that lets writers on).
fn not_null_check_steps(table: &str, check: &Check) -> [Step; 3] {
    [
        Step::with(
            format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({}) NOT VALID;",
                quote_ident(table),
                quote_ident(&check.name),
                check.expr
            ),
            lock(table, LockMode::AccessExclusive),
        ),
        Step::plain(check_comment_sql(table, check)),
        Step::with(
            format!(
                "ALTER TABLE {} VALIDATE CONSTRAINT {};",
                quote_ident(table),
                quote_ident(&check.name)
            ),
            // A step of its own, so the ADD's lock is committed before the scan.
            StepFacts {
                outside_transaction: true,
                ..scanning(table, LockMode::ShareUpdateExclusive)
            },
        ),
    ]
}

/// The expand revision's way back for one column: trigger, function, new column.
fn unexpand_steps(c: &Carried) -> Vec<Step> {
    let [trigger, function] = drop_sync_sql(c);
    vec![
        Step::with(trigger, lock(&c.table, LockMode::AccessExclusive)),
        Step::plain(function),
        drop_column_step(
            &c.table,
            &c.shadow,
            &format!(
                "drops {}.{}, kept in step with {} by the trigger",
                c.table, c.shadow, c.old.name
            ),
        ),
    ]
}

/// The contract steps of one column: the new column takes the old one's place.
fn contract_steps(c: &Carried) -> Vec<Step> {
    let table = c.table.as_str();
    let t = quote_ident(table);
    let [trigger, function] = drop_sync_sql(c);
    let mut steps = vec![
        Step::with(trigger, lock(table, LockMode::AccessExclusive)),
        Step::plain(function),
        drop_column_step(
            table,
            &c.old.name,
            &format!(
                "drops {table}.{}: its values live on in {}",
                c.old.name, c.new.name
            ),
        ),
    ];
    if c.shadow != c.new.name {
        steps.push(Step::with(
            format!(
                "ALTER TABLE {t} RENAME COLUMN {} TO {};",
                quote_ident(&c.shadow),
                quote_ident(&c.new.name)
            ),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    // The old column's indexes went with it; the ones built in the expand take their names.
    for m in c.indexes.iter().filter(|m| m.expanded.name != m.new.name) {
        steps.push(rename_index_step(table, &m.expanded.name, &m.new.name));
    }
    steps.extend(c.constraints.contract_steps(table));
    let n = quote_ident(&c.new.name);
    if let Some(check) = c.not_null_check() {
        steps.push(Step::with(
            format!("ALTER TABLE {t} ALTER COLUMN {n} SET NOT NULL;"),
            lock(table, LockMode::AccessExclusive),
        ));
        steps.push(Step::with(
            format!(
                "ALTER TABLE {t} DROP CONSTRAINT {};",
                quote_ident(&check.name)
            ),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    if let Some(default) = &c.new.default {
        steps.push(Step::with(
            format!(
                "ALTER TABLE {t} ALTER COLUMN {n} SET DEFAULT {};",
                render_default(default)
            ),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    if c.new.comment.is_some() {
        steps.push(Step::plain(comment_sql(
            table,
            Some(&c.new.name),
            c.new.comment.as_deref(),
        )));
    }
    steps
}

/// The contract revision's way back: the expand state again. The old column comes back as it
/// was, filled from the new one, and the trigger keeps them in step again.
fn uncontract_steps(c: &Carried) -> Vec<Step> {
    let table = c.table.as_str();
    let t = quote_ident(table);
    let (o, n) = (quote_ident(&c.old.name), quote_ident(&c.new.name));
    let mut steps = c.constraints.uncontract_first_steps(table);
    for m in c.indexes.iter().filter(|m| m.expanded.name != m.new.name) {
        steps.push(rename_index_step(table, &m.new.name, &m.expanded.name));
    }
    if c.new.default.is_some() {
        steps.push(Step::with(
            format!("ALTER TABLE {t} ALTER COLUMN {n} DROP DEFAULT;"),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    if c.new.comment.is_some() {
        steps.push(Step::plain(comment_sql(table, Some(&c.new.name), None)));
    }
    if c.shadow != c.new.name {
        steps.push(Step::with(
            format!(
                "ALTER TABLE {t} RENAME COLUMN {n} TO {};",
                quote_ident(&c.shadow)
            ),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    let s = quote_ident(&c.shadow);
    if let Some(check) = c.not_null_check() {
        steps.extend(not_null_check_steps(table, &check));
        steps.push(Step::with(
            format!("ALTER TABLE {t} ALTER COLUMN {s} DROP NOT NULL;"),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    steps.push(Step::with(
        format!("ALTER TABLE {t} ADD COLUMN {o} {};", render_type(&c.old.ty)),
        lock(table, LockMode::AccessExclusive),
    ));
    steps.push(Step::with(
        format!("UPDATE {t} SET {o} = {s};"),
        scanning(table, LockMode::RowExclusive),
    ));
    if !c.old.nullable {
        steps.push(Step::with(
            format!("ALTER TABLE {t} ALTER COLUMN {o} SET NOT NULL;"),
            scanning(table, LockMode::AccessExclusive),
        ));
    }
    for m in &c.indexes {
        steps.push(Step::with(
            create_index_sql(table, &m.old, false),
            scanning(table, LockMode::Share),
        ));
    }
    if let Some(default) = &c.old.default {
        steps.push(Step::with(
            format!(
                "ALTER TABLE {t} ALTER COLUMN {o} SET DEFAULT {};",
                render_default(default)
            ),
            lock(table, LockMode::AccessExclusive),
        ));
    }
    if c.old.comment.is_some() {
        steps.push(Step::plain(comment_sql(
            table,
            Some(&c.old.name),
            c.old.comment.as_deref(),
        )));
    }
    steps.extend(c.constraints.uncontract_last_steps(table));
    steps.push(Step::plain(sync_function_sql(c)));
    steps.push(Step::with(
        sync_trigger_sql(c),
        lock(table, LockMode::ShareRowExclusive),
    ));
    steps
}

/// See [`Dialect::expand_contract`].
pub(super) fn plan(
    dialect: &Postgres,
    from: &Schema,
    to: &Schema,
    changes: &[Change],
) -> Result<Option<ExpandContract>, PlanError> {
    let from = dialect.normalize(from);
    // A column of a renamed table is carried on the table as the expand leaves it: renamed
    // first, with the other changes, then given its new column like any other.
    let renamed_from = with_tables_renamed(&from, changes);
    let (carried, mut in_place) = carried_columns(&renamed_from, to, changes);
    let (computed, computed_in_place) = computed_columns(&renamed_from, to, changes);
    in_place.extend(computed_in_place);
    let (renamed, renamed_in_place) = renamed_tables(to, changes);
    in_place.extend(renamed_in_place);
    if carried.is_empty() && computed.is_empty() && renamed.is_empty() {
        return Ok(None);
    }
    // The other changes, from the schema as it is to the wanted one with the carried columns
    // as they are: planned as any migration, in the expand revision.
    let mut mid = without_carried(&renamed_from, to, &carried);
    without_computed(&mut mid, &computed);
    let is_carried = |table: &str, old: &str| {
        carried
            .iter()
            .any(|c| c.table == table && c.old.name == old)
    };
    let renames = Renames {
        tables: changes
            .iter()
            .filter_map(|c| match c {
                Change::RenameTable { from, to } => Some((from.clone(), to.clone())),
                _ => None,
            })
            .collect(),
        columns: changes
            .iter()
            .filter_map(|c| match c {
                Change::RenameColumn { table, from, to } if !is_carried(table, from) => {
                    Some((table.clone(), from.clone(), to.clone()))
                }
                _ => None,
            })
            .collect(),
        indexes: Vec::new(),
    };
    let others = diff(&from, &mid, &renames);
    let mut expand_up = dialect.plan(&from, &mid, &others)?;
    let reverse = diff(&mid, &from, &renames.inverted());
    let mut down_target = from.clone();
    fill_restored_columns(&mut down_target, &reverse);
    let mut expand_down = Plan { steps: Vec::new() };
    for c in &carried {
        expand_up.steps.extend(expand_steps(c));
        expand_down.steps.extend(unexpand_steps(c));
    }
    for c in &computed {
        expand_up.steps.extend(c.expand_steps());
        expand_down.steps.extend(c.unexpand_steps());
    }
    // The old name of a renamed table reads and writes it until the contract: a view over
    // every column, made after everything else the expand does to the table, in the rename's
    // transaction (see `refuse_rename_beside_steps_on_their_own`).
    expand_up
        .steps
        .extend(renamed.iter().map(RenamedTable::create_view));
    expand_down
        .steps
        .splice(0..0, renamed.iter().map(RenamedTable::drop_view));
    let mid_plain = mid.without_hints();
    expand_down
        .steps
        .extend(dialect.plan(&mid_plain, &down_target, &reverse)?.steps);
    let contract_up = Plan {
        steps: renamed
            .iter()
            .map(RenamedTable::drop_view)
            .chain(carried.iter().flat_map(contract_steps))
            .chain(computed.iter().flat_map(Computed::contract_steps))
            .collect(),
    };
    let contract_down = Plan {
        steps: computed
            .iter()
            .rev()
            .flat_map(Computed::uncontract_steps)
            .chain(carried.iter().rev().flat_map(uncontract_steps))
            .chain(renamed.iter().map(RenamedTable::create_view))
            .collect(),
    };
    refuse_rename_beside_steps_on_their_own(
        &renamed,
        [&expand_up, &expand_down, &contract_up, &contract_down],
        &carried,
        &computed,
    )?;
    let mut expanded = expanded_schema(&mid, &carried);
    for c in &computed {
        if let Some(table) = expanded.tables.iter_mut().find(|t| t.name == c.table) {
            table.columns.push(Column::new_nullable(
                c.column.name.clone(),
                c.column.ty.clone(),
            ));
            table.checks.push(c.not_null_check());
        }
    }
    expanded
        .views
        .extend(renamed.iter().map(RenamedTable::view_object));
    Ok(Some(ExpandContract {
        expand_up,
        expand_down,
        contract_up,
        contract_down,
        expanded: expanded.normalized(),
        carried: carried
            .iter()
            .map(Carried::describe)
            .chain(computed.iter().map(Computed::describe))
            .chain(renamed.iter().map(RenamedTable::describe))
            .collect(),
        in_place,
    }))
}

/// A new NOT NULL column whose rows already there get a computed value (`backfill_sql`, or an
/// expression typed at the prompt) that the old app, which does not know the column, leaves
/// NULL: added nullable in the expand, with a trigger filling it from the same expression on
/// the old app's inserts and updates, the batched backfill and a validated `CHECK (… IS NOT
/// NULL)`; the contract drops the trigger and sets NOT NULL over the CHECK without a scan.
struct Computed {
    table: String,
    /// The column as wanted.
    column: Column,
    /// The SQL of the value, over the row's columns.
    value: String,
}

/// The columns `changes` add NOT NULL with a computed value that can go through expand /
/// contract, and the reasons for the ones that stay in place.
fn computed_columns(
    from: &Schema,
    to: &Schema,
    changes: &[Change],
) -> (Vec<Computed>, Vec<String>) {
    let mut computed = Vec::new();
    let mut in_place = Vec::new();
    for change in changes {
        let Change::AddColumn { table, column } = change else {
            continue;
        };
        let (Some(before), Some(after)) = (from.table(table), to.table(table)) else {
            continue;
        };
        let mut wanted = after.column(&column.name).unwrap_or(column).clone();
        if wanted.backfill.is_none() {
            wanted.backfill.clone_from(&column.backfill);
        }
        // As the ordinary plan: a literal fills the rows through a transient default, which
        // rewrites nothing; only an expression over the row needs the backfill.
        let Some(fill) = wanted.backfill.clone() else {
            continue;
        };
        let DefaultValue::Sql(sql) = &fill else {
            continue;
        };
        if wanted.nullable
            || wanted.autoincrement
            || wanted.default.as_ref() == Some(&fill)
            || is_row_number(&fill)
            || !matches!(parse_default(sql, &wanted.ty), DefaultValue::Sql(_))
            || sqlite_blob_hex(sql).is_some()
        {
            continue;
        }
        let name = wanted.name.as_str();
        let mentions = |expr: &str| expr.contains(name);
        let in_key = after.primary_key.iter().any(|c| c == name)
            || after
                .uniques
                .iter()
                .any(|u| u.columns.iter().any(|c| c == name))
            || after.indexes.iter().any(|i| {
                i.columns.iter().any(|c| c == name) || i.predicate.as_deref().is_some_and(mentions)
            })
            || after
                .foreign_keys
                .iter()
                .any(|fk| fk.columns.iter().any(|c| c == name))
            || after.checks.iter().any(|c| mentions(&c.expr))
            || to.tables.iter().any(|t| {
                t.foreign_keys
                    .iter()
                    .any(|fk| &fk.ref_table == table && fk.ref_columns.iter().any(|c| c == name))
            });
        let why = if in_key {
            Some("it is in a key, an index, a foreign key or a CHECK")
        } else if !integer_key(before) || before.primary_key != after.primary_key {
            Some("its table has no single integer primary key to backfill by")
        } else {
            None
        };
        if let Some(why) = why {
            in_place.push(format!("{table}.{name} stays in place: {why}"));
            continue;
        }
        let value = fill_value_sql(&fill, &wanted.ty);
        computed.push(Computed {
            table: table.clone(),
            column: wanted,
            value,
        });
    }
    (computed, in_place)
}

/// `mid` without the computed columns: the target of the other changes.
fn without_computed(mid: &mut Schema, computed: &[Computed]) {
    for c in computed {
        if let Some(table) = mid.tables.iter_mut().find(|t| t.name == c.table) {
            table.columns.retain(|col| col.name != c.column.name);
        }
    }
}

impl Computed {
    fn sync_name(&self) -> String {
        limit_name(&format!("{SYNC_PREFIX}{}_{}", self.table, self.column.name))
    }

    fn not_null_check(&self) -> Check {
        Check {
            name: limit_name(&format!("{}_{}_not_null", self.table, self.column.name)),
            expr: format!("{} IS NOT NULL", quote_ident(&self.column.name)),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{}.{}: new NOT NULL column, the rows there filled with {}",
            self.table, self.column.name, self.value
        )
    }

    /// The trigger function filling the column from the value's expression when a write leaves
    /// it NULL (an old app's insert, or its update of a row the backfill has not reached).
    /// The expression reads the row being written under the table's name, as in the backfill.
    fn sync_function_sql(&self) -> String {
        let c = quote_ident(&self.column.name);
        format!(
            "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $qvdiff_sync$\n\
             BEGIN\n\
             \x20 IF NEW.{c} IS NULL THEN\n\
             \x20   SELECT {value} INTO NEW.{c} FROM (SELECT NEW.*) AS {table};\n\
             \x20 END IF;\n\
             \x20 RETURN NEW;\n\
             END\n\
             $qvdiff_sync$;",
            name = quote_ident(&self.sync_name()),
            value = self.value,
            table = quote_ident(&self.table),
        )
    }

    fn sync_trigger_sql(&self) -> String {
        format!(
            "CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE \
             FUNCTION {name}();",
            name = quote_ident(&self.sync_name()),
            table = quote_ident(&self.table),
        )
    }

    fn sync_steps(&self) -> [Step; 2] {
        [
            Step::plain(self.sync_function_sql()),
            Step::with(
                self.sync_trigger_sql(),
                lock(&self.table, LockMode::ShareRowExclusive),
            ),
        ]
    }

    fn drop_sync_steps(&self) -> [Step; 2] {
        let name = quote_ident(&self.sync_name());
        [
            Step::with(
                format!(
                    "DROP TRIGGER IF EXISTS {name} ON {};",
                    quote_ident(&self.table)
                ),
                lock(&self.table, LockMode::AccessExclusive),
            ),
            Step::plain(format!("DROP FUNCTION IF EXISTS {name}();")),
        ]
    }

    fn alter(&self, action: &str) -> Step {
        Step::with(
            format!(
                "ALTER TABLE {} ALTER COLUMN {} {action};",
                quote_ident(&self.table),
                quote_ident(&self.column.name)
            ),
            lock(&self.table, LockMode::AccessExclusive),
        )
    }

    /// New column (nullable), trigger, batched backfill, the NOT NULL CHECK validated.
    fn expand_steps(&self) -> Vec<Step> {
        let (table, c) = (self.table.as_str(), quote_ident(&self.column.name));
        let mut steps = vec![Step::with(
            format!(
                "ALTER TABLE {} ADD COLUMN {c} {};",
                quote_ident(table),
                render_type(&self.column.ty)
            ),
            lock(table, LockMode::AccessExclusive),
        )];
        steps.extend(self.sync_steps());
        steps.push(Step::with(
            batched_sql(&format!(
                "UPDATE {} SET {c} = {} WHERE {c} IS NULL;",
                quote_ident(table),
                self.value
            )),
            StepFacts {
                outside_transaction: true,
                fills: vec![fill_fact(
                    table,
                    &self.column.name,
                    self.value.clone(),
                    FillReason::Backfill,
                )],
                ..scanning(table, LockMode::RowExclusive)
            },
        ));
        steps.extend(not_null_check_steps(table, &self.not_null_check()));
        steps
    }

    /// The expand's way back: trigger, function, column.
    fn unexpand_steps(&self) -> Vec<Step> {
        let mut steps = self.drop_sync_steps().to_vec();
        steps.push(drop_column_step(
            &self.table,
            &self.column.name,
            &format!(
                "drops {}.{}, added by this revision",
                self.table, self.column.name
            ),
        ));
        steps
    }

    /// Trigger and function gone, NOT NULL over the validated CHECK, the CHECK dropped, the
    /// default and comment the model gives.
    fn contract_steps(&self) -> Vec<Step> {
        let mut steps = self.drop_sync_steps().to_vec();
        steps.push(self.alter("SET NOT NULL"));
        steps.push(Step::with(
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {};",
                quote_ident(&self.table),
                quote_ident(&self.not_null_check().name)
            ),
            lock(&self.table, LockMode::AccessExclusive),
        ));
        if let Some(default) = &self.column.default {
            steps.push(self.alter(&format!("SET DEFAULT {}", render_default(default))));
        }
        if self.column.comment.is_some() {
            steps.push(Step::plain(comment_sql(
                &self.table,
                Some(&self.column.name),
                self.column.comment.as_deref(),
            )));
        }
        steps
    }

    /// The contract's way back: the expand state again (nullable, the CHECK, the trigger).
    fn uncontract_steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.column.comment.is_some() {
            steps.push(Step::plain(comment_sql(
                &self.table,
                Some(&self.column.name),
                None,
            )));
        }
        if self.column.default.is_some() {
            steps.push(self.alter("DROP DEFAULT"));
        }
        steps.extend(not_null_check_steps(&self.table, &self.not_null_check()));
        steps.push(self.alter("DROP NOT NULL"));
        steps.extend(self.sync_steps());
        steps
    }
}

/// A table renamed through expand / contract: the expand renames it and leaves a view over
/// every column under the old name, which PostgreSQL makes updatable by itself (so the old app
/// reads and writes the table through it, defaults and identity included); the contract drops
/// the view. The table's keys, indexes, sequences and the foreign keys pointing at it follow
/// the rename as the server keeps them by identity, not by name.
struct RenamedTable {
    from: String,
    to: String,
}

/// The tables `changes` rename that can keep their old name as a view, and the reasons for the
/// ones renamed in place.
fn renamed_tables(to: &Schema, changes: &[Change]) -> (Vec<RenamedTable>, Vec<String>) {
    let mut renamed = Vec::new();
    let mut in_place = Vec::new();
    for change in changes {
        let Change::RenameTable { from, to: new } = change else {
            continue;
        };
        if to.table(from).is_some() {
            in_place.push(format!(
                "table {from} is renamed to {new} in place: a table of the models takes the \
                 name {from}, which a view cannot hold too"
            ));
            continue;
        }
        renamed.push(RenamedTable {
            from: from.clone(),
            to: new.clone(),
        });
    }
    (renamed, in_place)
}

/// Refuses an expand / contract that renames a table and also holds, in any of its four
/// sections, a step that runs on its own (a carried column's batched backfill, a `VALIDATE`, a
/// `CONCURRENTLY` build): such a section runs statement by statement, each committed on its
/// own, so the view that keeps the old name would come in a transaction after the rename (up)
/// or be dropped a transaction before the table gets its old name back (down), and the app
/// version still running would find no table of that name in between; a lock timeout between
/// them would leave it so.
fn refuse_rename_beside_steps_on_their_own(
    renamed: &[RenamedTable],
    sections: [&Plan; 4],
    carried: &[Carried],
    computed: &[Computed],
) -> Result<(), PlanError> {
    let on_its_own = |step: &Step| {
        step.facts.outside_transaction
            || crate::sqltext::split_statements(&step.sql)
                .iter()
                .any(|s| crate::sqltext::runs_on_its_own(&s.words(&step.sql)))
    };
    let Some(table) = renamed.first() else {
        return Ok(());
    };
    if !sections
        .iter()
        .any(|plan| plan.steps.iter().any(on_its_own))
    {
        return Ok(());
    }
    let columns: Vec<String> = carried
        .iter()
        .map(|c| format!("{}.{}", c.table, c.old.name))
        .chain(
            computed
                .iter()
                .map(|c| format!("{}.{}", c.table, c.column.name)),
        )
        .collect();
    let why = if columns.is_empty() {
        "an index build or a constraint validation".to_string()
    } else {
        format!(
            "the new columns and batched backfills of {}",
            columns.join(", ")
        )
    };
    Err(PlanError {
        table: table.from.clone(),
        column: None,
        message: format!(
            "renamed to {to} through expand / contract, but the same expand also runs steps \
             that commit on their own ({why}), so the view that keeps the name {from} for the \
             app version still running could not be made in the rename's transaction (nor, \
             undoing it, dropped in the transaction that gives the table its name back), and \
             that app would find no {from} for a moment; split it into two migrations: first the \
             table rename alone (`renamed_from` on the model, nothing else changed) with \
             `qvdiff migrate --online`, then the other changes with a second `qvdiff migrate \
             --online`",
            to = table.to,
            from = table.from,
        ),
    })
}

impl RenamedTable {
    fn create_view(&self) -> Step {
        Step::plain(create_table_view_sql(&self.from, &self.to))
    }

    fn drop_view(&self) -> Step {
        Step::plain(drop_table_view_sql(&self.from))
    }

    /// The view as a Schema holds it between the two revisions (see `replay::views`).
    fn view_object(&self) -> RawObject {
        table_view_object(&self.from, &self.to)
    }

    fn describe(&self) -> String {
        format!(
            "table {} renamed to {}: {} stays, as a view over {}, until the contract",
            self.from, self.to, self.from, self.to
        )
    }
}
