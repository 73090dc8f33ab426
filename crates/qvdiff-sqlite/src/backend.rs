//! [`SqliteDatabase`]: a database file behind the dialect-neutral [`Backend`] trait, so the CLI
//! and an application's `Migrator` drive SQLite and PostgreSQL the same way.

use crate::introspect::introspect;
use crate::plan::Sqlite;
use crate::runner::{self, RunError};
use qvdiff_core::backend::{backend_error, RunnerError};
use qvdiff_core::backend::{RunOptions, RunReport, StampReport};
use qvdiff_core::runner::{AcceptedEdit, AppliedRevision, Migrations};
use qvdiff_core::{Backend, BackendError, BackendErrorKind, Dialect, Schema};
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
        let conn = runner::open_database(path, create).map_err(backend_error)?;
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

impl RunnerError for RunError {
    fn backend_kind(&self) -> BackendErrorKind {
        match self {
            RunError::Locked { .. } => BackendErrorKind::Locked,
            RunError::Refused(_) | RunError::Data { .. } => BackendErrorKind::Refused,
            _ => BackendErrorKind::Failed,
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
        runner::applied(self.conn.borrow()).map_err(backend_error)
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

    fn upgrade_script(
        &mut self,
        migrations: &Migrations,
        target: &str,
        contract: bool,
    ) -> Result<String, BackendError> {
        runner::upgrade_sql(self.conn.borrow(), migrations, target, contract).map_err(backend_error)
    }

    fn downgrade_script(
        &mut self,
        migrations: &Migrations,
        target: &str,
    ) -> Result<String, BackendError> {
        runner::downgrade_sql(self.conn.borrow(), migrations, target).map_err(backend_error)
    }

    fn upgrade(
        &mut self,
        migrations: &Migrations,
        target: &str,
        options: &RunOptions,
    ) -> Result<RunReport, BackendError> {
        runner::upgrade(self.conn.borrow_mut(), migrations, target, options).map_err(backend_error)
    }

    fn downgrade(
        &mut self,
        migrations: &Migrations,
        target: &str,
        options: &RunOptions,
    ) -> Result<RunReport, BackendError> {
        runner::downgrade(self.conn.borrow_mut(), migrations, target, options)
            .map_err(backend_error)
    }

    fn stamp(
        &mut self,
        migrations: &Migrations,
        target: &str,
        options: &RunOptions,
    ) -> Result<StampReport, BackendError> {
        runner::stamp(self.conn.borrow_mut(), migrations, target, options).map_err(backend_error)
    }

    fn accept(
        &mut self,
        migrations: &Migrations,
        revision: &str,
        reason: &str,
        options: &RunOptions,
    ) -> Result<AcceptedEdit, BackendError> {
        runner::accept(
            self.conn.borrow_mut(),
            migrations,
            revision,
            reason,
            options,
        )
        .map_err(backend_error)
    }

    fn accepted_edits(&mut self) -> Result<Vec<AcceptedEdit>, BackendError> {
        runner::accepted_edits(self.conn.borrow()).map_err(backend_error)
    }
}
