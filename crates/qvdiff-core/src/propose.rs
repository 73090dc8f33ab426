//! From a starting schema and the wanted one to the SQL of a migration, both ways: the diff, the
//! renames and the values for existing rows that a person decides, and the plans. `migrate`,
//! `diff`, `rebase` and every test suite that plans a migration call [`propose`]; what a person
//! decides comes through a [`Decider`] (the CLI's prompts, or [`Scripted`] answers in tests).

use crate::change::{Change, Renames};
use crate::dialect::{Dialect, Plan, PlanError};
use crate::diff::{
    diff, fill_restored_columns, rename_candidates, similar_dropped_and_created,
    table_rename_candidates,
};
use crate::schema::{Column, DefaultValue, Schema, Table};
use std::borrow::Cow;

/// Who answers the questions a proposal raises, and hears what it decided on its own.
pub trait Decider {
    /// Whether anyone answers: `false` under `--no-input`, where every question gets its
    /// default (no rename, no value) and possible renames become commented alternatives.
    fn answers(&self) -> bool;

    /// A yes/no question ("Did you rename items.url to items.link?").
    fn confirm(&mut self, question: &str) -> bool;

    /// A value for the existing rows of a column, as a SQL expression; `None`: no answer.
    fn value(&mut self, needed: &NeededValue<'_>) -> Option<String>;

    /// Something the proposal decided that loses data, said as it happens.
    fn warn(&mut self, message: &str);

    /// A detail of the plan (the value a column restored on the way down gets).
    fn detail(&mut self, message: &str);

    /// How many rows of `table` hold NULL in `column` now, when a live database is at hand
    /// (`migrate --db`): a column becoming NOT NULL with none needs no value, and with some the
    /// question says how many. `None` (the default): no live rows to judge by.
    fn null_count(&mut self, _table: &str, _column: &str) -> Option<u64> {
        None
    }
}

/// A column whose existing rows need a value that the model does not give.
#[derive(Debug, Clone, Copy)]
pub struct NeededValue<'a> {
    /// The table.
    pub table: &'a str,
    /// The column as wanted.
    pub column: &'a Column,
    /// The wanted table the column is in: an answer is an expression over its columns.
    pub row_of: Option<&'a Table>,
    /// Why: `is a new NOT NULL column` or `becomes NOT NULL`.
    pub why: &'a str,
}

impl NeededValue<'_> {
    /// The question a person is asked.
    pub fn question(&self) -> String {
        format!(
            "{}.{} {}; value for existing rows (SQL literal, e.g. 0 or 'unknown'): ",
            self.table, self.column.name, self.why
        )
    }
}

/// Answers given in advance, in the order the questions come (one per line of a fixture's
/// `answers.txt`): `y…` confirms, an empty line is no answer. Warnings and details are kept.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    answers: std::collections::VecDeque<String>,
    /// Warnings and details, in order.
    pub told: Vec<String>,
}

impl Scripted {
    /// Answers from `text`, one per line.
    pub fn new(text: &str) -> Scripted {
        Scripted {
            answers: text.lines().map(|l| l.trim().to_string()).collect(),
            told: Vec::new(),
        }
    }
}

impl Decider for Scripted {
    fn answers(&self) -> bool {
        true
    }

    fn confirm(&mut self, _question: &str) -> bool {
        self.answers
            .pop_front()
            .is_some_and(|a| a.to_ascii_lowercase().starts_with('y'))
    }

    fn value(&mut self, _needed: &NeededValue<'_>) -> Option<String> {
        self.answers.pop_front().filter(|a| !a.is_empty())
    }

    fn warn(&mut self, message: &str) {
        self.told.push(message.to_string());
    }

    fn detail(&mut self, message: &str) {
        self.told.push(message.to_string());
    }
}

/// The changes between a baseline and the wanted schema, with their SQL both ways.
#[derive(Debug)]
pub struct Proposal {
    /// Changes from the baseline to the wanted schema, in apply order.
    pub changes: Vec<Change>,
    /// SQL for the way up.
    pub up: Plan,
    /// SQL for the way back.
    pub down: Plan,
    /// The wanted schema as the dialect stores it, with the hints the plan used.
    pub wanted: Schema,
    /// Comment lines for the top of the up section: for each possible rename that nobody was
    /// asked about, written as a drop and an add, the SQL of both sections with the rename
    /// instead, for the reviewer to switch to. Empty when there is none.
    pub alternatives: String,
}

/// Why no proposal could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposeError {
    /// The dialect cannot plan the changes.
    Plan(PlanError),
    /// Existing rows need values that nobody gave: one sentence per column, saying how to give
    /// one in the model.
    NeedsValues(Vec<String>),
}

impl std::fmt::Display for ProposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProposeError::Plan(e) => write!(f, "cannot plan the migration: {e}"),
            ProposeError::NeedsValues(missing) => {
                write!(f, "existing rows need values: {}", missing.join("; "))
            }
        }
    }
}

impl std::error::Error for ProposeError {}

/// Diffs `wanted` against `baseline`, resolves renames and values for new NOT NULL columns
/// (asking `decider`), and plans both directions. Nothing is verified yet.
pub fn propose(
    dialect: &dyn Dialect,
    baseline: &Schema,
    wanted: &Schema,
    decider: &mut dyn Decider,
) -> Result<Proposal, ProposeError> {
    propose_normalized(dialect, baseline, dialect.normalize(wanted), decider)
}

/// [`propose`] of models the caller has no further use for: they are normalized in place
/// ([`Dialect::normalize_owned`]) and become the proposal's `wanted`, so a big project's
/// models are not held twice while the migration is planned.
pub fn propose_owned(
    dialect: &dyn Dialect,
    baseline: &Schema,
    wanted: Schema,
    decider: &mut dyn Decider,
) -> Result<Proposal, ProposeError> {
    propose_normalized(dialect, baseline, dialect.normalize_owned(wanted), decider)
}

/// [`propose`] from the wanted schema as the dialect stores it.
fn propose_normalized(
    dialect: &dyn Dialect,
    baseline: &Schema,
    mut wanted: Schema,
    decider: &mut dyn Decider,
) -> Result<Proposal, ProposeError> {
    // Views and triggers come from the database, never from models; a rebuild must keep them.
    wanted.views = baseline.views.clone();
    wanted.triggers = baseline.triggers.clone();

    let mut renames = Renames::from_hints(&wanted);
    let mut changes = diff(baseline, &wanted, &renames);
    let candidates = rename_candidates(&changes);
    // Pairs nobody was asked about (`--no-input`): the reviewer gets the rename as an alternative.
    let mut unasked = Vec::new();
    if !candidates.is_empty() {
        for c in &candidates {
            // A column can be in several pairs; once one pair is a rename, the others are not.
            let taken = renames
                .columns
                .iter()
                .any(|(t, from, to)| t == &c.table && (from == &c.from || to == &c.to));
            if taken {
                continue;
            }
            let question = format!("Did you rename {0}.{1} to {0}.{2}?", c.table, c.from, c.to);
            if !decider.answers() {
                unasked.push(Unasked {
                    dropped: format!("{}.{}", c.table, c.from),
                    added: format!("{}.{}", c.table, c.to),
                    rename: Renames {
                        columns: vec![(c.table.clone(), c.from.clone(), c.to.clone())],
                        ..Renames::default()
                    },
                });
            }
            if decider.confirm(&question) {
                renames
                    .columns
                    .push((c.table.clone(), c.from.clone(), c.to.clone()));
            } else {
                decider.warn(&format!(
                    "treating {0}.{1} -> {0}.{2} as a drop and an add: the data in {0}.{1} will be lost \
                     (add #[column(renamed_from = \"{1}\")] to the field if it is a rename)",
                    c.table, c.from, c.to
                ));
            }
        }
        changes = diff(baseline, &wanted, &renames);
    }
    let table_candidates = table_rename_candidates(&changes);
    for (from, to) in &table_candidates {
        let taken = renames
            .tables
            .iter()
            .any(|(old, new)| old == from || new == to);
        if taken {
            continue;
        }
        if !decider.answers() {
            unasked.push(Unasked {
                dropped: format!("table {from}"),
                added: format!("table {to}"),
                rename: Renames {
                    tables: vec![(from.clone(), to.clone())],
                    ..Renames::default()
                },
            });
        }
        if decider.confirm(&format!("Did you rename table {from} to {to}?")) {
            renames.tables.push((from.clone(), to.clone()));
        } else {
            decider.warn(&format!(
                "treating table {from} -> {to} as a drop and a create: the rows of {from} will be \
                 lost (add #[model(renamed_from = \"{from}\")] to the struct if it is a rename)"
            ));
        }
    }
    if !table_candidates.is_empty() {
        changes = diff(baseline, &wanted, &renames);
    }
    // A table renamed while its columns changed is no candidate and nobody is asked: its drop
    // must at least say how the model keeps the rows.
    for (from, to, shared, columns) in similar_dropped_and_created(&changes) {
        if table_candidates.iter().any(|(old, _)| *old == from) {
            continue;
        }
        decider.warn(&format!(
            "table {from} is dropped and table {to} created, with {shared} of the {columns} \
             columns of {from}: if {to} is {from} renamed, add #[model(renamed_from = \"{from}\")] \
             to its struct to keep the rows"
        ));
    }

    if fill_missing_backfills(baseline, &mut wanted, &changes, decider)? {
        // The changes carry the wanted columns' backfills: the summary must show the answers.
        changes = diff(baseline, &wanted, &renames);
    }

    // The two directions only read the schemas: on a big project each is milliseconds of
    // copying and rendering, so they share the cores. An error of the way up is reported first.
    let (up, (down, filled)) = crate::parallel::join(
        || dialect.plan(baseline, &wanted, &changes),
        || plan_down(dialect, baseline, &wanted, &renames),
    );
    let up = up.map_err(ProposeError::Plan)?;
    for filled in filled {
        decider.detail(&format!("down: {filled}"));
    }
    let down = down.map_err(ProposeError::Plan)?;
    let alternatives = rename_alternatives(dialect, baseline, &wanted, &renames, &unasked);
    Ok(Proposal {
        changes,
        up,
        down,
        wanted,
        alternatives,
    })
}

/// A possible rename nobody was asked about, written as a drop and an add.
struct Unasked {
    /// What is dropped, for the comment (`items.url`, `table tags`).
    dropped: String,
    /// What is added.
    added: String,
    /// The rename, to plan the alternative with.
    rename: Renames,
}

/// The commented alternative of each unasked possible rename: both sections planned with that
/// rename, as `--` lines (notes inside the SQL left out, so nothing reads as a live note).
fn rename_alternatives(
    dialect: &dyn Dialect,
    baseline: &Schema,
    wanted: &Schema,
    renames: &Renames,
    unasked: &[Unasked],
) -> String {
    let mut out = String::new();
    for c in unasked {
        let mut with_rename = renames.clone();
        with_rename.tables.extend(c.rename.tables.iter().cloned());
        with_rename.columns.extend(c.rename.columns.iter().cloned());
        let changes = diff(baseline, wanted, &with_rename);
        let (Ok(up), (Ok(down), _)) = (
            dialect.plan(baseline, wanted, &changes),
            plan_down(dialect, baseline, wanted, &with_rename),
        ) else {
            continue;
        };
        out.push_str(&format!(
            "-- possible rename: written as a drop of {0} and an add of {1}, which loses the \
             data of {0}.\n-- If {0} was renamed to {1}, replace the SQL of this section with \
             the first block and that of the down section with the second:\n",
            c.dropped, c.added
        ));
        for (what, plan) in [("up", &up), ("down", &down)] {
            out.push_str(&format!("-- rename, {what}:\n"));
            for step in &plan.steps {
                for line in step
                    .sql
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("--"))
                {
                    out.push_str("--   ");
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// The way back from `wanted` to `baseline`, and the `table.column` of each column it re-adds
/// with a value filled in for existing rows (a column the up drops comes back on the way down;
/// its rows need some value: the data itself is gone, which the up's DESTRUCTIVE mark says).
fn plan_down(
    dialect: &dyn Dialect,
    baseline: &Schema,
    wanted: &Schema,
    renames: &Renames,
) -> (Result<Plan, PlanError>, Vec<String>) {
    let reverse = diff(wanted, baseline, &renames.inverted());
    // Copies only when a re-added column needs a value, or the wanted schema carries hints.
    let re_adds = reverse
        .iter()
        .any(|change| matches!(change, Change::AddColumn { .. }));
    let mut down_target = Cow::Borrowed(baseline);
    let filled = if re_adds {
        fill_restored_columns(down_target.to_mut(), &reverse)
    } else {
        Vec::new()
    };
    let from = if wanted.is_hint_free_and_normalized() {
        Cow::Borrowed(wanted)
    } else {
        Cow::Owned(wanted.without_hints())
    };
    (dialect.plan(&from, &down_target, &reverse), filled)
}

/// A new NOT NULL column on an existing table, or a column becoming NOT NULL, needs a value for
/// the rows already there: the model's `default` or `backfill`, else a one-off answer. Whether
/// any answer was put into `wanted`.
fn fill_missing_backfills(
    baseline: &Schema,
    wanted: &mut Schema,
    changes: &[Change],
    decider: &mut dyn Decider,
) -> Result<bool, ProposeError> {
    let mut missing = Vec::new();
    let mut answered = false;
    for change in changes {
        let (table, column, mut why) = match change {
            Change::AddColumn { table, column } if needs_value(column) => {
                (table, column, "is a new NOT NULL column".to_string())
            }
            Change::AlterColumn { table, from, to } if from.nullable && needs_value(to) => {
                (table, to, "becomes NOT NULL".to_string())
            }
            _ => continue,
        };
        // A table created in this same migration has no rows to fill.
        if baseline.table(table).is_none() {
            continue;
        }
        // Judged by the live rows when there are some: no NULL, no value needed (the runner
        // still refuses NULLs on any other database).
        if let Change::AlterColumn { from, .. } = change {
            match decider.null_count(table, live_name(changes, table, &from.name)) {
                Some(0) => continue,
                Some(nulls) => {
                    why = format!(
                        "{why} ({nulls} row{} NULL now)",
                        if nulls == 1 { " holds" } else { "s hold" }
                    );
                }
                None => {}
            }
        }
        let why = why.as_str();
        let needed = NeededValue {
            table,
            column,
            row_of: wanted.table(table),
            why,
        };
        match decider.value(&needed) {
            Some(answer) => {
                if let Some(c) = wanted
                    .tables
                    .iter_mut()
                    .find(|t| &t.name == table)
                    .and_then(|t| t.columns.iter_mut().find(|c| c.name == column.name))
                {
                    c.backfill = Some(DefaultValue::Sql(answer));
                    answered = true;
                }
            }
            None => missing.push(format!(
                "{table}.{col} {why} and existing rows need a value: add #[column(default = …)] or \
                 #[column(backfill = …)] to the field `{col}`, or make it Option<…>",
                col = column.name
            )),
        }
    }
    if missing.is_empty() {
        Ok(answered)
    } else {
        Err(ProposeError::NeedsValues(missing))
    }
}

/// The name `column` of `table` has in the live database: its old name when `changes` rename it.
fn live_name<'a>(changes: &'a [Change], table: &str, column: &'a str) -> &'a str {
    changes
        .iter()
        .find_map(|change| match change {
            Change::RenameColumn { table: t, from, to } if t == table && to == column => {
                Some(from.as_str())
            }
            _ => None,
        })
        .unwrap_or(column)
}

fn needs_value(column: &Column) -> bool {
    !column.nullable && column.default.is_none() && column.backfill.is_none()
}
