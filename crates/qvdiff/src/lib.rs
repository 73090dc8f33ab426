//! qvdiff: schema migrations from Rust model structs.
//!
//! Declare each table as a struct with `#[derive(Model)]`; `qvdiff migrate` compares the models
//! with the schema your committed migrations produce and writes the next migration file. At run
//! time, [`Model::table`] gives the table a struct maps to, e.g. for checks at start-up.
//!
//! ```
//! use qvdiff::Model;
//!
//! #[derive(Model)]
//! #[model(table = "users")]
//! pub struct User {
//!     #[column(primary_key, autoincrement)]
//!     pub id: i64,
//!     #[column(max_length = 255, unique)]
//!     pub email: String,
//!     pub nickname: Option<String>, // Option<T> = nullable
//! }
//!
//! let table = User::table();
//! assert_eq!(table.name, "users");
//! assert_eq!(table.primary_key, ["id"]);
//! assert_eq!(table.columns[1].ty, qvdiff::ColumnType::Text { max_length: Some(255) });
//! assert!(table.columns[2].nullable);
//! ```
//!
//! # The attribute grammar
//!
//! On the struct, `#[model(…)]` (one attribute or several, same meaning): `table = "…"`,
//! `renamed_from = "…"`, `unique(field, …)` (optionally `name = "…"` inside), `index(fields(field,
//! …), unique, name = "…")`, `primary_key(field, …)` (composite key) and `check(name = "…", expr =
//! "…")`. Lists name Rust fields; they are mapped to column names.
//!
//! On a field, `#[column(…)]`: `primary_key`, `autoincrement` (single integer primary key only),
//! `name = "…"`, `sql_type = "…"`, `max_length = N` (text only), `default = <literal>`,
//! `default_sql = "…"` (or `default_sql(sqlite = "…", postgres = "…")`, one expression per
//! dialect), `unique`, `index`, `references = "table.column"`, `on_delete = "…"` /
//! `on_update = "…"` (`cascade`, `set null`, `set default`, `restrict`, `no action`),
//! `renamed_from = "…"`, `backfill = <literal>` / `backfill_sql = "…"` (value for existing rows
//! when a column becomes NOT NULL), `using = "…"` (an SQL expression converting existing rows
//! when the column changes type) and `skip`.
//!
//! The table name defaults to the struct name in snake_case; `Option<T>` is nullable and every
//! other field NOT NULL. Generated index names are `ix_<table>_<column>[_<column>…]`. The Rust
//! types with a built-in column type are listed in [`qvdiff_capture`'s `BUILTIN_TYPES`]; any other
//! type needs `sql_type`. Every mistake is a compile error at its exact span, all at once.
//!
//! [`qvdiff_capture`'s `BUILTIN_TYPES`]: https://docs.rs/qvdiff-capture/latest/qvdiff_capture/constant.BUILTIN_TYPES.html
//!
//! # Features
//!
//! With default features this crate is the derive, the traits, the schema types and
//! [`embed_migrations!`]: no database driver, no native library, so it builds beside sqlx,
//! SeaORM or Diesel. [`Migrator`] runs the embedded migrations through the driver the
//! application already has, one feature each: `sqlite` (rusqlite), `postgres` (the `postgres`
//! crate), `sqlx-sqlite` / `sqlx-postgres` / `sqlx` (sqlx's pools). See [`migrate`].

#![warn(missing_docs)]

pub use qvdiff_core::{
    BackendError, BackendErrorKind, Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey,
    Index, PerDialectSql, Schema, Table, Unique, VariantRename,
};
pub use qvdiff_derive::{Enum, Model};

/// A Rust enum of unit variants stored in a column; implement it with `#[derive(Enum)]`.
///
/// SQLite stores it as `TEXT` with a `CHECK (… IN (…))`, PostgreSQL as a native enum type whose
/// values are in declaration order. A model field of this type (or `Option` of it) needs no
/// `sql_type`.
///
/// ```
/// use qvdiff::{Enum, Model};
///
/// #[derive(Enum, Debug, PartialEq)]
/// #[enum_type(name = "task_status")]
/// pub enum Status {
///     Todo,
///     InProgress,
///     #[variant(name = "done", renamed_from = "finished")]
///     Finished,
/// }
///
/// #[derive(Model)]
/// pub struct Task {
///     #[column(primary_key)]
///     pub id: i64,
///     #[column(default = "todo")]
///     pub status: Status,
/// }
///
/// assert_eq!(Status::VALUES, ["todo", "in_progress", "done"]);
/// assert_eq!(Status::InProgress.as_str(), "in_progress");
/// assert_eq!(Status::from_stored("done"), Some(Status::Finished));
/// assert_eq!(Task::table().columns[1].ty, Status::column_type());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no built-in SQL type",
    label = "not a builtin type, and no `#[derive(qvdiff::Enum)]`",
    note = "derive `qvdiff::Enum` on it, or give the field #[column(sql_type = \"JSON\")] or #[column(skip)]"
)]
pub trait Enum: Sized + 'static {
    /// The PostgreSQL type name.
    const TYPE_NAME: &'static str;
    /// Stored values, in declaration order.
    const VALUES: &'static [&'static str];
    /// `(old, new)` stored values of renamed variants.
    const RENAMES: &'static [(&'static str, &'static str)];
    /// The value this variant is stored as.
    fn as_str(&self) -> &'static str;
    /// The variant stored as `value`, if any.
    fn from_stored(value: &str) -> Option<Self>;
    /// The logical column type of a field of this enum.
    fn column_type() -> ColumnType {
        ColumnType::Enum {
            name: Self::TYPE_NAME.to_string(),
            values: Self::VALUES.iter().map(|v| v.to_string()).collect(),
            renames: Self::RENAMES
                .iter()
                .map(|(from, to)| VariantRename {
                    from: from.to_string(),
                    to: to.to_string(),
                })
                .collect(),
        }
    }
}

/// Support for the derives' generated code; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// Fails the constant evaluation it runs in (a compile error) unless `value` is one of `E`'s
    /// stored values.
    pub const fn assert_stored_value<E: crate::Enum>(value: &str, message: &str) {
        let mut i = 0;
        while i < E::VALUES.len() {
            if bytes_equal(E::VALUES[i].as_bytes(), value.as_bytes()) {
                return;
            }
            i += 1;
        }
        panic!("{}", message);
    }

    const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// A struct that maps to one database table; implement it with `#[derive(Model)]`.
pub trait Model {
    /// The table this struct maps to, exactly as `qvdiff manifest` captures it from the source.
    fn table() -> Table;
}

/// A normalized schema made of the given tables (e.g. `schema_of(vec![User::table(),
/// Item::table()])`), ready to compare with an introspected schema.
pub fn schema_of(tables: Vec<Table>) -> Schema {
    Schema {
        tables,
        ..Schema::default()
    }
    .normalized()
}

pub mod migrate;
pub use migrate::{embed_migrations, MigrateError, Migrator};
