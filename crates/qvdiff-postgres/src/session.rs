//! What the runner needs of a connection: PostgreSQL's simple-query protocol, with every value
//! read as text.
//!
//! The runner (locking, ledger, one transaction per run) is written against [`Session`] rather
//! than the `postgres` crate's client, so an application that already holds a connection of
//! another driver (an sqlx pool) runs its migrations through the very same code. Values the
//! runner sends are rendered as SQL literals ([`quote_string`](crate::quote_string)), which the
//! simple-query protocol needs and which keeps the trait to one method.

use postgres::{Client, SimpleQueryMessage, Transaction};

/// A failed query: the server's message (with its detail, hint and context) or the driver's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError {
    /// What the server or the driver said.
    pub message: String,
    /// Whether the connection is gone (then a `COMMIT` in flight may or may not have happened).
    pub closed: bool,
}

/// One row of a result, every column as text (`None` for NULL).
pub type TextRow = Vec<Option<String>>;

/// A PostgreSQL connection that runs SQL text through the simple-query protocol.
pub trait Session {
    /// Runs `sql` (one statement or several separated by `;`) and returns the rows of every
    /// result, in order, with every value as text. Booleans read `t` / `f`.
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError>;

    /// Runs `sql` and discards any rows.
    fn execute(&mut self, sql: &str) -> Result<(), SessionError> {
        self.simple_query(sql).map(|_| ())
    }

    /// The first column of the first row of `sql`'s result, if there is one and it is not NULL.
    fn query_value(&mut self, sql: &str) -> Result<Option<String>, SessionError> {
        Ok(self
            .simple_query(sql)?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .flatten())
    }
}

/// The server's message with its detail, hint and context (`postgres::Error`'s own Display says
/// only `db error`), or the driver's message with its causes.
pub fn message_of(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => server_message_parts(db.message(), db.detail(), db.hint(), db.where_()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// A server error as qvdiff shows it: `message (detail: …) (hint: …) (context: …)`. One
/// spelling for every driver, so a refusal reads the same whichever runs the migrations.
pub fn server_message_parts(
    message: &str,
    detail: Option<&str>,
    hint: Option<&str>,
    context: Option<&str>,
) -> String {
    let mut text = message.to_string();
    if let Some(detail) = detail {
        text.push_str(&format!(" (detail: {detail})"));
    }
    if let Some(hint) = hint {
        text.push_str(&format!(" (hint: {hint})"));
    }
    if let Some(context) = context {
        text.push_str(&format!(" (context: {context})"));
    }
    text
}

/// The rows of a simple query's messages, every value as text.
fn text_rows(messages: Vec<SimpleQueryMessage>) -> Vec<TextRow> {
    messages
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn session_error(error: postgres::Error) -> SessionError {
    SessionError {
        message: message_of(&error),
        closed: error.is_closed(),
    }
}

/// A lent session is a session: the runner works on `&mut Client` as on a `Client`.
impl<T: Session + ?Sized> Session for &mut T {
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError> {
        (**self).simple_query(sql)
    }
}

impl Session for Client {
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError> {
        Client::simple_query(self, sql)
            .map(text_rows)
            .map_err(session_error)
    }
}

impl Session for Transaction<'_> {
    fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, SessionError> {
        Transaction::simple_query(self, sql)
            .map(text_rows)
            .map_err(session_error)
    }
}
