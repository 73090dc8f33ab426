//! The boundary between the pure core and a SQL dialect (SQLite, PostgreSQL, …).
//!
//! A dialect turns [`Change`]s into SQL, says which schema differences it can represent at all,
//! names its types for messages, and reads a migration file's SQL the way `lint` and `review`
//! need ([`Dialect::section`], [`Dialect::renames`], [`Dialect::replay`]). Everything that needs a
//! live database (introspection, apply, ledger, backup) is the [`crate::Backend`] half.

use crate::change::{Change, Renames};
use crate::lint::{Analysis, Section};
use crate::schema::{ColumnType, Schema};
use crate::section::Spelling;

/// One SQL statement of a migration section, with what a reviewer must know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The SQL, a complete statement ending in `;` (may span lines).
    pub sql: String,
    /// What the statement does to the data and to the app while it runs. The planner fills them;
    /// the file shows them as comments for the reader, but nothing reads those comments back:
    /// a file on disk is analysed from its SQL ([`Dialect::facts_of`]).
    pub facts: StepFacts,
}

impl Step {
    /// A step with no facts worth a reviewer's attention.
    pub fn plain(sql: impl Into<String>) -> Step {
        Step {
            sql: sql.into(),
            facts: StepFacts::default(),
        }
    }

    /// A step with its facts.
    pub fn with(sql: impl Into<String>, facts: StepFacts) -> Step {
        Step {
            sql: sql.into(),
            facts,
        }
    }

    /// Why this step can lose data, as the file's `-- DESTRUCTIVE:` comment says it
    /// (`drops data in items.notes`; several reasons joined by `; `). `None`: it loses nothing.
    pub fn destructive(&self) -> Option<String> {
        self.facts.destructive()
    }
}

/// The typed facts of one statement: what it rebuilds, destroys and fills in, and the lock it
/// takes on PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepFacts {
    /// The table this statement starts rebuilding (SQLite: created anew, every row copied, the
    /// old one dropped).
    pub rebuilds: Option<String>,
    /// Data the statement destroys.
    pub destroys: Vec<Loss>,
    /// Values the statement fills in for rows already there.
    pub fills: Vec<Fill>,
    /// The lock the statement takes on a table that exists before it (PostgreSQL); `None` when
    /// it locks no existing table, or the dialect does not say (SQLite locks the whole file).
    pub lock: Option<Lock>,
    /// The statement cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`).
    pub outside_transaction: bool,
    /// What the statement does, in the detail the PostgreSQL lint rules need. Read from SQL by
    /// [`Dialect::facts_of`] only: the planner's steps leave it empty.
    pub actions: Vec<Action>,
}

impl StepFacts {
    /// Facts of a statement that destroys `losses`.
    pub fn destroying(losses: Vec<Loss>) -> StepFacts {
        StepFacts {
            destroys: losses,
            ..StepFacts::default()
        }
    }

    /// The losses' reasons joined by `; `, as the `-- DESTRUCTIVE:` comment shows them.
    pub fn destructive(&self) -> Option<String> {
        if self.destroys.is_empty() {
            return None;
        }
        let reasons: Vec<&str> = self.destroys.iter().map(|l| l.reason.as_str()).collect();
        Some(reasons.join("; "))
    }

    /// The facts that can be read back from a statement's SQL (and the schema before it): all
    /// but the loss reasons' wording and the values filled in, which only the planner knows
    /// (SQL does not say whether a value is the model's default or a prompt's answer). What
    /// keeps the planner and [`Dialect::facts_of`] from drifting compares these.
    pub fn from_sql_view(&self) -> StepFacts {
        StepFacts {
            rebuilds: self.rebuilds.clone(),
            destroys: self
                .destroys
                .iter()
                .map(|l| Loss {
                    reason: String::new(),
                    ..l.clone()
                })
                .collect(),
            fills: Vec::new(),
            lock: self.lock.clone(),
            outside_transaction: self.outside_transaction,
            actions: Vec::new(),
        }
    }
}

/// One thing a statement does to a table, as PostgreSQL's lint rules judge it. The table is the
/// statement's ([`Lock::table`], or the table it creates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `CREATE [UNIQUE] INDEX`, concurrently or not.
    BuildIndex {
        /// With `CONCURRENTLY`.
        concurrently: bool,
    },
    /// `DROP INDEX`, concurrently or not.
    DropIndex {
        /// With `CONCURRENTLY`.
        concurrently: bool,
    },
    /// A foreign key added (by `ALTER TABLE` or in `CREATE TABLE`).
    AddForeignKey {
        /// Its columns.
        columns: Vec<String>,
        /// It checks the rows already there now (no `NOT VALID`).
        checks_rows: bool,
    },
    /// A CHECK constraint added.
    AddCheck {
        /// It checks the rows already there now (no `NOT VALID`).
        checks_rows: bool,
    },
    /// `ALTER COLUMN … SET NOT NULL`.
    SetNotNull {
        /// The column.
        column: String,
        /// No validated `CHECK (column IS NOT NULL)` proves it first: every row is read.
        scans: bool,
    },
    /// `ALTER COLUMN … TYPE`.
    ChangeType {
        /// The column.
        column: String,
        /// The change is not a binary-compatible widening: the table is written anew.
        rewrites: bool,
    },
    /// `ADD COLUMN` whose default calls a volatile function (`random()`, `gen_random_uuid()`).
    VolatileDefault {
        /// The column.
        column: String,
    },
    /// A column declared `timestamp` (without time zone).
    NaiveTimestamp {
        /// The column.
        column: String,
    },
    /// A table renamed.
    RenameTable {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A column renamed.
    RenameColumn {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `UPDATE t SET to = from [WHERE …]`: one column's values copied into another, as the
    /// backfill of a column carried through expand / contract (the new column `to` takes the
    /// place of `from` in the contract).
    CopyColumn {
        /// The column read.
        from: String,
        /// The column written.
        to: String,
    },
}

/// Data a statement destroys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loss {
    /// The table.
    pub table: String,
    /// The column whose values are lost; `None`: the whole table's rows.
    pub column: Option<String>,
    /// What is lost, in words (`drops data in items.notes`).
    pub reason: String,
}

impl Loss {
    /// A loss of `table`'s rows (`column` `None`) or of one column's values.
    pub fn new(table: &str, column: Option<&str>, reason: impl Into<String>) -> Loss {
        Loss {
            table: table.to_string(),
            column: column.map(str::to_string),
            reason: reason.into(),
        }
    }
}

impl Loss {
    /// The loss a change causes, with its reason in the words of `type_name` (a dialect's type
    /// names); `None` when the change loses nothing.
    pub fn of_change(change: &Change, type_name: &dyn Fn(&ColumnType) -> String) -> Option<Loss> {
        let reason = change.destructive_reason_in(type_name)?;
        Some(match change {
            Change::DropTable { table } => Loss::new(&table.name, None, reason),
            Change::DropColumn { table, column } => Loss::new(table, Some(&column.name), reason),
            Change::AlterColumn { table, to, .. } => Loss::new(table, Some(&to.name), reason),
            _ => return None,
        })
    }
}

/// A value a statement writes into rows already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The table.
    pub table: String,
    /// The column filled.
    pub column: String,
    /// The value, as SQL.
    pub value: String,
    /// Where the value comes from.
    pub why: FillReason,
}

/// Where a filled-in value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillReason {
    /// The column's default, taken by the rows already there.
    Default,
    /// The model's `backfill` (or the answer given at the prompt, which becomes one).
    Backfill,
}

/// A table lock a statement takes, and what the statement does to the table while holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The lock mode.
    pub mode: LockMode,
    /// The table locked.
    pub table: String,
    /// The statement reads every row while holding the lock (an index build, a constraint
    /// check, `SET NOT NULL` without a validated CHECK).
    pub scans: bool,
    /// The statement writes the table anew (a type change that is not binary-compatible, a
    /// volatile default).
    pub rewrites: bool,
}

/// PostgreSQL's table lock modes, as far as migrations take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// `ACCESS EXCLUSIVE`: blocks reads and writes (most `ALTER TABLE`, `DROP`).
    AccessExclusive,
    /// `SHARE ROW EXCLUSIVE`: blocks writes (`ADD FOREIGN KEY`).
    ShareRowExclusive,
    /// `SHARE`: blocks writes (`CREATE INDEX`).
    Share,
    /// `SHARE UPDATE EXCLUSIVE`: blocks neither reads nor writes (`CREATE INDEX CONCURRENTLY`,
    /// `VALIDATE CONSTRAINT`).
    ShareUpdateExclusive,
    /// `ROW EXCLUSIVE`: row locks only; blocks writes to the rows it changes (`UPDATE`).
    RowExclusive,
}

impl LockMode {
    /// The mode as PostgreSQL spells it (`ACCESS EXCLUSIVE`).
    pub fn sql(self) -> &'static str {
        match self {
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
        }
    }

    /// Whether the lock stops other sessions' writes to the table.
    pub fn blocks_writes(self) -> bool {
        matches!(
            self,
            LockMode::AccessExclusive | LockMode::ShareRowExclusive | LockMode::Share
        )
    }

    /// Whether the lock stops other sessions' reads of the table.
    pub fn blocks_reads(self) -> bool {
        self == LockMode::AccessExclusive
    }
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

    /// [`Dialect::normalize`] of a schema the caller has no further use for: a dialect may
    /// normalize it in place rather than copy every table (on a big project the models are
    /// megabytes of columns, and the copy was a third of a `check`'s memory).
    fn normalize_owned(&self, schema: Schema) -> Schema {
        self.normalize(&schema)
    }

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

    /// How this dialect spells SQL and names: what lint, review and [`Dialect::section`] read
    /// its files with.
    fn spelling(&self) -> Spelling;

    /// A migration section's statements, with lines and comments (see
    /// [`crate::section::section`]). `marker_line`: the 1-based line of the section's marker.
    fn section(&self, body: &str, marker_line: usize) -> Section {
        crate::section::section(body, marker_line, &self.spelling())
    }

    /// The renames a script's SQL performs, keyed by the tables' final names.
    fn renames(&self, sql: &str) -> Renames {
        crate::section::renames(sql, &self.spelling())
    }

    /// An empty scratch schema to replay migration files on, for `lint` and `review`.
    fn replay(&self) -> Box<dyn Replay>;

    /// The facts of each statement of `sql` (a section's body, generated or hand-written), one
    /// per statement of [`Dialect::section`], read from the SQL alone as it runs on a database
    /// holding `before` and leaving one holding `after`. Comments are not read. For a planned
    /// step they equal the planner's, seen through [`StepFacts::from_sql_view`].
    fn facts_of(&self, before: &Schema, after: &Schema, sql: &str) -> Vec<StepFacts>;

    /// Whether the dialect can write a change as expand / contract (`migrate --online`).
    fn has_expand_contract(&self) -> bool {
        false
    }

    /// `migrate --online`: the changes that rewrite a large table or that old app code still
    /// uses, written as two revisions (see [`ExpandContract`]); the other `changes` go in the
    /// expand revision as usual. `None`: no change needs it, or the dialect has no such form.
    fn expand_contract(
        &self,
        _from: &Schema,
        _to: &Schema,
        _changes: &[Change],
    ) -> Result<Option<ExpandContract>, PlanError> {
        Ok(None)
    }
}

/// A migration written as two revisions so that the old and the new app version both work
/// between them: `expand` adds the new columns and keeps them in step with the old ones (a
/// trigger both ways, a batched backfill), `contract` swaps them in and drops the old ones once
/// the new app version runs everywhere.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandContract {
    /// The expand revision's way up: the other changes, then the new columns, the sync triggers
    /// and the backfill.
    pub expand_up: Plan,
    /// The expand revision's way back.
    pub expand_down: Plan,
    /// The contract revision's way up.
    pub contract_up: Plan,
    /// The contract revision's way back: the expand state again (old columns, triggers).
    pub contract_down: Plan,
    /// The schema between the two revisions, as the dialect stores it (old and new columns side
    /// by side; the sync triggers are not part of a schema).
    pub expanded: Schema,
    /// Each change carried through expand / contract, in words.
    pub carried: Vec<String>,
    /// Each change that could need it but stays in place, with why.
    pub in_place: Vec<String>,
}

/// A scratch schema that migration files are replayed on, one up section at a time, so that
/// `lint` and `review` can see what a file does: SQLite runs the SQL on an in-memory database;
/// PostgreSQL, which needs no server for this, applies it to its replay.
pub trait Replay {
    /// Applies one revision's up section. `Err`: the database's message; the scratch schema is
    /// then as it was before.
    fn apply(&mut self, revision: &str, sql: &str) -> Result<(), String>;

    /// What one file does when applied here (up, then down), without changing this scratch
    /// schema. `None` when it cannot be told (the dialect cannot read the SQL at all).
    fn analyze(&self, revision: &str, up: &str, down: &str) -> Option<Analysis>;
}

/// A column default the dialect's database could not compute: part of the proof of a new
/// migration, which refuses it rather than let the application's first insert (SQLite) or the
/// server at `upgrade` (PostgreSQL) fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableDefault {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The default as the database gets it.
    pub default: String,
    /// Why no insert could take it (the database's error, or the function it lacks).
    pub reason: String,
}
