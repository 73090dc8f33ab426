//! Helpers shared by the integration tests: schema builders, planning through the differ, and
//! applying to real databases holding rows.

#![allow(dead_code)]

use qvdiff_core::diff::diff;
use qvdiff_core::{
    Change, Column, ColumnType, DefaultValue, Dialect, Plan, PlanError, Renames, Schema, Table,
};
use qvdiff_sqlite::{apply_script, create_table_sql, introspect, replay, Sqlite};
use rusqlite::Connection;

pub fn integer(name: &str) -> Column {
    Column::new(name, ColumnType::Integer { bits: 64 })
}

pub fn text(name: &str) -> Column {
    Column::new(name, ColumnType::Text { max_length: None })
}

pub fn nullable(mut column: Column) -> Column {
    column.nullable = true;
    column
}

pub fn with_default(mut column: Column, value: DefaultValue) -> Column {
    column.default = Some(value);
    column
}

pub fn with_backfill(mut column: Column, value: DefaultValue) -> Column {
    column.backfill = Some(value);
    column
}

pub fn table(name: &str, primary_key: &[&str], columns: Vec<Column>) -> Table {
    let mut table = Table::new(name, columns);
    table.primary_key = primary_key.iter().map(|s| s.to_string()).collect();
    table
}

pub fn schema(tables: Vec<Table>) -> Schema {
    Schema {
        tables,
        ..Schema::default()
    }
    .normalized()
}

/// The SQL of a plan, one step after another, as a migration file section would hold it.
pub fn script(plan: &Plan) -> String {
    plan.steps
        .iter()
        .map(|s| s.sql.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What introspection must give for `schema`: normalized, hint-free, tables only.
pub fn expected(schema: &Schema) -> Schema {
    let mut schema = Sqlite.normalize(schema).without_hints();
    schema.views.clear();
    schema.triggers.clear();
    schema
}

pub fn tables_of(conn: &Connection) -> Schema {
    let mut schema = introspect(conn).expect("introspect");
    schema.views.clear();
    schema.triggers.clear();
    schema
}

/// A migrated database against the schema it should have, compared the way qvdiff compares two
/// databases: column order does not count (`ADD COLUMN` can only append).
fn assert_migrated(conn: &Connection, wanted: &Schema, what: &str, sql: &str) {
    assert_eq!(
        qvdiff_sqlite::comparable(&tables_of(conn)),
        qvdiff_sqlite::comparable(wanted),
        "{what}:\n{sql}"
    );
}

/// A database created from `schema` (one CREATE script), then `seed` SQL run on it.
pub fn database(schema: &Schema, seed: &str) -> Connection {
    let create: String = schema
        .tables
        .iter()
        .map(create_table_sql)
        .collect::<Vec<_>>()
        .join("\n");
    let conn = replay([("base", create.as_str())]).expect("create schema");
    conn.execute_batch(seed).expect("seed rows");
    conn
}

/// Plans `from` → `to` through the differ (renames from `to`'s hints).
pub fn plan_up(from: &Schema, to: &Schema) -> Result<Plan, PlanError> {
    let changes = diff(from, to, &Renames::from_hints(to));
    Sqlite.plan(from, to, &changes)
}

/// Plans the inverse, `to` → `from` (renames inverted, `from` carries the down's hints).
pub fn plan_down(from: &Schema, to: &Schema) -> Result<Plan, PlanError> {
    let changes = diff(to, from, &Renames::from_hints(to).inverted());
    Sqlite.plan(to, from, &changes)
}

pub fn plan_changes(from: &Schema, to: &Schema, changes: Vec<Change>) -> Plan {
    Sqlite.plan(from, to, &changes).expect("plan")
}

/// Plans and applies `from` → `to` on `conn`, checks the schema, and returns the script.
pub fn migrate(conn: &mut Connection, from: &Schema, to: &Schema) -> String {
    let plan = plan_up(from, to).expect("plan up");
    let sql = script(&plan);
    apply_script(conn, "up", &sql).unwrap_or_else(|e| panic!("{e}\n--- script:\n{sql}"));
    assert_migrated(conn, to, "schema after up", &sql);
    sql
}

/// Plans and applies the inverse `to` → `from` on `conn`, checks the schema, returns the script.
pub fn migrate_back(conn: &mut Connection, from: &Schema, to: &Schema) -> String {
    let plan = plan_down(from, to).expect("plan down");
    let sql = script(&plan);
    apply_script(conn, "down", &sql).unwrap_or_else(|e| panic!("{e}\n--- script:\n{sql}"));
    assert_migrated(conn, from, "schema after down", &sql);
    sql
}

/// All rows of a query as strings (`NULL` for null, values tagged with their storage class).
pub fn rows(conn: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut statement = conn.prepare(sql).expect("prepare");
    let count = statement.column_count();
    let mapped = statement
        .query_map([], |row| {
            (0..count)
                .map(|i| {
                    let value: rusqlite::types::Value = row.get(i)?;
                    Ok(match value {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(i) => format!("i:{i}"),
                        rusqlite::types::Value::Real(f) => format!("r:{f}"),
                        rusqlite::types::Value::Text(t) => format!("t:{t}"),
                        rusqlite::types::Value::Blob(b) => format!("b:{b:?}"),
                    })
                })
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .expect("query");
    mapped.collect::<rusqlite::Result<_>>().expect("rows")
}

pub fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}
