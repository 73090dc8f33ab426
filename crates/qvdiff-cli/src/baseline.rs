//! The schema a new migration starts from: the one the committed migrations produce (replayed on
//! an in-memory database), or a live database's (copied schema-only into memory, never written).

use crate::db_url::DatabaseTarget;
use crate::error::{CliError, CliResult};
use crate::models::display_path;
use qvdiff_core::runner::Migrations;
use qvdiff_core::Schema;
use rusqlite::{Connection, OpenFlags};

/// An in-memory database at the starting state, and its schema.
pub struct Baseline {
    /// In-memory database holding the schema (no rows): where verification runs.
    pub shadow: Connection,
    /// Its introspected schema.
    pub schema: Schema,
}

/// The schema the committed migrations produce, replayed in graph order.
pub fn recorded(migrations: &Migrations) -> CliResult<Baseline> {
    let order = migrations.in_order();
    let shadow = qvdiff_sqlite::replay(
        order
            .iter()
            .map(|m| (m.file.revision.as_str(), m.file.up.as_str())),
    )
    .map_err(|e| {
        CliError::new(format!("replaying the migrations failed: {e}"))
            .with_hint("fix the migration named above; `qvdiff sql` prints the whole chain")
    })?;
    let schema = introspect(&shadow, "the replayed migrations")?;
    Ok(Baseline { shadow, schema })
}

/// A live database's schema, read-only; the database file is never modified.
pub fn live(target: &DatabaseTarget) -> CliResult<Baseline> {
    let live = open_read_only(target)?;
    let shadow = qvdiff_sqlite::schema_copy(&live).map_err(|e| {
        CliError::new(format!(
            "cannot read the schema of {}: {e}",
            display_path(&target.path)
        ))
    })?;
    let schema = introspect(&shadow, &display_path(&target.path))?;
    Ok(Baseline { shadow, schema })
}

/// Opens an existing database file read-only.
pub fn open_read_only(target: &DatabaseTarget) -> CliResult<Connection> {
    if !target.path.is_file() {
        return Err(CliError::new(format!(
            "database {} does not exist (from {})",
            display_path(&target.path),
            target.source
        ))
        .with_hint("check the URL; `qvdiff upgrade` creates the database"));
    }
    let conn = Connection::open_with_flags(
        &target.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| CliError::new(format!("cannot open {}: {e}", display_path(&target.path))))?;
    // A file that is not a database only fails on first read: read now, with the name in the message.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| {
        CliError::new(format!(
            "{} is not a readable SQLite database: {e}",
            display_path(&target.path)
        ))
    })?;
    Ok(conn)
}

fn introspect(conn: &Connection, what: &str) -> CliResult<Schema> {
    qvdiff_sqlite::introspect(conn)
        .map_err(|e| CliError::new(format!("cannot introspect {what}: {e}")))
}

/// The starting point of `migrate` and `diff`: the live database with `--db`, otherwise the
/// committed migrations replayed in memory.
pub fn choose(
    config: &crate::config::Config,
    db_flag: Option<&str>,
    migrations: &Migrations,
    console: &crate::output::Console,
) -> CliResult<Baseline> {
    let base = match db_flag {
        Some(_) => {
            let target = crate::db_url::resolve(config, db_flag)?;
            console.detail(&format!(
                "reading the live schema of {} (read-only)",
                display_path(&target.path)
            ));
            live(&target)?
        }
        None => {
            console.detail(&format!(
                "replaying {} migration(s) in memory",
                migrations.len()
            ));
            recorded(migrations)?
        }
    };
    console.detail(&format!(
        "the starting schema has {} table(s)",
        base.schema.tables.len()
    ));
    Ok(base)
}
