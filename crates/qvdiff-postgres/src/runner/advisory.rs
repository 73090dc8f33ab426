//! The migration lock: a session advisory lock on [`ADVISORY_LOCK_KEY`], polled (see the
//! runner's module docs for why it polls rather than waits), held around a run's work and
//! released with the settings the run put back.

use super::errors::migration_lock_held;
use super::{RunError, ADVISORY_LOCK_KEY};
use crate::error::PgError;
use crate::session::Session;
use std::time::{Duration, Instant};

/// Takes the migration lock, polling for at most `timeout` (see the module docs for why it
/// polls).
fn acquire_lock(
    session: &mut (impl Session + ?Sized),
    database: &str,
    timeout: Duration,
) -> Result<(), RunError> {
    poll_lock(session, database, timeout, "pg_try_advisory_lock")
}

/// Polls `try_function` (`pg_try_advisory_lock`, or `pg_try_advisory_xact_lock` for a lock that
/// ends with the caller's transaction) on the migration lock for at most `timeout`.
pub(super) fn poll_lock(
    session: &mut (impl Session + ?Sized),
    database: &str,
    timeout: Duration,
    try_function: &str,
) -> Result<(), RunError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let locked = session
            .query_value(&format!("SELECT {try_function}({ADVISORY_LOCK_KEY})"))
            .map_err(|e| {
                PgError::new(
                    format!("taking the migration lock on {database}"),
                    e.message,
                )
            })?;
        if locked.as_deref() == Some("t") {
            return Ok(());
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(migration_lock_held(database, timeout, lock_holder(session)));
        }
        std::thread::sleep(pause.min(timeout - elapsed));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Who holds the migration lock, as far as this user may see (`pg_stat_activity` hides other
/// users' details from unprivileged roles). Best effort: `None` on any error.
fn lock_holder(session: &mut (impl Session + ?Sized)) -> Option<String> {
    let rows = session
        .simple_query(&format!(
            "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND ((l.classid::bigint << 32) | l.objid::bigint) = {ADVISORY_LOCK_KEY} \
             LIMIT 1"
        ))
        .ok()?;
    let mut row = rows.into_iter().next()?.into_iter();
    let pid = row.next()??;
    let mut holder = format!("process {pid}");
    if let Some(application) = row.next()?.filter(|a| !a.is_empty()) {
        holder.push_str(&format!(" ({application})"));
    }
    if let Some(user) = row.next()? {
        holder.push_str(&format!(" of user {user}"));
    }
    if let Some(host) = row.next()? {
        holder.push_str(&format!(" from {host}"));
    }
    Some(holder)
}

/// Runs `work` under the migration lock and releases it afterwards, whatever happened. What
/// `work` pushes on its second argument's `restore` (expressions of a `SELECT` list that put
/// back settings it changed) runs with the unlock, in the same round trip; `work` may send both
/// itself with its last `COMMIT` (see [`Release`]).
pub(super) fn with_lock<S: Session + ?Sized, T>(
    session: &mut S,
    database: &str,
    timeout: Duration,
    work: impl FnOnce(&mut S, &mut Release) -> Result<T, RunError>,
) -> Result<T, RunError> {
    acquire_lock(session, database, timeout)?;
    let mut release = Release::default();
    let mut result = work(session, &mut release);
    if release.sent {
        return result;
    }
    let restore = release.restore;
    if result.is_err() {
        // Whatever failed, no transaction may stay open: an aborted one would refuse the unlock
        // and every later statement on this connection. Outside a transaction this only warns.
        let _ = session.execute("ROLLBACK");
    }
    // A removed enum value that rows hold: said in rows, read from the rolled-back database.
    if let Err(RunError::Statement { failed, .. }) = &mut result {
        if let Some(rows) = crate::enums::explain_removed_value(session, &failed.message) {
            failed.message = format!(
                "{}
  {rows}",
                failed.message
            );
        }
    }
    // An unlock fails only with the connection gone, and the lock went with it (or with a
    // setting that cannot be put back: then the lock is released on its own).
    let unlock = format!("pg_advisory_unlock({ADVISORY_LOCK_KEY})");
    let restored = restore.is_empty()
        || session
            .execute(&format!("SELECT {}, {unlock}", restore.join(", ")))
            .is_ok();
    if !restored || restore.is_empty() {
        let _ = session.execute(&format!("SELECT {unlock}"));
    }
    result
}

/// The end of a run under the migration lock: settings to put back, then the unlock.
#[derive(Default)]
pub(super) struct Release {
    /// Expressions of a `SELECT` list that put back settings the run changed.
    pub(super) restore: Vec<String>,
    /// Whether the run sent both with its last `COMMIT` ([`Release::around_commit`]).
    pub(super) sent: bool,
}

impl Release {
    /// What goes before and after a run's last `COMMIT`, in its round trip: the settings put
    /// back inside the transaction (a failure there fails the `COMMIT`: nothing is committed,
    /// and `with_lock` releases as usual), the unlock after it.
    pub(super) fn around_commit(&self) -> (String, String) {
        let before = if self.restore.is_empty() {
            String::new()
        } else {
            format!("SELECT {};\n", self.restore.join(", "))
        };
        (
            before,
            format!(";\nSELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})"),
        )
    }
}
