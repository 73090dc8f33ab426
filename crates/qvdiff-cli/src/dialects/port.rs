//! `qvdiff port`: moving an app's data from a SQLite file to a PostgreSQL database.
//!
//! The order is what makes it safe: the source must be at the head of the project's SQLite
//! history and the target must hold no rows; the target is upgraded to the same revision through
//! the project's PostgreSQL history (same revision ids, see `[postgres] migrations`); then every
//! table is copied in foreign-key order with `COPY … FROM STDIN`, in one transaction on one
//! connection (all or nothing: a port that fails or is killed leaves every table empty), identity
//! sequences are moved past the highest id, and each table's row count and checksum are compared
//! on both sides before the transaction commits.
//!
//! Speed, in bounded memory: one thread reads the source (in one SQLite read transaction, so all
//! tables come from one snapshot), encodes each row in `COPY` text format and adds the row's
//! canonical text to the table's checksum in the same pass; it hands the rows over in batches of
//! at most [`BATCH_ROWS`] rows or [`BATCH_BYTES`] bytes through a queue of [`QUEUE_BATCHES`], so
//! memory is bounded by the batch size, never by the table. The calling thread streams the
//! batches into one `COPY` per table, then reads the table back as a binary `COPY` stream for the
//! target's checksum. Before the load, in the same transaction, foreign keys, primary keys,
//! unique constraints and indexes are dropped and afterwards re-created from their own
//! definitions (see [`deferred`]): PostgreSQL then builds each index once, sorted, and checks each
//! foreign key with one join instead of once per row. Writes cannot be spread over several
//! connections: rows written by one transaction are invisible to, and cannot be committed with,
//! another, and "all or nothing" is the guarantee that matters when a port is interrupted.
//!
//! A checksum is order-independent (the wrapping sum of the SHA-256 of each row's canonical
//! text), because the two databases may sort text differently. Canonical text is per logical type:
//! booleans `true`/`false` (SQLite stores 0/1), floats by their exact binary value, decimals
//! without trailing zeros, timestamps with a space and no trailing zone or zeros, instants
//! (`timestamptz`) as the same moment in UTC, JSON re-serialized with sorted keys, bytes as `\x`
//! and hex.

pub mod deferred;
mod progress;

use crate::db_url::{DatabaseTarget, PostgresTarget};
use crate::error::{CliError, CliResult};
use crate::output::Console;
use postgres::GenericClient;
use progress::Progress;
use qvdiff_core::{foreign_key_order, ColumnType, Schema, Table};
use rusqlite::types::ValueRef;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufReader, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Most rows in one batch handed from the reading thread to the writing one.
pub const BATCH_ROWS: usize = 10_000;
/// Most bytes of `COPY` text in one batch (a single larger row makes a batch of its own).
pub const BATCH_BYTES: usize = 1 << 20;
/// Batches read ahead of the writer: with [`BATCH_BYTES`], what bounds the memory of a port.
pub const QUEUE_BATCHES: usize = 8;

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

/// A connection to the target server. The project's schema (`[postgres] schema`) is entered
/// inside the port's transaction ([`enter_schema`]), so a port that fails creates none.
pub fn connect_target(target: &PostgresTarget) -> CliResult<postgres::Client> {
    qvdiff_postgres::connect(&target.url).map_err(|e| CliError::new(e.to_string()))
}

/// Inside the port's transaction: makes the project's schema the one names resolve to
/// (created when missing) and returns what the target holds there now.
pub fn enter_schema(
    tx: &mut postgres::Transaction<'_>,
    target: &PostgresTarget,
) -> CliResult<Schema> {
    if let Some(schema) = &target.schema {
        qvdiff_postgres::connect::use_schema(tx, &target.display(), schema, true)
            .map_err(|e| CliError::new(e.to_string()))?;
    }
    // An instant SQLite holds without an offset was written in UTC (`CURRENT_TIMESTAMP`), so
    // the target reads it as UTC whatever the server's `TimeZone`.
    tx.batch_execute("SET LOCAL TimeZone = 'UTC'")
        .map_err(|e| pg_failure("setting the port's time zone".to_string(), e))?;
    introspect(tx)
}

/// The target's schema, read inside the port's transaction.
pub fn introspect(tx: &mut postgres::Transaction<'_>) -> CliResult<Schema> {
    qvdiff_postgres::introspect(tx).map_err(|e| CliError::new(e.to_string()))
}

/// Upgrades the target to revision `head` inside the port's transaction (ledger rows included; see
/// `qvdiff_postgres::runner::upgrade_in_transaction`), returning the revisions applied.
pub fn upgrade_target(
    tx: &mut postgres::Transaction<'_>,
    target: &PostgresTarget,
    history: &qvdiff_core::runner::Migrations,
    head: &str,
    busy_timeout: std::time::Duration,
) -> CliResult<Vec<qvdiff_core::backend::StepReport>> {
    qvdiff_postgres::runner::upgrade_in_transaction(
        tx,
        &target.display(),
        history,
        &qvdiff_core::RevisionTarget::named(head),
        busy_timeout,
    )
    .map_err(|e| CliError::new(format!("{e}; nothing was copied")))
}

/// A server error as a CLI error that says what qvdiff was doing.
pub fn pg_failure(context: String, error: postgres::Error) -> CliError {
    CliError::new(qvdiff_postgres::PgError::from_pg(context, error).to_string())
}

/// Tables in an order where every table comes after the tables its foreign keys point at: the
/// core's one foreign-key order. A self-reference is loaded with its table; a cycle, which that
/// order breaks to place every table, cannot be copied (a row would meet a foreign key whose
/// parent is not loaded yet), so it is reported.
pub fn dependency_order(schema: &Schema) -> CliResult<Vec<&Table>> {
    let tables: Vec<&Table> = schema.tables.iter().collect();
    let order = foreign_key_order(&tables);
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(at, table)| (table.name.as_str(), at))
        .collect();
    // A table placed before a table it references: the order broke a cycle there.
    let mut in_cycle: BTreeSet<&str> = BTreeSet::new();
    for (at, table) in order.iter().enumerate() {
        for fk in &table.foreign_keys {
            if position
                .get(fk.ref_table.as_str())
                .is_some_and(|&parent| parent > at)
            {
                in_cycle.insert(table.name.as_str());
                in_cycle.insert(fk.ref_table.as_str());
            }
        }
    }
    if !in_cycle.is_empty() {
        let names: Vec<&str> = in_cycle.into_iter().collect();
        return Err(CliError::new(format!(
            "the foreign keys of {} form a cycle: no copy order satisfies them",
            names.join(", ")
        ))
        .with_hint("break the cycle with a nullable foreign key set after the copy"));
    }
    Ok(order)
}

/// Copies every table of `target_schema` from the SQLite file `source` into `target` (inside
/// the caller's transaction, whose tables must be empty) and returns the per-table reports after
/// comparing counts and checksums.
pub fn copy_all(
    source: &DatabaseTarget,
    target: &mut impl GenericClient,
    target_schema: &Schema,
    console: &Console,
) -> CliResult<Vec<TableReport>> {
    let order = dependency_order(target_schema)?;
    let deferred = deferred::drop_for_load(target, &order)?;
    let conn = super::sqlite_history::open_read_only(source)?;
    let (sender, receiver) = sync_channel(QUEUE_BATCHES);
    let reports = std::thread::scope(|scope| {
        let order = &order;
        let reader = std::thread::Builder::new()
            .name("qvdiff-port-reader".to_string())
            .spawn_scoped(scope, move || read_source(conn, order, sender))
            .map_err(|e| {
                CliError::new(format!(
                    "cannot start the thread that reads the source: {e}; nothing was copied"
                ))
            })?;
        // `write_target` owns the receiver: when it stops early, the reader's next send fails and
        // the reader stops too.
        let written = write_target(source, target, order, receiver, console);
        let _ = reader.join();
        written
    })?;
    deferred.restore(target, console)?;
    for table in &order {
        reset_identity(target, table)?;
    }
    Ok(reports)
}

/// What the reading thread hands to the writing one.
enum Message {
    /// Rows per table, in copy order, counted in the snapshot that is read.
    Totals(Vec<u64>),
    /// `COPY` text of `rows` rows of the current table.
    Rows { text: Vec<u8>, rows: u64 },
    /// The current table is read whole; its checksum.
    TableDone(TableChecksum),
    /// Reading failed; nothing more comes.
    Failed(CliError),
}

/// The reading thread: every table in `order`, in one read transaction.
fn read_source(conn: rusqlite::Connection, order: &[&Table], sender: SyncSender<Message>) {
    if let Err(error) = read_tables(&conn, order, &sender) {
        let _ = sender.send(Message::Failed(error));
    }
}

/// Sends every table's rows; returns early (without error) when the writer has stopped.
fn read_tables(
    conn: &rusqlite::Connection,
    order: &[&Table],
    sender: &SyncSender<Message>,
) -> CliResult<()> {
    let snapshot_error =
        |e: rusqlite::Error| CliError::new(format!("cannot start reading the source: {e}"));
    conn.execute_batch("BEGIN").map_err(snapshot_error)?;
    let mut totals = Vec::with_capacity(order.len());
    for table in order {
        let total: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {}",
                    qvdiff_sqlite::quote_ident(&table.name)
                ),
                [],
                |row| row.get(0),
            )
            .map_err(|e| CliError::new(format!("cannot count the rows of {}: {e}", table.name)))?;
        totals.push(total.max(0) as u64);
    }
    if sender.send(Message::Totals(totals)).is_err() {
        return Ok(());
    }
    for table in order {
        let read_error =
            |e: rusqlite::Error| CliError::new(format!("cannot read table {}: {e}", table.name));
        let mut statement = conn.prepare(&select_all(table)).map_err(read_error)?;
        let mut rows = statement.query([]).map_err(read_error)?;
        let mut sum = TableChecksum::default();
        let mut text = Vec::with_capacity(BATCH_BYTES + 64 * 1024);
        let mut in_batch: u64 = 0;
        let mut line = String::new();
        let mut scratch = String::new();
        while let Some(row) = rows.next().map_err(read_error)? {
            line.clear();
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    text.push(b'\t');
                    line.push(FIELD);
                }
                let value = row.get_ref(i).map_err(|e| {
                    CliError::new(format!("cannot read {}.{}: {e}", table.name, column.name))
                })?;
                copy_text(value, &column.ty, &mut text).map_err(|why| {
                    CliError::new(format!(
                        "table {}, column {}, row {}: {why}; nothing was committed",
                        table.name,
                        column.name,
                        sum.rows + 1
                    ))
                })?;
                push_source_text(value, &column.ty, &mut line, &mut scratch);
            }
            text.push(b'\n');
            sum.add(&line);
            in_batch += 1;
            if text.len() >= BATCH_BYTES || in_batch >= BATCH_ROWS as u64 {
                let full =
                    std::mem::replace(&mut text, Vec::with_capacity(BATCH_BYTES + 64 * 1024));
                if sender
                    .send(Message::Rows {
                        text: full,
                        rows: in_batch,
                    })
                    .is_err()
                {
                    return Ok(());
                }
                in_batch = 0;
            }
        }
        if in_batch > 0
            && sender
                .send(Message::Rows {
                    text,
                    rows: in_batch,
                })
                .is_err()
        {
            return Ok(());
        }
        if sender.send(Message::TableDone(sum)).is_err() {
            return Ok(());
        }
    }
    // A read-only transaction: ending it changes nothing.
    let _ = conn.execute_batch("COMMIT");
    Ok(())
}

/// The error when the reading thread ended without saying why (it panicked).
fn reader_vanished() -> CliError {
    CliError::new("reading the source stopped unexpectedly; nothing was committed")
}

/// The writing side: one `COPY` per table fed from `receiver`, then the table read back and its
/// checksum compared.
fn write_target(
    source: &DatabaseTarget,
    target: &mut impl GenericClient,
    order: &[&Table],
    receiver: Receiver<Message>,
    console: &Console,
) -> CliResult<Vec<TableReport>> {
    let totals = match receiver.recv() {
        Ok(Message::Totals(totals)) => totals,
        Ok(Message::Failed(error)) => return Err(error),
        _ => return Err(reader_vanished()),
    };
    let mut progress = Progress::new(console, totals.iter().sum());
    let mut reports = Vec::with_capacity(order.len());
    for (table, total) in order.iter().zip(totals) {
        let copy_sql = format!(
            "COPY {} ({}) FROM STDIN",
            qvdiff_postgres::quote_ident(&table.name),
            column_list(table, qvdiff_postgres::quote_ident)
        );
        let failed = |e: postgres::Error| {
            pg_failure(
                format!("copying into {} (nothing was committed)", table.name),
                e,
            )
        };
        let mut writer = target.copy_in(copy_sql.as_str()).map_err(failed)?;
        let mut copied: u64 = 0;
        let source_sum = loop {
            match receiver.recv() {
                Ok(Message::Rows { text, rows }) => {
                    writer.write_all(&text).map_err(|e| {
                        CliError::new(format!(
                            "copying into {} failed: {e}; nothing was committed",
                            table.name
                        ))
                    })?;
                    copied += rows;
                    progress.copied(&table.name, copied, total, rows);
                }
                Ok(Message::TableDone(sum)) => break sum,
                Ok(Message::Failed(error)) => return Err(error),
                Ok(Message::Totals(_)) | Err(_) => return Err(reader_vanished()),
            }
        };
        writer.finish().map_err(failed)?;
        progress.checking(&table.name, copied);
        let target_sum = target_checksum(target, table, None)?;
        if source_sum != target_sum || copied != source_sum.rows {
            return Err(mismatch(source, target, table, source_sum, target_sum)?);
        }
        reports.push(TableReport {
            table: table.name.clone(),
            rows: source_sum.rows,
            checksum: source_sum.hex(),
        });
    }
    Ok(reports)
}

/// The error for a table whose copy differs from its source, naming the columns that differ:
/// that is where to look in the source.
fn mismatch(
    source: &DatabaseTarget,
    target: &mut impl GenericClient,
    table: &Table,
    source_sum: TableChecksum,
    target_sum: TableChecksum,
) -> CliResult<CliError> {
    let conn = super::sqlite_history::open_read_only(source)?;
    let mut differing = Vec::new();
    for (i, column) in table.columns.iter().enumerate() {
        if source_checksum(&conn, table, Some(i))? != target_checksum(target, table, Some(i))? {
            differing.push(column.name.as_str());
        }
    }
    let first = first_differing_row(&conn, target, table)?;
    Ok(CliError::new(format!(
        "table {}: the copy does not match the source (source {} rows, checksum {}; \
         target {} rows, checksum {}; columns that differ: {}){}; nothing was committed",
        table.name,
        source_sum.rows,
        source_sum.hex(),
        target_sum.rows,
        target_sum.hex(),
        if differing.is_empty() {
            "none alone".to_string()
        } else {
            differing.join(", ")
        },
        first
            .map(|row| format!("; first difference: {row}"))
            .unwrap_or_default()
    ))
    .with_hint(
        "PostgreSQL stored other values than SQLite holds there (a timestamp with a UTC \
         offset, a number written as text, …): fix those rows in the source and run port \
         again; the target is left as it was, without the schema or ledger rows of this port",
    ))
}

/// The first row, in key order, whose copy differs from the source: its key, the first column
/// that differs and both values, or the keys where one side has a row the other lacks. `None`
/// for a table without a primary key. Both sides are streamed in the same order (integer keys
/// by number, others by their text's bytes), so memory stays bounded.
fn first_differing_row(
    source: &rusqlite::Connection,
    target: &mut impl GenericClient,
    table: &Table,
) -> CliResult<Option<String>> {
    use postgres::fallible_iterator::FallibleIterator;
    let keys: Vec<usize> = table
        .primary_key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| &c.name == k))
        .collect();
    if keys.is_empty() || keys.len() != table.primary_key.len() {
        return Ok(None);
    }
    let numeric = |i: usize| matches!(table.columns[i].ty, ColumnType::Integer { .. });
    let sqlite_order = keys
        .iter()
        .map(|&i| {
            let name = qvdiff_sqlite::quote_ident(&table.columns[i].name);
            match numeric(i) {
                true => name,
                false => format!("CAST({name} AS TEXT)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let postgres_order = keys
        .iter()
        .map(|&i| {
            let name = qvdiff_postgres::quote_ident(&table.columns[i].name);
            match numeric(i) {
                true => name,
                false => format!("{name}::text COLLATE \"C\""),
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let read_error = |e: rusqlite::Error| CliError::new(format!("cannot read {}: {e}", table.name));
    let mut statement = source
        .prepare(&format!("{} ORDER BY {sqlite_order}", select_all(table)))
        .map_err(read_error)?;
    let mut source_rows = statement.query([]).map_err(read_error)?;
    let target_sql = format!(
        "SELECT {} FROM {} ORDER BY {postgres_order}",
        table
            .columns
            .iter()
            .map(|c| format!("{}::text", qvdiff_postgres::quote_ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", "),
        qvdiff_postgres::quote_ident(&table.name)
    );
    let failed = |e: postgres::Error| pg_failure(format!("reading {} back", table.name), e);
    let mut target_rows = target
        .query_raw(target_sql.as_str(), std::iter::empty::<i32>())
        .map_err(failed)?;
    let key_text = |values: &[String]| {
        let names: Vec<&str> = keys
            .iter()
            .map(|&i| table.columns[i].name.as_str())
            .collect();
        let shown: Vec<&str> = keys.iter().map(|&i| values[i].as_str()).collect();
        match keys.len() {
            1 => format!("{} = {}", names[0], shown[0]),
            _ => format!("({}) = ({})", names.join(", "), shown.join(", ")),
        }
    };
    let mut scratch = String::new();
    loop {
        // Each side's row: the values as shown (SQL literals, NULL) and their canonical text.
        let source_row = match source_rows.next().map_err(read_error)? {
            None => None,
            Some(row) => {
                let mut shown = Vec::with_capacity(table.columns.len());
                let mut canon = Vec::with_capacity(table.columns.len());
                for (i, column) in table.columns.iter().enumerate() {
                    let value = row.get_ref(i).map_err(read_error)?;
                    shown.push(sqlite_literal(value));
                    let mut text = String::new();
                    push_source_text(value, &column.ty, &mut text, &mut scratch);
                    canon.push(text);
                }
                Some((shown, canon))
            }
        };
        let target_row = match target_rows.next().map_err(failed)? {
            None => None,
            Some(row) => {
                let mut shown = Vec::with_capacity(table.columns.len());
                let mut canon = Vec::with_capacity(table.columns.len());
                for (i, column) in table.columns.iter().enumerate() {
                    let value: Option<String> = row.try_get(i).map_err(failed)?;
                    match value {
                        None => {
                            shown.push("NULL".to_string());
                            canon.push(NULL.to_string());
                        }
                        Some(text) => {
                            canon.push(canonical(&text, &column.ty).into_owned());
                            shown.push(qvdiff_postgres::quote_string(&text));
                        }
                    }
                }
                Some((shown, canon))
            }
        };
        let ((source_shown, source_canon), (target_shown, target_canon)) =
            match (source_row, target_row) {
                (None, None) => return Ok(None),
                (Some((shown, _)), None) => {
                    return Ok(Some(format!(
                        "row {} of the source has no copy in the target",
                        key_text(&shown)
                    )))
                }
                (None, Some((shown, _))) => {
                    return Ok(Some(format!(
                        "row {} of the target is not in the source",
                        key_text(&shown)
                    )))
                }
                (Some(source), Some(target)) => (source, target),
            };
        if keys.iter().any(|&i| source_canon[i] != target_canon[i]) {
            return Ok(Some(format!(
                "row {} of the source and row {} of the target stand at the same place in key \
                 order (one side has a row the other lacks)",
                key_text(&source_shown),
                key_text(&target_shown)
            )));
        }
        if let Some(i) = (0..table.columns.len()).find(|&i| source_canon[i] != target_canon[i]) {
            return Ok(Some(format!(
                "row {}, column {}: {} in SQLite, {} in PostgreSQL",
                key_text(&source_shown),
                table.columns[i].name,
                source_shown[i],
                target_shown[i]
            )));
        }
    }
}

/// A SQLite value as a SQL literal, for messages.
fn sqlite_literal(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => qvdiff_sqlite::quote_string(&String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("X'{}'", bytea_text(b).trim_start_matches("\\x")),
    }
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
        (ValueRef::Real(f), _) if f.is_finite() => {
            let _ = write!(out, "{f:?}");
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
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain_from..i]);
        out.extend_from_slice(escaped);
        plain_from = i + 1;
    }
    out.extend_from_slice(&bytes[plain_from..]);
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

/// Appends the canonical text of one SQLite value of a column of type `ty` to `line`
/// (`scratch`: reused for the raw text, so that a row costs no allocation).
fn push_source_text(value: ValueRef<'_>, ty: &ColumnType, line: &mut String, scratch: &mut String) {
    scratch.clear();
    let raw: Cow<'_, str> = match value {
        ValueRef::Null => {
            line.push_str(NULL);
            return;
        }
        ValueRef::Integer(n) if *ty == ColumnType::Bool => {
            Cow::Borrowed(if n != 0 { "true" } else { "false" })
        }
        ValueRef::Integer(n) => {
            let _ = write!(scratch, "{n}");
            Cow::Borrowed(scratch.as_str())
        }
        // Written as an integer by `copy_text`, so read back as one.
        ValueRef::Real(f) if matches!(ty, ColumnType::Integer { .. }) && f.fract() == 0.0 => {
            let _ = write!(scratch, "{f:.0}");
            Cow::Borrowed(scratch.as_str())
        }
        // Its canonical text straight from the value, with no round trip through decimal text.
        ValueRef::Real(f) if *ty == ColumnType::Float => {
            push_float_key(f, line);
            return;
        }
        ValueRef::Real(f) => Cow::Owned(float_text(f)),
        ValueRef::Text(t) if *ty == ColumnType::Blob => Cow::Owned(bytea_text(t)),
        ValueRef::Text(t) => String::from_utf8_lossy(t),
        ValueRef::Blob(b) => Cow::Owned(bytea_text(b)),
    };
    line.push_str(&canonical(&raw, ty));
}

/// The checksum of a table's rows in SQLite, or of column `only` alone (a second pass, made only
/// to say which columns differ).
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
    let mut scratch = String::new();
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
            push_source_text(value, &column.ty, &mut line, &mut scratch);
        }
        sum.add(&line);
    }
    Ok(sum)
}

/// The signature that starts a binary `COPY` stream.
const BINARY_COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The checksum of a table's rows in PostgreSQL, or of column `only` alone: every value as
/// PostgreSQL prints it (`::text`), streamed as a binary `COPY`, one row in memory at a time.
fn target_checksum(
    target: &mut impl GenericClient,
    table: &Table,
    only: Option<usize>,
) -> CliResult<TableChecksum> {
    let selected: Vec<usize> = (0..table.columns.len())
        .filter(|i| only.is_none_or(|only| only == *i))
        .collect();
    let columns = selected
        .iter()
        .map(|&i| {
            let column = &table.columns[i];
            // A `real` column prints its shortest single-precision text ("0.1"); widened, it
            // prints the double SQLite holds for the same value.
            let widen = match column.ty {
                ColumnType::Float | ColumnType::Float32 => "::float8",
                _ => "",
            };
            format!(
                "{}{widen}::text",
                qvdiff_postgres::quote_ident(&column.name)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "COPY (SELECT {columns} FROM {}) TO STDOUT (FORMAT binary)",
        qvdiff_postgres::quote_ident(&table.name)
    );
    let reader = target
        .copy_out(sql.as_str())
        .map_err(|e| pg_failure(format!("reading {} back", table.name), e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let broken = |what: &str| {
        CliError::new(format!(
            "reading {} back: the server's COPY stream {what}; nothing was committed",
            table.name
        ))
    };
    let mut header = [0u8; 19];
    reader
        .read_exact(&mut header)
        .map_err(|_| broken("ended early"))?;
    if &header[..11] != BINARY_COPY_SIGNATURE {
        return Err(broken("does not start with the binary COPY signature"));
    }
    let extension = u32::from_be_bytes([header[15], header[16], header[17], header[18]]);
    std::io::copy(
        &mut (&mut reader).take(u64::from(extension)),
        &mut std::io::sink(),
    )
    .map_err(|_| broken("ended early"))?;
    let mut sum = TableChecksum::default();
    let mut line = String::new();
    let mut value = Vec::new();
    loop {
        let mut count = [0u8; 2];
        reader
            .read_exact(&mut count)
            .map_err(|_| broken("ended early"))?;
        let count = i16::from_be_bytes(count);
        if count == -1 {
            break;
        }
        if count as usize != selected.len() {
            return Err(broken("holds rows of another width"));
        }
        line.clear();
        for &i in &selected {
            if i > 0 {
                line.push(FIELD);
            }
            let mut length = [0u8; 4];
            reader
                .read_exact(&mut length)
                .map_err(|_| broken("ended early"))?;
            let length = i32::from_be_bytes(length);
            if length < 0 {
                line.push_str(NULL);
                continue;
            }
            value.clear();
            let read = (&mut reader)
                .take(length as u64)
                .read_to_end(&mut value)
                .map_err(|_| broken("ended early"))?;
            if read != length as usize {
                return Err(broken("ended early"));
            }
            let raw = String::from_utf8_lossy(&value);
            line.push_str(&canonical(&raw, &table.columns[i].ty));
        }
        sum.add(&line);
    }
    // The rest of the stream (nothing after the trailer) ends the COPY.
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(|_| broken("ended early"))?;
    Ok(sum)
}

/// One value's canonical text for its logical type (see the module docs); borrowed when the raw
/// text is already canonical.
fn canonical<'a>(raw: &'a str, ty: &ColumnType) -> Cow<'a, str> {
    match ty {
        ColumnType::Bool => match raw {
            "t" | "true" | "1" => Cow::Borrowed("true"),
            "f" | "false" | "0" => Cow::Borrowed("false"),
            other => Cow::Borrowed(other),
        },
        ColumnType::Float | ColumnType::Float32 => {
            let value = match raw {
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => other.parse::<f64>(),
            };
            match value {
                Ok(f) => {
                    let mut key = String::with_capacity(17);
                    push_float_key(f, &mut key);
                    Cow::Owned(key)
                }
                Err(_) => Cow::Borrowed(raw),
            }
        }
        ColumnType::Decimal { .. } => trim_fraction(raw),
        ColumnType::DateTimeTz => match instant_in_utc(raw) {
            Some(utc) => Cow::Owned(utc),
            None => Cow::Borrowed(raw),
        },
        ColumnType::DateTime | ColumnType::Time | ColumnType::Date => {
            if !raw.contains(['T', 'Z', '+']) {
                return trim_fraction(raw);
            }
            let text = raw.replacen('T', " ", 1);
            let text = text
                .strip_suffix('Z')
                .or_else(|| text.strip_suffix("+00:00"))
                .or_else(|| text.strip_suffix("+00"))
                .unwrap_or(&text);
            Cow::Owned(trim_fraction(text).into_owned())
        }
        ColumnType::Uuid => Cow::Owned(raw.to_ascii_lowercase()),
        ColumnType::Json => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(value) => Cow::Owned(value.to_string()),
            Err(_) => Cow::Borrowed(raw),
        },
        _ => Cow::Borrowed(raw),
    }
}

/// An instant's canonical text: the same moment in UTC, `YYYY-MM-DD HH:MM:SS` with the
/// fraction's trailing zeros cut. SQLite keeps what the app wrote (`2026-01-02 03:04:05+02:00`,
/// `…T…Z`, or no offset at all, which port reads as UTC as the target session does), PostgreSQL
/// prints the session's zone (`2026-01-02 01:04:05+00`). `None` when `raw` is no timestamp.
fn instant_in_utc(raw: &str) -> Option<String> {
    let text = raw.trim();
    let (local, offset_seconds) = match text.strip_suffix(['Z', 'z']) {
        Some(local) => (local, 0),
        None => match text.get(10..).and_then(|time| time.rfind(['+', '-'])) {
            Some(at) => {
                let at = at + 10;
                (&text[..at], offset_in_seconds(&text[at..])?)
            }
            None => (text, 0),
        },
    };
    let local = local.trim_end().replacen('T', " ", 1);
    let naive = chrono::NaiveDateTime::parse_from_str(&local, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(&local, "%Y-%m-%d %H:%M"))
        .ok()?;
    let utc = naive.checked_sub_signed(chrono::TimeDelta::seconds(offset_seconds))?;
    let text = utc.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    Some(trim_fraction(&text).into_owned())
}

/// `+02:00`, `+0200`, `+02`, `-05:30:15` as seconds east of UTC.
fn offset_in_seconds(offset: &str) -> Option<i64> {
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![2, 4, 6].contains(&digits.len()) {
        return None;
    }
    let part = |i: usize| digits.get(i..i + 2).map_or(Ok(0), str::parse::<i64>);
    let seconds = part(0).ok()? * 3600 + part(2).ok()? * 60 + part(4).ok()?;
    Some(sign * seconds)
}

/// A float's canonical text: its exact binary value (any NaN as one NaN) in hex, so that both
/// spellings of a value (`1` and `1.0`, `1e+300` and `1e300`) agree without formatting digits.
fn push_float_key(f: f64, line: &mut String) {
    let bits = if f.is_nan() {
        f64::NAN.to_bits()
    } else {
        f.to_bits()
    };
    let _ = write!(line, "~{bits:016x}");
}

/// `19.990` → `19.99`, `5.00` → `5`, `10:00:00.500` → `10:00:00.5`.
fn trim_fraction(text: &str) -> Cow<'_, str> {
    match text.rfind('.') {
        Some(dot) if text[dot + 1..].chars().all(|c| c.is_ascii_digit()) => {
            let trimmed = text.trim_end_matches('0');
            Cow::Borrowed(trimmed.trim_end_matches('.'))
        }
        _ => Cow::Borrowed(text),
    }
}

/// Locks every table of `schema` against other writers until the caller's transaction ends.
pub fn lock_tables(target: &mut impl GenericClient, schema: &Schema) -> CliResult<()> {
    if schema.tables.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = schema
        .tables
        .iter()
        .map(|t| qvdiff_postgres::quote_ident(&t.name))
        .collect();
    target
        .batch_execute(&format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            names.join(", ")
        ))
        .map_err(|e| pg_failure("locking the target's tables".to_string(), e))
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
        let instant = ColumnType::DateTimeTz;
        for (sqlite, server) in [
            ("2026-01-02 03:04:05+02:00", "2026-01-02 01:04:05+00"),
            ("2026-01-02T01:04:05Z", "2026-01-02 03:04:05+02"),
            ("2026-01-02 00:30:00.250-05:30", "2026-01-02 06:00:00.25+00"),
            ("2026-01-01 23:00:00", "2026-01-02 00:00:00+01"),
            ("2026-01-02 01:04:05.000000+00:00", "2026-01-02 01:04:05+00"),
        ] {
            assert_eq!(
                canonical(sqlite, &instant),
                canonical(server, &instant),
                "{sqlite} vs {server}"
            );
        }
        assert_eq!(
            canonical("2026-01-02 03:04:05+02:00", &instant),
            "2026-01-02 01:04:05"
        );
        assert_ne!(
            canonical("2026-01-02 03:04:05+02:00", &instant),
            canonical("2026-01-02 03:04:05+00", &instant)
        );
        assert_eq!(canonical("not a time", &instant), "not a time");
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
        fn float(raw: &str) -> Cow<'_, str> {
            canonical(raw, &ColumnType::Float)
        }
        assert_eq!(float("1e+300"), float(&float_text(1e300)));
        assert_eq!(float("1"), float("1.0"));
        assert_eq!(float("Infinity"), float("inf"));
        assert_eq!(float("NaN"), float(&float_text(f64::NAN)));
        assert_ne!(float("0.1"), float("0.10000000000000002"));
        assert_ne!(float("0"), float("-0"));
        let (mut line, mut scratch) = (String::new(), String::new());
        push_source_text(
            ValueRef::Real(0.1),
            &ColumnType::Float,
            &mut line,
            &mut scratch,
        );
        assert_eq!(line, float("0.1"));
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

    /// A table whose foreign keys reference `parents` (by an `id` column).
    fn table(name: &str, parents: &[&str]) -> Table {
        let fks: Vec<String> = parents
            .iter()
            .map(|p| format!(r#"{{"columns":["{p}_id"],"ref_table":"{p}","ref_columns":["id"]}}"#))
            .collect();
        serde_json::from_str(&format!(
            r#"{{"name":"{name}","columns":[],"foreign_keys":[{}]}}"#,
            fks.join(",")
        ))
        .unwrap()
    }

    fn names(order: &[&Table]) -> Vec<String> {
        order.iter().map(|t| t.name.clone()).collect()
    }

    #[test]
    fn tables_are_copied_after_their_parents_and_a_cycle_is_refused() {
        let schema = Schema {
            tables: vec![
                table("a_lines", &["orders", "items"]),
                table("items", &[]),
                table("orders", &["customers"]),
                table("customers", &["customers"]),
            ],
            ..Schema::default()
        };
        assert_eq!(
            names(&dependency_order(&schema).unwrap()),
            ["customers", "items", "orders", "a_lines"]
        );
        let cyclic = Schema {
            tables: vec![
                table("left", &["right"]),
                table("right", &["left"]),
                table("free", &[]),
            ],
            ..Schema::default()
        };
        let refused = dependency_order(&cyclic).unwrap_err().to_string();
        assert!(
            refused.contains("the foreign keys of left, right form a cycle"),
            "{refused}"
        );
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
