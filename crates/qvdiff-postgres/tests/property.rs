//! The property suite on PostgreSQL: the SQLite suite's random schemas, rows and edits
//! (`fixtures/property/generator.rs`, shared with `crates/qvdiff-sqlite/tests/property.rs`),
//! planned and run on a real server.
//!
//! Each case draws a schema A holding rows and an edit to B. With the library calls
//! `qvdiff migrate` makes for PostgreSQL (`Postgres.plan(empty → A)` for the first migration,
//! then `propose`: `diff` with `Renames::from_hints`, the prompt's answers, `Postgres.plan` up,
//! `fill_restored_columns` for the down target, `Postgres.plan` down), it checks:
//!
//! 1. the replay (`qvdiff_postgres::replay`, what `migrate` verifies a PostgreSQL file
//!    with): A, then up gives B, down gives A, up again gives B (`comparable`);
//! 2. on a fresh database (`testing::TestDatabase`), with the real runner (`upgrade` and
//!    `downgrade` of `PostgresDatabase`, one transaction per run, or statement by statement with
//!    recorded progress for a revision with `CONCURRENTLY` steps, as online DDL writes an index
//!    or UNIQUE on an existing table): after creating A, after up,
//!    after down and after up again, the introspected schema equals the model exactly
//!    (constraint names and column order included) and equals A or B (`comparable`);
//! 3. the rows: after up every row is there, a column that keeps its type keeps its values, a
//!    NULL in a column becoming NOT NULL holds the backfill (else the default), a new column
//!    holds its backfill, else its default, else NULL; after down, the same for the way back
//!    (a dropped column comes back with its default, else a placeholder, else NULL; a dropped
//!    table comes back empty). Values are compared as the server prints them (`::text`); a
//!    value that went through a type change only has to be there (not NULL);
//! 4. a step refused on the rows (a lossy DESTRUCTIVE conversion of a value that does not fit,
//!    or that would be cut or rounded: the runner's preflight) is accepted only if the run rolled back completely — schema, rows and
//!    ledger as before — or, for a revision that runs step by step (a `VALIDATE CONSTRAINT`, a
//!    batched backfill), if exactly the statements before the refused one took effect (the
//!    schema is their replay) and the ledger does not list it; and the same case without rows
//!    passes every check above.
//!
//! A case is reproduced from its seed: `QVDIFF_PROP_SEED=<seed> cargo test -p qvdiff-postgres
//! --test property`. A failure is shrunk and printed with its seed, the schemas, the rows and
//! the SQL. `QVDIFF_PROP_CASES=<n>` changes the number of cases (default 100),
//! `QVDIFF_PROP_BASE=<n>` the first seed. Needs `QVDIFF_TEST_POSTGRES_URL` (see
//! `qvdiff_postgres::testing`); skipped without it.

use postgres::Client;
use qvdiff_core::backend::Direction::{Down, Up};
use qvdiff_core::backend::RunOptions;
use qvdiff_core::migration::render_steps;
use qvdiff_core::propose::{propose, Proposal};
use qvdiff_core::run_loop::RunRequest;
use qvdiff_core::runner::LEDGER_TABLE;
use qvdiff_core::RevisionTarget;
use qvdiff_core::{Change, Column, ColumnType, DefaultValue, Dialect, Plan, Schema, Table};
use qvdiff_postgres::testing::TestDatabase;
use qvdiff_postgres::{
    introspect, quote_ident, quote_string, render_default, render_type, PgRunFailure, Postgres,
    PostgresDatabase, RunError, SchemaReplay,
};
use std::cell::RefCell;
use std::collections::BTreeMap;

#[path = "../../../fixtures/property/generator.rs"]
mod generator;
use generator::{
    assert_source_replays_and_shrinks_to_zero, case_history, compare_rows, is_keyed, propose_first,
    run_many, Case, Expect, Failure, Flavor, TypedAnswers, Value,
};

/// What PostgreSQL needs from the generator: its quoting and types, checks that are boolean
/// expressions (`OR true`; `length` of jsonb goes through text), a `bytea` default, and the
/// custom type `money`, whose rows hold amounts it can represent.
static POSTGRES: Flavor = Flavor {
    quote_ident,
    render_type,
    custom_type: "MONEY",
    custom_values: &[0, 1, -7, 42, 1000, 123_456, -99],
    blob_default: "'\\x00'::bytea",
    true_check: |ty, quoted| match ty {
        ColumnType::Text { .. } => format!("length({quoted}) < 1000"),
        ColumnType::Json => format!("length({quoted}::text) < 1000"),
        _ => format!("{quoted} IS NOT NULL OR true"),
    },
    typed_values: true,
    narrows_long_text: true,
    // The planner casts to and from a custom type directly (it cannot know the type's casts),
    // and PostgreSQL has few for `money` (none from double precision, none to bigint): a type
    // change with a custom type on one side is generated only with text on the other.
    can_convert: |from, to| {
        let custom = |ty: &ColumnType| matches!(ty, ColumnType::Custom { .. });
        let text = |ty: &ColumnType| matches!(ty, ColumnType::Text { .. });
        custom(from) == custom(to) || text(from) || text(to)
    },
};

/// What a person types at `migrate`'s prompt for existing rows on PostgreSQL: the type's zero
/// as a PostgreSQL literal.
fn answer(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Integer { .. }
        | ColumnType::Float
        | ColumnType::Float32
        | ColumnType::Decimal { .. }
        | ColumnType::Custom { .. } => "0".to_string(),
        ColumnType::Bool => "false".to_string(),
        ColumnType::Text { .. } => "''".to_string(),
        ColumnType::DateTime => "'1970-01-01 00:00:00'".to_string(),
        ColumnType::DateTimeTz => "'1970-01-01 00:00:00+00'".to_string(),
        ColumnType::Date => "'1970-01-01'".to_string(),
        ColumnType::Time => "'00:00:00'".to_string(),
        ColumnType::Uuid => "'00000000-0000-0000-0000-000000000000'".to_string(),
        ColumnType::Json => "'{}'".to_string(),
        ColumnType::Blob => "'\\x'".to_string(),
        ColumnType::Array { .. } => "'{}'".to_string(),
        // A value the generated enum's rows hold.
        ColumnType::Enum { values, .. } => values
            .first()
            .map_or("NULL".to_string(), |v| quote_string(v)),
    }
}

/// A generated value as a PostgreSQL literal of no type yet: the column it goes into reads it
/// with its type's input function (`'1'` is true in a boolean, `'\x00ff'` two bytes in bytea).
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => quote_string(&i.to_string()),
        Value::Real(f) => quote_string(&format!("{f:?}")),
        Value::Text(t) => quote_string(t),
        Value::Blob(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            quote_string(&format!("\\x{hex}"))
        }
    }
}

/// A value as the server prints it (`::text`), shown for comparison: `NULL` or quoted text.
fn show_text(value: &Option<String>) -> String {
    match value {
        None => "NULL".to_string(),
        Some(text) => format!("{text:?}"),
    }
}

/// The rows of one table as the server prints them, in the order of `columns`.
type Rows = Vec<Vec<Option<String>>>;

fn read_rows(client: &mut Client, table: &Table) -> Result<Rows, Failure> {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{}::text", quote_ident(&c.name)))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        quote_ident(&table.name)
    );
    let rows = client
        .query(sql.as_str(), &[])
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(rows
        .iter()
        .map(|row| (0..columns.len()).map(|i| row.get(i)).collect())
        .collect())
}

fn read_all(client: &mut Client, schema: &Schema) -> Result<BTreeMap<String, Rows>, Failure> {
    let mut all = BTreeMap::new();
    for table in &schema.tables {
        all.insert(table.name.clone(), read_rows(client, table)?);
    }
    Ok(all)
}

fn shown(rows: &Rows) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(show_text).collect())
        .collect()
}

/// A's rows, one `INSERT` per table in A's order (parents before children; a self-reference
/// points at an earlier row of the same statement).
fn insert_rows(client: &mut Client, case: &Case) -> Result<(), Failure> {
    let mut sql = String::new();
    for table in &case.a.tables {
        let rows = case.rows.get(&table.name).map_or(&[][..], |r| &r[..]);
        if rows.is_empty() {
            continue;
        }
        let names: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let values: Vec<String> = rows
            .iter()
            .map(|row| {
                let literals: Vec<String> = row.iter().map(literal).collect();
                format!("({})", literals.join(", "))
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO {} ({}) VALUES {};\n",
            quote_ident(&table.name),
            names.join(", "),
            values.join(", ")
        ));
    }
    client
        .batch_execute(&sql)
        .map_err(|e| format!("generator bug: the rows do not fit A: {e:?}\n{sql}"))
}

/// What a default or backfill becomes in a column of type `ty`, as the server prints it (a
/// non-constant one, or one only the planner's own spelling makes valid, is any value).
fn evaluated(client: &mut Client, ty: &ColumnType, value: &DefaultValue) -> Expect {
    if let DefaultValue::Sql(sql) = value {
        if sql.to_ascii_uppercase().contains("CURRENT") {
            return Expect::AnyNonNull;
        }
    }
    let sql = format!(
        "SELECT (CAST(({}) AS {}))::text",
        render_default(value),
        render_type(ty)
    );
    match client.query_one(sql.as_str(), &[]) {
        Ok(row) => Expect::Exact(show_text(&row.get(0))),
        Err(_) => Expect::AnyNonNull,
    }
}

/// The value a column of B holds after up. `from`: the column of A it comes from and its value
/// (None for a new column).
fn expect_up(
    client: &mut Client,
    column: &Column,
    from: Option<(&Column, &Option<String>)>,
) -> Expect {
    let fill = column.backfill.as_ref().or(column.default.as_ref());
    match from {
        // A new column: backfill, else default, else NULL.
        None => fill.map_or(Expect::Exact("NULL".into()), |f| {
            evaluated(client, &column.ty, f)
        }),
        // A NULL takes the backfill (else the default) when the column became NOT NULL.
        Some((_, None)) if column.nullable => Expect::Exact("NULL".into()),
        Some((_, None)) => fill.map_or(Expect::Exact("NULL".into()), |f| {
            evaluated(client, &column.ty, f)
        }),
        Some((a, Some(value))) if a.ty == column.ty => {
            Expect::Exact(show_text(&Some(value.clone())))
        }
        // Converted: some value.
        Some(_) => Expect::AnyNonNull,
    }
}

/// The value a column of A holds after down. `through`: the column of B it went through (None
/// when up dropped it); `value`: its value before up.
fn expect_down(
    client: &mut Client,
    keyed: bool,
    column: &Column,
    through: Option<&Column>,
    value: &Option<String>,
) -> Expect {
    let Some(b) = through else {
        // Re-added by the way back (`fill_restored_columns`): in a key or unique constraint a
        // value distinct per row; else the default in A, else (NOT NULL) a placeholder, else NULL.
        return match (&column.default, column.nullable, keyed) {
            (Some(_), _, true) | (None, false, _) => Expect::AnyNonNull,
            (Some(d), _, false) => evaluated(client, &column.ty, d),
            (None, true, _) => Expect::Exact("NULL".into()),
        };
    };
    match value {
        None if b.nullable => Expect::Exact("NULL".into()),
        // Filled on the way up; the way back keeps it (converted back).
        None => match b.backfill.as_ref().or(b.default.as_ref()) {
            Some(fill) if b.ty == column.ty => evaluated(client, &column.ty, fill),
            _ => Expect::AnyNonNull,
        },
        Some(v) if b.ty == column.ty => Expect::Exact(show_text(&Some(v.clone()))),
        Some(_) => Expect::AnyNonNull,
    }
}

/// The migrations of a case, as `migrate` would write them.
struct Planned {
    create: String,
    up: Plan,
    down: Plan,
    up_sql: String,
    down_sql: String,
    /// A as the model of the first migration has it (the CLI's baseline).
    baseline: Schema,
    /// B as PostgreSQL stores it, with the hints the plan used.
    wanted: Schema,
    /// The changes from A to B, as `migrate` resolved them.
    changes: Vec<Change>,
}

fn plan_case(case: &Case) -> Result<Planned, Failure> {
    let dialect = Postgres::default();
    // The first migration, as `migrate` proposes it for the models A on an empty project.
    let (a_wanted, create) = propose_first(&dialect, &case.a)?;
    let baseline = SchemaReplay::from_chain([("r1", create.as_str())])
        .map_err(|e| format!("model of A: {e}\n{create}"))?
        .schema();
    if baseline.comparable() != a_wanted.comparable() {
        return Err(format!(
            "the model of A's migration is not A:{}",
            schema_difference(&a_wanted.comparable(), &baseline.comparable())
        ));
    }

    // What `migrate` proposes, through the same function.
    let Proposal {
        up,
        down,
        wanted,
        changes,
        ..
    } = propose(&dialect, &baseline, &case.b, &mut TypedAnswers(answer))
        .map_err(|e| format!("planning: {e}"))?;
    Ok(Planned {
        up_sql: render_steps(&up.steps),
        down_sql: render_steps(&down.steps),
        create,
        up,
        down,
        baseline,
        wanted,
        changes,
    })
}

/// The replay after create, up, down, up again: what `migrate` verifies the file with.
struct Modelled {
    a: Schema,
    up: Schema,
    down: Schema,
    again: Schema,
}

fn model_case(planned: &Planned) -> Result<Modelled, Failure> {
    let mut model = SchemaReplay::from_chain([("r1", planned.create.as_str())])
        .map_err(|e| format!("model of A: {e}"))?;
    let a = model.schema();
    let mut step = |what: &str, sql: &str, expected: &Schema| -> Result<Schema, Failure> {
        model
            .apply(sql)
            .map_err(|e| format!("model: the {what} section cannot be modelled: {e}"))?;
        let schema = model.schema();
        if schema.comparable() != expected.comparable() {
            return Err(format!(
                "model: {what} does not give the expected schema:{}",
                schema_difference(&expected.comparable(), &schema.comparable())
            ));
        }
        Ok(schema)
    };
    let up = step("up", &planned.up_sql, &planned.wanted)?;
    let down = step("down", &planned.down_sql, &planned.baseline)?;
    let again = step("up (again)", &planned.up_sql, &planned.wanted)?;
    Ok(Modelled { a, up, down, again })
}

/// The live schema without the ledger: it must equal the model exactly.
fn live_schema(client: &mut Client) -> Result<Schema, Failure> {
    let mut live = introspect(client).map_err(|e| format!("introspect: {e}"))?;
    live.tables.retain(|t| t.name != LEDGER_TABLE);
    Ok(live)
}

/// The tables two schemas disagree on, each side as `{:?}`.
fn schema_difference(expected: &Schema, actual: &Schema) -> String {
    let mut names: Vec<&String> = expected
        .tables
        .iter()
        .chain(&actual.tables)
        .map(|t| &t.name)
        .collect();
    names.sort();
    names.dedup();
    let mut out = String::new();
    for name in names {
        let (e, a) = (expected.table(name), actual.table(name));
        if e != a {
            out.push_str(&format!("\n  expected {e:?}\n  actual   {a:?}"));
        }
    }
    out
}

fn expect_schema(
    client: &mut Client,
    what: &str,
    model: &Schema,
    wanted: &Schema,
) -> Result<Schema, Failure> {
    let live = live_schema(client)?;
    if live.comparable() != wanted.comparable() {
        return Err(format!(
            "{what}: the live schema is not the wanted one:{}",
            schema_difference(&wanted.comparable(), &live.comparable())
        ));
    }
    if &live != model {
        return Err(format!(
            "{what}: model != server:{}",
            schema_difference(model, &live)
        ));
    }
    Ok(live)
}

fn ledger(db: &mut PostgresDatabase) -> Result<Vec<String>, Failure> {
    Ok(db
        .applied()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|row| row.revision)
        .collect())
}

/// How a run on the server ended.
enum Outcome {
    Passed,
    /// A step refused the rows, and the run rolled back completely.
    Refused(String),
    Skipped,
}

/// After a refused run: schema, rows and ledger exactly as before.
fn expect_rolled_back(
    db: &mut PostgresDatabase,
    what: &str,
    schema: &Schema,
    rows: &BTreeMap<String, Rows>,
    revisions: &[&str],
) -> Result<(), Failure> {
    let live = live_schema(&mut db.client)?;
    if &live != schema {
        return Err(format!(
            "{what} was refused but did not roll back the schema:{}",
            schema_difference(schema, &live)
        ));
    }
    if &read_all(&mut db.client, schema)? != rows {
        return Err(format!("{what} was refused but did not roll back the rows"));
    }
    let applied = ledger(db)?;
    if applied != revisions {
        return Err(format!(
            "{what} was refused but the ledger is {applied:?}, not {revisions:?}"
        ));
    }
    Ok(())
}

/// How many statements of a revision that runs step by step took effect before it was refused
/// (they stay, recorded, and the next run continues from the refused one); `None` for a run in
/// one transaction, which rolled back.
fn done_before_refusal(error: &RunError) -> Option<usize> {
    match error {
        RunError::Data { done_outside, .. } => *done_outside,
        RunError::Dialect(PgRunFailure::OutsideTransaction { done, .. }) => Some(*done),
        _ => None,
    }
}

/// After a refused run of a revision that runs step by step: exactly its first `done`
/// statements took effect (the live schema is the replay of `start` and them), and the ledger
/// does not list it.
fn expect_half_done(
    db: &mut PostgresDatabase,
    what: &str,
    start: &[&str],
    up: &Plan,
    done: usize,
) -> Result<(), Failure> {
    let mut replay = SchemaReplay::new();
    for sql in start {
        replay
            .apply(sql)
            .map_err(|e| format!("{what}: replaying the start: {e}"))?;
    }
    let prefix: String = up.steps[..done.min(up.steps.len())]
        .iter()
        .map(|s| format!("{}\n", s.sql))
        .collect();
    replay
        .apply(&prefix)
        .map_err(|e| format!("{what}: replaying its first {done} statements: {e}"))?;
    let live = live_schema(&mut db.client)?;
    if live != replay.schema() {
        return Err(format!(
            "{what} was refused after {done} statements, but the schema is not theirs:{}",
            schema_difference(&replay.schema(), &live)
        ));
    }
    let applied = ledger(db)?;
    if applied != ["r1"] {
        return Err(format!(
            "{what} was refused but the ledger is {applied:?}, not [\"r1\"]"
        ));
    }
    Ok(())
}

/// A type change refused on its rows in a revision that runs step by step must be refused
/// before the first step commits when no statement before it writes rows or changes its column
/// (setting or dropping a default or NOT NULL keeps the values):
/// those rows are the rows of now, so the runner checks them up front.
fn expect_checked_up_front(plan: &Plan, error: &RunError) -> Result<(), Failure> {
    let RunError::Data {
        failed,
        done_outside: Some(done),
        ..
    } = error
    else {
        return Ok(());
    };
    let Some((_, rest)) = failed.statement.split_once("ALTER COLUMN ") else {
        return Ok(());
    };
    let Some((column, _)) = rest.split_once(" TYPE ") else {
        return Ok(());
    };
    let writes_or_names = |sql: &str| {
        // The first word after comment lines (a batched backfill's `-- qvdiff:batch` line).
        let first = sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .flat_map(str::split_whitespace)
            .next()
            .unwrap_or("");
        // Setting or dropping a default or NOT NULL keeps the stored values.
        let keeps_values = sql.contains(&format!("ALTER COLUMN {column} DROP DEFAULT"))
            || sql.contains(&format!("ALTER COLUMN {column} SET DEFAULT"))
            || sql.contains(&format!("ALTER COLUMN {column} SET NOT NULL"))
            || sql.contains(&format!("ALTER COLUMN {column} DROP NOT NULL"));
        ["UPDATE", "INSERT", "DELETE", "DO"].contains(&first)
            || (sql.contains(column) && !keeps_values)
    };
    if *done > 0 && !plan.steps[..*done].iter().any(|s| writes_or_names(&s.sql)) {
        return Err(format!(
            "up: a type change was refused after {done} statements took effect, though its rows \
             could be checked before the first: {error}"
        ));
    }
    Ok(())
}

/// A refusal is acceptable only from a statement of the section that is marked DESTRUCTIVE
/// (a conversion of values that may not fit): anything else failing is a bug of the plan. Text
/// too long for a narrower type is the preflight's to refuse, with the rows counted: the
/// server's own error there means the preflight missed it.
fn check_refusal(plan: &Plan, what: &str, error: &RunError) -> Result<String, Failure> {
    let (RunError::Statement { failed, .. }
    | RunError::Data { failed, .. }
    | RunError::Dialect(PgRunFailure::OutsideTransaction { failed, .. })) = error
    else {
        return Err(format!("{what} failed, not on a statement: {error}"));
    };
    match error {
        RunError::Statement { failed, .. } if failed.message.contains("value too long") => {
            return Err(format!(
                "{what}: the server refused values too long for the new type, which the \
                 preflight must count first: {error}"
            ));
        }
        RunError::Data { problems, .. }
            if problems.is_empty() || problems.iter().any(|p| p.rows == 0) =>
        {
            return Err(format!(
                "{what} refused on the rows without counting them: {error}"
            ));
        }
        _ => {}
    }
    let words = |sql: &str| {
        sql.trim()
            .trim_end_matches(';')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let statement = words(&failed.statement);
    let step = plan.steps.iter().find(|s| words(&s.sql) == statement);
    match step {
        Some(step) if step.destructive().is_some() => Ok(format!("{what}: {error}")),
        _ => Err(format!(
            "{what} refused by a statement not marked DESTRUCTIVE: {error}"
        )),
    }
}

fn run_on_server(
    case: &Case,
    planned: &Planned,
    modelled: &Modelled,
    with_rows: bool,
) -> Result<Outcome, Failure> {
    let Some(test_db) = TestDatabase::create("property") else {
        return Ok(Outcome::Skipped);
    };
    let mut db = PostgresDatabase::open(&test_db.url).map_err(|e| e.to_string())?;
    let migrations = case_history(
        "migrations/postgres",
        &planned.create,
        &planned.up_sql,
        &planned.down_sql,
    );
    let options = RunOptions::default();
    let request = RunRequest::new(&migrations, Up, RevisionTarget::named("r1"), &options);
    db.run(&request).map_err(|e| format!("creating A: {e}"))?;
    let a_live = expect_schema(&mut db.client, "after A", &modelled.a, &planned.baseline)?;
    if with_rows {
        insert_rows(&mut db.client, case)?;
    }
    let stored = read_all(&mut db.client, &a_live)?;

    let request = RunRequest::new(&migrations, Up, RevisionTarget::head(), &options);
    if let Err(e) = db.run(&request) {
        let message = check_refusal(&planned.up, "up", &e)?;
        expect_checked_up_front(&planned.up, &e)?;
        match done_before_refusal(&e) {
            Some(done) => expect_half_done(&mut db, "up", &[&planned.create], &planned.up, done)?,
            None => expect_rolled_back(&mut db, "up", &a_live, &stored, &["r1"])?,
        }
        return Ok(Outcome::Refused(message));
    }
    let b_live = expect_schema(&mut db.client, "after up", &modelled.up, &planned.wanted)?;
    let wanted = &planned.wanted;
    for table in &wanted.tables {
        let origin = case.lineage.tables.get(&table.name);
        let a_table = origin.and_then(|o| planned.baseline.table(o));
        let source_rows = origin
            .and_then(|o| stored.get(o))
            .cloned()
            .unwrap_or_default();
        let mut expected = Vec::new();
        for row in &source_rows {
            let mut cells = Vec::new();
            for column in &table.columns {
                let from = a_table.and_then(|at| {
                    let a_name = case
                        .lineage
                        .columns
                        .get(&(table.name.clone(), column.name.clone()))?;
                    let at_pos = at.columns.iter().position(|c| &c.name == a_name)?;
                    Some((&at.columns[at_pos], &row[at_pos]))
                });
                cells.push(expect_up(&mut db.client, column, from));
            }
            expected.push(cells);
        }
        let actual = read_rows(&mut db.client, table)?;
        compare_rows("after up", &table.name, shown(&actual), &expected)?;
    }
    let after_up = read_all(&mut db.client, &b_live)?;

    let request = RunRequest::new(&migrations, Down, RevisionTarget::Back(1), &options);
    if let Err(e) = db.run(&request) {
        let message = check_refusal(&planned.down, "down", &e)?;
        expect_rolled_back(&mut db, "down", &b_live, &after_up, &["r1", "r2"])?;
        return Ok(Outcome::Refused(message));
    }
    let a_again = expect_schema(
        &mut db.client,
        "after down",
        &modelled.down,
        &planned.baseline,
    )?;
    for a_table in &a_again.tables {
        let b_name = case.lineage.b_table(&a_table.name);
        let b_table = b_name.and_then(|n| wanted.table(n));
        let a_stored = a_live.table(&a_table.name);
        let source_rows = match b_table {
            Some(_) => stored.get(&a_table.name).cloned().unwrap_or_default(),
            // A dropped table comes back empty.
            None => Vec::new(),
        };
        let mut expected = Vec::new();
        for row in &source_rows {
            let mut cells = Vec::new();
            for column in &a_table.columns {
                let at =
                    a_stored.and_then(|t| t.columns.iter().position(|c| c.name == column.name));
                let value = at.map(|i| row[i].clone()).unwrap_or(None);
                let through = b_table
                    .and_then(|bt| bt.column(case.lineage.b_column(&bt.name, &column.name)?));
                let keyed = is_keyed(a_table, &column.name);
                cells.push(expect_down(&mut db.client, keyed, column, through, &value));
            }
            expected.push(cells);
        }
        let actual = read_rows(&mut db.client, a_table)?;
        compare_rows("after down", &a_table.name, shown(&actual), &expected)?;
    }

    // Up again, from the state down left (restored columns hold their fills).
    let after_down = read_all(&mut db.client, &a_again)?;
    let request = RunRequest::new(&migrations, Up, RevisionTarget::head(), &options);
    if let Err(e) = db.run(&request) {
        let message = check_refusal(&planned.up, "up (again)", &e)?;
        match done_before_refusal(&e) {
            Some(done) => {
                let start = [&planned.create, &planned.up_sql, &planned.down_sql];
                let start: Vec<&str> = start.iter().map(|s| s.as_str()).collect();
                expect_half_done(&mut db, "up (again)", &start, &planned.up, done)?
            }
            None => expect_rolled_back(&mut db, "up (again)", &a_again, &after_down, &["r1"])?,
        }
        return Ok(Outcome::Refused(message));
    }
    expect_schema(
        &mut db.client,
        "after up again",
        &modelled.again,
        &planned.wanted,
    )?;
    Ok(Outcome::Passed)
}

/// What [`run_online`] made of a case.
enum Online {
    /// Nothing in it goes through expand / contract.
    Nothing,
    /// Its expand and contract ran and held every check.
    Ran,
    /// The planner refused it (see [`run_online`]).
    Refused,
}

/// The case's change as `migrate --online` writes it, when something in it goes through
/// expand / contract: `r2` expands, `r3` contracts. With rows, on a fresh database: expand,
/// its way back (every value as stored), expand again, contract, the contract's way back, the
/// expand's way back. After each the live schema equals the replay's and the wanted schema
/// (`comparable`: a renamed table's old name is a view, which introspection leaves out, so the
/// views are counted on the server), and every table holds as many rows as A did. Returns
/// whether the case had such a change. A table renamed beside a step that commits on its own is
/// refused by the planner (its view could not come in the rename's transaction): `Refused`.
fn run_online(case: &Case, planned: &Planned) -> Result<Online, Failure> {
    let dialect = Postgres::default();
    let renames_a_table = planned
        .changes
        .iter()
        .any(|c| matches!(c, Change::RenameTable { .. }));
    let online = match dialect.expand_contract(&planned.baseline, &planned.wanted, &planned.changes)
    {
        Ok(online) => online,
        Err(e) if renames_a_table && e.message.contains("split it into two migrations") => {
            return Ok(Online::Refused)
        }
        Err(e) => return Err(format!("online: planning: {e}")),
    };
    let Some(online) = online else {
        return Ok(Online::Nothing);
    };
    let sql = |plan: &Plan| render_steps(&plan.steps);
    let (expand_up, expand_down) = (sql(&online.expand_up), sql(&online.expand_down));
    let (contract_up, contract_down) = (sql(&online.contract_up), sql(&online.contract_down));
    let sections = format!(
        "-- expand\n{expand_up}-- down\n{expand_down}-- contract\n{contract_up}-- down\n{contract_down}"
    );
    let fail = |what: String| format!("online: {what}\n{sections}");
    let wanted = dialect.normalize(&planned.wanted);
    // The replay: what `migrate --online` proves the two files with.
    let mut model = SchemaReplay::from_chain([("r1", planned.create.as_str())])
        .map_err(|e| fail(format!("model of A: {e}")))?;
    let mut models = Vec::new();
    for (what, section, expected) in [
        ("expand", &expand_up, &online.expanded),
        ("contract", &contract_up, &wanted),
        ("contract's down", &contract_down, &online.expanded),
        ("expand's down", &expand_down, &planned.baseline),
    ] {
        model
            .apply(section)
            .map_err(|e| fail(format!("the {what} cannot be modelled: {e}")))?;
        let schema = model.schema();
        if schema.comparable() != expected.comparable() {
            return Err(fail(format!(
                "the replay of the {what} is not the expected schema:{}",
                schema_difference(&expected.comparable(), &schema.comparable())
            )));
        }
        models.push(schema);
    }

    let Some(test_db) = TestDatabase::create("property_online") else {
        return Ok(Online::Ran);
    };
    let mut db = PostgresDatabase::open(&test_db.url).map_err(|e| e.to_string())?;
    let migration = |revision: &str, parent: &str, up: &str, down: &str| {
        let file = qvdiff_core::MigrationFile {
            revision: revision.to_string(),
            parents: if parent.is_empty() {
                Vec::new()
            } else {
                vec![parent.to_string()]
            },
            message: revision.to_string(),
            up: up.to_string(),
            down: down.to_string(),
        };
        let text = if revision == "r3" {
            file.render_contract(&[])
        } else {
            file.render()
        };
        qvdiff_core::runner::Migration::from_text(
            &text,
            format!("migrations/postgres/{revision}.sql"),
        )
        .unwrap()
    };
    let migrations = qvdiff_core::runner::Migrations::new(vec![
        migration("r1", "", &planned.create, ""),
        migration("r2", "r1", &expand_up, &expand_down),
        migration("r3", "r2", &contract_up, &contract_down),
    ])
    .map_err(|e| e.to_string())?;
    let options = RunOptions {
        contract: true,
        ..RunOptions::default()
    };
    let request = RunRequest::new(&migrations, Up, RevisionTarget::named("r1"), &options);
    db.run(&request).map_err(|e| format!("creating A: {e}"))?;
    insert_rows(&mut db.client, case)?;
    let stored = read_all(&mut db.client, &planned.baseline)?;
    // The rows each table must hold: A's under B's name (a table B adds holds none), and after
    // the way back A's again, except in a table B drops (it comes back empty).
    let expected_count = |table: &str, b_names: bool| -> usize {
        let origin = if b_names {
            case.lineage.tables.get(table).map(String::as_str)
        } else {
            case.lineage
                .tables
                .values()
                .any(|a| a == table)
                .then_some(table)
        };
        origin.and_then(|o| stored.get(o)).map_or(0, Vec::len)
    };
    let check = |db: &mut PostgresDatabase, what: &str, model: &Schema, expected: &Schema| {
        let b_names = expected.comparable() != planned.baseline.comparable();
        let live = live_schema(&mut db.client)?;
        if live.comparable() != model.comparable() || live.comparable() != expected.comparable() {
            return Err(fail(format!(
                "after the {what}, the live schema is not the replay's or the wanted one:{}",
                schema_difference(&model.comparable(), &live.comparable())
            )));
        }
        let views: i64 = db
            .client
            .query_one(
                "SELECT count(*) FROM pg_views WHERE schemaname = current_schema()",
                &[],
            )
            .map_err(|e| e.to_string())?
            .get(0);
        if views != i64::try_from(expected.views.len()).unwrap_or(-1) {
            return Err(fail(format!(
                "after the {what}, {views} view(s), not the {} the model names",
                expected.views.len()
            )));
        }
        let rows = read_all(&mut db.client, &live)?;
        for (table, held) in &rows {
            let wanted = expected_count(table, b_names);
            if held.len() != wanted {
                return Err(fail(format!(
                    "after the {what}, {table} holds {} row(s), not {wanted}",
                    held.len()
                )));
            }
        }
        Ok(rows)
    };
    let run = |db: &mut PostgresDatabase, what: &str, up: bool, target: &str| {
        let direction = if up { Up } else { Down };
        let target: RevisionTarget = target.parse().map_err(|e| fail(format!("{e}")))?;
        let result = db.run(&RunRequest::new(&migrations, direction, target, &options));
        result
            .map(|_| ())
            .map_err(|e| fail(format!("the {what} fails: {e}")))
    };
    run(&mut db, "expand", true, "r2")?;
    check(&mut db, "expand", &models[0], &online.expanded)?;
    run(&mut db, "expand's down", false, "r1")?;
    let back = check(&mut db, "expand's down", &models[3], &planned.baseline)?;
    // Every value as stored, unless the expand loses some (a column dropped in the same diff),
    // fills some (the way back cannot know which rows held NULL) or converts some in place.
    let restores = online.expand_up.steps.iter().all(|s| {
        s.destructive().is_none() && s.facts.fills.is_empty() && !s.sql.contains(" TYPE ")
    });
    if restores {
        // As sets of rows: the backfill's updates move rows of a table read in no key order.
        let sorted = |rows: &Rows| {
            let mut rows = shown(rows);
            rows.sort();
            rows
        };
        for (table, rows) in &stored {
            if back.get(table).map(sorted) != Some(sorted(rows)) {
                return Err(fail(format!(
                    "after the expand's down, the rows of {table} are not as stored: {:?}, not \
                     {:?}",
                    back.get(table).map(sorted),
                    sorted(rows)
                )));
            }
        }
    }
    run(&mut db, "expand (again)", true, "r2")?;
    run(&mut db, "contract", true, "r3")?;
    check(&mut db, "contract", &models[1], &wanted)?;
    run(&mut db, "contract's down", false, "r2")?;
    check(&mut db, "contract's down", &models[2], &online.expanded)?;
    run(&mut db, "expand's down (after the contract)", false, "r1")?;
    check(
        &mut db,
        "expand's down after the contract",
        &models[3],
        &planned.baseline,
    )?;
    Ok(Online::Ran)
}

/// Whether the property suite also runs each case's change as `migrate --online` writes it
/// ([`run_online`]): `QVDIFF_PROP_ONLINE=0` leaves it out.
fn online_enabled() -> bool {
    std::env::var("QVDIFF_PROP_ONLINE").map_or(true, |v| v != "0")
}

/// What the cases did, for the summary line.
#[derive(Default)]
struct Tally {
    passed: u64,
    refused: Vec<String>,
    renamed_tables: u64,
    /// Cases that passed with rows whose up or down ran outside a transaction (`CONCURRENTLY`).
    outside_transaction: u64,
    /// Of those, cases that added a UNIQUE constraint from a concurrently built index.
    concurrent_uniques: u64,
    /// Cases that passed with rows and also ran as expand / contract ([`run_online`]).
    online: u64,
    /// Of those, cases whose expand renamed a table and left its old name as a view.
    online_table_renames: u64,
    /// Cases whose expand / contract the planner refused: a table renamed beside a step that
    /// commits on its own.
    online_refused: u64,
    skipped: bool,
}

fn run_case(case: &Case, report: &mut String, tally: &RefCell<Tally>) -> Result<(), Failure> {
    if case
        .b
        .tables
        .iter()
        .any(|t| t.renamed_from.as_ref().is_some_and(|from| *from != t.name))
    {
        tally.borrow_mut().renamed_tables += 1;
    }
    let planned = plan_case(case)?;
    *report = format!(
        "-- create\n{}-- up\n{}-- down\n{}",
        planned.create, planned.up_sql, planned.down_sql
    );
    let modelled = model_case(&planned)?;
    let steps = || planned.up.steps.iter().chain(&planned.down.steps);
    match run_on_server(case, &planned, &modelled, true)? {
        Outcome::Passed => {
            {
                let mut tally = tally.borrow_mut();
                tally.passed += 1;
                if steps().any(|s| s.facts.outside_transaction) {
                    tally.outside_transaction += 1;
                }
                if steps().any(|s| s.sql.contains(" UNIQUE USING INDEX ")) {
                    tally.concurrent_uniques += 1;
                }
            }
            if online_enabled() {
                match run_online(case, &planned)? {
                    Online::Ran => {
                        let mut tally = tally.borrow_mut();
                        tally.online += 1;
                        if planned
                            .changes
                            .iter()
                            .any(|c| matches!(c, Change::RenameTable { .. }))
                        {
                            tally.online_table_renames += 1;
                        }
                    }
                    Online::Refused => tally.borrow_mut().online_refused += 1,
                    Online::Nothing => {}
                }
            }
        }
        Outcome::Skipped => tally.borrow_mut().skipped = true,
        Outcome::Refused(why) => {
            // The plan itself must be sound: without rows nothing can be refused.
            match run_on_server(case, &planned, &modelled, false)? {
                Outcome::Passed | Outcome::Skipped => {}
                Outcome::Refused(again) => {
                    return Err(format!("refused even without rows: {again}"));
                }
            }
            report.push_str(&format!("-- refused with rows: {why}\n"));
            tally.borrow_mut().refused.push(why);
        }
    }
    Ok(())
}

fn property(default_cases: u64) {
    // Once, rather than a "skipped" line per case.
    if TestDatabase::create("property_probe").is_none() {
        return;
    }
    let tally = RefCell::new(Tally::default());
    let started = std::time::Instant::now();
    let cases = run_many(default_cases, &POSTGRES, &|case, report| {
        run_case(case, report, &tally)
    });
    let tally = tally.into_inner();
    // A type change over a value that does not convert: the preflight's conversion refusal.
    let unconverted = tally
        .refused
        .iter()
        .filter(|why| why.contains("does not convert"))
        .count();
    eprintln!(
        "{cases} case(s) in {:.1?}: {} passed every check with their rows, {} refused on their \
         rows (rolled back, then passed without rows), {unconverted} of them over values a type \
         change does not convert; {} renamed a table; {} ran a revision outside a transaction \
         (CONCURRENTLY), {} of them a UNIQUE from a concurrently built index; {} also ran as \
         expand / contract, {} of them renaming a table behind a view; {} refused as expand / \
         contract (a table rename beside a step that commits on its own)",
        started.elapsed(),
        tally.passed,
        tally.refused.len(),
        tally.renamed_tables,
        tally.outside_transaction,
        tally.concurrent_uniques,
        tally.online,
        tally.online_table_renames,
        tally.online_refused
    );
    for why in &tally.refused {
        eprintln!("  refused: {}", why.lines().next().unwrap_or_default());
    }
    if !tally.skipped && cases >= 100 {
        assert!(tally.renamed_tables > 0, "no case renamed a table");
        assert!(unconverted > 0, "no case met a value that does not convert");
        assert!(
            tally.concurrent_uniques > 0,
            "no case added a UNIQUE from a concurrently built index with rows"
        );
        if online_enabled() {
            assert!(
                tally.online_table_renames > 0,
                "no case renamed a table through expand / contract"
            );
        }
    }
}

#[test]
fn property_random_schemas_edits_and_rows_on_postgres() {
    property(100);
}

#[test]
#[ignore = "2000 cases: cargo test -p qvdiff-postgres --release --test property -- --ignored"]
fn property_two_thousand_cases_on_postgres() {
    property(2_000);
}

#[test]
fn property_source_replays_and_shrinks_to_zero() {
    assert_source_replays_and_shrinks_to_zero(&POSTGRES);
}
