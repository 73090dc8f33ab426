//! The PostgreSQL runner on any [`Session`]: a `postgres::Client` or a connection of an sqlx
//! pool run the same functions.

use super::{MigrateError, RunOptions, RunReport};
use qvdiff_core::backend::backend_error;
use qvdiff_core::runner::{AppliedRevision, Migrations};
use qvdiff_core::{Dialect, Schema};
pub(super) use qvdiff_postgres::session::Session;
use qvdiff_postgres::{introspect, runner, Postgres};

/// The planner whose `comparable` form introspection is compared in.
pub(super) const DIALECT: Postgres = Postgres {
    concurrent_indexes: false,
};

/// `database <name>` for messages: the URL (and its password) is the application's.
pub(super) fn database_name(session: &mut (impl Session + ?Sized)) -> String {
    match session.query_value("SELECT current_database()") {
        Ok(Some(name)) => format!("database {name}"),
        _ => "the database".to_string(),
    }
}

/// The PostgreSQL runner's upgrade to head on any session.
pub(super) fn upgrade_on(
    session: &mut (impl Session + ?Sized),
    migrations: &Migrations,
    options: &RunOptions,
) -> Result<RunReport, MigrateError> {
    let database = database_name(session);
    runner::upgrade(session, &database, migrations, "head", options)
        .map_err(|e| MigrateError::Run(backend_error(e)))
}

/// The ledger rows on any session.
pub(super) fn applied_on(
    session: &mut (impl Session + ?Sized),
) -> Result<Vec<AppliedRevision>, MigrateError> {
    runner::applied(session).map_err(|e| MigrateError::Run(backend_error(e)))
}

/// The live schema on any session, comparable.
pub(super) fn live_schema_on(
    session: &mut (impl Session + ?Sized),
) -> Result<Schema, MigrateError> {
    introspect(session)
        .map(|schema| DIALECT.comparable(&schema))
        .map_err(|e| MigrateError::Database(e.to_string()))
}
