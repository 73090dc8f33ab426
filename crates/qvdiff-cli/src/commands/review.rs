//! `qvdiff review [--since GIT_REF | REV…] [--format markdown|json]`: a report for a pull
//! request. Per migration: the changed tables, each change in words, the destructive and rebuild
//! steps with their lines, the lint findings, before/after ER diagrams of the affected tables
//! (Mermaid, changes highlighted) and the SQL, folded.
//!
//! `--since` asks git which migration files were added since a ref. That is the one place the
//! CLI starts another program: `git` is run directly with an argument vector (never through a
//! shell), in the directory of `qvdiff.toml`.

use crate::cli::{ReviewArgs, ReviewFormat};
use crate::commands::lint::{check_files, Checked};
use crate::config::Config;
use crate::error::{CliError, CliResult, EXIT_OK};
use crate::history::HistoryDir;
use crate::models::display_path;
use qvdiff_core::erd::{mermaid, Mark, Marks};
use qvdiff_core::lint::{Finding, Rule};
use qvdiff_core::summary::{
    affected_tables, change_lines, recorded_fingerprint, section_fingerprint, SummaryExtras,
};
use qvdiff_core::{Change, ColumnType, Dialect, MigrationFile, Schema, Step};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::Command;

/// One migration as the report shows it.
#[derive(Debug, Serialize)]
pub struct Reviewed {
    /// Revision id.
    pub revision: String,
    /// Path of the file.
    pub path: String,
    /// The message.
    pub message: String,
    /// Parent revisions.
    pub parents: Vec<String>,
    /// `generated`, `generated, edited by hand`, `hand-written` or `merge`.
    pub origin: String,
    /// Tables the migration touches, sorted (names after it runs, dropped tables by old name).
    pub tables: Vec<String>,
    /// One line per change, as in a generated file's summary block.
    pub changes: Vec<String>,
    /// Up statements that lose data: `(line, reason)`.
    pub destructive: Vec<(usize, String)>,
    /// Down statements that lose data (what reverting would cost): `(line, reason)`.
    pub down_losses: Vec<(usize, String)>,
    /// Tables the up section rebuilds.
    pub rebuilds: Vec<String>,
    /// Lint findings, suppressions applied.
    pub findings: Vec<Finding>,
    /// Mermaid ER diagram of the affected tables before the migration.
    pub erd_before: String,
    /// Mermaid ER diagram of the affected tables after it.
    pub erd_after: String,
    /// The up section, verbatim.
    pub up: String,
    /// The down section, verbatim.
    pub down: String,
}

/// The whole report, for `--format json`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Migrations in graph order.
    pub migrations: Vec<Reviewed>,
}

/// Prints the report. Exit 0: the report is for people; `qvdiff lint` is the gate.
pub fn run(config: &Config, args: &ReviewArgs) -> CliResult<i32> {
    let dir = HistoryDir::project(config);
    let dialect = crate::dialects::planner(config, dir.dialect);
    let revisions = match &args.since {
        Some(reference) => {
            let added = added_since(config, &dir, reference)?;
            if added.is_empty() {
                return Err(CliError::new(format!(
                    "no migration file was added to {} since {reference}",
                    dir.shown()
                ))
                .with_hint("pass the branch point, e.g. --since origin/main"));
            }
            added
        }
        None if args.revisions.is_empty() => {
            let history = dir.load()?;
            let heads: Vec<String> = history
                .migrations
                .graph()
                .heads()
                .into_iter()
                .map(str::to_string)
                .collect();
            if heads.is_empty() {
                return Err(CliError::new("there are no migrations to review")
                    .with_hint("write one with `qvdiff migrate -m \"…\"`"));
            }
            heads
        }
        None => args.revisions.clone(),
    };
    let checked = check_files(config, &dir, &revisions)?;
    let comments = crate::dialects::comments_for_history(config, None);
    let report = Report {
        migrations: checked
            .iter()
            .filter_map(|c| reviewed(dialect.as_ref(), c, comments.as_ref()))
            .collect(),
    };
    let unreadable: Vec<&Checked> = checked.iter().filter(|c| c.file.is_none()).collect();
    match args.format {
        ReviewFormat::Json => {
            let json = serde_json::to_string_pretty(&report)
                .map_err(|e| CliError::new(format!("cannot write the report as JSON: {e}")))?;
            println!("{json}");
        }
        ReviewFormat::Markdown => print!("{}", markdown(&report, &unreadable)),
    }
    Ok(EXIT_OK)
}

/// Revisions of the migration files added to the history in `dir` since `reference`: those
/// `git diff --name-only --diff-filter=A <reference> -- <migrations dir>` lists (committed,
/// staged or changed in the working tree since the ref), and the untracked ones
/// (`git ls-files --others --exclude-standard`), which a new `qvdiff migrate` file is until
/// someone runs `git add`.
pub(crate) fn added_since(
    config: &Config,
    dir: &HistoryDir,
    reference: &str,
) -> CliResult<Vec<String>> {
    if reference.starts_with('-') {
        return Err(CliError::new(format!(
            "--since `{reference}` is not a git ref (it starts with `-`)"
        )));
    }
    let dir = dir.path.strip_prefix(&config.root).unwrap_or(&dir.path);
    let dir = dir.to_string_lossy();
    let added = git(
        config,
        &[
            "diff",
            "--name-only",
            "--relative",
            "--diff-filter=A",
            reference,
            "--",
            &dir,
        ],
        &format!("listing the migration files added since {reference} (git diff)"),
    )?;
    let untracked = git(
        config,
        &["ls-files", "--others", "--exclude-standard", "--", &dir],
        "git ls-files",
    )?;
    let names: BTreeSet<&str> = added.lines().chain(untracked.lines()).collect();
    let mut revisions = Vec::new();
    for name in names {
        let path = config.root.join(name);
        if path.extension().is_none_or(|e| e != "sql") {
            continue;
        }
        // A file added and deleted again since the ref is not listed by git; one added and not
        // readable is an error worth seeing.
        let text =
            std::fs::read_to_string(&path).map_err(|e| crate::error::io_error("read", &path, e))?;
        match MigrationFile::parse(&text) {
            Ok(file) => revisions.push(file.revision),
            Err(e) => {
                return Err(CliError::new(format!(
                    "{}:{}: {}",
                    display_path(&path),
                    e.line,
                    e.message
                )))
            }
        }
    }
    Ok(revisions)
}

/// Runs git with `args` (an argument vector, no shell) in the directory of `qvdiff.toml` and
/// returns its standard output; `what` names the command in a failure's message.
fn git(config: &Config, args: &[&str], what: &str) -> CliResult<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(&config.root)
        .output()
        .map_err(|e| {
            CliError::new(format!("cannot run git: {e}"))
                .with_hint("--since needs git on PATH; or name the revisions instead")
        })?;
    if !output.status.success() {
        return Err(CliError::new(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
        .with_hint("is this a git repository, and is the ref spelled right?"));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The summary notes of a migration `migrate` writes (see [`qvdiff_core::summary`]), types
/// named as the file's dialect writes them; the rebuilt tables are the planned up steps' facts.
pub fn generated_notes(
    dialect: &dyn Dialect,
    file: &MigrationFile,
    changes: &[Change],
    up: &[Step],
    down_losses: Vec<String>,
    row_counts: Option<BTreeMap<String, u64>>,
) -> Vec<String> {
    let rebuilt = up.iter().filter_map(|s| s.facts.rebuilds.clone()).collect();
    let type_name = |ty: &ColumnType| dialect.type_name(ty);
    let extras = SummaryExtras {
        rebuilt,
        renamed_indexes: renamed_indexes(dialect, &file.up),
        down_losses,
        row_counts,
    };
    qvdiff_core::summary::notes(file, changes, &extras, &type_name)
}

/// The `(old, new)` index renames an up section performs, for the summary. Only a section that
/// says `ALTER INDEX` is read (reading the statements of a big initial migration costs).
pub(crate) fn renamed_indexes(dialect: &dyn Dialect, up: &str) -> Vec<(String, String)> {
    if says_alter_index(up) {
        dialect.renames(up).indexes
    } else {
        Vec::new()
    }
}

/// Whether a line of `up` starts with `ALTER INDEX`, in any case and indentation (compared in
/// place: an upper-case copy of every line of a megabyte section cost more than the rest).
fn says_alter_index(up: &str) -> bool {
    const ALTER_INDEX: &str = "ALTER INDEX";
    up.lines().any(|line| {
        line.trim_start()
            .get(..ALTER_INDEX.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(ALTER_INDEX))
    })
}

/// Current row counts of the tables `changes` touch, read from a live database.
pub fn row_counts(
    db: &mut dyn qvdiff_core::Backend,
    changes: &[Change],
    before: &Schema,
) -> CliResult<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for table in affected_tables(changes, before) {
        let n = db
            .count_rows(&table)
            .map_err(|e| CliError::new(e.to_string()))?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// `comments`: the models' comments, drawn on both diagrams when the history records none.
fn reviewed(
    dialect: &dyn Dialect,
    checked: &Checked,
    comments: Option<&Schema>,
) -> Option<Reviewed> {
    let type_name = |ty: &ColumnType| dialect.type_name(ty);
    let file = checked.file.as_ref()?;
    let origin = if file.parents.len() > 1 {
        "merge".to_string()
    } else {
        match recorded_fingerprint(&checked.text) {
            None => "hand-written".to_string(),
            Some((_, up, down))
                if up == section_fingerprint(&file.up)
                    && down == section_fingerprint(&file.down) =>
            {
                "generated".to_string()
            }
            Some(_) => "generated, edited by hand".to_string(),
        }
    };
    let (changes, before, after) = match &checked.analysis {
        Some(a) => (a.changes.clone(), a.before.clone(), a.after.clone()),
        None => (Vec::new(), Schema::default(), Schema::default()),
    };
    let (before, after) = match comments {
        Some(models) => (
            before.with_comments_from(models),
            after.with_comments_from(models),
        ),
        None => (before, after),
    };
    let rebuilt: BTreeSet<String> = checked
        .up_facts
        .iter()
        .filter_map(|f| f.rebuilds.clone())
        .collect();
    let (before_tables, after_tables, before_marks, after_marks) = marks(&changes, &type_name);
    let mut tables: BTreeSet<String> = after_tables.clone();
    tables.extend(changes.iter().filter_map(|c| match c {
        Change::DropTable { table } => Some(table.name.clone()),
        _ => None,
    }));
    let destructive = checked
        .findings
        .iter()
        .filter(|f| f.rule == Rule::Destructive)
        .map(|f| {
            (
                f.line,
                f.message.trim_start_matches("loses data: ").to_string(),
            )
        })
        .collect();
    let down_losses = checked
        .down
        .statements
        .iter()
        .zip(&checked.down_facts)
        .filter_map(|(st, facts)| Some((st.line, facts.destructive()?)))
        .collect();
    Some(Reviewed {
        revision: file.revision.clone(),
        path: checked.path.clone(),
        message: file.message.clone(),
        parents: file.parents.clone(),
        origin,
        tables: tables.into_iter().collect(),
        changes: change_lines(
            &changes,
            &rebuilt,
            &renamed_indexes(dialect, &file.up),
            &type_name,
        ),
        destructive,
        down_losses,
        rebuilds: rebuilt.into_iter().collect(),
        findings: checked.findings.clone(),
        erd_before: mermaid(&before, Some(&before_tables), &before_marks, &type_name),
        erd_after: mermaid(&after, Some(&after_tables), &after_marks, &type_name),
        up: file.up.clone(),
        down: file.down.clone(),
    })
}

/// The affected tables before and after, and what to highlight in each diagram.
fn marks(
    changes: &[Change],
    type_name: qvdiff_core::summary::TypeNamer<'_>,
) -> (BTreeSet<String>, BTreeSet<String>, Marks, Marks) {
    let renamed: BTreeMap<&str, &str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::RenameTable { from, to } => Some((to.as_str(), from.as_str())),
            _ => None,
        })
        .collect();
    let old_name = |t: &str| renamed.get(t).copied().unwrap_or(t).to_string();
    let mut before_tables = BTreeSet::new();
    let mut after_tables = BTreeSet::new();
    let mut before = Marks::default();
    let mut after = Marks::default();
    let changed = |marks: &mut Marks, table: &str| {
        marks
            .tables
            .entry(table.to_string())
            .or_insert(Mark::Changed);
    };
    for change in changes {
        match change {
            Change::CreateTable { table } => {
                after_tables.insert(table.name.clone());
                after.tables.insert(table.name.clone(), Mark::Added);
            }
            Change::DropTable { table } => {
                before_tables.insert(table.name.clone());
                before.tables.insert(table.name.clone(), Mark::Removed);
            }
            Change::RenameTable { from, to } => {
                before_tables.insert(from.clone());
                after_tables.insert(to.clone());
                changed(&mut before, from);
                changed(&mut after, to);
            }
            other => {
                let Some(table) = other.altered_table() else {
                    continue;
                };
                let old = old_name(table);
                before_tables.insert(old.clone());
                after_tables.insert(table.to_string());
                changed(&mut before, &old);
                changed(&mut after, table);
                match other {
                    Change::AddColumn { column, .. } => {
                        after.columns.insert(
                            (table.to_string(), column.name.clone()),
                            (Mark::Added, "added".into()),
                        );
                    }
                    Change::DropColumn { column, .. } => {
                        before.columns.insert(
                            (old.clone(), column.name.clone()),
                            (Mark::Removed, "dropped".into()),
                        );
                    }
                    Change::RenameColumn { from, to, .. } => {
                        before.columns.insert(
                            (old.clone(), from.clone()),
                            (Mark::Changed, format!("renamed to {to}")),
                        );
                        after.columns.insert(
                            (table.to_string(), to.clone()),
                            (Mark::Changed, format!("renamed from {from}")),
                        );
                    }
                    Change::AlterColumn { from, to, .. } => {
                        let mut note = Vec::new();
                        // A change of variants says which, as `migrate` does: on SQLite both
                        // sides are TEXT.
                        if let Some(change) =
                            qvdiff_core::schema::EnumChange::between(&from.ty, &to.ty)
                                .filter(|_| from.ty.enum_values() != to.ty.enum_values())
                        {
                            note.push(qvdiff_core::diff::describe_enum_change(&to.ty, &change));
                        } else if from.ty != to.ty {
                            note.push(format!("{} -> {}", type_name(&from.ty), type_name(&to.ty)));
                        }
                        if from.nullable != to.nullable {
                            note.push(
                                if to.nullable {
                                    "now NULL"
                                } else {
                                    "now NOT NULL"
                                }
                                .into(),
                            );
                        }
                        if from.default != to.default {
                            note.push("default changed".into());
                        }
                        if note.is_empty() {
                            note.push("changed".into());
                        }
                        after.columns.insert(
                            (table.to_string(), to.name.clone()),
                            (Mark::Changed, note.join(", ")),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    (before_tables, after_tables, before, after)
}

/// The Markdown report.
pub fn markdown(report: &Report, unreadable: &[&Checked]) -> String {
    let mut out = String::new();
    let n = report.migrations.len() + unreadable.len();
    let _ = writeln!(
        out,
        "# Migration review: {n} migration{}\n",
        if n == 1 { "" } else { "s" }
    );
    out.push_str("| revision | message | tables | destructive | rebuilds | lint |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for m in &report.migrations {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            m.revision,
            cell(&m.message),
            cell(&m.tables.join(", ")),
            m.destructive.len(),
            m.rebuilds.len(),
            m.findings.len()
        );
    }
    for bad in unreadable {
        let _ = writeln!(
            out,
            "| `{}` | (does not parse) | | | | {} |",
            cell(&bad.path),
            bad.findings.len()
        );
    }
    for m in &report.migrations {
        let _ = writeln!(out, "\n## `{}`: {}\n", m.revision, m.message);
        let parents = if m.parents.is_empty() {
            "none (first migration)".to_string()
        } else {
            m.parents.join(", ")
        };
        let _ = writeln!(out, "`{}` · parents: {parents} · {}\n", m.path, m.origin);
        out.push_str("### Changes\n\n");
        if m.parents.len() > 1 {
            let _ = writeln!(
                out,
                "This merge joins {} branches, ending at {}; their changes are in their own \
                 migrations (`qvdiff review {}`). {}\n",
                m.parents.len(),
                m.parents
                    .iter()
                    .map(|p| code(p))
                    .collect::<Vec<_>>()
                    .join(" and "),
                m.parents.join(" "),
                if m.changes.is_empty() {
                    "It changes no schema of its own."
                } else {
                    "Its own changes:"
                }
            );
        } else if m.changes.is_empty() {
            out.push_str("No schema change.\n");
        }
        for line in &m.changes {
            let _ = writeln!(out, "- {}", code(line));
        }
        out.push_str("\n### Destructive steps\n\n");
        if m.destructive.is_empty() {
            out.push_str("None: the up section keeps every value.\n");
        }
        for (line, why) in &m.destructive {
            let _ = writeln!(out, "- **line {line}**: {why}");
        }
        for (line, why) in &m.down_losses {
            let _ = writeln!(out, "- down, line {line} (only when reverting): {why}");
        }
        out.push_str("\n### Table rebuilds\n\n");
        if m.rebuilds.is_empty() {
            out.push_str("None.\n");
        }
        for table in &m.rebuilds {
            let _ = writeln!(
                out,
                "- {}: every row is copied into a new table while the table is locked",
                code(table)
            );
        }
        out.push_str("\n### Lint\n\n");
        if m.findings.is_empty() {
            out.push_str("No findings.\n");
        }
        for f in &m.findings {
            let _ = writeln!(
                out,
                "- `{}` line {}: {} ({})",
                f.rule.id(),
                f.line,
                f.message,
                f.silence
            );
        }
        if !m.changes.is_empty() {
            out.push_str("\n### Schema before\n\n```mermaid\n");
            out.push_str(&m.erd_before);
            out.push_str("```\n\n### Schema after\n\n```mermaid\n");
            out.push_str(&m.erd_after);
            out.push_str("```\n");
        }
        for (name, sql) in [("up", &m.up), ("down", &m.down)] {
            let fence = fence_for(sql);
            let lines = sql.lines().count();
            let _ = writeln!(
                out,
                "\n<details><summary>SQL ({name}, {lines} line{})</summary>\n\n{fence}sql\n{}{fence}\n\n</details>",
                if lines == 1 { "" } else { "s" },
                if sql.is_empty() || sql.ends_with('\n') {
                    sql.to_string()
                } else {
                    format!("{sql}\n")
                }
            );
        }
    }
    for bad in unreadable {
        let _ = writeln!(out, "\n## `{}`\n", bad.path);
        for f in &bad.findings {
            let _ = writeln!(out, "- `{}` line {}: {}", f.rule.id(), f.line, f.message);
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`, so SQL cannot close it early.
fn fence_for(text: &str) -> String {
    "`".repeat((longest_backtick_run(text) + 1).max(3))
}

/// The longest run of consecutive backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Inline code that no backtick inside `text` can end early (CommonMark: a longer fence, and
/// spaces when the text starts or ends with a backtick).
fn code(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text) + 1);
    if fence.len() > 1 || text.starts_with('`') || text.ends_with('`') {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(changes: Vec<String>) -> Reviewed {
        Reviewed {
            revision: "r3".into(),
            path: "migrations/r3_join.sql".into(),
            message: "join".into(),
            parents: vec!["r2a".into(), "r2b".into()],
            origin: "merge".into(),
            tables: Vec::new(),
            changes,
            destructive: Vec::new(),
            down_losses: Vec::new(),
            rebuilds: Vec::new(),
            findings: Vec::new(),
            erd_before: String::new(),
            erd_after: String::new(),
            up: String::new(),
            down: String::new(),
        }
    }

    #[test]
    fn a_section_says_alter_index_in_any_case_and_indentation() {
        assert!(says_alter_index(
            "CREATE TABLE t (a);\n  alter Index a RENAME TO b;\n"
        ));
        assert!(says_alter_index("ALTER INDEX a RENAME TO b"));
        assert!(!says_alter_index(
            "CREATE TABLE t (a);\nALTER TABLE t RENAME TO u;\n"
        ));
        assert!(!says_alter_index("ALTER INDE"));
        // A line whose first characters are not ASCII is no `ALTER INDEX` (and no panic).
        assert!(!says_alter_index("éé ALTER INDEX a"));
        assert!(!says_alter_index("ALTER INDEé"));
    }

    #[test]
    fn a_merge_says_what_it_joins_and_whether_it_changes_anything_itself() {
        let plain = markdown(
            &Report {
                migrations: vec![merge(Vec::new())],
            },
            &[],
        );
        assert!(
            plain.contains(
                "This merge joins 2 branches, ending at `r2a` and `r2b`; their changes are in \
                 their own migrations (`qvdiff review r2a r2b`). It changes no schema of its own."
            ),
            "{plain}"
        );
        assert!(!plain.contains("No schema change"), "{plain}");
        let own = markdown(
            &Report {
                migrations: vec![merge(vec!["+ index ix_t_a on t".into()])],
            },
            &[],
        );
        assert!(
            own.contains("Its own changes:\n\n- `+ index ix_t_a on t`"),
            "{own}"
        );
    }
}
