//! Table locks during a run: `lock_timeout`, the pause between attempts, and the sessions in the
//! way when the runner gives up.
//!
//! A DDL statement that waits for a table lock behind a long transaction (even one that only
//! read the table) sits in the lock queue, and every writer of the table queues behind it: one
//! forgotten `idle in transaction` session would stop the application. So every statement of a
//! run waits at most [`LockRetry::timeout`] (PostgreSQL's `lock_timeout`); on a timeout the
//! runner rolls back what the open transaction did (a revision outside a transaction: the one
//! statement), which lets the writers through, pauses, and tries again, up to
//! [`LockRetry::retries`] more times. Then it gives up and names the sessions holding locks on
//! the statement's tables.
//!
//! `CONCURRENTLY` statements wait without a limit: their locks let writers through, and a
//! concurrent build cut short would leave an invalid index behind.
//!
//! A timeout is recognised by the server's message (the session reports text, not SQLSTATE
//! codes), which is English unless the server's `lc_messages` says otherwise; on a server that
//! translates it, a timed-out statement fails the run at once, still after one timeout.

use crate::render::quote_string;
use crate::session::{Session, SessionError};
use crate::sqltext::{split_statements, TokenKind};
use qvdiff_core::backend::LockRetry;
use std::time::Duration;

/// The server's message for a statement cancelled by `lock_timeout`.
const LOCK_TIMEOUT_MESSAGE: &str = "canceling statement due to lock timeout";

/// Whether a failed statement's message says it waited `lock_timeout` for a lock.
pub(super) fn is_lock_timeout(message: &str) -> bool {
    message.contains(LOCK_TIMEOUT_MESSAGE)
}

/// The pause before attempt `attempt + 1` (`attempt` counting from 0): 200 ms, doubling, at
/// most 5 s, so that a holder about to finish is not hammered and writers get the table between
/// attempts.
pub(super) fn pause_before_retry(attempt: u32) -> Duration {
    Duration::from_millis(200)
        .saturating_mul(1u32 << attempt.min(5))
        .min(Duration::from_secs(5))
}

/// `lock_timeout` as a setting's text, in milliseconds (`0`: no limit).
pub(super) fn setting(timeout: Duration) -> String {
    format!("{}ms", timeout.as_millis())
}

/// Runs a `CONCURRENTLY` statement without `lock_timeout` (see the module docs), then sets the
/// run's timeout again.
pub(super) fn execute_without_timeout(
    session: &mut (impl Session + ?Sized),
    statement: &str,
    retry: &LockRetry,
) -> Result<(), SessionError> {
    session.execute("SET lock_timeout = 0")?;
    let result = session.execute(statement);
    let reset = session.execute(&format!(
        "SET lock_timeout = {}",
        quote_string(&setting(retry.timeout))
    ));
    result.and(reset)
}

/// The names in a statement that may be tables: its quoted identifiers and bare words that look
/// like identifiers (the server keeps the ones that name a relation).
fn candidate_names(sql: &str) -> Vec<String> {
    let Some(statement) = split_statements(sql).into_iter().next() else {
        return Vec::new();
    };
    let mut names: Vec<String> = statement
        .tokens()
        .iter()
        .filter_map(|token| {
            let text = &sql[token.start..token.end];
            let identifier = match token.kind {
                TokenKind::QuotedIdent => text.len() > 2,
                TokenKind::Word => text
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
                _ => false,
            };
            identifier.then(|| text.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// How long the sessions in the way are watched before they are named: a session still holding
/// its lock after this pause (in the same transaction) is what the statement waited for, not a
/// write that was queued behind the statement and is finishing now that it is gone.
const STILL_HOLDING_AFTER: Duration = Duration::from_millis(500);

/// The other sessions that held a lock on a table `statement` names for the whole `waited`,
/// each described in one line: process id, application, state, how long its transaction has
/// been open, the locks and its last query. Longest-open transaction first; at most five. Best
/// effort: empty on any error.
///
/// A session that kept the statement waiting for `waited` has had its transaction open at least
/// that long (while an ACCESS EXCLUSIVE request waits, no conflicting lock is granted to anyone
/// after it), so younger transactions are left out. That alone is not enough: a write queued
/// behind the statement since just after it started waiting is granted its lock the moment the
/// statement gives up, and on a busy machine may still hold it when the server is asked. So the
/// sessions are read twice, [`STILL_HOLDING_AFTER`] apart, and only those holding a lock in the
/// same transaction both times are named.
pub(super) fn blocking_sessions(
    session: &mut (impl Session + ?Sized),
    statement: &str,
    waited: Duration,
) -> Vec<String> {
    let names = candidate_names(statement);
    if names.is_empty() {
        return Vec::new();
    }
    let query = holders_sql(&names, waited);
    let Ok(first) = session.simple_query(&query) else {
        return Vec::new();
    };
    let first: Vec<Holder> = first.into_iter().filter_map(Holder::of).collect();
    if first.is_empty() {
        return Vec::new();
    }
    std::thread::sleep(STILL_HOLDING_AFTER);
    let Ok(second) = session.simple_query(&query) else {
        return Vec::new();
    };
    second
        .into_iter()
        .filter_map(Holder::of)
        .filter(|holder| first.iter().any(|f| f.same_transaction(holder)))
        .map(|holder| holder.describe())
        .collect()
}

/// The query for [`blocking_sessions`]: the other sessions holding a lock on a relation among
/// `names` in a transaction open at least `waited`.
fn holders_sql(names: &[String], waited: Duration) -> String {
    let array = names
        .iter()
        .map(|name| quote_string(name))
        .collect::<Vec<_>>()
        .join(", ");
    // `to_regclass` raises an error on a malformed name: only plain ones are given to it.
    format!(
        "WITH named AS ( \
           SELECT CASE WHEN name ~ '^(\"([^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_$]*)$' \
             THEN to_regclass(name) END AS oid \
           FROM unnest(ARRAY[{array}]::text[]) AS n(name)) \
         SELECT a.pid, a.xact_start::text, coalesce(a.application_name, ''), \
           coalesce(a.state, ''), \
           coalesce(date_trunc('second', now() - a.xact_start)::text, ''), \
           coalesce(date_trunc('second', a.query_start)::text, ''), \
           coalesce(left(regexp_replace(a.query, '\\s+', ' ', 'g'), 200), ''), \
           string_agg(DISTINCT l.relation::regclass::text || ' (' || l.mode || ')', ', ') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid() \
           AND l.relation IN (SELECT oid FROM named WHERE oid IS NOT NULL) \
           AND a.xact_start <= now() - interval '{} milliseconds' \
         GROUP BY a.pid, a.application_name, a.state, a.xact_start, a.query_start, a.query \
         ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 5",
        waited.as_millis()
    )
}

/// A session holding a lock on the statement's tables, as [`holders_sql`] reads it.
struct Holder {
    pid: String,
    /// When its transaction started, as the server prints it: the same text in both readings
    /// means the same transaction.
    transaction_start: String,
    application: String,
    state: String,
    open_for: String,
    query_start: String,
    query: String,
    locks: String,
}

impl Holder {
    fn of(row: Vec<Option<String>>) -> Option<Holder> {
        let mut values = row.into_iter().map(Option::unwrap_or_default);
        Some(Holder {
            pid: values.next()?,
            transaction_start: values.next()?,
            application: values.next()?,
            state: values.next()?,
            open_for: values.next()?,
            query_start: values.next()?,
            query: values.next()?,
            locks: values.next()?,
        })
    }

    fn same_transaction(&self, other: &Holder) -> bool {
        self.pid == other.pid && self.transaction_start == other.transaction_start
    }

    fn describe(&self) -> String {
        let mut line = format!("process {}", self.pid);
        if !self.application.is_empty() {
            line.push_str(&format!(" ({})", self.application));
        }
        if !self.state.is_empty() {
            line.push_str(&format!(", {}", self.state));
        }
        if !self.open_for.is_empty() {
            line.push_str(&format!(", transaction open for {}", self.open_for));
        }
        line.push_str(&format!(", holds {}", self.locks));
        if !self.query.is_empty() {
            line.push_str(&format!(
                ", last query (started {}): {}",
                self.query_start, self.query
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::{candidate_names, is_lock_timeout, pause_before_retry};
    use std::time::Duration;

    #[test]
    fn pauses_double_up_to_five_seconds() {
        let pauses: Vec<u128> = (0..8).map(|a| pause_before_retry(a).as_millis()).collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert!(pause_before_retry(u32::MAX) <= Duration::from_secs(5));
    }

    #[test]
    fn a_lock_timeout_is_told_from_other_failures() {
        assert!(is_lock_timeout(
            "canceling statement due to lock timeout (context: while locking relation)"
        ));
        assert!(!is_lock_timeout(
            "canceling statement due to statement timeout"
        ));
        assert!(!is_lock_timeout("relation \"t\" does not exist"));
    }

    #[test]
    fn table_names_are_taken_from_words_and_quoted_identifiers() {
        let sql =
            "ALTER TABLE \"Order\" ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES customer (id) \
                   DEFAULT 'x' 42";
        let names = candidate_names(sql);
        assert!(names.contains(&"\"Order\"".to_string()));
        assert!(names.contains(&"customer".to_string()));
        assert!(!names.iter().any(|n| n == "'x'" || n == "42"));
    }
}
