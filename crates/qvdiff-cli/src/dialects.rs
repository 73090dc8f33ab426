//! The one place where the CLI depends on the project's dialect (`dialect` in `qvdiff.toml`).
//!
//! Commands ask this module for the planner (which also reads files for lint and review), the
//! recorded schema, the proof of a new migration, a live database behind the [`Backend`] trait,
//! or the offline script, and never branch on the dialect themselves. Each function maps the
//! dialect to its crate: `qvdiff-sqlite` or `qvdiff-postgres`, siblings that implement the same
//! boundaries ([`Dialect`] for planning and reading SQL, [`Backend`] for live databases). Only
//! this module and its submodules name those crates (`tests/tidy.rs` checks it): the SQLite
//! history replay and its cache (`sqlite_history`), SQLite's backups, and `port`, which copies
//! rows from one dialect to the other.

#[cfg(test)]
mod facts_tests;
pub mod port;
mod sqlite_history;

use crate::config::{Config, DialectKind};
use crate::db_url::{Database, PostgresTarget, UrlSource};
use crate::error::{CliError, CliResult};
use crate::history::History;
use crate::planning::schema_diff;
use qvdiff_core::runner::{plan_stamp, Migrations};
use qvdiff_core::{Backend, Dialect, RevisionTarget, Schema};

/// SQLite's online backups and restores (`backup`, `restore`, and `upgrade`'s backup).
pub use qvdiff_sqlite::backup;

/// The starting state of a new migration: its schema, and where the migration is proven.
pub struct Baseline {
    /// Where the proof runs.
    pub shadow: Shadow,
    /// The starting schema.
    pub schema: Schema,
    /// The live database the schema was read from (`--db`): its rows tell which columns
    /// becoming NOT NULL hold NULLs now. `None` for a schema the migration files give.
    pub live: Option<Database>,
    /// A PostgreSQL server at hand (`[postgres] shadow_url`, or `--db`): expressions are checked
    /// and the new file proven there too. Set by [`crate::baseline::choose`].
    pub server: Option<ProofServer>,
}

impl Baseline {
    /// The same starting point moved on to `schema` (the state between an expand and its
    /// contract revision), for the proof of what comes next; `None` where the proof needs the
    /// stored SQL of the schema (SQLite), which a planned schema does not have.
    pub fn moved_to(&self, schema: Schema) -> Option<Baseline> {
        match self.shadow {
            Shadow::Sqlite(_) => None,
            Shadow::Replay => Some(Baseline {
                shadow: Shadow::Replay,
                schema,
                live: None,
                server: self.server.clone(),
            }),
        }
    }
}

/// A PostgreSQL server where a new migration is proven on a throwaway database.
#[derive(Debug, Clone)]
pub struct ProofServer {
    /// Where to connect (the throwaway database is made beside the URL's database).
    pub url: String,
    /// `[postgres] shadow_url` names it, so a server that cannot make the database is an
    /// error; with `--db` (a database that is there for its own sake) the proof is then
    /// skipped with a warning.
    pub required: bool,
}

impl ProofServer {
    /// The server where a new file of a history in `dialect` is proven: `shadow_url`, else the
    /// `--db` URL when that names a PostgreSQL database. `None` for SQLite and without either.
    pub fn of(
        config: &Config,
        dialect: DialectKind,
        db_flag: Option<&str>,
    ) -> CliResult<Option<ProofServer>> {
        if dialect != DialectKind::Postgres {
            return Ok(None);
        }
        if let Some(url) = &config.shadow_url {
            return Ok(Some(ProofServer {
                url: url.clone(),
                required: true,
            }));
        }
        if db_flag.is_none() {
            return Ok(None);
        }
        Ok(match crate::db_url::resolve_database(config, db_flag)?.1 {
            Database::Postgres(target) => Some(ProofServer {
                url: target.url,
                required: false,
            }),
            Database::Sqlite(_) => None,
        })
    }
}

/// Where a proposed migration is proven (up, down, up again) before it is written.
pub enum Shadow {
    /// SQLite: the stored `CREATE` statements of the starting schema; the proof builds
    /// in-memory databases (no rows) from them and really runs the SQL there.
    Sqlite(Vec<qvdiff_sqlite::StoredObject>),
    /// PostgreSQL: `qvdiff_postgres::replay`, the pure interpreter of the DDL, applied to the
    /// starting schema (no server needed; the test suite holds it to a real server).
    Replay,
}

impl Baseline {
    /// Whether the database would evaluate `expr` (a value typed at a prompt, a `backfill_sql`)
    /// for a row of `row_of` (a table as the models want it): `Err` holds the database's own
    /// message, for the person who wrote `expr`.
    ///
    /// SQLite compiles `SELECT (expr) FROM table` on a schema-only copy where a temporary table
    /// with the wanted columns stands for `table` (so renames and added columns of this
    /// migration are known); that finds unknown functions and columns and syntax errors without
    /// running anything. The PostgreSQL replay holds no catalog of functions: with a server
    /// at hand ([`ProofServer`]) the server plans the same query over a temporary table;
    /// without one, an expression is judged by the server at `upgrade`.
    pub fn check_expression(&self, row_of: &qvdiff_core::Table, expr: &str) -> Result<(), String> {
        let Shadow::Sqlite(objects) = &self.shadow else {
            return match &self.server {
                Some(server) => qvdiff_postgres::check_expression(&server.url, row_of, expr),
                None => Ok(()),
            };
        };
        let copy = qvdiff_sqlite::shadow_from(objects).map_err(|e| e.to_string())?;
        let name = qvdiff_sqlite::quote_ident(&row_of.name);
        let columns: Vec<String> = row_of
            .columns
            .iter()
            .map(|c| qvdiff_sqlite::quote_ident(&c.name))
            .collect();
        copy.execute_batch(&format!(
            "CREATE TEMP TABLE {name} ({})",
            columns.join(", ")
        ))
        .map_err(|e| e.to_string())?;
        copy.prepare(&format!("SELECT ({expr}\n) FROM temp.{name}"))
            .map(drop)
            .map_err(|e| qvdiff_sqlite::sqlite_message(&e))
    }

    /// The dialect's name, for messages that quote the database.
    pub fn dialect_name(&self) -> &'static str {
        match self.shadow {
            Shadow::Sqlite(_) => "SQLite",
            Shadow::Replay => "PostgreSQL",
        }
    }
}

/// Makes the process ready for the dialects' work: SQLite's memory statistics off (with them,
/// every allocation of every connection takes one global mutex).
pub fn prepare_process() {
    qvdiff_sqlite::disable_memory_statistics();
}

/// What besides qvdiff's own build decides a replayed schema (the SQLite library's version),
/// for the replay cache's key.
pub fn engine_identity() -> &'static str {
    rusqlite::version()
}

/// A database URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    qvdiff_postgres::redact_url(url)
}

/// Whether the PostgreSQL driver can read `url`, without connecting: the reason when it cannot.
pub fn check_postgres_url(url: &str) -> Result<(), String> {
    qvdiff_postgres::connect::parse_url(url)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The planner of `dialect`, with the project's settings for it.
pub fn planner(config: &Config, dialect: DialectKind) -> Box<dyn Dialect> {
    match dialect {
        DialectKind::Sqlite => Box::new(qvdiff_sqlite::Sqlite),
        DialectKind::Postgres => Box::new(qvdiff_postgres::Postgres {
            online_ddl: config.online_ddl,
        }),
    }
}

/// A column type as the project's dialect writes it (for summaries).
pub fn type_name(config: &Config, ty: &qvdiff_core::ColumnType) -> String {
    planner(config, config.dialect).type_name(ty)
}

/// What drift detection on this database does not compare (one line for the report), or `None`
/// when it compares everything its dialect's schema holds.
pub fn not_compared(database: &Database) -> Option<&'static str> {
    match database {
        Database::Sqlite(_) => None,
        Database::Postgres(_) => Some(qvdiff_postgres::introspect::NOT_COMPARED),
    }
}

/// Opens a live database of the project's dialect (see [`crate::db_url::resolve_database`]).
/// `create`: a missing SQLite file is created (`upgrade`), and so is a missing `[postgres]
/// schema; a PostgreSQL database must exist.
pub fn open(database: &Database, create: bool) -> CliResult<Box<dyn Backend>> {
    match database {
        Database::Sqlite(target) => {
            if !create {
                target.require_existing()?;
            }
            let db = qvdiff_sqlite::SqliteDatabase::open(&target.path, create)
                .map_err(|e| CliError::new(e.message))?;
            Ok(Box::new(db))
        }
        Database::Postgres(target) => {
            let client = connect_postgres(target, create)?;
            Ok(Box::new(qvdiff_postgres::PostgresDatabase::from_client(
                client,
                &target.url,
            )))
        }
    }
}

/// A connection to a PostgreSQL database whose unqualified names resolve to the project's
/// schema (`[postgres] schema`, see [`qvdiff_postgres::connect::use_schema`]; `create`: a
/// missing schema is created).
pub fn connect_postgres(target: &PostgresTarget, create: bool) -> CliResult<postgres::Client> {
    let mut client = qvdiff_postgres::connect(&target.url).map_err(|e| {
        // An environment variable set long ago is easy to forget: say which URL was used.
        let overrides = match target.source {
            UrlSource::Env => " (it overrides `database` in qvdiff.toml)",
            _ => "",
        };
        CliError::new(e.to_string()).with_hint(format!(
            "the URL is from {}{overrides}: check it (postgres://user@host:port/database) and \
             that the server is running",
            target.source
        ))
    })?;
    if let Some(schema) = &target.schema {
        qvdiff_postgres::connect::use_schema(&mut client, &target.display(), schema, create)
            .map_err(|e| CliError::new(e.to_string()))?;
    }
    Ok(client)
}

/// Opens a live database for reading only: a SQLite file is opened read-only (its bytes never
/// change); a PostgreSQL database is only read from.
pub fn open_read_only(database: &Database) -> CliResult<Box<dyn Backend>> {
    match database {
        Database::Sqlite(target) => {
            let conn = sqlite_history::open_read_only(target)?;
            Ok(Box::new(qvdiff_sqlite::SqliteDatabase::from_connection(
                conn,
                &target.path,
            )))
        }
        Database::Postgres(_) => open(database, false),
    }
}

/// The comments to draw a history's schema with. A SQLite history records none, so the current
/// models, where its comments live, lend theirs (to the tables and columns of the same names);
/// `None` when they cannot be captured, and then the diagram goes without. A PostgreSQL history
/// carries its own: `None`.
pub fn comments_for_history(config: &Config, manifest: Option<&std::path::Path>) -> Option<Schema> {
    match config.dialect {
        DialectKind::Sqlite => crate::models::ModelSource::choose(config, manifest)
            .load()
            .ok(),
        DialectKind::Postgres => None,
    }
}

/// The schema a history's migrations produce, and where to verify a new one on top of it.
/// `server`: a live database of the history's dialect, when one was named (`--db`); a
/// PostgreSQL history the replay cannot read (hand-written views, functions, triggers) is
/// then replayed on it, in a transaction that is rolled back.
pub fn recorded(history: &History, server: Option<&Database>) -> CliResult<Baseline> {
    match history.dialect {
        DialectKind::Sqlite => sqlite_history::recorded(&history.migrations),
        DialectKind::Postgres => {
            let order = history.migrations.in_order();
            let schema = modelled_chain(order.iter().copied(), server)?;
            Ok(Baseline {
                shadow: Shadow::Replay,
                schema,
                live: None,
                server: None,
            })
        }
    }
}

/// The schema the committed migrations produce, when nothing will be verified on top of it
/// (`check`): SQLite then skips loading the cached shadow database.
pub fn recorded_schema(history: &History, server: Option<&Database>) -> CliResult<Schema> {
    match history.dialect {
        DialectKind::Sqlite => sqlite_history::recorded_schema(&history.migrations),
        DialectKind::Postgres => Ok(recorded(history, server)?.schema),
    }
}

/// The schema revision `target` (with its ancestors) produces; `base` is empty. `server` as for
/// [`recorded`].
pub fn schema_at(history: &History, target: &str, server: Option<&Database>) -> CliResult<Schema> {
    let migrations = &history.migrations;
    let target = RevisionTarget::named(target);
    match history.dialect {
        DialectKind::Sqlite => qvdiff_sqlite::runner::schema_at(migrations, &target)
            .map_err(|e| CliError::new(e.to_string())),
        DialectKind::Postgres => {
            let chain =
                plan_stamp(migrations, &target).map_err(|e| CliError::new(e.to_string()))?;
            modelled_chain(chain.into_iter(), server)
        }
    }
}

fn modelled_chain<'a>(
    chain: impl Iterator<Item = &'a qvdiff_core::runner::Migration>,
    server: Option<&Database>,
) -> CliResult<Schema> {
    let chain: Vec<_> = chain.collect();
    let scripts = || {
        chain
            .iter()
            .map(|m| (m.file.revision.as_str(), m.file.up.as_str()))
    };
    let error = match qvdiff_postgres::replay_chain(scripts()) {
        Ok(schema) => return Ok(schema),
        Err(error) => error,
    };
    if let (qvdiff_postgres::ReplayErrorKind::Unsupported, Some(Database::Postgres(target))) =
        (error.kind, server)
    {
        let mut client = connect_postgres(target, false)?;
        return qvdiff_postgres::replay_on_server(&mut client, scripts())
            .map(|schema| qvdiff_postgres::Postgres::default().normalize(&schema))
            .map_err(|e| CliError::new(e.to_string()));
    }
    let mut error = error;
    let path = error
        .revision
        .as_deref()
        .and_then(|rev| chain.iter().find(|m| m.file.revision == rev))
        .map(|m| m.path.clone());
    let message = match path {
        Some(path) => {
            // The model counts lines in the up section; the reader opens the file.
            if let Ok(text) = std::fs::read_to_string(&path) {
                let (up_marker, _) = crate::commands::lint::marker_lines(&text);
                error.line += up_marker;
            }
            format!("{path}: {error}")
        }
        None => error.to_string(),
    };
    // The model's message already says what it can model and what to do instead.
    Err(CliError::new(format!(
        "cannot model the migrations' schema: {message}"
    )))
}

/// A live database's schema (read only), and where to verify a new migration on top of it.
pub fn live(database: &Database) -> CliResult<Baseline> {
    let mut baseline = match database {
        Database::Sqlite(target) => sqlite_history::live(target)?,
        Database::Postgres(_) => {
            let mut db = open(database, false)?;
            let schema = db.introspect().map_err(|e| {
                CliError::new(format!(
                    "cannot read the schema of {}: {e}",
                    database.display()
                ))
            })?;
            Baseline {
                shadow: Shadow::Replay,
                schema,
                live: None,
                server: None,
            }
        }
    };
    baseline.live = Some(database.clone());
    Ok(baseline)
}

/// The offline script of `qvdiff sql [FROM:TO]` for a history.
pub fn offline_script(history: &History, range: Option<&str>) -> CliResult<String> {
    let migrations = &history.migrations;
    match history.dialect {
        DialectKind::Sqlite => qvdiff_sqlite::runner::sql_script(migrations, range)
            .map_err(|e| CliError::new(e.to_string())),
        DialectKind::Postgres => qvdiff_postgres::runner::sql_script(migrations, range)
            .map_err(|e| CliError::new(e.to_string())),
    }
}

/// The script `upgrade --sql` prints for a database file that does not exist yet (only SQLite
/// has one): every revision from base to `target`, stopping before a contract revision unless
/// `contract`.
pub fn upgrade_script_from_base(
    migrations: &Migrations,
    target: &RevisionTarget,
    contract: bool,
) -> CliResult<String> {
    qvdiff_sqlite::runner::upgrade_sql_from_base(migrations, target, contract)
        .map_err(|e| CliError::new(e.to_string()))
}

/// Part of the proof on SQLite: every SQL default is taken by an insert, so a default SQLite
/// cannot compute (`now()`) is refused here rather than at the application's first insert.
fn refuse_unusable_defaults(wanted: &Schema) -> CliResult<()> {
    let unusable = qvdiff_sqlite::unusable_defaults(wanted)
        .map_err(|e| CliError::new(format!("verification failed: {e}; nothing was written")))?;
    refuse_defaults(
        "SQLite",
        [
            "every insert that takes it would fail",
            "every insert that takes one would fail",
        ],
        "give `default_sql` an expression SQLite computes",
        unusable
            .into_iter()
            .map(|d| (d.table, d.column, d.default, d.reason)),
    )
}

/// Part of the proof on PostgreSQL's model: a default that calls a function only SQLite has
/// (`datetime('now')`, written for the other history of the project) is refused here rather
/// than by the server at `upgrade`.
fn refuse_postgres_unusable_defaults(wanted: &Schema) -> CliResult<()> {
    refuse_defaults(
        "PostgreSQL",
        [
            "the server would refuse it at upgrade",
            "the server would refuse them at upgrade",
        ],
        "give `default_sql` an expression PostgreSQL computes",
        qvdiff_postgres::replay::unusable_defaults(wanted)
            .into_iter()
            .map(|d| (d.table, d.column, d.default, d.reason)),
    )
}

/// The refusal of `(table, column, default clause, reason)` defaults `engine` cannot compute;
/// `consequence` says what would happen, for one default and for several.
fn refuse_defaults(
    engine: &str,
    consequence: [&str; 2],
    fix: &str,
    unusable: impl Iterator<Item = (String, String, String, String)>,
) -> CliResult<()> {
    let unusable: Vec<_> = unusable.collect();
    if unusable.is_empty() {
        return Ok(());
    }
    let one = unusable.len() == 1;
    Err(CliError::new(format!(
        "{} default{} cannot be computed by {engine}: {}; nothing was written",
        unusable.len(),
        if one { "" } else { "s" },
        consequence[usize::from(!one)],
    ))
    .with_details(unusable.iter().map(|(table, column, default, reason)| {
        format!("{table}.{column}: DEFAULT {default}: {reason}")
    }))
    .with_hint(format!(
        "{fix}: CURRENT_TIMESTAMP, CURRENT_DATE and CURRENT_TIME work on SQLite and PostgreSQL \
         alike; for one each dialect spells its own way, write both: \
         #[column(default_sql(sqlite = \"datetime('now')\", postgres = \"now()\"))]"
    )))
}

/// Proves up and down SQL on the baseline's shadow against `wanted` (as the dialect stores it):
/// up gives `wanted`, down the baseline, up again `wanted`. A mismatch is reported with a
/// unified diff of the schemas.
pub fn prove(baseline: &Baseline, wanted: &Schema, up_sql: &str, down_sql: &str) -> CliResult<()> {
    let mismatch = |what: &str, expected: &Schema, actual: &Schema| {
        CliError::new(format!(
            "verification failed: {what} does not give the expected schema; nothing was written"
        ))
        .with_details([schema_diff(expected, actual)])
        .with_hint("this is a qvdiff bug: please report it with the models and migrations involved")
    };
    match &baseline.shadow {
        Shadow::Sqlite(objects) => {
            refuse_unusable_defaults(wanted)?;
            let before = &baseline.schema;
            qvdiff_sqlite::verify_stored(objects, before, wanted, up_sql, down_sql).map_err(|e| {
                let mut err = CliError::new(format!("{e}; nothing was written"));
                if let qvdiff_sqlite::VerifyError::Mismatch {
                    expected, actual, ..
                } = &e
                {
                    err = err.with_details([schema_diff(expected, actual)]);
                }
                err.with_hint(
                    "this is a qvdiff bug: please report it with the models and migrations involved",
                )
            })
        }
        Shadow::Replay => {
            refuse_postgres_unusable_defaults(wanted)?;
            let apply = |schema: &Schema, sql: &str, what: &str| {
                let mut after = schema.clone();
                qvdiff_postgres::replay::apply_sql(&mut after, sql).map_err(|e| {
                    CliError::new(format!(
                        "verification failed: the {what} section cannot be modelled: {e}; \
                         nothing was written"
                    ))
                })?;
                Ok::<Schema, CliError>(after.normalized().comparable())
            };
            let start = baseline.schema.comparable();
            let wanted = wanted.comparable();
            let up = apply(&start, up_sql, "up")?;
            if up != wanted {
                return Err(mismatch("the up section", &wanted, &up));
            }
            let down = apply(&up, down_sql, "down")?;
            if down != start {
                return Err(mismatch("the down section", &start, &down));
            }
            let again = apply(&down, up_sql, "up")?;
            if again != wanted {
                return Err(mismatch("the up section run again", &wanted, &again));
            }
            Ok(())
        }
    }
}

/// The second half of a PostgreSQL proof, where a server is at hand ([`Baseline::server`]):
/// `text` (the new file as it will be written) runs on a throwaway database there, after the
/// history, up, down and up again, with the schema read back after each step. A statement the
/// server refuses is the models' error (an expression it does not know), reported with the
/// server's message; nothing is written.
pub fn prove_on_server(
    baseline: &Baseline,
    history: &Migrations,
    path: &std::path::Path,
    text: &str,
    wanted: &Schema,
    console: &crate::output::Console,
) -> CliResult<()> {
    let Some(server) = &baseline.server else {
        return Ok(());
    };
    let shown = redact_url(&server.url);
    let file = crate::models::display_path(path);
    let migration = qvdiff_core::runner::Migration::from_text(text, file.clone())
        .map_err(|e| CliError::new(format!("{file}: {e}")))?;
    console.detail(&format!(
        "proving the file on a throwaway database of {shown}"
    ));
    let error = match qvdiff_postgres::prove_on_server(&server.url, history, migration, wanted) {
        Ok(()) => return Ok(()),
        Err(error) => error,
    };
    match error {
        qvdiff_postgres::ProofError::Unavailable(why) if !server.required => {
            console.warn(&format!(
                "{file} is proven on the schema model only: {why} (set [postgres] shadow_url to \
                 a server where qvdiff may create databases)"
            ));
            Ok(())
        }
        qvdiff_postgres::ProofError::Unavailable(why) => Err(CliError::new(format!(
            "cannot prove {file} on [postgres] shadow_url ({shown}): {why}; nothing was written"
        ))
        .with_hint(
            "shadow_url needs a running server and a role with CREATEDB; remove the key to \
             prove on the schema model alone",
        )),
        rejected @ qvdiff_postgres::ProofError::Rejected { .. } => Err(CliError::new(format!(
            "{file}: PostgreSQL refuses it on a throwaway database of {shown}: {rejected}; \
             nothing was written"
        ))
        .with_hint(
            "an expression in the models (using, default_sql, backfill_sql, a check) or an \
             answer is not one this server can run: fix it there and run migrate again",
        )),
        qvdiff_postgres::ProofError::Mismatch { step, differences } => Err(CliError::new(format!(
            "verification failed: on a throwaway database of {shown}, the {step} section of \
                 {file} does not give the expected schema; nothing was written"
        ))
        .with_details(differences)
        .with_hint(
            "this is a qvdiff bug: please report it with the models and migrations involved",
        )),
    }
}
