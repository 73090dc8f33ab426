//! Changes between two schemas, as the differ finds them and the dialect planners consume them.

use crate::schema::{Check, Column, ForeignKey, Index, Table, Unique};
use serde::{Deserialize, Serialize};

/// One difference between a `from` schema and a `to` schema.
///
/// Table names in variants other than the table-level ones are the table's name in `to`
/// (after any rename); for `Drop*` of a table that no longer exists, its name in `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
// A plan holds a handful of changes, built once: boxing the columns would save little memory and
// add a dereference to every match on them.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// A new table.
    CreateTable {
        /// The whole table as wanted.
        table: Table,
    },
    /// A table that is gone (DESTRUCTIVE).
    DropTable {
        /// The whole table as it was.
        table: Table,
    },
    /// A table renamed.
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A new column.
    AddColumn {
        /// Table name.
        table: String,
        /// The column as wanted.
        column: Column,
    },
    /// A column that is gone (DESTRUCTIVE).
    DropColumn {
        /// Table name.
        table: String,
        /// The column as it was.
        column: Column,
    },
    /// A column renamed (its other properties may change too: see `AlterColumn`).
    RenameColumn {
        /// Table name.
        table: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// Type, nullability, default or autoincrement changed. Both sides carry the new name.
    AlterColumn {
        /// Table name.
        table: String,
        /// The column as it was (named as in `to`).
        from: Column,
        /// The column as wanted.
        to: Column,
    },
    /// The primary key changed.
    SetPrimaryKey {
        /// Table name.
        table: String,
        /// Old key columns.
        from: Vec<String>,
        /// New key columns.
        to: Vec<String>,
    },
    /// A new index.
    AddIndex {
        /// Table name.
        table: String,
        /// The index.
        index: Index,
    },
    /// An index that is gone.
    DropIndex {
        /// Table name.
        table: String,
        /// The index.
        index: Index,
    },
    /// A new unique constraint.
    AddUnique {
        /// Table name.
        table: String,
        /// The constraint.
        unique: Unique,
    },
    /// A unique constraint that is gone.
    DropUnique {
        /// Table name.
        table: String,
        /// The constraint.
        unique: Unique,
    },
    /// A new foreign key (a changed one is a drop plus an add).
    AddForeignKey {
        /// Table name.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// A foreign key that is gone.
    DropForeignKey {
        /// Table name.
        table: String,
        /// The key.
        foreign_key: ForeignKey,
    },
    /// A new CHECK constraint.
    AddCheck {
        /// Table name.
        table: String,
        /// The check.
        check: Check,
    },
    /// A CHECK constraint that is gone.
    DropCheck {
        /// Table name.
        table: String,
        /// The check.
        check: Check,
    },
    /// A table's or a column's comment added, changed or removed (a new table or column brings
    /// its comment along in `CreateTable` / `AddColumn`).
    SetComment {
        /// Table name.
        table: String,
        /// The column, or `None` for the table's own comment.
        column: Option<String>,
        /// The comment as it was.
        from: Option<String>,
        /// The comment as wanted.
        to: Option<String>,
    },
}

impl Change {
    /// The existing table a change alters in place (its name after any rename): `None` for
    /// changes to a whole table (create, drop, rename).
    pub fn altered_table(&self) -> Option<&str> {
        match self {
            Change::CreateTable { .. } | Change::DropTable { .. } | Change::RenameTable { .. } => {
                None
            }
            Change::AddColumn { table, .. }
            | Change::DropColumn { table, .. }
            | Change::RenameColumn { table, .. }
            | Change::AlterColumn { table, .. }
            | Change::SetPrimaryKey { table, .. }
            | Change::AddIndex { table, .. }
            | Change::DropIndex { table, .. }
            | Change::AddUnique { table, .. }
            | Change::DropUnique { table, .. }
            | Change::AddForeignKey { table, .. }
            | Change::DropForeignKey { table, .. }
            | Change::AddCheck { table, .. }
            | Change::DropCheck { table, .. }
            | Change::SetComment { table, .. } => Some(table),
        }
    }
}

/// Renames the differ must treat as renames rather than drop + add.
///
/// Built from the `renamed_from` hints of the wanted schema, plus those a user confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renames {
    /// `(old table name, new table name)`.
    pub tables: Vec<(String, String)>,
    /// `(table name in the new schema, old column name, new column name)`.
    pub columns: Vec<(String, String, String)>,
    /// `(old index name, new index name)`: read from a script's `ALTER INDEX … RENAME TO`
    /// (the summary shows them as renames); the differ does not use them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<(String, String)>,
}
