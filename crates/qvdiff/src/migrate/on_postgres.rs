//! `Migrator` on a `postgres::Client`: qvdiff's PostgreSQL backend, as `qvdiff upgrade` drives
//! it.

use super::{sealed, Database, MigrateError};
use postgres::Client;
use qvdiff_core::Backend;
use qvdiff_postgres::PostgresDatabase;

impl sealed::Sealed for Client {}

impl Database for Client {
    fn backend(&mut self) -> Result<Box<dyn Backend + '_>, MigrateError> {
        Ok(Box::new(PostgresDatabase::on_session(self)))
    }
}

/// Connects to `url` the way `qvdiff upgrade` does: TLS per libpq's `sslmode` and
/// `sslrootcert` (`prefer` by default), the password from the URL, `PGPASSWORD` or `~/.pgpass`,
/// a connect timeout, and `application_name = qvdiff` unless the URL sets one. Errors name the
/// URL without its password.
pub fn connect_postgres(url: &str) -> Result<Client, MigrateError> {
    qvdiff_postgres::connect(url).map_err(|e| MigrateError::Database(e.to_string()))
}
