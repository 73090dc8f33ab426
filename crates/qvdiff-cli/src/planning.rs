//! From a baseline and the wanted schema to verified up and down SQL: the part `migrate`, `diff`
//! and `check` share.

use crate::baseline::Baseline;
use crate::error::{CliError, CliResult};
use crate::output::Console;
use crate::prompt::Prompter;
use qvdiff_core::propose::{Decider, NeededValue, ProposeError};
use qvdiff_core::{Change, DefaultValue, Dialect, Schema};
use std::borrow::Cow;

pub use qvdiff_core::propose::Proposal;

/// The CLI's [`Decider`]: questions go to the terminal's prompts (none under `--no-input`),
/// warnings and details to the console. A value the database cannot evaluate is the typist's
/// mistake: its message is shown, with the column, and the question asked again.
struct Prompts<'a> {
    prompter: &'a Prompter,
    console: &'a Console,
    baseline: &'a Baseline,
    /// The live database's backend (`--db`), opened when first asked for NULL counts.
    opened: Option<Box<dyn qvdiff_core::Backend>>,
}

impl Decider for Prompts<'_> {
    fn answers(&self) -> bool {
        self.prompter.enabled()
    }

    fn confirm(&mut self, question: &str) -> bool {
        self.prompter.confirm(question)
    }

    fn value(&mut self, needed: &NeededValue<'_>) -> Option<String> {
        let (table, column, row_of) = (needed.table, &needed.column.name, needed.row_of);
        self.prompter.ask_checked(&needed.question(), |answer| {
            row_of
                .map_or(Ok(()), |row_of| {
                    self.baseline.check_expression(row_of, answer)
                })
                .map_err(|message| {
                    format!(
                        "{table}.{column}: the value `{answer}` cannot be evaluated for the rows \
                         of {table}: {}: {message}; type a literal (0, 'unknown') or an \
                         expression over the columns of {table}",
                        self.baseline.dialect_name()
                    )
                })
        })
    }

    fn warn(&mut self, message: &str) {
        self.console.warn(message);
    }

    fn detail(&mut self, message: &str) {
        self.console.detail(message);
    }

    fn null_count(&mut self, table: &str, column: &str) -> Option<u64> {
        // A database that cannot be read here is asked about as without `--db`.
        if self.opened.is_none() {
            self.opened = crate::dialects::open_read_only(self.baseline.live.as_ref()?).ok();
        }
        self.opened.as_mut()?.count_nulls(table, column).ok()
    }
}

/// [`qvdiff_core::propose::propose`] from `baseline`, asking at the prompts. Nothing is
/// verified yet. Models handed over owned are normalized in place and become the proposal's
/// `wanted` ([`qvdiff_core::propose::propose_owned`]): a big project's models are not held twice.
pub fn propose(
    dialect: &dyn Dialect,
    baseline: &Baseline,
    wanted: Cow<'_, Schema>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<Proposal> {
    let mut prompts = Prompts {
        prompter,
        console,
        baseline,
        opened: None,
    };
    let proposed = match wanted {
        Cow::Owned(wanted) => {
            qvdiff_core::propose::propose_owned(dialect, &baseline.schema, wanted, &mut prompts)
        }
        Cow::Borrowed(wanted) => {
            qvdiff_core::propose::propose(dialect, &baseline.schema, wanted, &mut prompts)
        }
    };
    let proposal = proposed.map_err(|e| match e {
        ProposeError::Plan(e) => CliError::new(format!("cannot plan the migration: {e}")),
        ProposeError::NeedsValues(missing) => {
            CliError::new("existing rows need values; nothing was written").with_details(missing)
        }
    })?;
    check_model_expressions(baseline, &proposal.wanted, &proposal.changes)?;
    Ok(proposal)
}

/// The `backfill_sql` the models give for the columns this migration adds or changes, checked
/// by the database before the proof: a typo in one is the model's error, reported with the
/// column and the database's message, not a failed proof. (A `default_sql` SQLite cannot
/// compute is refused by the proof itself, with its own hint.)
fn check_model_expressions(
    baseline: &Baseline,
    wanted: &Schema,
    changes: &[Change],
) -> CliResult<()> {
    let mut problems = Vec::new();
    for change in changes {
        let (table, column) = match change {
            Change::AddColumn { table, column } => (table, &column.name),
            Change::AlterColumn { table, to, .. } => (table, &to.name),
            _ => continue,
        };
        let Some(row_of) = wanted.table(table) else {
            continue;
        };
        let Some(DefaultValue::Sql(expr)) = row_of.column(column).and_then(|c| c.backfill.as_ref())
        else {
            continue;
        };
        if let Err(message) = baseline.check_expression(row_of, expr) {
            problems.push(format!(
                "{table}.{column}: backfill_sql `{expr}` fails on {}: {message}; fix \
                 #[column(backfill_sql = \"…\")] on the field `{column}`",
                baseline.dialect_name(),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            "an SQL expression in the models cannot be evaluated; nothing was written",
        )
        .with_details(problems))
    }
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
/// it): up gives `wanted`, down the baseline, up again `wanted` (see [`crate::dialects::prove`]).
pub fn verify_schema(
    baseline: &Baseline,
    wanted: &Schema,
    up_sql: &str,
    down_sql: &str,
) -> CliResult<()> {
    crate::dialects::prove(baseline, wanted, up_sql, down_sql)
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
