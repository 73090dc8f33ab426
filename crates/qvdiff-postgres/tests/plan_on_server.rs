//! Every fixture case under `fixtures/cases/`, planned for PostgreSQL and run on a real server.
//!
//! For each case: capture `before.rs` and `after.rs`, plan empty → before, before → after (up)
//! and back (down) exactly as `qvdiff migrate` builds them (renames from hints and from
//! `answers.txt`, backfills answered at the prompt, restored columns filled on the way back),
//! then on a fresh database run the create plan, insert `rows.sql` when it is valid PostgreSQL
//! as written (it is written for SQLite), and run up, down and up again. Every statement must
//! run, and after each step the introspected schema must equal the planned one exactly, CHECK
//! expressions included (introspection reads them from the comment the planner writes).
//!
//! `setup.sql` (hand-written SQLite views and triggers) is not run. Needs
//! `QVDIFF_TEST_POSTGRES_URL` (see `qvdiff_postgres::testing`); skipped without it.
//! `QVDIFF_CASES=a,b` runs only the cases whose folder name contains `a` or `b`;
//! `QVDIFF_PRINT_PLANS=1` prints each case's up and down SQL.

use postgres::Client;
use qvdiff_core::propose::{propose, Scripted};
use qvdiff_core::{diff, Dialect, Plan, Renames, Schema};
use qvdiff_postgres::testing::TestDatabase;
use qvdiff_postgres::{introspect, Postgres};
use std::path::Path;

mod fixture_cases;
use fixture_cases::{first_migration, fixture_cases};

/// The models of one source file as a schema, validated as the CLI validates them.
fn capture(file: &str, text: &str) -> Result<Schema, String> {
    let mut out = qvdiff_capture::scan_source(file, text);
    let mut errors = out.errors;
    errors.extend(qvdiff_capture::resolve_enums(&mut out.tables, &out.enums));
    if errors.is_empty() {
        errors = qvdiff_capture::validate(&out.tables);
    }
    if !errors.is_empty() {
        let shown: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        return Err(shown.join("\n"));
    }
    Ok(Schema {
        tables: out.tables.into_iter().map(|c| c.table).collect(),
        ..Schema::default()
    }
    .normalized())
}

/// Why a case stopped.
enum Failure {
    /// A step marked DESTRUCTIVE met a value it cannot convert (SQLSTATE class 22): PostgreSQL
    /// refuses the lossy conversion and the transaction rolls back, which is the safe outcome.
    DataRefused(String),
    /// Anything else: a bug.
    Broken(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Broken(message)
    }
}

/// Runs a plan as the runner does: in one transaction, or statement by statement when a step
/// cannot run in one (`CONCURRENTLY`); the error names the failing statement.
fn run(client: &mut Client, what: &str, plan: &Plan) -> Result<(), Failure> {
    if plan.steps.iter().any(|s| s.facts.outside_transaction) {
        return run_steps(what, plan, |sql| client.batch_execute(sql));
    }
    let mut tx = client
        .transaction()
        .map_err(|e| format!("{what}: BEGIN: {e}"))?;
    run_steps(what, plan, |sql| tx.batch_execute(sql))?;
    tx.commit()
        .map_err(|e| Failure::Broken(format!("{what}: COMMIT: {e}")))
}

/// Runs each step of `plan` through `execute`.
fn run_steps(
    what: &str,
    plan: &Plan,
    mut execute: impl FnMut(&str) -> Result<(), postgres::Error>,
) -> Result<(), Failure> {
    for step in &plan.steps {
        if let Err(e) = execute(&step.sql) {
            let message = format!("{what}: {}\n    {}", describe(&e), step.sql);
            let data_exception = e
                .as_db_error()
                .is_some_and(|db| db.code().code().starts_with("22"));
            return Err(if data_exception && step.destructive().is_some() {
                Failure::DataRefused(message)
            } else {
                Failure::Broken(message)
            });
        }
    }
    Ok(())
}

fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Column order is not compared (`ADD COLUMN` can only append, so a column restored by a down
/// comes last), as `qvdiff_sqlite::comparable` does.
fn comparable(schema: &Schema) -> Schema {
    let mut schema = schema.without_hints();
    for table in &mut schema.tables {
        table.columns.sort_by(|a, b| a.name.cmp(&b.name));
    }
    schema
}

/// The live schema must be exactly what was planned, CHECK expressions included.
fn expect_schema(client: &mut Client, what: &str, expected: &Schema) -> Result<(), String> {
    let live = comparable(&introspect(client).map_err(|e| format!("{what}: introspect: {e}"))?);
    let expected = comparable(expected);
    if live == expected {
        return Ok(());
    }
    let a = format!("{expected:#?}");
    let b = format!("{live:#?}");
    let differing: Vec<String> = a
        .lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .take(8)
        .map(|(x, y)| format!("    expected {}\n    live     {}", x.trim(), y.trim()))
        .collect();
    Err(format!(
        "{what}: live schema differs from the plan:\n{}",
        differing.join("\n")
    ))
}

#[derive(Default)]
struct Outcome {
    with_rows: bool,
    /// Schemas compared (exactly equal or not) after the steps.
    compared: usize,
    /// CHECK constraints among the schemas compared.
    checks_compared: usize,
    schema_mismatches: Vec<String>,
}

fn run_case(case: &Path, name: &str, insert_rows: bool) -> Result<Option<Outcome>, Failure> {
    let read = |file: &str| std::fs::read_to_string(case.join(file));
    let before = capture("before.rs", &read("before.rs").map_err(|e| e.to_string())?)?;
    let after = capture("after.rs", &read("after.rs").map_err(|e| e.to_string())?)?;
    let mut answers = Scripted::new(&read("answers.txt").unwrap_or_default());

    let dialect = Postgres::default();
    let (baseline, create) = first_migration(&before)?;
    let proposal = propose(&dialect, &baseline, &after, &mut answers).map_err(|e| e.to_string())?;
    if std::env::var("QVDIFF_PRINT_PLANS").is_ok_and(|v| v == "1") {
        let text = |plan: &Plan| -> String {
            plan.steps
                .iter()
                .map(|s| match &s.destructive() {
                    Some(why) => format!("{}  -- DESTRUCTIVE: {why}\n", s.sql),
                    None => format!("{}\n", s.sql),
                })
                .collect()
        };
        eprintln!(
            "=== {name}\n-- up\n{}-- down\n{}",
            text(&proposal.up),
            text(&proposal.down)
        );
    }

    let Some(db) = TestDatabase::create(&format!("plan_{name}")) else {
        return Ok(None);
    };
    let mut client = db.connect();
    let mut outcome = Outcome::default();
    let mut mismatches = Vec::new();
    let (mut compared, mut checks_compared) = (0, 0);
    let mut check = |client: &mut Client, what: &str, expected: &Schema| {
        compared += 1;
        checks_compared += expected
            .tables
            .iter()
            .map(|t| t.checks.len())
            .sum::<usize>();
        if let Err(e) = expect_schema(client, what, expected) {
            mismatches.push(e);
        }
    };

    run(&mut client, "create", &create)?;
    check(&mut client, "after create", &baseline);
    if let (true, Ok(rows)) = (insert_rows, read("rows.sql")) {
        // Written for SQLite: a case whose rows PostgreSQL refuses runs without rows.
        let mut tx = client.transaction().map_err(|e| e.to_string())?;
        let inserted = tx.batch_execute(&rows).is_ok();
        if inserted {
            tx.commit().map_err(|e| e.to_string())?;
        }
        outcome.with_rows = inserted;
    }
    run(&mut client, "up", &proposal.up)?;
    check(&mut client, "after up", &proposal.wanted);
    run(&mut client, "down", &proposal.down)?;
    check(&mut client, "after down", &baseline);
    run(&mut client, "up again", &proposal.up)?;
    check(&mut client, "after up again", &proposal.wanted);
    outcome.schema_mismatches = mismatches;
    outcome.compared = compared;
    outcome.checks_compared = checks_compared;
    Ok(Some(outcome))
}

#[test]
fn every_fixture_case_runs_on_postgres() {
    let mut cases = fixture_cases();
    let filter = std::env::var("QVDIFF_CASES").unwrap_or_default();
    let wanted: Vec<&str> = filter.split(',').filter(|f| !f.is_empty()).collect();
    if !wanted.is_empty() {
        cases.retain(|(name, _)| wanted.iter().any(|w| name.contains(w)));
    }
    assert!(!cases.is_empty(), "no fixture case named {filter}");

    let mut failures = Vec::new();
    let mut mismatches = Vec::new();
    let (mut ran, mut with_rows, mut without_rows) = (0, 0, Vec::new());
    let (mut setup_skipped, mut refused) = (Vec::new(), Vec::new());
    let (mut compared, mut checks_compared) = (0, 0);
    for (name, case) in &cases {
        if case.join("setup.sql").exists() {
            setup_skipped.push(name.clone());
        }
        let mut result = run_case(case, name, true);
        if let Err(Failure::DataRefused(why)) = &result {
            refused.push(format!("[{name}] {why}"));
            result = run_case(case, name, false);
        }
        match result {
            Ok(None) => return, // no server: skipped, and said so
            Ok(Some(outcome)) => {
                ran += 1;
                if outcome.with_rows {
                    with_rows += 1;
                } else {
                    without_rows.push(name.clone());
                }
                for m in outcome.schema_mismatches {
                    mismatches.push(format!("[{name}] {m}"));
                }
                compared += outcome.compared;
                checks_compared += outcome.checks_compared;
            }
            Err(Failure::Broken(e) | Failure::DataRefused(e)) => {
                failures.push(format!("[{name}] {e}"))
            }
        }
    }
    eprintln!(
        "{ran} of {} case(s) ran on PostgreSQL, {with_rows} with their rows; {compared} live \
         schemas compared exactly with the plan ({checks_compared} CHECK constraints among \
         them), {} differed; without rows: {}; setup.sql not run: {}",
        cases.len(),
        mismatches.len(),
        without_rows.join(", "),
        setup_skipped.join(", ")
    );
    if !refused.is_empty() {
        eprintln!(
            "lossy conversions PostgreSQL refused for the case's rows (rolled back; the case \
             then ran without rows):\n{}",
            refused.join("\n")
        );
    }
    failures.extend(mismatches);
    assert!(
        failures.is_empty(),
        "{} problem(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// An identity given to a column that already holds ids continues after them: the first insert
/// without an id must not collide with an existing row.
#[test]
fn identity_added_to_a_table_with_rows_continues_after_them() {
    use qvdiff_core::{ColumnType, Table};
    let Some((_db, mut client)) = TestDatabase::create_connected("plan_identity_added") else {
        return;
    };
    let dialect = Postgres::default();
    let columns = vec![
        qvdiff_core::Column::new("id", ColumnType::Integer { bits: 64 }),
        qvdiff_core::Column::new("slug", ColumnType::Text { max_length: None }),
    ];
    let mut composite = Table::new("tags", columns.clone());
    composite.primary_key = vec!["slug".into(), "id".into()];
    let mut single = Table::new("tags", columns);
    single.primary_key = vec!["id".into()];
    let before = dialect.normalize(&Schema {
        tables: vec![composite],
        ..Schema::default()
    });
    let after = dialect.normalize(&Schema {
        tables: vec![single],
        ..Schema::default()
    });
    let plan = |from: &Schema, to: &Schema| {
        let changes = diff(from, to, &Renames::default());
        dialect.plan(from, to, &changes).expect("plan")
    };
    let ok = |result: Result<(), Failure>| match result {
        Ok(()) => {}
        Err(Failure::Broken(e) | Failure::DataRefused(e)) => panic!("{e}"),
    };
    ok(run(
        &mut client,
        "create",
        &plan(&Schema::default(), &before),
    ));
    client
        .batch_execute("INSERT INTO tags (id, slug) VALUES (1, 'a'), (7, 'b')")
        .expect("rows");
    ok(run(&mut client, "up", &plan(&before, &after)));
    let id: i64 = client
        .query_one("INSERT INTO tags (slug) VALUES ('c') RETURNING id", &[])
        .expect("an insert without an id")
        .get(0);
    assert_eq!(id, 8);
}
