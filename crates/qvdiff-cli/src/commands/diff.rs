//! `qvdiff diff`: what `migrate` would generate, written nowhere.

use crate::baseline;
use crate::cli::DiffArgs;
use crate::config::Config;
use crate::error::CliResult;
use crate::history::HistoryDir;
use crate::models::ModelSource;
use crate::output::Console;
use crate::planning::propose;
use crate::prompt::Prompter;
use qvdiff_core::migration::render_steps;
use std::io::Write;

/// Prints the changes (and with `--sql` the up and down SQL) on standard output.
pub fn run(
    config: &Config,
    args: &DiffArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    let wanted = ModelSource::choose(config, args.manifest.as_deref()).load()?;
    // With `--db`, the history (and so the planner) is that of the database's dialect: a SQLite
    // project keeping a PostgreSQL history beside it diffs its PostgreSQL database in PostgreSQL.
    let history = match db_flag {
        Some(_) => crate::db_url::resolve_database(config, db_flag)?.0.load()?,
        None => HistoryDir::project(config).load()?,
    };
    let base = baseline::choose(config, &history, db_flag, console)?;
    // `diff` never asks: a possible rename is shown as the drop and add it would be by default.
    let dialect = crate::dialects::planner(config, history.dialect);
    let proposal = propose(
        dialect.as_ref(),
        &base,
        std::borrow::Cow::Owned(wanted),
        &Prompter::new(false),
        console,
    )?;
    let mut out = String::new();
    if proposal.changes.is_empty() {
        console.info("No changes detected.");
        return Ok(());
    }
    // `describe_in` already ends a destructive change with the word.
    for change in &proposal.changes {
        let line = change.describe_in(&|ty| dialect.type_name(ty));
        out.push_str(&line);
        out.push('\n');
    }
    if args.sql {
        out.push_str("\n-- qvdiff:up\n");
        out.push_str(&render_steps(&proposal.up.steps));
        out.push_str("-- qvdiff:down\n");
        out.push_str(&render_steps(&proposal.down.steps));
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}
