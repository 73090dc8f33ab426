//! Commands for a history shared by a team: `accept` (an intended edit of an applied file,
//! audited), `squash` (one baseline revision for the history up to a revision), `adopt`
//! (drift found on a database, written down as a migration) and `rebase` (my unapplied revisions
//! moved on top of a teammate's).

use crate::cli::{AcceptArgs, AdoptArgs, RebaseArgs, SquashArgs};
use crate::commands::migrate::{
    check_reads_back, choose_revision, draft, write_migration, NewRevision,
};
use crate::config::Config;
use crate::db_url;
use crate::dialects;
use crate::error::{CliError, CliResult};
use crate::fsutil::write_atomic;
use crate::history::{database_and_history, revision_message, History, HistoryDir};
use crate::models::display_path;
use crate::output::{Console, Tone};
use crate::planning::schema_diff;
use crate::planning::{propose, verify, verify_schema};
use crate::prompt::Prompter;
use qvdiff_core::backend::RunOptions;
use qvdiff_core::migration::{render_steps, reparent, MigrationFile};
use qvdiff_core::runner::{
    applied_revisions, plan_accept, plan_rebase, plan_squash, short_checksum, status, Migration,
    Migrations,
};
use qvdiff_core::RevisionTarget;
use qvdiff_core::Schema;

/// `qvdiff accept REV --reason "…"`: records an intended edit of an applied file in the audit
/// table and the new checksum in the ledger, after proving the edited history gives the
/// database's schema.
pub fn accept(
    config: &Config,
    args: &AcceptArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    let (database, history) = database_and_history(config, db_flag)?;
    let migrations = &history.migrations;
    let mut db = dialects::open(&database, false)?;
    let applied = db.applied().map_err(|e| CliError::new(e.message))?;
    // The cheap refusals (unknown revision, no reason, nothing edited) before any replay.
    let plan = plan_accept(migrations, &applied, &args.revision, &args.reason)
        .map_err(|e| CliError::new(e.to_string()))?;
    let path = plan.migration.path.clone();
    let revision = plan.migration.file.revision.clone();
    let here = status(migrations, &applied);
    if let Some(baseline) = here
        .current
        .iter()
        .find_map(|rev| migrations.squashed_by(rev))
    {
        return Err(CliError::new(format!(
            "{} is inside the history baseline {} replaces, so the edited history cannot be \
             compared with it; nothing was written",
            database.display(),
            baseline.revision()
        ))
        .with_hint("upgrade it past the baseline (`qvdiff upgrade`), then accept the edit"));
    }
    let expected = match here.current.as_slice() {
        [] => Schema::default(),
        [one] => dialects::schema_at(&history, one, Some(&database))?,
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
            migrations,
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
        short_checksum(&edit.old_checksum),
        short_checksum(&edit.new_checksum),
        edit.reason
    ));
    Ok(())
}

/// `qvdiff squash --to REV -m MSG`: one baseline revision that creates REV's schema from
/// nothing and replaces REV and its ancestors; planned and proven like any migration, in every
/// history the project keeps, with one revision id. The replaced files are deleted unless
/// `--keep-files` (a database still inside the range needs them to reach REV).
pub fn squash(config: &Config, args: &SquashArgs, console: &Console) -> CliResult<()> {
    let message = revision_message(&args.message, "baseline", "baseline: the schema of 2026")?;
    let histories = History::load_all(config)?;
    let revision = choose_revision(&histories, args.rev_id.as_deref())?;
    // Every history is planned and proven before anything is written or deleted.
    let mut drafts = Vec::new();
    for history in &histories {
        let plan = plan_squash(&history.migrations, &args.to).map_err(|e| {
            let e = CliError::new(e.to_string());
            if histories.len() > 1 {
                CliError::new(format!("{}: {}", history.shown(), e.message))
            } else {
                e
            }
        })?;
        let schema = dialects::schema_at(history, &plan.to, None)?;
        if !schema.views.is_empty() || !schema.triggers.is_empty() {
            return Err(CliError::new(format!(
                "the schema of revision {} has views or triggers, which a baseline cannot \
                 plan from the schema alone; nothing was written",
                plan.to
            ))
            .with_hint("squash up to a revision before the first view or trigger"));
        }
        // A baseline starts from nothing.
        let empty = Migrations::new(Vec::new()).map_err(|e| CliError::new(e.to_string()))?;
        let base = dialects::recorded(&history.with_migrations(empty), None)?;
        let dialect = dialects::planner(config, history.dialect);
        let proposal = propose(
            dialect.as_ref(),
            &base,
            std::borrow::Cow::Borrowed(&schema),
            &Prompter::new(false),
            console,
        )?;
        let file = MigrationFile {
            revision: revision.clone(),
            parents: Vec::new(),
            message: message.clone(),
            up: render_steps(&proposal.up.steps),
            down: render_steps(&proposal.down.steps),
        };
        verify(&base, &proposal, &file.up, &file.down)?;
        let notes = vec![
            format!(
                "Baseline: the schema of revision {} ({} revisions replaced), created from nothing.",
                plan.to,
                plan.replaces.len()
            ),
            "A database that applied the replaced revisions counts this one as applied."
                .to_string(),
            qvdiff_core::summary::fingerprint_note(&file.up, &file.down),
        ];
        let text = file.render_baseline(&plan.replaces, &notes);
        check_reads_back(&file, &text)?;
        let paths: Vec<(String, std::path::PathBuf)> = plan
            .files
            .iter()
            .map(|m| (m.path.clone(), history.path_of_loaded(m)))
            .collect();
        drafts.push((
            history,
            file,
            text,
            paths,
            plan.to.clone(),
            plan.replaces.len(),
        ));
    }
    for (history, file, text, paths, to, replaced) in &drafts {
        let path = history.path_of(file);
        write_atomic(&path, text.as_bytes(), true)?;
        console.info(&format!(
            "{} {}: the schema of {to}, replacing {replaced} revisions",
            console.paint(Tone::Good, "Wrote baseline"),
            display_path(&path)
        ));
        for (shown, file_path) in paths {
            if args.keep_files {
                continue;
            }
            std::fs::remove_file(file_path)
                .map_err(|e| crate::error::io_error("delete", file_path, e))?;
            console.info(&format!("Deleted {shown}"));
        }
    }
    if args.keep_files {
        console.info(
            "Kept the replaced files: a database inside the range reaches its end with them; \
             delete them once every database is past it.",
        );
    }
    Ok(())
}

/// `qvdiff adopt --db URL`: drift found on a database at head (a column added by hand) becomes
/// a migration from the recorded schema to the live one, planned and proven like any other.
/// It is stamped as applied on that database once the history with it gives exactly the live
/// schema; every other database applies it normally.
pub fn adopt(
    config: &Config,
    args: &AdoptArgs,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    let message = revision_message(&args.message, "migration", "adopt the index added by hand")?;
    if HistoryDir::all(config).len() > 1 {
        // The other history would need the same revision, planned from a schema no database
        // of its dialect shows.
        return Err(CliError::new(
            "adopt writes one history, and this project keeps two (SQLite and PostgreSQL) with \
             one revision graph; nothing was written",
        )
        .with_hint(
            "put the drift in the models and run `qvdiff migrate`, then `qvdiff stamp` the \
             revision on the database that already has it",
        ));
    }
    let (dir, database) = db_url::resolve_database(config, db_flag)?;
    let history = dir.load()?;
    let mut db = dialects::open(&database, false)?;
    let applied = db.applied().map_err(|e| CliError::new(e.message))?;
    let here = status(&history.migrations, &applied);
    if !here.is_up_to_date() {
        return Err(CliError::new(format!(
            "{} is not at head (pending: {}; edited: {}; unknown: {}), so its drift cannot be \
             told from revisions it has not applied; nothing was written",
            database.display(),
            list_or_none(&here.pending),
            list_or_none(&here.edited),
            list_or_none(&here.unknown)
        ))
        .with_hint("upgrade it first (`qvdiff upgrade`), then adopt what is left"));
    }
    let base = dialects::recorded(&history, Some(&database))?;
    let live = db.introspect().map_err(|e| CliError::new(e.message))?;
    if db.dialect().comparable(&base.schema) == db.dialect().comparable(&live) {
        console.info(&format!(
            "{} has no drift from its migrations; nothing was written.",
            database.display()
        ));
        return Ok(());
    }
    let revision = choose_revision(std::slice::from_ref(&history), args.rev_id.as_deref())?;
    let new = NewRevision {
        config,
        history: &history,
        id: &revision,
        message: &message,
    };
    let Some(draft) = draft(new, Some((&live, base)), None, prompter, console)? else {
        console.info("The drift needs no migration; nothing was written.");
        return Ok(());
    };
    write_migration(&draft.dir, &draft.file, &draft.notes, false, console)?;
    for (line, _) in &draft.summary {
        console.info(&format!("  {line}"));
    }
    // Stamped only when the history with the new file gives exactly the live schema.
    let history = dir.load()?;
    let expected =
        db.dialect()
            .comparable(&dialects::schema_at(&history, &revision, Some(&database))?);
    let live = db.dialect().comparable(&live);
    if expected != live {
        return Err(CliError::new(format!(
            "the migration was written, but the history with it does not give the schema of \
             {}, so it was not stamped there",
            database.display()
        ))
        .with_details([schema_diff(&expected, &live)])
        .with_hint(
            "edit the new file until `qvdiff check --db` shows no drift, then `qvdiff stamp`",
        ));
    }
    db.stamp(
        &history.migrations,
        &RevisionTarget::named(revision.as_str()),
        &RunOptions {
            busy_timeout: config.busy_timeout,
            ..RunOptions::default()
        },
    )
    .map_err(|e| CliError::new(e.message))?;
    console.info(&format!(
        "{} {revision} as applied on {} (its schema already is the new revision's); other \
         databases apply it with `qvdiff upgrade`.",
        console.paint(Tone::Good, "Stamped"),
        database.display()
    ));
    Ok(())
}

fn list_or_none(revisions: &[String]) -> String {
    if revisions.is_empty() {
        "none".to_string()
    } else {
        revisions.join(", ")
    }
}

/// `qvdiff rebase --onto REV`: my revisions that REV does not descend from, applied to no
/// database the project knows, go on top of REV with the same ids. Each is proven on its new
/// parent against the schema with both sides' changes; a generated file whose SQL no longer
/// gives it is re-planned (hand-written ones are refused). Nothing is written unless every
/// revision is proven.
pub fn rebase(
    config: &Config,
    args: &RebaseArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    // The databases the project knows: the configured one (or --db), when it exists.
    let mut known = None;
    if db_url::effective_url(config, db_flag).is_some() {
        let (dir, database) = db_url::resolve_database(config, db_flag)?;
        if database.exists() {
            let rows = dialects::open_read_only(&database)?
                .applied()
                .map_err(|e| CliError::new(e.message))?;
            known = Some((dir, database.display(), rows));
        }
    }
    let histories = History::load_all(config)?;
    let mut applied = Vec::new();
    if let Some((dir, shown, rows)) = known {
        // The history of the database's dialect is one of the project's, read above.
        let history = dir.find_or_load(&histories)?;
        applied.push((shown, applied_revisions(&history.migrations, &rows)));
    }
    let mut writes: Vec<(std::path::PathBuf, String, String)> = Vec::new();
    for history in &histories {
        let plan = plan_rebase(&history.migrations, &args.onto, &applied).map_err(|e| {
            if histories.len() > 1 {
                CliError::new(format!("{}: {e}", history.shown()))
            } else {
                CliError::new(e.to_string())
            }
        })?;
        let mine: Vec<String> = plan.mine.iter().map(|m| m.revision().to_string()).collect();
        // The new line: everything below REV, then my revisions as they are rewritten.
        let mut chain: Vec<Migration> = history
            .migrations
            .in_order()
            .into_iter()
            .filter(|m| !mine.iter().any(|r| r == m.revision()))
            .cloned()
            .collect();
        let mut parent = plan.onto.clone();
        let mut theirs = dialects::schema_at(history, &plan.onto, None)?;
        for old in &plan.mine {
            let revision = old.revision().to_string();
            let old_parent = old.file.parents.first().cloned().unwrap_or_default();
            let before = dialects::schema_at(history, &old_parent, None)?;
            let after = dialects::schema_at(history, &revision, None)?;
            let wanted = qvdiff_core::rebase::merge3(&before, &theirs, &after).map_err(|all| {
                CliError::new(format!(
                    "{} ({revision}) and the revisions up to {} both change {}; nothing was \
                     written",
                    old.path,
                    plan.onto,
                    all.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_hint("join the heads with `qvdiff merge -m \"merge heads\"` instead")
            })?;
            let below = history.with_migrations(
                Migrations::new(chain.clone()).map_err(|e| CliError::new(e.to_string()))?,
            );
            let base = dialects::recorded(&below, None)?;
            let old_path = history.path_of_loaded(old);
            let text = std::fs::read_to_string(&old_path)
                .map_err(|e| crate::error::io_error("read", &old_path, e))?;
            let moved = reparent(&text, std::slice::from_ref(&parent));
            let dialect = dialects::planner(config, history.dialect);
            let wanted = dialect.normalize(&wanted);
            let (text, how) = if verify_schema(&base, &wanted, &old.file.up, &old.file.down).is_ok()
            {
                (moved, "re-parented, SQL unchanged")
            } else if qvdiff_core::summary::recorded_fingerprint(&text).is_none() {
                return Err(CliError::new(format!(
                    "{} ({revision}) is hand-written and its SQL no longer gives the schema on \
                     top of {parent}; nothing was written",
                    old.path
                ))
                .with_hint("join the heads with `qvdiff merge` instead, or edit it by hand"));
            } else {
                let candidates = qvdiff_core::rename_candidates(&qvdiff_core::diff(
                    &base.schema,
                    &wanted,
                    &qvdiff_core::Renames::default(),
                ));
                if !candidates.is_empty() {
                    return Err(CliError::new(format!(
                        "{} ({revision}) must be re-planned on top of {parent}, and the new plan \
                         could read a rename as a drop and an add; nothing was written",
                        old.path
                    ))
                    .with_hint("join the heads with `qvdiff merge` instead"));
                }
                let new = NewRevision {
                    config,
                    history: &below,
                    id: &revision,
                    message: &old.file.message,
                };
                let Some(draft) = draft(
                    new,
                    Some((&wanted, base)),
                    None,
                    &Prompter::new(false),
                    console,
                )?
                else {
                    return Err(CliError::new(format!(
                        "{} ({revision}) changes nothing on top of {parent} (the other side \
                         made the same change); nothing was written",
                        old.path
                    ))
                    .with_hint("delete it, since it was applied nowhere, or merge instead"));
                };
                let text = draft.file.render_with_notes(&draft.notes);
                check_reads_back(&draft.file, &text)?;
                (text, "re-planned, SQL rewritten")
            };
            let migration = Migration::from_text(&text, old.path.clone())
                .map_err(|e| CliError::new(format!("{}: {e}", old.path)))?;
            chain.push(migration);
            writes.push((old_path, text, format!("{revision} onto {parent}: {how}")));
            parent = revision;
            theirs = wanted;
        }
    }
    for (path, text, what) in &writes {
        write_atomic(path, text.as_bytes(), false)?;
        console.info(&format!(
            "{} {what} ({})",
            console.paint(Tone::Good, "Rebased"),
            display_path(path)
        ));
    }
    Ok(())
}
