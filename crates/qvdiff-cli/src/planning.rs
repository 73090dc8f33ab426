//! From a baseline and the wanted schema to verified up and down SQL: the part `migrate`, `diff`
//! and `check` share.

use crate::baseline::Baseline;
use crate::error::{CliError, CliResult};
use crate::output::Console;
use crate::prompt::Prompter;
use qvdiff_core::propose::{Decider, NeededValue, ProposeError};
use qvdiff_core::{Dialect, Schema};

pub use qvdiff_core::propose::Proposal;

/// The CLI's [`Decider`]: questions go to the terminal's prompts (none under `--no-input`),
/// warnings and details to the console.
struct Prompts<'a> {
    prompter: &'a Prompter,
    console: &'a Console,
}

impl Decider for Prompts<'_> {
    fn answers(&self) -> bool {
        self.prompter.enabled()
    }

    fn confirm(&mut self, question: &str) -> bool {
        self.prompter.confirm(question)
    }

    fn value(&mut self, needed: &NeededValue<'_>) -> Option<String> {
        self.prompter.ask(&needed.question())
    }

    fn warn(&mut self, message: &str) {
        self.console.warn(message);
    }

    fn detail(&mut self, message: &str) {
        self.console.detail(message);
    }
}

/// [`qvdiff_core::propose::propose`] from `baseline`, asking at the prompts. Nothing is
/// verified yet.
pub fn propose(
    dialect: &dyn Dialect,
    baseline: &Baseline,
    wanted: &Schema,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<Proposal> {
    let mut prompts = Prompts { prompter, console };
    qvdiff_core::propose::propose(dialect, &baseline.schema, wanted, &mut prompts).map_err(|e| {
        match e {
            ProposeError::Plan(e) => CliError::new(format!("cannot plan the migration: {e}")),
            ProposeError::NeedsValues(missing) => {
                CliError::new("existing rows need values; nothing was written")
                    .with_details(missing)
            }
        }
    })
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
