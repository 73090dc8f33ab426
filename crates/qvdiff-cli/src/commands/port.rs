//! `qvdiff port --from sqlite://… --to postgres://…`: checks, upgrade of the target, then the
//! copy of `crate::dialects::port` in one transaction.

use crate::cli::PortArgs;
use crate::config::{Config, DialectKind};
use crate::db_url::{parse_database, Database, UrlSource};
use crate::dialects;
use crate::dialects::port::{
    connect_target, copy_all, enter_schema, introspect, lock_tables, pg_failure, tables_with_rows,
    upgrade_target,
};
use crate::error::{CliError, CliResult};
use crate::history::HistoryDir;
use crate::models::display_path;
use crate::output::{Console, Tone};
use crate::planning::schema_diff;
use qvdiff_core::runner::status;
use qvdiff_core::wording::plural;
use qvdiff_core::Schema;
use std::collections::BTreeMap;

/// Moves the rows; refuses (changing nothing) unless the source is at head and the target empty.
pub fn run(config: &Config, args: &PortArgs, console: &Console) -> CliResult<()> {
    let source = parse_database(&args.from, UrlSource::PortFrom, config)?;
    let target = parse_database(&args.to, UrlSource::PortTo, config)?;
    let (Database::Sqlite(source_file), Database::Postgres(target_db)) = (&source, &target) else {
        return Err(CliError::new(format!(
            "qvdiff port moves a SQLite database into PostgreSQL; got --from {} ({}) and --to {} \
             ({})",
            source.display(),
            source.dialect().display_name(),
            target.display(),
            target.dialect().display_name()
        ))
        .with_hint("qvdiff port --from sqlite://instance/app.db --to postgres://user@host/db"));
    };
    let (Some(sqlite), Some(postgres)) = (
        HistoryDir::in_dialect(config, DialectKind::Sqlite),
        HistoryDir::in_dialect(config, DialectKind::Postgres),
    ) else {
        return Err(CliError::new(format!(
            "{} keeps no history in both dialects: port needs the SQLite migrations the source is \
             at and the PostgreSQL migrations that build the target",
            display_path(&config.file)
        ))
        .with_hint(
            "keep dialect = \"sqlite\" and add [postgres] migrations = \"migrations/postgres\"; \
             `qvdiff migrate` then writes both",
        ));
    };

    // The source: at the head of its history, and exactly the schema that head produces.
    let sqlite_history = sqlite.load()?;
    let mut source_db = dialects::open_read_only(&source)?;
    let applied = source_db
        .applied()
        .map_err(|e| CliError::new(e.to_string()))?;
    let state = status(&sqlite_history.migrations, &applied);
    let head = match (state.current.as_slice(), state.is_up_to_date()) {
        ([one], true) if state.unknown.is_empty() && state.edited.is_empty() => one.clone(),
        _ => {
            let at = if state.current.is_empty() {
                "base".to_string()
            } else {
                state.current.join(", ")
            };
            return Err(CliError::new(format!(
                "the source {} is not at head (it is at {at}; pending: {}): nothing was copied",
                display_path(&source_file.path),
                if state.pending.is_empty() {
                    "none".to_string()
                } else {
                    state.pending.join(", ")
                }
            ))
            .with_hint(
                "run `qvdiff upgrade` on it first (and `qvdiff merge` if there are several heads)",
            ));
        }
    };
    let expected =
        source_db
            .dialect()
            .comparable(&dialects::schema_at(&sqlite_history, &head, None)?);
    let live = source_db
        .introspect()
        .map_err(|e| CliError::new(e.to_string()))?;
    let live = source_db.dialect().comparable(&live);
    if expected != live {
        return Err(CliError::new(format!(
            "the source {} has drifted from revision {head}: its schema is not the one the \
             migrations produce; nothing was copied",
            display_path(&source_file.path)
        ))
        .with_details([schema_diff(&expected, &live)])
        .with_hint(
            "undo the change on the source, or put it in the models, run `qvdiff migrate` and \
             `qvdiff stamp` the new revision on the source",
        ));
    }
    drop(source_db);

    // The target: the same revision must exist in the PostgreSQL history; no rows anywhere.
    let postgres_history = postgres.load()?;
    if postgres_history.migrations.get(&head).is_none() {
        return Err(CliError::new(format!(
            "the PostgreSQL history in {} has no revision {head} (the source's head); nothing \
             was copied",
            postgres.shown()
        ))
        .with_hint("run `qvdiff migrate` so both histories reach the same revision"));
    }
    let mut client = connect_target(target_db)?;
    // Schema, ledger and rows commit together: a copy that fails leaves the target as it was
    // (a `[postgres] schema` it creates included).
    let mut tx = client
        .transaction()
        .map_err(|e| pg_failure("starting the port".to_string(), e))?;
    let present = enter_schema(&mut tx, target_db)?;
    refuse_rows(&tables_with_rows(&mut tx, &present)?, &target_db.display())?;
    let steps = upgrade_target(
        &mut tx,
        target_db,
        &postgres_history.migrations,
        &head,
        config.busy_timeout,
    )?;
    for step in &steps {
        console.detail(&format!(
            "target: applied {} {}",
            step.revision, step.message
        ));
    }
    let target_schema = introspect(&mut tx)?;
    same_columns(&live, &target_schema)?;
    // Nobody writes between the check above and the copy: the tables stay locked until commit.
    lock_tables(&mut tx, &target_schema)?;
    refuse_rows(
        &tables_with_rows(&mut tx, &target_schema)?,
        &target_db.display(),
    )?;
    let tables = copy_all(source_file, &mut tx, &target_schema, console)?;
    tx.commit()
        .map_err(|e| pg_failure("committing the copy".to_string(), e))?;
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    for table in &tables {
        console.info(&format!(
            "  {}: {} row{}, checksum {} on both sides",
            table.table,
            table.rows,
            plural(table.rows as usize),
            table.checksum
        ));
    }
    console.info(&format!(
        "{} {rows} row{} in {} table{} from {} to {} at revision {head}",
        console.paint(Tone::Good, "Ported"),
        plural(rows as usize),
        tables.len(),
        plural(tables.len()),
        display_path(&source_file.path),
        target_db.display()
    ));
    Ok(())
}

/// The copy goes by column name: every source table and column must exist in the target.
fn same_columns(source: &Schema, target: &Schema) -> CliResult<()> {
    let mut missing = Vec::new();
    for table in &source.tables {
        match target.table(&table.name) {
            None => missing.push(format!("table {}", table.name)),
            Some(t) => missing.extend(
                table
                    .columns
                    .iter()
                    .filter(|c| t.column(&c.name).is_none())
                    .map(|c| format!("column {}.{}", table.name, c.name)),
            ),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(CliError::new(
        "the PostgreSQL history does not build the tables the source has; nothing was copied",
    )
    .with_details(missing)
    .with_hint("both histories must come from the same models: run `qvdiff check`"))
}

/// Refuses a target that holds rows (`filled`: rows per table), naming each table.
fn refuse_rows(filled: &BTreeMap<String, i64>, target: &str) -> CliResult<()> {
    if filled.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = filled
        .iter()
        .map(|(t, n)| format!("{t} ({n} row{})", plural(*n as usize)))
        .collect();
    Err(CliError::new(format!(
        "the target {target} is not empty: {}; nothing was copied",
        list.join(", ")
    ))
    .with_hint("port into a new, empty database"))
}
