//! qvdiff-sqlite: the SQLite dialect of qvdiff.
//!
//! - **Rendering** (pure): [`render_type`], [`quote_ident`], [`render_default`],
//!   [`create_table_sql`], [`create_index_sql`].
//! - **Planning**: [`Sqlite`] implements [`qvdiff_core::Dialect`]. `normalize` gives a schema as
//!   SQLite stores it (integer widths dropped, declared types and defaults as they read back, …);
//!   `plan` turns [`qvdiff_core::Change`]s into SQL.
//! - **Introspection**: [`introspect`] reads a live database back into a normalized
//!   [`qvdiff_core::Schema`].
//! - **Apply**: [`apply_script`] / [`apply_scripts`] on a live database, [`replay`] into an
//!   in-memory shadow database, [`schema_copy`] of a live database, and [`verify`], the
//!   up/down/up proof run on every generated migration. [`replay_schema`] and [`verify_stored`]
//!   do the same from stored `CREATE` statements ([`StoredObject`]): the plain DDL qvdiff writes
//!   is read by a pure replay of the schema SQLite would build (no SQLite at all), other plain DDL
//!   runs in independent parts on all cores (SQLite builds one big schema in O(n²)), anything
//!   else, or anything either refuses, runs on SQLite whole.
//!
//! # ALTER or rebuild
//!
//! `plan` uses `ALTER TABLE` where SQLite allows it:
//!
//! | change | SQL |
//! |---|---|
//! | table rename | `ALTER TABLE … RENAME TO` (chains and swaps ordered, cycles via a temporary name) |
//! | column rename | `ALTER TABLE … RENAME COLUMN` (always, even before a rebuild) |
//! | new column, nullable or with a constant default, not in the key / a unique / a check | `ADD COLUMN` (a foreign key on it is declared inline when it has no default); a `backfill` differing from the default is an `UPDATE` |
//! | dropped column in no key, unique, index, foreign key, check, view or trigger | `DROP COLUMN` |
//! | index added / dropped | `CREATE [UNIQUE] INDEX` / `DROP INDEX` |
//! | table created / dropped | `CREATE TABLE` + indexes / `DROP TABLE` |
//!
//! Everything else — a column's type, nullability, default or autoincrement, the primary key,
//! unique constraints, foreign keys, checks, and the add/drop column cases above that SQLite
//! refuses — is done by the **table rebuild** of SQLite's documentation: a
//! `-- rebuild "t": <why>` comment, `CREATE TABLE "_qvdiff_new_t"`, `INSERT … SELECT` (renamed
//! columns already renamed, new NOT NULL columns filled from `backfill` or left to their default,
//! `COALESCE(col, backfill)` when a column becomes NOT NULL with a backfill), `DROP TABLE "t"`,
//! `ALTER TABLE "_qvdiff_new_t" RENAME TO "t"`, then the table's indexes. Views and triggers that
//! mention a rebuilt table are dropped first and recreated at the end (with the plan's renames
//! applied to their text). A column is never dropped and re-added to change it.
//!
//! A new NOT NULL column with neither default nor backfill is a [`qvdiff_core::PlanError`]
//! naming `table.column`. Steps that can lose data carry `Step::destructive`.
//!
//! # Foreign keys and transactions
//!
//! Generated scripts contain **no `PRAGMA` lines**: `PRAGMA foreign_keys` is silently ignored
//! inside a transaction, and a rebuild's `DROP TABLE` with foreign keys ON would cascade
//! `ON DELETE` actions into child tables and delete their rows. Instead the code that applies
//! scripts ([`apply_scripts`], used by [`apply_script`], [`replay`] and [`verify`]) switches
//! `foreign_keys` OFF *before* `BEGIN IMMEDIATE`, runs the scripts, runs
//! `PRAGMA foreign_key_check` before `COMMIT` (new violations roll everything back and are
//! reported with table, rowid and parent), and restores the previous setting afterwards. Running
//! a generated script by hand (e.g. with the `sqlite3` shell) must do the same.

#![warn(missing_docs)]

mod apply;
mod backend;
mod error;
mod introspect;
mod partition;
mod plan;
mod render;
mod replay;
mod sqltext;

// The deploy workflow: ledger, runner (upgrade/downgrade/stamp/sql), preflight data checks,
// online backups; and what lint and review read from a migration's SQL.
pub mod backup;
pub mod ledger;
pub mod preflight;
pub mod review;
pub mod runner;

pub use apply::{
    apply_script, apply_scripts, comparable, replay, replay_schema, schema_copy, shadow_from,
    stored_objects, unusable_defaults, verify, verify_from, verify_stored,
};
pub use backend::SqliteDatabase;
pub use error::{
    sqlite_message, ForeignKeyViolation, SqliteError, VerifyError, VerifyStep,
    MAX_REPORTED_VIOLATIONS,
};
pub use introspect::introspect;
pub use partition::{disable_memory_statistics, StoredObject};
pub use plan::{normalize_table, Sqlite, REBUILD_PREFIX};
pub use render::{
    create_index_sql, create_table_sql, parse_declared_type, parse_default, quote_ident,
    quote_string, render_default, render_type,
};
pub use runner::{
    open_database, run, schema_at, sql_script, stamp, BackupSettings, RunError, RunOptions,
    RunReport, SqliteRunFailure,
};
