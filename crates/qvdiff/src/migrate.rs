//! Migrating at application start: the migration files compiled into the binary, applied with
//! the same runner (and the same safety) as `qvdiff upgrade`, and a check that the database
//! matches the models.
//!
//! [`Migrator`] itself needs no driver: it parses the embedded files and links their revisions.
//! It runs them through the driver the application already has, one cargo feature each, each
//! handle lent to the dialect's `Backend` (the one `qvdiff upgrade` drives):
//!
//! | feature | database handle | runner |
//! |---|---|---|
//! | `sqlite` | `&mut rusqlite::Connection` ([`Migrator::upgrade`]) | qvdiff's SQLite runner |
//! | `postgres` | `&mut postgres::Client` ([`Migrator::upgrade`]) | qvdiff's PostgreSQL runner |
//! | `sqlx-sqlite` | `&sqlx::SqlitePool` ([`Migrator::upgrade_pool`]) | the SQLite runner, on a connection of the pool |
//! | `sqlx-postgres` | `&sqlx::PgPool` ([`Migrator::upgrade_pool`]) | the PostgreSQL runner, its SQL sent through a connection of the pool |
//!
//! Every driver gets the same guarantees, because it runs the same code: one ledger
//! (`qvdiff_migrations`) with the checksum of every applied file, edited or missing applied
//! files and a database newer than the binary refused, all pending revisions in one transaction,
//! concurrent starts applying each revision once (SQLite's write lock, PostgreSQL's advisory
//! lock), and — for a SQLite file with [`Migrator::with_backup`] — an online backup first.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use qvdiff::migrate::{rusqlite::Connection, Migrator};
//!
//! // The directory of migration files, relative to the crate's Cargo.toml.
//! let migrator = Migrator::new(qvdiff::embed_migrations!("../../migrations"))?;
//! let mut conn = Connection::open("app.db")?;
//! let report = migrator.upgrade(&mut conn)?;
//! for step in &report.steps {
//!     println!("applied {} ({})", step.revision, step.message);
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "sqlite"))]
//! # fn main() {}
//! ```

use qvdiff_core::backend::{BackupSettings, Direction};
pub use qvdiff_core::backend::{LockRetry, RunOptions, RunReport, StepReport};
use qvdiff_core::run_loop::RunRequest;
use qvdiff_core::runner::{self as decisions, Migration, Migrations, Status};
use qvdiff_core::{
    diff, Backend, BackendError, FormatError, GraphError, Renames, RevisionTarget, Schema, Table,
};
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

pub use qvdiff_derive::embed_migrations;

#[cfg(feature = "postgres")]
mod on_postgres;
#[cfg(feature = "postgres")]
pub use on_postgres::connect_postgres;
#[cfg(feature = "sqlite")]
mod on_rusqlite;
#[cfg(feature = "sqlx-postgres")]
mod on_sqlx_postgres;
#[cfg(feature = "sqlx-sqlite")]
mod on_sqlx_sqlite;

/// The postgres version qvdiff is built with (feature `postgres`): use its `Client` to avoid a
/// second copy.
#[cfg(feature = "postgres")]
pub use ::postgres;
/// The rusqlite version qvdiff is built with (feature `sqlite`): use its `Connection` to avoid a
/// second copy.
#[cfg(feature = "sqlite")]
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
    /// Applying failed or was refused, and nothing was changed; `kind` tells a refusal (edited
    /// file, data a step cannot run on) from a lock held too long or a failure.
    Run(BackendError),
    /// The database could not be reached or read (the driver's or the server's message).
    Database(String),
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::Format { file, error } => write!(f, "{file}:{error}"),
            MigrateError::Graph(e) => write!(f, "embedded migrations: {e}"),
            MigrateError::Run(e) => write!(f, "{e}"),
            MigrateError::Database(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::Format { error, .. } => Some(error),
            MigrateError::Graph(e) => Some(e),
            MigrateError::Run(e) => Some(e),
            MigrateError::Database(_) => None,
        }
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

    /// Take an online backup into `dir` before applying anything to a SQLite file, keeping the
    /// newest `keep`. (A PostgreSQL server is backed up with its own tools; ignored there.)
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
    pub fn upgrade<D: Database + ?Sized>(&self, db: &mut D) -> Result<RunReport, MigrateError> {
        upgrade_to_head(&mut *db.backend()?, &self.migrations, &self.options)
    }

    /// Where the database stands: applied heads, pending revisions, unknown or edited ones.
    pub fn status<D: Database + ?Sized>(&self, db: &mut D) -> Result<Status, MigrateError> {
        let applied = db.backend()?.applied().map_err(MigrateError::Run)?;
        Ok(decisions::status(&self.migrations, &applied))
    }

    /// How the database's tables differ from the models, one line per difference (`add column
    /// items.notes`, …); empty when they match. Views, triggers and qvdiff's own tables are not
    /// compared. Meant for a start-up check that logs or refuses instead of panicking.
    pub fn verify_models<D: Database + ?Sized>(
        &self,
        db: &mut D,
        tables: &[Table],
    ) -> Result<Vec<String>, MigrateError> {
        model_differences(&mut *db.backend()?, tables)
    }

    /// [`Migrator::upgrade`] through a connection pool (feature `sqlx-sqlite` or
    /// `sqlx-postgres`). The runner works on one connection of the pool for the whole run.
    pub async fn upgrade_pool<P: Pool + ?Sized>(
        &self,
        pool: &P,
    ) -> Result<RunReport, MigrateError> {
        let migrations = self.migrations.clone();
        let options = self.options.clone();
        pool.with_backend(Box::new(move |backend| {
            upgrade_to_head(backend, &migrations, &options)
        }))
        .await
    }

    /// [`Migrator::status`] through a connection pool.
    pub async fn status_pool<P: Pool + ?Sized>(&self, pool: &P) -> Result<Status, MigrateError> {
        let applied = pool
            .with_backend(Box::new(|backend| {
                backend.applied().map_err(MigrateError::Run)
            }))
            .await?;
        Ok(decisions::status(&self.migrations, &applied))
    }

    /// [`Migrator::verify_models`] through a connection pool.
    pub async fn verify_models_pool<P: Pool + ?Sized>(
        &self,
        pool: &P,
        tables: &[Table],
    ) -> Result<Vec<String>, MigrateError> {
        let tables = tables.to_vec();
        pool.with_backend(Box::new(move |backend| model_differences(backend, &tables)))
            .await
    }
}

/// Applies every pending revision up to the single head, as `qvdiff upgrade head` does.
fn upgrade_to_head(
    backend: &mut dyn Backend,
    migrations: &Migrations,
    options: &RunOptions,
) -> Result<RunReport, MigrateError> {
    backend
        .run(&RunRequest::new(
            migrations,
            Direction::Up,
            RevisionTarget::head(),
            options,
        ))
        .map_err(MigrateError::Run)
}

/// How the live tables differ from the models, both in the dialect's comparable form (views,
/// triggers and qvdiff's own tables left out).
fn model_differences(
    backend: &mut dyn Backend,
    tables: &[Table],
) -> Result<Vec<String>, MigrateError> {
    let live = backend
        .introspect()
        .map_err(|e| MigrateError::Database(e.message))?;
    let dialect = backend.dialect();
    Ok(differences(
        &dialect.comparable(&live),
        &dialect.comparable(&wanted(tables)),
    ))
}

/// The models as one schema, not yet in any dialect's comparable form.
fn wanted(tables: &[Table]) -> Schema {
    Schema {
        tables: tables.to_vec(),
        ..Schema::default()
    }
}

/// One line per difference between two comparable schemas.
fn differences(live: &Schema, wanted: &Schema) -> Vec<String> {
    diff(live, wanted, &Renames::default())
        .iter()
        .map(|change| change.describe())
        .collect()
}

mod sealed {
    /// Only qvdiff's own driver glue implements [`super::Database`] and [`super::Pool`].
    pub trait Sealed {}
}

/// A database handle of a driver qvdiff runs migrations on (see the module docs for which
/// feature brings which). Sealed: the guarantees come from qvdiff's runners, not from the trait.
pub trait Database: sealed::Sealed {
    /// The handle as the dialect's [`Backend`], the one the CLI drives too.
    #[doc(hidden)]
    fn backend(&mut self) -> Result<Box<dyn Backend + '_>, MigrateError>;
}

/// A future of the pool glue; boxed, so that it is `Send`.
pub type PoolFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, MigrateError>> + Send + 'a>>;

/// Work on a pool connection, as the dialect's [`Backend`].
pub type BackendWork<T> =
    Box<dyn FnOnce(&mut dyn Backend) -> Result<T, MigrateError> + Send + 'static>;

/// A connection pool of a driver qvdiff runs migrations on (`sqlx::SqlitePool`,
/// `sqlx::PgPool`). Sealed, like [`Database`].
pub trait Pool: sealed::Sealed + Sync {
    /// Runs `work` on one connection of the pool, as the dialect's [`Backend`].
    #[doc(hidden)]
    fn with_backend<T: Send + 'static>(&self, work: BackendWork<T>) -> PoolFuture<'_, T>;
}
