//! `Migrator` on a `postgres::Client`: qvdiff's PostgreSQL runner, as `qvdiff upgrade` runs it.

use super::postgres_session::{applied_on, live_schema_on, upgrade_on, DIALECT};
use super::{sealed, Database, MigrateError, RunOptions, RunReport};
use postgres::Client;
use qvdiff_core::runner::{AppliedRevision, Migrations};
use qvdiff_core::{Dialect, Schema};

impl sealed::Sealed for Client {}

impl Database for Client {
    fn upgrade_to_head(
        &mut self,
        migrations: &Migrations,
        options: &RunOptions,
    ) -> Result<RunReport, MigrateError> {
        upgrade_on(self, migrations, options)
    }

    fn applied(&mut self) -> Result<Vec<AppliedRevision>, MigrateError> {
        applied_on(self)
    }

    fn live_schema(&mut self) -> Result<Schema, MigrateError> {
        live_schema_on(self)
    }

    fn comparable(&self, schema: &Schema) -> Schema {
        DIALECT.comparable(schema)
    }
}

/// Connects to `url` the way `qvdiff upgrade` does: TLS per libpq's `sslmode` and
/// `sslrootcert` (`prefer` by default), the password from the URL, `PGPASSWORD` or `~/.pgpass`,
/// a connect timeout, and `application_name = qvdiff` unless the URL sets one. Errors name the
/// URL without its password.
pub fn connect_postgres(url: &str) -> Result<Client, MigrateError> {
    qvdiff_postgres::connect(url).map_err(|e| MigrateError::Database(e.to_string()))
}
