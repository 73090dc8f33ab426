//! The migration lock: a session advisory lock on [`ADVISORY_LOCK_KEY`], polled (see the
//! runner's module docs for why it polls rather than waits).

use super::{RunError, ADVISORY_LOCK_KEY};
use crate::error::PgError;
use crate::session::Session;
use std::time::{Duration, Instant};

/// Takes the migration lock, polling for at most `timeout` (see the module docs for why it
/// polls).
pub(super) fn acquire_lock(
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
            return Err(RunError::Locked {
                database: database.to_string(),
                waited: timeout,
                holder: lock_holder(session),
            });
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
