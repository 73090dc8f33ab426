//! `qvdiff check`: for CI. Models vs migrations; with `--db`, also drift and pending revisions.

use crate::baseline;
use crate::cli::CheckArgs;
use crate::config::Config;
use crate::error::{CliResult, EXIT_DIFFERENCE, EXIT_OK};
use crate::history::History;
use crate::models::ModelSource;
use crate::output::{Console, Tone};
use crate::planning::dialect;
use qvdiff_core::diff::diff;
use qvdiff_core::{Dialect, Renames};

/// Returns exit code 0 when everything agrees, 1 with a report when something differs.
pub fn run(config: &Config, args: &CheckArgs, console: &Console) -> CliResult<i32> {
    let wanted = dialect().normalize(&ModelSource::choose(config, args.manifest.as_deref()).load()?);
    let history = History::load(&config.migrations)?;
    let heads = history.graph.heads();
    let recorded = baseline::recorded(&history)?;
    let changes = diff(&recorded.schema, &wanted, &Renames::from_hints(&wanted));

    let mut problems = 0;
    if heads.len() > 1 {
        problems += 1;
        println!("The migrations have {} heads ({}): run `qvdiff merge -m \"merge heads\"`.", heads.len(), heads.join(", "));
    }
    if !changes.is_empty() {
        problems += 1;
        println!("The models differ from the migrations ({} change{}):", changes.len(), plural(changes.len()));
        for c in &changes {
            println!("  {}", c.describe());
        }
        println!("Run `qvdiff migrate -m \"…\"` to write a migration for them.");
    }
    if problems == 0 {
        console.info(&console.paint(Tone::Good, "OK: the models match the migrations."));
        Ok(EXIT_OK)
    } else {
        Ok(EXIT_DIFFERENCE)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
