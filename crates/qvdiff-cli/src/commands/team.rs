//! Commands for a history shared by a team: `accept` (an intended edit of an applied file,
//! audited).

use crate::cli::AcceptArgs;
use crate::config::Config;
use crate::db_url;
use crate::dialects;
use crate::error::{CliError, CliResult};
use crate::history::load_migrations;
use crate::output::{Console, Tone};
use crate::planning::schema_diff;
use qvdiff_core::run::RunOptions;
use qvdiff_core::runner::{plan_accept, status};
use qvdiff_core::Schema;

/// First 12 characters of a checksum, as the runner's messages show them.
fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// `qvdiff accept REV --reason "…"`: records an intended edit of an applied file in the audit
/// table and the new checksum in the ledger, after proving the edited history gives the
/// database's schema.
pub fn accept(
    config: &Config,
    args: &AcceptArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    let (config, database) = db_url::resolve_database(config, db_flag)?;
    let config = &config;
    let migrations = load_migrations(&config.migrations)?;
    let mut db = dialects::open(&database, false)?;
    let applied = db.applied().map_err(|e| CliError::new(e.message))?;
    // The cheap refusals (unknown revision, no reason, nothing edited) before any replay.
    let plan = plan_accept(&migrations, &applied, &args.revision, &args.reason)
        .map_err(|e| CliError::new(e.to_string()))?;
    let path = plan.migration.path.clone();
    let revision = plan.migration.file.revision.clone();
    let here = status(&migrations, &applied);
    let expected = match here.current.as_slice() {
        [] => Schema::default(),
        [one] => dialects::schema_at(config, &migrations, one, Some(&database))?,
        several => {
            return Err(CliError::new(format!(
                "{} has several heads applied ({}), so the schema the edited history gives \
                 cannot be compared with it; nothing was written",
                database.display(),
                several.join(", ")
            ))
            .with_hint("merge the heads (`qvdiff merge`) and upgrade, then accept the edit"));
        }
    };
    let live = db.introspect().map_err(|e| CliError::new(e.message))?;
    let (expected, live) = (
        db.dialect().comparable(&expected),
        db.dialect().comparable(&live),
    );
    if expected != live {
        return Err(CliError::new(format!(
            "{path} (revision {revision}) was edited in a way that changes the schema: with the \
             edit, the history gives another schema (expected) than {} has (actual); nothing \
             was written",
            database.display()
        ))
        .with_details([schema_diff(&expected, &live)])
        .with_hint(
            "restore the file from version control and put the schema change in a new \
             migration (`qvdiff migrate`); `accept` is for edits that change no schema",
        ));
    }
    let edit = db
        .accept(
            &migrations,
            &revision,
            &args.reason,
            &RunOptions {
                busy_timeout: config.busy_timeout,
                ..RunOptions::default()
            },
        )
        .map_err(|e| CliError::new(e.message))?;
    console.info(&format!(
        "{} the edit of {path} on {}: checksum {} -> {}, reason: {}",
        console.paint(Tone::Good, "Accepted"),
        database.display(),
        short(&edit.old_checksum),
        short(&edit.new_checksum),
        edit.reason
    ));
    Ok(())
}
