//! `Migrator` on an `sqlx::SqlitePool`: qvdiff's SQLite runner on one connection of the pool.
//!
//! sqlx and rusqlite link the same SQLite (one `libsqlite3-sys`), so the runner is handed the
//! pool connection's own `sqlite3` handle, locked for the run: the ledger, the write lock, the
//! foreign-key handling, the preflight refusals and the online backup are the code `qvdiff
//! upgrade` runs, not a second implementation. The run is synchronous SQLite work, like every
//! statement sqlx runs on SQLite; it happens on the task that awaits it, once, at start-up.

use super::{sealed, BackendWork, MigrateError, Pool, PoolFuture};
use qvdiff_sqlite::SqliteDatabase;
use rusqlite::Connection;
use sqlx::SqlitePool;

impl sealed::Sealed for SqlitePool {}

fn driver_error(context: &str, error: impl std::fmt::Display) -> MigrateError {
    MigrateError::Database(format!("{context}: {error}"))
}

/// Runs `work` with a rusqlite connection over a pool connection's handle, and leaves the pool
/// connection as it was (its busy timeout is sqlx's again afterwards).
async fn with_pool_connection<T>(
    pool: &SqlitePool,
    work: impl FnOnce(&mut Connection) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let mut pooled = pool
        .acquire()
        .await
        .map_err(|e| driver_error("taking a connection from the pool", e))?;
    let mut handle = pooled
        .lock_handle()
        .await
        .map_err(|e| driver_error("locking the pool connection", e))?;
    // SAFETY: the handle is a live `sqlite3*` of the same SQLite library rusqlite links (one
    // `libsqlite3-sys`, which the types check), and the lock guarantees sqlx's worker makes no
    // call on it until `handle` is dropped, after the rusqlite connection is. `from_handle`
    // makes a connection that does not close the handle when dropped.
    let mut conn = unsafe { Connection::from_handle(handle.as_raw_handle().as_ptr()) }
        .map_err(|e| driver_error("using the pool connection", e))?;
    let busy_timeout: i64 = conn
        .query_row("PRAGMA busy_timeout", [], |row| row.get(0))
        .map_err(|e| driver_error("reading the pool connection's busy timeout", e))?;
    let result = work(&mut conn);
    // The runner sets its own busy timeout; the pool's connections keep sqlx's.
    let restored = conn.execute_batch(&format!("PRAGMA busy_timeout = {busy_timeout}"));
    drop(conn);
    drop(handle);
    let value = result?;
    restored.map_err(|e| driver_error("restoring the pool connection's busy timeout", e))?;
    Ok(value)
}

impl Pool for SqlitePool {
    fn with_backend<T: Send + 'static>(&self, work: BackendWork<T>) -> PoolFuture<'_, T> {
        Box::pin(with_pool_connection(self, move |conn| {
            work(&mut SqliteDatabase::borrowing(conn))
        }))
    }
}
