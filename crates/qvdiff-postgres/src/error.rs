//! The error type of this crate's database operations.

use std::fmt;

/// A failed PostgreSQL operation: what qvdiff was doing, and what went wrong.
///
/// Displayed as `context: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError {
    /// What qvdiff was doing, e.g. `reading the database schema`.
    pub context: String,
    /// What went wrong: the server's message (with its detail and hint), or the client's.
    pub message: String,
}

impl PgError {
    /// A [`PgError`] with its own message (not from the server).
    pub fn new(context: impl Into<String>, message: impl Into<String>) -> PgError {
        PgError {
            context: context.into(),
            message: message.into(),
        }
    }

    /// A [`PgError`] from a client error. A server error gives its message, detail and hint
    /// (`postgres::Error`'s own Display says only `db error`); any other error its Display
    /// followed by its causes (`error connecting to server: Connection refused (os error 111)`).
    pub fn from_pg(context: impl Into<String>, error: postgres::Error) -> PgError {
        PgError::new(context, crate::session::message_of(&error))
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.message)
    }
}

impl std::error::Error for PgError {}
