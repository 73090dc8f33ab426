//! `qvdiff port`: moving an app's data from a SQLite file to a PostgreSQL database.
//!
//! The order is what makes it safe: the source must be at the head of the project's SQLite
//! history and the target must hold no rows; the target is upgraded to the same revision through
//! the project's PostgreSQL history (same revision ids, see `[postgres] migrations`); then every
//! table is copied in foreign-key order with `COPY … FROM STDIN`, in one transaction (all or
//! nothing), identity sequences are moved past the highest id, and each table's row count and
//! checksum are compared on both sides before the transaction commits.
//!
//! A checksum is order-independent (the wrapping sum of the SHA-256 of each row's canonical
//! text), because the two databases may sort text differently. Canonical text is per logical type:
//! booleans `true`/`false` (SQLite stores 0/1), floats in Rust's shortest round-trip form, decimals
//! without trailing zeros, timestamps with a space and no trailing zone or zeros, JSON re-serialized
//! with sorted keys, bytes as `\x` and hex.

use crate::error::{CliError, CliResult};
use crate::output::Console;
use postgres::GenericClient;
use qvdiff_core::{ColumnType, Schema, Table};
use rusqlite::types::ValueRef;
use std::collections::BTreeMap;
use std::io::Write;

/// Rows per `COPY` batch (and per progress line).
pub const BATCH_ROWS: usize = 10_000;

/// What was copied from one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Rows copied (equal on both sides).
    pub rows: u64,
    /// The checksum both sides agree on, as hex.
    pub checksum: String,
}

/// A server error as a CLI error that says what qvdiff was doing.
pub fn pg_failure(context: String, error: postgres::Error) -> CliError {
    CliError::new(qvdiff_postgres::PgError::from_pg(context, error).to_string())
}

/// Tables in an order where every table comes after the tables its foreign keys point at
/// (self-references and cycles cannot be ordered: cycles are reported).
pub fn dependency_order(schema: &Schema) -> CliResult<Vec<&Table>> {
    let mut placed: Vec<&Table> = Vec::with_capacity(schema.tables.len());
    let mut remaining: Vec<&Table> = schema.tables.iter().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|table| {
            let ready = table.foreign_keys.iter().all(|fk| {
                fk.ref_table == table.name || placed.iter().any(|p| p.name == fk.ref_table)
            });
            if ready {
                placed.push(table);
            }
            !ready
        });
        if remaining.len() == before {
            let names: Vec<&str> = remaining.iter().map(|t| t.name.as_str()).collect();
            return Err(CliError::new(format!(
                "the foreign keys of {} form a cycle: no copy order satisfies them",
                names.join(", ")
            ))
            .with_hint("break the cycle with a nullable foreign key set after the copy"));
        }
    }
    Ok(placed)
}

/// Copies every table of `target_schema` from `source` into `target` (inside the caller's
/// transaction) and returns the per-table reports after comparing counts and checksums.
pub fn copy_all(
    source: &rusqlite::Connection,
    target: &mut impl GenericClient,
    target_schema: &Schema,
    console: &Console,
) -> CliResult<Vec<TableReport>> {
    let mut reports = Vec::new();
    for table in dependency_order(target_schema)? {
        let copied = copy_table(source, target, table, console)?;
        reset_identity(target, table)?;
        let source_sum = source_checksum(source, table, None)?;
        let target_sum = target_checksum(target, table, None)?;
        if source_sum != target_sum || copied != source_sum.rows {
            // Say which columns differ: that is where to look in the source.
            let mut differing = Vec::new();
            for (i, column) in table.columns.iter().enumerate() {
                if source_checksum(source, table, Some(i))?
                    != target_checksum(target, table, Some(i))?
                {
                    differing.push(column.name.as_str());
                }
            }
            return Err(CliError::new(format!(
                "table {}: the copy does not match the source (source {} rows, checksum {}; \
                 target {} rows, checksum {}; columns that differ: {}); no row was committed",
                table.name,
                source_sum.rows,
                source_sum.hex(),
                target_sum.rows,
                target_sum.hex(),
                if differing.is_empty() {
                    "none alone".to_string()
                } else {
                    differing.join(", ")
                }
            ))
            .with_hint(
                "PostgreSQL stored other values than SQLite holds there (a timestamp with a UTC \
                 offset, a number written as text, …): fix those rows in the source and run port \
                 again; the target keeps its schema, with empty tables",
            ));
        }
        reports.push(TableReport {
            table: table.name.clone(),
            rows: source_sum.rows,
            checksum: source_sum.hex(),
        });
    }
    Ok(reports)
}

fn column_list(table: &Table, quote: fn(&str) -> String) -> String {
    table
        .columns
        .iter()
        .map(|c| quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn select_all(table: &Table) -> String {
    format!(
        "SELECT {} FROM {}",
        column_list(table, qvdiff_sqlite::quote_ident),
        qvdiff_sqlite::quote_ident(&table.name)
    )
}

/// Streams one table through `COPY … FROM STDIN` in batches; returns the rows copied.
fn copy_table(
    source: &rusqlite::Connection,
    target: &mut impl GenericClient,
    table: &Table,
    console: &Console,
) -> CliResult<u64> {
    let total: i64 = source
        .query_row(
            &format!(
                "SELECT count(*) FROM {}",
                qvdiff_sqlite::quote_ident(&table.name)
            ),
            [],
            |row| row.get(0),
        )
        .map_err(|e| CliError::new(format!("cannot count the rows of {}: {e}", table.name)))?;
    let mut statement = source
        .prepare(&select_all(table))
        .map_err(|e| CliError::new(format!("cannot read table {}: {e}", table.name)))?;
    let mut rows = statement
        .query([])
        .map_err(|e| CliError::new(format!("cannot read table {}: {e}", table.name)))?;
    let copy_sql = format!(
        "COPY {} ({}) FROM STDIN",
        qvdiff_postgres::quote_ident(&table.name),
        column_list(table, qvdiff_postgres::quote_ident)
    );
    let mut copied: u64 = 0;
    let mut done = false;
    while !done {
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut in_batch = 0;
        while in_batch < BATCH_ROWS {
            let row = rows
                .next()
                .map_err(|e| CliError::new(format!("cannot read table {}: {e}", table.name)))?;
            let Some(row) = row else {
                done = true;
                break;
            };
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    batch.push(b'\t');
                }
                let value = row.get_ref(i).map_err(|e| {
                    CliError::new(format!("cannot read {}.{}: {e}", table.name, column.name))
                })?;
                copy_text(value, &column.ty, &mut batch).map_err(|why| {
                    CliError::new(format!(
                        "table {}, column {}, row {}: {why}; nothing was committed",
                        table.name,
                        column.name,
                        copied + in_batch as u64 + 1
                    ))
                })?;
            }
            batch.push(b'\n');
            in_batch += 1;
        }
        if in_batch == 0 {
            break;
        }
        let mut writer = target
            .copy_in(copy_sql.as_str())
            .map_err(|e| pg_failure(format!("copying into {}", table.name), e))?;
        writer
            .write_all(&batch)
            .map_err(|e| CliError::new(format!("copying into {} failed: {e}", table.name)))?;
        writer.finish().map_err(|e| {
            pg_failure(
                format!("copying into {} (nothing was committed)", table.name),
                e,
            )
        })?;
        copied += in_batch as u64;
        console.progress(&format!("copying {}: {copied}/{total} rows", table.name));
    }
    Ok(copied)
}

/// Appends one SQLite value in `COPY` text format for a column of type `ty`.
fn copy_text(value: ValueRef<'_>, ty: &ColumnType, out: &mut Vec<u8>) -> Result<(), String> {
    match (value, ty) {
        (ValueRef::Null, _) => out.extend_from_slice(b"\\N"),
        (ValueRef::Integer(i), ColumnType::Bool) => {
            out.extend_from_slice(if i != 0 { b"t" } else { b"f" })
        }
        (ValueRef::Integer(i), _) => out.extend_from_slice(i.to_string().as_bytes()),
        (ValueRef::Real(f), ColumnType::Integer { .. }) if f.fract() == 0.0 => {
            out.extend_from_slice(format!("{f:.0}").as_bytes())
        }
        (ValueRef::Real(f), _) => out.extend_from_slice(float_text(f).as_bytes()),
        (ValueRef::Text(bytes), ColumnType::Blob) => escape_copy(&bytea_text(bytes), out),
        (ValueRef::Text(bytes), _) => {
            let text = std::str::from_utf8(bytes).map_err(|_| {
                "the text is not valid UTF-8, which PostgreSQL requires".to_string()
            })?;
            escape_copy(text, out);
        }
        (ValueRef::Blob(bytes), ColumnType::Blob) => escape_copy(&bytea_text(bytes), out),
        (ValueRef::Blob(_), _) => {
            return Err(format!(
                "the value is bytes, but the PostgreSQL column is {}",
                qvdiff_postgres::render_type(ty)
            ))
        }
    }
    Ok(())
}

/// PostgreSQL's spelling of a float: shortest round-trip digits, `Infinity`, `NaN`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{f:?}")
    }
}

fn bytea_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("\\x");
    for b in bytes {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// `COPY` text format: backslash, tab, newline and carriage return escaped.
fn escape_copy(text: &str, out: &mut Vec<u8>) {
    for &b in text.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Moves a table's identity sequence past its highest id, so the app's next insert does not
/// collide with a copied row.
fn reset_identity(target: &mut impl GenericClient, table: &Table) -> CliResult<()> {
    for column in table.columns.iter().filter(|c| c.autoincrement) {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max({col}), 1), \
             max({col}) IS NOT NULL) FROM {table}",
            col = qvdiff_postgres::quote_ident(&column.name),
            table = qvdiff_postgres::quote_ident(&table.name)
        );
        target
            .query_one(
                sql.as_str(),
                &[
                    &qvdiff_postgres::quote_ident(&table.name),
                    &column.name.as_str(),
                ],
            )
            .map_err(|e| {
                pg_failure(
                    format!("resetting the sequence of {}.{}", table.name, column.name),
                    e,
                )
            })?;
    }
    Ok(())
}

/// An order-independent checksum of a table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableChecksum {
    /// Rows seen.
    pub rows: u64,
    /// Wrapping sum of the first 16 bytes of each row's SHA-256.
    pub sum: u128,
}

impl TableChecksum {
    fn add(&mut self, row: &str) {
        let digest = qvdiff_core::migration::sha256(row.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        self.sum = self.sum.wrapping_add(u128::from_be_bytes(first));
        self.rows += 1;
    }

    /// The checksum as 32 hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}

/// Separates values in a row's canonical text (a byte no value's canonical text holds raw).
const FIELD: char = '\u{1f}';
/// A NULL in canonical text.
const NULL: &str = "\u{0}NULL";

/// The checksum of a table's rows in SQLite, or of column `only` alone.
fn source_checksum(
    source: &rusqlite::Connection,
    table: &Table,
    only: Option<usize>,
) -> CliResult<TableChecksum> {
    let read_error = |e: rusqlite::Error| CliError::new(format!("cannot read {}: {e}", table.name));
    let mut statement = source.prepare(&select_all(table)).map_err(read_error)?;
    let mut rows = statement.query([]).map_err(read_error)?;
    let mut sum = TableChecksum::default();
    let mut line = String::new();
    while let Some(row) = rows.next().map_err(read_error)? {
        line.clear();
        for (i, column) in table.columns.iter().enumerate() {
            if only.is_some_and(|only| only != i) {
                continue;
            }
            if i > 0 {
                line.push(FIELD);
            }
            let value = row.get_ref(i).map_err(read_error)?;
            let raw = match value {
                ValueRef::Null => None,
                ValueRef::Integer(n) if column.ty == ColumnType::Bool => {
                    Some(if n != 0 { "true" } else { "false" }.to_string())
                }
                ValueRef::Integer(n) => Some(n.to_string()),
                ValueRef::Real(f) => Some(float_text(f)),
                ValueRef::Text(t) if column.ty == ColumnType::Blob => Some(bytea_text(t)),
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Some(bytea_text(b)),
            };
            match raw {
                Some(raw) => line.push_str(&canonical(&raw, &column.ty)),
                None => line.push_str(NULL),
            }
        }
        sum.add(&line);
    }
    Ok(sum)
}

/// The checksum of a table's rows in PostgreSQL, or of column `only` alone.
fn target_checksum(
    target: &mut impl GenericClient,
    table: &Table,
    only: Option<usize>,
) -> CliResult<TableChecksum> {
    let columns = table
        .columns
        .iter()
        .map(|c| format!("{}::text", qvdiff_postgres::quote_ident(&c.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {columns} FROM {}",
        qvdiff_postgres::quote_ident(&table.name)
    );
    let rows = target
        .query(sql.as_str(), &[])
        .map_err(|e| pg_failure(format!("reading {} back", table.name), e))?;
    let mut sum = TableChecksum::default();
    let mut line = String::new();
    for row in rows {
        line.clear();
        for (i, column) in table.columns.iter().enumerate() {
            if only.is_some_and(|only| only != i) {
                continue;
            }
            if i > 0 {
                line.push(FIELD);
            }
            match row.get::<_, Option<String>>(i) {
                Some(raw) => line.push_str(&canonical(&raw, &column.ty)),
                None => line.push_str(NULL),
            }
        }
        sum.add(&line);
    }
    Ok(sum)
}

/// One value's canonical text for its logical type (see the module docs).
fn canonical(raw: &str, ty: &ColumnType) -> String {
    match ty {
        ColumnType::Bool => match raw {
            "t" | "true" | "1" => "true".to_string(),
            "f" | "false" | "0" => "false".to_string(),
            other => other.to_string(),
        },
        ColumnType::Float => match raw.parse::<f64>() {
            Ok(f) => float_text(f),
            Err(_) => match raw {
                "Infinity" | "inf" => "Infinity".to_string(),
                "-Infinity" | "-inf" => "-Infinity".to_string(),
                other => other.to_string(),
            },
        },
        ColumnType::Decimal { .. } => trim_fraction(raw),
        ColumnType::DateTime | ColumnType::Time | ColumnType::Date => {
            let text = raw.replacen('T', " ", 1);
            let text = text
                .strip_suffix('Z')
                .or_else(|| text.strip_suffix("+00:00"))
                .unwrap_or(&text)
                .to_string();
            trim_fraction(&text)
        }
        ColumnType::Uuid => raw.to_ascii_lowercase(),
        ColumnType::Json => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(value) => value.to_string(),
            Err(_) => raw.to_string(),
        },
        _ => raw.to_string(),
    }
}

/// `19.990` → `19.99`, `5.00` → `5`, `10:00:00.500` → `10:00:00.5`.
fn trim_fraction(text: &str) -> String {
    match text.rfind('.') {
        Some(dot) if text[dot + 1..].chars().all(|c| c.is_ascii_digit()) => {
            let trimmed = text.trim_end_matches('0');
            trimmed.trim_end_matches('.').to_string()
        }
        _ => text.to_string(),
    }
}

/// Tables with rows, and how many, in a PostgreSQL database (what makes a target not empty).
pub fn tables_with_rows(
    target: &mut impl GenericClient,
    schema: &Schema,
) -> CliResult<BTreeMap<String, i64>> {
    let mut found = BTreeMap::new();
    for table in &schema.tables {
        let sql = format!(
            "SELECT count(*) FROM {}",
            qvdiff_postgres::quote_ident(&table.name)
        );
        let row = target
            .query_one(sql.as_str(), &[])
            .map_err(|e| pg_failure(format!("counting the rows of {}", table.name), e))?;
        let n: i64 = row.get(0);
        if n > 0 {
            found.insert(table.name.clone(), n);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_agrees_across_the_two_spellings() {
        let dt = ColumnType::DateTime;
        assert_eq!(
            canonical("2026-01-02T03:04:05Z", &dt),
            canonical("2026-01-02 03:04:05", &dt)
        );
        assert_eq!(
            canonical("2026-01-02 03:04:05.500", &dt),
            canonical("2026-01-02 03:04:05.5", &dt)
        );
        let dec = ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2),
        };
        assert_eq!(canonical("19.90", &dec), canonical("19.9", &dec));
        assert_eq!(canonical("5.00", &dec), "5");
        assert_eq!(
            canonical("1", &ColumnType::Bool),
            canonical("t", &ColumnType::Bool)
        );
        assert_eq!(canonical("1e+300", &ColumnType::Float), float_text(1e300));
        assert_eq!(
            canonical("{\"b\": 1, \"a\": [1, 2]}", &ColumnType::Json),
            canonical("{\"a\": [1, 2], \"b\": 1}", &ColumnType::Json)
        );
    }

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = Vec::new();
        copy_text(
            ValueRef::Text(b"a\tb\\c\nd"),
            &ColumnType::Text { max_length: None },
            &mut out,
        )
        .unwrap();
        assert_eq!(out, b"a\\tb\\\\c\\nd");
        out.clear();
        copy_text(ValueRef::Blob(&[0, 255]), &ColumnType::Blob, &mut out).unwrap();
        assert_eq!(out, b"\\\\x00ff");
        out.clear();
        copy_text(ValueRef::Integer(1), &ColumnType::Bool, &mut out).unwrap();
        assert_eq!(out, b"t");
    }

    #[test]
    fn checksum_ignores_row_order_but_not_values() {
        let mut a = TableChecksum::default();
        a.add("1\u{1f}x");
        a.add("2\u{1f}y");
        let mut b = TableChecksum::default();
        b.add("2\u{1f}y");
        b.add("1\u{1f}x");
        assert_eq!(a, b);
        let mut c = TableChecksum::default();
        c.add("1\u{1f}x");
        c.add("2\u{1f}z");
        assert_ne!(a, c);
    }
}
