//! `Migrator` on a `rusqlite::Connection`: qvdiff's SQLite backend, as `qvdiff upgrade` drives
//! it.

use super::{sealed, Database, MigrateError};
use qvdiff_core::Backend;
use qvdiff_sqlite::SqliteDatabase;
use rusqlite::Connection;

impl sealed::Sealed for Connection {}

impl Database for Connection {
    fn backend(&mut self) -> Result<Box<dyn Backend + '_>, MigrateError> {
        Ok(Box::new(SqliteDatabase::borrowing(self)))
    }
}
