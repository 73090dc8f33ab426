//! `qvdiff lint [REV…]` (and `qvdiff check --lint`): every migration file checked against the
//! rules of [`qvdiff_core::lint`], each finding with its rule id, `file:line`, one sentence and
//! how to silence it. Exit 1 on findings, 0 when clean.
//!
//! The rules are pure; this module does the IO around them: it reads every file (a malformed one
//! is a `does-not-parse` finding, not an error), replays each file's ancestors on the dialect's
//! scratch schema ([`qvdiff_core::Replay`]: an in-memory SQLite database, or PostgreSQL's schema
//! model), applies the file's up and down there, and hands what it saw to the rules.

use crate::cli::LintArgs;
use crate::config::Config;
use crate::error::{io_error, CliError, CliResult, EXIT_DIFFERENCE, EXIT_OK};
use crate::history::HistoryDir;
use crate::output::{Console, Tone};
use qvdiff_core::lint::{format_finding, lint_file, Analysis, FileFacts, Finding, Section};
use qvdiff_core::migration::{DOWN_MARKER, UP_MARKER};
use qvdiff_core::runner::{Migration, Migrations};
use qvdiff_core::{Dialect, MigrationFile, Replay, StepFacts};
use std::collections::BTreeSet;
use std::path::Path;

/// One migration file, read and analysed.
#[derive(Debug)]
pub struct Checked {
    /// Path for messages, as the rest of the CLI shows it.
    pub path: String,
    /// The file's text.
    pub text: String,
    /// The parsed file, when it parses.
    pub file: Option<MigrationFile>,
    /// Its up section, split into statements.
    pub up: Section,
    /// Its down section, split into statements.
    pub down: Section,
    /// What replaying it showed, when its ancestors replay.
    pub analysis: Option<Analysis>,
    /// The facts of each up statement, as the dialect reads them from the SQL.
    pub up_facts: Vec<StepFacts>,
    /// The facts of each down statement (what reverting would cost).
    pub down_facts: Vec<StepFacts>,
    /// The findings, suppressions applied.
    pub findings: Vec<Finding>,
}

impl Checked {
    /// The revision id, when the file parses.
    pub fn revision(&self) -> Option<&str> {
        self.file.as_ref().map(|f| f.revision.as_str())
    }
}

/// Runs `qvdiff lint`: prints the findings, returns 1 when there are any.
pub fn run(config: &Config, args: &LintArgs, console: &Console) -> CliResult<i32> {
    let dir = HistoryDir::project(config);
    let revisions = match &args.since {
        Some(reference) => {
            let added = crate::commands::review::added_since(config, &dir, reference)?;
            // Nothing added: nothing to check (an empty list would mean every file).
            if added.is_empty() {
                console.info(&console.paint(
                    Tone::Good,
                    &format!(
                        "OK: no migration file was added to {} since {reference}.",
                        dir.shown()
                    ),
                ));
                return Ok(EXIT_OK);
            }
            added
        }
        None => args.revisions.clone(),
    };
    let checked = check_files(config, &dir, &revisions)?;
    Ok(report(&checked, console))
}

/// Prints the findings of `checked` (and a one-line verdict) and returns the exit code.
pub fn report(checked: &[Checked], console: &Console) -> i32 {
    let mut total = 0;
    let mut files = 0;
    for file in checked {
        if file.findings.is_empty() {
            continue;
        }
        files += 1;
        for finding in &file.findings {
            total += 1;
            println!(
                "{}:{}: {}: {}",
                file.path,
                finding.line,
                console.paint(Tone::Bad, finding.rule.id()),
                finding.message
            );
            println!("    {}", finding.silence);
        }
    }
    if total == 0 {
        console.info(&console.paint(
            Tone::Good,
            &format!(
                "OK: no lint findings in {} migration file{}.",
                checked.len(),
                if checked.len() == 1 { "" } else { "s" }
            ),
        ));
        EXIT_OK
    } else {
        println!(
            "{total} finding{} in {files} file{}.",
            if total == 1 { "" } else { "s" },
            if files == 1 { "" } else { "s" }
        );
        EXIT_DIFFERENCE
    }
}

/// Reads and checks the migration files of the history in `dir`: all of them, or those of
/// `revisions` (ids or unique prefixes). Files come in graph order (parents first), malformed
/// ones first of all.
pub fn check_files(
    config: &Config,
    dir: &HistoryDir,
    revisions: &[String],
) -> CliResult<Vec<Checked>> {
    let dialect = crate::dialects::planner(config, dir.dialect);
    let dialect = dialect.as_ref();
    let (parsed, unparsed) = dir.read_files()?;
    // With a malformed file its children have an unknown parent: the graph cannot be built, and
    // only the malformed files are reported (fix them first), each with its `does-not-parse`
    // finding.
    let mut malformed: Vec<Checked> = unparsed
        .into_iter()
        .map(|u| Checked {
            path: u.path,
            findings: vec![format_finding(u.error.line, &u.error.message)],
            text: u.text,
            file: None,
            up: Section::default(),
            down: Section::default(),
            analysis: None,
            up_facts: Vec::new(),
            down_facts: Vec::new(),
        })
        .collect();
    if !malformed.is_empty() {
        return Ok(malformed);
    }
    let migrations = dir.link(parsed)?;
    let selected = select(&migrations, revisions)?;
    // In a linear history a file's ancestors are exactly the files before it in graph order, so
    // one running scratch schema (every up so far) gives each file its starting schema without
    // replaying the whole chain again for every file. Branches fall back to a full replay.
    let mut running = Some(dialect.replay());
    let mut done: BTreeSet<String> = BTreeSet::new();
    for migration in migrations.in_order() {
        let revision = &migration.file.revision;
        if selected.iter().any(|r| r == revision) {
            let mut ancestors = migrations.graph().ancestors(revision);
            ancestors.remove(revision);
            let start = running.as_deref().filter(|_| ancestors == done);
            malformed.push(check_one(dialect, &migrations, migration, start)?);
        }
        if let Some(scratch) = running.as_mut() {
            if scratch.apply(revision, &migration.file.up).is_err() {
                running = None;
            }
        }
        done.insert(revision.clone());
    }
    Ok(malformed)
}

/// The revisions named on the command line (all when none), or an error naming the unknown one.
pub fn select(migrations: &Migrations, revisions: &[String]) -> CliResult<Vec<String>> {
    if revisions.is_empty() {
        return Ok(migrations
            .in_order()
            .iter()
            .map(|m| m.file.revision.clone())
            .collect());
    }
    let mut selected = Vec::new();
    for wanted in revisions {
        let matching: Vec<&str> = migrations
            .in_order()
            .into_iter()
            .map(|m| m.file.revision.as_str())
            .filter(|rev| rev.starts_with(wanted.as_str()))
            .collect();
        let exact = matching.iter().find(|r| **r == wanted.as_str());
        match (exact, matching.as_slice()) {
            (Some(rev), _) | (None, [rev]) => selected.push(rev.to_string()),
            (None, []) => {
                return Err(
                    CliError::new(format!("no migration has revision `{wanted}`"))
                        .with_hint("`qvdiff history` lists the revisions"),
                )
            }
            (None, many) => {
                return Err(CliError::new(format!(
                    "revision prefix `{wanted}` is ambiguous: {}",
                    many.join(", ")
                )))
            }
        }
    }
    Ok(selected)
}

/// Reads the file of `migration` again (its text is needed for lines and the fingerprint),
/// replays it and runs the rules.
fn check_one(
    dialect: &dyn Dialect,
    migrations: &Migrations,
    migration: &Migration,
    start: Option<&dyn Replay>,
) -> CliResult<Checked> {
    let path = Path::new(&migration.path);
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read", path, e))?;
    let file = &migration.file;
    let (up_line, down_line) = marker_lines(&text);
    let up = dialect.section(&file.up, up_line);
    let down = dialect.section(&file.down, down_line);
    let analysis = analyze(dialect, migrations, migration, start);
    // Without a replay the facts are read against an empty database: no lock on a table that
    // existed, since none is known to.
    let (before, after) = match &analysis {
        Some(a) => (a.before.clone(), a.after.clone()),
        None => Default::default(),
    };
    let up_facts = dialect.facts_of(&before, &after, &file.up);
    let down_facts = dialect.facts_of(&after, &before, &file.down);
    let facts = FileFacts {
        text: &text,
        up_text: &file.up,
        down_text: &file.down,
        up: up.clone(),
        down: down.clone(),
        is_merge: file.parents.len() > 1,
        analysis: analysis.clone(),
        up_facts: up_facts.clone(),
        type_name: &|ty| dialect.type_name(ty),
        expand_facts: expand_facts(dialect, migrations, migration),
    };
    let findings = lint_file(&facts);
    Ok(Checked {
        path: migration.path.clone(),
        file: Some(file.clone()),
        text,
        up,
        down,
        analysis,
        up_facts,
        down_facts,
        findings,
    })
}

/// For a contract revision: the facts of the up section of the expand revision it completes,
/// its one parent, read on the schema that parent starts from; empty for any other file, or
/// when the expand cannot be replayed (then every drop and rename of the contract is judged
/// like any other).
fn expand_facts(
    dialect: &dyn Dialect,
    migrations: &Migrations,
    migration: &Migration,
) -> Vec<StepFacts> {
    let (true, [parent]) = (migration.contract, migration.file.parents.as_slice()) else {
        return Vec::new();
    };
    let Some(expand) = migrations.get(parent) else {
        return Vec::new();
    };
    match analyze(dialect, migrations, expand, None) {
        Some(a) if a.failure.is_none() => dialect.facts_of(&a.before, &a.after, &expand.file.up),
        _ => Vec::new(),
    }
}

/// 1-based lines of the up and down markers of a file that parsed.
pub(crate) fn marker_lines(text: &str) -> (usize, usize) {
    let mut up = 0;
    let mut down = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if up == 0 && line == UP_MARKER {
            up = i + 1;
        } else if up != 0 && down == 0 && line == DOWN_MARKER {
            down = i + 1;
        }
    }
    (up, down)
}

/// Applies the up and the down of `migration` on the dialect's scratch schema at its starting
/// point: `start` when given (where exactly its ancestors are applied), else its ancestors
/// replayed. `None` when the ancestors themselves fail (their own files carry that finding).
pub fn analyze(
    dialect: &dyn Dialect,
    migrations: &Migrations,
    migration: &Migration,
    start: Option<&dyn Replay>,
) -> Option<Analysis> {
    let file = &migration.file;
    if let Some(start) = start {
        return start.analyze(&file.revision, &file.up, &file.down);
    }
    let mut ancestors = migrations.graph().ancestors(&file.revision);
    ancestors.remove(&file.revision);
    let mut scratch = dialect.replay();
    for m in migrations.in_order() {
        if ancestors.contains(&m.file.revision) {
            scratch.apply(&m.file.revision, &m.file.up).ok()?;
        }
    }
    scratch.analyze(&file.revision, &file.up, &file.down)
}
