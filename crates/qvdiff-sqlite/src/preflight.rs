//! Turning "a constraint failed" into "these rows are in the way".
//!
//! When a migration step fails on existing data (a column becomes NOT NULL over NULLs, a UNIQUE
//! constraint over duplicates) or leaves rows pointing at missing parents, SQLite only says which
//! constraint failed. Inside the still-open migration transaction — the failing statement itself
//! was undone by SQLite, everything before it is visible — these read queries count the rows in
//! the way and pick a few example keys, so the refusal tells the user exactly what to fix. The
//! caller rolls back afterwards: nothing is changed.

use crate::error::ForeignKeyViolation;
use crate::plan::REBUILD_PREFIX;
use crate::render::quote_ident;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::collections::BTreeMap;

pub use qvdiff_core::data_problem::{
    DataProblem, DataProblemKind, DuplicateGroup, MAX_EXAMPLE_KEYS, MAX_EXAMPLE_VALUES,
};

/// The table a constraint message names: a rebuild's new table stands for the table it
/// replaces, whose rows are the ones being copied.
fn source_table(name: &str) -> &str {
    name.strip_prefix(REBUILD_PREFIX).unwrap_or(name)
}

/// `table.column` split in two.
fn split_qualified(name: &str) -> Option<(&str, &str)> {
    name.trim().rsplit_once('.')
}

/// The rows behind a failed `statement`, if SQLite's `message` is a NOT NULL or UNIQUE /
/// PRIMARY KEY failure and existing rows explain it. `None` when the message is of another kind
/// or no existing row explains it (e.g. a hand-written `UPDATE` wrote the NULL itself): the
/// plain statement error is then the better report.
pub(crate) fn explain_constraint_failure(
    conn: &Connection,
    statement: &str,
    message: &str,
) -> Option<DataProblem> {
    if let Some(rest) = message.split("CHECK constraint failed:").nth(1) {
        return removed_variant_rows(conn, rest.trim()).ok().flatten();
    }
    if let Some(rest) = message.split("NOT NULL constraint failed:").nth(1) {
        let (table, column) = split_qualified(rest)?;
        return null_rows(conn, source_table(table), column).ok().flatten();
    }
    let rest = message
        .split("UNIQUE constraint failed:")
        .nth(1)
        .or_else(|| message.split("PRIMARY KEY constraint failed:").nth(1))?;
    let mut table = None;
    let mut columns = Vec::new();
    for qualified in rest.split(',') {
        let (t, column) = split_qualified(qualified)?;
        table.get_or_insert(source_table(t));
        columns.push(column.to_string());
    }
    let table = table?;
    // A partial unique index constrains only the rows its condition selects. A failed
    // `CREATE INDEX` was undone, so its condition is in the statement; any other statement met
    // an index that exists.
    let words: Vec<String> = crate::sqltext::tokens(statement)
        .take(3)
        .map(|t| t.text(statement).to_ascii_uppercase())
        .collect();
    let creates_index =
        words.first().is_some_and(|w| w == "CREATE") && words.iter().skip(1).any(|w| w == "INDEX");
    let predicate = if creates_index {
        crate::sqltext::index_predicate(statement).map(str::to_string)
    } else {
        partial_unique_predicate(conn, table, &columns)
            .ok()
            .flatten()
    };
    duplicate_rows(conn, table, &columns, predicate.as_deref())
        .ok()
        .flatten()
}

/// Every group of new foreign-key violations (per child and parent table), counted, with
/// example keys.
pub(crate) fn explain_orphans(
    conn: &Connection,
    violations: &[ForeignKeyViolation],
) -> Vec<DataProblem> {
    let mut groups: BTreeMap<(&str, &str), Vec<Option<i64>>> = BTreeMap::new();
    for v in violations {
        groups
            .entry((v.table.as_str(), v.parent.as_str()))
            .or_default()
            .push(v.rowid);
    }
    groups
        .into_iter()
        .map(|((table, parent), rowids)| {
            let columns = foreign_key_columns(conn, table, parent).unwrap_or_default();
            let key = primary_key(conn, table).unwrap_or_else(|_| rowid_key());
            let example_keys = rowids
                .iter()
                .flatten()
                .take(MAX_EXAMPLE_KEYS)
                .filter_map(|rowid| key_of_rowid(conn, table, &key, *rowid).ok())
                .collect();
            DataProblem {
                table: table.to_string(),
                kind: DataProblemKind::Orphan {
                    columns,
                    parent: parent.to_string(),
                },
                rows: rowids.len() as u64,
                key_label: key.label,
                example_keys,
            }
        })
        .collect()
}

/// The declared type of every column of every table, by `(table, column)`: taken before a
/// section runs, so that [`unconverted_values`] finds the columns whose type it changed.
pub(crate) fn declared_types(conn: &Connection) -> rusqlite::Result<DeclaredTypes> {
    let mut statement = conn.prepare(
        "SELECT m.name, p.name, p.type FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let rows = statement.query_map([], |row| {
        let table: String = row.get(0)?;
        let column: String = row.get(1)?;
        let declared: String = row.get(2)?;
        Ok(((table, column), declared))
    })?;
    rows.collect()
}

/// Declared column types by `(table, column)`.
pub(crate) type DeclaredTypes = BTreeMap<(String, String), String>;

/// The storage classes (`typeof`) a value must have in a column of `declared` type to have been
/// converted to it (SQLite's type affinity rules, as qvdiff's types read them back); `None`
/// where any value is read back as the type (text, blobs, dates and times, which SQLite stores
/// as text). The runner refuses a type change that leaves any other value behind.
pub fn converted_storage_classes(declared: &str) -> Option<&'static [&'static str]> {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        Some(&["integer"])
    } else if ["CHAR", "CLOB", "TEXT", "BLOB"]
        .iter()
        .any(|t| upper.contains(t))
        || upper.trim().is_empty()
    {
        None
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|t| upper.contains(t)) {
        Some(&["real"])
    } else if upper.starts_with("BOOL") {
        Some(&["integer"])
    } else if upper.starts_with("NUMERIC") || upper.starts_with("DECIMAL") {
        Some(&["integer", "real"])
    } else {
        None
    }
}

/// Rows holding a value that SQLite did not convert to its column's new type, in every column
/// whose declared type differs from `before` (a type change by a table rebuild): SQLite's type
/// affinity keeps such a value as it was (`'#f00'` stays text in an INTEGER column), and the
/// app's decoder would fail on it later. One problem per column, with examples.
pub(crate) fn unconverted_values(
    conn: &Connection,
    before: &DeclaredTypes,
) -> rusqlite::Result<Vec<DataProblem>> {
    let mut problems = Vec::new();
    for ((table, column), declared) in declared_types(conn)? {
        let changed = before
            .get(&(table.clone(), column.clone()))
            .is_some_and(|old| !old.eq_ignore_ascii_case(&declared));
        let Some(classes) = converted_storage_classes(&declared).filter(|_| changed) else {
            continue;
        };
        let storage: Vec<String> = classes.iter().map(|c| format!("'{c}'")).collect();
        let quoted = quote_ident(&column);
        let condition = format!(
            "{quoted} IS NOT NULL AND typeof({quoted}) NOT IN ({})",
            storage.join(", ")
        );
        let count: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM {} WHERE {condition}",
                quote_ident(&table)
            ),
            [],
            |row| row.get(0),
        )?;
        if count == 0 {
            continue;
        }
        let key = primary_key(conn, &table)?;
        let width = key.columns.len();
        let mut statement = conn.prepare(&format!(
            "SELECT {key_list}, {quoted} FROM {} WHERE {condition} ORDER BY {key_list} \
             LIMIT {MAX_EXAMPLE_KEYS}",
            quote_ident(&table),
            key_list = key.columns.join(", ")
        ))?;
        let mut rows = statement.query([])?;
        let (mut example_keys, mut values) = (Vec::new(), Vec::new());
        while let Some(row) = rows.next()? {
            example_keys.push(row_literal(row, 0..width)?);
            values.push(row_literal(row, width..width + 1)?);
        }
        problems.push(DataProblem {
            table,
            kind: DataProblemKind::Unconverted {
                column,
                declared_type: declared,
                values,
            },
            rows: count as u64,
            key_label: key.label,
            example_keys,
        });
    }
    Ok(problems)
}

/// How rows of a table are identified in messages.
struct RowKey {
    /// Quoted key columns, or `rowid`.
    columns: Vec<String>,
    /// `ids`, `rowids`, or the key column names.
    label: String,
}

fn rowid_key() -> RowKey {
    RowKey {
        columns: vec!["rowid".to_string()],
        label: "rowids".to_string(),
    }
}

/// The primary key of `table` (the rowid when it has none).
fn primary_key(conn: &Connection, table: &str) -> rusqlite::Result<RowKey> {
    let mut statement =
        conn.prepare("SELECT name, pk FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    let names = statement
        .query_map([table], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(match names.as_slice() {
        [] => rowid_key(),
        [single] if single.eq_ignore_ascii_case("id") => RowKey {
            columns: vec![quote_ident(single)],
            label: "ids".to_string(),
        },
        _ => RowKey {
            columns: names.iter().map(|n| quote_ident(n)).collect(),
            label: names.join(", "),
        },
    })
}

/// A value as a SQL literal, for example keys.
fn literal(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(r) => r.to_string(),
        ValueRef::Text(t) => crate::render::quote_string(&String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("<{} byte blob>", b.len()),
    }
}

/// Runs `sql` and formats each row's key columns (the first `width` columns).
fn keys(conn: &Connection, sql: &str, width: usize) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(row_literal(row, 0..width)?);
    }
    Ok(out)
}

/// The columns `range` of `row` as one SQL literal (a parenthesised tuple for several).
fn row_literal(row: &rusqlite::Row<'_>, range: std::ops::Range<usize>) -> rusqlite::Result<String> {
    let parts = range
        .map(|i| row.get_ref(i).map(literal))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(if parts.len() == 1 {
        parts.concat()
    } else {
        format!("({})", parts.join(", "))
    })
}

fn key_of_rowid(
    conn: &Connection,
    table: &str,
    key: &RowKey,
    rowid: i64,
) -> rusqlite::Result<String> {
    let sql = format!(
        "SELECT {} FROM {} WHERE rowid = {rowid}",
        key.columns.join(", "),
        quote_ident(table)
    );
    keys(conn, &sql, key.columns.len())?
        .into_iter()
        .next()
        .ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// The rows behind a failed enum CHECK named `type_name` (an enum column's CHECK carries its
/// type's name): in every table whose `CREATE TABLE` has such a CHECK, the rows of the table it
/// is copied from (a rebuild's source) holding a value the CHECK does not list.
fn removed_variant_rows(
    conn: &Connection,
    type_name: &str,
) -> rusqlite::Result<Option<DataProblem>> {
    let mut statement = conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")?;
    let tables: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, sql) in tables {
        for (column, check_name, allowed) in crate::sqltext::parse_create_table(&sql).enum_checks {
            if check_name != type_name {
                continue;
            }
            let table = source_table(&name);
            let exists: i64 = conn.query_row(
                "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
                [table, column.as_str()],
                |row| row.get(0),
            )?;
            if table == name || exists == 0 {
                continue;
            }
            let list: Vec<String> = allowed
                .iter()
                .map(|v| crate::render::quote_string(v))
                .collect();
            let condition = format!(
                "{col} IS NOT NULL AND {col} NOT IN ({})",
                list.join(", "),
                col = quote_ident(&column)
            );
            let from = format!("FROM {} WHERE {condition}", quote_ident(table));
            let count: i64 =
                conn.query_row(&format!("SELECT count(*) {from}"), [], |row| row.get(0))?;
            if count == 0 {
                continue;
            }
            let mut values_statement = conn.prepare(&format!(
                "SELECT DISTINCT {} {from} ORDER BY 1 LIMIT {MAX_EXAMPLE_KEYS}",
                quote_ident(&column)
            ))?;
            let values: Vec<String> = values_statement
                .query_map([], |row| Ok(literal(row.get_ref(0)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let key = primary_key(conn, table)?;
            let example_keys = keys(
                conn,
                &format!(
                    "SELECT {key_list} {from} ORDER BY {key_list} LIMIT {MAX_EXAMPLE_KEYS}",
                    key_list = key.columns.join(", ")
                ),
                key.columns.len(),
            )?;
            return Ok(Some(DataProblem {
                table: table.to_string(),
                kind: DataProblemKind::NotAVariant {
                    column,
                    type_name: type_name.to_string(),
                    values,
                },
                rows: count as u64,
                key_label: key.label,
                example_keys,
            }));
        }
    }
    Ok(None)
}

fn null_rows(
    conn: &Connection,
    table: &str,
    column: &str,
) -> rusqlite::Result<Option<DataProblem>> {
    let condition = format!("{} IS NULL", quote_ident(column));
    let count: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM {} WHERE {condition}",
            quote_ident(table)
        ),
        [],
        |row| row.get(0),
    )?;
    if count == 0 {
        return Ok(None);
    }
    let key = primary_key(conn, table)?;
    let example_keys = keys(
        conn,
        &format!(
            "SELECT {key_list} FROM {} WHERE {condition} ORDER BY {key_list} LIMIT {MAX_EXAMPLE_KEYS}",
            quote_ident(table),
            key_list = key.columns.join(", ")
        ),
        key.columns.len(),
    )?;
    Ok(Some(DataProblem {
        table: table.to_string(),
        kind: DataProblemKind::Null {
            column: column.to_string(),
        },
        rows: count as u64,
        key_label: key.label,
        example_keys,
    }))
}

/// The condition of the partial unique index of `table` over exactly `columns`, when that is the
/// only kind of unique index over them (a full one would refuse the same rows and more).
fn partial_unique_predicate(
    conn: &Connection,
    table: &str,
    columns: &[String],
) -> rusqlite::Result<Option<String>> {
    let mut statement = conn.prepare(
        "SELECT il.partial, m.sql, \
                (SELECT group_concat(ii.name, char(31)) FROM \
                   (SELECT name FROM pragma_index_info(il.name) ORDER BY seqno) AS ii) \
         FROM pragma_index_list(?1) AS il \
         LEFT JOIN sqlite_master AS m ON m.type = 'index' AND m.name = il.name \
         WHERE il.\"unique\"",
    )?;
    let wanted = columns.join("\u{1f}");
    let mut predicate = None;
    let mut rows = statement.query([table])?;
    while let Some(row) = rows.next()? {
        let partial: bool = row.get(0)?;
        let sql: Option<String> = row.get(1)?;
        let indexed: Option<String> = row.get(2)?;
        if indexed.as_deref() != Some(wanted.as_str()) {
            continue;
        }
        if !partial {
            return Ok(None);
        }
        predicate = predicate.or_else(|| {
            sql.as_deref()
                .and_then(crate::sqltext::index_predicate)
                .map(str::to_string)
        });
    }
    Ok(predicate)
}

/// Rows of `table` that share their value of `columns` (among those meeting `predicate`).
fn duplicate_rows(
    conn: &Connection,
    table: &str,
    columns: &[String],
    predicate: Option<&str>,
) -> rusqlite::Result<Option<DataProblem>> {
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let column_list = quoted.join(", ");
    // NULLs never collide in a UNIQUE constraint, so rows with one are not duplicates.
    let not_null = quoted
        .iter()
        .map(|c| format!("{c} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let not_null = match predicate {
        Some(predicate) => format!("{not_null} AND ({predicate})"),
        None => not_null,
    };
    let table_sql = quote_ident(table);
    let groups = format!(
        "SELECT {column_list}, count(*) AS n FROM {table_sql} WHERE {not_null} \
         GROUP BY {column_list} HAVING count(*) > 1"
    );
    let (values, rows): (i64, Option<i64>) = conn.query_row(
        &format!("SELECT count(*), sum(n) FROM ({groups})"),
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let rows = rows.unwrap_or(0);
    if values == 0 {
        return Ok(None);
    }
    let key = primary_key(conn, table)?;
    let key_list = key.columns.join(", ");
    // Rows in key order; each value's group is shown in the order of its first row.
    let mut statement = conn.prepare(&format!(
        "SELECT {key_list}, {column_list} FROM {table_sql} WHERE {not_null} AND ({column_list}) IN \
         (SELECT {column_list} FROM {table_sql} WHERE {not_null} GROUP BY {column_list} \
          HAVING count(*) > 1) \
         ORDER BY {key_list}"
    ))?;
    let mut duplicates = statement.query([])?;
    let width = key.columns.len();
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    while let Some(row) = duplicates.next()? {
        let value = row_literal(row, width..width + columns.len())?;
        let group = match groups.iter().position(|g| g.value == value) {
            Some(at) => &mut groups[at],
            None if groups.len() < MAX_EXAMPLE_VALUES => {
                groups.push(DuplicateGroup {
                    value,
                    keys: Vec::new(),
                    more: false,
                });
                groups.last_mut().expect("just pushed")
            }
            None => continue,
        };
        if group.keys.len() < MAX_EXAMPLE_KEYS {
            group.keys.push(row_literal(row, 0..width)?);
        } else {
            group.more = true;
        }
        // Every shown value is full and known to have more rows: nothing left to learn.
        if groups.len() == MAX_EXAMPLE_VALUES && groups.iter().all(|g| g.more) {
            break;
        }
    }
    let example_keys = groups.iter().flat_map(|g| g.keys.clone()).collect();
    Ok(Some(DataProblem {
        table: table.to_string(),
        kind: DataProblemKind::Duplicate {
            columns: columns.to_vec(),
            duplicated_values: values as u64,
            groups,
        },
        rows: rows as u64,
        key_label: key.label,
        example_keys,
    }))
}

/// The columns of `table` that reference `parent` (several foreign keys to one parent are
/// listed together).
fn foreign_key_columns(
    conn: &Connection,
    table: &str,
    parent: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT \"from\" FROM pragma_foreign_key_list(?1) WHERE \"table\" = ?2 ORDER BY id, seq",
    )?;
    let columns = statement
        .query_map([table, parent], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(columns
        .into_iter()
        .map(|column| format!("{table}.{column}"))
        .collect())
}
