//! For every fixture case, the facts each dialect's planner gives its steps equal the facts the
//! dialect reads back from the rendered SQL ([`Dialect::facts_of`]): what keeps the summary,
//! `lint` and `review` (which read files) in step with what the planner knows.

use qvdiff_core::propose::{propose, Scripted};
use qvdiff_core::{render_steps, Dialect, Plan, Schema, StepFacts};
use qvdiff_postgres::Postgres;
use qvdiff_sqlite::Sqlite;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases")
}

fn capture(file: &Path) -> Schema {
    let text = std::fs::read_to_string(file).expect("model file");
    let mut out = qvdiff_capture::scan_source(&file.display().to_string(), &text);
    let errors = qvdiff_capture::resolve_enums(&mut out.tables, &out.enums);
    assert!(
        errors.is_empty() && out.errors.is_empty(),
        "{}",
        file.display()
    );
    Schema {
        tables: out.tables.into_iter().map(|c| c.table).collect(),
        ..Schema::default()
    }
    .normalized()
}

/// The planner's facts and the facts read back, per step, where they differ.
fn drift(dialect: &dyn Dialect, from: &Schema, to: &Schema, plan: &Plan) -> Vec<String> {
    let sql = render_steps(&plan.steps);
    let read = dialect.facts_of(from, to, &sql);
    if read.len() != plan.steps.len() {
        return vec![format!(
            "{} statements read back from {} steps:\n{sql}",
            read.len(),
            plan.steps.len()
        )];
    }
    let view = |f: &StepFacts| {
        let mut f = f.from_sql_view();
        f.destroys.sort();
        f
    };
    plan.steps
        .iter()
        .zip(&read)
        .filter(|(step, read)| view(&step.facts) != view(read))
        .map(|(step, read)| {
            format!(
                "{}\n  planner: {:?}\n  read:    {:?}",
                step.sql,
                view(&step.facts),
                view(read)
            )
        })
        .collect()
}

#[test]
fn planned_facts_equal_the_facts_read_back_from_every_case() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("fixtures/cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("after.rs").is_file())
        .collect();
    cases.sort();
    let mut problems = Vec::new();
    let mut compared = 0;
    let mut with_facts = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let before = capture(&case.join("before.rs"));
        let after = capture(&case.join("after.rs"));
        let answers = std::fs::read_to_string(case.join("answers.txt")).unwrap_or_default();
        let sqlite = Sqlite;
        let postgres = Postgres::default();
        let mut dialects: Vec<&dyn Dialect> = vec![&sqlite];
        if case.join("migration.postgres.sql").is_file() {
            dialects.push(&postgres);
        }
        for dialect in dialects {
            let baseline = dialect.normalize(&before).without_hints();
            let mut decider = Scripted::new(&answers);
            let Ok(proposal) = propose(dialect, &baseline, &after, &mut decider) else {
                continue;
            };
            let wanted = proposal.wanted.without_hints();
            for (direction, from, to, plan) in [
                ("up", &baseline, &wanted, &proposal.up),
                ("down", &wanted, &baseline, &proposal.down),
            ] {
                compared += plan.steps.len();
                with_facts += plan
                    .steps
                    .iter()
                    .filter(|s| s.facts.from_sql_view() != StepFacts::default())
                    .count();
                for problem in drift(dialect, from, to, plan) {
                    problems.push(format!(
                        "{name} ({}, {direction}): {problem}",
                        dialect.name()
                    ));
                }
            }
        }
    }
    eprintln!("{compared} planned steps compared, {with_facts} of them with facts");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // The comparison must have had facts to compare: locks, losses and rebuilds.
    assert!(
        compared > 500 && with_facts > 200,
        "{compared} steps, {with_facts} with facts"
    );
}

/// The expand and contract revisions of `migrate --online` (an int4 → int8 change, a rename
/// and a new NOT NULL column with a computed value): every step's facts equal the facts read back from its SQL, both ways.
#[test]
fn expand_and_contract_steps_carry_the_facts_read_back() {
    let capture_text = |text: &str| {
        let out = qvdiff_capture::scan_source("models.rs", text);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        Schema {
            tables: out.tables.into_iter().map(|c| c.table).collect(),
            ..Schema::default()
        }
        .normalized()
    };
    let model = "use qvdiff::Model;\n#[derive(Model)]\n#[model(table = \"items\")]\n\
                 pub struct Item {\n    #[column(primary_key)]\n    pub id: i64,\n    \
                 pub qty: i32,\n    pub title: Option<String>,\n}\n";
    let postgres = Postgres::default();
    let from = postgres.normalize(&capture_text(model));
    let to = postgres.normalize(&capture_text(
        &model
            .replace("pub qty: i32", "pub qty: i64")
            .replace("pub title", "pub name")
            .replace(
                "pub qty: i64,",
                "pub qty: i64,\n    #[column(default = \"anon\", backfill_sql = \"lower(name)\")]\n    \
                 pub handle: String,",
            ),
    ));
    let renames = qvdiff_core::Renames {
        columns: vec![("items".into(), "title".into(), "name".into())],
        ..qvdiff_core::Renames::default()
    };
    let changes = qvdiff_core::diff(&from, &to, &renames);
    let planned = postgres
        .expand_contract(&from, &to, &changes)
        .expect("planned")
        .expect("the columns carried");
    assert_eq!(planned.carried.len(), 3, "{:?}", planned.in_place);
    let mut problems = drift(&postgres, &from, &planned.expanded, &planned.expand_up);
    problems.extend(drift(
        &postgres,
        &planned.expanded,
        &from,
        &planned.expand_down,
    ));
    problems.extend(drift(
        &postgres,
        &planned.expanded,
        &to,
        &planned.contract_up,
    ));
    problems.extend(drift(
        &postgres,
        &to,
        &planned.expanded,
        &planned.contract_down,
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
