//! From a baseline and the wanted schema to verified up and down SQL: the part `migrate`, `diff`
//! and `check` share.

use crate::baseline::{Baseline, Shadow};
use crate::error::{CliError, CliResult};
use crate::output::Console;
use crate::prompt::Prompter;
use qvdiff_core::diff::{diff, rename_candidates};
use qvdiff_core::{Change, Column, DefaultValue, Dialect, Plan, Renames, Schema};

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
    /// Comment lines for the top of the up section: for each possible rename that `--no-input`
    /// wrote as a drop and an add, the SQL of both sections with the rename instead, for the
    /// reviewer to switch to. Empty when there is none.
    pub alternatives: String,
}

/// Diffs `wanted` against the baseline, resolves renames and values for new NOT NULL columns
/// (asking when allowed), and plans both directions. Nothing is verified yet.
pub fn propose(
    dialect: &dyn Dialect,
    baseline: &Baseline,
    wanted: &Schema,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<Proposal> {
    let mut wanted = dialect.normalize(wanted);
    // Views and triggers come from the database, never from models; a rebuild must keep them.
    wanted.views = baseline.schema.views.clone();
    wanted.triggers = baseline.schema.triggers.clone();

    let mut renames = Renames::from_hints(&wanted);
    let mut changes = diff(&baseline.schema, &wanted, &renames);
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
            if !prompter.enabled() {
                unasked.push(Unasked {
                    dropped: format!("{}.{}", c.table, c.from),
                    added: format!("{}.{}", c.table, c.to),
                    rename: Renames {
                        tables: Vec::new(),
                        columns: vec![(c.table.clone(), c.from.clone(), c.to.clone())],
                    },
                });
            }
            if prompter.confirm(&question) {
                renames
                    .columns
                    .push((c.table.clone(), c.from.clone(), c.to.clone()));
            } else {
                console.warn(&format!(
                    "treating {0}.{1} -> {0}.{2} as a drop and an add: the data in {0}.{1} will be lost \
                     (add #[column(renamed_from = \"{1}\")] to the field if it is a rename)",
                    c.table, c.from, c.to
                ));
            }
        }
        changes = diff(&baseline.schema, &wanted, &renames);
    }
    let table_candidates = qvdiff_core::table_rename_candidates(&changes);
    for (from, to) in &table_candidates {
        let taken = renames
            .tables
            .iter()
            .any(|(old, new)| old == from || new == to);
        if taken {
            continue;
        }
        if !prompter.enabled() {
            unasked.push(Unasked {
                dropped: format!("table {from}"),
                added: format!("table {to}"),
                rename: Renames {
                    tables: vec![(from.clone(), to.clone())],
                    columns: Vec::new(),
                },
            });
        }
        if prompter.confirm(&format!("Did you rename table {from} to {to}?")) {
            renames.tables.push((from.clone(), to.clone()));
        } else {
            console.warn(&format!(
                "treating table {from} -> {to} as a drop and a create: the rows of {from} will be \
                 lost (add #[model(renamed_from = \"{from}\")] to the struct if it is a rename)"
            ));
        }
    }
    if !table_candidates.is_empty() {
        changes = diff(&baseline.schema, &wanted, &renames);
    }

    fill_missing_backfills(&baseline.schema, &mut wanted, &changes, prompter)?;

    // The two directions only read the schemas: on a big project each is milliseconds of
    // copying and rendering, so they share the cores. An error of the way up is reported first.
    let (up, (down, filled)) = crate::parallel::run_both(
        || dialect.plan(&baseline.schema, &wanted, &changes),
        || plan_down(dialect, &baseline.schema, &wanted, &renames),
    );
    let up = up.map_err(plan_error)?;
    for filled in filled {
        console.detail(&format!("down: {filled}"));
    }
    let down = down.map_err(plan_error)?;
    let alternatives = rename_alternatives(dialect, &baseline.schema, &wanted, &renames, &unasked);
    Ok(Proposal {
        changes,
        up,
        down,
        wanted,
        alternatives,
    })
}

/// A possible rename `--no-input` wrote as a drop and an add.
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
) -> (Result<Plan, qvdiff_core::PlanError>, Vec<String>) {
    use std::borrow::Cow;
    let reverse = diff(wanted, baseline, &renames.inverted());
    // Copies only when a re-added column needs a value, or the wanted schema carries hints.
    let re_adds = reverse
        .iter()
        .any(|change| matches!(change, Change::AddColumn { .. }));
    let mut down_target = Cow::Borrowed(baseline);
    let filled = if re_adds {
        qvdiff_core::fill_restored_columns(down_target.to_mut(), &reverse)
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

fn plan_error(e: qvdiff_core::PlanError) -> CliError {
    CliError::new(format!("cannot plan the migration: {e}"))
}

/// A new NOT NULL column on an existing table, or a column becoming NOT NULL, needs a value for
/// the rows already there: the model's `default` or `backfill`, else a one-off answer.
fn fill_missing_backfills(
    baseline: &Schema,
    wanted: &mut Schema,
    changes: &[Change],
    prompter: &Prompter,
) -> CliResult<()> {
    let mut missing = Vec::new();
    for change in changes {
        let (table, column, why) = match change {
            Change::AddColumn { table, column } if needs_value(column) => {
                (table, column, "is a new NOT NULL column")
            }
            Change::AlterColumn { table, from, to } if from.nullable && needs_value(to) => {
                (table, to, "becomes NOT NULL")
            }
            _ => continue,
        };
        // A table created in this same migration has no rows to fill.
        if baseline.table(table).is_none() {
            continue;
        }
        let question = format!(
            "{table}.{} {why}; value for existing rows (SQL literal, e.g. 0 or 'unknown'): ",
            column.name
        );
        match prompter.ask(&question) {
            Some(answer) => {
                if let Some(c) = wanted
                    .tables
                    .iter_mut()
                    .find(|t| &t.name == table)
                    .and_then(|t| t.columns.iter_mut().find(|c| c.name == column.name))
                {
                    c.backfill = Some(DefaultValue::Sql(answer));
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
        Ok(())
    } else {
        Err(CliError::new("existing rows need values; nothing was written").with_details(missing))
    }
}

fn needs_value(column: &Column) -> bool {
    !column.nullable && column.default.is_none() && column.backfill.is_none()
}

/// Verifies the proposal on the baseline's shadow: up gives the wanted schema, down the
/// baseline, up again the wanted schema. A mismatch is reported with a unified diff.
pub fn verify(
    baseline: &Baseline,
    proposal: &Proposal,
    up_sql: &str,
    down_sql: &str,
) -> CliResult<()> {
    verify_schema(baseline, &proposal.wanted, up_sql, down_sql)
}

/// Verifies up and down SQL on the baseline's shadow against `wanted` (as the dialect stores
/// it): up gives `wanted`, down the baseline, up again `wanted`.
pub fn verify_schema(
    baseline: &Baseline,
    wanted: &Schema,
    up_sql: &str,
    down_sql: &str,
) -> CliResult<()> {
    let mismatch = |what: &str, expected: &Schema, actual: &Schema| {
        CliError::new(format!(
            "verification failed: {what} does not give the expected schema; nothing was written"
        ))
        .with_details([schema_diff(expected, actual)])
        .with_hint("this is a qvdiff bug: please report it with the models and migrations involved")
    };
    match &baseline.shadow {
        Shadow::Sqlite(objects) => {
            let before = &baseline.schema;
            qvdiff_sqlite::verify_stored(objects, before, wanted, up_sql, down_sql).map_err(|e| {
                let mut err = CliError::new(format!("{e}; nothing was written"));
                if let qvdiff_sqlite::VerifyError::Mismatch {
                    expected, actual, ..
                } = &e
                {
                    err = err.with_details([schema_diff(expected, actual)]);
                }
                err.with_hint(
                    "this is a qvdiff bug: please report it with the models and migrations involved",
                )
            })
        }
        Shadow::Model => {
            let apply = |schema: &Schema, sql: &str, what: &str| {
                let mut after = schema.clone();
                qvdiff_postgres::model::apply_sql(&mut after, sql).map_err(|e| {
                    CliError::new(format!(
                        "verification failed: the {what} section cannot be modelled: {e}; \
                         nothing was written"
                    ))
                })?;
                Ok::<Schema, CliError>(after.normalized().comparable())
            };
            let start = baseline.schema.comparable();
            let wanted = wanted.comparable();
            let up = apply(&start, up_sql, "up")?;
            if up != wanted {
                return Err(mismatch("the up section", &wanted, &up));
            }
            let down = apply(&up, down_sql, "down")?;
            if down != start {
                return Err(mismatch("the down section", &start, &down));
            }
            let again = apply(&down, up_sql, "up")?;
            if again != wanted {
                return Err(mismatch("the up section run again", &wanted, &again));
            }
            Ok(())
        }
    }
}

/// A unified diff of two schemas' manifest JSON, for people.
pub fn schema_diff(expected: &Schema, actual: &Schema) -> String {
    let a = qvdiff_core::manifest::to_json(expected);
    let b = qvdiff_core::manifest::to_json(actual);
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}
