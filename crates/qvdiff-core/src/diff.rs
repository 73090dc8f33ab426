//! The differ: `diff(from, to, renames) -> Vec<Change>`.
//!
//! Both schemas are compared without their migration hints ([`Schema::without_hints`]) and
//! normalized, so constraint order and column order never produce a change. Renames are not
//! guessed: they come only from the [`Renames`] argument, which the caller builds from the wanted
//! schema's hints ([`Renames::from_hints`]) plus the renames a user confirmed (see
//! [`rename_candidates`]). Views and triggers ([`Schema::views`], [`Schema::triggers`]) are not
//! modeled and never produce a change.
//!
//! # Order of the changes
//!
//! The output is deterministic and valid to apply in order:
//!
//! 1. `RenameTable`, sorted by old name.
//! 2. `CreateTable`, referenced tables before the tables whose foreign keys point at them (ties
//!    and cycles broken by name). A created table carries its indexes, uniques, foreign keys and
//!    checks; no separate `Add*` change is emitted for them.
//! 3. One block per table that exists on both sides, the blocks in the same dependency order over
//!    the wanted schema's foreign keys (so a table gains a unique column before another table
//!    references it; with no foreign keys between them, simply by name). Within a block:
//!    `DropIndex`, `DropUnique`, `DropForeignKey`, `DropCheck`, `RenameColumn`, `DropColumn`,
//!    `AddColumn`, `AlterColumn`, `SetPrimaryKey`, `AddUnique`, `AddIndex`, `AddForeignKey`,
//!    `AddCheck`. Column changes follow the column order of the table (the wanted one for
//!    renames, adds and alters, the old one for drops); constraints are sorted.
//! 4. `DropTable`, referencing tables before the tables they reference (the reverse of the
//!    creation order, over the old schema's foreign keys). Dropping tables last lets the blocks
//!    above first remove foreign keys that point at them.
//!
//! Names inside a change are the names that exist in the database at the moment the change is
//! applied in this order: `Drop*` constraints of a kept table carry the constraint exactly as it
//! was in `from` (old column names; they run before column renames), while `SetPrimaryKey::from`
//! and `AlterColumn::from` already use the new column names.

use crate::change::{Change, Renames};
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Schema, Table, Unique,
};
use std::collections::{BTreeMap, BTreeSet};

impl Renames {
    /// Renames implied by the `renamed_from` hints of the wanted schema `to`, tables and columns.
    ///
    /// Column renames are keyed by the table's name in `to`. The result is sorted, so the same
    /// schema always gives the same `Renames`.
    pub fn from_hints(to: &Schema) -> Renames {
        let mut renames = Renames::default();
        for table in &to.tables {
            if let Some(old) = &table.renamed_from {
                renames.tables.push((old.clone(), table.name.clone()));
            }
            for column in &table.columns {
                if let Some(old) = &column.renamed_from {
                    renames
                        .columns
                        .push((table.name.clone(), old.clone(), column.name.clone()));
                }
            }
        }
        renames.tables.sort();
        renames.tables.dedup();
        renames.columns.sort();
        renames.columns.dedup();
        renames
    }

    /// The same renames for the opposite direction (a migration's `down`): old and new names
    /// swap, and column renames are re-keyed by the table's name in the new schema *of that
    /// direction*, i.e. the table's old name when the table itself was renamed.
    pub fn inverted(&self) -> Renames {
        let new_to_old: BTreeMap<&str, &str> = self
            .tables
            .iter()
            .map(|(old, new)| (new.as_str(), old.as_str()))
            .collect();
        let mut inverted = Renames {
            tables: self
                .tables
                .iter()
                .map(|(old, new)| (new.clone(), old.clone()))
                .collect(),
            columns: self
                .columns
                .iter()
                .map(|(table, old, new)| {
                    let table = new_to_old.get(table.as_str()).copied().unwrap_or(table);
                    (table.to_string(), new.clone(), old.clone())
                })
                .collect(),
            indexes: self
                .indexes
                .iter()
                .map(|(old, new)| (new.clone(), old.clone()))
                .collect(),
        };
        inverted.indexes.sort();
        inverted.tables.sort();
        inverted.columns.sort();
        inverted
    }
}

/// A dropped column and an added column of the same logical type in one table, not already
/// covered by a rename: the pair the CLI asks about ("Did you rename items.url to
/// items.listing_link?"). A confirmed candidate goes into [`Renames::columns`] as
/// `(table, from, to)` and the diff is run again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RenameCandidate {
    /// The table's name in the wanted schema.
    pub table: String,
    /// The dropped column's name.
    pub from: String,
    /// The added column's name.
    pub to: String,
}

/// Every `(dropped, added)` column pair of the same logical type within one table.
///
/// Pairs come in the order of the changes (each drop with each add after it), so the list is
/// deterministic. A column may appear in several candidates; once a user confirms one, the caller
/// should skip the others that mention either of its columns.
pub fn rename_candidates(changes: &[Change]) -> Vec<RenameCandidate> {
    let mut candidates = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let Change::DropColumn {
            table,
            column: dropped,
        } = change
        else {
            continue;
        };
        for later in &changes[i + 1..] {
            if let Change::AddColumn {
                table: added_table,
                column: added,
            } = later
            {
                if added_table == table && added.ty == dropped.ty {
                    candidates.push(RenameCandidate {
                        table: table.clone(),
                        from: dropped.name.clone(),
                        to: added.name.clone(),
                    });
                }
            }
        }
    }
    candidates
}

/// Every `(dropped table, created table)` pair with the same columns (names and logical types):
/// a table renamed could look like this, and is asked about like a column. In the order of
/// the changes.
pub fn table_rename_candidates(changes: &[Change]) -> Vec<(String, String)> {
    let shape = |table: &crate::schema::Table| {
        let mut columns: Vec<(String, crate::schema::ColumnType)> = table
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        columns
    };
    let mut candidates = Vec::new();
    for change in changes {
        let Change::DropTable { table: dropped } = change else {
            continue;
        };
        for other in changes {
            if let Change::CreateTable { table: created } = other {
                if shape(dropped) == shape(created) {
                    candidates.push((dropped.name.clone(), created.name.clone()));
                }
            }
        }
    }
    candidates
}

/// A dropped table and a created one that look like one table renamed while its columns changed
/// too (so not a [`table_rename_candidates`] pair): the same primary key, and at least half of
/// the dropped table's columns (name and type) in the created one. For each dropped table, the
/// created table sharing the most columns: `(dropped, created, shared, dropped's columns)`.
pub fn similar_dropped_and_created(changes: &[Change]) -> Vec<(String, String, usize, usize)> {
    let mut similar = Vec::new();
    for change in changes {
        let Change::DropTable { table: dropped } = change else {
            continue;
        };
        let best = changes
            .iter()
            .filter_map(|other| match other {
                Change::CreateTable { table: created }
                    if created.primary_key == dropped.primary_key =>
                {
                    let shared = dropped
                        .columns
                        .iter()
                        .filter(|c| {
                            created
                                .columns
                                .iter()
                                .any(|n| n.name == c.name && n.ty == c.ty)
                        })
                        .count();
                    Some((created, shared))
                }
                _ => None,
            })
            .filter(|(_, shared)| *shared > 0 && shared * 2 >= dropped.columns.len())
            .max_by_key(|(_, shared)| *shared);
        if let Some((created, shared)) = best {
            similar.push((
                dropped.name.clone(),
                created.name.clone(),
                shared,
                dropped.columns.len(),
            ));
        }
    }
    similar
}

/// The changes that take a database from `from` to `to`, in an order valid to apply (see the
/// module documentation).
///
/// Hints inside the schemas never make a change; renames come only from `renames`, and the
/// `backfill` of a wanted column travels in its `AddColumn` / `AlterColumn` change. A rename whose old
/// name does not exist in `from` (already applied), whose new name does not exist in `to`, or
/// whose names exist on both sides is ignored, so a `renamed_from` left in a model after its
/// migration is harmless.
pub fn diff(from: &Schema, to: &Schema, renames: &Renames) -> Vec<Change> {
    let mut changes = diff_without_hints(from, to, renames);
    carry_backfills(to, &mut changes);
    carry_enum_renames_back(from, &mut changes);
    changes
}

/// The value the way back (a migration's `down`) gives existing rows in a NOT NULL column it
/// re-creates when the column has no default: the type's zero (`0`, `0.0`, `FALSE`, `''`, `X''`).
///
/// The column's values were dropped by `up` (a DESTRUCTIVE step the file says so for), so no
/// value can be right; but without one, SQLite cannot re-add a NOT NULL column to a table holding
/// rows, and the migration could not be planned at all — removing a required field would be
/// impossible. A zero of the right type keeps the restored table valid for the application.
pub fn restore_placeholder(ty: &ColumnType) -> DefaultValue {
    match ty {
        ColumnType::Integer { .. } | ColumnType::Decimal { .. } => DefaultValue::Integer(0),
        ColumnType::Float | ColumnType::Float32 => DefaultValue::Float(0.0),
        ColumnType::Bool => DefaultValue::Bool(false),
        ColumnType::Blob => DefaultValue::Sql("X''".to_string()),
        // The empty list, in PostgreSQL's array text.
        ColumnType::Array { .. } => DefaultValue::Text("{}".to_string()),
        // The first variant: any other text would break the enum's CHECK or type.
        ColumnType::Enum { values, .. } if !values.is_empty() => {
            DefaultValue::Text(values[0].clone())
        }
        ColumnType::Enum { .. }
        | ColumnType::Text { .. }
        | ColumnType::DateTime
        | ColumnType::DateTimeTz
        | ColumnType::Date
        | ColumnType::Time
        | ColumnType::Uuid
        | ColumnType::Json
        | ColumnType::Custom { .. } => DefaultValue::Text(String::new()),
    }
}

/// Prepares the target of a way back: every column that `changes` (the `diff` from the wanted
/// schema back to the previous one) re-adds, and that existing rows could not otherwise get,
/// receives a `backfill` in `target`, so the dialect can plan the `down` of a migration that
/// drops a column:
///
/// - a column in the key, a unique constraint or a unique index, when it is NOT NULL or has a
///   default: the row's `rowid`, a value distinct in every row (one zero or one default in every
///   row would break the restored constraint; property seed 9825);
/// - any other NOT NULL column without default: [`restore_placeholder`] (property seed 81:
///   without it the way back could not be planned, so a required field could not be removed).
///
/// Returns `table.column` of each column filled, for the console. Only re-added columns are
/// filled: a column the way back makes NOT NULL again keeps its rows' values, and a NULL written
/// meanwhile is refused by the runner with counts, not invented away.
pub fn fill_restored_columns(target: &mut Schema, changes: &[Change]) -> Vec<String> {
    let mut filled = Vec::new();
    for change in changes {
        let Change::AddColumn { table, column } = change else {
            continue;
        };
        let Some(target_table) = target.tables.iter_mut().find(|t| &t.name == table) else {
            continue;
        };
        let name = &column.name;
        let keyed = target_table.primary_key.contains(name)
            || target_table
                .uniques
                .iter()
                .any(|u| u.columns.contains(name))
            || target_table
                .indexes
                .iter()
                .any(|i| i.unique && i.columns.contains(name));
        let Some(wanted) = target_table.columns.iter_mut().find(|c| &c.name == name) else {
            continue;
        };
        if wanted.backfill.is_some() {
            continue;
        }
        let fill = if keyed && (!wanted.nullable || wanted.default.is_some()) {
            DefaultValue::Sql("rowid".to_string())
        } else if !wanted.nullable && wanted.default.is_none() {
            restore_placeholder(&wanted.ty)
        } else {
            continue;
        };
        wanted.backfill = Some(fill);
        filled.push(format!("{table}.{name}"));
    }
    filled
}

/// Puts the wanted column's `backfill` hint back into the changes that give existing rows a
/// value (`AddColumn::column`, `AlterColumn::to`). Comparing ignores hints, but whoever consumes
/// the changes (a planner, a prompt asking for a missing value) must see that the model already
/// says which value the existing rows get, or it would ask for one, or refuse, needlessly.
fn carry_backfills(to: &Schema, changes: &mut [Change]) {
    for change in changes {
        let (table, column) = match change {
            Change::AddColumn { table, column } => (table, column),
            Change::AlterColumn { table, to, .. } => (table, to),
            _ => continue,
        };
        if let Some(wanted) = to.table(table).and_then(|t| t.column(&column.name)) {
            column.backfill.clone_from(&wanted.backfill);
            column.using.clone_from(&wanted.using);
            // An enum's variant renames say how the planner carries rows over.
            if wanted.ty.without_hints() == column.ty {
                column.ty.clone_from(&wanted.ty);
            }
        }
    }
}

/// On the way back (`from` is the wanted schema, with its hints), an enum column whose variants
/// the way up renamed gets the renames reversed, so rows take their old values again.
fn carry_enum_renames_back(from: &Schema, changes: &mut [Change]) {
    for change in changes {
        let Change::AlterColumn { table, to, .. } = change else {
            continue;
        };
        let ColumnType::Enum {
            values, renames, ..
        } = &mut to.ty
        else {
            continue;
        };
        if !renames.is_empty() {
            continue;
        }
        let Some(ColumnType::Enum {
            renames: forward, ..
        }) = from
            .table(table)
            .and_then(|t| t.column(&to.name))
            .map(|c| &c.ty)
        else {
            continue;
        };
        *renames = forward
            .iter()
            .filter(|r| values.contains(&r.from))
            .map(|r| crate::schema::VariantRename {
                from: r.to.clone(),
                to: r.from.clone(),
            })
            .collect();
    }
}

/// `schema` without hints, normalized: borrowed when it already is (most callers pass such
/// schemas, and copying two 1000-table schemas per diff was a tenth of a `migrate`).
fn hint_free_normalized(schema: &Schema) -> std::borrow::Cow<'_, Schema> {
    if schema.is_hint_free_and_normalized() {
        std::borrow::Cow::Borrowed(schema)
    } else {
        std::borrow::Cow::Owned(schema.without_hints().normalized())
    }
}

fn diff_without_hints(from: &Schema, to: &Schema, renames: &Renames) -> Vec<Change> {
    let from = hint_free_normalized(from);
    let to = hint_free_normalized(to);

    let table_renames = effective_table_renames(&from, &to, renames);
    // Tables on both sides: name in `to` -> the table as it is in `from`.
    let mut kept: BTreeMap<&str, &Table> = BTreeMap::new();
    for to_table in &to.tables {
        let old_name = table_renames
            .new_to_old
            .get(to_table.name.as_str())
            .map(String::as_str)
            .unwrap_or(to_table.name.as_str());
        if let Some(from_table) = from.table(old_name) {
            kept.insert(to_table.name.as_str(), from_table);
        }
    }
    let kept_old_names: BTreeSet<&str> = kept.values().map(|t| t.name.as_str()).collect();

    // Column renames of every kept table, keyed by the table's old name (foreign keys of other
    // tables need them to translate the columns they reference).
    let mut column_maps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (new_name, from_table) in &kept {
        if let Some(to_table) = to.table(new_name) {
            let map = effective_column_renames(from_table, to_table, renames);
            if !map.is_empty() {
                column_maps.insert(from_table.name.clone(), map);
            }
        }
    }
    let translator = Translator {
        tables: &table_renames.old_to_new,
        columns: &column_maps,
    };

    let mut changes = Vec::new();

    for (old, new) in &table_renames.old_to_new {
        changes.push(Change::RenameTable {
            from: old.clone(),
            to: new.clone(),
        });
    }

    let created: Vec<&Table> = to
        .tables
        .iter()
        .filter(|t| !kept.contains_key(t.name.as_str()))
        .collect();
    for name in names(foreign_key_order(&created)) {
        if let Some(table) = to.table(&name) {
            changes.push(Change::CreateTable {
                table: table.clone(),
            });
        }
    }

    let kept_to_tables: Vec<&Table> = to
        .tables
        .iter()
        .filter(|t| kept.contains_key(t.name.as_str()))
        .collect();
    for name in names(foreign_key_order(&kept_to_tables)) {
        if let (Some(to_table), Some(from_table)) = (to.table(&name), kept.get(name.as_str())) {
            diff_table(from_table, to_table, &translator, &mut changes);
        }
    }

    let dropped: Vec<&Table> = from
        .tables
        .iter()
        .filter(|t| !kept_old_names.contains(t.name.as_str()))
        .collect();
    for name in names(foreign_key_order(&dropped)).into_iter().rev() {
        if let Some(table) = from.table(&name) {
            changes.push(Change::DropTable {
                table: table.clone(),
            });
        }
    }

    changes
}

/// Table renames that actually apply between two schemas, both ways.
struct TableRenames {
    old_to_new: BTreeMap<String, String>,
    new_to_old: BTreeMap<String, String>,
}

fn effective_table_renames(from: &Schema, to: &Schema, renames: &Renames) -> TableRenames {
    let mut applied = TableRenames {
        old_to_new: BTreeMap::new(),
        new_to_old: BTreeMap::new(),
    };
    for (old, new) in &renames.tables {
        let applies = old != new
            && from.table(old).is_some()
            && to.table(new).is_some()
            && from.table(new).is_none()
            && to.table(old).is_none()
            && !applied.old_to_new.contains_key(old)
            && !applied.new_to_old.contains_key(new);
        if applies {
            applied.old_to_new.insert(old.clone(), new.clone());
            applied.new_to_old.insert(new.clone(), old.clone());
        }
    }
    applied
}

/// Column renames (old name -> new name) that apply between the two versions of one table.
fn effective_column_renames(
    from_table: &Table,
    to_table: &Table,
    renames: &Renames,
) -> BTreeMap<String, String> {
    let mut old_to_new = BTreeMap::new();
    let mut taken_new = BTreeSet::new();
    for (table, old, new) in &renames.columns {
        let applies = table == &to_table.name
            && old != new
            && from_table.column(old).is_some()
            && to_table.column(new).is_some()
            && from_table.column(new).is_none()
            && to_table.column(old).is_none()
            && !old_to_new.contains_key(old)
            && !taken_new.contains(new);
        if applies {
            old_to_new.insert(old.clone(), new.clone());
            taken_new.insert(new.clone());
        }
    }
    old_to_new
}

/// Rewrites names of the old schema into the names they have in the new one, so constraints of
/// both sides can be compared with `==`.
struct Translator<'a> {
    /// Old table name -> new table name.
    tables: &'a BTreeMap<String, String>,
    /// Old table name -> (old column name -> new column name).
    columns: &'a BTreeMap<String, BTreeMap<String, String>>,
}

impl Translator<'_> {
    fn table(&self, old_table: &str) -> String {
        self.tables
            .get(old_table)
            .cloned()
            .unwrap_or_else(|| old_table.to_string())
    }

    fn column(&self, old_table: &str, column: &str) -> String {
        self.columns
            .get(old_table)
            .and_then(|map| map.get(column))
            .cloned()
            .unwrap_or_else(|| column.to_string())
    }

    fn columns(&self, old_table: &str, columns: &[String]) -> Vec<String> {
        columns.iter().map(|c| self.column(old_table, c)).collect()
    }

    fn unique(&self, old_table: &str, unique: &Unique) -> Unique {
        Unique {
            name: unique.name.clone(),
            columns: self.columns(old_table, &unique.columns),
        }
    }

    fn index(&self, old_table: &str, index: &Index) -> Index {
        Index {
            name: index.name.clone(),
            columns: self.columns(old_table, &index.columns),
            unique: index.unique,
            predicate: index.predicate.clone(),
        }
    }

    fn foreign_key(&self, old_table: &str, fk: &ForeignKey) -> ForeignKey {
        ForeignKey {
            columns: self.columns(old_table, &fk.columns),
            ref_table: self.table(&fk.ref_table),
            ref_columns: self.columns(&fk.ref_table, &fk.ref_columns),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
        }
    }
}

/// Items of `old` (translated by `translate`) missing from `new`, and items of `new` missing from
/// the translated `old`. Dropped items are returned as they were (untranslated).
fn set_difference<T: Clone + PartialEq>(
    old: &[T],
    new: &[T],
    translate: impl Fn(&T) -> T,
) -> (Vec<T>, Vec<T>) {
    let translated: Vec<T> = old.iter().map(&translate).collect();
    let dropped = old
        .iter()
        .zip(&translated)
        .filter(|(_, t)| !new.contains(t))
        .map(|(original, _)| original.clone())
        .collect();
    let added = new
        .iter()
        .filter(|n| !translated.contains(n))
        .cloned()
        .collect();
    (dropped, added)
}

/// Appends the block of changes for one table that exists on both sides.
fn diff_table(from: &Table, to: &Table, tr: &Translator<'_>, changes: &mut Vec<Change>) {
    // Most tables of a big schema are untouched: with nothing renamed anywhere, an equal table
    // has no changes, and comparing is far cheaper than building the sets below.
    if tr.tables.is_empty() && tr.columns.is_empty() && from == to {
        return;
    }
    let old = from.name.as_str();
    let table = || to.name.clone();

    let (drop_indexes, add_indexes) =
        set_difference(&from.indexes, &to.indexes, |i| tr.index(old, i));
    let (drop_uniques, add_uniques) =
        set_difference(&from.uniques, &to.uniques, |u| tr.unique(old, u));
    let (drop_fks, add_fks) = set_difference(&from.foreign_keys, &to.foreign_keys, |f| {
        tr.foreign_key(old, f)
    });
    let (drop_checks, add_checks) = set_difference(&from.checks, &to.checks, Check::clone);

    changes.extend(drop_indexes.into_iter().map(|index| Change::DropIndex {
        table: table(),
        index,
    }));
    changes.extend(drop_uniques.into_iter().map(|unique| Change::DropUnique {
        table: table(),
        unique,
    }));
    changes.extend(
        drop_fks
            .into_iter()
            .map(|foreign_key| Change::DropForeignKey {
                table: table(),
                foreign_key,
            }),
    );
    changes.extend(drop_checks.into_iter().map(|check| Change::DropCheck {
        table: table(),
        check,
    }));

    // New column name -> the old column it continues.
    let mut matched: BTreeMap<&str, &Column> = BTreeMap::new();
    for from_col in &from.columns {
        let new_name = tr.column(old, &from_col.name);
        if let Some(to_col) = to.column(&new_name) {
            matched.insert(to_col.name.as_str(), from_col);
        }
    }

    for to_col in &to.columns {
        if let Some(from_col) = matched.get(to_col.name.as_str()) {
            if from_col.name != to_col.name {
                changes.push(Change::RenameColumn {
                    table: table(),
                    from: from_col.name.clone(),
                    to: to_col.name.clone(),
                });
            }
        }
    }
    for from_col in &from.columns {
        let new_name = tr.column(old, &from_col.name);
        if !matched.contains_key(new_name.as_str()) {
            changes.push(Change::DropColumn {
                table: table(),
                column: from_col.clone(),
            });
        }
    }
    for to_col in &to.columns {
        if !matched.contains_key(to_col.name.as_str()) {
            changes.push(Change::AddColumn {
                table: table(),
                column: to_col.clone(),
            });
        }
    }
    for to_col in &to.columns {
        if let Some(from_col) = matched.get(to_col.name.as_str()) {
            let differs = from_col.ty != to_col.ty
                || from_col.nullable != to_col.nullable
                || from_col.default != to_col.default
                || from_col.autoincrement != to_col.autoincrement;
            if differs {
                let mut before = (*from_col).clone();
                before.name = to_col.name.clone();
                changes.push(Change::AlterColumn {
                    table: table(),
                    from: before,
                    to: to_col.clone(),
                });
            }
        }
    }

    let old_key = tr.columns(old, &from.primary_key);
    if old_key != to.primary_key {
        changes.push(Change::SetPrimaryKey {
            table: table(),
            from: old_key,
            to: to.primary_key.clone(),
        });
    }

    changes.extend(add_uniques.into_iter().map(|unique| Change::AddUnique {
        table: table(),
        unique,
    }));
    changes.extend(add_indexes.into_iter().map(|index| Change::AddIndex {
        table: table(),
        index,
    }));
    changes.extend(
        add_fks
            .into_iter()
            .map(|foreign_key| Change::AddForeignKey {
                table: table(),
                foreign_key,
            }),
    );
    changes.extend(add_checks.into_iter().map(|check| Change::AddCheck {
        table: table(),
        check,
    }));
    if from.comment != to.comment {
        changes.push(Change::SetComment {
            table: table(),
            column: None,
            from: from.comment.clone(),
            to: to.comment.clone(),
        });
    }
    for to_col in &to.columns {
        if let Some(from_col) = matched.get(to_col.name.as_str()) {
            if from_col.comment != to_col.comment {
                changes.push(Change::SetComment {
                    table: table(),
                    column: Some(to_col.name.clone()),
                    from: from_col.comment.clone(),
                    to: to_col.comment.clone(),
                });
            }
        }
    }
}

/// `tables`, each after the tables (of the same list) its foreign keys reference; ties by name.
/// The one order both the differ and the planners create tables in (and drop them in, reversed).
/// A cycle of foreign keys cannot be ordered: it is broken at the smallest name, which keeps the
/// output deterministic; a planner adds the keys of a cycle after its tables. A name listed twice
/// stands once, as its last entry.
pub fn foreign_key_order<'t>(tables: &[&'t Table]) -> Vec<&'t Table> {
    // Kahn's algorithm with the ready tables in a sorted set: each step takes the smallest ready
    // name, exactly as a rescan of every name would, in O(n log n) instead of O(n²) (a chain of
    // a thousand tables, each referencing the previous one, made the rescan dominate `check`).
    let by_name: BTreeMap<&str, &'t Table> = tables.iter().map(|t| (t.name.as_str(), *t)).collect();
    let names: BTreeSet<&str> = by_name.keys().copied().collect();
    // Table -> how many distinct tables of the list it still waits for; and the reverse edges.
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for table in tables {
        let deps: BTreeSet<&str> = table
            .foreign_keys
            .iter()
            .map(|fk| fk.ref_table.as_str())
            .filter(|r| *r != table.name && names.contains(r))
            .collect();
        for dep in &deps {
            dependents.entry(dep).or_default().push(table.name.as_str());
        }
        // A name listed twice keeps its last entry, as the map it replaces did.
        waiting.insert(table.name.as_str(), deps.len());
    }
    let mut remaining: BTreeSet<&str> = names.clone();
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(name, _)| *name)
        .collect();
    let mut order = Vec::with_capacity(names.len());
    while let Some(next) = ready
        .pop_first()
        // No table is ready: a cycle. Take the smallest remaining name to break it.
        .or_else(|| remaining.first().copied())
    {
        if !remaining.remove(next) {
            continue; // already placed when a cycle was broken at it
        }
        order.push(by_name[next]);
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

/// The names of `tables`, in order.
fn names(tables: Vec<&Table>) -> Vec<String> {
    tables.into_iter().map(|t| t.name.clone()).collect()
}

impl ColumnType {
    /// The logical type as people read it in messages: `INTEGER`, `INT32`, `FLOAT`, `FLOAT32`, `TEXT`,
    /// `TEXT(200)`, `BOOL`, `DATETIME`, `DATETIMETZ`, `DATE`, `TIME`, `UUID`, `JSON`, `DECIMAL(10, 2)`, `BLOB`,
    /// or a custom type's SQL verbatim. Dialect-neutral on purpose.
    pub fn logical_name(&self) -> String {
        match self {
            ColumnType::Integer { bits } if *bits == 0 || *bits >= 64 => "INTEGER".to_string(),
            ColumnType::Integer { bits } => format!("INT{bits}"),
            ColumnType::Float => "FLOAT".to_string(),
            ColumnType::Float32 => "FLOAT32".to_string(),
            ColumnType::Text { max_length: None } => "TEXT".to_string(),
            ColumnType::Text {
                max_length: Some(n),
            } => format!("TEXT({n})"),
            ColumnType::Bool => "BOOL".to_string(),
            ColumnType::DateTime => "DATETIME".to_string(),
            ColumnType::DateTimeTz => "DATETIMETZ".to_string(),
            ColumnType::Date => "DATE".to_string(),
            ColumnType::Time => "TIME".to_string(),
            ColumnType::Uuid => "UUID".to_string(),
            ColumnType::Json => "JSON".to_string(),
            ColumnType::Decimal { precision, scale } => match (precision, scale) {
                (None, None) => "DECIMAL".to_string(),
                (Some(p), None) => format!("DECIMAL({p})"),
                (Some(p), Some(s)) => format!("DECIMAL({p}, {s})"),
                (None, Some(s)) => format!("DECIMAL(?, {s})"),
            },
            ColumnType::Blob => "BLOB".to_string(),
            ColumnType::Array { element } => format!("{}[]", element.logical_name()),
            ColumnType::Custom { sql } => sql.clone(),
            ColumnType::Enum { name, values, .. } => {
                let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
                format!("ENUM {name}({})", quoted.join(", "))
            }
        }
    }
}

/// Decimal digits needed for every value of a signed integer of this width.
fn integer_digits(bits: u8) -> u8 {
    match bits {
        0 => 19,
        1..=8 => 3,
        9..=16 => 5,
        17..=32 => 10,
        _ => 19,
    }
}

impl ColumnType {
    /// Whether every value of this type converts to `to` without loss (`INTEGER -> TEXT` does,
    /// `FLOAT -> INTEGER` and 64-bit `INTEGER -> FLOAT` do not). The one rule both the console
    /// summary ([`Change::destructive_reason`]) and the dialects' `-- DESTRUCTIVE` comments use,
    /// so a migration file and `migrate`'s output never disagree about what can lose data.
    pub fn converts_losslessly_to(&self, to: &ColumnType) -> bool {
        conversion_is_lossless(self, to)
    }
}

/// Whether every value of type `from` converts to `to` without loss. Anything not known to be
/// safe counts as lossy: a reviewer should rather read one warning too many than lose data.
fn conversion_is_lossless(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType as T;
    if from == to {
        return true;
    }
    match (from, to) {
        (T::Integer { bits: a }, T::Integer { bits: b }) => {
            // Width 0 means "unknown/native", treated as the widest.
            let width = |w: u8| if w == 0 { 64 } else { w };
            width(*b) >= width(*a)
        }
        // A double holds every integer up to 2^53 exactly.
        (T::Integer { bits }, T::Float) => *bits != 0 && *bits <= 32,
        // A single holds every integer up to 2^24 exactly, and widens to a double exactly.
        (T::Integer { bits }, T::Float32) => *bits != 0 && *bits <= 16,
        (T::Float32, T::Float) => true,
        (T::Integer { bits }, T::Decimal { precision, scale }) => match precision {
            None => true,
            Some(p) => p.saturating_sub(scale.unwrap_or(0)) >= integer_digits(*bits),
        },
        (T::Bool, T::Integer { .. }) => true,
        (
            T::Decimal {
                precision: p1,
                scale: s1,
            },
            T::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => match (p1, p2) {
            (_, None) => s2.is_none() || s2.unwrap_or(0) >= s1.unwrap_or(0),
            (None, Some(_)) => false,
            (Some(p1), Some(p2)) => {
                let (s1, s2) = (s1.unwrap_or(0), s2.unwrap_or(0));
                s2 >= s1 && p2.saturating_sub(s2) >= p1.saturating_sub(s1)
            }
        },
        (T::Text { max_length: a }, T::Text { max_length: b }) => match (a, b) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => b >= a,
        },
        // Every value of these has an exact text form.
        (
            T::Integer { .. }
            | T::Float
            | T::Float32
            | T::Bool
            | T::DateTime
            | T::DateTimeTz
            | T::Date
            | T::Time
            | T::Uuid
            | T::Json
            | T::Decimal { .. },
            T::Text { max_length: None },
        ) => true,
        (
            T::Uuid,
            T::Text {
                max_length: Some(n),
            },
        ) => *n >= 36,
        (T::Date, T::DateTime | T::DateTimeTz) => true,
        // A wall-clock reading becomes the instant it names in UTC, and back: nothing is lost.
        (T::DateTime, T::DateTimeTz) | (T::DateTimeTz, T::DateTime) => true,
        (T::Text { .. } | T::Json | T::Uuid, T::Blob) => true,
        (T::Enum { .. }, T::Text { max_length: None }) => true,
        (T::Enum { .. }, T::Enum { .. }) => {
            crate::schema::EnumChange::between(from, to).is_some_and(|c| c.removed.is_empty())
        }
        _ => false,
    }
}

/// `enum task_status: add 'blocked', rename 'finished' -> 'done', remove 'doing'`.
pub fn describe_enum_change(ty: &ColumnType, change: &crate::schema::EnumChange) -> String {
    let name = match ty {
        ColumnType::Enum { name, .. } => name.as_str(),
        _ => "",
    };
    let mut parts = Vec::new();
    for value in &change.added {
        parts.push(format!("add '{value}'"));
    }
    for (old, new) in &change.renamed {
        parts.push(format!("rename '{old}' -> '{new}'"));
    }
    for value in &change.removed {
        parts.push(format!("remove '{value}'"));
    }
    if parts.is_empty() {
        parts.push("reorder values".to_string());
    }
    format!("enum {name}: {}", parts.join(", "))
}

fn default_sql(default: &Option<DefaultValue>) -> String {
    match default {
        None => "none".to_string(),
        Some(DefaultValue::Integer(i)) => i.to_string(),
        Some(DefaultValue::Float(f)) => f.to_string(),
        Some(DefaultValue::Bool(b)) => b.to_string(),
        Some(DefaultValue::Text(s)) => format!("'{}'", s.replace('\'', "''")),
        Some(DefaultValue::Sql(s)) => s.clone(),
        Some(DefaultValue::PerDialect(sql)) => {
            format!("{} (SQLite) / {} (PostgreSQL)", sql.sqlite, sql.postgres)
        }
    }
}

/// How the changes of a column's attributes are spelled: in a change's description
/// (`default 1 -> 2`) or in SQL's words (`DEFAULT 1 -> 2`, a file's summary).
pub(crate) struct AttributeWords {
    /// Names a change of the default.
    pub(crate) default: &'static str,
    /// Names a change of autoincrement.
    pub(crate) autoincrement: &'static str,
    /// A default value, or its absence.
    pub(crate) value: fn(&Option<DefaultValue>) -> String,
}

/// The words of [`Change::describe`].
const DESCRIPTION_WORDS: AttributeWords = AttributeWords {
    default: "default",
    autoincrement: "autoincrement",
    value: default_sql,
};

/// What changes of a column besides its type, each `old -> new`: `NULL -> NOT NULL`,
/// `default 1 -> 2`, `autoincrement on -> off`, spelled with `words`.
pub(crate) fn attribute_changes(from: &Column, to: &Column, words: &AttributeWords) -> Vec<String> {
    let mut parts = Vec::new();
    if from.nullable != to.nullable {
        let null = |n: bool| if n { "NULL" } else { "NOT NULL" };
        parts.push(format!("{} -> {}", null(from.nullable), null(to.nullable)));
    }
    if from.default != to.default {
        let value = words.value;
        let (old, new) = (value(&from.default), value(&to.default));
        parts.push(format!("{} {old} -> {new}", words.default));
    }
    if from.autoincrement != to.autoincrement {
        let on = |a: bool| if a { "on" } else { "off" };
        let (old, new) = (on(from.autoincrement), on(to.autoincrement));
        parts.push(format!("{} {old} -> {new}", words.autoincrement));
    }
    parts
}

/// What a comment is on: `table` or `table.column`.
pub(crate) fn comment_target(table: &str, column: Option<&str>) -> String {
    match column {
        Some(column) => format!("{table}.{column}"),
        None => table.to_string(),
    }
}

/// `unique index ix_items_title on items (title) WHERE …`.
pub(crate) fn index_description(table: &str, index: &Index) -> String {
    format!(
        "{}index {} on {table} {}{}",
        if index.unique { "unique " } else { "" },
        index.name,
        column_list(&index.columns),
        index.where_suffix()
    )
}

/// `(a, b)`.
pub(crate) fn column_list(columns: &[String]) -> String {
    format!("({})", columns.join(", "))
}

/// `(a) -> parent (id) ON DELETE CASCADE`.
pub(crate) fn fk_description(fk: &ForeignKey) -> String {
    let mut text = format!(
        "{} -> {} {}",
        column_list(&fk.columns),
        fk.ref_table,
        column_list(&fk.ref_columns)
    );
    if fk.on_delete != FkAction::NoAction {
        text.push_str(&format!(" ON DELETE {}", fk.on_delete.sql()));
    }
    if fk.on_update != FkAction::NoAction {
        text.push_str(&format!(" ON UPDATE {}", fk.on_update.sql()));
    }
    text
}

fn unique_description(unique: &Unique) -> String {
    match &unique.name {
        Some(name) => format!("{name} {}", column_list(&unique.columns)),
        None => column_list(&unique.columns),
    }
}

impl Change {
    /// One line for people: `add column items.notes`, `drop column items.url (DESTRUCTIVE)`,
    /// `alter column items.qty: INTEGER -> FLOAT (DESTRUCTIVE)`. Types use
    /// [`ColumnType::logical_name`]; where a dialect is known, [`Change::describe_in`] speaks
    /// its words.
    pub fn describe(&self) -> String {
        self.describe_in(&ColumnType::logical_name)
    }

    /// [`Change::describe`] with types named by `type_name` (a dialect's: `integer -> bigint`).
    pub fn describe_in(&self, type_name: &dyn Fn(&ColumnType) -> String) -> String {
        let text = match self {
            Change::CreateTable { table } => format!("create table {}", table.name),
            Change::DropTable { table } => format!("drop table {}", table.name),
            Change::RenameTable { from, to } => format!("rename table {from} to {to}"),
            Change::AddColumn { table, column } => {
                format!("add column {table}.{}", column.name)
            }
            Change::DropColumn { table, column } => {
                format!("drop column {table}.{}", column.name)
            }
            Change::RenameColumn { table, from, to } => {
                format!("rename column {table}.{from} to {table}.{to}")
            }
            Change::AlterColumn { table, from, to } => {
                let mut parts = Vec::new();
                if let Some(change) = crate::schema::EnumChange::between(&from.ty, &to.ty)
                    .filter(|_| from.ty.enum_values() != to.ty.enum_values())
                {
                    parts.push(describe_enum_change(&to.ty, &change));
                } else if from.ty != to.ty {
                    parts.push(format!("{} -> {}", type_name(&from.ty), type_name(&to.ty)));
                }
                parts.extend(attribute_changes(from, to, &DESCRIPTION_WORDS));
                format!("alter column {table}.{}: {}", to.name, parts.join(", "))
            }
            Change::SetPrimaryKey { table, from, to } => format!(
                "change primary key of {table}: {} -> {}",
                column_list(from),
                column_list(to)
            ),
            Change::AddIndex { table, index } => format!("add {}", index_description(table, index)),
            Change::DropIndex { table, index } => {
                format!("drop index {} on {table}", index.name)
            }
            Change::AddUnique { table, unique } => {
                format!("add unique {table} {}", unique_description(unique))
            }
            Change::DropUnique { table, unique } => {
                format!("drop unique {table} {}", unique_description(unique))
            }
            Change::AddForeignKey { table, foreign_key } => {
                format!("add foreign key {table} {}", fk_description(foreign_key))
            }
            Change::DropForeignKey { table, foreign_key } => {
                format!("drop foreign key {table} {}", fk_description(foreign_key))
            }
            Change::AddCheck { table, check } => {
                format!("add check {} on {table} ({})", check.name, check.expr)
            }
            Change::DropCheck { table, check } => {
                format!("drop check {} on {table}", check.name)
            }
            Change::SetComment {
                table,
                column,
                from,
                to,
            } => {
                let target = comment_target(table, column.as_deref());
                match (from, to) {
                    (None, Some(to)) => format!("comment on {target}: '{to}'"),
                    (Some(_), None) => format!("remove comment on {target}"),
                    (_, to) => format!(
                        "change comment on {target}: '{}'",
                        to.as_deref().unwrap_or_default()
                    ),
                }
            }
        };
        if self.is_destructive() {
            format!("{text} (DESTRUCTIVE)")
        } else {
            text
        }
    }

    /// Whether applying this change can lose data already stored: dropping a table or a column,
    /// or changing a column's type in a way not every value survives (`TEXT -> INTEGER`,
    /// narrowing `TEXT(n)`, `FLOAT -> INTEGER`, …).
    pub fn is_destructive(&self) -> bool {
        self.destructive_reason().is_some()
    }

    /// Why this change can lose data, in the words of a migration file's
    /// `-- DESTRUCTIVE: <reason>` comment (`drops data in items.notes`); `None` when it cannot.
    /// Types use [`ColumnType::logical_name`]; see [`Change::destructive_reason_in`].
    pub fn destructive_reason(&self) -> Option<String> {
        self.destructive_reason_in(&ColumnType::logical_name)
    }

    /// [`Change::destructive_reason`] with types named by `type_name` (a dialect's).
    pub fn destructive_reason_in(
        &self,
        type_name: &dyn Fn(&ColumnType) -> String,
    ) -> Option<String> {
        match self {
            Change::DropTable { table } => {
                Some(format!("drops table {} and all its rows", table.name))
            }
            Change::DropColumn { table, column } => {
                Some(format!("drops data in {table}.{}", column.name))
            }
            Change::AlterColumn { table, from, to }
                if !conversion_is_lossless(&from.ty, &to.ty) =>
            {
                if let Some(change) = crate::schema::EnumChange::between(&from.ty, &to.ty)
                    .filter(|change| !change.removed.is_empty())
                {
                    let removed: Vec<String> =
                        change.removed.iter().map(|v| format!("'{v}'")).collect();
                    return Some(format!(
                        "removes enum values {} of {table}.{}: the upgrade is refused while rows \
                         hold them",
                        removed.join(", "),
                        to.name
                    ));
                }
                Some(format!(
                    "converts {table}.{} from {} to {}; values that do not fit are lost or changed",
                    to.name,
                    type_name(&from.ty),
                    type_name(&to.ty)
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_dropped_and_a_created_table_with_the_same_columns_could_be_a_rename() {
        let table = |name: &str, cols: &[&str]| {
            crate::schema::Table::new(
                name,
                cols.iter()
                    .map(|c| crate::schema::Column::new(*c, crate::schema::ColumnType::Blob))
                    .collect(),
            )
        };
        let changes = vec![
            crate::change::Change::DropTable {
                table: table("tags", &["id", "label"]),
            },
            crate::change::Change::CreateTable {
                table: table("labels", &["label", "id"]),
            },
            crate::change::Change::CreateTable {
                table: table("other", &["id"]),
            },
        ];
        assert_eq!(
            super::table_rename_candidates(&changes),
            [("tags".to_string(), "labels".to_string())]
        );
    }

    use super::{foreign_key_order, names};
    use crate::{FkAction, ForeignKey, Table};
    use std::collections::{BTreeMap, BTreeSet};

    /// The rescanning definition `foreign_key_order` must agree with: repeatedly the smallest
    /// name whose references are all placed, else (a cycle) the smallest name left.
    fn by_rescan(tables: &[&Table]) -> Vec<String> {
        let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        let needs: BTreeMap<&str, BTreeSet<&str>> = tables
            .iter()
            .map(|t| {
                let deps = t
                    .foreign_keys
                    .iter()
                    .map(|fk| fk.ref_table.as_str())
                    .filter(|r| *r != t.name && names.contains(r))
                    .collect();
                (t.name.as_str(), deps)
            })
            .collect();
        let mut done = BTreeSet::new();
        let mut order = Vec::new();
        while done.len() < names.len() {
            let next = names
                .iter()
                .copied()
                .find(|n| !done.contains(n) && needs[n].iter().all(|d| done.contains(d)))
                .or_else(|| names.iter().copied().find(|n| !done.contains(n)));
            let Some(next) = next else { break };
            done.insert(next);
            order.push(next.to_string());
        }
        order
    }

    fn table(name: &str, refs: &[&str]) -> Table {
        let mut t = Table::new(name, Vec::new());
        t.foreign_keys = refs
            .iter()
            .map(|r| ForeignKey {
                columns: vec!["x".to_string()],
                ref_table: r.to_string(),
                ref_columns: vec!["id".to_string()],
                on_delete: FkAction::default(),
                on_update: FkAction::default(),
            })
            .collect();
        t
    }

    #[test]
    fn foreign_key_order_matches_the_rescanning_definition() {
        // Deterministic pseudo-random graphs: chains, fan-ins, self references, cycles, and
        // references to tables outside the list.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for size in [0u64, 1, 2, 3, 5, 8, 13, 40] {
            for _ in 0..50 {
                let tables: Vec<Table> = (0..size)
                    .map(|i| {
                        let refs: Vec<String> = (0..next(4))
                            .map(|_| format!("t{}", next(size + 2)))
                            .collect();
                        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
                        table(&format!("t{i}"), &refs)
                    })
                    .collect();
                let list: Vec<&Table> = tables.iter().collect();
                assert_eq!(names(foreign_key_order(&list)), by_rescan(&list));
            }
        }
    }
}
