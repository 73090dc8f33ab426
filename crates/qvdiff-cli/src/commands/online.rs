//! `migrate --online` (or `[postgres] expand_contract = true`): a change that rewrites a table,
//! renames a table or column, or adds a NOT NULL column with a computed value, written as an
//! expand and a contract revision. The dialect plans both
//! ([`qvdiff_core::Dialect::expand_contract`]); here they are proven like any file and become
//! two drafts: `<revision>` (expand) and `<revision>_contract`, marked `-- qvdiff:contract`.

use crate::baseline::Baseline;
use crate::commands::migrate::{describe, Draft, NewRevision};
use crate::config::DialectKind;
use crate::error::{CliError, CliResult};
use crate::history::History;
use crate::models::display_path;
use crate::output::Console;
use crate::planning::{verify_schema, Proposal};
use qvdiff_core::migration::{is_valid_revision, render_steps, MigrationFile};
use qvdiff_core::runner::{Migration, Migrations};

/// The contract revision's id: the expand revision's with `_contract`, so it sorts after it.
pub fn contract_revision(expand: &str) -> String {
    format!("{expand}_contract")
}

/// Refuses `--online` (or the config key, `asked` says which) on a project that keeps a SQLite
/// history: SQLite has no expand / contract form (a table change there is one rebuild under the
/// database's write lock, and the histories must keep one revision graph).
pub fn refuse_sqlite(histories: &[History], asked: bool) -> CliResult<()> {
    if histories.iter().all(|h| h.dialect == DialectKind::Postgres) {
        return Ok(());
    }
    let what = if asked {
        "--online"
    } else {
        "[postgres] expand_contract"
    };
    Err(CliError::new(format!(
        "{what} writes expand / contract revisions for PostgreSQL, and this project keeps a \
         SQLite history: SQLite changes a table in one rebuild under its write lock, with no \
         form that keeps old and new app versions working side by side; nothing was written"
    ))
    .with_hint("leave out --online (or set expand_contract = false) for this project"))
}

/// The expand and contract drafts of `proposal`, proven; `None` when nothing in it needs them
/// (the caller writes one revision, as without `--online`).
pub(crate) fn drafts(
    revision: NewRevision,
    parents: &[String],
    base: &Baseline,
    proposal: &Proposal,
    console: &Console,
) -> CliResult<Option<Vec<Draft>>> {
    let (config, history, id) = (revision.config, revision.history, revision.id);
    let dialect = crate::dialects::planner(config, history.dialect);
    let planned = dialect
        .expand_contract(&base.schema, &proposal.wanted, &proposal.changes)
        .map_err(|e| CliError::new(format!("cannot plan the migration: {e}")))?;
    let Some(planned) = planned else {
        console.info(
            "--online: no change here rewrites a table, renames a table or column or adds a NOT \
             NULL column with a computed value; one revision, as without --online",
        );
        return Ok(None);
    };
    for note in &planned.in_place {
        console.warn(&format!("--online: {note}"));
    }
    let contract_id = contract_revision(id);
    if !is_valid_revision(&contract_id) {
        return Err(CliError::new(format!(
            "revision {id} is too long for its contract revision {contract_id}"
        ))
        .with_hint("use a shorter --rev-id"));
    }
    let expand = MigrationFile {
        revision: id.to_string(),
        parents: parents.to_vec(),
        message: format!("{} (expand)", revision.message),
        up: render_steps(&planned.expand_up.steps),
        down: render_steps(&planned.expand_down.steps),
    };
    let contract = MigrationFile {
        revision: contract_id,
        parents: vec![id.to_string()],
        message: format!("{} (contract)", revision.message),
        up: render_steps(&planned.contract_up.steps),
        down: render_steps(&planned.contract_down.steps),
    };
    // Proven like any file: expand from the starting schema to the two columns side by side,
    // contract from there to the models.
    verify_schema(base, &planned.expanded, &expand.up, &expand.down)?;
    let expanded = base
        .moved_to(planned.expanded.clone())
        .ok_or_else(|| CliError::new("expand / contract is proven on PostgreSQL's replay only"))?;
    verify_schema(&expanded, &proposal.wanted, &contract.up, &contract.down)?;
    // The summary block tells what the expand revision's own sections do.
    let expand_view = Proposal {
        changes: proposal.changes.clone(),
        up: planned.expand_up.clone(),
        down: planned.expand_down.clone(),
        wanted: planned.expanded.clone(),
        alternatives: String::new(),
    };
    let (summary, mut expand_notes) =
        describe(config, dialect.as_ref(), &expand, &expand_view, base, None)?;
    expand_notes.push(String::new());
    expand_notes.push(format!(
        "expand: apply with the old app version running; then deploy the new version, then \
         `qvdiff upgrade --contract` applies {}",
        contract.revision
    ));
    expand_notes.extend(planned.carried.iter().map(|c| format!("expand: {c}")));
    let mut contract_notes = vec![format!(
        "contract of {id}: the new columns take the old ones' place and the old names go; \
         apply with `qvdiff upgrade --contract` once every app server runs the new version"
    )];
    contract_notes.extend(
        planned
            .contract_up
            .steps
            .iter()
            .filter_map(|s| s.destructive())
            .map(|why| format!("DESTRUCTIVE: {why}")),
    );
    let expand_path = history.path_of(&expand);
    let expand_text = expand.render_with_notes(&expand_notes);
    crate::dialects::prove_on_server(
        base,
        &history.migrations,
        &expand_path,
        &expand_text,
        &planned.expanded,
        console,
    )?;
    let with_expand = {
        let shown = display_path(&expand_path);
        let migration = Migration::from_text(&expand_text, shown.clone())
            .map_err(|e| CliError::new(format!("{shown}: {e}")))?;
        let mut all: Vec<Migration> = history.migrations.in_order().into_iter().cloned().collect();
        all.push(migration);
        Migrations::new(all).map_err(|e| CliError::new(e.to_string()))?
    };
    crate::dialects::prove_on_server(
        &expanded,
        &with_expand,
        &history.path_of(&contract),
        &contract.render_contract(&contract_notes),
        &proposal.wanted,
        console,
    )?;
    let mut summary = summary;
    summary.extend(
        planned
            .carried
            .iter()
            .map(|c| (format!("expand / contract: {c}"), false)),
    );
    summary.push((
        format!(
            "contract revision {}: `qvdiff upgrade` stops before it; `qvdiff upgrade --contract` \
             applies it after the new app version is deployed",
            contract.revision
        ),
        false,
    ));
    Ok(Some(vec![
        Draft {
            dir: history.dir.clone(),
            file: expand,
            notes: expand_notes,
            summary,
            contract: false,
        },
        Draft {
            dir: history.dir.clone(),
            file: contract,
            notes: contract_notes,
            summary: Vec::new(),
            contract: true,
        },
    ]))
}
