//! The deploy workflow on a live database: `upgrade`, `downgrade`, `current`, `history`,
//! `heads`, `stamp`, `sql`. Each is a thin layer over the dialect's [`Backend`]: the same code
//! drives a SQLite file and a PostgreSQL database.

use crate::cli::{DowngradeArgs, SqlArgs, StampArgs, UpgradeArgs};
use crate::config::Config;
use crate::db_url::{self, Database};
use crate::dialects;
use crate::error::{CliError, CliResult};
use crate::history::{database_and_history, HistoryDir};
use crate::models::display_path;
use crate::output::{human_seconds, Console, Pace, Tone};
use crate::planning::schema_diff;
use crate::prompt::Prompter;
use qvdiff_core::backend::{
    BackupSettings, BatchHook, BatchProgress, Direction, HalfDone, RunOptions, RunReport,
};
use qvdiff_core::run_loop::RunRequest;
use qvdiff_core::runner::{
    applied_revisions, history as history_entries, Migrations, RevisionTarget,
};
use qvdiff_core::wording::plural;
use qvdiff_core::{BackendError, BackendErrorKind};
use std::io::Write;
use std::sync::{Arc, Mutex};

fn run_error(e: BackendError) -> CliError {
    let locked = e.kind == BackendErrorKind::Locked;
    let err = CliError::new(e.message);
    if locked {
        // The library cannot know where the timeout comes from; the CLI can say which key sets it.
        err.with_hint("`busy_timeout_ms` in qvdiff.toml sets how long to wait (default 30000)")
    } else {
        err
    }
}

/// Run options; backups are taken of database files only (a PostgreSQL server has its own:
/// `pg_dump`, or the provider's).
fn options(config: &Config, database: &Database, backup: bool, console: &Console) -> RunOptions {
    let console_for_batches = console.clone();
    let console = console.clone();
    RunOptions {
        contract: false,
        backup: (backup && database.file().is_some()).then(|| BackupSettings {
            dir: config.backup_dir.clone(),
            keep: config.backup_keep,
        }),
        busy_timeout: config.busy_timeout,
        lock_retry: config.lock_retry,
        // On a terminal, say which revision is running: a rebuild of a big table takes a while.
        progress: Some(std::sync::Arc::new(move |direction, migration| {
            let verb = match direction {
                Direction::Up => "applying",
                Direction::Down => "reverting",
            };
            console.progress(&format!(
                "{verb} {} {} …",
                migration.file.revision, migration.file.message
            ));
        })),
        batch_progress: Some(batch_reporter(console_for_batches)),
    }
}

/// Reports a batched update (a backfill of a big table runs for minutes): on a terminal a line
/// a second at most with the rows done of the table's estimate, the rate and the time left;
/// when it is done one summary line, which is all that logs and scripts get.
fn batch_reporter(console: Console) -> BatchHook {
    let pace = Mutex::new(Pace::new(true));
    Arc::new(move |progress: &BatchProgress| {
        if progress.done {
            console.info(&batch_summary(progress));
            return;
        }
        let Ok(mut pace) = pace.lock() else {
            return;
        };
        if pace.line_due() {
            console.progress(&batch_line(progress));
        }
    })
}

/// A table name as a statement wrote it, without the quotes of a plain quoted name.
fn table_for_people(table: &str) -> &str {
    table
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('"'))
        .unwrap_or(table)
}

/// `updating items in batches: 1200000 of about 10000000 rows (12%), 40000 rows/s, about 3 min
/// 40 s left`.
fn batch_line(progress: &BatchProgress) -> String {
    let table = table_for_people(&progress.table);
    let (rate, _) = Pace::rate_and_left(progress.walked, 0, progress.elapsed);
    match progress.estimate.filter(|total| *total > 0) {
        Some(total) => {
            let walked = progress.walked.min(total);
            let (_, left) = Pace::rate_and_left(walked, total, progress.elapsed);
            format!(
                "updating {table} in batches: {walked} of about {total} rows ({}%), {} rows/s, \
                 about {} left",
                walked * 100 / total,
                rate as u64,
                human_seconds(left)
            )
        }
        None => format!(
            "updating {table} in batches: {} rows, {} rows/s",
            progress.walked, rate as u64
        ),
    }
}

/// `Updated items in batches: 10000000 rows changed in 1 min 2 s`.
fn batch_summary(progress: &BatchProgress) -> String {
    format!(
        "Updated {} in batches: {} row{} changed in {}",
        table_for_people(&progress.table),
        progress.changed,
        plural(progress.changed as usize),
        elapsed_text(progress.elapsed)
    )
}

/// Time taken: under a second in milliseconds, as the `Applied … (16 ms)` line beside it;
/// [`human_seconds`] rounds up, which suits a time left but would make 16 ms "1 s".
fn elapsed_text(elapsed: std::time::Duration) -> String {
    if elapsed.as_secs() == 0 {
        format!("{} ms", elapsed.as_millis())
    } else {
        human_seconds(elapsed.as_secs_f64())
    }
}

fn refused(e: qvdiff_core::runner::Refusal) -> CliError {
    CliError::new(e.to_string())
}

fn print_stdout(text: &str) {
    // A closed pipe (`qvdiff sql | head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn describe_heads(migrations: &Migrations, revisions: &[String]) -> String {
    if revisions.is_empty() {
        return "base (nothing applied)".to_string();
    }
    revisions
        .iter()
        .map(|rev| match migrations.get(rev) {
            Some(m) => format!("{rev} ({})", m.file.message),
            None => rev.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn report_run(
    console: &Console,
    migrations: &Migrations,
    report: &RunReport,
    verb: &str,
    noop: &str,
) {
    if report.is_noop() {
        console.info(&format!(
            "{noop}: {}",
            describe_heads(migrations, &report.current)
        ));
        return;
    }
    if let Some(backup) = &report.backup {
        console.info(&format!(
            "Backed up the database to {}",
            display_path(backup)
        ));
    }
    for step in &report.steps {
        console.info(&format!(
            "{} {} {}  ({} ms)",
            console.paint(Tone::Good, verb),
            step.revision,
            step.message,
            step.execution_ms
        ));
    }
    console.info(&format!(
        "Database is at {}",
        describe_heads(migrations, &report.current)
    ));
}

/// What an upgrade that stopped before a contract revision says: what is left, and how to go on.
fn report_held(console: &Console, migrations: &Migrations, held: &[String]) {
    let Some(first) = held.first() else {
        return;
    };
    let path = migrations.get(first).map_or("", |m| m.path.as_str());
    console.info(&format!(
        "Stopped before contract revision {first} ({path}); {} pending: {}",
        held.len(),
        held.join(", ")
    ));
    console.info(
        "  it drops what the old app version still uses: deploy the new app version everywhere, \
         then run `qvdiff upgrade --contract`",
    );
}

/// One step of a run that destroys data the database holds now.
struct Destruction {
    /// The revision and its file.
    revision: String,
    path: String,
    /// What the step destroys, in words.
    reason: String,
    /// The table (and column) it destroys, with how many rows hold data there now.
    table: String,
    column: Option<String>,
    rows: u64,
}

/// On a terminal (and without `--no-input`), lists the steps of the revisions about to run in
/// `direction` that destroy data present now — revision, table, column, rows — and asks before
/// anything runs. A script or `--no-input` runs what review approved, without asking.
fn confirm_destruction(
    database: &Database,
    migrations: &Migrations,
    target: &RevisionTarget,
    direction: Direction,
    contract: bool,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    use std::io::IsTerminal;
    if !prompter.enabled() || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    let mut db = dialects::open_read_only(database)?;
    let applied = db.applied().map_err(run_error)?;
    let plan = match direction {
        Direction::Up => qvdiff_core::runner::plan_upgrade(migrations, &applied, target),
        Direction::Down => qvdiff_core::runner::plan_downgrade(migrations, &applied, target),
    };
    // A refused plan is reported by the run itself, with its own message.
    let Ok(mut plan) = plan else {
        return Ok(());
    };
    if direction == Direction::Up {
        qvdiff_core::run_loop::hold_contract(&mut plan, contract);
    }
    if plan.is_empty() {
        return Ok(());
    }
    let now = db.introspect().map_err(run_error)?;
    let mut found = Vec::new();
    for migration in plan {
        let sql = migration.file.section(direction);
        // What each statement destroys, read from the file's SQL by the dialect, between the
        // schemas the file starts from and leads to.
        let dialect = db.dialect();
        let analysis = crate::commands::lint::analyze(dialect, migrations, migration, None);
        let (start, end) = match (analysis, direction) {
            (Some(a), Direction::Up) => (a.before, a.after),
            (Some(a), Direction::Down) => (a.after, a.before),
            (None, _) => (now.clone(), now.clone()),
        };
        for step in dialect.facts_of(&start, &end, sql) {
            for loss in step.destroys {
                // An object a pending revision creates first holds no data now.
                let exists = now
                    .table(&loss.table)
                    .is_some_and(|t| loss.column.as_deref().is_none_or(|c| t.column(c).is_some()));
                if !exists {
                    continue;
                }
                let total = db.count_rows(&loss.table).map_err(run_error)?;
                let rows = match &loss.column {
                    Some(column) => {
                        total - db.count_nulls(&loss.table, column).map_err(run_error)?
                    }
                    None => total,
                };
                if rows > 0 {
                    found.push(Destruction {
                        revision: migration.file.revision.clone(),
                        path: migration.path.clone(),
                        reason: loss.reason,
                        table: loss.table,
                        column: loss.column,
                        rows,
                    });
                }
            }
        }
    }
    drop(db);
    if found.is_empty() {
        return Ok(());
    }
    let verb = match direction {
        Direction::Up => "upgrade",
        Direction::Down => "downgrade",
    };
    let mut lines = vec![format!(
        "This {verb} destroys data {} holds now:",
        database.display()
    )];
    for d in &found {
        let place = match &d.column {
            Some(column) => format!("{}.{column}: {} value", d.table, d.rows),
            None => format!("table {}: {} row", d.table, d.rows),
        };
        lines.push(format!(
            "  {} ({}): {place}{} — {}",
            d.revision,
            d.path,
            if d.rows == 1 { "" } else { "s" },
            d.reason
        ));
    }
    console.warn(&lines.join("\n"));
    if prompter.confirm(&format!("Run the {verb}?")) {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "{verb} stopped before any change: nothing was changed"
        ))
        .with_hint(format!(
            "`qvdiff {verb} --sql` prints what it would run; `--no-input` runs without asking"
        )))
    }
}

/// `qvdiff upgrade [TARGET] [--sql] [--no-backup]`.
pub fn upgrade(
    config: &Config,
    args: &UpgradeArgs,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    // The target's form is checked before the history is read or anything connects.
    let target =
        RevisionTarget::for_upgrade(args.target.as_deref().unwrap_or("head")).map_err(refused)?;
    let (database, history) = database_and_history(config, db_flag)?;
    let migrations = &history.migrations;
    // Only a database file can be missing (and then created); a server's database exists.
    let missing_file = !database.exists();
    if args.sql {
        // Only a database file can be missing: the script from base, on SQLite.
        let script = if missing_file {
            dialects::upgrade_script_from_base(migrations, &target, args.contract)?
        } else {
            dialects::open(&database, false)?
                .upgrade_script(migrations, &target, args.contract)
                .map_err(run_error)?
        };
        print_stdout(&script);
        return Ok(());
    }
    let mut created_dirs = Vec::new();
    if let (true, Some(file)) = (missing_file, database.file()) {
        // Refusals that need no database (an unknown target, several heads) come before the
        // file is created: a failed upgrade must leave nothing behind.
        qvdiff_core::runner::plan_upgrade(migrations, &[], &target).map_err(refused)?;
        created_dirs = create_parent_dirs(&file.path)?;
    }
    if !missing_file {
        confirm_destruction(
            &database,
            migrations,
            &target,
            Direction::Up,
            args.contract,
            prompter,
            console,
        )?;
    }
    // A database that does not exist yet holds nothing to protect: no backup of it.
    let backup = !missing_file && !args.no_backup;
    let result = dialects::open(&database, true).and_then(|mut db| {
        db.run(&RunRequest::new(
            migrations,
            Direction::Up,
            target.clone(),
            &RunOptions {
                contract: args.contract,
                ..options(config, &database, backup, console)
            },
        ))
        .map_err(run_error)
    });
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            if let (true, Some(file)) = (missing_file, database.file()) {
                remove_if_empty(&file.path, &created_dirs);
            }
            return Err(e);
        }
    };
    report_run(
        console,
        migrations,
        &report,
        "Applied",
        "Already up to date",
    );
    report_held(console, migrations, &report.held);
    Ok(())
}

/// Creates the missing ancestors of the database file; returns them, deepest first.
fn create_parent_dirs(path: &std::path::Path) -> CliResult<Vec<std::path::PathBuf>> {
    let mut missing = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        dir = d.parent();
    }
    if let Some(deepest) = missing.first() {
        std::fs::create_dir_all(deepest)
            .map_err(|e| crate::error::io_error("create", deepest, e))?;
    }
    Ok(missing)
}

/// After a failed first upgrade: removes the database file this run created (when it is still
/// empty: the transaction was rolled back, and a concurrent upgrade that filled it keeps it) and
/// the directories created for it (when still empty).
fn remove_if_empty(path: &std::path::Path, created_dirs: &[std::path::PathBuf]) {
    let empty = std::fs::metadata(path).is_ok_and(|m| m.len() == 0);
    if empty {
        let _ = std::fs::remove_file(path);
    }
    for dir in created_dirs {
        // remove_dir fails on a directory that is not empty, which is what must stay.
        let _ = std::fs::remove_dir(dir);
    }
}

/// `qvdiff downgrade [TARGET] [--sql] [--no-backup]`.
pub fn downgrade(
    config: &Config,
    args: &DowngradeArgs,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    // The target's form is checked before the history is read or anything connects.
    let target =
        RevisionTarget::for_downgrade(args.target.as_deref().unwrap_or("-1")).map_err(refused)?;
    let target = &target;
    let (database, history) = database_and_history(config, db_flag)?;
    let migrations = &history.migrations;
    if args.sql {
        let script = dialects::open(&database, false)?
            .downgrade_script(migrations, target)
            .map_err(run_error)?;
        print_stdout(&script);
        return Ok(());
    }
    confirm_destruction(
        &database,
        migrations,
        target,
        Direction::Down,
        false,
        prompter,
        console,
    )?;
    let report = dialects::open(&database, false)?
        .run(&RunRequest::new(
            migrations,
            Direction::Down,
            target.clone(),
            &options(config, &database, !args.no_backup, console),
        ))
        .map_err(run_error)?;
    report_run(
        console,
        migrations,
        &report,
        "Reverted",
        "Nothing to revert",
    );
    Ok(())
}

/// `qvdiff current`: the revision(s) the database is at, and what is pending.
pub fn current(config: &Config, db_flag: Option<&str>, console: &Console) -> CliResult<()> {
    let (database, history) = database_and_history(config, db_flag)?;
    let migrations = &history.migrations;
    let (applied, half_done) = if !database.exists() {
        // Said, so that a misspelt path is not taken for a database never migrated.
        console.info(&format!(
            "database {} does not exist yet (`qvdiff upgrade` creates it)",
            database.display()
        ));
        (Vec::new(), Vec::new())
    } else {
        let mut db = dialects::open(&database, false)?;
        db.applied_and_half_done().map_err(run_error)?
    };
    let status = qvdiff_core::runner::status(migrations, &applied);
    let mut out = String::new();
    if status.current.is_empty() {
        out.push_str("base\n");
    }
    for rev in &status.current {
        let message = match (migrations.get(rev), migrations.squashed_by(rev)) {
            (Some(m), _) => m.file.message.clone(),
            (None, Some(baseline)) => format!("(replaced by baseline {})", baseline.revision()),
            (None, None) => "(no file)".to_string(),
        };
        out.push_str(&format!("{rev}  {message}\n"));
    }
    print_stdout(&out);
    if !status.pending.is_empty() {
        console.info(&format!(
            "{} pending: {}",
            status.pending.len(),
            status.pending.join(", ")
        ));
    }
    if let Some(contract) = status
        .pending
        .iter()
        .find(|rev| migrations.get(rev).is_some_and(|m| m.contract))
    {
        console.info(&format!(
            "{contract} is a contract revision: `qvdiff upgrade` stops before it; run `qvdiff \
             upgrade --contract` once the new app version is deployed everywhere"
        ));
    }
    for half in &half_done {
        console.warn(&half_done_note(half));
    }
    for rev in &status.edited {
        console.warn(&format!("revision {rev} was edited after it was applied"));
    }
    for rev in &status.unknown {
        console.warn(&format!(
            "revision {rev} is applied but has no file in {}",
            history.shown()
        ));
    }
    Ok(())
}

/// What `current` and `history` say of a revision a stopped run left half done.
fn half_done_note(half: &HalfDone) -> String {
    let (state, command) = match half.direction {
        Direction::Up => ("applied", "upgrade"),
        Direction::Down => ("reverted", "downgrade"),
    };
    format!(
        "revision {} is half {state}: a run outside a transaction stopped after {} of its \
         statement{} (`qvdiff {command}` continues it)",
        half.revision,
        half.statements_done,
        if half.statements_done == 1 { "" } else { "s" }
    )
}

/// `qvdiff history`: the revision graph, newest first, with what is applied.
pub fn history(config: &Config, db_flag: Option<&str>) -> CliResult<()> {
    // Without a database (none named, or a file not created yet) the history is shown with
    // nothing applied; a database that is named but wrong is an error, as everywhere.
    let (dir, applied, accepted, half_done) = match db_url::effective_url(config, db_flag) {
        None => (
            HistoryDir::project(config),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
        Some(_) => {
            let (dir, database) = db_url::resolve_database(config, db_flag)?;
            let (applied, accepted, half_done) = if database.exists() {
                let mut db = dialects::open(&database, false)?;
                let (applied, half_done) = db.applied_and_half_done().map_err(run_error)?;
                let accepted = db.accepted_edits().map_err(run_error)?;
                (applied, accepted, half_done)
            } else {
                (Vec::new(), Vec::new(), Vec::new())
            };
            (dir, applied, accepted, half_done)
        }
    };
    let history = dir.load()?;
    let migrations = &history.migrations;
    // A baseline counts as applied on a database that applied what it replaces.
    let applied = applied_revisions(migrations, &applied);
    let mut out = String::new();
    for entry in history_entries(migrations, &applied).iter().rev() {
        let mark = if entry.applied { '*' } else { 'o' };
        let mut tags = Vec::new();
        if entry.is_head {
            tags.push("head".to_string());
        }
        if entry.is_merge {
            tags.push(format!("merge of {}", entry.parents.join(" + ")));
        }
        if entry.is_branch_point {
            tags.push(format!("branches to {}", entry.children.join(", ")));
        }
        if entry.is_root {
            tags.push("root".to_string());
        }
        if migrations.get(&entry.revision).is_some_and(|m| m.contract) {
            tags.push("contract: `upgrade --contract` applies it".to_string());
        }
        for half in half_done.iter().filter(|h| h.revision == entry.revision) {
            tags.push(half_done_note(half));
        }
        if let Some(baseline) = migrations
            .get(&entry.revision)
            .filter(|m| !m.squashes.is_empty())
        {
            tags.push(format!(
                "baseline replacing {} revisions, {} .. {}",
                baseline.squashes.len(),
                baseline.squashes.first().map_or("", String::as_str),
                baseline.squashes.last().map_or("", String::as_str)
            ));
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join("; "))
        };
        let parent = match entry.parents.as_slice() {
            [one] if !entry.is_merge => format!("  <- {one}"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{mark} {}{tags}  {}{parent}\n",
            entry.revision, entry.message
        ));
    }
    if !out.is_empty() {
        out.push_str("(* applied, o pending)\n");
    }
    // Every accepted edit of an applied file stays visible: a checksum is never repaired
    // silently.
    if !accepted.is_empty() {
        out.push_str("\nEdits of applied files, accepted (audit):\n");
        for edit in &accepted {
            out.push_str(&format!(
                "  {}  {}  checksum {} -> {}  {}\n",
                edit.accepted_at,
                edit.revision,
                edit.old_checksum.get(..12).unwrap_or(&edit.old_checksum),
                edit.new_checksum.get(..12).unwrap_or(&edit.new_checksum),
                edit.reason
            ));
        }
    }
    print_stdout(&out);
    Ok(())
}

/// `qvdiff heads`.
pub fn heads(config: &Config) -> CliResult<()> {
    let history = HistoryDir::project(config).load()?;
    let migrations = &history.migrations;
    let mut out = String::new();
    for rev in migrations.graph().heads() {
        let message = migrations
            .get(rev)
            .map(|m| m.file.message.as_str())
            .unwrap_or_default();
        out.push_str(&format!("{rev}  {message}\n"));
    }
    print_stdout(&out);
    Ok(())
}

/// `qvdiff stamp REV [--force]`: adopt an existing database without running SQL.
pub fn stamp(
    config: &Config,
    args: &StampArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    let (database, history) = database_and_history(config, db_flag)?;
    let migrations = &history.migrations;
    let mut db = dialects::open(&database, false)?;
    let at_revision = dialects::schema_at(&history, &args.revision, Some(&database))?;
    let expected = db.dialect().comparable(&at_revision);
    let live_schema = db.introspect().map_err(run_error)?;
    let live = db.dialect().comparable(&live_schema);
    if expected != live {
        if !args.force {
            // In words, as `check --db` reports drift; the manifests' diff only when the
            // difference is in something no change describes.
            let changes = super::check::drift(db.dialect(), &at_revision, &live_schema);
            let details = if changes.is_empty() {
                vec![schema_diff(&expected, &live)]
            } else {
                std::iter::once(format!(
                    "from the schema of {} to that of {} ({} change{}):",
                    args.revision,
                    database.display(),
                    changes.len(),
                    plural(changes.len())
                ))
                .chain(
                    changes
                        .iter()
                        .map(|c| format!("  {}", c.describe_in(&|ty| db.dialect().type_name(ty)))),
                )
                .collect()
            };
            return Err(CliError::new(format!(
                "the schema of {} is not the schema of revision {}; nothing was written",
                database.display(),
                args.revision
            ))
            .with_details(details)
            .with_hint(
                "migrate the database by hand until they match, or pass --force if you are sure",
            ));
        }
        console.warn("--force: stamping although the schemas differ");
    }
    let report = db
        .stamp(
            migrations,
            &RevisionTarget::parse(&args.revision).map_err(refused)?,
            &options(config, &database, false, console),
        )
        .map_err(run_error)?;
    console.info(&format!(
        "Stamped {} at {} (added {}, removed {}, checksums refreshed {})",
        database.display(),
        args.revision,
        report.added.len(),
        report.removed.len(),
        report.rechecksummed.len()
    ));
    Ok(())
}

/// `qvdiff sql [FROM:TO]`: the offline script, nothing touched.
///
/// `--db` only chooses the dialect (a PostgreSQL URL prints the PostgreSQL history's script);
/// the database is not opened.
pub fn sql(config: &Config, args: &SqlArgs, db_flag: Option<&str>) -> CliResult<()> {
    let dir = match db_flag {
        Some(_) => db_url::resolve_database(config, db_flag)?.0,
        None => HistoryDir::project(config),
    };
    let history = dir.load()?;
    let script = dialects::offline_script(&history, args.range.as_deref())?;
    print_stdout(&script);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(walked: u64, estimate: Option<u64>, done: bool) -> BatchProgress {
        BatchProgress {
            table: "\"items\"".to_string(),
            walked,
            changed: walked / 2,
            estimate,
            elapsed: std::time::Duration::from_secs(10),
            done,
        }
    }

    #[test]
    fn a_batched_update_shows_rows_of_the_estimate_rate_and_time_left() {
        assert_eq!(
            batch_line(&progress(200_000, Some(1_000_000), false)),
            "updating items in batches: 200000 of about 1000000 rows (20%), 20000 rows/s, \
             about 40 s left"
        );
        // The estimate may be low: never more than all of it, never a negative time left.
        assert_eq!(
            batch_line(&progress(30_000, Some(20_000), false)),
            "updating items in batches: 20000 of about 20000 rows (100%), 3000 rows/s, \
             about 0 s left"
        );
        assert_eq!(
            batch_line(&progress(30_000, None, false)),
            "updating items in batches: 30000 rows, 3000 rows/s"
        );
        assert_eq!(
            batch_summary(&progress(2, Some(2), true)),
            "Updated items in batches: 1 row changed in 10 s"
        );
        let quick = BatchProgress {
            elapsed: std::time::Duration::from_millis(16),
            ..progress(6, Some(6), true)
        };
        assert_eq!(
            batch_summary(&quick),
            "Updated items in batches: 3 rows changed in 16 ms"
        );
        assert_eq!(table_for_people("\"odd\"\"name\""), "\"odd\"\"name\"");
    }
}
