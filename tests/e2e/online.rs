//! PostgreSQL upgrades while the application writes: `lock_timeout` and its retries, with the real
//! binary, a real server, a session holding a lock on the table and a writer inserting a row
//! every 2 ms throughout.
//!
//! Every test needs a server (`QVDIFF_TEST_POSTGRES_URL`, see `qvdiff_postgres::testing`); without
//! one it says "skipped" on stderr and passes, unless `QVDIFF_REQUIRE_POSTGRES=1`.

use super::support::Project;
use postgres::Client;
use qvdiff_postgres::testing::TestDatabase;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "orders")]
pub struct Order {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    pub note: String,
}
"#;

/// Rows the table holds before the change.
const ROWS: i64 = 1_000;

/// The application name the lock holder shows in `pg_stat_activity`.
const HOLDER_NAME: &str = "nightly_report";

/// A project whose first revision creates `orders` (applied, with rows) and whose second adds a
/// column: an `ALTER TABLE` that needs the table's ACCESS EXCLUSIVE lock.
fn project(db: &TestDatabase, lock_timeout_ms: u64, lock_retries: u32) -> Project {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        &format!(
            "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n\n\
             [postgres]\nlock_timeout_ms = {lock_timeout_ms}\nlock_retries = {lock_retries}\n"
        ),
    );
    p.write("src/models.rs", MODELS);
    p.qvdiff(&["migrate", "-m", "create orders"]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    db.connect()
        .execute(
            "INSERT INTO orders (note) SELECT 'row ' || g FROM generate_series(1, $1::bigint) g",
            &[&ROWS],
        )
        .unwrap();
    p.write(
        "src/models.rs",
        &MODELS.replace(
            "    pub note: String,\n",
            "    pub note: String,\n    pub shipped: Option<bool>,\n",
        ),
    );
    p.qvdiff(&["migrate", "-m", "add shipped"]).expect_code(0);
    p
}

/// A session that reads `orders` in a transaction and then stays in it for `hold` (a report
/// query left open): it holds only ACCESS SHARE, which lets writers through but not an
/// `ALTER TABLE`. Returns its process id once the lock is held.
fn hold_lock(db: &TestDatabase, hold: Duration) -> (i32, JoinHandle<()>) {
    let mut client = db.connect();
    client
        .batch_execute(&format!(
            "SET application_name = '{HOLDER_NAME}'; BEGIN; SELECT count(*) FROM orders"
        ))
        .unwrap();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let holder = std::thread::spawn(move || {
        // Cancelled early by the test once the upgrade gave up: an error here is expected.
        let _ = client.batch_execute(&format!("SELECT pg_sleep({})", hold.as_secs_f64()));
        let _ = client.batch_execute("ROLLBACK");
    });
    (pid, holder)
}

/// A writer inserting one row every 2 ms until told to stop; returns how many it wrote and the
/// longest a single insert took.
struct Writer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(i64, Duration)>,
}

impl Writer {
    fn start(db: &TestDatabase) -> Writer {
        let mut client = db.connect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut written = 0;
            let mut longest = Duration::ZERO;
            while !flag.load(Ordering::Relaxed) {
                let started = Instant::now();
                client
                    .execute(
                        "INSERT INTO orders (note) VALUES ('written meanwhile')",
                        &[],
                    )
                    .unwrap();
                longest = longest.max(started.elapsed());
                written += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (written, longest)
        });
        Writer { stop, thread }
    }

    fn stop(self) -> (i64, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the writer thread")
    }
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

fn has_shipped(client: &mut Client) -> bool {
    count(
        client,
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_name = 'orders' AND column_name = 'shipped'",
    ) == 1
}

/// A session holding a lock on the table for 60 s: `upgrade` gives up after `lock_timeout` ×
/// attempts, names the holder, changes nothing, and no write waits much longer than
/// `lock_timeout` (without it, every write would wait behind the queued `ALTER TABLE` until the
/// holder let go). The holder is cancelled once the upgrade gave up, so the test takes seconds;
/// the upgrade never learns how long the hold would have lasted, so it behaves as with the full
/// hold. Then `upgrade` succeeds and no row is lost.
#[test]
fn upgrade_behind_a_60_second_lock_gives_up_naming_the_holder_and_writers_never_wait_long() {
    let Some(db) = TestDatabase::create("online_lock_60s") else {
        return;
    };
    let lock_timeout = Duration::from_millis(1_000);
    let retries = 3;
    let p = project(&db, 1_000, retries);
    let mut client = db.connect();
    let (holder_pid, holder) = hold_lock(&db, Duration::from_secs(60));
    let writer = Writer::start(&db);
    std::thread::sleep(Duration::from_millis(200));

    let started = Instant::now();
    let run = p.qvdiff(&["upgrade", "--db", &db.url]);
    let gave_up_after = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let (written, longest_write) = writer.stop();
    client
        .execute("SELECT pg_cancel_backend($1)", &[&holder_pid])
        .unwrap();
    holder.join().unwrap();

    assert_eq!(run.code, 2, "{run:?}");
    let message = &run.stderr;
    assert!(
        message.contains("gave up waiting for a table lock"),
        "{message}"
    );
    assert!(message.contains("on each of 4 attempts"), "{message}");
    assert!(
        message.contains(&format!("blocked by process {holder_pid} ({HOLDER_NAME})")),
        "{message}"
    );
    assert!(message.contains("pg_sleep(60)"), "{message}");
    // Only the holder: the writer's insert queued behind the last attempt, which holds its
    // lock for a moment after the attempt gave up, is not named.
    assert_eq!(
        message.matches("blocked by process ").count(),
        1,
        "{message}"
    );
    assert!(message.contains("orders (AccessShareLock)"), "{message}");
    assert!(message.contains("nothing was applied"), "{message}");
    assert!(
        message.contains("ALTER TABLE \"orders\" ADD COLUMN"),
        "{message}"
    );
    // Four attempts, each waiting the whole timeout: a lower bound, never a budget.
    assert!(
        gave_up_after >= lock_timeout * (retries + 1),
        "gave up after {gave_up_after:?}"
    );
    // Each attempt queues writers for at most the timeout; the margin is for a loaded machine.
    eprintln!("gave up after {gave_up_after:?}; {written} writes, the longest {longest_write:?}");
    assert!(written > 0);
    assert!(
        longest_write < lock_timeout + Duration::from_millis(1_500),
        "a write waited {longest_write:?} with lock_timeout {lock_timeout:?}"
    );

    // Nothing half-applied: the ledger, the columns and every row as before.
    assert!(!has_shipped(&mut client));
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
        1
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        ROWS + written
    );

    // The holder gone, the same upgrade goes through and keeps every row.
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert!(has_shipped(&mut client));
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        ROWS + written
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

/// A lock held for less than the attempts take: the upgrade waits, lets writers through between
/// attempts, and succeeds once the holder is done.
#[test]
fn upgrade_behind_a_short_lock_retries_until_it_is_released() {
    let Some(db) = TestDatabase::create("online_lock_short") else {
        return;
    };
    let lock_timeout = Duration::from_millis(500);
    let p = project(&db, 500, 10);
    let mut client = db.connect();
    let (_, holder) = hold_lock(&db, Duration::from_millis(2_000));
    let writer = Writer::start(&db);
    std::thread::sleep(Duration::from_millis(100));

    let run = p.qvdiff(&["upgrade", "--db", &db.url]);
    let (written, longest_write) = writer.stop();
    holder.join().unwrap();

    run.expect_code(0);
    eprintln!("{written} writes, the longest {longest_write:?}");
    assert!(has_shipped(&mut client));
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
        2
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        ROWS + written
    );
    assert!(
        longest_write < lock_timeout + Duration::from_millis(1_500),
        "a write waited {longest_write:?} with lock_timeout {lock_timeout:?}"
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

// ---------------------------------------------------------------------------------------------
// kill -9 during a step that runs outside a transaction, then `upgrade` again
// ---------------------------------------------------------------------------------------------

/// What the revision under test adds on `note`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnNote {
    /// An index: `CREATE INDEX CONCURRENTLY`, dropped `CONCURRENTLY` on the way back.
    Index,
    /// A UNIQUE constraint: `CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD CONSTRAINT … UNIQUE
    /// USING INDEX`; the way back drops the constraint (and its index) in a transaction.
    UniqueConstraint,
}

/// The models with `on_note` added (and the `shipped` column of [`project`]'s second revision).
fn indexed_models(on_note: OnNote) -> String {
    let models = MODELS.replace(
        "    pub note: String,\n",
        "    pub note: String,\n    pub shipped: Option<bool>,\n",
    );
    match on_note {
        OnNote::Index => models.replace(
            "#[model(table = \"orders\")]\n",
            "#[model(table = \"orders\")]\n#[model(index(fields(note)))]\n",
        ),
        OnNote::UniqueConstraint => models.replace(
            "    pub note: String,\n",
            "    #[column(unique)]\n    pub note: String,\n",
        ),
    }
}

/// What a statement of another session is doing when [`backend_in`] looks for it.
#[derive(Clone, Copy)]
enum Activity {
    /// Waiting for a lock.
    WaitingForLock,
    /// Running (busy or waiting).
    Active,
}

/// The server process of another session running a statement that holds `prefix` (a step run
/// outside a transaction goes with its `BEGIN` and progress row), once it is `doing` that;
/// `None` when the child exited first or nothing showed within two minutes.
fn backend_in(
    watcher: &mut Client,
    prefix: &str,
    doing: Activity,
    child: &mut std::process::Child,
) -> Option<i32> {
    let condition = match doing {
        Activity::WaitingForLock => "wait_event_type = 'Lock'",
        Activity::Active => "state = 'active'",
    };
    let query = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND {condition} AND strpos(query, $1) > 0"
    );
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if let Some(row) = watcher.query_opt(&query, &[&prefix]).unwrap() {
            return Some(row.get(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Starts `qvdiff args` while a writer's open transaction holds the concurrent index statement
/// (it waits for every transaction writing the table), kills it with SIGKILL mid-statement,
/// ends the server process it left (as the server does once it notices the client is gone),
/// then lets the writer commit. Returns whether the index was left invalid.
fn kill_during_concurrent_step(
    p: &Project,
    db: &TestDatabase,
    args: &[&str],
    prefix: &str,
) -> bool {
    let mut writer = db.connect();
    writer
        .batch_execute(
            "BEGIN; INSERT INTO orders (note) VALUES ('written during the kill ' || md5(random()::text))",
        )
        .unwrap();
    let mut child = super::support::base_command(p.root(), args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn qvdiff");
    let mut watcher = db.connect();
    let backend = backend_in(&mut watcher, prefix, Activity::WaitingForLock, &mut child);
    let Some(backend) = backend else {
        let out = child.wait_with_output().unwrap();
        panic!(
            "{prefix} never waited\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let ended: bool = watcher
        .query_one("SELECT pg_terminate_backend($1)", &[&backend])
        .unwrap()
        .get(0);
    assert!(ended);
    while count(
        &mut watcher,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {backend}"),
    ) > 0
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    writer.batch_execute("COMMIT").unwrap();
    count(
        &mut watcher,
        "SELECT count(*) FROM pg_index WHERE NOT indisvalid \
         AND indrelid = 'orders'::regclass",
    ) == 1
}

fn valid_indexes_on_note(client: &mut Client) -> i64 {
    count(
        client,
        "SELECT count(*) FROM pg_index i JOIN pg_attribute a \
         ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE i.indrelid = 'orders'::regclass AND a.attname = 'note' AND i.indisvalid",
    )
}

/// The UNIQUE constraints of `orders`.
fn unique_constraints(client: &mut Client) -> i64 {
    count(
        client,
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'u'",
    )
}

/// kill -9 of `upgrade` while it builds an index `CONCURRENTLY` (for an index, then for a UNIQUE
/// constraint), and of `downgrade` while it drops the index: the next run finds the invalid
/// index the build left, drops and rebuilds it (and adds the constraint), or finishes the drop;
/// the schema equals the models, and no row is lost.
fn killed_concurrent_index_build_is_finished_by_the_next_run(on_note: OnNote, label: &str) {
    let Some(db) = TestDatabase::create(label) else {
        return;
    };
    let p = project(&db, 2_000, 5);
    // The generated "add shipped" revision first, so the index comes in a revision of its own.
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    // Online DDL is the default: no configuration asks for it.
    assert!(!p.read("qvdiff.toml").contains("online_ddl"));
    p.write("src/models.rs", &indexed_models(on_note));
    p.qvdiff(&["migrate", "-m", "index note"]).expect_code(0);
    // The file says which statements run outside the transaction.
    let index_file = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with("_index_note.sql"))
        .expect("the index migration");
    let text = std::fs::read_to_string(index_file).unwrap();
    assert_eq!(
        text.matches("CONCURRENTLY").count(),
        text.matches("  -- OUTSIDE TRANSACTION: runs on its own")
            .count(),
        "{text}"
    );
    assert!(text.contains("-- OUTSIDE TRANSACTION"), "{text}");
    let create = match on_note {
        OnNote::Index => "CREATE INDEX CONCURRENTLY",
        OnNote::UniqueConstraint => {
            assert!(
                text.contains(
                    "CREATE UNIQUE INDEX CONCURRENTLY \"orders_note_key\" ON \"orders\" (\"note\");"
                ) && text.contains(
                    "ALTER TABLE \"orders\" ADD CONSTRAINT \"orders_note_key\" UNIQUE USING INDEX \"orders_note_key\";"
                ),
                "{text}"
            );
            "CREATE UNIQUE INDEX CONCURRENTLY"
        }
    };
    let mut client = db.connect();
    let rows_before = count(&mut client, "SELECT count(*) FROM orders");

    assert!(
        kill_during_concurrent_step(&p, &db, &["upgrade", "--db", &db.url], create),
        "the killed build left an invalid index"
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
        2
    );
    assert_eq!(unique_constraints(&mut client), 0);
    // `current` and `history` show the revision the kill left half done.
    let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
    assert!(
        current.stderr.contains(
            "is half applied: a run outside a transaction stopped after 0 of its statements"
        ),
        "{current:?}"
    );
    let history = p.qvdiff(&["history", "--db", &db.url]).expect_code(0);
    assert!(
        history.stdout.contains("index note") && history.stdout.contains("is half applied"),
        "{history:?}"
    );
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
    assert!(!current.stderr.contains("half"), "{current:?}");
    assert_eq!(valid_indexes_on_note(&mut client), 1);
    let constraints = match on_note {
        OnNote::Index => 0,
        OnNote::UniqueConstraint => 1,
    };
    assert_eq!(unique_constraints(&mut client), constraints);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
        ),
        0
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
        3
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM qvdiff_migrations_progress"
        ),
        0
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        rows_before + 1
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);

    match on_note {
        OnNote::Index => {
            // The way back: killed while dropping the index, finished by the next downgrade.
            kill_during_concurrent_step(
                &p,
                &db,
                &["downgrade", "--db", &db.url, "-1"],
                "DROP INDEX CONCURRENTLY",
            );
            p.qvdiff(&["downgrade", "--db", &db.url, "-1"])
                .expect_code(0);
        }
        OnNote::UniqueConstraint => {
            p.qvdiff(&["downgrade", "--db", &db.url, "-1"])
                .expect_code(0);
            assert_eq!(unique_constraints(&mut client), 0);
            // A duplicate stored since: the preflight refuses before the build starts, so no
            // invalid index is left behind and the revision is not half applied.
            client
                .batch_execute("INSERT INTO orders (note) VALUES ('row 1')")
                .unwrap();
            let refused = p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(2);
            assert!(
                refused.stderr.contains("cannot run on the existing data")
                    && refused.stderr.contains("row 1"),
                "{refused:?}"
            );
            assert_eq!(
                count(
                    &mut client,
                    "SELECT count(*) FROM pg_index WHERE NOT indisvalid"
                ),
                0
            );
            assert_eq!(valid_indexes_on_note(&mut client), 0);
            assert_eq!(
                count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
                2
            );
            let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
            assert!(!current.stderr.contains("half"), "{current:?}");
            client
                .batch_execute("DELETE FROM orders WHERE id = (SELECT max(id) FROM orders)")
                .unwrap();
        }
    }
    assert_eq!(valid_indexes_on_note(&mut client), 0);
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM qvdiff_migrations"),
        2
    );
    let written_during_kills = match on_note {
        OnNote::Index => 2,
        OnNote::UniqueConstraint => 1,
    };
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        rows_before + written_during_kills
    );
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(valid_indexes_on_note(&mut client), 1);
    assert_eq!(unique_constraints(&mut client), constraints);
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}

#[test]
fn upgrade_killed_during_a_concurrent_index_build_is_finished_by_the_next_run() {
    killed_concurrent_index_build_is_finished_by_the_next_run(OnNote::Index, "online_kill_index");
}

#[test]
fn upgrade_killed_during_a_concurrent_unique_constraint_build_is_finished_by_the_next_run() {
    killed_concurrent_index_build_is_finished_by_the_next_run(
        OnNote::UniqueConstraint,
        "online_kill_unique",
    );
}

/// kill -9 of `upgrade` while `VALIDATE CONSTRAINT` reads the rows (held by a CHECK whose
/// function sleeps 2 ms a row), in a revision that also makes a column NOT NULL through its own
/// validated CHECK: the constraints added `NOT VALID` before the kill stay committed, the next
/// run continues with the VALIDATE, the schema equals the models and no row is lost.
#[test]
fn upgrade_killed_during_validate_constraint_is_finished_by_the_next_run() {
    let Some(db) = TestDatabase::create("online_kill_validate") else {
        return;
    };
    let p = project(&db, 2_000, 5);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let mut client = db.connect();
    client
        .batch_execute(
            "CREATE FUNCTION slow_ok(t text) RETURNS boolean LANGUAGE sql IMMUTABLE \
             AS 'SELECT pg_sleep(0.002) IS NOT NULL AND t IS NOT NULL'; \
             UPDATE orders SET shipped = (id % 2 = 0) WHERE id % 3 = 0",
        )
        .unwrap();
    p.write(
        "src/models.rs",
        &MODELS
            .replace(
                "#[model(table = \"orders\")]\n",
                "#[model(table = \"orders\")]\n\
             #[model(check(name = \"orders_note_ok\", expr = \"slow_ok(note)\"))]\n",
            )
            .replace(
                "    pub note: String,\n",
                "    pub note: String,\n    #[column(default = false)]\n    pub shipped: bool,\n",
            ),
    );
    p.qvdiff(&["migrate", "-m", "check note"]).expect_code(0);
    let file = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with("_check_note.sql"))
        .expect("the migration");
    let text = std::fs::read_to_string(file).unwrap();
    let up = &text[text.find("-- qvdiff:up").unwrap()..text.find("-- qvdiff:down").unwrap()];
    assert_eq!(up.matches("NOT VALID;").count(), 2, "{text}");
    assert!(
        up.lines()
            .filter(|line| line.contains("VALIDATE CONSTRAINT"))
            .all(|line| line.contains("  -- OUTSIDE TRANSACTION: runs on its own")),
        "{text}"
    );
    let rows_before = count(&mut client, "SELECT count(*) FROM orders");
    let nulls_before = count(
        &mut client,
        "SELECT count(*) FROM orders WHERE shipped IS NULL",
    );
    assert!(nulls_before > 0);

    let mut child = super::support::base_command(p.root(), &["upgrade", "--db", &db.url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn qvdiff");
    let prefix = "ALTER TABLE \"orders\" VALIDATE CONSTRAINT \"orders_note_ok\"";
    let Some(backend) = backend_in(&mut client, prefix, Activity::Active, &mut child) else {
        let out = child.wait_with_output().unwrap();
        panic!(
            "{prefix} never ran\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let ended: bool = client
        .query_one("SELECT pg_terminate_backend($1)", &[&backend])
        .unwrap()
        .get(0);
    assert!(ended);
    // What committed before the kill stays: the NOT NULL done, the CHECK added unvalidated.
    let validated = |client: &mut Client| -> Option<bool> {
        client
            .query_opt(
                "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_note_ok'",
                &[],
            )
            .unwrap()
            .map(|row| row.get(0))
    };
    assert_eq!(validated(&mut client), Some(false));
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM orders WHERE shipped IS NULL"
        ),
        0
    );
    let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
    assert!(current.stderr.contains("is half applied"), "{current:?}");

    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(validated(&mut client), Some(true));
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_constraint WHERE conname LIKE '%not_null_check'"
        ),
        0
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders"),
        rows_before
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM qvdiff_migrations_progress"
        ),
        0
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    // And back: the CHECK dropped, the column nullable again.
    p.qvdiff(&["downgrade", "--db", &db.url, "-1"])
        .expect_code(0);
    assert_eq!(validated(&mut client), None);
}

/// kill -9 of `upgrade` during a batched backfill (`-- qvdiff:batch`, set to 100 rows in the
/// generated file; the backfill is the revision's first statement), held by a session that keeps
/// row 550 locked: the batches before it stay
/// committed (500 rows filled, each batch its own transaction), the next run fills the rest,
/// makes the column NOT NULL, the schema equals the models and no row is lost.
#[test]
fn upgrade_killed_during_a_batched_backfill_is_finished_by_the_next_run() {
    let Some(db) = TestDatabase::create("online_kill_backfill") else {
        return;
    };
    let p = project(&db, 2_000, 5);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    p.write(
        "src/models.rs",
        &MODELS.replace(
            "    pub note: String,\n",
            "    pub note: String,\n    #[column(backfill = false)]\n    pub shipped: bool,\n",
        ),
    );
    p.qvdiff(&["migrate", "-m", "ship all"]).expect_code(0);
    let file = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.to_string_lossy().ends_with("_ship_all.sql"))
        .expect("the migration");
    let text = std::fs::read_to_string(&file).unwrap();
    let generated = "-- qvdiff:batch 10000\nUPDATE \"orders\" SET \"shipped\" = false \
                     WHERE \"shipped\" IS NULL;  -- OUTSIDE TRANSACTION: runs on its own";
    assert!(text.contains(generated), "{text}");
    std::fs::write(
        &file,
        text.replace("-- qvdiff:batch 10000", "-- qvdiff:batch 100"),
    )
    .unwrap();
    let mut client = db.connect();
    assert_eq!(count(&mut client, "SELECT count(*) FROM orders"), ROWS);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM orders WHERE shipped IS NULL"
        ),
        ROWS
    );

    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN; SELECT id FROM orders WHERE id = 550 FOR UPDATE")
        .unwrap();
    let mut child = super::support::base_command(p.root(), &["upgrade", "--db", &db.url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn qvdiff");
    let Some(backend) = backend_in(
        &mut client,
        "WITH qvdiff_bound",
        Activity::WaitingForLock,
        &mut child,
    ) else {
        let out = child.wait_with_output().unwrap();
        panic!(
            "no batch waited for row 550\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let ended: bool = client
        .query_one("SELECT pg_terminate_backend($1)", &[&backend])
        .unwrap()
        .get(0);
    assert!(ended);
    holder.batch_execute("ROLLBACK").unwrap();
    // Five batches of 100 committed before the one waiting for row 550.
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM orders WHERE shipped IS NOT NULL"
        ),
        500
    );
    let current = p.qvdiff(&["current", "--db", &db.url]).expect_code(0);
    assert!(current.stderr.contains("is half applied"), "{current:?}");
    let vacuumed = "SELECT count(*) FROM pg_stat_user_tables \
                    WHERE relname = 'orders' AND last_vacuum IS NOT NULL";
    assert_eq!(count(&mut client, vacuumed), 0);

    let resumed = p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    // Not a terminal: no progress lines, one summary with the rows this run changed.
    assert!(
        !resumed.stderr.contains("updating orders in batches"),
        "{resumed:?}"
    );
    assert!(
        resumed
            .stderr
            .contains("Updated orders in batches: 500 rows changed in "),
        "{resumed:?}"
    );
    // The batches rewrote rows, so the table was vacuumed before the next step, not left to
    // an autovacuum that the step's ALTER TABLE would have to wait for.
    assert_eq!(count(&mut client, vacuumed), 1);
    assert_eq!(count(&mut client, "SELECT count(*) FROM orders"), ROWS);
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM orders WHERE NOT shipped"),
        ROWS
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'orders' \
             AND column_name = 'shipped' AND is_nullable = 'NO'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM qvdiff_migrations_progress"
        ),
        0
    );
    p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
}
