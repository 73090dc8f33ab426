//! The ledger table `qvdiff_migrations`: which revisions a database has, with the checksum of
//! each file as it was applied.
//!
//! The columns are the SQLite ledger's (`revision`, `checksum`, `message`, `applied_at` as UTC
//! ISO-8601 text, `execution_ms`) plus `applied_order`, an identity column. SQLite orders rows by
//! its implicit `rowid`; PostgreSQL has no stable equivalent (`ctid` changes on update), and
//! `applied_at` has one-second resolution, so several revisions applied in the same second could
//! not be told apart by it. The identity column is filled by the server and never written by
//! qvdiff.
//!
//! A database without the table has nothing applied. The table is created (`IF NOT EXISTS`) by
//! the first `upgrade` or `stamp` inside the same transaction as the revisions it records, so a
//! failed first upgrade leaves no empty ledger behind. It lives in the first schema of the
//! connection's `search_path`, as any unqualified table a migration creates.

use crate::error::PgError;
use crate::render::quote_string;
use postgres::GenericClient;
use qvdiff_core::runner::{AcceptedEdit, AppliedRevision, Migration, AUDIT_TABLE, LEDGER_TABLE};

/// `CREATE TABLE` of the ledger. `IF NOT EXISTS` because it runs on every upgrade; the runner's
/// advisory lock keeps two first upgrades from both creating it.
pub const CREATE_LEDGER_SQL: &str = "CREATE TABLE IF NOT EXISTS \"qvdiff_migrations\" (\n    \
     \"revision\" text PRIMARY KEY,\n    \
     \"checksum\" text NOT NULL,\n    \
     \"message\" text NOT NULL,\n    \
     \"applied_at\" text NOT NULL,\n    \
     \"execution_ms\" bigint NOT NULL,\n    \
     \"applied_order\" bigint GENERATED ALWAYS AS IDENTITY\n)";

/// The server's clock as UTC ISO-8601 (`2026-11-24T10:15:00Z`), the format of `applied_at`.
/// `clock_timestamp()`, not `now()`: `now()` is the start of the transaction, and every revision
/// of a run would get the same time.
pub const APPLIED_AT_SQL: &str =
    "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

fn ledger_error(context: &str, error: postgres::Error) -> PgError {
    PgError::from_pg(format!("{context} (table {LEDGER_TABLE})"), error)
}

/// Whether the database has a ledger table (in the connection's `search_path`).
pub fn ledger_exists(client: &mut impl GenericClient) -> Result<bool, PgError> {
    client
        .query_one(
            "SELECT to_regclass('\"qvdiff_migrations\"') IS NOT NULL",
            &[],
        )
        .and_then(|row| row.try_get::<_, bool>(0))
        .map_err(|e| ledger_error("looking for the ledger", e))
}

/// Every ledger row, in the order the revisions were applied. Empty without a ledger table.
pub fn read_ledger(client: &mut impl GenericClient) -> Result<Vec<AppliedRevision>, PgError> {
    if !ledger_exists(client)? {
        return Ok(Vec::new());
    }
    let read = |e| ledger_error("reading the ledger", e);
    let rows = client
        .query(
            "SELECT revision, checksum, message, applied_at, execution_ms \
             FROM \"qvdiff_migrations\" ORDER BY applied_order",
            &[],
        )
        .map_err(read)?;
    rows.iter()
        .map(|row| {
            Ok(AppliedRevision {
                revision: row.try_get(0)?,
                checksum: row.try_get(1)?,
                message: row.try_get(2)?,
                applied_at: row.try_get(3)?,
                execution_ms: row.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, postgres::Error>>()
        .map_err(read)
}

/// Creates the ledger table if it does not exist.
pub(crate) fn create_ledger(client: &mut impl GenericClient) -> Result<(), PgError> {
    client
        .batch_execute(CREATE_LEDGER_SQL)
        .map_err(|e| ledger_error("creating the ledger", e))
}

/// Records `migration` as applied now, having taken `execution_ms`.
pub(crate) fn record_applied(
    client: &mut impl GenericClient,
    migration: &Migration,
    execution_ms: i64,
) -> Result<(), PgError> {
    client
        .execute(
            &format!(
                "INSERT INTO \"qvdiff_migrations\" \
                 (revision, checksum, message, applied_at, execution_ms) \
                 VALUES ($1, $2, $3, {APPLIED_AT_SQL}, $4)"
            ),
            &[
                &migration.file.revision,
                &migration.checksum,
                &migration.file.message,
                &execution_ms,
            ],
        )
        .map(|_| ())
        .map_err(|e| {
            ledger_error(
                &format!("recording revision {}", migration.file.revision),
                e,
            )
        })
}

/// Stores the current checksum and message of an applied revision (`stamp` after an intended
/// edit).
pub(crate) fn update_checksum(
    client: &mut impl GenericClient,
    migration: &Migration,
) -> Result<(), PgError> {
    client
        .execute(
            "UPDATE \"qvdiff_migrations\" SET checksum = $2, message = $3 WHERE revision = $1",
            &[
                &migration.file.revision,
                &migration.checksum,
                &migration.file.message,
            ],
        )
        .map(|_| ())
        .map_err(|e| ledger_error(&format!("updating revision {}", migration.file.revision), e))
}

/// Removes a revision from the ledger.
pub(crate) fn forget(client: &mut impl GenericClient, revision: &str) -> Result<(), PgError> {
    client
        .execute(
            "DELETE FROM \"qvdiff_migrations\" WHERE revision = $1",
            &[&revision],
        )
        .map(|_| ())
        .map_err(|e| ledger_error(&format!("removing revision {revision}"), e))
}

/// `CREATE TABLE` of the audit table beside the ledger (`qvdiff accept`); `accepted_order`
/// orders its rows as `applied_order` orders the ledger's.
pub const CREATE_AUDIT_SQL: &str = "CREATE TABLE IF NOT EXISTS \"qvdiff_migrations_audit\" (\n    \
     \"revision\" text NOT NULL,\n    \
     \"old_checksum\" text NOT NULL,\n    \
     \"new_checksum\" text NOT NULL,\n    \
     \"reason\" text NOT NULL,\n    \
     \"accepted_at\" text NOT NULL,\n    \
     \"accepted_order\" bigint GENERATED ALWAYS AS IDENTITY\n)";

fn audit_error(context: &str, error: postgres::Error) -> PgError {
    PgError::from_pg(format!("{context} (table {AUDIT_TABLE})"), error)
}

fn audit_row(row: &postgres::Row) -> Result<AcceptedEdit, postgres::Error> {
    Ok(AcceptedEdit {
        revision: row.try_get(0)?,
        old_checksum: row.try_get(1)?,
        new_checksum: row.try_get(2)?,
        reason: row.try_get(3)?,
        accepted_at: row.try_get(4)?,
    })
}

/// Every accepted edit, oldest first. Empty without an audit table.
pub fn read_audit(client: &mut impl GenericClient) -> Result<Vec<AcceptedEdit>, PgError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('\"qvdiff_migrations_audit\"') IS NOT NULL",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|e| audit_error("looking for the audit table", e))?;
    if !exists {
        return Ok(Vec::new());
    }
    let read = |e| audit_error("reading the audit table", e);
    let rows = client
        .query(
            "SELECT revision, old_checksum, new_checksum, reason, accepted_at \
             FROM \"qvdiff_migrations_audit\" ORDER BY accepted_order",
            &[],
        )
        .map_err(read)?;
    rows.iter()
        .map(audit_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)
}

/// Records an accepted edit at the server's time (creating the audit table when missing) and
/// returns the row.
pub(crate) fn record_accepted(
    client: &mut impl GenericClient,
    revision: &str,
    old_checksum: &str,
    new_checksum: &str,
    reason: &str,
) -> Result<AcceptedEdit, PgError> {
    client
        .batch_execute(CREATE_AUDIT_SQL)
        .map_err(|e| audit_error("creating the audit table", e))?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO \"qvdiff_migrations_audit\" \
                 (revision, old_checksum, new_checksum, reason, accepted_at) \
                 VALUES ($1, $2, $3, $4, {APPLIED_AT_SQL}) \
                 RETURNING revision, old_checksum, new_checksum, reason, accepted_at"
            ),
            &[&revision, &old_checksum, &new_checksum, &reason],
        )
        .map_err(|e| audit_error(&format!("recording the edit of revision {revision}"), e))?;
    audit_row(&row).map_err(|e| audit_error("reading the recorded edit", e))
}

/// The ledger `INSERT` of an offline script (`qvdiff sql`): the time is the server's clock when
/// the script runs, and no execution time is known.
pub fn offline_insert_sql(migration: &Migration) -> String {
    format!(
        "INSERT INTO \"qvdiff_migrations\" (revision, checksum, message, applied_at, \
         execution_ms) VALUES ({}, {}, {}, {APPLIED_AT_SQL}, 0);",
        quote_string(&migration.file.revision),
        quote_string(&migration.checksum),
        quote_string(&migration.file.message)
    )
}

/// The ledger `DELETE` of an offline downgrade script.
pub fn offline_delete_sql(revision: &str) -> String {
    format!(
        "DELETE FROM \"qvdiff_migrations\" WHERE revision = {};",
        quote_string(revision)
    )
}
