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
//! `default_sql = "…"`, `unique`, `index`, `references = "table.column"`, `on_delete = "…"` /
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
    Index, Schema, Table, Unique,
};
pub use qvdiff_derive::Model;

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
