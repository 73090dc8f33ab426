//! The catalog the interpreter keeps: tables with their columns, named constraints and indexes,
//! and the lookups the server does by name.

use super::expr::{canonical_default, is_nextval};
use super::naming::choose_name;
use super::{invalid, SchemaReplay, Step};
use crate::render::{parse_default, quote_ident, unique_name};
use qvdiff_core::{Check, Column, ColumnType, FkAction, ForeignKey, Index, Table, Unique};

#[derive(Debug, Clone)]
pub(super) struct TableState {
    pub(super) name: String,
    pub(super) columns: Vec<ColumnState>,
    pub(super) constraints: Vec<Constraint>,
    pub(super) indexes: Vec<IndexState>,
    /// `COMMENT ON TABLE`.
    pub(super) comment: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct ColumnState {
    pub(super) name: String,
    pub(super) ty: ColumnType,
    pub(super) not_null: bool,
    /// The default expression as written.
    pub(super) default: Option<String>,
    pub(super) identity: bool,
    /// The sequence of an identity or `serial` column: a relation name, so it can clash.
    pub(super) sequence: Option<String>,
    /// `COMMENT ON COLUMN`.
    pub(super) comment: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Constraint {
    pub(super) name: String,
    pub(super) oid: u64,
    pub(super) kind: ConstraintKind,
}

#[derive(Debug, Clone)]
pub(super) enum ConstraintKind {
    PrimaryKey(Vec<String>),
    Unique(Vec<String>),
    ForeignKey(FkState),
    Check(String),
}

#[derive(Debug, Clone)]
pub(super) struct FkState {
    pub(super) columns: Vec<String>,
    pub(super) ref_table: String,
    pub(super) ref_columns: Vec<String>,
    pub(super) on_delete: FkAction,
    pub(super) on_update: FkAction,
    /// The referenced table's unique index (or PK/unique constraint) the key depends on.
    pub(super) ref_index: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct IndexState {
    pub(super) name: String,
    pub(super) columns: Vec<String>,
    pub(super) unique: bool,
    /// A partial index's `WHERE` condition ([`super::canonical_predicate`] spelling): such an
    /// index cannot back a foreign key.
    pub(super) predicate: Option<String>,
    /// Other columns it depends on (`INCLUDE`, the predicate): dropping one drops the index.
    pub(super) other_columns: Vec<String>,
    pub(super) oid: u64,
}

impl SchemaReplay {
    pub(super) fn table(&self, name: &str) -> Step<&TableState> {
        match self.tables.get(name) {
            Some(table) => Ok(table),
            None => invalid(format!("relation {} does not exist", quote_ident(name))),
        }
    }

    pub(super) fn table_mut(&mut self, name: &str) -> Step<&mut TableState> {
        match self.tables.get_mut(name) {
            Some(table) => Ok(table),
            None => invalid(format!("relation {} does not exist", quote_ident(name))),
        }
    }

    /// Whether a table, index, key constraint (its index) or sequence has this name: they share
    /// one namespace in the server.
    pub(super) fn relation_exists(&self, name: &str) -> bool {
        self.tables.contains_key(name)
            || self.relation_table(name).is_some()
            || self.is_table_view(name)
    }

    /// The table holding the index, key constraint or sequence `name`.
    pub(super) fn relation_table(&self, name: &str) -> Option<&TableState> {
        let owner = self.relation_owner.get(name)?;
        self.tables
            .get(owner)
            .filter(|t| t.relation_names().any(|n| n == name))
    }

    /// The table holding the index (not a constraint's) named `name`.
    pub(super) fn index_owner(&self, name: &str) -> Option<String> {
        self.relation_table(name)
            .filter(|t| t.indexes.iter().any(|i| i.name == name))
            .map(|t| t.name.clone())
    }

    /// The table whose PRIMARY KEY or UNIQUE constraint (and so its index) is named `name`.
    pub(super) fn constraint_index_owner(&self, name: &str) -> Option<String> {
        self.relation_table(name)
            .filter(|t| {
                t.constraints
                    .iter()
                    .any(|c| c.name == name && c.is_index_backed())
            })
            .map(|t| t.name.clone())
    }

    /// Records the names `table` holds (after a change that may have named something) in the
    /// lookups: its indexes, key constraints and sequences, its constraints, and the tables
    /// its foreign keys reference. Costs the size of that one table.
    pub(super) fn register(&mut self, table: &str) {
        let Some(state) = self.tables.get(table) else {
            return;
        };
        for name in state.relation_names() {
            self.relation_owner
                .insert(name.to_string(), table.to_string());
        }
        for constraint in &state.constraints {
            self.constraint_owners
                .entry(constraint.name.clone())
                .or_default()
                .insert(table.to_string());
            if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                self.referenced_by
                    .entry(fk.ref_table.clone())
                    .or_default()
                    .insert(table.to_string());
            }
        }
    }

    /// `(table, constraint)` of every foreign key to `ref_table` that satisfies
    /// `filter(table, key)`.
    pub(super) fn foreign_keys_to(
        &self,
        ref_table: &str,
        filter: impl Fn(&str, &FkState) -> bool,
    ) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let Some(owners) = self.referenced_by.get(ref_table) else {
            return found;
        };
        for table in owners.iter().filter_map(|o| self.tables.get(o)) {
            for constraint in &table.constraints {
                if let ConstraintKind::ForeignKey(fk) = &constraint.kind {
                    if fk.ref_table == ref_table && filter(&table.name, fk) {
                        found.push((table.name.clone(), constraint.name.clone()));
                    }
                }
            }
        }
        found
    }

    pub(super) fn drop_constraints(&mut self, constraints: &[(String, String)]) {
        for (table, name) in constraints {
            if let Some(state) = self.tables.get_mut(table) {
                state.constraints.retain(|c| &c.name != name);
            }
        }
    }

    /// The server's `ChooseRelationName`: `name1_name2_label`, cut to fit, with a number after
    /// the label until no relation has the name.
    pub(super) fn choose_relation_name(
        &self,
        name1: &str,
        name2: Option<&str>,
        label: &str,
    ) -> String {
        choose_name(name1, name2, label, |name| self.relation_exists(name))
    }

    /// The server's `ChooseConstraintName`: like [`Self::choose_relation_name`], unique among
    /// all constraints of the schema.
    pub(super) fn choose_constraint_name(
        &self,
        name1: &str,
        name2: Option<&str>,
        label: &str,
    ) -> String {
        choose_name(name1, name2, label, |name| {
            self.constraint_owners.get(name).is_some_and(|owners| {
                owners
                    .iter()
                    .filter_map(|o| self.tables.get(o))
                    .any(|t| t.constraints.iter().any(|c| c.name == name))
            })
        })
    }
}

impl Constraint {
    /// A PRIMARY KEY or UNIQUE constraint: its index is a relation of the same name.
    pub(super) fn is_index_backed(&self) -> bool {
        matches!(
            self.kind,
            ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
        )
    }
}

impl TableState {
    /// The names this table puts in the relation namespace besides its own: indexes, key
    /// constraints (their indexes) and sequences.
    pub(super) fn relation_names(&self) -> impl Iterator<Item = &str> {
        let indexes = self.indexes.iter().map(|i| i.name.as_str());
        let keys = self
            .constraints
            .iter()
            .filter(|c| c.is_index_backed())
            .map(|c| c.name.as_str());
        let sequences = self.columns.iter().filter_map(|c| c.sequence.as_deref());
        indexes.chain(keys).chain(sequences)
    }

    pub(super) fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub(super) fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    pub(super) fn require_column(&self, name: &str) -> Step<&ColumnState> {
        match self.column(name) {
            Some(column) => Ok(column),
            None => invalid(format!(
                "column {} of relation {} does not exist",
                quote_ident(name),
                quote_ident(&self.name)
            )),
        }
    }

    pub(super) fn require_columns(&self, names: &[String]) -> Step {
        for name in names {
            self.require_column(name)?;
        }
        Ok(())
    }

    pub(super) fn require_constraint(&self, name: &str) -> Step<&Constraint> {
        match self.constraints.iter().find(|c| c.name == name) {
            Some(constraint) => Ok(constraint),
            None => invalid(format!(
                "constraint {} of relation {} does not exist",
                quote_ident(name),
                quote_ident(&self.name)
            )),
        }
    }

    pub(super) fn primary_key(&self) -> Option<&[String]> {
        self.constraints.iter().find_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey(columns) => Some(columns.as_slice()),
            _ => None,
        })
    }

    /// The oldest unique index (primary key, unique constraint or plain unique index) over
    /// exactly this set of columns: what a foreign key to them relies on.
    pub(super) fn unique_index_for(&self, columns: &[String]) -> Option<String> {
        let same_set = |other: &[String]| {
            other.len() == columns.len() && columns.iter().all(|c| other.contains(c))
        };
        let keys = self.constraints.iter().filter_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey(cols) | ConstraintKind::Unique(cols) if same_set(cols) => {
                Some((c.oid, c.name.clone()))
            }
            _ => None,
        });
        let indexes = self
            .indexes
            .iter()
            .filter(|i| i.unique && i.predicate.is_none() && same_set(&i.columns))
            .map(|i| (i.oid, i.name.clone()));
        keys.chain(indexes).min().map(|(_, name)| name)
    }

    pub(super) fn to_table(&self) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                // What introspection sees: an identity column, or one whose default draws from a
                // sequence, is autoincrement without a default.
                let serial = c.default.as_deref().is_some_and(is_nextval);
                let autoincrement = c.identity || serial;
                let default = match &c.default {
                    Some(expr) if !autoincrement => {
                        Some(parse_default(&canonical_default(expr), &c.ty))
                    }
                    _ => None,
                };
                Column {
                    nullable: !c.not_null,
                    default,
                    autoincrement,
                    comment: c.comment.clone(),
                    ..Column::new(c.name.clone(), c.ty.clone())
                }
            })
            .collect();
        let mut table = Table::new(self.name.clone(), columns);
        table.comment = self.comment.clone();
        for constraint in &self.constraints {
            match &constraint.kind {
                ConstraintKind::PrimaryKey(columns) => table.primary_key = columns.clone(),
                ConstraintKind::Unique(columns) => {
                    let unnamed = Unique {
                        name: None,
                        columns: columns.clone(),
                    };
                    let name = (constraint.name != unique_name(&self.name, &unnamed))
                        .then(|| constraint.name.clone());
                    table.uniques.push(Unique { name, ..unnamed });
                }
                ConstraintKind::ForeignKey(fk) => table.foreign_keys.push(ForeignKey {
                    columns: fk.columns.clone(),
                    ref_table: fk.ref_table.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    on_delete: fk.on_delete,
                    on_update: fk.on_update,
                }),
                ConstraintKind::Check(expr) => table.checks.push(Check {
                    name: constraint.name.clone(),
                    expr: expr.clone(),
                }),
            }
        }
        table.indexes = self
            .indexes
            .iter()
            .map(|i| Index {
                name: i.name.clone(),
                columns: i.columns.clone(),
                unique: i.unique,
                predicate: i.predicate.clone(),
            })
            .collect();
        table
    }
}
