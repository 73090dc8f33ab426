//! `Migrator` on a `rusqlite::Connection`: qvdiff's SQLite runner, as `qvdiff upgrade` runs it.

use super::{sealed, Database, MigrateError, RunOptions, RunReport};
use qvdiff_core::backend::backend_error;
use qvdiff_core::runner::{AppliedRevision, Migrations};
use qvdiff_core::Schema;
use qvdiff_sqlite::{comparable, introspect, runner};
use rusqlite::Connection;

impl sealed::Sealed for Connection {}

impl Database for Connection {
    fn upgrade_to_head(
        &mut self,
        migrations: &Migrations,
        options: &RunOptions,
    ) -> Result<RunReport, MigrateError> {
        runner::upgrade(self, migrations, "head", options)
            .map_err(|e| MigrateError::Run(backend_error(e)))
    }

    fn applied(&mut self) -> Result<Vec<AppliedRevision>, MigrateError> {
        runner::applied(self).map_err(|e| MigrateError::Run(backend_error(e)))
    }

    fn live_schema(&mut self) -> Result<Schema, MigrateError> {
        introspect(self)
            .map(|schema| comparable(&schema))
            .map_err(|e| MigrateError::Database(e.to_string()))
    }

    fn comparable(&self, schema: &Schema) -> Schema {
        comparable(schema)
    }
}
