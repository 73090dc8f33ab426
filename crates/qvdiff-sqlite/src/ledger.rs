//! The ledger table `qvdiff_migrations`: which revisions a database has, with the checksum of
//! each file as it was applied.
//!
//! A database without the table has nothing applied. The table is created by the first
//! `upgrade` (or `stamp`) inside the same transaction as the revisions it records, so a failed
//! first upgrade leaves no empty ledger behind.

use crate::error::SqliteError;
use crate::render::quote_string;
use qvdiff_core::runner::{
    AcceptPlan, AcceptedEdit, AppliedRevision, Migration, AUDIT_TABLE, LEDGER_TABLE,
};
use rusqlite::Connection;
use std::time::{SystemTime, UNIX_EPOCH};

/// `CREATE TABLE` of the ledger. `IF NOT EXISTS` because it runs on every upgrade, under the
/// write lock, so two first upgrades cannot both create it.
pub const CREATE_LEDGER_SQL: &str = "CREATE TABLE IF NOT EXISTS \"qvdiff_migrations\" (\n    \
     \"revision\" TEXT PRIMARY KEY NOT NULL,\n    \
     \"checksum\" TEXT NOT NULL,\n    \
     \"message\" TEXT NOT NULL,\n    \
     \"applied_at\" TEXT NOT NULL,\n    \
     \"execution_ms\" INTEGER NOT NULL\n)";

fn ledger_error(context: &str, error: rusqlite::Error) -> SqliteError {
    SqliteError::database(format!("{context} (table {LEDGER_TABLE})"), error)
}

/// Whether the database has a ledger table.
pub fn ledger_exists(conn: &Connection) -> Result<bool, SqliteError> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [LEDGER_TABLE],
        |row| row.get::<_, i64>(0),
    )
    .map(|count| count > 0)
    .map_err(|e| ledger_error("looking for the ledger", e))
}

/// Every ledger row, in the order the revisions were applied. Empty without a ledger table.
pub fn read_ledger(conn: &Connection) -> Result<Vec<AppliedRevision>, SqliteError> {
    if !ledger_exists(conn)? {
        return Ok(Vec::new());
    }
    let read = |e| ledger_error("reading the ledger", e);
    let mut statement = conn
        .prepare(
            "SELECT revision, checksum, message, applied_at, execution_ms \
             FROM \"qvdiff_migrations\" ORDER BY rowid",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok(AppliedRevision {
                revision: row.get(0)?,
                checksum: row.get(1)?,
                message: row.get(2)?,
                applied_at: row.get(3)?,
                execution_ms: row.get(4)?,
            })
        })
        .map_err(read)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(read)
}

/// Creates the ledger table if it does not exist.
pub(crate) fn create_ledger(conn: &Connection) -> Result<(), SqliteError> {
    conn.execute_batch(CREATE_LEDGER_SQL)
        .map_err(|e| ledger_error("creating the ledger", e))
}

/// Records `migration` as applied now, having taken `execution_ms`.
pub(crate) fn record_applied(
    conn: &Connection,
    migration: &Migration,
    execution_ms: i64,
) -> Result<(), SqliteError> {
    conn.execute(
        "INSERT INTO \"qvdiff_migrations\" \
         (revision, checksum, message, applied_at, execution_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            migration.file.revision,
            migration.checksum,
            migration.file.message,
            utc_now_iso8601(),
            execution_ms
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
pub(crate) fn update_checksum(conn: &Connection, migration: &Migration) -> Result<(), SqliteError> {
    conn.execute(
        "UPDATE \"qvdiff_migrations\" SET checksum = ?2, message = ?3 WHERE revision = ?1",
        rusqlite::params![
            migration.file.revision,
            migration.checksum,
            migration.file.message
        ],
    )
    .map(|_| ())
    .map_err(|e| ledger_error(&format!("updating revision {}", migration.file.revision), e))
}

/// Removes a revision from the ledger.
pub(crate) fn forget(conn: &Connection, revision: &str) -> Result<(), SqliteError> {
    conn.execute(
        "DELETE FROM \"qvdiff_migrations\" WHERE revision = ?1",
        [revision],
    )
    .map(|_| ())
    .map_err(|e| ledger_error(&format!("removing revision {revision}"), e))
}

/// `CREATE TABLE` of the audit table beside the ledger (`qvdiff accept`).
pub const CREATE_AUDIT_SQL: &str = "CREATE TABLE IF NOT EXISTS \"qvdiff_migrations_audit\" (\n    \
     \"revision\" TEXT NOT NULL,\n    \
     \"old_checksum\" TEXT NOT NULL,\n    \
     \"new_checksum\" TEXT NOT NULL,\n    \
     \"reason\" TEXT NOT NULL,\n    \
     \"accepted_at\" TEXT NOT NULL\n)";

fn audit_error(context: &str, error: rusqlite::Error) -> SqliteError {
    SqliteError::database(format!("{context} (table {AUDIT_TABLE})"), error)
}

/// Every accepted edit, oldest first. Empty without an audit table.
pub fn read_audit(conn: &Connection) -> Result<Vec<AcceptedEdit>, SqliteError> {
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [AUDIT_TABLE],
            |row| row.get(0),
        )
        .map_err(|e| audit_error("looking for the audit table", e))?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let read = |e| audit_error("reading the audit table", e);
    let mut statement = conn
        .prepare(
            "SELECT revision, old_checksum, new_checksum, reason, accepted_at \
             FROM \"qvdiff_migrations_audit\" ORDER BY rowid",
        )
        .map_err(read)?;
    let rows = statement
        .query_map([], |row| {
            Ok(AcceptedEdit {
                revision: row.get(0)?,
                old_checksum: row.get(1)?,
                new_checksum: row.get(2)?,
                reason: row.get(3)?,
                accepted_at: row.get(4)?,
            })
        })
        .map_err(read)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(read)
}

/// Records an accepted edit now (creating the audit table when missing) and returns the row.
pub(crate) fn record_accepted(
    conn: &Connection,
    accepted: &AcceptPlan<'_>,
) -> Result<AcceptedEdit, SqliteError> {
    conn.execute_batch(CREATE_AUDIT_SQL)
        .map_err(|e| audit_error("creating the audit table", e))?;
    let revision = accepted.migration.revision();
    let edit = AcceptedEdit {
        revision: revision.to_string(),
        old_checksum: accepted.old_checksum.clone(),
        new_checksum: accepted.migration.checksum.clone(),
        reason: accepted.reason.clone(),
        accepted_at: utc_now_iso8601(),
    };
    conn.execute(
        "INSERT INTO \"qvdiff_migrations_audit\" \
         (revision, old_checksum, new_checksum, reason, accepted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            edit.revision,
            edit.old_checksum,
            edit.new_checksum,
            edit.reason,
            edit.accepted_at
        ],
    )
    .map_err(|e| audit_error(&format!("recording the edit of revision {revision}"), e))?;
    Ok(edit)
}

/// The ledger `INSERT` of an offline script: the time is the database's clock when the script
/// runs, and no execution time is known.
pub(crate) fn offline_insert_sql(migration: &Migration) -> String {
    format!(
        "INSERT INTO \"qvdiff_migrations\" (revision, checksum, message, applied_at, \
         execution_ms) VALUES ({}, {}, {}, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 0);",
        quote_string(&migration.file.revision),
        quote_string(&migration.checksum),
        quote_string(&migration.file.message)
    )
}

/// The ledger `DELETE` of an offline downgrade script.
pub(crate) fn offline_delete_sql(revision: &str) -> String {
    format!(
        "DELETE FROM \"qvdiff_migrations\" WHERE revision = {};",
        quote_string(revision)
    )
}

/// Seconds since the Unix epoch (0 if the clock is before 1970, which only a broken clock is).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as UTC ISO-8601 with a `Z`: `2026-11-24T10:15:00Z`.
pub fn utc_now_iso8601() -> String {
    let (year, month, day, hour, minute, second) = qvdiff_core::utc_parts(unix_now());
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}
