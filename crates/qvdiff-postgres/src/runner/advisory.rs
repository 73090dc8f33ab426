//! The migration lock: a session advisory lock on [`ADVISORY_LOCK_KEY`], polled (see the
//! runner's module docs for why it polls rather than waits), held around a run's work and
//! released with the settings the run put back.

use super::errors::migration_lock_held;
use super::{RunError, ADVISORY_LOCK_KEY};
use crate::error::PgError;
use crate::render::quote_string;
use crate::session::{Session, SessionError, TextRow};
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
    let query = format!("SELECT {try_function}({ADVISORY_LOCK_KEY})");
    poll(session, database, timeout, |session| {
        let locked = session.query_value(&query)?;
        Ok((locked.as_deref() == Some("t")).then_some(()))
    })
}

/// Calls `attempt` until it takes the migration lock (`Some`), pausing between attempts (5 ms,
/// doubling, at most 100 ms), for at most `timeout`; then the error names who holds the lock.
fn poll<S: Session + ?Sized, T>(
    session: &mut S,
    database: &str,
    timeout: Duration,
    mut attempt: impl FnMut(&mut S) -> Result<Option<T>, SessionError>,
) -> Result<T, RunError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let taken = attempt(session).map_err(|e| {
            PgError::new(
                format!("taking the migration lock on {database}"),
                e.message,
            )
        })?;
        if let Some(taken) = taken {
            return Ok(taken);
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(migration_lock_held(database, timeout, lock_holder(session)));
        }
        std::thread::sleep(pause.min(timeout - elapsed));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// The condition on a row of `pg_locks` that it is the migration lock.
fn is_migration_lock(row: &str) -> String {
    format!(
        "{row}.locktype = 'advisory' AND {row}.granted AND {row}.objsubid = 1 \
         AND {row}.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND (({row}.classid::bigint << 32) | {row}.objid::bigint) = {ADVISORY_LOCK_KEY}"
    )
}

/// What a run sends in the round trip that takes the migration lock, besides the lock: a
/// session setting it changes once it holds the lock, and a query it reads under the lock.
pub(super) struct UnderLock<'a> {
    /// The setting's name and the run's value: set for the session (outside any transaction, so
    /// a rollback keeps it) and put back with the unlock.
    pub(super) setting: (&'a str, String),
    /// Read right after the lock is taken (the ledger).
    pub(super) read: &'a str,
    /// Whether `read` can run (its table exists), as an expression of a `SELECT` list: asked
    /// when `read` failed.
    pub(super) readable: &'a str,
}

/// The query of an attempt to take the lock in [`with_lock_reading`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attempt {
    /// The lock, the setting and the read (until the read fails).
    LockAndRead,
    /// Whether the attempt whose read failed took the lock, with the setting.
    Held,
    /// The lock, then whether it is held, with the setting.
    LockThenHeld,
}

/// What the round trip that took the lock brought back: the setting's value before the run
/// changed it, and the rows of the read (`None`: to be read again, by the run itself).
type Taken = (String, Option<Vec<TextRow>>);

/// Runs `work` under the migration lock as [`with_lock`] does, with the lock, `under.setting`
/// and `under.read` in one round trip: `work` gets the read's rows, or `None` when it must read
/// by itself.
///
/// One simple-query string keeps the order on the server: the lock is tried first, the setting
/// is changed only when it was taken (polled again otherwise), and the read runs after it, as a
/// statement of its own in `READ COMMITTED` whatever the session's default, so its snapshot
/// sees every run that released the lock before. The string is one implicit transaction: when
/// the read fails (a first run finds no ledger), the setting is rolled back with it, but a
/// session advisory lock taken in it stays held (rollbacks do not release those). Then one
/// more query asks whether the lock is held and, when it is, sets the setting and asks
/// `under.readable`: with nothing to read, `work` gets no rows; otherwise it reads by itself
/// (and reports the failure). While the lock is not held, later attempts take it first in the
/// same string, and the read follows in a later statement, as before.
pub(super) fn with_lock_reading<S: Session + ?Sized, T>(
    session: &mut S,
    database: &str,
    timeout: Duration,
    under: &UnderLock<'_>,
    work: impl FnOnce(&mut S, &mut Release, Option<Vec<TextRow>>) -> Result<T, RunError>,
) -> Result<T, RunError> {
    let (name, value) = (
        quote_string(under.setting.0),
        quote_string(&under.setting.1),
    );
    // Values when `taken`: the setting before, the setting changed, and `extra`.
    let when_taken = |taken: &str, extra: &str| {
        format!(
            "SELECT taking.taken, taking.previous, \
             CASE WHEN taking.taken THEN set_config({name}, {value}, false) END{extra} \
             FROM (SELECT {taken} AS taken, current_setting({name}) AS previous OFFSET 0) \
             AS taking"
        )
    };
    let lock_and_read = format!(
        "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\n{};\n{}",
        when_taken(&format!("pg_try_advisory_lock({ADVISORY_LOCK_KEY})"), ""),
        under.read
    );
    let held = when_taken(
        &format!(
            "EXISTS (SELECT FROM pg_locks l WHERE l.pid = pg_backend_pid() AND {})",
            is_migration_lock("l")
        ),
        &format!(", CASE WHEN taking.taken THEN {} END", under.readable),
    );
    let lock_then_held = format!("SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY});\n{held}");
    let mut next = Attempt::LockAndRead;
    let taken: Taken = poll(session, database, timeout, |session| {
        if next == Attempt::LockAndRead {
            match session.simple_query(&lock_and_read) {
                Ok(rows) => {
                    // The lock's row first, then the read's.
                    let mut rows = rows.into_iter();
                    let mut lock = rows.next().unwrap_or_default().into_iter();
                    if lock.next().flatten().as_deref() != Some("t") {
                        return Ok(None);
                    }
                    let previous = lock.next().flatten().unwrap_or_default();
                    return Ok(Some((previous, Some(rows.collect()))));
                }
                Err(error) if error.closed => return Err(error),
                Err(_) => next = Attempt::Held,
            }
        }
        let query = if next == Attempt::Held {
            &held
        } else {
            &lock_then_held
        };
        let rows = session.simple_query(query)?;
        next = Attempt::LockThenHeld;
        // The last row is `held`'s: taken, the setting before, set, readable.
        let mut values = rows.into_iter().last().unwrap_or_default().into_iter();
        if values.next().flatten().as_deref() != Some("t") {
            return Ok(None);
        }
        let previous = values.next().flatten().unwrap_or_default();
        let readable = values.nth(1).flatten().as_deref() == Some("t");
        Ok(Some((previous, (!readable).then(Vec::new))))
    })?;
    released_after(session, |session, release| {
        let (previous, rows) = taken;
        release
            .restore
            .push(restore_setting(under.setting.0, &previous));
        work(session, release, rows)
    })
}

/// The expression of a `SELECT` list that puts `setting` back to `previous`: the connection may
/// be an application's.
fn restore_setting(setting: &str, previous: &str) -> String {
    format!(
        "set_config({}, {}, false)",
        quote_string(setting),
        quote_string(previous)
    )
}

/// Who holds the migration lock, as far as this user may see (`pg_stat_activity` hides other
/// users' details from unprivileged roles). Best effort: `None` on any error.
fn lock_holder(session: &mut (impl Session + ?Sized)) -> Option<String> {
    let rows = session
        .simple_query(&format!(
            "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr) \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE {} LIMIT 1",
            is_migration_lock("l")
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
    released_after(session, work)
}

/// Runs `work` with the migration lock held, then releases it (see [`with_lock`]).
fn released_after<S: Session + ?Sized, T>(
    session: &mut S,
    work: impl FnOnce(&mut S, &mut Release) -> Result<T, RunError>,
) -> Result<T, RunError> {
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
