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
use crate::render::{quote_ident, quote_string};
use crate::session::{Session, SessionError, TextRow};
use qvdiff_core::runner::{
    AcceptPlan, AcceptedEdit, AppliedRevision, Migration, AUDIT_TABLE, LEDGER_TABLE,
};

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

fn ledger_error(context: &str, error: SessionError) -> PgError {
    PgError::new(format!("{context} (table {LEDGER_TABLE})"), error.message)
}

/// Whether the ledger table exists (in the connection's `search_path`), as a value of a
/// `SELECT` list: `t` or `f`.
pub(crate) const LEDGER_EXISTS_SQL: &str = "to_regclass('\"qvdiff_migrations\"') IS NOT NULL";

/// Whether the bookkeeping table `table` exists (found, unqualified, through the connection's
/// `search_path`, as every statement of the runner finds it).
pub(crate) fn table_exists(
    session: &mut (impl Session + ?Sized),
    table: &str,
) -> Result<bool, SessionError> {
    session
        .query_value(&format!("SELECT {}", exists_sql(table)))
        .map(|value| value.as_deref() == Some("t"))
}

/// Whether the bookkeeping table `table` exists, as an expression of a `SELECT` list: `t` or
/// `f`.
pub(crate) fn exists_sql(table: &str) -> String {
    format!(
        "to_regclass({}) IS NOT NULL",
        quote_string(&quote_ident(table))
    )
}

/// Whether the database has a ledger table (in the connection's `search_path`).
pub fn ledger_exists(session: &mut (impl Session + ?Sized)) -> Result<bool, PgError> {
    table_exists(session, LEDGER_TABLE).map_err(|e| ledger_error("looking for the ledger", e))
}

/// Every ledger row, in the order the revisions were applied. Empty without a ledger table.
pub fn read_ledger(session: &mut (impl Session + ?Sized)) -> Result<Vec<AppliedRevision>, PgError> {
    if !ledger_exists(session)? {
        return Ok(Vec::new());
    }
    let rows = session
        .simple_query(LEDGER_ROWS_SQL)
        .map_err(|e| ledger_error("reading the ledger", e))?;
    ledger_from_rows(rows)
}

/// The query of every ledger row, in the order the revisions were applied (read by
/// [`ledger_from_rows`]); it fails when there is no ledger table.
pub(crate) const LEDGER_ROWS_SQL: &str =
    "SELECT revision, checksum, message, applied_at, execution_ms \
     FROM \"qvdiff_migrations\" ORDER BY applied_order";

/// The applied revisions in the rows of [`LEDGER_ROWS_SQL`].
pub(crate) fn ledger_from_rows(rows: Vec<TextRow>) -> Result<Vec<AppliedRevision>, PgError> {
    rows.into_iter()
        .map(|row| {
            let mut values = row.into_iter();
            let mut text = || values.next().flatten().unwrap_or_default();
            let (revision, checksum, message, applied_at) = (text(), text(), text(), text());
            let execution_ms = text();
            Ok(AppliedRevision {
                execution_ms: execution_ms.parse().map_err(|_| {
                    PgError::new(
                        format!("reading the ledger (table {LEDGER_TABLE})"),
                        format!(
                            "revision {revision}: execution_ms {execution_ms:?} is not a number"
                        ),
                    )
                })?,
                revision,
                checksum,
                message,
                applied_at,
            })
        })
        .collect()
}

/// Creates the ledger table if it does not exist.
pub(crate) fn create_ledger(session: &mut (impl Session + ?Sized)) -> Result<(), PgError> {
    session
        .execute(CREATE_LEDGER_SQL)
        .map_err(|e| ledger_error("creating the ledger", e))
}

/// Records `migration` as applied now, having taken `execution_ms`.
pub(crate) fn record_applied(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    execution_ms: i64,
) -> Result<(), PgError> {
    execute_recording(session, migration, &insert_sql(migration, execution_ms))
}

/// Creates the ledger table when it is missing and records `migration` as applied now, in one
/// round trip (the run's transaction holds both).
pub(crate) fn create_and_record(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    execution_ms: i64,
) -> Result<(), PgError> {
    let sql = format!(
        "{CREATE_LEDGER_SQL};\n{}",
        insert_sql(migration, execution_ms)
    );
    execute_recording(session, migration, &sql)
}

/// Runs `sql`, which records `migration`; a failure names the revision.
fn execute_recording(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
    sql: &str,
) -> Result<(), PgError> {
    session.execute(sql).map_err(|e| {
        ledger_error(
            &format!("recording revision {}", migration.file.revision),
            e,
        )
    })
}

/// Stores the current checksum and message of an applied revision (`stamp` after an intended
/// edit).
pub(crate) fn update_checksum(
    session: &mut (impl Session + ?Sized),
    migration: &Migration,
) -> Result<(), PgError> {
    session
        .execute(&format!(
            "UPDATE \"qvdiff_migrations\" SET checksum = {}, message = {} WHERE revision = {}",
            quote_string(&migration.checksum),
            quote_string(&migration.file.message),
            quote_string(&migration.file.revision),
        ))
        .map_err(|e| ledger_error(&format!("updating revision {}", migration.file.revision), e))
}

/// Removes a revision from the ledger.
pub(crate) fn forget(session: &mut (impl Session + ?Sized), revision: &str) -> Result<(), PgError> {
    session
        .execute(&offline_delete_sql(revision))
        .map_err(|e| ledger_error(&format!("removing revision {revision}"), e))
}

/// The ledger `INSERT` recording `migration`, applied now after `execution_ms`.
fn insert_sql(migration: &Migration, execution_ms: i64) -> String {
    format!(
        "INSERT INTO \"qvdiff_migrations\" (revision, checksum, message, applied_at, \
         execution_ms) VALUES ({}, {}, {}, {APPLIED_AT_SQL}, {execution_ms});",
        quote_string(&migration.file.revision),
        quote_string(&migration.checksum),
        quote_string(&migration.file.message)
    )
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

fn audit_error(context: &str, error: SessionError) -> PgError {
    PgError::new(format!("{context} (table {AUDIT_TABLE})"), error.message)
}

fn audit_row(row: TextRow) -> AcceptedEdit {
    let mut values = row.into_iter();
    let mut text = || values.next().flatten().unwrap_or_default();
    AcceptedEdit {
        revision: text(),
        old_checksum: text(),
        new_checksum: text(),
        reason: text(),
        accepted_at: text(),
    }
}

/// Every accepted edit, oldest first. Empty without an audit table.
pub fn read_audit(session: &mut (impl Session + ?Sized)) -> Result<Vec<AcceptedEdit>, PgError> {
    if !table_exists(session, AUDIT_TABLE)
        .map_err(|e| audit_error("looking for the audit table", e))?
    {
        return Ok(Vec::new());
    }
    let rows = session
        .simple_query(
            "SELECT revision, old_checksum, new_checksum, reason, accepted_at \
             FROM \"qvdiff_migrations_audit\" ORDER BY accepted_order",
        )
        .map_err(|e| audit_error("reading the audit table", e))?;
    Ok(rows.into_iter().map(audit_row).collect())
}

/// Records an accepted edit at the server's time (creating the audit table when missing) and
/// returns the row.
pub(crate) fn record_accepted(
    session: &mut (impl Session + ?Sized),
    accepted: &AcceptPlan<'_>,
) -> Result<AcceptedEdit, PgError> {
    let revision = accepted.migration.revision();
    session
        .execute(CREATE_AUDIT_SQL)
        .map_err(|e| audit_error("creating the audit table", e))?;
    let rows = session
        .simple_query(&format!(
            "INSERT INTO \"qvdiff_migrations_audit\" \
             (revision, old_checksum, new_checksum, reason, accepted_at) \
             VALUES ({}, {}, {}, {}, {APPLIED_AT_SQL}) \
             RETURNING revision, old_checksum, new_checksum, reason, accepted_at",
            quote_string(revision),
            quote_string(&accepted.old_checksum),
            quote_string(&accepted.migration.checksum),
            quote_string(&accepted.reason),
        ))
        .map_err(|e| audit_error(&format!("recording the edit of revision {revision}"), e))?;
    rows.into_iter().next().map(audit_row).ok_or_else(|| {
        PgError::new(
            format!("recording the edit of revision {revision} (table {AUDIT_TABLE})"),
            "the server returned no row",
        )
    })
}

/// The ledger `INSERT` of an offline script (`qvdiff sql`): the time is the server's clock when
/// the script runs, and no execution time is known.
pub fn offline_insert_sql(migration: &Migration) -> String {
    insert_sql(migration, 0)
}

/// The ledger `DELETE` of an offline downgrade script.
pub fn offline_delete_sql(revision: &str) -> String {
    format!(
        "DELETE FROM \"qvdiff_migrations\" WHERE revision = {};",
        quote_string(revision)
    )
}
