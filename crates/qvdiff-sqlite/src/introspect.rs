//! Reading a live SQLite database back into a [`Schema`].
//!
//! A handful of bulk queries (PRAGMA table-valued functions joined against `sqlite_master`)
//! instead of several round trips per table, so a thousand tables introspect quickly.

use crate::error::SqliteError;
use crate::plan::normalize_table;
use crate::render::{parse_declared_type, parse_default};
use crate::sqltext;
use qvdiff_core::{
    Column, ColumnType, FkAction, ForeignKey, Index, RawObject, Schema, Table, Unique,
};
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Whether a table is SQLite's or qvdiff's own (ledger, lock) rather than the application's.
pub(crate) fn is_internal_table(name: &str) -> bool {
    is_sqlite_table(name) || name.starts_with("qvdiff_")
}

/// Whether an object is SQLite's own (`sqlite_sequence`, `sqlite_stat1`, …): SQLite creates
/// those itself, and reserves the prefix.
pub(crate) fn is_sqlite_table(name: &str) -> bool {
    name.get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("sqlite_"))
}

/// Reads the schema of `conn`'s main database: every user table (SQLite's `sqlite_*` and
/// qvdiff's `qvdiff_*` tables, virtual tables and their shadow tables are skipped), with columns,
/// primary key, unique constraints, indexes, foreign keys and CHECKs, plus views and triggers as
/// [`RawObject`]s. The result is normalized (see [`crate::Sqlite`]'s `normalize`).
///
/// Not represented (and so not preserved by a rebuild): partial and expression indexes,
/// generated columns, `WITHOUT ROWID`, `STRICT` and collations.
pub fn introspect(conn: &Connection) -> Result<Schema, SqliteError> {
    let context = "reading the database schema";
    let db = |e| SqliteError::database(context, e);

    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut table_sql: HashMap<String, String> = HashMap::new();
    // A partial index's condition is only in its CREATE INDEX text.
    let mut index_predicates: HashMap<String, String> = HashMap::new();
    let mut schema = Schema::default();

    let special_tables = tables_of_kinds(conn, &["virtual", "shadow"]).map_err(db)?;
    let mut objects = conn
        .prepare(
            "SELECT m.type, m.name, m.tbl_name, m.sql \
             FROM sqlite_master AS m \
             WHERE m.sql IS NOT NULL \
             ORDER BY m.rowid",
        )
        .map_err(db)?;
    let mut rows = objects.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let kind: String = row.get(0).map_err(db)?;
        let name: String = row.get(1).map_err(db)?;
        let table: String = row.get(2).map_err(db)?;
        let sql: String = row.get(3).map_err(db)?;
        match kind.as_str() {
            "table" if !special_tables.contains(&name) && !is_internal_table(&name) => {
                tables.insert(name.clone(), Table::new(name.clone(), Vec::new()));
                table_sql.insert(name, sql);
            }
            "view" => schema.views.push(RawObject {
                name,
                table: String::new(),
                sql,
            }),
            "trigger" => schema.triggers.push(RawObject { name, table, sql }),
            "index" => {
                if let Some(predicate) = sqltext::index_predicate(&sql) {
                    index_predicates.insert(name, predicate.to_string());
                }
            }
            _ => {}
        }
    }
    drop(rows);

    // Columns, with the primary-key position of each.
    let mut pk_positions: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    let mut columns = conn
        .prepare(
            "SELECT m.name, x.name, x.type, x.\"notnull\", x.dflt_value, x.pk, x.hidden \
             FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name, 'main') AS x \
             WHERE m.type = 'table' \
             ORDER BY m.name, x.cid",
        )
        .map_err(db)?;
    let mut rows = columns.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let table_name: String = row.get(0).map_err(db)?;
        let Some(table) = tables.get_mut(&table_name) else {
            continue;
        };
        let hidden: i64 = row.get(6).map_err(db)?;
        if hidden != 0 {
            // Generated or hidden virtual-table columns are not modelled.
            continue;
        }
        let name: String = row.get(1).map_err(db)?;
        let declared: Option<String> = row.get(2).map_err(db)?;
        let not_null: bool = row.get(3).map_err(db)?;
        let default_text: Option<String> = row.get(4).map_err(db)?;
        let pk_position: i64 = row.get(5).map_err(db)?;
        let ty = parse_declared_type(declared.as_deref().unwrap_or(""));
        let default = default_text.and_then(|text| parse_default(&text, &ty));
        if pk_position > 0 {
            pk_positions
                .entry(table_name.clone())
                .or_default()
                .push((pk_position, name.clone()));
        }
        table.columns.push(Column {
            default,
            nullable: !not_null,
            ..Column::new(name, ty)
        });
    }
    drop(rows);
    for (table_name, mut positions) in pk_positions {
        positions.sort();
        if let Some(table) = tables.get_mut(&table_name) {
            table.primary_key = positions.into_iter().map(|(_, name)| name).collect();
        }
    }

    // What only the CREATE TABLE text says: AUTOINCREMENT, CHECKs, UNIQUE constraint names.
    let mut unique_names: HashMap<String, Vec<(String, Vec<String>)>> = HashMap::new();
    for (name, table) in &mut tables {
        let Some(sql) = table_sql.get(name) else {
            continue;
        };
        let extras = sqltext::parse_create_table(sql);
        for column in &mut table.columns {
            column.autoincrement = extras
                .autoincrement
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&column.name));
        }
        for (column, type_name, values) in extras.enum_checks {
            if let Some(column) = table.columns.iter_mut().find(|c| c.name == column) {
                if column.ty == (ColumnType::Text { max_length: None }) {
                    column.ty = ColumnType::Enum {
                        name: type_name,
                        values,
                        renames: Vec::new(),
                    };
                }
            }
        }
        table.checks = extras
            .checks
            .into_iter()
            .map(|(name, expr)| qvdiff_core::Check { name, expr })
            .collect();
        unique_names.insert(name.clone(), extras.named_uniques);
    }

    // Indexes: origin `u` are UNIQUE constraints, `c` are CREATE INDEX, `pk` is the key.
    let mut index_rows = conn
        .prepare(
            "SELECT m.name, il.name, il.\"unique\", il.origin, il.partial, ii.name \
             FROM sqlite_master AS m \
             JOIN pragma_index_list(m.name, 'main') AS il \
             JOIN pragma_index_info(il.name, 'main') AS ii \
             WHERE m.type = 'table' \
             ORDER BY m.name, il.name, ii.seqno",
        )
        .map_err(db)?;
    // (table, index name) -> (unique, origin, partial, columns; None for an expression)
    type IndexEntry = (bool, String, bool, Vec<Option<String>>);
    let mut indexes: BTreeMap<(String, String), IndexEntry> = BTreeMap::new();
    let mut rows = index_rows.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let table_name: String = row.get(0).map_err(db)?;
        if !tables.contains_key(&table_name) {
            continue;
        }
        let index_name: String = row.get(1).map_err(db)?;
        let unique: bool = row.get(2).map_err(db)?;
        let origin: String = row.get(3).map_err(db)?;
        let partial: bool = row.get(4).map_err(db)?;
        let column: Option<String> = row.get(5).map_err(db)?;
        indexes
            .entry((table_name, index_name))
            .or_insert_with(|| (unique, origin, partial, Vec::new()))
            .3
            .push(column);
    }
    drop(rows);
    for ((table_name, index_name), (unique, origin, partial, columns)) in indexes {
        let Some(table) = tables.get_mut(&table_name) else {
            continue;
        };
        let Some(columns) = columns.into_iter().collect::<Option<Vec<String>>>() else {
            continue; // an expression index
        };
        match origin.as_str() {
            "u" => {
                let name = unique_names.get(&table_name).and_then(|named| {
                    named
                        .iter()
                        .find(|(_, cols)| same_columns(cols, &columns))
                        .map(|(name, _)| name.clone())
                });
                table.uniques.push(Unique { name, columns });
            }
            "c" => {
                let predicate = index_predicates.remove(&index_name);
                // A partial index whose condition cannot be read back is not one qvdiff wrote.
                if partial == predicate.is_some() {
                    table.indexes.push(Index {
                        name: index_name,
                        columns,
                        unique,
                        predicate,
                    });
                }
            }
            _ => {}
        }
    }

    // Foreign keys, one row per column, grouped by id.
    let mut fk_rows = conn
        .prepare(
            "SELECT m.name, fk.id, fk.\"table\", fk.\"from\", fk.\"to\", fk.on_update, fk.on_delete \
             FROM sqlite_master AS m JOIN pragma_foreign_key_list(m.name, 'main') AS fk \
             WHERE m.type = 'table' \
             ORDER BY m.name, fk.id, fk.seq",
        )
        .map_err(db)?;
    let mut foreign_keys: BTreeMap<(String, i64), (ForeignKey, bool)> = BTreeMap::new();
    let mut rows = fk_rows.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let table_name: String = row.get(0).map_err(db)?;
        if !tables.contains_key(&table_name) {
            continue;
        }
        let id: i64 = row.get(1).map_err(db)?;
        let parent: String = row.get(2).map_err(db)?;
        let from: String = row.get(3).map_err(db)?;
        let to: Option<String> = row.get(4).map_err(db)?;
        let on_update: String = row.get(5).map_err(db)?;
        let on_delete: String = row.get(6).map_err(db)?;
        let (fk, implicit_parent_key) = foreign_keys.entry((table_name, id)).or_insert_with(|| {
            (
                ForeignKey {
                    columns: Vec::new(),
                    ref_table: parent,
                    ref_columns: Vec::new(),
                    on_delete: FkAction::parse(&on_delete).unwrap_or_default(),
                    on_update: FkAction::parse(&on_update).unwrap_or_default(),
                },
                false,
            )
        });
        fk.columns.push(from);
        match to {
            Some(to) => fk.ref_columns.push(to),
            None => *implicit_parent_key = true,
        }
    }
    drop(rows);
    for ((table_name, _), (mut fk, implicit_parent_key)) in foreign_keys {
        if implicit_parent_key {
            // `REFERENCES parent` without columns: the parent's primary key.
            fk.ref_columns.clear();
        }
        if let Some(table) = tables.get_mut(&table_name) {
            table.foreign_keys.push(fk);
        }
    }

    schema.tables = tables.into_values().map(|t| normalize_table(&t)).collect();
    Ok(schema.normalized())
}

/// Names of the main database's tables of the given `pragma_table_list` types (`virtual`,
/// `shadow`), in one query: a `pragma_table_list` join per object would be quadratic.
pub(crate) fn tables_of_kinds(
    conn: &Connection,
    kinds: &[&str],
) -> rusqlite::Result<HashSet<String>> {
    let mut statement =
        conn.prepare("SELECT name, type FROM pragma_table_list WHERE schema = 'main'")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut names = HashSet::new();
    for row in rows {
        let (name, kind) = row?;
        if kinds.contains(&kind.as_str()) {
            names.insert(name);
        }
    }
    Ok(names)
}

fn same_columns(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}
