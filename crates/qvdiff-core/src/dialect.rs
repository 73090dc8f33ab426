//! The boundary between the pure core and a SQL dialect (SQLite, PostgreSQL, …).
//!
//! A dialect turns [`Change`]s into SQL, says which schema differences it can represent at all,
//! names its types for messages, and reads a migration file's SQL the way `lint` and `review`
//! need ([`Dialect::section`], [`Dialect::renames`], [`Dialect::replay`]). Everything that needs a
//! live database (introspection, apply, ledger, backup) is the [`crate::Backend`] half.

use crate::change::{Change, Renames};
use crate::lint::{Analysis, Section};
use crate::schema::{ColumnType, Schema};

/// One SQL statement of a migration section, with what a reviewer must know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The SQL, a complete statement ending in `;` (may span lines).
    pub sql: String,
    /// `Some(reason)` when this step can lose data, e.g. `drops data in items.notes`.
    pub destructive: Option<String>,
}

/// Planned SQL for one direction of a migration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Statements in order.
    pub steps: Vec<Step>,
}

/// Why a dialect cannot plan a set of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// Table involved.
    pub table: String,
    /// Column involved, if any.
    pub column: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "{}.{}: {}", self.table, c, self.message),
            None => write!(f, "{}: {}", self.table, self.message),
        }
    }
}

impl std::error::Error for PlanError {}

impl PlanError {
    /// A new NOT NULL column that the model gives no value for the rows already there.
    pub fn missing_value(table: &str, column: &str) -> PlanError {
        PlanError {
            table: table.to_string(),
            column: Some(column.to_string()),
            message: "a new NOT NULL column needs a value for the existing rows: add \
                      `#[column(default = …)]` or `#[column(backfill = …)]`"
                .to_string(),
        }
    }
}

/// A SQL dialect's pure planning half. `Sync`: planning is pure, so callers plan both
/// directions of a migration at once.
pub trait Dialect: Sync {
    /// Short name, as in `qvdiff.toml` (`"sqlite"`, `"postgres"`).
    fn name(&self) -> &'static str;

    /// The schema as this dialect stores it, so that a captured schema compares equal to one
    /// introspected after applying it (e.g. SQLite keeps no integer width).
    fn normalize(&self, schema: &Schema) -> Schema;

    /// SQL that takes a database from `from` to `to`. `changes` is `diff(from, to, …)`;
    /// `to` carries the migration hints (`backfill`) the plan may need.
    fn plan(&self, from: &Schema, to: &Schema, changes: &[Change]) -> Result<Plan, PlanError>;

    /// A schema as two databases of this dialect are compared (drift, `stamp`, `port`): as the
    /// dialect stores it ([`Dialect::normalize`]), then [`Schema::comparable`].
    fn comparable(&self, schema: &Schema) -> Schema {
        self.normalize(schema).comparable()
    }

    /// The database's own name, for messages (`SQLite`, `PostgreSQL`).
    fn engine(&self) -> &'static str;

    /// A column type as this dialect's SQL spells it, for messages, summaries and diagrams: a
    /// console speaks the vocabulary of the files it shows.
    fn type_name(&self, ty: &ColumnType) -> String;

    /// A migration section's statements, with lines and comments (see
    /// [`crate::section::section`]). `marker_line`: the 1-based line of the section's marker.
    fn section(&self, body: &str, marker_line: usize) -> Section;

    /// The renames a script's SQL performs, keyed by the tables' final names.
    fn renames(&self, sql: &str) -> Renames;

    /// An empty scratch schema to replay migration files on, for `lint` and `review`.
    fn replay(&self) -> Box<dyn Replay>;
}

/// A scratch schema that migration files are replayed on, one up section at a time, so that
/// `lint` and `review` can see what a file does: SQLite runs the SQL on an in-memory database;
/// PostgreSQL, which needs no server for this, applies it to its schema model.
pub trait Replay {
    /// Applies one revision's up section. `Err`: the database's message; the scratch schema is
    /// then as it was before.
    fn apply(&mut self, revision: &str, sql: &str) -> Result<(), String>;

    /// What one file does when applied here (up, then down), without changing this scratch
    /// schema. `None` when it cannot be told (the dialect cannot read the SQL at all).
    fn analyze(&self, revision: &str, up: &str, down: &str) -> Option<Analysis>;
}
