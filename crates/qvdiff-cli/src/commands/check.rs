//! `qvdiff check`: for CI. Models vs migrations; with `--db`, also drift and pending revisions.

use crate::cli::CheckArgs;
use crate::config::Config;
use crate::db_url::{self, Database};
use crate::dialects;
use crate::error::{CliError, CliResult, EXIT_DIFFERENCE, EXIT_OK};
use crate::history::{History, HistoryDir};
use crate::models::ModelSource;
use crate::output::{Console, Tone};
use qvdiff_core::diff::diff;
use qvdiff_core::wording::plural;
use qvdiff_core::Renames;
use qvdiff_core::Schema;
use std::borrow::Cow;

/// Returns exit code 0 when everything agrees, 1 with a report when something differs.
pub fn run(
    config: &Config,
    args: &CheckArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<i32> {
    let dirs = HistoryDir::all(config);
    // The models and the recorded schemas do not need each other: read them at once. Errors are
    // still reported in the same order: the models', the database URL's, the histories'.
    let (models, recorded) = qvdiff_core::parallel::join(
        || ModelSource::choose(config, args.manifest.as_deref()).load(),
        || -> CliResult<_> {
            let live = match db_flag {
                Some(flag) => Some(db_url::resolve_database(config, Some(flag))?),
                None => None,
            };
            let mut histories = Vec::new();
            let mut schemas = Vec::new();
            for dir in &dirs {
                // A live database of this history's dialect can replay what the model cannot
                // read.
                let server = live
                    .as_ref()
                    .map(|(_, database)| database)
                    .filter(|database| database.dialect() == dir.dialect);
                let history = dir.load()?;
                schemas.push(dialects::recorded_schema(&history, server)?);
                histories.push(history);
            }
            Ok((live, histories, schemas))
        },
    );
    let models = models?;
    let (live, histories, schemas) = recorded?;
    // With two histories (SQLite and PostgreSQL) each report says which one it is about.
    let which = |history: &History| {
        if histories.len() > 1 {
            format!(" in {}", history.shown())
        } else {
            String::new()
        }
    };
    let mut problems = 0;
    let mut checked = histories.iter().zip(&schemas);
    let last = checked.next_back();
    for (history, schema) in checked {
        problems += check_history(
            config,
            Cow::Borrowed(&models),
            &which(history),
            history,
            schema,
        );
    }
    // The last history takes the models themselves: nothing reads them afterwards.
    if let Some((history, schema)) = last {
        problems += check_history(config, Cow::Owned(models), &which(history), history, schema);
    }
    let live_checked = match &live {
        Some((dir, database)) => {
            // The history of the database's dialect is one of those read above.
            let history = dir.find_or_load(&histories)?;
            problems += check_live(&history, database, console)?;
            true
        }
        None => false,
    };
    if args.lint {
        let revisions = match &args.since {
            Some(reference) => Some(crate::commands::review::added_since(
                config,
                &HistoryDir::project(config),
                reference,
            )?),
            None => None,
        };
        // Nothing added since the ref: nothing to lint (an empty list would mean every file).
        if revisions.as_ref().is_none_or(|added| !added.is_empty()) {
            let checked = crate::commands::lint::check_files(
                config,
                &HistoryDir::project(config),
                revisions.as_deref().unwrap_or(&[]),
            )?;
            if crate::commands::lint::report(&checked, console) != EXIT_OK {
                problems += 1;
            }
        }
    }
    if problems == 0 {
        let what = if live_checked {
            "OK: the models match the migrations, and the database is at head without drift."
        } else {
            "OK: the models match the migrations."
        };
        console.info(&console.paint(Tone::Good, what));
        Ok(EXIT_OK)
    } else {
        Ok(EXIT_DIFFERENCE)
    }
}

/// Heads and model changes of one history. Returns how many kinds of problem it printed.
fn check_history(
    config: &Config,
    models: Cow<'_, Schema>,
    which: &str,
    history: &History,
    recorded: &Schema,
) -> usize {
    let dialect = dialects::planner(config, history.dialect);
    let wanted = match models {
        Cow::Owned(models) => dialect.normalize_owned(models),
        Cow::Borrowed(models) => dialect.normalize(models),
    };
    let folder = history;
    let history = &history.migrations;
    let heads = history.graph().heads();
    let changes = diff(recorded, &wanted, &Renames::from_hints(&wanted));
    let mut problems = 0;
    if heads.len() > 1 {
        problems += 1;
        println!("The migrations{which} have {} heads:", heads.len());
        for head in &heads {
            match history.get(head) {
                Some(m) => println!("  {head}  {}  ({})", m.file.message, m.path),
                None => println!("  {head}"),
            }
        }
        println!(
            "Join them with `qvdiff merge -m \"merge heads\"`, or put your unapplied revisions \
             on top of the other head with `qvdiff rebase --onto <that head>`."
        );
    }
    if !changes.is_empty() {
        problems += 1;
        println!(
            "The models differ from the migrations{which} ({} change{}):",
            changes.len(),
            plural(changes.len())
        );
        for c in &changes {
            println!("  {}", c.describe_in(&|ty| dialect.type_name(ty)));
        }
        if !folder.dir.exists() {
            // A misspelt path reads as an empty history, and every table as new.
            println!(
                "The migrations folder {} does not exist: check the migrations paths in \
                 qvdiff.toml.",
                folder.shown()
            );
        }
        println!("Run `qvdiff migrate -m \"…\"` to write a migration for them.");
    }
    problems
}

/// Pending revisions, edited or unknown applied revisions, and drift between the live schema and
/// the schema its applied revisions produce. Returns how many kinds of problem it printed.
fn check_live(history: &History, database: &Database, console: &Console) -> CliResult<usize> {
    let migrations = &history.migrations;
    let mut db = dialects::open_read_only(database)?;
    let applied = db.applied().map_err(|e| CliError::new(e.to_string()))?;
    let status = qvdiff_core::runner::status(migrations, &applied);
    let shown = database.display();
    let mut problems = 0;
    if !status.pending.is_empty() {
        problems += 1;
        let contract = status
            .pending
            .iter()
            .any(|rev| migrations.get(rev).is_some_and(|m| m.contract));
        println!(
            "{shown} has {} pending revision{}: {} (run `qvdiff upgrade`{}).",
            status.pending.len(),
            plural(status.pending.len()),
            status.pending.join(", "),
            if contract {
                "; a contract revision needs `qvdiff upgrade --contract`, once the new app \
                 version is deployed"
            } else {
                ""
            }
        );
    }
    if !status.edited.is_empty() {
        problems += 1;
        println!(
            "Applied revisions whose files were edited since: {}.",
            status.edited.join(", ")
        );
    }
    if !status.unknown.is_empty() {
        problems += 1;
        println!(
            "{shown} has revisions applied that {} does not hold: {}.",
            history.shown(),
            status.unknown.join(", ")
        );
    }
    let expected = match applied_schema(history, &status.current, database)? {
        Ok(schema) => schema,
        Err(why) => {
            println!("{shown} {why}.");
            return Ok(problems + 1);
        }
    };
    let live = db
        .introspect()
        .map_err(|e| CliError::new(format!("cannot introspect {shown}: {e}")))?;
    let drift = drift(db.dialect(), &expected, &live);
    if let Some(blind) = dialects::not_compared(database) {
        console.info(&format!(
            "Not compared on {} (drift in these goes unseen): {blind}.",
            database.dialect().display_name()
        ));
    }
    if !drift.is_empty() {
        problems += 1;
        println!(
            "{shown} has drifted from its applied migrations ({} change{}):",
            drift.len(),
            plural(drift.len())
        );
        for c in &drift {
            println!("  {}", c.describe_in(&|ty| db.dialect().type_name(ty)));
        }
        println!("Someone changed the schema by hand: write a migration that records it, or undo the change.");
    }
    Ok(problems)
}

/// The schema the revisions applied on `database` (its heads, `current`) produce, or why drift
/// cannot be told there (several heads applied, inside the range a baseline replaces), as the
/// rest of a sentence about the database.
pub(crate) fn applied_schema(
    history: &History,
    current: &[String],
    database: &Database,
) -> CliResult<Result<Schema, String>> {
    if let Some(baseline) = current
        .iter()
        .find_map(|rev| history.migrations.squashed_by(rev))
    {
        return Ok(Err(format!(
            "is inside the history baseline {} replaces; drift is checked once it is past it \
             (run `qvdiff upgrade`)",
            baseline.revision()
        )));
    }
    match current {
        [] => Ok(Ok(Schema::default())),
        [one] => dialects::schema_at(history, one, Some(database)).map(Ok),
        several => Ok(Err(format!(
            "has several heads applied ({}); drift was not checked",
            several.join(", ")
        ))),
    }
}

/// What the live schema changed from the schema its applied migrations produce, as the
/// dialect compares them (empty: no drift).
pub(crate) fn drift(
    dialect: &dyn qvdiff_core::Dialect,
    expected: &Schema,
    live: &Schema,
) -> Vec<qvdiff_core::Change> {
    diff(
        &dialect.comparable(expected),
        &dialect.comparable(live),
        &Renames::default(),
    )
}
