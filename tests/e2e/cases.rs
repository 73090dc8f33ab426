//! Data-driven migration cases: every folder under `fixtures/cases/` is one case, no Rust code
//! needed to add one.
//!
//! A case holds `before.rs` and `after.rs` (the models), `rows.sql` (rows inserted after the
//! `before` schema is applied) and, optionally, `answers.txt` (what a person types at the
//! prompts; without it the case runs with `--no-input`) and, optionally, `setup.sql`: SQL a
//! person wrote by hand (views, triggers, data fixes) that models cannot express. It becomes the
//! `up` section of a hand-written migration (`qvdiff migrate --empty`), applied after `rows.sql`;
//! a `-- qvdiff:down` line in it starts that migration's `down` section. The runner, with the
//! real binary:
//!
//! 1. generates the `before` migration and upgrades a real file database to it, inserts the rows,
//!    then writes and applies the `setup.sql` migration if there is one;
//! 2. generates the `after` migration and compares it with the `migration.sql` snapshot (its
//!    summary block included), and what a reviewer gets for it with the `lint.txt` (`qvdiff lint`)
//!    and `review.md` (`qvdiff review`) snapshots;
//! 3. upgrades, checks the schema matches the models (`qvdiff diff --db` finds nothing) and the
//!    database's integrity and foreign keys, and compares every value with `data_up.txt`;
//! 4. downgrades one step and compares every value with `data_down.txt`; when the up section
//!    loses no data, that must also equal the data as inserted, unless the case has a
//!    `down_differs.txt` saying why the way back cannot restore it although nothing is lost
//!    (a backfill gives NULLs a value: the way back cannot know which rows were NULL).
//!
//! The data dumps hold every row of every table, every row of every view, the AUTOINCREMENT
//! counters (`sqlite_sequence`), and the name and table of every trigger, so a view or trigger lost by a rebuild shows up in them.
//!
//! Refused steps: a case whose rows a planned step must refuse (a type change over values that
//! would not convert) holds `expect_refused.txt`, one required substring of the error a line.
//! With rows, the upgrade or the downgrade must exit 2 naming revision `r2_change` and those
//! substrings, and leave the database file byte-identical; then the case runs again without rows, to check the schema
//! path, and its data snapshots are those of that run.
//!
//! A case whose models SQLite stores alike (a naive and a zoned timestamp are both `DATETIME`)
//! gets no migration: its `migration.sql` says so, `qvdiff check --db` must pass and every value
//! stays as inserted.
//!
//! A case holding `migrate_with_db.txt` (one line: why) writes its `after` migration with
//! `migrate --db`, as a person with the database at hand does: what the live rows decide (a
//! column becoming NOT NULL holds no NULL, so it needs no value) is then part of the case.
//!
//! Snapshots are written when missing, or all of them with `QVDIFF_BLESS=1`; review them.
//! `QVDIFF_CASES=a,b` runs only the cases whose folder name contains `a` or `b` (while writing
//! new cases); the count of cases is then not checked.

use super::support::{repo_root, Project};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[test]
fn every_fixture_case() {
    let cases = fixture_cases();
    let failures: Vec<String> = cases.iter().filter_map(|c| run_case(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The summary block of every case's generated file (SQLite, and PostgreSQL where the case has
/// one) against its up section: each value the SQL fills in for existing rows (a rebuild's
/// `COALESCE` or copied value, an `UPDATE … WHERE … IS NULL`, the default of an added column) is
/// named on its column's summary line, and no line says NULLs are refused while the SQL fills
/// them. The files are the snapshots `every_fixture_case` (and its PostgreSQL twin) hold to the
/// real binary's output.
#[test]
fn every_value_a_file_fills_in_is_in_its_summary() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in fixture_cases() {
        for file in ["migration.sql", "migration.postgres.sql"] {
            let Ok(text) = std::fs::read_to_string(case.join(file)) else {
                continue;
            };
            let (summary, up) = summary_and_up(&text);
            for column in filled_columns(&up) {
                checked += 1;
                // Table names may hold spaces: find the line by `.column `.
                let mut lines = summary
                    .iter()
                    .filter(|l| l.contains(&format!(".{column} ")));
                let line = lines.clone().next();
                let named = lines
                    .any(|l| l.contains("existing rows: ") || l.contains("existing NULLs become "));
                if !named {
                    failures.push(format!(
                        "{}/{file}: the up section fills {column}, the summary does not say \
                         with what: {line:?}",
                        case.display()
                    ));
                }
            }
            for line in summary
                .iter()
                .filter(|l| l.contains("existing NULLs are refused"))
            {
                let filled = filled_columns(&up);
                if filled.iter().any(|c| line.contains(&format!(".{c} "))) {
                    failures.push(format!(
                        "{}/{file}: the summary says NULLs are refused, the SQL fills them: {line}",
                        case.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked >= 5,
        "only {checked} filled values found: the reader is broken"
    );
}

/// The summary lines (without `-- `) and the up section of a generated migration file.
fn summary_and_up(text: &str) -> (Vec<String>, String) {
    let (head, rest) = text.split_once("-- qvdiff:up\n").unwrap_or((text, ""));
    let up = rest.split("-- qvdiff:down").next().unwrap_or_default();
    // An expand revision names what its new columns are filled with in its `expand:` notes.
    let summary = head
        .lines()
        .filter_map(|l| l.strip_prefix("-- "))
        .filter(|l| l.starts_with(['+', '~', '-']) || l.starts_with("expand: "))
        .map(str::to_string)
        .collect();
    (summary, up.to_string())
}

/// The columns an up section gives existing rows a value for, read from the SQL qvdiff writes:
/// `COALESCE("c", …)` and copied values in a rebuild's `INSERT … SELECT`, `UPDATE … SET "c" =
/// … WHERE "c" IS NULL`, and `ADD COLUMN "c" … DEFAULT …`.
fn filled_columns(up: &str) -> Vec<String> {
    let mut columns = Vec::new();
    let unquote = |name: &str| name.trim().trim_matches('"').replace("\"\"", "\"");
    let statements: Vec<&str> = up.split(";\n").collect();
    for statement in statements {
        let statement = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let statement = statement.trim();
        if let Some(rest) = statement.strip_prefix("INSERT INTO ") {
            // A rebuild's copy: pair the column list with the SELECT list.
            let (Some(open), Some(select)) = (rest.find('('), rest.find(")\nSELECT ")) else {
                continue;
            };
            let targets = split_top_level(&rest[open + 1..select]);
            let from = rest.rfind("\nFROM ").unwrap_or(rest.len());
            let values = split_top_level(&rest[select + ")\nSELECT ".len()..from]);
            for (target, value) in targets.iter().zip(&values) {
                let (target, value) = (target.trim(), value.trim());
                // A copy, or a conversion of the column itself, fills nothing.
                if value.starts_with("COALESCE(") || !value.contains(target) {
                    columns.push(unquote(target));
                }
            }
        } else if statement.starts_with("UPDATE ") && statement.contains(" IS NULL") {
            if let Some(set) = statement.split(" SET ").nth(1) {
                columns.push(unquote(set.split(" = ").next().unwrap_or_default()));
            }
        } else if let Some(at) = statement.find(" ADD COLUMN ") {
            let rest = &statement[at + " ADD COLUMN ".len()..];
            if rest.contains(" DEFAULT ") {
                let name = match rest.strip_prefix('"') {
                    Some(quoted) => quoted.split('"').next().unwrap_or_default(),
                    None => rest.split_whitespace().next().unwrap_or_default(),
                };
                columns.push(unquote(name));
            }
        }
    }
    columns
}

/// `text` split at commas outside parentheses, quotes and double quotes.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut depth, mut quote) = (0usize, None::<char>);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// The case folders under `fixtures/cases/`, sorted, filtered by `QVDIFF_CASES` (then at least
/// one must match; without a filter there must be at least 40).
pub(super) fn fixture_cases() -> Vec<PathBuf> {
    let dir = repo_root().join("fixtures/cases");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let filter = std::env::var("QVDIFF_CASES").unwrap_or_default();
    let wanted: Vec<&str> = filter.split(',').filter(|f| !f.is_empty()).collect();
    if !wanted.is_empty() {
        cases.retain(|c| {
            let name = c.file_name().unwrap_or_default().to_string_lossy();
            wanted.iter().any(|w| name.contains(w))
        });
        assert!(!cases.is_empty(), "no case matches QVDIFF_CASES={filter}");
    }
    assert!(
        !wanted.is_empty() || cases.len() >= 40,
        "expected at least 40 cases, found {}",
        cases.len()
    );
    cases
}

fn run_case(case: &Path) -> Result<(), String> {
    let refused = run_pass(case, true)?;
    if refused {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        if run_pass(case, false)? {
            return Err(format!("[{name}] refused without rows"));
        }
    }
    Ok(())
}

/// One run of the case on a fresh project, with or without its rows: `Ok(true)` when the up
/// was refused as `expect_refused.txt` says (and checked), on the pass with rows.
fn run_pass(case: &Path, with_rows: bool) -> Result<bool, String> {
    let name = case
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let fail = |msg: String| format!("[{name}] {msg}");
    let read = |file: &str| {
        std::fs::read_to_string(case.join(file)).map_err(|e| fail(format!("{file}: {e}")))
    };

    let p = Project::with_models(&[("src/models.rs", &read("before.rs")?)]);
    let ok = |args: &[&str]| -> Result<String, String> {
        let run = p.qvdiff(args);
        if run.code == 0 {
            Ok(run.stdout)
        } else {
            Err(fail(format!(
                "`qvdiff {}` exited {}:\n{}",
                args.join(" "),
                run.code,
                run.stderr
            )))
        }
    };
    ok(&[
        "migrate",
        "--no-input",
        "-m",
        "before",
        "--rev-id",
        "r1_before",
    ])?;
    ok(&["upgrade", "--no-backup"])?;
    let rows = if with_rows {
        read("rows.sql")?
    } else {
        String::new()
    };
    {
        let conn = Connection::open(p.path("app.db")).map_err(|e| fail(e.to_string()))?;
        conn.execute_batch(&rows)
            .map_err(|e| fail(format!("rows.sql: {e}")))?;
    }
    if let Ok(setup) = std::fs::read_to_string(case.join("setup.sql")) {
        hand_written_migration(&p, &setup).map_err(fail)?;
        ok(&["upgrade", "--no-backup"])?;
    }
    let initial = dump(&p.path("app.db")).map_err(fail)?;

    p.write("src/models.rs", &read("after.rs")?);
    // A case holding `migrate_with_db.txt` writes its migration from the live database.
    let db = p.path("app.db").to_string_lossy().into_owned();
    let live: &[&str] = if case.join("migrate_with_db.txt").exists() {
        &["--db", &db]
    } else {
        &[]
    };
    let Some(migration) = migrate_change(&p, case, &name, live).map_err(fail)? else {
        // The models differ only in what SQLite stores alike (a naive and a zoned timestamp
        // are both DATETIME): nothing to write, nothing drifts, every value as inserted.
        snapshot(case, "migration.sql", NO_MIGRATION).map_err(fail)?;
        ok(&["check", "--db", "app.db"])?;
        let unchanged = dump(&p.path("app.db")).map_err(fail)?;
        if unchanged != initial {
            return Err(fail(format!(
                "no migration, yet the data changed:\n--- inserted\n{initial}\n--- now\n{unchanged}"
            )));
        }
        return Ok(false);
    };
    snapshot(case, "migration.sql", &migration).map_err(fail)?;

    // What a reviewer sees: the lint findings (exit 1 exactly when there are some) and the
    // pull-request report.
    let lint = p.qvdiff(&["lint", "r2_change"]);
    let expected_code = if lint.stdout.is_empty() { 0 } else { 1 };
    if lint.code != expected_code {
        return Err(fail(format!(
            "`qvdiff lint` exited {} with this report:\n{}{}",
            lint.code, lint.stdout, lint.stderr
        )));
    }
    let findings = if lint.stdout.is_empty() {
        "(no findings)\n"
    } else {
        &lint.stdout
    };
    snapshot(case, "lint.txt", findings).map_err(fail)?;
    let review = ok(&["review", "r2_change"])?;
    snapshot(case, "review.md", &review).map_err(fail)?;

    // A refusal is expected on this pass: the data snapshots belong to the pass without rows.
    let expect_refused = std::fs::read_to_string(case.join("expect_refused.txt")).ok();
    let refusal = expect_refused.as_deref().filter(|_| with_rows);
    if run_or_refused(&p, &["upgrade", "--no-backup"], refusal).map_err(fail)? {
        return Ok(true);
    }
    let drift = ok(&["diff", "--db", "app.db"])?;
    if !drift.trim().is_empty() {
        return Err(fail(format!(
            "after up the database differs from the models:\n{drift}"
        )));
    }
    health(&p.path("app.db")).map_err(fail)?;
    if refusal.is_none() {
        snapshot(case, "data_up.txt", &dump(&p.path("app.db")).map_err(fail)?).map_err(fail)?;
    }

    if run_or_refused(&p, &["downgrade", "--no-backup"], refusal).map_err(fail)? {
        return Ok(true);
    }
    if refusal.is_some() {
        return Err(fail(
            "expect_refused.txt: upgrade and downgrade both ran".to_string(),
        ));
    }
    health(&p.path("app.db")).map_err(fail)?;
    let after_down = dump(&p.path("app.db")).map_err(fail)?;
    snapshot(case, "data_down.txt", &after_down).map_err(fail)?;
    if down_must_restore(case, &migration) && after_down != initial {
        return Err(fail(format!(
            "up loses no data, so down must restore every value:\n--- inserted\n{initial}\n--- after down\n{after_down}"
        )));
    }
    Ok(false)
}

/// Runs `qvdiff args`: `Ok(false)` when it succeeds; `Ok(true)` when it fails as `refusal`
/// expects (exit 2, the message naming revision `r2_change` and holding each line of
/// `refusal`, the database file byte-identical); an error otherwise.
fn run_or_refused(p: &Project, args: &[&str], refusal: Option<&str>) -> Result<bool, String> {
    let before = std::fs::read(p.path("app.db")).map_err(|e| e.to_string())?;
    let run = p.qvdiff(args);
    let Some(expected) = refusal.filter(|_| run.code != 0) else {
        return match run.code {
            0 => Ok(false),
            code => Err(format!(
                "`qvdiff {}` exited {code}:\n{}",
                args.join(" "),
                run.stderr
            )),
        };
    };
    let missing: Vec<&str> = std::iter::once("r2_change")
        .chain(expected.lines().map(str::trim).filter(|l| !l.is_empty()))
        .filter(|needle| !run.stderr.contains(needle))
        .collect();
    if run.code != 2 || !missing.is_empty() {
        return Err(format!(
            "`qvdiff {}` should be refused as expect_refused.txt says (exit 2, naming \
             {missing:?}); it exited {}:\n{}",
            args.join(" "),
            run.code,
            run.stderr
        ));
    }
    if std::fs::read(p.path("app.db")).map_err(|e| e.to_string())? != before {
        return Err(format!(
            "`qvdiff {}` was refused but changed the database file",
            args.join(" ")
        ));
    }
    Ok(true)
}

/// The `migration.sql` of a case whose models SQLite stores alike (`migrate` writes nothing).
const NO_MIGRATION: &str = "-- no migration: on SQLite the models are the same schema\n";

/// `qvdiff migrate -m <name> --rev-id r2_change` (plus `extra` arguments) with the case's
/// `answers.txt` typed at the prompts, or `--no-input` without one; returns the file written
/// (`None`: no change, nothing written).
pub(super) fn migrate_change(
    p: &Project,
    case: &Path,
    name: &str,
    extra: &[&str],
) -> Result<Option<String>, String> {
    let answers = std::fs::read_to_string(case.join("answers.txt")).ok();
    let migrate = [&["migrate", "-m", name, "--rev-id", "r2_change"], extra].concat();
    let run = match &answers {
        Some(a) => p.qvdiff_with_stdin(&migrate, a),
        None => p.qvdiff(&[&migrate[..], &["--no-input"]].concat()),
    };
    if run.code != 0 {
        return Err(format!("migrate exited {}:\n{}", run.code, run.stderr));
    }
    let written = std::fs::read_dir(p.path("migrations")).map_err(|e| e.to_string())?;
    if !written
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("r2_change"))
    {
        return Ok(None);
    }
    let file = only_file_with_prefix(&p.path("migrations"), "r2_change")?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    console_says_the_index_renames(&text, &format!("{}{}", run.stdout, run.stderr))?;
    Ok(Some(text))
}

/// The console says what the SQL does: an index the up section renames is said as a rename,
/// never as a drop and an add.
fn console_says_the_index_renames(file: &str, console: &str) -> Result<(), String> {
    let up = file.split("-- qvdiff:down").next().unwrap_or(file);
    for line in up.lines() {
        let Some(rest) = line.strip_prefix("ALTER INDEX \"") else {
            continue;
        };
        let Some((old, rest)) = rest.split_once("\" RENAME TO \"") else {
            continue;
        };
        let new = rest.trim_end_matches(['"', ';']);
        let said = format!("rename index {old} to {new}");
        if !console.contains(&said) || console.contains(&format!("drop index {old} ")) {
            return Err(format!(
                "the SQL renames index {old} to {new}; the console should say \"{said}\":\n{console}"
            ));
        }
    }
    Ok(())
}

/// The contract revision `migrate` wrote beside `r2_change` (expand / contract), if any.
pub(super) fn contract_change(p: &Project) -> Result<Option<String>, String> {
    let dir = p.path("migrations");
    let exists = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with(CONTRACT_PREFIX));
    if !exists {
        return Ok(None);
    }
    let file = only_file_with_prefix(&dir, CONTRACT_PREFIX)?;
    std::fs::read_to_string(&file)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The contract revision of `r2_change` (`migrate --online`): `r2_change_contract`.
const CONTRACT_PREFIX: &str = "r2_change_contract";

/// Whether the way back must restore every value as inserted: the up section of `migration`
/// loses no data (no DESTRUCTIVE step) and the case has no `down_differs.txt` saying why the
/// way back cannot restore it although nothing is lost.
pub(super) fn down_must_restore(case: &Path, migration: &str) -> bool {
    let up_section = migration.split("-- qvdiff:down").next().unwrap_or_default();
    !up_section.contains("DESTRUCTIVE") && !case.join("down_differs.txt").exists()
}

/// Writes `setup` as the SQL of an empty migration (`r1_setup`), as a person would by hand.
pub(super) fn hand_written_migration(p: &Project, setup: &str) -> Result<(), String> {
    let run = p.qvdiff(&[
        "migrate",
        "--empty",
        "-m",
        "setup",
        "--rev-id",
        "r1_setup",
        "--no-input",
    ]);
    if run.code != 0 {
        return Err(format!(
            "migrate --empty exited {}:\n{}",
            run.code, run.stderr
        ));
    }
    let file = only_file_with_prefix(&p.path("migrations"), "r1_setup")?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    let header = text
        .split("-- qvdiff:up\n")
        .next()
        .ok_or("migrate --empty wrote no up section")?;
    let (up, down) = setup.split_once("-- qvdiff:down\n").unwrap_or((setup, ""));
    let body = format!("{header}-- qvdiff:up\n{up}-- qvdiff:down\n{down}");
    std::fs::write(&file, body).map_err(|e| e.to_string())
}

pub(super) fn only_file_with_prefix(dir: &Path, prefix: &str) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .map(|e| e.map(|e| e.path()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut matching: Vec<PathBuf> = found
        .into_iter()
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                // An expand's contract revision is found on its own (`contract_change`).
                n.starts_with(prefix)
                    && (prefix == CONTRACT_PREFIX || !n.starts_with(CONTRACT_PREFIX))
            })
        })
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        n => Err(format!("expected one migration {prefix}_*.sql, found {n}")),
    }
}

/// Compares `actual` with the case's snapshot file, writing it when missing or when blessing.
pub(super) fn snapshot(case: &Path, file: &str, actual: &str) -> Result<(), String> {
    let path = case.join(file);
    let bless = std::env::var_os("QVDIFF_BLESS").is_some();
    match std::fs::read_to_string(&path) {
        Ok(expected) if !bless => {
            if expected == actual {
                Ok(())
            } else {
                Err(format!(
                    "{file} differs from its snapshot (QVDIFF_BLESS=1 rewrites it):\n{}",
                    text_diff(&expected, actual)
                ))
            }
        }
        _ => std::fs::write(&path, actual).map_err(|e| format!("{}: {e}", path.display())),
    }
}

fn text_diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .header("snapshot", "actual")
        .to_string()
}

/// `PRAGMA integrity_check` says ok and `PRAGMA foreign_key_check` finds nothing.
fn health(db: &Path) -> Result<(), String> {
    let conn = Connection::open(db).map_err(|e| e.to_string())?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if integrity != "ok" {
        return Err(format!("integrity_check: {integrity}"));
    }
    let mut stmt = conn
        .prepare("PRAGMA foreign_key_check")
        .map_err(|e| e.to_string())?;
    let violations = stmt
        .query_map([], |_| Ok(()))
        .map_err(|e| e.to_string())?
        .count();
    if violations > 0 {
        return Err(format!("foreign_key_check: {violations} violation(s)"));
    }
    Ok(())
}

/// Every row of every user table and view, with SQLite's storage class of each value, in
/// primary-key order, then every trigger with its table.
fn dump(db: &Path) -> Result<String, String> {
    let conn = Connection::open(db).map_err(|e| e.to_string())?;
    let mut tables: Vec<(String, String)> = conn
        .prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'qvdiff_%' ORDER BY type, name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| e.to_string())?;
    tables.sort();
    let mut out = String::new();
    for (kind, table) in tables {
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {quoted} ORDER BY 1, 2"))
            .or_else(|_| conn.prepare(&format!("SELECT * FROM {quoted} ORDER BY 1")))
            .map_err(|e| e.to_string())?;
        let names: Vec<String> = stmt
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        let label = if kind == "view" {
            format!("view {table}")
        } else {
            table
        };
        let _ = writeln!(out, "== {label} ({})", names.join(", "));
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            let values: Vec<String> = (0..names.len())
                .map(|i| match row.get_ref(i) {
                    Ok(ValueRef::Null) => "NULL".to_string(),
                    Ok(ValueRef::Integer(v)) => format!("int:{v}"),
                    Ok(ValueRef::Real(v)) => format!("real:{v:?}"),
                    Ok(ValueRef::Text(t)) => format!("text:{:?}", String::from_utf8_lossy(t)),
                    Ok(ValueRef::Blob(b)) => format!("blob:{b:02x?}"),
                    Err(e) => format!("error:{e}"),
                })
                .collect();
            let _ = writeln!(out, "{}", values.join(" | "));
        }
    }
    // AUTOINCREMENT's promise (ids of deleted rows are never reused) lives in sqlite_sequence.
    let sequences: Vec<(String, i64)> = conn
        .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .unwrap_or_default();
    for (table, seq) in sequences {
        let _ = writeln!(out, "== sqlite_sequence {table}: {seq}");
    }
    let triggers: Vec<(String, String)> = conn
        .prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(|e| e.to_string())?;
    for (trigger, table) in triggers {
        let _ = writeln!(out, "== trigger {trigger} on {table}");
    }
    Ok(out)
}
