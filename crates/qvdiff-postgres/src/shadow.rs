//! Replaying migrations on a real server, for histories the replay cannot read (views,
//! functions, triggers written by hand) when a server is at hand (`--db`).
//!
//! Everything runs inside one transaction in a schema of its own, first on the `search_path`,
//! and the transaction is always rolled back: PostgreSQL's DDL is transactional, so the
//! database is left exactly as it was, and concurrent sessions never see the shadow schema.
//! Statements that cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`, …) run without
//! the `CONCURRENTLY` keyword there: the schema they produce is the same.

use crate::error::PgError;
use crate::introspect::introspect_in;
use crate::sqltext::{needs_autocommit, split_statements};
use postgres::Client;
use qvdiff_core::Schema;

/// The schema `scripts` (`(revision, up SQL)` in order) produce from an empty schema, run on
/// the server behind `client` and rolled back. An error names the revision and the statement.
pub fn replay_on_server<'a>(
    client: &mut Client,
    scripts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Schema, PgError> {
    let context = "replaying the migrations on the server (rolled back)";
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::from_pg(context, e))?;
    let schema_name = format!("qvdiff_shadow_{}", std::process::id());
    tx.batch_execute(&format!(
        "CREATE SCHEMA \"{schema_name}\"; SET LOCAL search_path TO \"{schema_name}\""
    ))
    .map_err(|e| PgError::from_pg(context, e))?;
    for (revision, sql) in scripts {
        for statement in split_statements(sql) {
            let text = statement.text(sql);
            let text = if needs_autocommit(&statement.words(sql)) {
                without_concurrently(text)
            } else {
                text.to_string()
            };
            tx.batch_execute(&text).map_err(|e| {
                PgError::from_pg(
                    format!(
                        "replaying revision {revision} on the server: `{}`",
                        text.lines().next().unwrap_or_default()
                    ),
                    e,
                )
            })?;
        }
    }
    let schema = introspect_in(&mut tx, &schema_name)?;
    tx.rollback().map_err(|e| PgError::from_pg(context, e))?;
    Ok(schema)
}

/// The statement without its `CONCURRENTLY` keyword (the first bare word of that spelling).
fn without_concurrently(statement: &str) -> String {
    let upper = statement.to_ascii_uppercase();
    match upper.find(" CONCURRENTLY") {
        Some(at) => format!(
            "{}{}",
            &statement[..at],
            &statement[at + " CONCURRENTLY".len()..]
        ),
        None => statement.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_concurrently;

    #[test]
    fn concurrently_is_dropped_for_the_shadow() {
        assert_eq!(
            without_concurrently("CREATE INDEX CONCURRENTLY \"ix\" ON \"t\" (\"a\")"),
            "CREATE INDEX \"ix\" ON \"t\" (\"a\")"
        );
        assert_eq!(without_concurrently("DROP TABLE \"t\""), "DROP TABLE \"t\"");
    }
}
