//! The deploy workflow on a SQLite file: `upgrade`, `downgrade`, `stamp`, `current`, offline
//! `sql` scripts, and the schema a revision produces.
//!
//! # Locking and transactions
//!
//! `upgrade`, `downgrade` and `stamp` switch `foreign_keys` off (a no-op inside a transaction,
//! and a rebuild's `DROP TABLE` would cascade with it on), then open ONE `BEGIN IMMEDIATE`
//! transaction: it takes SQLite's write lock up front, waiting up to the busy timeout (30 s by
//! default) for another writer, so two deploys serialize instead of failing. Only under that lock
//! is the ledger read, checked against the files and planned, so a revision another process just
//! applied is seen as applied and never runs twice — the second process reports "up to date".
//! The backup (when asked) is taken under the same lock, so it is exactly the state the upgrade
//! started from. Each revision's SQL runs, then `PRAGMA foreign_key_check` (violations beyond
//! those already present before are refused with counts and example keys), then its ledger row is
//! written. Any failure rolls everything back: all revisions or none. `foreign_keys` is restored
//! afterwards, whatever happened.

use crate::apply::{added_violations, foreign_key_violations, run_script, with_foreign_keys_off};
use crate::backup::{backup_unpruned, prune, BackupError};
use crate::error::SqliteError;
use crate::ledger::{
    create_ledger, forget, offline_delete_sql, offline_insert_sql, read_audit, read_ledger,
    record_accepted, record_applied, update_checksum, CREATE_LEDGER_SQL,
};
use crate::preflight::{
    declared_types, explain_constraint_failure, explain_orphans, unconverted_values,
};
use crate::sqltext;
use qvdiff_core::backend::LockWait;
pub use qvdiff_core::backend::{
    BackupSettings, Direction, ProgressHook, RunOptions, RunReport, StampReport, StepReport,
    DEFAULT_BUSY_TIMEOUT,
};
use qvdiff_core::run_loop::{
    heads_label, run_revisions, script_plan, stamp_ledger, Ledger, LedgerWrite, RunRequest,
    RunSession,
};
use qvdiff_core::runner::{
    self, parse_range, plan_range, plan_stamp, AcceptPlan, AcceptedEdit, AppliedRevision,
    Migration, Migrations, RevisionTarget, ScriptPlan, Status,
};
use qvdiff_core::Schema;
use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why `upgrade`, `downgrade`, `stamp` or a read of the ledger failed, in the shape every
/// dialect shares (see [`qvdiff_core::backend::RunError`]). The run is one transaction: when it
/// fails, nothing was changed.
pub type RunError = qvdiff_core::backend::RunError<SqliteRunFailure>;

/// What only SQLite adds to a run's failures.
#[derive(Debug)]
pub enum SqliteRunFailure {
    /// A database operation of qvdiff's own failed (opening, the ledger, commit).
    Sqlite(SqliteError),
    /// The backup before the change failed; nothing was changed.
    Backup(BackupError),
}

impl fmt::Display for SqliteRunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqliteRunFailure::Sqlite(e) => write!(f, "{e}"),
            SqliteRunFailure::Backup(e) => write!(
                f,
                "backup before changing the database failed, so nothing was changed: {e} \
                 (--no-backup skips the backup)"
            ),
        }
    }
}

impl std::error::Error for SqliteRunFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SqliteRunFailure::Sqlite(e) => Some(e),
            SqliteRunFailure::Backup(e) => Some(e),
        }
    }
}

impl From<SqliteError> for RunError {
    fn from(e: SqliteError) -> Self {
        RunError::Dialect(SqliteRunFailure::Sqlite(e))
    }
}

impl From<BackupError> for RunError {
    fn from(e: BackupError) -> Self {
        RunError::Dialect(SqliteRunFailure::Backup(e))
    }
}

/// Opens a database file read-write for the runner. `create`: make the file when it is missing
/// (`upgrade`); otherwise a missing file is an error naming it.
pub fn open_database(path: &Path, create: bool) -> Result<Connection, RunError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.exists() {
        return Err(RunError::from(SqliteError::Database {
            context: format!("opening {}", path.display()),
            message: "no such database file (`qvdiff upgrade` creates it)".to_string(),
        }));
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        RunError::from(SqliteError::database(
            format!("opening {}", path.display()),
            e,
        ))
    })?;
    crate::apply::refuse_double_quoted_strings(&conn)?;
    // A file that is not a database opens fine and only fails on first read, where the message
    // would not name it: read now.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(|e| {
        RunError::from(SqliteError::database(
            format!(
                "{} is not a readable SQLite database (check the database URL)",
                path.display()
            ),
            e,
        ))
    })?;
    Ok(conn)
}

/// The ledger rows of a database (nothing applied without a ledger table).
pub fn applied(conn: &Connection) -> Result<Vec<AppliedRevision>, RunError> {
    Ok(read_ledger(conn)?)
}

/// Where the database stands: applied heads, pending revisions, unknown and edited revisions
/// (`qvdiff current`, `check --db`). Never refuses.
pub fn status(conn: &Connection, migrations: &Migrations) -> Result<Status, RunError> {
    Ok(runner::status(migrations, &read_ledger(conn)?))
}

/// A name for the database in messages.
fn database_name(conn: &Connection) -> String {
    match conn.path() {
        Some(path) if !path.is_empty() => path.to_string(),
        _ => "the in-memory database".to_string(),
    }
}

/// Runs `work` in the runner's write transaction (`BEGIN IMMEDIATE`), waiting up to `timeout`
/// for other writers. `work` commits; whatever it leaves open (a failure, or nothing to do) is
/// rolled back.
fn with_write_transaction<T>(
    conn: &mut Connection,
    timeout: Duration,
    work: impl FnOnce(&Connection) -> Result<T, RunError>,
) -> Result<T, RunError> {
    begin_write(conn, timeout)?;
    let result = work(conn);
    if !conn.is_autocommit() {
        // Nothing of a run that did not commit stays; a failed rollback leaves the transaction
        // to end with the connection.
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

/// Opens the runner's write transaction, waiting up to `timeout` for other writers.
fn begin_write(conn: &mut Connection, timeout: Duration) -> Result<(), RunError> {
    let database = database_name(conn);
    // SQLite silently opens a file it may not write read-only; say so before anything (a backup
    // included) is done, instead of failing on the first statement.
    let read_only = conn
        .is_readonly(rusqlite::MAIN_DB)
        .map_err(|e| SqliteError::database("checking whether the database is writable", e))?;
    if read_only {
        return Err(RunError::from(SqliteError::Database {
            context: format!("opening {database} for writing"),
            message: "the file (or its directory) is read-only for this user; check its \
                      permissions and owner; nothing was changed"
                .to_string(),
        }));
    }
    conn.busy_timeout(timeout)
        .map_err(|e| SqliteError::database("setting the busy timeout", e))?;
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                RunError::Locked(LockWait {
                    database,
                    waited: timeout,
                    holder: "another writer".to_string(),
                    detail: "another upgrade, or a long write by the application".to_string(),
                })
            }
            _ => RunError::from(SqliteError::database(
                "starting the migration transaction",
                e,
            )),
        })
}

/// Commits the runner's write transaction; `action` names it in a message.
fn commit(conn: &Connection, action: &str) -> Result<(), RunError> {
    conn.execute_batch("COMMIT")
        .map_err(|e| RunError::from(SqliteError::database(action, e)))
}

/// The backup a run took before changing anything, and how to prune its folder.
struct TakenBackup<'a> {
    path: PathBuf,
    db_name: String,
    settings: &'a BackupSettings,
}

/// Settles the backup once the run is over. A run that committed prunes the folder to `keep`.
/// A run that failed changed nothing, so its backup is a copy of the database as it still is:
/// it is removed, and never pushes a backup of a good state out of `keep`.
fn settle_backup(
    taken: Option<TakenBackup<'_>>,
    outcome: Result<RunReport, RunError>,
) -> Result<RunReport, RunError> {
    let Some(taken) = taken else {
        return outcome;
    };
    match outcome {
        Ok(mut report) => {
            // The run is committed: a prune that fails leaves one backup too many, which the
            // next run prunes; it must not report the committed run as failed.
            let _ = prune(&taken.settings.dir, &taken.db_name, taken.settings.keep);
            report.backup = Some(taken.path);
            Ok(report)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&taken.path);
            Err(e)
        }
    }
}

/// Takes the pre-change backup under the write lock, named by where the database stands now.
/// It is pruned (or removed) by [`settle_backup`] when the run is over.
fn backup_before<'a>(
    conn: &Connection,
    settings: Option<&'a BackupSettings>,
    current: &[String],
) -> Result<Option<TakenBackup<'a>>, RunError> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    let path = match conn.path() {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        // An in-memory database has nothing to lose across a crash; nothing to back up.
        _ => return Ok(None),
    };
    let db_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "database".to_string());
    let label = heads_label(current);
    // SQLite refuses to back up from a connection holding a write transaction, so a second,
    // read-only connection copies the file. It sees exactly the state the run starts from: this
    // transaction has written nothing yet and holds the write lock, so no one else can write.
    let reader = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| SqliteError::database(format!("opening {} for the backup", path.display()), e))?;
    let path = backup_unpruned(&reader, &settings.dir, &db_name, Some(&label))?;
    Ok(Some(TakenBackup {
        path,
        db_name,
        settings,
    }))
}

/// Refuses transaction control in a migration before anything runs: a `COMMIT` inside a section
/// would commit half of the upgrade.
fn check_no_transaction_control(
    migration: &Migration,
    direction: Direction,
    sql: &str,
) -> Result<(), RunError> {
    for statement in sqltext::split_statements(sql) {
        let first_word: String = statement
            .split(|c: char| !c.is_ascii_alphabetic())
            .find(|w| !w.is_empty())
            .unwrap_or("")
            .to_ascii_uppercase();
        let second_word = statement
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_ascii_uppercase();
        let ends_or_starts = matches!(first_word.as_str(), "BEGIN" | "COMMIT" | "END")
            || (first_word == "ROLLBACK" && second_word != "TO");
        if ends_or_starts {
            return Err(RunError::statement(
                migration,
                direction,
                statement,
                "a migration must not contain BEGIN, COMMIT, END or ROLLBACK: qvdiff runs every \
                 pending revision in one transaction; remove the statement",
            ));
        }
    }
    Ok(())
}

/// Runs one section inside the open transaction, turning failures into [`RunError`]s that name
/// the revision, the statement and — for constraint failures — the rows in the way.
fn run_section(
    conn: &Connection,
    migration: &Migration,
    direction: Direction,
) -> Result<i64, RunError> {
    let sql = migration.file.section(direction);
    let violations_before = foreign_key_violations(conn)
        .map_err(|e| SqliteError::database("checking foreign keys", e))?;
    let types_before =
        declared_types(conn).map_err(|e| SqliteError::database("reading column types", e))?;
    let started = Instant::now();
    if let Err(error) = run_script(conn, &migration.file.revision, sql) {
        return Err(match error {
            SqliteError::Statement {
                statement, message, ..
            } => match explain_constraint_failure(conn, &statement, &message) {
                Some(problem) => RunError::data(migration, direction, statement, vec![problem]),
                None => RunError::statement(migration, direction, statement, message),
            },
            other => RunError::from(other),
        });
    }
    let execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    if conn.is_autocommit() {
        // Belt and braces behind check_no_transaction_control: SQL that ended the transaction
        // some other way.
        return Err(RunError::statement(
            migration,
            direction,
            "(end of section)",
            "the section ended the migration transaction",
        ));
    }
    let unconverted = unconverted_values(conn, &types_before)
        .map_err(|e| SqliteError::database("checking converted values", e))?;
    if !unconverted.is_empty() {
        // Found after the whole section ran, by column type: no one statement is to blame.
        return Err(RunError::data(migration, direction, "", unconverted));
    }
    let violations_after = foreign_key_violations(conn)
        .map_err(|e| SqliteError::database("checking foreign keys", e))?;
    let new_violations = added_violations(&violations_before, violations_after);
    if !new_violations.is_empty() {
        return Err(RunError::data(
            migration,
            direction,
            "PRAGMA foreign_key_check",
            explain_orphans(conn, &new_violations),
        ));
    }
    Ok(execution_ms)
}

/// The ledger of the database in the open write transaction.
struct SqliteLedger<'c> {
    conn: &'c Connection,
}

impl Ledger for SqliteLedger<'_> {
    type Error = RunError;

    fn read_ledger(&mut self) -> Result<Vec<AppliedRevision>, RunError> {
        Ok(read_ledger(self.conn)?)
    }

    fn create_ledger(&mut self) -> Result<(), RunError> {
        Ok(create_ledger(self.conn)?)
    }

    fn record_applied(&mut self, migration: &Migration, execution_ms: i64) -> Result<(), RunError> {
        Ok(record_applied(self.conn, migration, execution_ms)?)
    }

    fn forget(&mut self, revision: &str) -> Result<(), RunError> {
        Ok(forget(self.conn, revision)?)
    }

    fn record_audit(&mut self, edit: &AcceptPlan<'_>) -> Result<AcceptedEdit, RunError> {
        Ok(record_accepted(self.conn, edit)?)
    }

    fn store_checksum(&mut self, migration: &Migration) -> Result<(), RunError> {
        Ok(update_checksum(self.conn, migration)?)
    }
}

/// One `upgrade` or `downgrade` in the open write transaction: the core's loop drives it.
struct SqliteRun<'c, 'o> {
    ledger: SqliteLedger<'c>,
    backup_settings: Option<&'o BackupSettings>,
    /// The backup `before_changes` took, settled when the run is over.
    backup: Option<TakenBackup<'o>>,
}

impl<'c> RunSession for SqliteRun<'c, '_> {
    type Error = RunError;
    type Ledger = SqliteLedger<'c>;
    type Section = ();

    fn ledger(&mut self) -> &mut SqliteLedger<'c> {
        &mut self.ledger
    }

    fn prepare(&self, migration: &Migration, direction: Direction) -> Result<(), RunError> {
        check_no_transaction_control(migration, direction, migration.file.section(direction))
    }

    fn before_changes(&mut self, direction: Direction, current: &[String]) -> Result<(), RunError> {
        self.backup = backup_before(self.ledger.conn, self.backup_settings, current)?;
        if direction == Direction::Up {
            // A first upgrade creates the ledger inside the same transaction.
            self.ledger.create_ledger()?;
        }
        Ok(())
    }

    fn run_section(
        &mut self,
        migration: &Migration,
        _section: &(),
        direction: Direction,
    ) -> Result<i64, RunError> {
        run_section(self.ledger.conn, migration, direction)
    }

    fn finish(&mut self) -> Result<(), RunError> {
        commit(self.ledger.conn, "committing the migration transaction")
    }
}

/// Runs `upgrade` (to `head`, `heads`, a revision id or unique prefix, `+N`) or `downgrade` (to
/// `-N`, `base`, or a revision that stays applied) in one transaction: the core's loop with
/// foreign keys off, the backup settled once the run committed or failed (see the module docs).
///
/// Refuses (changing nothing) on an edited or missing applied file, a database newer than the
/// migrations, several heads for `head`, and data that a step cannot run on. An empty report
/// means "up to date" (or, going down, nothing applied).
pub fn run(conn: &mut Connection, request: &RunRequest<'_>) -> Result<RunReport, RunError> {
    let options = request.options;
    with_foreign_keys_off(conn, |conn| {
        with_write_transaction(conn, options.busy_timeout, |conn| {
            let mut run = SqliteRun {
                ledger: SqliteLedger { conn },
                backup_settings: options.backup.as_ref(),
                backup: None,
            };
            let outcome = run_revisions(&mut run, request);
            settle_backup(run.backup.take(), outcome)
        })
    })
}

/// Sets the ledger to exactly `target` and its ancestors without running any SQL: missing rows
/// are added, rows of other revisions removed, and stored checksums that differ from the files
/// replaced (the way out after an intended edit).
///
/// The caller must first check that the live schema equals [`schema_at`]`(target)`: the ledger
/// then tells the truth.
pub fn stamp(
    conn: &mut Connection,
    migrations: &Migrations,
    target: &RevisionTarget,
    options: &RunOptions,
) -> Result<StampReport, RunError> {
    let keep = plan_stamp(migrations, target)?;
    with_write_transaction(conn, options.busy_timeout, |conn| {
        let report = stamp_ledger(&mut SqliteLedger { conn }, &keep)?;
        commit(conn, "committing the stamp")?;
        Ok(report)
    })
}

/// Makes a ledger write (`stamp`, `accept`) under the write lock, in one transaction: for an
/// accepted edit the audit table gets the old and new checksum with the reason and the time, and
/// the ledger the new checksum. No migration SQL runs.
///
/// The caller must first check that the ledger will tell the truth: the live schema is the
/// stamped revision's, or the edited history gives it.
pub fn write_ledger<W: LedgerWrite>(
    conn: &mut Connection,
    write: &W,
    options: &RunOptions,
) -> Result<W::Written, RunError> {
    with_write_transaction(conn, options.busy_timeout, |conn| {
        let written = write.apply(&mut SqliteLedger { conn })?;
        commit(conn, &format!("committing {}", write.what()))?;
        Ok(written)
    })
}

/// Every edit accepted on this database, oldest first (`qvdiff history`).
pub fn accepted_edits(conn: &Connection) -> Result<Vec<AcceptedEdit>, RunError> {
    Ok(read_audit(conn)?)
}

/// The schema `target` (and its ancestors) produce, replayed on an in-memory database
/// (`stamp`'s check, `check --db` drift). `base` is the empty schema.
pub fn schema_at(migrations: &Migrations, target: &RevisionTarget) -> Result<Schema, RunError> {
    let chain = plan_stamp(migrations, target)?;
    let conn = crate::apply::replay(
        chain
            .iter()
            .map(|m| (m.file.revision.as_str(), m.file.up.as_str())),
    )?;
    Ok(crate::introspect::introspect(&conn)?)
}

/// The offline script for `qvdiff sql [FROM:TO]` (`range` as typed; `None` = `base:head`).
pub fn sql_script(migrations: &Migrations, range: Option<&str>) -> Result<String, RunError> {
    let (from, to) = parse_range(range);
    let plan = plan_range(migrations, &from, &to)?;
    Ok(render_script(&plan, &format!("{from} -> {to}")))
}

/// The script `upgrade TARGET --sql` would run on a database file not created yet.
pub fn upgrade_sql_from_base(
    migrations: &Migrations,
    target: &RevisionTarget,
    contract: bool,
) -> Result<String, RunError> {
    let (plan, range) = script_plan(migrations, &[], Direction::Up, target, contract)?;
    Ok(render_script(&plan, &range))
}

/// `PRAGMA foreign_keys=OFF; BEGIN IMMEDIATE; <sections and ledger rows>; PRAGMA
/// foreign_key_check; COMMIT;` — the same transaction shape as the runner, for a DBA to review
/// and run with the `sqlite3` shell.
pub fn render_script(plan: &ScriptPlan<'_>, range: &str) -> String {
    let mut out = String::new();
    // Comment lines carry text from outside (the range as typed, file paths): flattened to one
    // line so nothing in them can end the comment and run as SQL in the DBA's shell.
    let one_line = qvdiff_core::migration::sanitize_message;
    out.push_str(&format!("-- qvdiff offline script: {}\n", one_line(range)));
    out.push_str(
        "-- Foreign keys are off during the transaction (a table rebuild would cascade with\n\
         -- them on). If `PRAGMA foreign_key_check` below prints any row, run ROLLBACK instead\n\
         -- of letting COMMIT run.\n",
    );
    out.push_str("PRAGMA foreign_keys = OFF;\nBEGIN IMMEDIATE;\n");
    let (migrations, direction) = match plan {
        ScriptPlan::Upgrade(list) => (list, Direction::Up),
        ScriptPlan::Downgrade(list) => (list, Direction::Down),
    };
    if direction == Direction::Up {
        out.push_str(CREATE_LEDGER_SQL);
        out.push_str(";\n");
    }
    for migration in migrations {
        out.push_str(&format!(
            "\n-- revision {} ({}, {direction}): {}\n",
            migration.file.revision,
            one_line(&migration.path),
            one_line(&migration.file.message)
        ));
        out.push_str(migration.file.section(direction).trim_end());
        out.push('\n');
        out.push_str(&migration.offline_ledger_sql(
            direction,
            offline_insert_sql,
            offline_delete_sql,
        ));
        out.push('\n');
    }
    out.push_str("\nPRAGMA foreign_key_check;\nCOMMIT;\n");
    out
}
