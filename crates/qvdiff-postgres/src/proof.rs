//! Proving a new migration on a real server (`migrate --db`, `[postgres] shadow_url`).
//!
//! The replay proves every file without a server, but it holds no catalog of functions
//! or operators: an expression the models give (`using`, `default_sql`, a CHECK, a backfill)
//! can name something the server does not have. Where a server is at hand, `migrate` also runs
//! the file there, on a throwaway database: the history replayed by the real runner, the new
//! revision up, down and up again, the schema read back after each step. The database is
//! dropped afterwards, on failure too.

use crate::connect::{connect, redact_url, PostgresDatabase};
use crate::plan::Postgres;
use crate::render::{quote_ident, render_type};
use crate::testing::with_database;
use qvdiff_core::backend::{Direction, RunOptions};
use qvdiff_core::run_loop::RunRequest;
use qvdiff_core::runner::{Migration, Migrations, RevisionTarget};
use qvdiff_core::{diff, Backend, Change, ColumnType, Dialect, Renames, Schema, Table};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a migration was not proven on the server.
#[derive(Debug)]
pub enum ProofError {
    /// No throwaway database could be made there (no connection, no `CREATEDB` right):
    /// nothing was proven.
    Unavailable(String),
    /// The server refused a statement (the runner's message: revision, statement, the server's
    /// own words).
    Rejected {
        /// `up`, `down` or `up again`; `history` for a revision already committed.
        step: &'static str,
        /// The runner's message.
        message: String,
    },
    /// The step ran, but the schema read back is not the one expected.
    Mismatch {
        /// `up`, `down` or `up again`.
        step: &'static str,
        /// What the server's schema lacks or has beyond the expected one, in words.
        differences: Vec<String>,
    },
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::Unavailable(why) => write!(f, "no throwaway database: {why}"),
            ProofError::Rejected { step, message } => {
                write!(f, "the server refused the {step} section: {message}")
            }
            ProofError::Mismatch { step, differences } => write!(
                f,
                "after the {step} section the server's schema is not the expected one ({} \
                 difference{})",
                differences.len(),
                if differences.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for ProofError {}

/// A database made on the server for one proof, dropped (with `FORCE`) when this is dropped.
struct Throwaway {
    admin_url: String,
    name: String,
}

impl Throwaway {
    fn create(server_url: &str) -> Result<Throwaway, ProofError> {
        let mut admin = connect(server_url).map_err(|e| ProofError::Unavailable(e.to_string()))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("qvdiff_proof_{}_{nanos}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .map_err(|e| {
                let why = e
                    .as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_string());
                ProofError::Unavailable(format!(
                    "cannot create a database on {}: {why}",
                    redact_url(server_url)
                ))
            })?;
        Ok(Throwaway {
            admin_url: server_url.to_string(),
            name,
        })
    }

    fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Ok(mut admin) = connect(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Proves `new` (the next revision, whose parents are `history`'s head) on a throwaway
/// database of the server `server_url` names: `history` applied by the runner, then `new` up
/// (the schema read back must be `wanted`), down (the schema after the history), and up again.
/// The database is dropped before this returns, whatever happened.
pub fn prove_on_server(
    server_url: &str,
    history: &Migrations,
    new: Migration,
    wanted: &Schema,
) -> Result<(), ProofError> {
    let parent = match new.file.parents.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        // A generated file has one parent; a merge is proven by its branches.
        _ => return Ok(()),
    };
    let revision = new.file.revision.clone();
    let mut all: Vec<Migration> = history.in_order().into_iter().cloned().collect();
    all.push(new);
    let with_new = Migrations::new(all).map_err(|e| ProofError::Rejected {
        step: "up",
        message: e.to_string(),
    })?;
    let throwaway = Throwaway::create(server_url)?;
    let url = throwaway.url();
    let client = connect(&url).map_err(|e| ProofError::Unavailable(e.to_string()))?;
    let mut db = PostgresDatabase::from_client(client, &url);
    // A contract revision is proven like any other: the run goes through it.
    let options = RunOptions {
        contract: true,
        ..RunOptions::default()
    };
    let dialect = Postgres::default();
    let mut run = |step: &'static str, direction: Direction, revision: &str| {
        let target = RevisionTarget::named(revision);
        let result = db.run(&RunRequest::new(&with_new, direction, target, &options));
        result.map_err(|e| ProofError::Rejected {
            step,
            message: e.to_string(),
        })?;
        db.introspect()
            .map_err(|e| ProofError::Unavailable(format!("reading the schema back: {e}")))
    };
    let before = match &parent {
        Some(parent) => run("history", Direction::Up, parent)?,
        None => Schema::default(),
    };
    let compare = |step: &'static str, expected: &Schema, actual: &Schema| {
        let changes: Vec<Change> = diff(
            &dialect.comparable(actual),
            &dialect.comparable(expected),
            &Renames::default(),
        );
        match changes.is_empty() {
            true => Ok(()),
            false => Err(ProofError::Mismatch {
                step,
                differences: changes
                    .iter()
                    .map(|c| c.describe_in(&|ty| dialect.type_name(ty)))
                    .collect(),
            }),
        }
    };
    let up = run("up", Direction::Up, &revision)?;
    compare("up", wanted, &up)?;
    let down = run("down", Direction::Down, parent.as_deref().unwrap_or("base"))?;
    compare("down", &before, &down)?;
    let again = run("up again", Direction::Up, &revision)?;
    compare("up again", wanted, &again)?;
    drop(db);
    drop(throwaway);
    Ok(())
}

/// Whether the server `server_url` names evaluates `expr` (a value typed at a prompt, a
/// `backfill_sql`) for a row of `table` (as the models want it): `Err` holds PostgreSQL's own
/// message, for the person who wrote `expr`.
///
/// Inside a transaction that is rolled back, a temporary table with the wanted columns stands
/// for `table`, and `SELECT (expr) FROM` it is planned over no rows: unknown functions, columns
/// and operators, and constants that do not parse, are found without touching a row. A server
/// that cannot be reached checks nothing here (the proof that follows says so).
pub fn check_expression(server_url: &str, table: &Table, expr: &str) -> Result<(), String> {
    let Ok(mut client) = connect(server_url) else {
        return Ok(());
    };
    let Ok(mut tx) = client.transaction() else {
        return Ok(());
    };
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            // An enum's or custom type may not exist on this server: text stands in for it.
            let ty = match &c.ty {
                ColumnType::Enum { .. } | ColumnType::Custom { .. } => "text".to_string(),
                other => render_type(other),
            };
            format!("{} {ty}", quote_ident(&c.name))
        })
        .collect();
    let name = quote_ident(&table.name);
    if tx
        .batch_execute(&format!(
            "CREATE TEMP TABLE {name} ({}) ON COMMIT DROP",
            columns.join(", ")
        ))
        .is_err()
    {
        return Ok(());
    }
    let result = tx
        // One statement, parsed and analysed, never run.
        .prepare(&format!("SELECT ({expr}\n) FROM pg_temp.{name}"))
        .map(drop)
        .map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        });
    let _ = tx.rollback();
    result
}
