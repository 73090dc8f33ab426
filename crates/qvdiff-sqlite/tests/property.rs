//! The property suite: random schemas holding random rows, random edits, the real pipeline.
//!
//! Each case draws, from a seeded source of choices, a schema A (tables with columns of every
//! logical type, nullable and NOT NULL, defaults, indexes, single- and multi-column uniques,
//! foreign keys including self-references, checks, composite keys), rows that satisfy A, and an
//! edit to a schema B (every change kind, with the `renamed_from` / `backfill` hints a real user
//! would write). Then, with the library calls `qvdiff migrate` makes (`diff`,
//! `Renames::from_hints`, `Sqlite.plan` both ways, `render_steps`, `verify`), it generates the
//! A → B migration, applies it with the real runner (`upgrade`, `downgrade`) to a FILE database
//! holding the rows, and checks:
//!
//! 1. after up, the introspected schema equals B (`comparable`);
//! 2. after up, every row is there and every value of every surviving column is unchanged — for
//!    a type change, converted as SQLite converts it (computed by storing the old value into a
//!    column of the new declared type in a scratch database); a new column holds its backfill or
//!    default (NULL without either); a column becoming NOT NULL holds its backfill (else default)
//!    where it was NULL;
//! 3. after down, the schema equals A and every value is as it was, with one rule for what the
//!    change by definition destroyed: a value that went through a type change comes back as
//!    SQLite converts it back (`A(B(v))`), a NULL that a backfill filled stays filled (converted
//!    back), a dropped column comes back holding its default in A (NULL without one), and a
//!    dropped table comes back empty;
//! 4. `verify` passes the generated file, and its verdict on a mutated `down` (a step removed or
//!    a schema change appended) equals the truth found by applying it independently: a file
//!    whose down does not give A back is never passed.
//!
//! A case is reproduced from its seed: `QVDIFF_PROP_SEED=<seed> cargo test -p qvdiff-sqlite
//! --test property`. A failure is shrunk first (the recorded choices are shortened and lowered
//! towards 0, which always means "the simplest option") and printed with its seed, the schemas,
//! the rows and the migration. `QVDIFF_PROP_CASES=<n>` changes the number of cases;
//! `QVDIFF_PROP_BASE=<n>` the first seed.

use qvdiff_core::diff::diff;
use qvdiff_core::migration::render_steps;
use qvdiff_core::runner::{Migration, Migrations};
use qvdiff_core::{
    fill_restored_columns, restore_placeholder, Check, Column, ColumnType, DefaultValue, Dialect,
    FkAction, ForeignKey, Index, MigrationFile, Renames, Schema, Table, Unique,
};
use qvdiff_sqlite::{
    apply_script, comparable, downgrade, introspect, quote_ident, render_default, render_type,
    replay, upgrade, verify, RunOptions, Sqlite,
};
use rusqlite::types::Value;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------------
// The source of choices: seeded, recorded, replayable (which is what makes shrinking possible).

/// SplitMix64: small, fast and good enough to spread seeds.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every decision of the generator is one `below(n)` call. Fresh draws come from the RNG and are
/// recorded; a replay reads the recording, and past its end answers 0 — the simplest option.
struct Source {
    recorded: Vec<u32>,
    pos: usize,
    rng: Option<u64>,
}

impl Source {
    fn seeded(seed: u64) -> Source {
        Source {
            recorded: Vec::new(),
            pos: 0,
            rng: Some(seed),
        }
    }

    fn replay(recorded: Vec<u32>) -> Source {
        Source {
            recorded,
            pos: 0,
            rng: None,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        let raw = match &mut self.rng {
            Some(state) => {
                let raw = (splitmix(state) >> 33) as u32;
                self.recorded.push(raw);
                raw
            }
            None => self.recorded.get(self.pos).copied().unwrap_or(0),
        };
        self.pos += 1;
        if n <= 1 {
            0
        } else {
            raw as usize % n
        }
    }

    /// True with probability 1/n (false is the simple answer).
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == n - 1
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Schema A and its rows.

/// Names that exercise quoting: plain, keywords, spaces, quotes, non-ASCII.
const TABLE_NAMES: &[&str] = &["t", "order", "my table", "größe", "q\"t", "select"];
const COLUMN_NAMES: &[&str] = &["c", "group", "two words", "naïve", "x'y", "from", "v"];

fn integer() -> ColumnType {
    ColumnType::Integer { bits: 64 }
}

fn text() -> ColumnType {
    ColumnType::Text { max_length: None }
}

/// Every logical type (index 0 is the simplest).
fn any_type(s: &mut Source) -> ColumnType {
    match s.below(13) {
        0 => integer(),
        1 => text(),
        2 => ColumnType::Float,
        3 => ColumnType::Bool,
        4 => ColumnType::Text {
            max_length: Some(20 + s.below(3) as u32 * 40),
        },
        5 => ColumnType::DateTime,
        6 => ColumnType::Date,
        7 => ColumnType::Time,
        8 => ColumnType::Uuid,
        9 => ColumnType::Json,
        10 => ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2),
        },
        11 => ColumnType::Blob,
        _ => ColumnType::Custom {
            sql: "MONEY".to_string(),
        },
    }
}

/// Types whose values can be made distinct per row (keys, uniques).
fn key_type(s: &mut Source) -> ColumnType {
    match s.below(6) {
        0 => integer(),
        1 => text(),
        2 => ColumnType::Uuid,
        3 => ColumnType::Date,
        4 => ColumnType::Text {
            max_length: Some(40),
        },
        _ => ColumnType::Float,
    }
}

fn is_key_type(ty: &ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Integer { .. }
            | ColumnType::Text { .. }
            | ColumnType::Uuid
            | ColumnType::Date
            | ColumnType::Float
    )
}

/// A typed default a model could declare for this type.
fn default_for(s: &mut Source, ty: &ColumnType) -> DefaultValue {
    match ty {
        ColumnType::Integer { .. } | ColumnType::Custom { .. } => {
            DefaultValue::Integer(*s.pick(&[0, 7, -1]))
        }
        ColumnType::Float => DefaultValue::Float(*s.pick(&[0.0, 1.5, -2.25])),
        ColumnType::Bool => DefaultValue::Bool(s.one_in(2)),
        ColumnType::Decimal { .. } => DefaultValue::Float(*s.pick(&[0.0, 9.99])),
        ColumnType::DateTime if s.one_in(3) => DefaultValue::Sql("CURRENT_TIMESTAMP".to_string()),
        ColumnType::DateTime => DefaultValue::Text("2000-01-01 00:00:00".to_string()),
        ColumnType::Date => DefaultValue::Text("2000-01-01".to_string()),
        ColumnType::Time => DefaultValue::Text("00:00:00".to_string()),
        ColumnType::Uuid => DefaultValue::Text("00000000-0000-0000-0000-000000000000".to_string()),
        ColumnType::Json => DefaultValue::Text("{}".to_string()),
        ColumnType::Blob => DefaultValue::Sql("X'00'".to_string()),
        ColumnType::Text { .. } => DefaultValue::Text((*s.pick(&["", "n/a", "it's"])).to_string()),
    }
}

/// A value an application would store in a column of this type.
fn value_for(s: &mut Source, ty: &ColumnType) -> Value {
    match ty {
        ColumnType::Integer { .. } | ColumnType::Custom { .. } => {
            Value::Integer(*s.pick(&[0, 1, -7, 42, 9_007_199_254_740_993, i64::MAX, i64::MIN]))
        }
        ColumnType::Float => Value::Real(*s.pick(&[0.5, -2.25, 1e300, 3.0, 0.1, -0.0])),
        ColumnType::Bool => Value::Integer(s.below(2) as i64),
        ColumnType::Decimal { .. } => s
            .pick(&[
                Value::Integer(3),
                Value::Real(12.5),
                Value::Text("1.10".to_string()),
            ])
            .clone(),
        ColumnType::DateTime => Value::Text("2024-01-02 03:04:05".to_string()),
        ColumnType::Date => Value::Text("2024-01-02".to_string()),
        ColumnType::Time => Value::Text("03:04:05".to_string()),
        ColumnType::Uuid => Value::Text("123e4567-e89b-12d3-a456-426614174000".to_string()),
        ColumnType::Json => Value::Text((*s.pick(&["{\"a\":1}", "[1,2]", "null"])).to_string()),
        ColumnType::Blob => Value::Blob(s.pick(&[vec![0u8, 255], vec![], b"abc".to_vec()]).clone()),
        ColumnType::Text { .. } => Value::Text(
            (*s.pick(&["", "a", "O'Reilly", "温度", "x\"y", "12", "3.5", "-- no"])).to_string(),
        ),
    }
}

/// A value distinct for every row index `i` (keys and unique columns).
fn distinct_value(ty: &ColumnType, i: usize) -> Value {
    match ty {
        ColumnType::Integer { .. } => Value::Integer(i as i64 + 1),
        ColumnType::Float => Value::Real(i as f64 + 0.5),
        ColumnType::Uuid => Value::Text(format!("00000000-0000-0000-0000-{i:012}")),
        ColumnType::Date => Value::Text(format!("2024-01-{:02}", i + 1)),
        _ => Value::Text(format!("k{i} é")),
    }
}

/// Whether a (changing) default needs the extra care of a non-constant expression.
fn is_sql_default(column: &Column) -> bool {
    matches!(column.default, Some(DefaultValue::Sql(_)))
}

fn unique_name(taken: &[String], base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 1;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

fn table_names(schema: &Schema) -> Vec<String> {
    schema.tables.iter().map(|t| t.name.clone()).collect()
}

fn column_names(table: &Table) -> Vec<String> {
    table.columns.iter().map(|c| c.name.clone()).collect()
}

/// Columns of a table that no key, unique, index, foreign key (either way) or check uses.
fn is_plain_column(schema: &Schema, table: &Table, column: &str) -> bool {
    let c = column.to_string();
    !table.primary_key.contains(&c)
        && !table.uniques.iter().any(|u| u.columns.contains(&c))
        && !table.indexes.iter().any(|i| i.columns.contains(&c))
        && !table.foreign_keys.iter().any(|f| f.columns.contains(&c))
        && !table
            .checks
            .iter()
            .any(|k| k.expr.contains(&quote_ident(column)))
        && !is_referenced(schema, &table.name, column)
}

fn is_referenced(schema: &Schema, table: &str, column: &str) -> bool {
    schema.tables.iter().any(|t| {
        t.foreign_keys
            .iter()
            .any(|f| f.ref_table == table && f.ref_columns.iter().any(|c| c == column))
    })
}

fn has_incoming(schema: &Schema, table: &str) -> bool {
    schema
        .tables
        .iter()
        .any(|t| t.name != table && t.foreign_keys.iter().any(|f| f.ref_table == table))
}

fn new_column(s: &mut Source, name: String, ty: ColumnType) -> Column {
    let mut column = Column::new(name, ty);
    column.nullable = s.one_in(2);
    if s.one_in(3) {
        column.default = Some(default_for(s, &column.ty));
    }
    column
}

fn index_name(table: &str, columns: &[String]) -> String {
    format!("ix_{table}_{}", columns.join("_"))
}

/// One table of A (or a table created by the edit): key, columns, constraints. `parents` are the
/// tables it may reference (with a single-column key).
fn gen_table(s: &mut Source, name: String, parents: &[Table]) -> Table {
    let mut columns = Vec::new();
    let mut primary_key = Vec::new();
    match s.below(4) {
        // INTEGER PRIMARY KEY (the rowid), sometimes AUTOINCREMENT.
        0 | 1 => {
            let mut id = Column::new("id", integer());
            id.autoincrement = s.one_in(3);
            columns.push(id);
            primary_key.push("id".to_string());
        }
        2 => {
            columns.push(Column::new("code", key_type(s)));
            primary_key.push("code".to_string());
        }
        _ => {
            columns.push(Column::new("k1", integer()));
            columns.push(Column::new("k2", key_type(s)));
            primary_key = vec!["k1".to_string(), "k2".to_string()];
        }
    }
    for _ in 0..s.below(5) {
        let taken = column_names(&Table::new("", columns.clone()));
        let name = unique_name(&taken, s.pick::<&str>(COLUMN_NAMES));
        let ty = any_type(s);
        columns.push(new_column(s, name, ty));
    }
    let mut table = Table::new(name, columns);
    table.primary_key = primary_key;
    let plain: Vec<String> = table
        .columns
        .iter()
        .filter(|c| !table.primary_key.contains(&c.name))
        .map(|c| c.name.clone())
        .collect();
    // Constraints over the plain columns.
    for column in &plain {
        let ty = table
            .column(column)
            .map(|c| c.ty.clone())
            .unwrap_or(integer());
        match s.below(8) {
            1 if is_key_type(&ty) => table.uniques.push(Unique {
                name: None,
                columns: vec![column.clone()],
            }),
            2 => table.indexes.push(Index {
                name: index_name(&table.name, std::slice::from_ref(column)),
                columns: vec![column.clone()],
                unique: false,
            }),
            3 if is_key_type(&ty) => table.indexes.push(Index {
                name: index_name(&table.name, std::slice::from_ref(column)),
                columns: vec![column.clone()],
                unique: true,
            }),
            4 if matches!(ty, ColumnType::Integer { .. }) => table.checks.push(Check {
                name: format!("ck_{}_{column}", table.name),
                expr: format!("{} >= -1000", quote_ident(column)),
            }),
            5 if matches!(ty, ColumnType::Text { .. }) => table.checks.push(Check {
                name: format!("ck_{}_{column}", table.name),
                expr: format!("length({}) <= 100", quote_ident(column)),
            }),
            _ => {}
        }
    }
    if plain.len() >= 2 && s.one_in(3) {
        let pair = vec![plain[0].clone(), plain[1].clone()];
        if s.one_in(2) {
            table.uniques.push(Unique {
                name: None,
                columns: pair,
            });
        } else {
            table.indexes.push(Index {
                name: index_name(&table.name, &pair),
                columns: pair,
                unique: false,
            });
        }
    }
    // Foreign keys: to an earlier table's single key, or to itself.
    for _ in 0..s.below(3) {
        let self_ref = s.one_in(3);
        let parent = if self_ref {
            table.clone()
        } else if parents.is_empty() {
            continue;
        } else {
            s.pick(parents).clone()
        };
        let [key] = parent.primary_key.as_slice() else {
            continue;
        };
        let Some(key_column) = parent.column(key) else {
            continue;
        };
        let taken = column_names(&table);
        let name = unique_name(&taken, &format!("{}_ref", parent.name));
        let mut column = Column::new(name.clone(), key_column.ty.clone());
        // A self-reference must be nullable: the first row has nothing to point at.
        column.nullable = self_ref || s.one_in(2);
        table.columns.push(column);
        table.foreign_keys.push(ForeignKey {
            columns: vec![name],
            ref_table: parent.name.clone(),
            ref_columns: vec![key.clone()],
            on_delete: *s.pick(&[
                FkAction::NoAction,
                FkAction::Cascade,
                FkAction::SetNull,
                FkAction::Restrict,
            ]),
            on_update: FkAction::NoAction,
        });
    }
    table
}

/// Rows for one table satisfying its constraints, given the rows already in the tables it
/// references. Values are in the table's column order.
fn gen_rows(
    s: &mut Source,
    table: &Table,
    existing: &BTreeMap<String, Vec<Vec<Value>>>,
    tables: &[Table],
) -> Vec<Vec<Value>> {
    let count = s.below(6);
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for i in 0..count {
        let mut row = Vec::new();
        for column in &table.columns {
            let c = &column.name;
            let keyed = table.primary_key.contains(c)
                || table.uniques.iter().any(|u| u.columns.contains(c))
                || table
                    .indexes
                    .iter()
                    .any(|x| x.unique && x.columns.contains(c));
            let fk = table.foreign_keys.iter().find(|f| f.columns.contains(c));
            let value = if let Some(fk) = fk {
                let parent_rows: Vec<Value> = if fk.ref_table == table.name {
                    let at = table
                        .columns
                        .iter()
                        .position(|x| x.name == fk.ref_columns[0]);
                    rows.iter()
                        .filter_map(|r| at.map(|a| r[a].clone()))
                        .collect()
                } else {
                    let parent = tables.iter().find(|t| t.name == fk.ref_table);
                    let at = parent
                        .and_then(|p| p.columns.iter().position(|x| x.name == fk.ref_columns[0]));
                    existing
                        .get(&fk.ref_table)
                        .map(|rs| rs.iter().filter_map(|r| at.map(|a| r[a].clone())).collect())
                        .unwrap_or_default()
                };
                if parent_rows.is_empty() || (column.nullable && s.one_in(3)) {
                    if !column.nullable {
                        // No parent to point at: this table gets no (more) rows.
                        return rows;
                    }
                    Value::Null
                } else {
                    parent_rows[s.below(parent_rows.len())].clone()
                }
            } else if keyed {
                distinct_value(&column.ty, i)
            } else if column.nullable && s.one_in(3) {
                Value::Null
            } else if table
                .checks
                .iter()
                .any(|k| k.expr.contains(&quote_ident(c)))
            {
                // Within every check the generator writes.
                match column.ty {
                    ColumnType::Integer { .. } => Value::Integer(s.below(50) as i64),
                    _ => Value::Text("ok".to_string()),
                }
            } else {
                value_for(s, &column.ty)
            };
            row.push(value);
        }
        rows.push(row);
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The edit A -> B.

/// Where each table and column of B comes from in A (through renames), and what was done.
#[derive(Debug, Default, Clone)]
struct Lineage {
    /// B table -> A table.
    tables: BTreeMap<String, String>,
    /// (B table, B column) -> A column.
    columns: BTreeMap<(String, String), String>,
    /// What the edit did, for the failure report.
    edits: Vec<String>,
}

fn identity_lineage(a: &Schema) -> Lineage {
    let mut lineage = Lineage::default();
    for t in &a.tables {
        lineage.tables.insert(t.name.clone(), t.name.clone());
        for c in &t.columns {
            lineage
                .columns
                .insert((t.name.clone(), c.name.clone()), c.name.clone());
        }
    }
    lineage
}

/// The current values (A's rows, as inserted) of `table.column` of B, when it comes from A.
fn a_values<'a>(
    a: &Schema,
    rows: &'a BTreeMap<String, Vec<Vec<Value>>>,
    lineage: &Lineage,
    table: &str,
    column: &str,
) -> Option<Vec<&'a Value>> {
    let a_table_name = lineage.tables.get(table)?;
    let a_column = lineage
        .columns
        .get(&(table.to_string(), column.to_string()))?;
    let a_table = a.table(a_table_name)?;
    let at = a_table.columns.iter().position(|c| &c.name == a_column)?;
    Some(
        rows.get(a_table_name)
            .map(|rs| rs.iter().map(|r| &r[at]).collect())
            .unwrap_or_default(),
    )
}

/// Whether the values are distinct where not NULL (a unique constraint would accept them).
fn distinct(values: &[&Value]) -> bool {
    let keys: Vec<String> = values
        .iter()
        .filter(|v| !matches!(v, Value::Null))
        .map(|v| show(v))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    sorted.len() == keys.len()
}

/// Applies one random edit to `b`. Edits that do not apply to the drawn table are skipped.
fn edit(
    s: &mut Source,
    a: &Schema,
    rows: &BTreeMap<String, Vec<Vec<Value>>>,
    b: &mut Schema,
    lineage: &mut Lineage,
) {
    if b.tables.is_empty() {
        return;
    }
    let ti = s.below(b.tables.len());
    let tname = b.tables[ti].name.clone();
    // Type changes are drawn three times as often: their conversions are the subtle part.
    let kind = match s.below(21) {
        19 | 20 => 3,
        kind => kind,
    };
    let snapshot = b.clone();
    let plain: Vec<String> = b.tables[ti]
        .columns
        .iter()
        .filter(|c| is_plain_column(&snapshot, &snapshot.tables[ti], &c.name))
        .map(|c| c.name.clone())
        .collect();
    let log = |lineage: &mut Lineage, what: String| lineage.edits.push(what);
    match kind {
        // Add a column: nullable, NOT NULL with a default, or NOT NULL with a backfill; maybe
        // indexed or referencing another table.
        0 => {
            let taken = column_names(&b.tables[ti]);
            let name = unique_name(&taken, &format!("new_{}", s.pick(COLUMN_NAMES)));
            let ty = any_type(s);
            let mut column = new_column(s, name.clone(), ty);
            if !column.nullable && column.default.is_none() {
                column.backfill = Some(default_for(s, &column.ty));
            }
            if is_sql_default(&column) && !column.nullable {
                column.default = Some(DefaultValue::Text("2001-01-01 00:00:00".into()));
            }
            b.tables[ti].columns.push(column);
            if s.one_in(3) {
                b.tables[ti].indexes.push(Index {
                    name: index_name(&tname, std::slice::from_ref(&name)),
                    columns: vec![name.clone()],
                    unique: false,
                });
            }
            log(lineage, format!("add column {tname}.{name}"));
        }
        1 => {
            let Some(name) = plain.get(s.below(plain.len().max(1))).cloned() else {
                return;
            };
            // A NOT NULL column that was a foreign key in A comes back on the way down with a
            // placeholder no parent row has: the runner rightly refuses those orphans.
            let a_column = lineage.columns.get(&(tname.clone(), name.clone()));
            let was_required_foreign_key = lineage
                .tables
                .get(&tname)
                .and_then(|at| a.table(at))
                .zip(a_column)
                .is_some_and(|(at, ac)| {
                    at.foreign_keys.iter().any(|f| f.columns.contains(ac))
                        && at
                            .column(ac)
                            .is_some_and(|c| !c.nullable && c.default.is_none())
                });
            if was_required_foreign_key {
                return;
            }
            b.tables[ti].columns.retain(|c| c.name != name);
            lineage.columns.remove(&(tname.clone(), name.clone()));
            log(lineage, format!("drop column {tname}.{name}"));
        }
        2 => {
            // Rename a column, whatever uses it; every reference follows, as in the model.
            let t = &b.tables[ti];
            let candidates: Vec<String> = column_names(t);
            let old = candidates[s.below(candidates.len())].clone();
            let new = unique_name(&candidates, &format!("{old}_renamed"));
            rename_column(b, &tname, &old, &new);
            if let Some(origin) = lineage.columns.remove(&(tname.clone(), old.clone())) {
                if let Some(c) = b.tables[ti].columns.iter_mut().find(|c| c.name == new) {
                    c.renamed_from = Some(origin.clone());
                }
                lineage.columns.insert((tname.clone(), new.clone()), origin);
            }
            log(lineage, format!("rename column {tname}.{old} -> {new}"));
        }
        3 => {
            // Change the type of a column no constraint uses.
            let Some(name) = plain.get(s.below(plain.len().max(1))).cloned() else {
                return;
            };
            let ty = any_type(s);
            let column = b.tables[ti].columns.iter_mut().find(|c| c.name == name);
            let Some(column) = column else { return };
            let old = column.ty.clone();
            column.ty = ty.clone();
            if column.default.is_some() {
                column.default = Some(default_for(s, &ty));
            }
            log(
                lineage,
                format!(
                    "type of {tname}.{name}: {} -> {}",
                    render_type(&old),
                    render_type(&ty)
                ),
            );
        }
        4 => {
            // Nullability both ways; NULL -> NOT NULL with a backfill or a default.
            let Some(name) = plain.get(s.below(plain.len().max(1))).cloned() else {
                return;
            };
            let column = b.tables[ti].columns.iter_mut().find(|c| c.name == name);
            let Some(column) = column else { return };
            if column.nullable {
                // A backfill into a column that was a foreign key in A would be an orphan on the
                // way back, and the runner rightly refuses that down: not a case to generate.
                let was_foreign_key = lineage
                    .tables
                    .get(&tname)
                    .and_then(|at| a.table(at))
                    .zip(lineage.columns.get(&(tname.clone(), name.clone())))
                    .is_some_and(|(at, ac)| at.foreign_keys.iter().any(|f| f.columns.contains(ac)));
                if was_foreign_key {
                    return;
                }
                column.nullable = false;
                if column.default.is_none() || is_sql_default(column) || s.one_in(2) {
                    column.backfill = Some(default_for(s, &column.ty));
                    if let Some(DefaultValue::Sql(_)) = column.backfill {
                        column.backfill = Some(DefaultValue::Text("1999-01-01 00:00:00".into()));
                    }
                }
                log(lineage, format!("{tname}.{name} becomes NOT NULL"));
            } else {
                column.nullable = true;
                log(lineage, format!("{tname}.{name} becomes nullable"));
            }
        }
        5 => {
            let Some(name) = plain.get(s.below(plain.len().max(1))).cloned() else {
                return;
            };
            let column = b.tables[ti].columns.iter_mut().find(|c| c.name == name);
            let Some(column) = column else { return };
            column.default = match (&column.default, s.below(2)) {
                (Some(_), 0) => None,
                _ => Some(default_for(s, &column.ty)),
            };
            log(lineage, format!("default of {tname}.{name} changes"));
        }
        6 => {
            // Add an index (unique when the data allows), one or two columns.
            let names = column_names(&b.tables[ti]);
            let mut columns = vec![names[s.below(names.len())].clone()];
            if s.one_in(2) && names.len() > 1 {
                let second = names[s.below(names.len())].clone();
                if second != columns[0] {
                    columns.push(second);
                }
            }
            let name = index_name(&tname, &columns);
            if b.tables[ti].indexes.iter().any(|i| i.name == name) {
                return;
            }
            let values = columns
                .iter()
                .map(|c| a_values(a, rows, lineage, &tname, c))
                .collect::<Option<Vec<_>>>();
            let unique = s.one_in(2)
                && columns.len() == 1
                && values.as_ref().is_some_and(|v| distinct(&v[0]));
            b.tables[ti].indexes.push(Index {
                name: name.clone(),
                columns,
                unique,
            });
            log(lineage, format!("add index {name}"));
        }
        7 => {
            let t = &mut b.tables[ti];
            if t.indexes.is_empty() {
                return;
            }
            let i = s.below(t.indexes.len());
            let index = t.indexes.remove(i);
            log(lineage, format!("drop index {}", index.name));
        }
        8 => {
            // Add a unique constraint over a column whose values are distinct.
            let names = column_names(&b.tables[ti]);
            let column = names[s.below(names.len())].clone();
            // A column new in B holds one value in every existing row (its backfill or
            // default), so only an all-NULL new column can be unique over rows already there;
            // the runner rightly refuses the duplicates otherwise (seed 9390).
            let is_new = !lineage
                .columns
                .contains_key(&(tname.clone(), column.clone()));
            let all_null = b.tables[ti]
                .column(&column)
                .is_some_and(|c| c.nullable && c.default.is_none() && c.backfill.is_none());
            let ok = a_values(a, rows, lineage, &tname, &column).is_some_and(|v| distinct(&v))
                || (is_new && all_null);
            let exists = b.tables[ti]
                .uniques
                .iter()
                .any(|u| u.columns == [column.clone()]);
            if !ok
                || exists
                || !is_key_type(
                    &b.tables[ti]
                        .column(&column)
                        .map(|c| c.ty.clone())
                        .unwrap_or(integer()),
                )
            {
                return;
            }
            b.tables[ti].uniques.push(Unique {
                name: None,
                columns: vec![column.clone()],
            });
            log(lineage, format!("add unique {tname}({column})"));
        }
        9 => {
            // Drop a unique constraint nothing references.
            let t = b.tables[ti].clone();
            let candidates: Vec<usize> = (0..t.uniques.len())
                .filter(|&i| {
                    !t.uniques[i]
                        .columns
                        .iter()
                        .any(|c| is_referenced(&snapshot, &tname, c))
                })
                .collect();
            if candidates.is_empty() {
                return;
            }
            let removed = b.tables[ti]
                .uniques
                .remove(candidates[s.below(candidates.len())]);
            log(lineage, format!("drop unique {tname}{:?}", removed.columns));
        }
        10 => {
            // A foreign key on a new nullable column, to a table with a single key.
            let parents: Vec<Table> = b
                .tables
                .iter()
                .filter(|t| t.primary_key.len() == 1)
                .cloned()
                .collect();
            if parents.is_empty() {
                return;
            }
            let parent = s.pick(&parents).clone();
            let key = parent.primary_key[0].clone();
            let Some(ty) = parent.column(&key).map(|c| c.ty.clone()) else {
                return;
            };
            let taken = column_names(&b.tables[ti]);
            let name = unique_name(&taken, &format!("{}_fk", parent.name));
            let mut column = Column::new(name.clone(), ty);
            column.nullable = true;
            b.tables[ti].columns.push(column);
            b.tables[ti].foreign_keys.push(ForeignKey {
                columns: vec![name.clone()],
                ref_table: parent.name.clone(),
                ref_columns: vec![key],
                on_delete: *s.pick(&[FkAction::NoAction, FkAction::Cascade, FkAction::SetNull]),
                on_update: FkAction::NoAction,
            });
            log(
                lineage,
                format!("add foreign key {tname}.{name} -> {}", parent.name),
            );
        }
        11 => {
            // Drop a foreign key, or change its ON DELETE.
            let t = &mut b.tables[ti];
            if t.foreign_keys.is_empty() {
                return;
            }
            let i = s.below(t.foreign_keys.len());
            if s.one_in(2) {
                let fk = t.foreign_keys.remove(i);
                log(lineage, format!("drop foreign key {tname}{:?}", fk.columns));
            } else {
                let actions = [
                    FkAction::NoAction,
                    FkAction::Cascade,
                    FkAction::SetNull,
                    FkAction::Restrict,
                    FkAction::SetDefault,
                ];
                let fk = &mut t.foreign_keys[i];
                fk.on_delete = *s.pick(&actions);
                log(
                    lineage,
                    format!("on delete of {tname}{:?} changes", fk.columns),
                );
            }
        }
        12 => {
            // Add a check the data satisfies, or drop one.
            let t = &mut b.tables[ti];
            if !t.checks.is_empty() && s.one_in(2) {
                let i = s.below(t.checks.len());
                let check = t.checks.remove(i);
                log(lineage, format!("drop check {}", check.name));
                return;
            }
            let Some(name) = plain.get(s.below(plain.len().max(1))).cloned() else {
                return;
            };
            let column = t.column(&name).cloned();
            let Some(column) = column else { return };
            let expr = match column.ty {
                ColumnType::Text { .. } | ColumnType::Json => {
                    format!("length({}) < 1000", quote_ident(&name))
                }
                _ => format!("{} IS NOT NULL OR 1", quote_ident(&name)),
            };
            let check_name = unique_name(
                &t.checks.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
                &format!("ck_new_{name}"),
            );
            t.checks.push(Check {
                name: check_name.clone(),
                expr,
            });
            log(lineage, format!("add check {check_name}"));
        }
        13 => {
            let taken = table_names(b);
            let name = unique_name(&taken, &format!("new_{}", s.pick(TABLE_NAMES)));
            let parents = b.tables.clone();
            let table = gen_table(s, name.clone(), &parents);
            b.tables.push(table);
            log(lineage, format!("create table {name}"));
        }
        14 => {
            if has_incoming(b, &tname) {
                return;
            }
            b.tables.remove(ti);
            lineage.tables.remove(&tname);
            lineage.columns.retain(|(t, _), _| t != &tname);
            log(lineage, format!("drop table {tname}"));
        }
        15 => {
            let taken = table_names(b);
            let new = unique_name(&taken, &format!("{tname}_v2"));
            for t in &mut b.tables {
                for fk in &mut t.foreign_keys {
                    if fk.ref_table == tname {
                        fk.ref_table = new.clone();
                    }
                }
            }
            let t = &mut b.tables[ti];
            t.name = new.clone();
            for index in &mut t.indexes {
                index.name = index_name(&new, &index.columns);
            }
            for check in &mut t.checks {
                check.name = check
                    .name
                    .replacen(&format!("ck_{tname}_"), &format!("ck_{new}_"), 1);
            }
            // The hint names the table as the database has it (A), even after two renames.
            t.renamed_from = None;
            if let Some(origin) = lineage.tables.remove(&tname) {
                t.renamed_from = Some(origin.clone());
                lineage.tables.insert(new.clone(), origin);
            }
            let moved: Vec<((String, String), String)> = lineage
                .columns
                .iter()
                .filter(|((t, _), _)| t == &tname)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for ((_, c), origin) in moved {
                lineage.columns.remove(&(tname.clone(), c.clone()));
                lineage.columns.insert((new.clone(), c), origin);
            }
            log(lineage, format!("rename table {tname} -> {new}"));
        }
        16 => {
            // Primary key: extend a key by a NOT NULL column (still unique), or take a composite
            // key down to a single key whose values are distinct. Tables others reference keep
            // their key (a self-reference included: a key column must stay unique on its own).
            let key_referenced = b.tables[ti]
                .primary_key
                .iter()
                .any(|k| is_referenced(b, &tname, k));
            if has_incoming(b, &tname) || key_referenced {
                return;
            }
            let t = &b.tables[ti];
            let not_null: Vec<String> = t
                .columns
                .iter()
                .filter(|c| !c.nullable && !t.primary_key.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            let new_key = if t.primary_key.len() > 1 {
                let first = t.primary_key[0].clone();
                let ok = a_values(a, rows, lineage, &tname, &first).is_none_or(|v| distinct(&v));
                if !ok {
                    return;
                }
                vec![first]
            } else if let Some(extra) = not_null.first() {
                vec![t.primary_key[0].clone(), extra.clone()]
            } else {
                return;
            };
            let t = &mut b.tables[ti];
            for c in &mut t.columns {
                if c.name == t.primary_key[0] || new_key.contains(&c.name) {
                    c.autoincrement = false;
                }
            }
            log(
                lineage,
                format!(
                    "primary key of {tname}: {:?} -> {:?}",
                    t.primary_key, new_key
                ),
            );
            t.primary_key = new_key;
        }
        17 => {
            let t = &mut b.tables[ti];
            if t.primary_key.len() != 1 {
                return;
            }
            let key = t.primary_key[0].clone();
            if let Some(c) = t.columns.iter_mut().find(|c| c.name == key) {
                if matches!(c.ty, ColumnType::Integer { .. }) {
                    c.autoincrement = !c.autoincrement;
                    log(lineage, format!("autoincrement of {tname}.{key} toggles"));
                }
            }
        }
        _ => {
            // Several columns of one table at once: a type change and a rename.
            edit_kind_pair(s, b, ti, &plain, lineage);
        }
    }
}

fn edit_kind_pair(
    s: &mut Source,
    b: &mut Schema,
    ti: usize,
    plain: &[String],
    lineage: &mut Lineage,
) {
    if plain.len() < 2 {
        return;
    }
    let tname = b.tables[ti].name.clone();
    let (first, second) = (plain[0].clone(), plain[1].clone());
    let ty = any_type(s);
    if let Some(c) = b.tables[ti].columns.iter_mut().find(|c| c.name == first) {
        c.ty = ty;
        c.default = None;
    }
    let taken = column_names(&b.tables[ti]);
    let new = unique_name(&taken, &format!("{second}_2"));
    rename_column(b, &tname, &second, &new);
    if let Some(origin) = lineage.columns.remove(&(tname.clone(), second.clone())) {
        if let Some(c) = b.tables[ti].columns.iter_mut().find(|c| c.name == new) {
            c.renamed_from = Some(origin.clone());
        }
        lineage.columns.insert((tname.clone(), new.clone()), origin);
    }
    lineage
        .edits
        .push(format!("retype {tname}.{first}, rename {second} -> {new}"));
}

/// Renames a column and every reference to it (key, uniques, indexes, foreign keys both ways,
/// checks), the way a model's attributes would all follow the field.
fn rename_column(b: &mut Schema, table: &str, old: &str, new: &str) {
    let rename = |c: &mut String| {
        if c == old {
            *c = new.to_string();
        }
    };
    for t in &mut b.tables {
        if t.name == table {
            for c in &mut t.columns {
                rename(&mut c.name);
            }
            t.primary_key.iter_mut().for_each(rename);
            for u in &mut t.uniques {
                u.columns.iter_mut().for_each(rename);
            }
            for i in &mut t.indexes {
                i.columns.iter_mut().for_each(rename);
                i.name = index_name(table, &i.columns);
            }
            for f in &mut t.foreign_keys {
                f.columns.iter_mut().for_each(rename);
            }
            for k in &mut t.checks {
                k.expr = k.expr.replace(&quote_ident(old), &quote_ident(new));
            }
        }
        for f in &mut t.foreign_keys {
            if f.ref_table == table {
                f.ref_columns.iter_mut().for_each(rename);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One case.

struct Case {
    a: Schema,
    rows: BTreeMap<String, Vec<Vec<Value>>>,
    b: Schema,
    lineage: Lineage,
    /// Which mutation of the down section to check `verify` against.
    mutation: usize,
}

fn gen_case(s: &mut Source) -> Case {
    let mut tables: Vec<Table> = Vec::new();
    for _ in 0..1 + s.below(3) {
        let taken: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
        let name = unique_name(&taken, s.pick::<&str>(TABLE_NAMES));
        let table = gen_table(s, name, &tables);
        tables.push(table);
    }
    let mut rows = BTreeMap::new();
    for table in &tables {
        let r = gen_rows(s, table, &rows, &tables);
        rows.insert(table.name.clone(), r);
    }
    let a = Schema {
        tables,
        ..Schema::default()
    };
    let mut b = a.clone();
    let mut lineage = identity_lineage(&a);
    for _ in 0..1 + s.below(4) {
        edit(s, &a, &rows, &mut b, &mut lineage);
    }
    let mutation = s.below(4);
    Case {
        a,
        rows,
        b,
        lineage,
        mutation,
    }
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => format!("int:{i}"),
        Value::Real(f) => format!("real:{f:?}"),
        Value::Text(t) => format!("text:{t:?}"),
        Value::Blob(b) => format!("blob:{b:02x?}"),
    }
}

/// A value as the application will read it: stored, or "any value" for a non-constant default.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    Exact(String),
    AnyNonNull,
}

impl Expect {
    fn matches(&self, actual: &str) -> bool {
        match self {
            Expect::Exact(e) => e == actual,
            Expect::AnyNonNull => actual != "NULL",
        }
    }
}

/// Computes conversions the way SQLite does them, by storing values into columns of the declared
/// type in a scratch in-memory database.
struct Converter {
    conn: Connection,
}

impl Converter {
    fn new() -> Converter {
        Converter {
            conn: Connection::open_in_memory().unwrap(),
        }
    }

    /// `value` stored into a column declared `column` (its type's affinity applies).
    fn store(&self, column: &Column, value: &Value) -> Value {
        self.conn
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS conv; CREATE TABLE conv (x {});",
                render_type(&column.ty)
            ))
            .unwrap();
        self.conn
            .execute("INSERT INTO conv (x) VALUES (?1)", [value])
            .unwrap();
        self.conn
            .query_row("SELECT x FROM conv", [], |r| r.get(0))
            .unwrap()
    }

    /// What a literal (default or backfill) becomes in a column declared `column`.
    fn literal(&self, column: &Column, literal: &DefaultValue) -> Expect {
        if let DefaultValue::Sql(sql) = literal {
            if sql.to_ascii_uppercase().contains("CURRENT") {
                return Expect::AnyNonNull;
            }
        }
        self.conn
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS conv; CREATE TABLE conv (x {}); INSERT INTO conv (x) VALUES ({});",
                render_type(&column.ty),
                render_default(literal)
            ))
            .unwrap();
        let v: Value = self
            .conn
            .query_row("SELECT x FROM conv", [], |r| r.get(0))
            .unwrap();
        Expect::Exact(show(&v))
    }
}

type Failure = String;

/// Inserts A's rows into a database at A (foreign keys on: the rows must satisfy A) and reads
/// them back as stored (A's affinities applied).
fn insert_rows(
    conn: &Connection,
    case: &Case,
) -> Result<BTreeMap<String, Vec<Vec<Value>>>, Failure> {
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    for table in &case.a.tables {
        let names: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(&table.name),
            names.join(", "),
            marks.join(", ")
        );
        for row in case.rows.get(&table.name).into_iter().flatten() {
            conn.execute(&sql, rusqlite::params_from_iter(row.iter()))
                .map_err(|e| format!("generator bug: row {row:?} does not fit A: {e}"))?;
        }
    }
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    let mut stored = BTreeMap::new();
    for table in &case.a.tables {
        stored.insert(table.name.clone(), read_table(conn, table)?);
    }
    Ok(stored)
}

fn read_table(conn: &Connection, table: &Table) -> Result<Vec<Vec<Value>>, Failure> {
    let names: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "SELECT {} FROM {}",
        names.join(", "),
        quote_ident(&table.name)
    );
    let mut statement = conn.prepare(&sql).map_err(|e| format!("{sql}: {e}"))?;
    let n = names.len();
    let rows = statement
        .query_map([], |r| {
            (0..n)
                .map(|i| r.get(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(|e| e.to_string())
}

/// Compares a table's rows with the expected ones, as multisets (a rebuild may renumber rowids
/// of tables without an INTEGER key, so rows are matched by content, not position).
fn compare_rows(
    what: &str,
    table: &Table,
    actual: &[Vec<Value>],
    expected: &[Vec<Expect>],
) -> Result<(), Failure> {
    let mut left: Vec<Vec<String>> = actual
        .iter()
        .map(|r| r.iter().map(show).collect())
        .collect();
    left.sort();
    if left.len() != expected.len() {
        return Err(format!(
            "{what}: table {} has {} rows, expected {}",
            table.name,
            left.len(),
            expected.len()
        ));
    }
    // Exact rows first, then rows with wildcards take any remaining match.
    let mut pending: Vec<&Vec<Expect>> = expected.iter().collect();
    pending.sort_by_key(|r| r.iter().filter(|e| matches!(e, Expect::AnyNonNull)).count());
    for row in pending {
        let found = left
            .iter()
            .position(|l| l.iter().zip(row).all(|(a, e)| e.matches(a)));
        match found {
            Some(i) => {
                left.remove(i);
            }
            None => {
                return Err(format!(
                    "{what}: table {} has no row matching {:?}\n  actual rows: {:?}",
                    table.name,
                    row,
                    actual
                        .iter()
                        .map(|r| r.iter().map(show).collect::<Vec<_>>())
                        .collect::<Vec<_>>()
                ))
            }
        }
    }
    Ok(())
}

fn migration(revision: &str, parents: &[&str], up: &str, down: &str) -> Migration {
    let file = MigrationFile {
        revision: revision.to_string(),
        parents: parents.iter().map(|p| p.to_string()).collect(),
        message: revision.to_string(),
        up: up.to_string(),
        down: down.to_string(),
    };
    let text = file.render();
    Migration::from_text(&text, format!("migrations/{revision}.sql")).unwrap()
}

/// The generated SQL of a case, for the report.
#[derive(Default)]
struct Generated {
    up: String,
    down: String,
}

fn run_case(case: &Case, generated: &mut Generated) -> Result<(), Failure> {
    let dialect = Sqlite;
    // The first migration, as `migrate` writes it for the models A on an empty project.
    let a_wanted = dialect.normalize(&case.a);
    let empty = Schema::default();
    let create = dialect
        .plan(
            &empty,
            &a_wanted,
            &diff(&empty, &a_wanted, &Renames::default()),
        )
        .map_err(|e| format!("planning A: {e}"))?;
    let create_sql = render_steps(&create.steps);
    let shadow = replay([("r1", create_sql.as_str())]).map_err(|e| format!("replaying A: {e}"))?;
    let baseline = introspect(&shadow).map_err(|e| e.to_string())?;
    if comparable(&baseline) != comparable(&a_wanted) {
        return Err(format!(
            "A does not round-trip:\n  wanted {:?}\n  got {:?}",
            comparable(&a_wanted),
            comparable(&baseline)
        ));
    }

    // `propose`: the same calls, in the same order, as the CLI's planning.
    let mut wanted = dialect.normalize(&case.b);
    wanted.views = baseline.views.clone();
    wanted.triggers = baseline.triggers.clone();
    let renames = Renames::from_hints(&wanted);
    let changes = diff(&baseline, &wanted, &renames);
    answer_prompts(&baseline, &mut wanted, &changes);
    let up = dialect
        .plan(&baseline, &wanted, &changes)
        .map_err(|e| format!("planning up: {e}"))?;
    let reverse = diff(&wanted, &baseline, &renames.inverted());
    let mut down_target = baseline.clone();
    fill_restored_columns(&mut down_target, &reverse);
    let down = dialect
        .plan(&wanted.without_hints(), &down_target, &reverse)
        .map_err(|e| format!("planning down: {e}"))?;
    generated.up = render_steps(&up.steps);
    generated.down = render_steps(&down.steps);
    let mut shadow = shadow;
    verify(&mut shadow, &wanted, &generated.up, &generated.down)
        .map_err(|e| format!("verify refused the generated file: {e}"))?;

    check_verify_rejects_wrong_down(case, &create_sql, &wanted, generated)?;

    // The real runner on a file database holding the rows.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let migrations = Migrations::new(vec![
        migration("r1", &[], &create_sql, ""),
        migration("r2", &["r1"], &generated.up, &generated.down),
    ])
    .unwrap();
    let mut conn = Connection::open(&path).unwrap();
    upgrade(&mut conn, &migrations, "r1", &RunOptions::default())
        .map_err(|e| format!("upgrade to A: {e}"))?;
    let stored = insert_rows(&conn, case)?;

    upgrade(&mut conn, &migrations, "head", &RunOptions::default())
        .map_err(|e| format!("upgrade A -> B refused: {e}"))?;
    health(&conn, "after up")?;
    let live = comparable(&introspect(&conn).map_err(|e| e.to_string())?);
    if live != comparable(&wanted) {
        return Err(format!(
            "after up the schema is not B:\n  expected {:?}\n  actual   {:?}",
            comparable(&wanted),
            live
        ));
    }
    let conv = Converter::new();
    let a_by_name = |name: &str| case.a.table(name).cloned();
    for table in &wanted.tables {
        let origin = case.lineage.tables.get(&table.name);
        let source_rows = origin
            .and_then(|o| stored.get(o))
            .cloned()
            .unwrap_or_default();
        let a_table = origin.and_then(|o| a_by_name(o));
        let expected: Vec<Vec<Expect>> = source_rows
            .iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .map(|column| {
                        let from = a_table.as_ref().and_then(|at| {
                            let a_col = case
                                .lineage
                                .columns
                                .get(&(table.name.clone(), column.name.clone()))?;
                            at.columns.iter().position(|c| &c.name == a_col)
                        });
                        expect_up(&conv, column, from.map(|i| &row[i]))
                    })
                    .collect()
            })
            .collect();
        let actual = read_table(&conn, table)?;
        compare_rows("after up", table, &actual, &expected)?;
    }

    downgrade(&mut conn, &migrations, "-1", &RunOptions::default())
        .map_err(|e| format!("downgrade B -> A refused: {e}"))?;
    health(&conn, "after down")?;
    let live = comparable(&introspect(&conn).map_err(|e| e.to_string())?);
    if live != comparable(&baseline) {
        return Err(format!(
            "after down the schema is not A:\n  expected {:?}\n  actual   {:?}",
            comparable(&baseline),
            live
        ));
    }
    for a_table in &baseline.tables {
        let b_name = case
            .lineage
            .tables
            .iter()
            .find(|(_, a)| *a == &a_table.name)
            .map(|(b, _)| b.clone());
        let b_table = b_name.as_ref().and_then(|n| wanted.table(n));
        let source_rows = match b_table {
            Some(_) => stored.get(&a_table.name).cloned().unwrap_or_default(),
            // A dropped table comes back empty.
            None => Vec::new(),
        };
        let a_declared = case.a.table(&a_table.name).cloned();
        let expected: Vec<Vec<Expect>> = source_rows
            .iter()
            .map(|row| {
                a_table
                    .columns
                    .iter()
                    .map(|column| {
                        let a_pos = a_declared
                            .as_ref()
                            .and_then(|t| t.columns.iter().position(|c| c.name == column.name));
                        let value = a_pos.map(|i| &row[i]);
                        let b_column = b_table.and_then(|bt| {
                            let b_name = b_name.as_ref()?;
                            let ((_, b_col), _) = case
                                .lineage
                                .columns
                                .iter()
                                .find(|((t, _), a)| t == b_name && *a == &column.name)?;
                            bt.column(b_col).cloned()
                        });
                        let keyed = a_table.primary_key.contains(&column.name)
                            || a_table
                                .uniques
                                .iter()
                                .any(|u| u.columns.contains(&column.name))
                            || a_table
                                .indexes
                                .iter()
                                .any(|i| i.unique && i.columns.contains(&column.name));
                        expect_down(&conv, keyed, column, b_column.as_ref(), value)
                    })
                    .collect()
            })
            .collect();
        let actual = read_table(&conn, a_table)?;
        compare_rows("after down", a_table, &actual, &expected)?;
    }
    Ok(())
}

/// What `migrate` asks a person for (a value for existing rows of a column that needs one and
/// has neither default nor backfill), answered the way a person would: the type's zero, typed
/// as SQL. The same rule as the CLI's prompt, so generated edits need not avoid the question.
fn answer_prompts(baseline: &Schema, wanted: &mut Schema, changes: &[qvdiff_core::Change]) {
    use qvdiff_core::Change;
    let needs_value = |c: &Column| !c.nullable && c.default.is_none() && c.backfill.is_none();
    for change in changes {
        let (table, column) = match change {
            Change::AddColumn { table, column } if needs_value(column) => (table, column),
            Change::AlterColumn { table, from, to } if from.nullable && needs_value(to) => {
                (table, to)
            }
            _ => continue,
        };
        if baseline.table(table).is_none() {
            continue;
        }
        let answer = render_default(&restore_placeholder(&column.ty));
        if let Some(c) = wanted
            .tables
            .iter_mut()
            .find(|t| &t.name == table)
            .and_then(|t| t.columns.iter_mut().find(|c| c.name == column.name))
        {
            c.backfill = Some(DefaultValue::Sql(answer));
        }
    }
}

/// The value a column of B holds after up, given the value of the A column it comes from.
fn expect_up(conv: &Converter, column: &Column, from: Option<&Value>) -> Expect {
    match from {
        Some(Value::Null) | None => {
            let fill = match from {
                // An existing NULL takes the backfill, else the default, when the column became
                // NOT NULL; a nullable column keeps it.
                Some(_) if column.nullable => None,
                Some(_) => column.backfill.as_ref().or(column.default.as_ref()),
                // A new column: backfill, else default, else NULL.
                None => column.backfill.as_ref().or(column.default.as_ref()),
            };
            match fill {
                Some(value) => conv.literal(column, value),
                None => Expect::Exact("NULL".to_string()),
            }
        }
        Some(value) => Expect::Exact(show(&conv.store(column, value))),
    }
}

/// The value a column of A holds after down. `b_column`: the B column it went through (None when
/// up dropped it). `value`: the value before up.
fn expect_down(
    conv: &Converter,
    keyed: bool,
    column: &Column,
    b_column: Option<&Column>,
    value: Option<&Value>,
) -> Expect {
    let Some(b_column) = b_column else {
        // Dropped by up: the way back re-adds it with its default in A, else (NOT NULL) the
        // type's zero, else NULL.
        // The rule of `fill_restored_columns`.
        return match (&column.default, column.nullable, keyed) {
            // In a key or unique: the row's rowid, distinct per row.
            (Some(_), _, true) | (None, false, true) => Expect::AnyNonNull,
            (Some(d), _, false) => conv.literal(column, d),
            (None, false, false) => conv.literal(column, &restore_placeholder(&column.ty)),
            (None, true, _) => Expect::Exact("NULL".to_string()),
        };
    };
    match expect_up(conv, b_column, value) {
        Expect::AnyNonNull => Expect::AnyNonNull,
        Expect::Exact(_) => {
            let Some(value) = value else {
                return Expect::Exact("NULL".to_string());
            };
            let up_value = if matches!(value, Value::Null) {
                match b_column.backfill.as_ref().or(b_column.default.as_ref()) {
                    Some(fill) if !b_column.nullable => {
                        // Filled on the way up; the way back keeps it, converted back.
                        let Expect::Exact(_) = conv.literal(b_column, fill) else {
                            return Expect::AnyNonNull;
                        };
                        stored_literal(conv, b_column, fill)
                    }
                    _ => Value::Null,
                }
            } else {
                conv.store(b_column, value)
            };
            if matches!(up_value, Value::Null) {
                Expect::Exact("NULL".to_string())
            } else {
                Expect::Exact(show(&conv.store(column, &up_value)))
            }
        }
    }
}

fn stored_literal(conv: &Converter, column: &Column, literal: &DefaultValue) -> Value {
    conv.conn
        .execute_batch(&format!(
            "DROP TABLE IF EXISTS conv; CREATE TABLE conv (x {}); INSERT INTO conv (x) VALUES ({});",
            render_type(&column.ty),
            render_default(literal)
        ))
        .unwrap();
    conv.conn
        .query_row("SELECT x FROM conv", [], |r| r.get(0))
        .unwrap()
}

fn health(conn: &Connection, what: &str) -> Result<(), Failure> {
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if integrity != "ok" {
        return Err(format!("{what}: integrity_check: {integrity}"));
    }
    let violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(|e| e.to_string())?;
    if violations > 0 {
        return Err(format!("{what}: {violations} foreign key violation(s)"));
    }
    Ok(())
}

/// A down section changed so that it may no longer give A back: one step removed, or a schema
/// change appended. `verify`'s verdict must equal what applying it really gives.
fn check_verify_rejects_wrong_down(
    case: &Case,
    create_sql: &str,
    wanted: &Schema,
    generated: &Generated,
) -> Result<(), Failure> {
    let statements: Vec<&str> = split_steps(&generated.down);
    let first_table = case
        .a
        .tables
        .first()
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let mutated = match case.mutation {
        0 if !statements.is_empty() => {
            let skip = statements.len() - 1;
            statements
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, s)| *s)
                .collect::<Vec<_>>()
                .join("\n")
        }
        1 if statements.len() > 1 => statements[1..].join("\n"),
        2 => format!(
            "{}\nALTER TABLE {} ADD COLUMN \"qvdiff_mutant\" TEXT;\n",
            generated.down,
            quote_ident(&first_table)
        ),
        _ => format!(
            "{}\nCREATE TABLE \"qvdiff_mutant\" (\"x\" INTEGER);\n",
            generated.down
        ),
    };
    // The truth, found without `verify`: up, then the mutated down, then up again.
    let truth = (|| -> Result<(), ()> {
        let mut conn = replay([("r1", create_sql)]).map_err(|_| ())?;
        let before = comparable(&introspect(&conn).map_err(|_| ())?);
        apply_script(&mut conn, "up", &generated.up).map_err(|_| ())?;
        apply_script(&mut conn, "down", &mutated).map_err(|_| ())?;
        if comparable(&introspect(&conn).map_err(|_| ())?) != before {
            return Err(());
        }
        apply_script(&mut conn, "up", &generated.up).map_err(|_| ())?;
        if comparable(&introspect(&conn).map_err(|_| ())?) != comparable(wanted) {
            return Err(());
        }
        Ok(())
    })();
    let mut shadow = replay([("r1", create_sql)]).map_err(|e| e.to_string())?;
    let verdict = verify(&mut shadow, wanted, &generated.up, &mutated);
    match (truth.is_ok(), verdict) {
        (true, Ok(())) | (false, Err(_)) => Ok(()),
        (false, Ok(())) => Err(format!("verify passed a wrong down section:\n{mutated}")),
        (true, Err(e)) => Err(format!(
            "verify refused a down section that gives A back: {e}\n{mutated}"
        )),
    }
}

/// The statements of a rendered section (a rebuild's comment stays with its statement).
fn split_steps(section: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, line) in section.split_inclusive('\n').scan(0, |at, l| {
        let s = *at;
        *at += l.len();
        Some((s, l))
    }) {
        let trimmed = line.trim_end();
        let code = trimmed.split("  -- DESTRUCTIVE").next().unwrap_or(trimmed);
        if code.ends_with(';') {
            out.push(section[start..i + line.len()].trim_end());
            start = i + line.len();
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running, shrinking, reporting.

fn attempt(recorded: Vec<u32>) -> (Result<(), Failure>, String, Vec<u32>) {
    let mut source = Source::replay(recorded);
    let case = gen_case(&mut source);
    let used = source.recorded[..source.pos.min(source.recorded.len())].to_vec();
    let mut generated = Generated::default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_case(&case, &mut generated)
    }))
    .unwrap_or_else(|panic| {
        Err(format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        ))
    });
    (result, describe(&case, &generated), used)
}

/// Shortens and lowers the recorded choices while the case still fails.
fn shrink(mut best: Vec<u32>) -> (Vec<u32>, Failure, String) {
    let (result, mut report, _) = attempt(best.clone());
    let mut failure = result.err().unwrap_or_default();
    let mut budget = 1500usize;
    let mut improved = true;
    while improved && budget > 0 {
        improved = false;
        for chunk in [8usize, 4, 2, 1] {
            let mut i = 0;
            while i + chunk <= best.len() && budget > 0 {
                let mut candidate = best.clone();
                candidate.drain(i..i + chunk);
                budget -= 1;
                if let (Err(f), r, _) = attempt(candidate.clone()) {
                    best = candidate;
                    failure = f;
                    report = r;
                    improved = true;
                } else {
                    i += 1;
                }
            }
        }
        for i in 0..best.len() {
            for lower in [0u32, best[i] / 2, best[i].saturating_sub(1)] {
                if lower >= best[i] || budget == 0 {
                    continue;
                }
                let mut candidate = best.clone();
                candidate[i] = lower;
                budget -= 1;
                if let (Err(f), r, _) = attempt(candidate.clone()) {
                    best = candidate;
                    failure = f;
                    report = r;
                    improved = true;
                    break;
                }
            }
        }
    }
    (best, failure, report)
}

fn describe(case: &Case, generated: &Generated) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "edits: {:?}", case.lineage.edits);
    let _ = writeln!(out, "A: {}", qvdiff_core::manifest::to_json(&case.a));
    let _ = writeln!(out, "B: {}", qvdiff_core::manifest::to_json(&case.b));
    for (table, rows) in &case.rows {
        for row in rows {
            let _ = writeln!(
                out,
                "row {table}: {}",
                row.iter().map(show).collect::<Vec<_>>().join(" | ")
            );
        }
    }
    let _ = writeln!(out, "-- up\n{}-- down\n{}", generated.up, generated.down);
    out
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run_many(default_cases: u64) {
    let seeds: Vec<u64> = match std::env::var("QVDIFF_PROP_SEED") {
        Ok(seed) => vec![seed.parse().expect("QVDIFF_PROP_SEED is a number")],
        Err(_) => {
            let base = env_number("QVDIFF_PROP_BASE", 0);
            (base..base + env_number("QVDIFF_PROP_CASES", default_cases)).collect()
        }
    };
    for seed in seeds {
        let mut source = Source::seeded(seed);
        let case = gen_case(&mut source);
        if std::env::var_os("QVDIFF_PROP_SHOW").is_some() {
            // What the cases cover, to check the generator's spread.
            eprintln!("seed {seed}: {:?}", case.lineage.edits);
        }
        let recorded = source.recorded;
        let (result, _, _) = attempt(recorded.clone());
        if let Err(first) = result {
            let (minimal, failure, report) = shrink(recorded);
            panic!(
                "property case failed: seed {seed} (rerun: QVDIFF_PROP_SEED={seed})\n\
                 first failure: {first}\n\nminimal case (choices {minimal:?}):\n{failure}\n{report}"
            );
        }
    }
}

#[test]
fn property_random_schemas_edits_and_rows() {
    run_many(500);
}

#[test]
#[ignore = "10 000 cases: cargo test -p qvdiff-sqlite --release --test property -- --ignored"]
fn property_ten_thousand_cases() {
    run_many(10_000);
}

#[test]
fn property_source_replays_and_shrinks_to_zero() {
    // The machinery itself: a seeded case is reproduced from its recording, and an empty
    // recording is the simplest case (one table, no rows).
    let mut seeded = Source::seeded(7);
    let first = gen_case(&mut seeded);
    let mut replayed = Source::replay(seeded.recorded.clone());
    let again = gen_case(&mut replayed);
    assert_eq!(first.a, again.a);
    assert_eq!(first.b, again.b);
    let simplest = gen_case(&mut Source::replay(Vec::new()));
    assert_eq!(simplest.a.tables.len(), 1);
    assert!(simplest.rows.values().all(|r| r.is_empty()));
}
