//! [`SqliteDatabase`]: a database file behind the dialect-neutral [`Backend`] trait, so the CLI
//! and an application's `Migrator` drive SQLite and PostgreSQL the same way.

use crate::introspect::introspect;
use crate::plan::Sqlite;
use crate::runner;
use qvdiff_core::backend::{RunOptions, RunReport, StampReport};
use qvdiff_core::run_loop::{Accept, RunRequest, Stamp};
use qvdiff_core::runner::{AcceptedEdit, AppliedRevision, ScriptPlan};
use qvdiff_core::{Backend, BackendError, Dialect, Schema};
use rusqlite::Connection;
use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};

/// An open SQLite database: the connection the CLI opened (`C` = [`Connection`]), or one an
/// application lends (`&mut Connection`).
pub struct SqliteDatabase<C = Connection> {
    /// The connection (read-write).
    pub conn: C,
    path: PathBuf,
}

impl<'c> SqliteDatabase<&'c mut Connection> {
    /// Borrows a connection an application opened; messages name its file.
    pub fn borrowing(conn: &'c mut Connection) -> SqliteDatabase<&'c mut Connection> {
        let path = conn.path().unwrap_or_default().into();
        SqliteDatabase { conn, path }
    }
}

impl SqliteDatabase {
    /// Opens the file read-write; `create` makes it when missing (`upgrade`).
    pub fn open(path: &Path, create: bool) -> Result<SqliteDatabase, BackendError> {
        let conn = runner::open_database(path, create)?;
        Ok(SqliteDatabase {
            conn,
            path: path.to_path_buf(),
        })
    }
}

impl SqliteDatabase {
    /// Wraps a connection opened elsewhere (e.g. read-only, for `migrate --db`).
    pub fn from_connection(conn: Connection, path: &Path) -> SqliteDatabase {
        SqliteDatabase {
            conn,
            path: path.to_path_buf(),
        }
    }
}

impl<C: BorrowMut<Connection>> Backend for SqliteDatabase<C> {
    fn dialect(&self) -> &dyn Dialect {
        &Sqlite
    }

    fn describe(&self) -> String {
        if self.path.as_os_str().is_empty() {
            return "the in-memory database".to_string();
        }
        self.path.display().to_string()
    }

    fn applied(&mut self) -> Result<Vec<AppliedRevision>, BackendError> {
        Ok(runner::applied(self.conn.borrow())?)
    }

    fn introspect(&mut self) -> Result<Schema, BackendError> {
        introspect(self.conn.borrow()).map_err(|e| BackendError::failed(e.to_string()))
    }

    fn count_nulls(&mut self, table: &str, column: &str) -> Result<u64, BackendError> {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {} IS NULL",
            crate::quote_ident(table),
            crate::quote_ident(column)
        );
        let n: i64 = self
            .conn
            .borrow()
            .query_row(&sql, [], |row| row.get(0))
            .map_err(|e| {
                BackendError::failed(format!("cannot count the NULLs of {table}.{column}: {e}"))
            })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn count_rows(&mut self, table: &str) -> Result<u64, BackendError> {
        let sql = format!("SELECT count(*) FROM {}", crate::quote_ident(table));
        let n: i64 = self
            .conn
            .borrow()
            .query_row(&sql, [], |row| row.get(0))
            .map_err(|e| BackendError::failed(format!("cannot count the rows of {table}: {e}")))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn render_script(&self, plan: &ScriptPlan<'_>, range: &str) -> Result<String, BackendError> {
        Ok(runner::render_script(plan, range))
    }

    fn run(&mut self, request: &RunRequest<'_>) -> Result<RunReport, BackendError> {
        Ok(runner::run(self.conn.borrow_mut(), request)?)
    }

    fn write_stamp(
        &mut self,
        stamp: &Stamp<'_>,
        options: &RunOptions,
    ) -> Result<StampReport, BackendError> {
        Ok(runner::write_ledger(
            self.conn.borrow_mut(),
            stamp,
            options,
        )?)
    }

    fn write_accept(
        &mut self,
        accept: &Accept<'_>,
        options: &RunOptions,
    ) -> Result<AcceptedEdit, BackendError> {
        Ok(runner::write_ledger(
            self.conn.borrow_mut(),
            accept,
            options,
        )?)
    }

    fn accepted_edits(&mut self) -> Result<Vec<AcceptedEdit>, BackendError> {
        Ok(runner::accepted_edits(self.conn.borrow())?)
    }
}
