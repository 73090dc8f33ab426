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
    // The application's own writes held locks on the table too, but only for a moment.
    assert_eq!(
        message.matches("blocked by process").count(),
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
