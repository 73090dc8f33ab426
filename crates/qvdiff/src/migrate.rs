//! Migrating at application start: the migration files compiled into the binary, applied with
//! the same runner (and the same safety) as `qvdiff upgrade`, and a check that the database
//! matches the models.
//!
//! ```no_run
//! use qvdiff::migrate::{rusqlite::Connection, Migrator};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The directory of migration files, relative to the crate's Cargo.toml.
//! let migrator = Migrator::new(qvdiff::embed_migrations!("../../migrations"))?;
//! let mut conn = Connection::open("app.db")?;
//! let report = migrator.upgrade(&mut conn)?;
//! for step in &report.steps {
//!     println!("applied {} ({})", step.revision, step.message);
//! }
//! # Ok(())
//! # }
//! ```

use qvdiff_core::runner::{Migration, Migrations, Status};
use qvdiff_core::{diff, FormatError, GraphError, Renames, Schema, Table};
use qvdiff_sqlite::runner::{self, BackupSettings, RunError, RunOptions, RunReport};
use qvdiff_sqlite::{comparable, introspect, SqliteError};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use qvdiff_derive::embed_migrations;
/// The rusqlite version qvdiff is built with: use its `Connection` to avoid a second copy.
pub use rusqlite;

/// Why the embedded migrations could not be used, applied or checked.
#[derive(Debug)]
pub enum MigrateError {
    /// An embedded file is not a valid migration file (only possible when the files were not
    /// embedded by [`embed_migrations!`], which checks them at compile time).
    Format {
        /// The file name.
        file: String,
        /// What is wrong, with its line.
        error: FormatError,
    },
    /// The embedded revisions do not form a valid history.
    Graph(GraphError),
    /// Applying failed or was refused (nothing was changed).
    Run(RunError),
    /// Reading the database schema failed.
    Introspect(SqliteError),
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::Format { file, error } => write!(f, "{file}:{error}"),
            MigrateError::Graph(e) => write!(f, "embedded migrations: {e}"),
            MigrateError::Run(e) => write!(f, "{e}"),
            MigrateError::Introspect(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Format { error, .. } => Some(error),
            MigrateError::Graph(e) => Some(e),
            MigrateError::Run(e) => Some(e),
            MigrateError::Introspect(e) => Some(e),
        }
    }
}

impl From<RunError> for MigrateError {
    fn from(e: RunError) -> Self {
        MigrateError::Run(e)
    }
}

/// The migrations of an application, ready to apply to its database.
#[derive(Debug, Clone)]
pub struct Migrator {
    migrations: Migrations,
    options: RunOptions,
}

impl Migrator {
    /// Parses `(file name, contents)` pairs — what [`embed_migrations!`] returns — and links
    /// them into a revision graph. File names appear in messages as `migrations/<name>`.
    pub fn new(embedded: &[(&str, &str)]) -> Result<Migrator, MigrateError> {
        let mut migrations = Vec::with_capacity(embedded.len());
        for (name, text) in embedded {
            let path = format!("migrations/{name}");
            let migration = Migration::from_text(text, path.clone())
                .map_err(|error| MigrateError::Format { file: path, error })?;
            migrations.push(migration);
        }
        Ok(Migrator {
            migrations: Migrations::new(migrations).map_err(MigrateError::Graph)?,
            options: RunOptions::default(),
        })
    }

    /// How long `upgrade` waits for another writer (another instance starting at the same
    /// time) before failing; 30 s by default.
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.options.busy_timeout = timeout;
        self
    }

    /// Take an online backup into `dir` before applying anything, keeping the newest `keep`.
    pub fn with_backup(mut self, dir: impl Into<PathBuf>, keep: usize) -> Self {
        self.options.backup = Some(BackupSettings {
            dir: dir.into(),
            keep,
        });
        self
    }

    /// The embedded migrations.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// Applies every pending revision up to the single head, in one transaction, exactly like
    /// `qvdiff upgrade`: concurrent starts apply each revision once, edited or missing files and
    /// a database newer than the binary are refused, and nothing changes on failure. An empty
    /// report means the database was up to date.
    pub fn upgrade(&self, conn: &mut rusqlite::Connection) -> Result<RunReport, MigrateError> {
        Ok(runner::upgrade(
            conn,
            &self.migrations,
            "head",
            &self.options,
        )?)
    }

    /// Where the database stands: applied heads, pending revisions, unknown or edited ones.
    pub fn status(&self, conn: &rusqlite::Connection) -> Result<Status, MigrateError> {
        Ok(runner::status(conn, &self.migrations)?)
    }

    /// How the database's tables differ from the models, one line per difference (`add column
    /// items.notes`, …); empty when they match. Views, triggers and qvdiff's own tables are not
    /// compared. Meant for a start-up check that logs or refuses instead of panicking.
    pub fn verify_models(
        &self,
        conn: &rusqlite::Connection,
        tables: &[Table],
    ) -> Result<Vec<String>, MigrateError> {
        let live = comparable(&introspect(conn).map_err(MigrateError::Introspect)?);
        let wanted = comparable(&Schema {
            tables: tables.to_vec(),
            ..Schema::default()
        });
        Ok(diff(&live, &wanted, &Renames::default())
            .iter()
            .map(|change| change.describe())
            .collect())
    }
}
