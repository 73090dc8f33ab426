//! The Schema: what a set of tables looks like, independent of any dialect.
//!
//! Models are captured into it, migrations are replayed and introspected into it, and the differ
//! compares two of them. Column types are *logical*; each dialect renders its own declared type and
//! maps declared types back when it introspects.
//!
//! Invariant: a [`Schema`] that went through [`Schema::normalize`] has its tables sorted by name and
//! every table's constraint lists sorted, so two equal schemas compare equal with `==` and serialize
//! to identical bytes. Column order is kept as declared: it is part of the table.

use serde::{Deserialize, Serialize};

/// A whole database schema: the set of tables.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// Tables, sorted by name once normalized.
    pub tables: Vec<Table>,
    /// Views found in a database (models never declare them; migrations may create them by hand).
    /// Not in the manifest. Kept so a table rebuild can drop and recreate what depends on it.
    #[serde(skip)]
    pub views: Vec<RawObject>,
    /// Triggers found in a database, like `views`.
    #[serde(skip)]
    pub triggers: Vec<RawObject>,
}

/// A schema object qvdiff does not model but must preserve (a view or a trigger), as SQL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawObject {
    /// Object name.
    pub name: String,
    /// For a trigger, the table it is attached to; for a view, the table it reads when it is
    /// PostgreSQL's view over every column of one table (a renamed table's old name under
    /// expand / contract), else empty.
    pub table: String,
    /// The `CREATE …` statement as stored by the database.
    pub sql: String,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The table's name in the database.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<Column>,
    /// Primary-key column names, in key order; more than one is a composite key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// Unique constraints (single- or multi-column), part of the table definition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uniques: Vec<Unique>,
    /// Indexes created with `CREATE INDEX` (possibly `UNIQUE`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
    /// Foreign keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    /// CHECK constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// The model's doc comment (PostgreSQL `COMMENT ON TABLE`; SQLite has no place for it, see
    /// [`Schema::without_comments`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Migration hint: the table's previous name. Not part of the schema proper:
    /// [`Schema::without_hints`] drops it before schemas are compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name in the database.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether NULL is allowed (`Option<T>` in the model).
    pub nullable: bool,
    /// Default value for new rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultValue>,
    /// `AUTOINCREMENT` (SQLite) / identity (PostgreSQL); only on a single integer primary key.
    #[serde(default, skip_serializing_if = "is_false")]
    pub autoincrement: bool,
    /// The field's doc comment (PostgreSQL `COMMENT ON COLUMN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Migration hint: the column's previous name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    /// Migration hint: the value existing rows get when the column becomes NOT NULL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<DefaultValue>,
    /// Migration hint: the SQL expression giving each existing row's value when the column
    /// changes type (`#[column(using = "…")]`), over the table's columns as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Logical column types. Dialects render and introspect them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnType {
    /// An integer column that holds every value of a signed integer of the given width in bits
    /// (8, 16, 32, 64); an unsigned Rust type takes the next width up (`u16` is 32).
    Integer {
        /// Width in bits.
        bits: u8,
    },
    /// Floating point, 8 bytes (`f64`).
    Float,
    /// Floating point, 4 bytes (`f32`): PostgreSQL `real`, which is the type every PostgreSQL
    /// driver encodes an `f32` as. SQLite stores every float in 8 bytes (`REAL`).
    Float32,
    /// Text, optionally with a maximum length (`VARCHAR(n)`).
    Text {
        /// Maximum length in characters, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<u32>,
    },
    /// Boolean.
    Bool,
    /// Date and time of day without a time zone (a wall-clock reading): `chrono::NaiveDateTime`,
    /// `time::PrimitiveDateTime`.
    DateTime,
    /// An instant: a date and time with an offset, stored as a point in time
    /// (`chrono::DateTime<Tz>`, `time::OffsetDateTime`). PostgreSQL `timestamptz`; SQLite has
    /// one declared type for both, `DATETIME`.
    DateTimeTz,
    /// Calendar date.
    Date,
    /// Time of day.
    Time,
    /// UUID.
    Uuid,
    /// JSON document.
    Json,
    /// Fixed-point decimal.
    Decimal {
        /// Total number of digits.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        precision: Option<u8>,
        /// Digits after the point.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u8>,
    },
    /// Bytes.
    Blob,
    /// One of a fixed list of text values (a Rust enum deriving `qvdiff::Enum`): SQLite `TEXT`
    /// with a CHECK, PostgreSQL a native enum type. A captured field whose Rust type is not
    /// builtin is an enum whose `values` are still empty and whose `name` is the Rust type, until
    /// the derive (at run time) or the scanner (with the enums it read) fills them in.
    Enum {
        /// The PostgreSQL type name (`#[enum_type(name = "…")]`, else the enum in snake_case).
        name: String,
        /// Stored values, in declaration order.
        values: Vec<String>,
        /// Migration hint: variants whose stored value changed (`#[variant(renamed_from = "…")]`).
        /// [`Schema::without_hints`] drops it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        renames: Vec<VariantRename>,
    },
    /// A list of values of one builtin type (`Vec<String>`, `Vec<i64>`): PostgreSQL's array type
    /// of the element (`text[]`, `bigint[]`). SQLite has none: planning for it refuses such a
    /// column and names `sql_type = "JSON"`.
    Array {
        /// The type of each element (never an array, an enum or bytes).
        element: Box<ColumnType>,
    },
    /// A declared type qvdiff has no logical type for; kept verbatim.
    Custom {
        /// The declared SQL type.
        sql: String,
    },
}

/// A variant's stored value that changed: `from` in the old schema is `to` in the new one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VariantRename {
    /// The old stored value.
    pub from: String,
    /// The new stored value.
    pub to: String,
}

impl ColumnType {
    /// One value of each builtin type, in each shape a model can declare it (widths, lengths,
    /// precisions), plus a verbatim `Custom`: what a dialect's type names must read back. A
    /// dialect's round-trip test takes the ones it has a name for.
    pub fn examples() -> Vec<ColumnType> {
        let decimal = |precision, scale| ColumnType::Decimal { precision, scale };
        vec![
            ColumnType::Integer { bits: 16 },
            ColumnType::Integer { bits: 32 },
            ColumnType::Integer { bits: 64 },
            ColumnType::Float,
            ColumnType::Text { max_length: None },
            ColumnType::Text {
                max_length: Some(200),
            },
            ColumnType::Bool,
            ColumnType::DateTime,
            ColumnType::Date,
            ColumnType::Time,
            ColumnType::Uuid,
            ColumnType::Json,
            decimal(Some(10), Some(2)),
            decimal(Some(10), None),
            decimal(Some(7), Some(0)),
            decimal(None, None),
            ColumnType::Blob,
            ColumnType::Custom {
                sql: "BIGINT".into(),
            },
        ]
    }

    /// The stored values of an enum column; `None` for every other type.
    pub fn enum_values(&self) -> Option<&[String]> {
        match self {
            ColumnType::Enum { values, .. } => Some(values),
            _ => None,
        }
    }

    /// The type without migration hints (an enum's `renames`).
    pub fn without_hints(&self) -> ColumnType {
        match self {
            ColumnType::Enum { name, values, .. } => ColumnType::Enum {
                name: name.clone(),
                values: values.clone(),
                renames: Vec::new(),
            },
            other => other.clone(),
        }
    }

    fn has_hints(&self) -> bool {
        matches!(self, ColumnType::Enum { renames, .. } if !renames.is_empty())
    }
}

/// How an enum's stored values change between two enum column types: the variants added,
/// renamed (by the new type's `renames`) and removed. Planners and summaries read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnumChange {
    /// New values, in the new type's order.
    pub added: Vec<String>,
    /// `(old, new)` stored values.
    pub renamed: Vec<(String, String)>,
    /// Values that are gone (rows holding them cannot be kept).
    pub removed: Vec<String>,
    /// Whether nothing is removed and the values that stay keep their order: then PostgreSQL
    /// can change the type in place (`ADD VALUE … BEFORE/AFTER`, `RENAME VALUE`).
    pub in_place: bool,
}

impl EnumChange {
    /// The change from `from` to `to` when both are enums; `None` otherwise.
    pub fn between(from: &ColumnType, to: &ColumnType) -> Option<EnumChange> {
        let (
            ColumnType::Enum {
                values: old_values, ..
            },
            ColumnType::Enum {
                values: new_values,
                renames,
                ..
            },
        ) = (from, to)
        else {
            return None;
        };
        let mut change = EnumChange::default();
        // Each old value's name in the new type: itself, or what a rename made of it.
        let mut carried = Vec::new();
        for old in old_values {
            if new_values.contains(old) {
                carried.push(old.clone());
                continue;
            }
            match renames.iter().find(|r| {
                &r.from == old && new_values.contains(&r.to) && !old_values.contains(&r.to)
            }) {
                Some(rename) => {
                    change.renamed.push((old.clone(), rename.to.clone()));
                    carried.push(rename.to.clone());
                }
                None => change.removed.push(old.clone()),
            }
        }
        change.added = new_values
            .iter()
            .filter(|v| !carried.contains(v))
            .cloned()
            .collect();
        let kept_order: Vec<&String> = new_values.iter().filter(|v| carried.contains(v)).collect();
        change.in_place =
            change.removed.is_empty() && kept_order.iter().copied().eq(carried.iter());
        Some(change)
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.renamed.is_empty() && self.removed.is_empty()
    }
}

/// A default value: a typed literal, or a raw SQL expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DefaultValue {
    /// Integer literal.
    Integer(i64),
    /// Floating-point literal.
    Float(f64),
    /// Boolean literal.
    Bool(bool),
    /// String literal (unquoted here; dialects quote it).
    Text(String),
    /// Raw SQL expression, e.g. `CURRENT_TIMESTAMP`.
    Sql(String),
    /// A raw SQL expression per dialect, for a default the dialects spell differently
    /// (`datetime('now')` / `now()`): each dialect renders its own and stores it as
    /// [`DefaultValue::Sql`]. Boxed: it is rare, and every other default fits in one `String`,
    /// which keeps each of a column's two defaults (`default`, `backfill`) that small.
    PerDialect(Box<PerDialectSql>),
}

/// The expressions of a [`DefaultValue::PerDialect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerDialectSql {
    /// The expression SQLite runs.
    pub sqlite: String,
    /// The expression PostgreSQL runs.
    pub postgres: String,
}

impl DefaultValue {
    /// The default as the dialect named `dialect` (its `Dialect::name`) stores it: a
    /// per-dialect expression becomes that dialect's [`DefaultValue::Sql`]; anything else is
    /// itself.
    pub fn for_dialect(&self, dialect: &str) -> DefaultValue {
        match self {
            DefaultValue::PerDialect(sql) => DefaultValue::Sql(
                if dialect == "postgres" {
                    &sql.postgres
                } else {
                    &sql.sqlite
                }
                .clone(),
            ),
            other => other.clone(),
        }
    }
}

/// A unique constraint over one or more columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Unique {
    /// Constraint name, when the model gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Column names, in order.
    pub columns: Vec<String>,
}

impl Unique {
    /// A unique constraint on `columns`, named `name` or (`None`) by the dialect's rule.
    pub fn new(name: Option<&str>, columns: &[&str]) -> Unique {
        Unique {
            name: name.map(str::to_string),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// An index over one or more columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Index {
    /// Index name (generated as `ix_<table>_<col>_…` when the model gives none).
    pub name: String,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// `CREATE UNIQUE INDEX`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// A partial index's `WHERE` condition, as SQL text (the model's `where = "…"`): only rows
    /// that satisfy it are indexed (and, for a unique index, must be distinct).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<String>,
}

impl Index {
    /// A full (not partial) index `name` on `columns`.
    pub fn new(name: impl Into<String>, columns: &[&str], unique: bool) -> Index {
        Index {
            name: name.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            unique,
            predicate: None,
        }
    }

    /// ` where <predicate>` for a partial index, empty otherwise: the tail of an index's
    /// description in summaries, lint findings and messages.
    pub fn where_suffix(&self) -> String {
        match &self.predicate {
            Some(predicate) => format!(" where {predicate}"),
            None => String::new(),
        }
    }
}

/// What a foreign key does when the referenced row is deleted or updated.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    /// `NO ACTION` (the SQL default).
    #[default]
    NoAction,
    /// `RESTRICT`.
    Restrict,
    /// `CASCADE`.
    Cascade,
    /// `SET NULL`.
    SetNull,
    /// `SET DEFAULT`.
    SetDefault,
}

impl FkAction {
    /// The SQL words for this action.
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parses the model spelling (`cascade`, `set_null`, `set null`, `SET NULL`, …).
    pub fn parse(s: &str) -> Option<FkAction> {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| {
                if c == '_' || c == '-' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let norm = norm.split_whitespace().collect::<Vec<_>>().join(" ");
        match norm.as_str() {
            "no action" => Some(FkAction::NoAction),
            "restrict" => Some(FkAction::Restrict),
            "cascade" => Some(FkAction::Cascade),
            "set null" => Some(FkAction::SetNull),
            "set default" => Some(FkAction::SetDefault),
            _ => None,
        }
    }
}

/// A foreign key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Referencing columns in this table.
    pub columns: Vec<String>,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns.
    pub ref_columns: Vec<String>,
    /// `ON DELETE` action.
    #[serde(default, skip_serializing_if = "is_no_action")]
    pub on_delete: FkAction,
    /// `ON UPDATE` action.
    #[serde(default, skip_serializing_if = "is_no_action")]
    pub on_update: FkAction,
}

impl ForeignKey {
    /// A foreign key from `columns` to `ref_columns` of `ref_table`, with no `ON DELETE` or
    /// `ON UPDATE` action.
    pub fn new(columns: &[&str], ref_table: impl Into<String>, ref_columns: &[&str]) -> ForeignKey {
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        ForeignKey {
            columns: names(columns),
            ref_table: ref_table.into(),
            ref_columns: names(ref_columns),
            on_delete: FkAction::NoAction,
            on_update: FkAction::NoAction,
        }
    }

    /// This key with `ON DELETE on_delete ON UPDATE on_update`.
    pub fn with_actions(self, on_delete: FkAction, on_update: FkAction) -> ForeignKey {
        ForeignKey {
            on_delete,
            on_update,
            ..self
        }
    }
}

fn is_no_action(a: &FkAction) -> bool {
    *a == FkAction::NoAction
}

/// A CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Check {
    /// Constraint name.
    pub name: String,
    /// SQL boolean expression.
    pub expr: String,
}

impl Check {
    /// The CHECK `name` over the SQL boolean expression `expr`.
    pub fn new(name: impl Into<String>, expr: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            expr: expr.into(),
        }
    }
}

impl Schema {
    /// Sorts tables by name and every table's constraint lists, so equal schemas are `==` and
    /// serialize identically. Column order is kept.
    pub fn normalize(&mut self) {
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.views.sort();
        self.triggers.sort();
        for t in &mut self.tables {
            t.normalize();
        }
    }

    /// Returns a normalized copy.
    pub fn normalized(mut self) -> Schema {
        self.normalize();
        self
    }

    /// Copy without migration hints (`renamed_from`, `backfill`): what is compared with a database.
    pub fn without_hints(&self) -> Schema {
        let mut s = self.clone();
        for t in &mut s.tables {
            t.renamed_from = None;
            for c in &mut t.columns {
                if c.renamed_from.is_some()
                    || c.backfill.is_some()
                    || c.using.is_some()
                    || c.ty.has_hints()
                {
                    *c = c.without_hints();
                }
            }
        }
        s
    }

    /// Copy without table and column comments: what a dialect that cannot store them (SQLite)
    /// plans and compares with.
    pub fn without_comments(&self) -> Schema {
        let mut s = self.clone();
        for t in &mut s.tables {
            t.comment = None;
            for c in &mut t.columns {
                c.comment = None;
            }
        }
        s
    }

    /// Whether any table or column has a comment.
    pub fn has_comments(&self) -> bool {
        self.tables
            .iter()
            .any(|t| t.comment.is_some() || t.columns.iter().any(|c| c.comment.is_some()))
    }

    /// Puts back the comments of `commented`'s tables and columns of the same names (a schema
    /// drawn from models after a dialect without comments normalized them away).
    pub fn with_comments_from(mut self, commented: &Schema) -> Schema {
        for t in &mut self.tables {
            let Some(source) = commented.table(&t.name) else {
                continue;
            };
            t.comment = source.comment.clone();
            for c in &mut t.columns {
                c.comment = source.column(&c.name).and_then(|s| s.comment.clone());
            }
        }
        self
    }

    /// Whether the schema is already in [`Schema::normalize`]d order and carries no migration
    /// hints: then [`Schema::without_hints`]`.normalized()` would only copy it.
    pub fn is_hint_free_and_normalized(&self) -> bool {
        self.tables.iter().map(|t| t.name.as_str()).is_sorted()
            && self.views.is_sorted()
            && self.triggers.is_sorted()
            && self.tables.iter().all(|t| {
                t.renamed_from.is_none()
                    && t.columns.iter().all(|c| {
                        c.renamed_from.is_none()
                            && c.backfill.is_none()
                            && c.using.is_none()
                            && !c.ty.has_hints()
                    })
                    && t.uniques.windows(2).all(|w| w[0] < w[1])
                    && t.indexes.iter().map(|i| i.name.as_str()).is_sorted()
                    && t.foreign_keys.is_sorted()
                    && t.checks.is_sorted()
            })
    }

    /// Copy without hints, views, triggers or the ledger and audit tables, each table's columns sorted by
    /// name: what two databases are compared by. Column order is not compared: `ADD COLUMN` can
    /// only append, and rewriting a table to move a column would copy every row for nothing.
    pub fn comparable(&self) -> Schema {
        let mut schema = self.without_hints();
        schema.views.clear();
        schema.triggers.clear();
        schema
            .tables
            .retain(|t| !crate::runner::is_bookkeeping_table(&t.name));
        for table in &mut schema.tables {
            table.columns.sort_by(|a, b| a.name.cmp(&b.name));
        }
        schema
    }

    /// The table with this name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        // A normalized schema is sorted by name: a binary search keeps a diff of n tables at
        // O(n log n) (the linear search made `check` quadratic, a third of it at 10 000
        // tables). Unsorted schemas (before normalizing) still find theirs by the linear search.
        let at = self.tables.partition_point(|t| t.name.as_str() < name);
        match self.tables.get(at) {
            Some(table) if table.name == name => Some(table),
            _ => self.tables.iter().find(|t| t.name == name),
        }
    }
}

impl Table {
    /// A table with columns only.
    pub fn new(name: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            name: name.into(),
            columns,
            primary_key: Vec::new(),
            uniques: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            comment: None,
            renamed_from: None,
        }
    }

    /// Sorts the constraint lists (not the columns).
    pub fn normalize(&mut self) {
        self.uniques.sort();
        self.uniques.dedup();
        self.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        self.foreign_keys.sort();
        self.checks.sort();
    }

    /// Whether two tables are equal the way [`Schema::comparable`] compares them (migration hints
    /// and column order ignored), without copying either.
    pub fn same_as_compared(&self, other: &Table) -> bool {
        let same_column = |a: &Column, b: &Column| {
            a.name == b.name
                && a.ty == b.ty
                && a.nullable == b.nullable
                && a.default == b.default
                && a.autoincrement == b.autoincrement
        };
        self.name == other.name
            && self.primary_key == other.primary_key
            && self.uniques == other.uniques
            && self.indexes == other.indexes
            && self.foreign_keys == other.foreign_keys
            && self.checks == other.checks
            && self.columns.len() == other.columns.len()
            && self.columns.iter().all(|a| {
                other
                    .columns
                    .iter()
                    .filter(|b| b.name == a.name)
                    .any(|b| same_column(a, b))
            })
            && other
                .columns
                .iter()
                .all(|b| self.columns.iter().any(|a| a.name == b.name))
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether an index of the table (a plain or unique index, a unique constraint or the
    /// primary key) starts with `columns`, in any order: a lookup by them needs no full scan.
    pub fn has_index_on(&self, columns: &[String]) -> bool {
        let starts_with = |key: &[String]| {
            key.len() >= columns.len() && columns.iter().all(|c| key[..columns.len()].contains(c))
        };
        starts_with(&self.primary_key)
            || self.uniques.iter().any(|u| starts_with(&u.columns))
            || self.indexes.iter().any(|i| starts_with(&i.columns))
    }
}

impl Column {
    /// Copy without migration hints (`renamed_from`, `backfill`, `using`, an enum's
    /// `renames`): for "did it really change" comparisons.
    pub fn without_hints(&self) -> Column {
        Column {
            renamed_from: None,
            backfill: None,
            using: None,
            ty: self.ty.without_hints(),
            ..self.clone()
        }
    }

    /// A NOT NULL column with no default.
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Column {
        Column {
            name: name.into(),
            ty,
            nullable: false,
            default: None,
            autoincrement: false,
            comment: None,
            renamed_from: None,
            backfill: None,
            using: None,
        }
    }

    /// A nullable column with no default.
    pub fn new_nullable(name: impl Into<String>, ty: ColumnType) -> Column {
        Column {
            nullable: true,
            ..Column::new(name, ty)
        }
    }
}

/// A doc comment as a schema comment: each line trimmed, blank lines dropped, the rest joined by
/// one space (a comment is one line in a migration's summary and in a diagram). `None` when
/// nothing is left.
pub fn comment_from_doc_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let words: Vec<&str> = lines
        .into_iter()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_stays_small() {
        // A 1000-table project is 20 000 columns in each of the several copies of its schema a
        // `check` or `migrate` holds: the rare per-dialect default is boxed, so each of a
        // column's two defaults is one `String` wide.
        let default = std::mem::size_of::<Option<DefaultValue>>();
        assert!(default <= 32, "a default takes {default} bytes");
        let column = std::mem::size_of::<Column>();
        assert!(column <= 240, "a column takes {column} bytes");
    }
}
