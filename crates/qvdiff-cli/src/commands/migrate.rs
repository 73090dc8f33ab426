//! `qvdiff migrate -m MSG`: write one verified migration file.

use crate::baseline::{self, Baseline};
use crate::cli::{MergeArgs, MigrateArgs};
use crate::commands::review;
use crate::config::Config;
use crate::error::{io_error, CliError, CliResult};
use crate::fsutil::write_atomic;
use crate::history::{revision_message, History, HistoryDir};
use crate::models::{display_path, ModelSource};
use crate::output::{Console, Tone};
use crate::planning::{propose, verify};
use crate::prompt::Prompter;
use qvdiff_core::migration::{is_valid_revision, render_steps, revision_at, MigrationFile};
use qvdiff_core::runner::{merge_parents, Migrations};
use qvdiff_core::summary::HAND_WRITTEN_NOTE;
use qvdiff_core::{Change, Dialect, Step};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Generates, verifies and writes the next migration: one file per history the project keeps
/// (SQLite, and PostgreSQL beside it), all with one revision id. Every file is planned and
/// verified before any is written.
pub fn run(
    config: &Config,
    args: &MigrateArgs,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    let message = revision_message(&args.message, "migration", "what this migration does")?;
    // `--apply` is checked before anything is read or written: a refusal leaves no file.
    let apply_to = match args.apply {
        false => None,
        true => {
            if !args.yes && !prompter.enabled() {
                return Err(CliError::new(
                    "--apply asks before changing the database, and --no-input forbids asking; \
                     nothing was written",
                )
                .with_hint("add --yes to apply without asking, or leave out --no-input"));
            }
            Some(crate::db_url::resolve_database(config, db_flag)?)
        }
    };
    // Every history gets the file, so the histories keep one revision graph. With `--db`, the
    // history of the database's dialect starts from the live schema, the other from its files.
    let live_dialect = match db_flag {
        Some(_) => Some(crate::db_url::resolve_database(config, db_flag)?.0.dialect),
        None => None,
    };
    let histories = History::load_all(config)?;
    if let Some((dir, database)) = &apply_to {
        if let Some(history) = histories.iter().find(|h| h.dialect == dir.dialect) {
            require_up_to_date(database, &history.migrations)?;
        }
    }
    if db_flag.is_some() && !args.empty {
        refuse_drift(config, &histories, db_flag)?;
    }
    let online = args.online || config.expand_contract;
    if online {
        crate::commands::online::refuse_sqlite(&histories, args.online)?;
    }
    let revision = choose_revision(&histories, args.rev_id.as_deref())?;
    // The models and the starting schemas do not need each other: read them at once (models
    // errors are still reported first).
    let (mut wanted, baselines) = if args.empty {
        (None, Vec::new())
    } else {
        let (wanted, baselines) = qvdiff_core::parallel::join(
            || ModelSource::choose(config, args.manifest.as_deref()).load(),
            || {
                histories
                    .iter()
                    .map(|history| {
                        let db = db_flag.filter(|_| live_dialect == Some(history.dialect));
                        baseline::choose(config, history, db, console)
                    })
                    .collect::<Vec<_>>()
            },
        );
        let wanted = wanted?;
        console.detail(&format!(
            "the models declare {} table(s)",
            wanted.tables.len()
        ));
        (
            Some(wanted),
            baselines.into_iter().collect::<CliResult<Vec<_>>>()?,
        )
    };
    let mut baselines = baselines.into_iter();
    let mut drafts = Vec::new();
    for (i, history) in histories.iter().enumerate() {
        let new = NewRevision {
            config,
            history,
            id: &revision,
            message: &message,
        };
        // The last history takes the models themselves, to free them once they are planned.
        let models = match i + 1 == histories.len() {
            true => wanted.take().map(Cow::Owned),
            false => wanted.as_ref().map(Cow::Borrowed),
        };
        let draft = self::drafts(
            new,
            models.zip(baselines.next()),
            db_flag.filter(|_| live_dialect == Some(history.dialect)),
            online,
            prompter,
            console,
        )?;
        drafts.extend(draft);
    }
    let Some(first) = drafts.first() else {
        console.info("No changes detected; nothing was written.");
        if apply_to.is_some() {
            console.info("Nothing to apply.");
        }
        return Ok(());
    };
    let summary = first.summary.clone();
    for draft in &drafts {
        write_migration(
            &draft.dir,
            &draft.file,
            &draft.notes,
            draft.contract,
            console,
        )?;
    }
    console.lines(summary.iter().map(|(line, destructive)| match destructive {
        // `Change::describe` already ends a destructive change with the word.
        true if line.ends_with("(DESTRUCTIVE)") => (line.clone(), true),
        true => (format!("{line}  (DESTRUCTIVE)"), true),
        false => (format!("  {line}"), false),
    }));
    if args.empty {
        console.info(
            "  (empty: write the up and down SQL by hand, then review it like any other change)",
        );
    }
    if let Some((dir, database)) = &apply_to {
        let yes = args.yes;
        apply(
            config, dir, database, &drafts, &revision, yes, db_flag, prompter, console,
        )?;
    }
    crate::keep_until_exit((drafts, wanted, histories));
    Ok(())
}

/// Refuses `--apply` on a database that is not at the head of its history: the new file's
/// parent is the head, so it would be applied after revisions the database does not have yet
/// (and a file planned from the live schema repeats what those pending revisions do).
fn require_up_to_date(database: &crate::db_url::Database, history: &Migrations) -> CliResult<()> {
    if !database.exists() {
        return Ok(());
    }
    let applied = crate::dialects::open(database, false)?
        .applied()
        .map_err(|e| CliError::new(e.message))?;
    let status = qvdiff_core::runner::status(history, &applied);
    if status.is_up_to_date() {
        return Ok(());
    }
    let mut details = Vec::new();
    if !status.pending.is_empty() {
        details.push(format!("pending: {}", status.pending.join(", ")));
    }
    if !status.unknown.is_empty() {
        details.push(format!(
            "applied without a file: {}",
            status.unknown.join(", ")
        ));
    }
    if !status.edited.is_empty() {
        details.push(format!(
            "edited after they were applied: {}",
            status.edited.join(", ")
        ));
    }
    Err(CliError::new(format!(
        "--apply needs {} at the head of its migrations, and it is not; nothing was written",
        database.display()
    ))
    .with_details(details)
    .with_hint("run `qvdiff upgrade` (or `qvdiff current` to see where it stands) first"))
}

/// `migrate --db` plans from the live schema, so a change made there by hand (a column, an
/// index, a default) would end up in the new file's way back as a drop of something no
/// migration created: a fresh database could no longer replay the history, and the database
/// itself could not go down. So it refuses while the live database differs from the schema its
/// applied migrations produce, and lists the drift.
fn refuse_drift(config: &Config, histories: &[History], db_flag: Option<&str>) -> CliResult<()> {
    let (dir, database) = crate::db_url::resolve_database(config, db_flag)?;
    let Some(history) = histories.iter().find(|h| h.dialect == dir.dialect) else {
        return Ok(());
    };
    if !database.exists() {
        // Reading the live schema reports the missing file.
        return Ok(());
    }
    let mut db = crate::dialects::open_read_only(&database)?;
    let applied = db.applied().map_err(|e| CliError::new(e.to_string()))?;
    let status = qvdiff_core::runner::status(&history.migrations, &applied);
    // The new file's parent is the head: planned from a database behind it, it would run after
    // the pending revisions and repeat or undo what they do (a rebuild copying a column they
    // renamed away).
    if !applied.is_empty() && !status.pending.is_empty() {
        let n = status.pending.len();
        return Err(CliError::new(format!(
            "{} has {n} pending revision{} ({}): a migration planned from its live schema would \
             come after {} and repeat or undo what {} does; nothing was written",
            database.display(),
            if n == 1 { "" } else { "s" },
            status.pending.join(", "),
            if n == 1 { "it" } else { "them" },
            if n == 1 { "it" } else { "each" },
        ))
        .with_hint(
            "run `qvdiff upgrade` first, then `qvdiff migrate --db` again; or plan from the \
             migrations alone (`qvdiff migrate` without --db)",
        ));
    }
    // Several heads applied, or inside a squashed range: `check --db` says why drift cannot be
    // told there; the live schema stays the starting point, as asked.
    let Ok(expected) = crate::commands::check::applied_schema(history, &status.current, &database)?
    else {
        return Ok(());
    };
    let live = db.introspect().map_err(|e| {
        CliError::new(format!(
            "cannot read the schema of {}: {e}",
            database.display()
        ))
    })?;
    let drift = crate::commands::check::drift(db.dialect(), &expected, &live);
    if drift.is_empty() {
        return Ok(());
    }
    let shown = database.display();
    let at = match status.current.as_slice() {
        [] => "no applied revision".to_string(),
        heads => format!("revision {}", heads.join(", ")),
    };
    let hint = if applied.is_empty() {
        format!(
            "{shown} has no applied revisions: if these migrations built it, record the one it \
             is at with `qvdiff stamp REV --db …` (stamp checks the schema first); otherwise \
             undo the changes listed above"
        )
    } else {
        format!(
            "undo the changes on {shown}, or fold them into the history with `qvdiff adopt --db \
             … -m \"…\"` (a migration of the drift, stamped as applied there); then run \
             `qvdiff migrate --db` again"
        )
    };
    Err(CliError::new(format!(
        "{shown} has drifted from its applied migrations ({at}): {} change{} that no migration \
         made; a migration planned from it would undo or repeat them, and the history could no \
         longer be replayed; nothing was written",
        drift.len(),
        if drift.len() == 1 { "" } else { "s" }
    ))
    .with_details(
        drift
            .iter()
            .map(|c| format!("live database: {}", c.describe())),
    )
    .with_hint(hint))
}

/// `migrate --apply`: shows the file written for the database's dialect (its summary block and
/// SQL), asks unless `yes`, then upgrades the database to it, backup first.
#[allow(clippy::too_many_arguments)]
fn apply(
    config: &Config,
    dir: &HistoryDir,
    database: &crate::db_url::Database,
    drafts: &[Draft],
    revision: &str,
    yes: bool,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    let Some(draft) = drafts.iter().find(|d| d.dir == dir.path) else {
        console.info(&format!(
            "No changes in {}: nothing to apply to {}",
            dir.shown(),
            database.display()
        ));
        return Ok(());
    };
    let path = dir.path.join(draft.file.file_name());
    let text = std::fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{}:\n", display_path(&path));
        let _ = out.write_all(text.as_bytes());
        let _ = writeln!(out);
        let _ = out.flush();
    }
    if !yes && !prompter.confirm(&format!("Apply to {}?", database.display())) {
        console.info(&format!(
            "Not applied: {} stays for review; `qvdiff upgrade` applies it",
            display_path(&path)
        ));
        return Ok(());
    }
    let upgrade = crate::cli::UpgradeArgs {
        target: Some(revision.to_string()),
        sql: false,
        no_backup: false,
        contract: false,
    };
    // The person has just read the file and said yes: no second question.
    let answered = Prompter::new(false);
    crate::commands::deploy::upgrade(config, &upgrade, db_flag, &answered, console)
}

/// Each change of a migration in words, and whether it is destructive.
pub(crate) type Summary = Vec<(String, bool)>;

/// One verified migration file, ready to be written into its history.
pub(crate) struct Draft {
    /// The folder of the history it goes to.
    pub(crate) dir: PathBuf,
    pub(crate) file: MigrationFile,
    pub(crate) notes: Vec<String>,
    pub(crate) summary: Summary,
    /// A contract revision (`migrate --online`): written with its `-- qvdiff:contract` line.
    pub(crate) contract: bool,
}

/// The revision a draft becomes: the history it joins (read), its id and its message, with the
/// project's settings (`config`: the planner's and the proof server's).
#[derive(Clone, Copy)]
pub(crate) struct NewRevision<'a> {
    pub(crate) config: &'a Config,
    pub(crate) history: &'a History,
    pub(crate) id: &'a str,
    pub(crate) message: &'a str,
}

/// Plans and verifies the migration of one history from its starting schema (`None`: no
/// changes there); `generated` (the wanted schema and the baseline) is `None` for an empty,
/// hand-written migration.
pub(crate) fn draft(
    revision: NewRevision,
    generated: Option<(&qvdiff_core::Schema, Baseline)>,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<Option<Draft>> {
    let generated = generated.map(|(wanted, base)| (Cow::Borrowed(wanted), base));
    let drafts = drafts(revision, generated, db_flag, false, prompter, console)?;
    Ok(drafts.into_iter().next())
}

/// [`draft`], and with `online` a change that rewrites a table or renames a column written as
/// an expand and a contract revision (see [`crate::commands::online`]): the files in order.
pub(crate) fn drafts(
    revision: NewRevision,
    generated: Option<(Cow<'_, qvdiff_core::Schema>, Baseline)>,
    db_flag: Option<&str>,
    online: bool,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<Vec<Draft>> {
    let (config, history) = (revision.config, revision.history);
    let parents = single_head(&history.migrations)?;
    let file = |up: String, down: String| MigrationFile {
        revision: revision.id.to_string(),
        parents: parents.clone(),
        message: revision.message.to_string(),
        up,
        down,
    };
    let Some((wanted, base)) = generated else {
        return Ok(vec![Draft {
            dir: history.dir.clone(),
            file: file(
                "-- Write the SQL of this migration here.\n".to_string(),
                "-- Write the SQL that undoes it here.\n".to_string(),
            ),
            // The mark of a hand-written file.
            notes: vec![String::new(), HAND_WRITTEN_NOTE.to_string()],
            summary: Vec::new(),
            contract: false,
        }]);
    };
    let dialect = crate::dialects::planner(config, history.dialect);
    let proposal = propose(dialect.as_ref(), &base, &wanted, prompter, console)?;
    // Models handed over are freed now: the proposal holds the planned copy, and on a big
    // project the proof below would otherwise need room beside both.
    drop(wanted);
    if proposal.changes.is_empty() {
        return Ok(Vec::new());
    }
    if online {
        let planned =
            crate::commands::online::drafts(revision, &parents, &base, &proposal, console)?;
        if let Some(drafts) = planned {
            crate::keep_until_exit((proposal, base));
            return Ok(drafts);
        }
    }
    let file = file(
        format!(
            "{}{}",
            proposal.alternatives,
            render_steps(&proposal.up.steps)
        ),
        render_steps(&proposal.down.steps),
    );
    // The proof and the notes only read the proposal: on a big project each is tens of
    // milliseconds, so they share the cores. A failed proof is reported first.
    let (verified, described) = qvdiff_core::parallel::join(
        || verify(&base, &proposal, &file.up, &file.down),
        || describe(config, dialect.as_ref(), &file, &proposal, &base, db_flag),
    );
    verified?;
    let (summary, notes) = described?;
    // With a server at hand, the file as it will be written runs there too.
    crate::dialects::prove_on_server(
        &base,
        &history.migrations,
        &history.path_of(&file),
        &file.render_with_notes(&notes),
        &proposal.wanted,
        console,
    )?;
    let draft = Draft {
        dir: history.dir.clone(),
        file,
        notes,
        summary,
        contract: false,
    };
    crate::keep_until_exit((proposal, base));
    Ok(vec![draft])
}

/// What the console says about a generated migration (each change, destructive or not), and
/// the summary block of its file.
pub(crate) fn describe(
    config: &Config,
    dialect: &dyn Dialect,
    file: &MigrationFile,
    proposal: &crate::planning::Proposal,
    base: &Baseline,
    db_flag: Option<&str>,
) -> CliResult<(Summary, Vec<String>)> {
    // An index the SQL renames (it follows a renamed table or column) is said as the rename,
    // as the file's summary says it, not as the drop and add the diff sees.
    let renamed_indexes = review::renamed_indexes(dialect, &file.up);
    let renames = qvdiff_core::summary::index_renames(&proposal.changes, &renamed_indexes);
    let mut summary: Summary = proposal
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::DropIndex { table, index } if renames.contains_key(index.name.as_str()) => {
                Some((
                    format!(
                        "rename index {} to {} on {table}",
                        index.name,
                        renames[index.name.as_str()]
                    ),
                    false,
                ))
            }
            Change::AddIndex { index, .. } if renames.values().any(|new| *new == index.name) => {
                None
            }
            _ => Some((
                c.describe_in(&|ty| dialect.type_name(ty)),
                c.is_destructive(),
            )),
        })
        .collect();
    // Data the way back would lose is listed too: a reviewer must know before approving.
    let down_losses: Vec<String> = proposal
        .down
        .steps
        .iter()
        .filter_map(Step::destructive)
        .collect();
    if base.schema.tables.is_empty() && !down_losses.is_empty() {
        // The way back from a first migration drops everything it creates: one warning says it.
        let n = down_losses.len();
        summary.push((
            format!(
                "down: drops every table this first migration creates ({n} table{}) and all \
                 their rows",
                if n == 1 { "" } else { "s" }
            ),
            true,
        ));
    } else {
        summary.extend(down_losses.iter().map(|why| (format!("down: {why}"), true)));
    }
    // With a live database the summary says how many rows each affected table holds now:
    // what a rebuild copies, or what a destructive step can lose.
    let row_counts = match db_flag {
        Some(_) => {
            let (_, database) = crate::db_url::resolve_database(config, db_flag)?;
            let mut live = crate::dialects::open_read_only(&database)?;
            Some(review::row_counts(
                live.as_mut(),
                &proposal.changes,
                &base.schema,
            )?)
        }
        None => None,
    };
    let notes = review::generated_notes(
        dialect,
        file,
        &proposal.changes,
        &proposal.up.steps,
        down_losses,
        row_counts,
    );
    Ok((summary, notes))
}

/// The parent of a new migration: the one head, or none for the first.
fn single_head(history: &Migrations) -> CliResult<Vec<String>> {
    let heads = history.graph().heads();
    match heads.as_slice() {
        [] => Ok(Vec::new()),
        [one] => Ok(vec![one.to_string()]),
        many => Err(CliError::new(format!(
            "the migrations have {} heads ({}); a new migration needs one parent",
            many.len(),
            many.join(", ")
        ))
        .with_hint("run `qvdiff merge -m \"merge heads\"` first")),
    }
}

/// `--rev-id` if given (it must be new), else the UTC time, moved to the next free second.
pub(crate) fn choose_revision(histories: &[History], given: Option<&str>) -> CliResult<String> {
    // A revision a baseline replaced still names rows in the ledgers of older databases.
    let existing = |rev: &str| {
        histories.iter().find_map(|h| {
            let h = &h.migrations;
            h.get(rev)
                .or_else(|| h.superseded(rev))
                .or_else(|| h.squashed_by(rev))
        })
    };
    if let Some(rev) = given {
        if !is_valid_revision(rev) {
            return Err(
                CliError::new(format!("--rev-id \"{rev}\" is not a valid revision id"))
                    .with_hint("use 1 to 64 letters, digits or _ (not head, heads or base)"),
            );
        }
        if let Some(existing) = existing(rev) {
            return Err(CliError::new(format!(
                "revision {rev} already exists ({})",
                existing.path
            ))
            .with_hint("choose another --rev-id, or leave it out to use the current time"));
        }
        return Ok(rev.to_string());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut t = now;
    loop {
        let rev = revision_at(t);
        if existing(&rev).is_none() {
            return Ok(rev);
        }
        t += 1;
    }
}

/// Writes a new migration file into the folder `dir` (never over an existing one) and says
/// where.
pub(crate) fn write_migration(
    dir: &Path,
    file: &MigrationFile,
    notes: &[String],
    contract: bool,
    console: &Console,
) -> CliResult<()> {
    let path = dir.join(file.file_name());
    let text = match contract {
        true => file.render_contract(notes),
        false => file.render_with_notes(notes),
    };
    check_reads_back(file, &text)?;
    if !dir.exists() {
        // Said, so that a misspelt path in qvdiff.toml is not taken for a fresh history.
        console.info(&format!(
            "Created the migrations folder {}, which did not exist",
            display_path(dir)
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    write_atomic(&path, text.as_bytes(), true)?;
    console.info(&format!(
        "{} {}",
        console.paint(Tone::Good, "Wrote"),
        display_path(&path)
    ));
    Ok(())
}

/// Refuses to write a file whose parse would differ from what was verified: SQL text holding a
/// line that looks like a marker or header (a string default with a newline, say) would move
/// statements between sections, or out of the file's meaning, when read back.
pub(crate) fn check_reads_back(file: &MigrationFile, text: &str) -> CliResult<()> {
    // A section reads back with a final newline added when it had none.
    let same_section = |read: &str, written: &str| {
        read == written
            || !written.is_empty()
                && !written.ends_with('\n')
                && read.strip_suffix('\n') == Some(written)
    };
    let same = match MigrationFile::parse(text) {
        Ok(parsed) => {
            parsed.revision == file.revision
                && parsed.parents == file.parents
                && parsed.message == file.message
                && same_section(&parsed.up, &file.up)
                && same_section(&parsed.down, &file.down)
        }
        Err(_) => false,
    };
    if same {
        return Ok(());
    }
    let why = MigrationFile::parse(text)
        .err()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    Err(CliError::new(format!(
        "the generated migration would not read back as written{why}: a name, default or \
         expression in the models holds a line that looks like a qvdiff marker; nothing was written"
    ))
    .with_hint("remove newlines from names, defaults and SQL expressions in the models"))
}

/// `qvdiff merge [REVS] -m MSG`: a revision whose parents are the given heads (default: all), so
/// two lines of work become one again. Its sections are empty: each parent already holds its SQL.
pub fn merge(config: &Config, args: &MergeArgs, console: &Console) -> CliResult<()> {
    let message = revision_message(&args.message, "merge", "merge heads")?;
    // Every history the project keeps gets the merge, with one revision id.
    let histories = History::load_all(config)?;
    let revisions: Vec<&str> = args.revisions.iter().map(String::as_str).collect();
    let revision = choose_revision(&histories, args.rev_id.as_deref())?;
    let note = "-- Merge revision: no SQL of its own.\n".to_string();
    let mut files = Vec::new();
    for history in &histories {
        let parents = merge_parents(&history.migrations, &revisions).map_err(|e| {
            // With two histories, say which one refused.
            if histories.len() > 1 {
                CliError::new(format!("{}: {e}", history.shown()))
            } else {
                CliError::new(e.to_string())
            }
        })?;
        let file = MigrationFile {
            revision: revision.clone(),
            parents,
            message: message.clone(),
            up: note.clone(),
            down: note.clone(),
        };
        files.push((history, file));
    }
    for (history, file) in &files {
        write_migration(&history.dir, file, &[], false, console)?;
        console.info(&format!("  merges {}", file.parents.join(" + ")));
    }
    Ok(())
}
