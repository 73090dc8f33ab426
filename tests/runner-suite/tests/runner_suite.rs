//! One runner suite for every driver `Migrator` runs on: `rusqlite`, `postgres`, sqlx's
//! `SqlitePool` and sqlx's `PgPool`. Each scenario is written once, against [`Driver`], and run
//! on each driver against a real SQLite file or the real PostgreSQL server, with rows checked
//! afterwards. The PostgreSQL drivers need the test server (`.ci/postgres`).

use qvdiff::migrate::postgres::Client;
use qvdiff::migrate::rusqlite::Connection;
use qvdiff::migrate::{MigrateError, RunReport};
use qvdiff::{embed_migrations, BackendErrorKind, Migrator, Model};
use qvdiff_postgres::testing::TestDatabase;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use tempfile::TempDir;
use tokio::runtime::Runtime;

#[derive(Model)]
#[model(table = "items")]
#[allow(dead_code)]
struct Item {
    #[column(primary_key)]
    id: i64,
    #[column(max_length = 200)]
    title: String,
    notes: Option<String>,
}

const SQLITE_FILES: &[(&str, &str)] =
    embed_migrations!("../../crates/qvdiff/tests/embedded_migrations");
const POSTGRES_FILES: &[(&str, &str)] = embed_migrations!("embedded_migrations_postgres");

/// A third revision whose second statement fails: the first must not survive it.
const FAILING_REVISION: (&str, &str) = (
    "20261130120000_broken.sql",
    "-- qvdiff revision: 20261130120000\n-- parents: 20261124101500\n-- message: broken\n\
     -- qvdiff:up\nCREATE TABLE \"tags\" (\"id\" bigint NOT NULL);\n\
     INSERT INTO \"no_such_table\" VALUES (1);\n\
     -- qvdiff:down\nDROP TABLE \"tags\";\n",
);

/// A third revision that makes `title` unique: refused over duplicated titles.
const UNIQUE_TITLE_REVISION: (&str, &str) = (
    "20261130130000_unique_title.sql",
    "-- qvdiff revision: 20261130130000\n-- parents: 20261124101500\n-- message: unique title\n\
     -- qvdiff:up\nCREATE UNIQUE INDEX \"ux_items_title\" ON \"items\" (\"title\");\n\
     -- qvdiff:down\nDROP INDEX \"ux_items_title\";\n",
);

/// A database reached through one driver, plus a side connection of the test's own to put
/// rows in and read them back.
trait Driver: Send {
    /// The migration files of the driver's dialect.
    fn files(&self) -> &'static [(&'static str, &'static str)];
    fn upgrade(&mut self, migrator: &Migrator) -> Result<RunReport, MigrateError>;
    fn pending(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError>;
    fn verify(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError>;
    /// Runs SQL on the side connection.
    fn execute(&mut self, sql: &str);
    /// One text column of a query on the side connection.
    fn strings(&mut self, sql: &str) -> Vec<String>;
    /// A second handle on the same database, through the same driver.
    fn another(&self) -> Box<dyn Driver>;
    /// The database file, for drivers of SQLite files.
    fn file(&self) -> Option<&Path>;
}

/// Where a driver's database lives; kept alive as long as any driver on it.
#[derive(Clone)]
enum Place {
    File(Arc<(TempDir, PathBuf)>),
    Server(Arc<TestDatabase>),
}

fn sqlite_place() -> Place {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.db");
    Place::File(Arc::new((dir, path)))
}

/// A fresh database on the test server; `None` (after a `skipped` line) without one, unless
/// `QVDIFF_REQUIRE_POSTGRES=1` makes that a failure.
fn postgres_place(label: &str) -> Option<Place> {
    TestDatabase::create(label).map(|database| Place::Server(Arc::new(database)))
}

fn runtime() -> Arc<Runtime> {
    Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    )
}

fn side_sqlite(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open side connection");
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .expect("busy timeout");
    conn
}

fn sqlite_strings(conn: &Connection, sql: &str) -> Vec<String> {
    let mut statement = conn.prepare(sql).expect(sql);
    let rows = statement
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .expect(sql);
    rows.map(|row| row.expect(sql).unwrap_or_else(|| "NULL".to_string()))
        .collect()
}

fn postgres_strings(client: &mut Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .expect(sql)
        .into_iter()
        .filter_map(|message| match message {
            qvdiff::migrate::postgres::SimpleQueryMessage::Row(row) => {
                Some(row.get(0).unwrap_or("NULL").to_string())
            }
            _ => None,
        })
        .collect()
}

fn server_of(place: &Place) -> &TestDatabase {
    match place {
        Place::Server(database) => database,
        Place::File(_) => unreachable!("a file place for a server driver"),
    }
}

fn file_of(place: &Place) -> &Path {
    match place {
        Place::File(file) => &file.1,
        Place::Server(_) => unreachable!("a server place for a file driver"),
    }
}

struct Rusqlite {
    place: Place,
    conn: Connection,
}

impl Rusqlite {
    fn new(place: Place) -> Rusqlite {
        let conn = side_sqlite(file_of(&place));
        Rusqlite { place, conn }
    }
}

impl Driver for Rusqlite {
    fn files(&self) -> &'static [(&'static str, &'static str)] {
        SQLITE_FILES
    }
    fn upgrade(&mut self, migrator: &Migrator) -> Result<RunReport, MigrateError> {
        migrator.upgrade(&mut self.conn)
    }
    fn pending(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        Ok(migrator.status(&mut self.conn)?.pending)
    }
    fn verify(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        migrator.verify_models(&mut self.conn, &[Item::table()])
    }
    fn execute(&mut self, sql: &str) {
        self.conn.execute_batch(sql).expect(sql);
    }
    fn strings(&mut self, sql: &str) -> Vec<String> {
        sqlite_strings(&self.conn, sql)
    }
    fn another(&self) -> Box<dyn Driver> {
        Box::new(Rusqlite::new(self.place.clone()))
    }
    fn file(&self) -> Option<&Path> {
        Some(file_of(&self.place))
    }
}

struct Postgres {
    place: Place,
    client: Client,
}

impl Postgres {
    fn new(place: Place) -> Postgres {
        // The application's way in: TLS and credentials as `qvdiff upgrade` handles them.
        let client =
            qvdiff::migrate::connect_postgres(&server_of(&place).url).expect("connect_postgres");
        Postgres { place, client }
    }
}

impl Driver for Postgres {
    fn files(&self) -> &'static [(&'static str, &'static str)] {
        POSTGRES_FILES
    }
    fn upgrade(&mut self, migrator: &Migrator) -> Result<RunReport, MigrateError> {
        migrator.upgrade(&mut self.client)
    }
    fn pending(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        Ok(migrator.status(&mut self.client)?.pending)
    }
    fn verify(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        migrator.verify_models(&mut self.client, &[Item::table()])
    }
    fn execute(&mut self, sql: &str) {
        self.client.batch_execute(sql).expect(sql);
    }
    fn strings(&mut self, sql: &str) -> Vec<String> {
        postgres_strings(&mut self.client, sql)
    }
    fn another(&self) -> Box<dyn Driver> {
        Box::new(Postgres::new(self.place.clone()))
    }
    fn file(&self) -> Option<&Path> {
        None
    }
}

struct SqlxSqlite {
    place: Place,
    runtime: Arc<Runtime>,
    pool: sqlx::SqlitePool,
    side: Connection,
}

impl SqlxSqlite {
    fn new(place: Place, runtime: Arc<Runtime>) -> SqlxSqlite {
        let path = file_of(&place).to_path_buf();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = runtime
            .block_on(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options),
            )
            .expect("sqlx sqlite pool");
        let side = side_sqlite(&path);
        SqlxSqlite {
            place,
            runtime,
            pool,
            side,
        }
    }
}

impl Driver for SqlxSqlite {
    fn files(&self) -> &'static [(&'static str, &'static str)] {
        SQLITE_FILES
    }
    fn upgrade(&mut self, migrator: &Migrator) -> Result<RunReport, MigrateError> {
        self.runtime.block_on(migrator.upgrade_pool(&self.pool))
    }
    fn pending(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        Ok(self
            .runtime
            .block_on(migrator.status_pool(&self.pool))?
            .pending)
    }
    fn verify(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        self.runtime
            .block_on(migrator.verify_models_pool(&self.pool, &[Item::table()]))
    }
    fn execute(&mut self, sql: &str) {
        self.side.execute_batch(sql).expect(sql);
    }
    fn strings(&mut self, sql: &str) -> Vec<String> {
        sqlite_strings(&self.side, sql)
    }
    fn another(&self) -> Box<dyn Driver> {
        Box::new(SqlxSqlite::new(self.place.clone(), self.runtime.clone()))
    }
    fn file(&self) -> Option<&Path> {
        Some(file_of(&self.place))
    }
}

struct SqlxPostgres {
    place: Place,
    runtime: Arc<Runtime>,
    pool: sqlx::PgPool,
    side: Client,
}

impl SqlxPostgres {
    fn new(place: Place, runtime: Arc<Runtime>) -> SqlxPostgres {
        let url = server_of(&place).url.clone();
        let pool = runtime
            .block_on(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url),
            )
            .expect("sqlx postgres pool");
        let side = server_of(&place).connect();
        SqlxPostgres {
            place,
            runtime,
            pool,
            side,
        }
    }
}

impl Driver for SqlxPostgres {
    fn files(&self) -> &'static [(&'static str, &'static str)] {
        POSTGRES_FILES
    }
    fn upgrade(&mut self, migrator: &Migrator) -> Result<RunReport, MigrateError> {
        self.runtime.block_on(migrator.upgrade_pool(&self.pool))
    }
    fn pending(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        Ok(self
            .runtime
            .block_on(migrator.status_pool(&self.pool))?
            .pending)
    }
    fn verify(&mut self, migrator: &Migrator) -> Result<Vec<String>, MigrateError> {
        self.runtime
            .block_on(migrator.verify_models_pool(&self.pool, &[Item::table()]))
    }
    fn execute(&mut self, sql: &str) {
        self.side.batch_execute(sql).expect(sql);
    }
    fn strings(&mut self, sql: &str) -> Vec<String> {
        postgres_strings(&mut self.side, sql)
    }
    fn another(&self) -> Box<dyn Driver> {
        Box::new(SqlxPostgres::new(self.place.clone(), self.runtime.clone()))
    }
    fn file(&self) -> Option<&Path> {
        None
    }
}

/// A migrator of the driver's files, plus `extra` revisions.
fn migrator(driver: &dyn Driver, extra: &[(&str, &str)]) -> Migrator {
    let mut files: Vec<(&str, &str)> = driver.files().to_vec();
    files.extend_from_slice(extra);
    Migrator::new(&files).expect("valid embedded migrations")
}

fn ledger(driver: &mut dyn Driver) -> Vec<String> {
    driver.strings("SELECT revision FROM qvdiff_migrations ORDER BY revision")
}

// ---- The scenarios, each run on every driver ----

/// Upgrade applies both revisions once, the models then match, rows written between runs stay.
fn upgrade_applies_once_and_keeps_rows(driver: &mut dyn Driver) {
    let migrator = migrator(driver, &[]);
    let before = driver.verify(&migrator).expect("verify before");
    assert!(before.iter().any(|d| d.contains("items")), "{before:?}");
    assert_eq!(
        driver.pending(&migrator).expect("status"),
        ["20261120093000", "20261124101500"]
    );

    let report = driver.upgrade(&migrator).expect("upgrade");
    let applied: Vec<&str> = report.steps.iter().map(|s| s.revision.as_str()).collect();
    assert_eq!(applied, ["20261120093000", "20261124101500"]);
    assert_eq!(report.current, ["20261124101500"]);
    driver.execute("INSERT INTO items (id, title, notes) VALUES (1, 'lamp', 'bright')");

    assert!(driver.upgrade(&migrator).expect("second upgrade").is_noop());
    assert!(driver.pending(&migrator).expect("status").is_empty());
    assert_eq!(
        driver.verify(&migrator).expect("verify after"),
        Vec::<String>::new()
    );
    assert_eq!(
        driver.strings("SELECT title || '/' || notes FROM items"),
        ["lamp/bright"]
    );
    assert_eq!(ledger(driver), ["20261120093000", "20261124101500"]);
}

/// A failing revision rolls back the whole run: no table of it, no ledger row, rows intact.
fn a_failing_revision_changes_nothing(driver: &mut dyn Driver) {
    let first = Migrator::new(&driver.files()[..1]).expect("first revision");
    driver.upgrade(&first).expect("first upgrade");
    driver.execute("INSERT INTO items (id, title) VALUES (7, 'kept')");

    let migrator = migrator(driver, &[FAILING_REVISION]);
    let error = driver
        .upgrade(&migrator)
        .expect_err("the broken revision fails");
    let MigrateError::Run(failure) = &error else {
        panic!("not a run error: {error:?}");
    };
    assert_eq!(failure.kind, BackendErrorKind::Failed, "{error}");
    assert!(error.to_string().contains("20261130120000"), "{error}");
    assert!(error.to_string().contains("no_such_table"), "{error}");

    assert_eq!(ledger(driver), ["20261120093000"]);
    assert_eq!(driver.strings("SELECT title FROM items"), ["kept"]);
    // Neither the column of the second revision nor the table of the third survived.
    let verify = driver.verify(&first).expect("verify");
    assert!(
        verify.iter().any(|d| d.contains("items.notes")),
        "the second revision must be rolled back too: {verify:?}"
    );
    assert!(
        !verify.iter().any(|d| d.contains("tags")),
        "the broken revision's table survived: {verify:?}"
    );
}

/// Rows a step cannot run on refuse the run, naming the revision; nothing changes.
fn data_a_step_cannot_run_on_is_refused(driver: &mut dyn Driver) {
    let migrator_two = migrator(driver, &[]);
    driver.upgrade(&migrator_two).expect("upgrade");
    driver.execute("INSERT INTO items (id, title) VALUES (1, 'same'), (2, 'same')");

    let migrator = migrator(driver, &[UNIQUE_TITLE_REVISION]);
    let error = driver
        .upgrade(&migrator)
        .expect_err("duplicates refuse the unique index");
    assert!(error.to_string().contains("20261130130000"), "{error}");
    assert!(
        error.to_string().to_lowercase().contains("unique")
            || error.to_string().contains("duplicate"),
        "{error}"
    );
    assert_eq!(ledger(driver), ["20261120093000", "20261124101500"]);
    assert_eq!(
        driver.strings("SELECT CAST(count(*) AS TEXT) FROM items"),
        ["2"]
    );
}

/// An applied file edited afterwards, and a database newer than the binary, are refused.
fn edited_files_and_newer_databases_are_refused(driver: &mut dyn Driver) {
    let migrator_two = migrator(driver, &[]);
    driver.upgrade(&migrator_two).expect("upgrade");

    let mut edited: Vec<(&str, &str)> = driver.files().to_vec();
    let text = edited[0].1.replace("create items", "create the items");
    edited[0].1 = &text;
    let edited = Migrator::new(&edited).expect("edited files parse");
    let error = driver
        .upgrade(&edited)
        .expect_err("an edited file is refused");
    let MigrateError::Run(refusal) = &error else {
        panic!("not a run error: {error:?}");
    };
    assert_eq!(refusal.kind, BackendErrorKind::Refused, "{error}");
    assert!(error.to_string().contains("20261120093000"), "{error}");

    let older = Migrator::new(&driver.files()[..1]).expect("older binary");
    let error = driver
        .upgrade(&older)
        .expect_err("a newer database is refused");
    assert!(
        error.to_string().contains("newer than the migrations"),
        "{error}"
    );
    assert_eq!(ledger(driver), ["20261120093000", "20261124101500"]);
}

/// Four instances starting at once apply each revision exactly once.
fn concurrent_starts_apply_each_revision_once(driver: &mut dyn Driver) {
    let migrator = Arc::new(migrator(driver, &[]));
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut other = driver.another();
            let migrator = migrator.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                other
                    .upgrade(&migrator)
                    .expect("concurrent upgrade")
                    .steps
                    .len()
            })
        })
        .collect();
    let applied: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(applied, 2, "each revision applied exactly once in all");
    assert_eq!(ledger(driver), ["20261120093000", "20261124101500"]);
}

/// A database file is backed up before anything is applied (not when up to date).
fn a_file_is_backed_up_first(driver: &mut dyn Driver) {
    let Some(file) = driver.file().map(Path::to_path_buf) else {
        return;
    };
    let backups = tempfile::tempdir().expect("backup dir");
    let first = Migrator::new(&driver.files()[..1])
        .expect("first revision")
        .with_backup(backups.path(), 5);
    driver.upgrade(&first).expect("first upgrade");
    driver.execute("INSERT INTO items (id, title) VALUES (3, 'before the backup')");
    let migrator = migrator(driver, &[]).with_backup(backups.path(), 5);
    let report = driver.upgrade(&migrator).expect("second upgrade");
    let backup = report.backup.expect("a backup was taken");
    let copy = Connection::open(&backup).expect("open backup");
    assert_eq!(
        sqlite_strings(&copy, "SELECT title FROM items"),
        ["before the backup"]
    );
    assert!(
        sqlite_strings(&copy, "SELECT name FROM pragma_table_info('items')")
            .iter()
            .all(|c| c != "notes"),
        "the backup is from before the second revision"
    );
    assert!(driver.upgrade(&migrator).expect("noop").backup.is_none());
    assert!(file.exists());
}

type Scenario = fn(&mut dyn Driver);

const SCENARIOS: &[(&str, Scenario)] = &[
    (
        "upgrade_applies_once_and_keeps_rows",
        upgrade_applies_once_and_keeps_rows,
    ),
    (
        "a_failing_revision_changes_nothing",
        a_failing_revision_changes_nothing,
    ),
    (
        "data_a_step_cannot_run_on_is_refused",
        data_a_step_cannot_run_on_is_refused,
    ),
    (
        "edited_files_and_newer_databases_are_refused",
        edited_files_and_newer_databases_are_refused,
    ),
    (
        "concurrent_starts_apply_each_revision_once",
        concurrent_starts_apply_each_revision_once,
    ),
    ("a_file_is_backed_up_first", a_file_is_backed_up_first),
];

/// Runs every scenario on a fresh database of `make`'s driver (none without a server).
fn run_suite(make: impl Fn(&str) -> Option<Box<dyn Driver>>) {
    for (name, scenario) in SCENARIOS {
        let Some(mut driver) = make(name) else {
            return;
        };
        scenario(driver.as_mut());
    }
}

#[test]
fn rusqlite_connection() {
    run_suite(|_| Some(Box::new(Rusqlite::new(sqlite_place()))));
}

#[test]
fn postgres_client() {
    run_suite(|name| Some(Box::new(Postgres::new(postgres_place(name)?))));
}

#[test]
fn sqlx_sqlite_pool() {
    let runtime = runtime();
    run_suite(|_| Some(Box::new(SqlxSqlite::new(sqlite_place(), runtime.clone()))));
}

#[test]
fn sqlx_postgres_pool() {
    let runtime = runtime();
    run_suite(|name| {
        Some(Box::new(SqlxPostgres::new(
            postgres_place(name)?,
            runtime.clone(),
        )))
    });
}
