//! `Migrator` on an `sqlx::PgPool`: qvdiff's PostgreSQL runner, its SQL sent through one
//! connection of the pool.
//!
//! The runner is synchronous code written against [`Session`] (one call: run SQL text, get the
//! rows as text). It runs on a thread of its own; each query it makes is handed to the awaiting
//! task, which runs it on the pool connection with sqlx and hands the rows back. So the
//! advisory lock, the ledger, the one transaction per run and every refusal are the code `qvdiff
//! upgrade` runs, over the application's own connection (its TLS and credentials included), and
//! the task never blocks: it works with any runtime sqlx runs on.

use super::{sealed, BackendWork, MigrateError, Pool, PoolFuture};
use futures_channel::mpsc;
use futures_util::StreamExt;
use qvdiff_postgres::session::{server_message_parts, Session, SessionError, TextRow};
use qvdiff_postgres::PostgresDatabase;
use sqlx::postgres::{PgConnection, PgDatabaseError};
use sqlx::{Executor, PgPool, Row};
use std::future::Future;
use std::pin::Pin;

impl sealed::Sealed for PgPool {}

/// A query of the runner's thread, and where its answer goes.
struct Request {
    sql: String,
    reply: std::sync::mpsc::Sender<Result<Vec<TextRow>, SessionError>>,
}

/// The runner's side: a [`Session`] whose queries the awaiting task runs.
struct Relay {
    requests: mpsc::UnboundedSender<Request>,
}

fn connection_gone() -> SessionError {
    SessionError {
        message: "the connection of the pool is gone".to_string(),
        closed: true,
    }
}

impl Session for Relay {
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.requests
            .unbounded_send(Request {
                sql: sql.to_string(),
                reply,
            })
            .map_err(|_| connection_gone())?;
        answer.recv().map_err(|_| connection_gone())?
    }
}

/// An sqlx error as the runner reports server errors: message, detail, hint and context.
fn session_error(error: sqlx::Error) -> SessionError {
    let closed = matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed
    );
    let message = match &error {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => server_message_parts(pg.message(), pg.detail(), pg.hint(), pg.r#where()),
            None => db.message().to_string(),
        },
        other => other.to_string(),
    };
    SessionError { message, closed }
}

/// Runs `sql` with the simple-query protocol (as `postgres`'s `simple_query` does) and reads
/// every value as text. Boxed with its lifetime spelled out: the compiler cannot prove a
/// generic async fn over sqlx's executor `Send` on its own.
fn run_simple<'c>(
    conn: &'c mut PgConnection,
    sql: &'c str,
) -> Pin<Box<dyn Future<Output = Result<Vec<TextRow>, SessionError>> + Send + 'c>> {
    Box::pin(async move {
        let rows = conn
            .fetch_all(sqlx::raw_sql(sql))
            .await
            .map_err(session_error)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.try_get_unchecked::<Option<String>, _>(i))
                    .collect::<Result<TextRow, _>>()
                    .map_err(session_error)
            })
            .collect()
    })
}

/// Runs `work` on a thread of its own with a [`Relay`] session, serving its queries on a
/// connection of `pool` until it is done.
async fn on_pool_connection<T: Send + 'static>(
    pool: &PgPool,
    work: impl FnOnce(&mut Relay) -> Result<T, MigrateError> + Send + 'static,
) -> Result<T, MigrateError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| MigrateError::Database(format!("taking a connection from the pool: {e}")))?;
    let (requests, mut incoming) = mpsc::unbounded();
    let runner = std::thread::Builder::new()
        .name("qvdiff-migrate".to_string())
        .spawn(move || work(&mut Relay { requests }))
        .map_err(|e| MigrateError::Database(format!("starting the migration thread: {e}")))?;
    // The stream ends when the runner is done and its Relay dropped.
    while let Some(request) = incoming.next().await {
        let answer = run_simple(&mut conn, &request.sql).await;
        // The runner waits for every answer; it cannot have gone away.
        let _ = request.reply.send(answer);
    }
    match runner.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl Pool for PgPool {
    fn with_backend<T: Send + 'static>(&self, work: BackendWork<T>) -> PoolFuture<'_, T> {
        Box::pin(on_pool_connection(self, move |relay| {
            work(&mut PostgresDatabase::on_session(relay))
        }))
    }
}
