//! upgrade / downgrade / stamp on a real PostgreSQL server (`QVDIFF_TEST_POSTGRES_URL`), with
//! real rows, concurrent deploys and a held lock. Each test gets its own database.

use qvdiff_core::backend::{Direction, HalfDone, RunOptions};
use qvdiff_core::runner::{Migration, Migrations, Refusal};
use qvdiff_core::{Backend, BackendErrorKind};
use qvdiff_postgres::or_skip;
use qvdiff_postgres::testing::TestDatabase;
use qvdiff_postgres::{PgRunFailure, PostgresDatabase, RunError, ADVISORY_LOCK_KEY};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

#[path = "../../../fixtures/runner/history.rs"]
mod history;
use history::{chain, down, migration, set, target, up};

/// A revision's `(up, down)`: a table of items with a title.
const ITEMS: (&str, &str) = (
    "CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL);",
    "DROP TABLE items;",
);

/// A revision's `(up, down)`: an index on the items' titles, built concurrently.
const ITEMS_TITLE_INDEX: (&str, &str) = (
    "CREATE INDEX CONCURRENTLY ix_items_title ON items (title);",
    "DROP INDEX CONCURRENTLY ix_items_title;",
);

fn opts() -> RunOptions {
    RunOptions::default()
}

/// Three revisions with rows: items (two rows, one with a `;` in a value), a column added and
/// filled, a users table.
const THREE: [(&str, &str); 3] = [
    (
        "CREATE TABLE items (id bigint PRIMARY KEY, title varchar(200) NOT NULL);\n\
             INSERT INTO items (id, title) VALUES (1, 'lamp'), (2, 'desk; with semicolon');",
        "DROP TABLE items;",
    ),
    (
        "ALTER TABLE items ADD COLUMN notes text;\nUPDATE items SET notes = 'n';",
        "ALTER TABLE items DROP COLUMN notes;",
    ),
    (
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);",
        "DROP TABLE users;",
    ),
];

fn three() -> Vec<Migration> {
    chain(&THREE)
}

/// [`three`], then `more` revisions (`r4`, …).
fn three_then(more: &[(&str, &str)]) -> Vec<Migration> {
    chain(&[&THREE[..], more].concat())
}

/// A new test database and the runner's connection to it; `None` without a server.
fn fresh(label: &str) -> Option<(TestDatabase, PostgresDatabase)> {
    let test_db = TestDatabase::create(label)?;
    let db = open(&test_db);
    Some((test_db, db))
}

fn open(db: &TestDatabase) -> PostgresDatabase {
    PostgresDatabase::open(&db.url).unwrap()
}

fn ledger(db: &mut PostgresDatabase) -> Vec<String> {
    db.applied()
        .unwrap()
        .into_iter()
        .map(|row| row.revision)
        .collect()
}

fn tables(db: &mut PostgresDatabase) -> Vec<String> {
    db.client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

fn count(db: &mut PostgresDatabase, sql: &str) -> i64 {
    db.client.query_one(sql, &[]).unwrap().get(0)
}

/// Asserts that `message` says each of `needles`.
fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message}");
    }
}

fn revisions(report: &qvdiff_core::backend::RunReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.revision.as_str()).collect()
}

#[test]
fn upgrade_and_downgrade_whole_and_step_by_step() {
    let (_test_db, mut db) = or_skip!(fresh("runner_round_trip"));
    let migrations = set(three());

    let report = db.run(&up(&migrations, "head", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r1", "r2", "r3"]);
    assert_eq!(report.current, ["r3"]);
    assert_eq!(tables(&mut db), ["items", "qvdiff_migrations", "users"]);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM items WHERE notes = 'n'"),
        2
    );
    let rows = db.applied().unwrap();
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3"]);
    for (row, rev) in rows.iter().zip(["r1", "r2", "r3"]) {
        let m = migrations.get(rev).unwrap();
        assert_eq!(row.checksum, m.checksum);
        assert_eq!(row.message, format!("revision {rev}"));
        assert!(row.execution_ms >= 0);
        // 2026-11-24T10:15:00Z
        assert_eq!(row.applied_at.len(), 20, "{}", row.applied_at);
        assert!(row.applied_at.ends_with('Z') && row.applied_at.as_bytes()[10] == b'T');
    }
    assert!(db.status(&migrations).unwrap().is_up_to_date());
    assert!(db.run(&up(&migrations, "head", &opts())).unwrap().is_noop());

    let report = db.run(&down(&migrations, "base", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r3", "r2", "r1"]);
    assert!(report.current.is_empty());
    assert_eq!(tables(&mut db), ["qvdiff_migrations"]);
    assert!(ledger(&mut db).is_empty());
    assert!(db
        .run(&down(&migrations, "base", &opts()))
        .unwrap()
        .is_noop());

    let report = db.run(&up(&migrations, "+1", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r1"]);
    assert_eq!(report.current, ["r1"]);
    let report = db.run(&up(&migrations, "+2", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r2", "r3"]);
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3"]);
    let report = db.run(&down(&migrations, "-1", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r3"]);
    assert_eq!(report.current, ["r2"]);
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(tables(&mut db), ["items", "qvdiff_migrations"]);
    let report = db.run(&down(&migrations, "r1", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r2"]);
    assert_eq!(ledger(&mut db), ["r1"]);
    assert_eq!(count(&mut db, "SELECT count(*) FROM items"), 2);
}

#[test]
fn a_failing_revision_rolls_back_the_whole_run_and_names_its_statement() {
    let (test_db, mut db) = or_skip!(fresh("runner_failure"));
    let list = three_then(&[(
        "CREATE TABLE tags (id bigint PRIMARY KEY);\n\
         ALTER TABLE missing_table ADD COLUMN x int;\n\
         CREATE TABLE never (id int);",
        "DROP TABLE tags;",
    )]);
    let migrations = set(list);

    // First run: nothing existed, nothing exists afterwards, not even the ledger.
    let error = db.run(&up(&migrations, "head", &opts())).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, RunError::Statement { failed, .. }
            if failed.revision == "r4"
                && failed.statement == "ALTER TABLE missing_table ADD COLUMN x int"),
        "{error:?}"
    );
    assert_mentions(
        &message,
        &[
            "revision r4 (migrations/r4_m.sql, up) failed",
            "relation \"missing_table\" does not exist",
            "in statement: ALTER TABLE missing_table ADD COLUMN x int",
            "the transaction was rolled back: nothing was applied",
        ],
    );
    assert!(tables(&mut db).is_empty());
    assert!(ledger(&mut db).is_empty());

    // With r1 applied, a failing run leaves exactly r1.
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let error = db.run(&up(&migrations, "head", &opts())).unwrap_err();
    assert!(matches!(error, RunError::Statement { .. }), "{error:?}");
    assert_eq!(ledger(&mut db), ["r1"]);
    assert_eq!(tables(&mut db), ["items", "qvdiff_migrations"]);
    assert_eq!(count(&mut db, "SELECT count(*) FROM items"), 2);
    // The connection is usable afterwards, and the lock was released.
    assert_eq!(count(&mut db, "SELECT 1::bigint"), 1);
    assert!(try_lock(&test_db));
}

#[test]
fn a_data_error_names_its_statement_and_the_server_detail() {
    let (_test_db, mut db) = or_skip!(fresh("runner_data_error"));
    let migrations = set(chain(&[
        (
            "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n\
             INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x');",
            "DROP TABLE users;",
        ),
        (
            "ALTER TABLE users ADD COLUMN name text;\n\
             INSERT INTO users (id, email) VALUES (3, NULL);",
            "ALTER TABLE users DROP COLUMN name;",
        ),
    ]));
    let message = db
        .run(&up(&migrations, "head", &opts()))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &message,
        &[
            "revision r2 (migrations/r2_m.sql, up) failed: null value in column \"email\"",
            "detail: Failing row contains (3, null, null).",
            "in statement: INSERT INTO users (id, email) VALUES (3, NULL)",
        ],
    );
    assert!(tables(&mut db).is_empty());
}

/// The state a refused revision must leave as it was: the ledger, every index and constraint
/// (an invalid index left behind included), every column's type, and every row.
fn rows_and_ledger(db: &mut PostgresDatabase, tables: &[&str]) -> Vec<String> {
    let mut state = ledger(db);
    for row in db
        .client
        .query(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' \
             UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
               WHERE connamespace = 'public'::regnamespace \
             UNION ALL SELECT attrelid::regclass || '.' || attname || ' ' || \
               format_type(atttypid, atttypmod) || ' ' || attnotnull FROM pg_attribute \
               WHERE attrelid IN (SELECT oid FROM pg_class \
                 WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') \
                 AND attnum > 0 AND NOT attisdropped \
             ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        state.push(row.get(0));
    }
    for table in tables {
        for row in db
            .client
            .query(
                &format!("SELECT row_to_json(t)::text FROM {table} t ORDER BY 1"),
                &[],
            )
            .unwrap()
        {
            state.push(row.get(0));
        }
    }
    state
}

/// Upgrades to `head` expecting a preflight refusal whose message holds every needle, and
/// checks that nothing changed.
fn assert_refused(
    db: &mut PostgresDatabase,
    migrations: &Migrations,
    tables: &[&str],
    needles: &[&str],
) {
    let before = rows_and_ledger(db, tables);
    let error = db.run(&up(migrations, "head", &opts())).unwrap_err();
    assert!(
        matches!(error, RunError::Data { .. }),
        "not a preflight refusal: {error}"
    );
    let message = error.to_string();
    assert_mentions(&message, needles);
    assert_eq!(rows_and_ledger(db, tables), before, "{message}");
}

#[test]
fn narrowing_is_refused_with_the_values_that_do_not_fit_on_up_and_down() {
    let (_test_db, mut db) = or_skip!(fresh("runner_narrowing"));
    let firms = migration(
        "r1",
        &[],
        "CREATE TABLE firms (id bigint PRIMARY KEY, name varchar(40) NOT NULL, price numeric(10, 3));\n\
         INSERT INTO firms VALUES (1, 'Deutsche Post', 1.5), (2, 'DHL', 2.255);",
        "DROP TABLE firms;",
    );
    // A harmless widening whose down narrows again, spelled as qvdiff wrote it before: an
    // explicit cast, which cuts a longer value to 40 characters.
    let widen = migration(
        "r2",
        &["r1"],
        "ALTER TABLE \"firms\" ALTER COLUMN \"name\" TYPE text;",
        "ALTER TABLE \"firms\" ALTER COLUMN \"name\" TYPE varchar(40) USING \"name\"::varchar(40);",
    );
    let migrations = set(vec![firms.clone(), widen.clone()]);
    db.run(&up(&migrations, "head", &opts())).unwrap();
    db.client
        .batch_execute(
            "INSERT INTO firms VALUES (3, 'Deutsche Post DHL Group Express International', 1), \
             (4, 'Deutsche Post DHL Group Express International GmbH', 1)",
        )
        .unwrap();
    let before = rows_and_ledger(&mut db, &["firms"]);
    let message = db
        .run(&down(&migrations, "r1", &opts()))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &message,
        &[
            "revision r2 (migrations/r2_m.sql, down) cannot run on the existing data; nothing was changed",
            "2 rows of firms hold values in name that do not convert to varchar(40) unchanged (they do not fit, or would be cut or rounded): 'Deutsche Post DHL Group Express International', 'Deutsche Post DHL Group Express International GmbH' (ids 3, 4)",
            "#[column(using",
        ],
    );
    assert_eq!(rows_and_ledger(&mut db, &["firms"]), before);

    // Rounding: numeric(10, 3) -> numeric(10, 2) and -> bigint, with and without a cast.
    for (up, needle) in [
        (
            "ALTER TABLE firms ALTER COLUMN price TYPE numeric(10, 2);",
            "1 row of firms holds a value in price that does not convert to numeric(10, 2) unchanged (it does not fit, or would be cut or rounded): 2.255 (id 2)",
        ),
        (
            "ALTER TABLE firms ALTER COLUMN price TYPE bigint USING price::bigint;",
            "2 rows of firms hold values in price that do not convert to bigint unchanged (they do not fit, or would be cut or rounded): 1.500, 2.255 (ids 1, 2)",
        ),
    ] {
        let migrations = set(vec![
            firms.clone(),
            widen.clone(),
            migration("r3", &["r2"], up, "SELECT 1;"),
        ]);
        assert_refused(&mut db, &migrations, &["firms"], &[needle]);
    }
}

#[test]
fn every_data_step_is_refused_with_counts_and_example_keys() {
    let (_test_db, mut db) = or_skip!(fresh("runner_preflight"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, code text);\n\
         CREATE TABLE items (id bigint PRIMARY KEY, user_id bigint, qty bigint);\n\
         INSERT INTO users VALUES (1, 'a@x', '10'), (2, NULL, 'x1'), (3, 'a@x', '30'), \
           (4, 'c@x', 'ten'), (5, 'c@x', '50'), (6, NULL, '60');\n\
         INSERT INTO items VALUES (1, 1, 5), (2, 9, -1), (3, 8, -2), (4, NULL, 0);",
        "DROP TABLE items;\nDROP TABLE users;",
    );
    let cases: [(&str, &[&str]); 10] = [
        (
            "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            &["2 rows of users have NULL in email (ids 2, 6); add #[column(backfill"],
        ),
        // How qvdiff makes a column NOT NULL online: a CHECK validated first.
        (
            "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n\
             ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;",
            &["2 rows of users have NULL in email (ids 2, 6)"],
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
            &["4 rows of users share their value of (email) with another row (2 duplicated values): email 'a@x' on ids 1, 3; email 'c@x' on ids 4, 5"],
        ),
        // Outside a transaction: counted before the index is built (a failed build would
        // leave an invalid index behind).
        (
            "CREATE UNIQUE INDEX CONCURRENTLY ux_users_email ON users (email);",
            &["4 rows of users share their value of (email) with another row (2 duplicated values): email 'a@x' on ids 1, 3; email 'c@x' on ids 4, 5"],
        ),
        (
            "CREATE UNIQUE INDEX ux_users_email ON users (email) WHERE id > 3;",
            &["2 rows of users share their value of (email) with another row (1 duplicated value): email 'c@x' on ids 4, 5"],
        ),
        (
            "ALTER TABLE items ADD CONSTRAINT items_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);",
            &["2 rows of items reference a missing row of users (through items.user_id) (ids 2, 3)"],
        ),
        (
            "ALTER TABLE items ADD CONSTRAINT items_user_fk FOREIGN KEY (user_id) REFERENCES users NOT VALID;\n\
             ALTER TABLE items VALIDATE CONSTRAINT items_user_fk;",
            &["2 rows of items reference a missing row of users (through items.user_id) (ids 2, 3)"],
        ),
        (
            "ALTER TABLE items ADD CONSTRAINT ck_items_qty CHECK (qty >= 0);",
            &["2 rows of items break the check ck_items_qty (ids 2, 3)"],
        ),
        (
            "ALTER TABLE users ALTER COLUMN code TYPE bigint USING code::bigint;",
            &["2 rows of users hold values in code that do not convert to bigint unchanged (they do not fit, or would be cut or rounded): 'x1', 'ten' (ids 2, 4)"],
        ),
        // A conversion of the model's own: run row by row to find the rows it fails on.
        (
            "ALTER TABLE users ALTER COLUMN code TYPE bigint USING (code || '0')::bigint;",
            &["2 rows of users hold values in code that do not convert to bigint unchanged (they do not fit, or would be cut or rounded): 'x1', 'ten' (ids 2, 4)"],
        ),
    ];
    db.run(&up(&set(vec![base.clone()]), "head", &opts()))
        .unwrap();
    for (up, needles) in cases {
        let migrations = set(vec![
            base.clone(),
            migration("r2", &["r1"], up, "SELECT 1;"),
        ]);
        let mut needles = needles.to_vec();
        needles.push("revision r2 (migrations/r2_m.sql, up) cannot run on the existing data; nothing was changed");
        assert_refused(&mut db, &migrations, &["users", "items"], &needles);
    }
}

/// Whether a fresh connection can take (and then gives back) the migration lock.
fn try_lock(test_db: &TestDatabase) -> bool {
    let mut other = test_db.connect();
    let locked: bool = other
        .query_one("SELECT pg_try_advisory_lock($1)", &[&ADVISORY_LOCK_KEY])
        .unwrap()
        .get(0);
    if locked {
        other
            .execute("SELECT pg_advisory_unlock($1)", &[&ADVISORY_LOCK_KEY])
            .unwrap();
    }
    locked
}

fn with_counter() -> Migrations {
    set(three_then(&[
        (
            "CREATE TABLE counter (n int NOT NULL);\n\
             INSERT INTO counter (n) VALUES (1);\n\
             SELECT pg_sleep(0.2);",
            "DROP TABLE counter;",
        ),
        ITEMS_TITLE_INDEX,
        (
            "UPDATE counter SET n = n + 1;",
            "UPDATE counter SET n = n - 1;",
        ),
    ]))
}

fn concurrent_upgrades(label: &str, threads: usize) {
    let test_db = or_skip!(TestDatabase::create(label));
    let migrations = Arc::new(with_counter());
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let url = test_db.url.clone();
            let migrations = migrations.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut db = PostgresDatabase::open(&url).unwrap();
                barrier.wait();
                db.run(&up(&migrations, "head", &opts()))
            })
        })
        .collect();
    let reports: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let applied: Vec<_> = reports.iter().filter(|r| !r.is_noop()).collect();
    assert_eq!(applied.len(), 1, "{reports:?}");
    assert_eq!(revisions(applied[0]), ["r1", "r2", "r3", "r4", "r5", "r6"]);
    assert_eq!(
        reports.iter().filter(|r| r.is_noop()).count(),
        threads - 1,
        "{reports:?}"
    );
    for report in &reports {
        assert_eq!(report.current, ["r6"]);
    }
    let mut db = open(&test_db);
    assert_eq!(count(&mut db, "SELECT count(*) FROM counter"), 1);
    assert_eq!(count(&mut db, "SELECT sum(n) FROM counter"), 2);
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3", "r4", "r5", "r6"]);
    assert!(try_lock(&test_db));
}

#[test]
fn two_concurrent_upgrades_apply_each_revision_once() {
    concurrent_upgrades("runner_concurrent_2", 2);
}

#[test]
fn eight_concurrent_upgrades_apply_each_revision_once() {
    concurrent_upgrades("runner_concurrent_8", 8);
}

#[test]
fn a_held_lock_times_out_without_changing_anything() {
    let test_db = or_skip!(TestDatabase::create("runner_lock_timeout"));
    let migrations = set(three());
    let mut holder = test_db.connect();
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&ADVISORY_LOCK_KEY])
        .unwrap();
    let mut db = open(&test_db);
    let options = RunOptions {
        busy_timeout: Duration::from_millis(200),
        ..RunOptions::default()
    };
    let started = Instant::now();
    let error = Backend::run(&mut db, &up(&migrations, "head", &options)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(error.kind, BackendErrorKind::Locked);
    assert_mentions(
        &error.message,
        &[
            test_db.name.as_str(),
            "stayed locked by another qvdiff run for 200 ms",
            "nothing was changed",
            "held by process",
        ],
    );
    assert!(tables(&mut db).is_empty());
    let error = Backend::stamp(&mut db, &migrations, &target("head"), &options).unwrap_err();
    assert_eq!(error.kind, BackendErrorKind::Locked);
    assert!(ledger(&mut db).is_empty());

    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&ADVISORY_LOCK_KEY])
        .unwrap();
    let report = db.run(&up(&migrations, "head", &options)).unwrap();
    assert_eq!(revisions(&report), ["r1", "r2", "r3"]);
}

/// A table lock held for longer than `lock_timeout` by another session: the whole transaction
/// (the revisions before the waiting statement included) is rolled back and run again until the
/// holder lets go; every revision's effect and ledger row is there exactly once.
#[test]
fn a_lock_timeout_rolls_back_the_transaction_and_runs_its_revisions_again() {
    let (test_db, mut db) = or_skip!(fresh("runner_table_lock_retry"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE audit (id bigint PRIMARY KEY, note text NOT NULL);\n\
         CREATE TABLE items (id bigint PRIMARY KEY);",
        "DROP TABLE items;\nDROP TABLE audit;",
    );
    let migrations = set(vec![
        base.clone(),
        migration(
            "r2",
            &["r1"],
            "INSERT INTO audit VALUES (1, 'r2 ran');",
            "DELETE FROM audit WHERE id = 1;",
        ),
        migration(
            "r3",
            &["r2"],
            "ALTER TABLE items ADD COLUMN title text;",
            "ALTER TABLE items DROP COLUMN title;",
        ),
    ]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let mut holder = test_db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE items IN ACCESS SHARE MODE")
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        holder.batch_execute("COMMIT").unwrap();
    });
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(300),
            retries: 20,
        },
        ..RunOptions::default()
    };
    let report = db.run(&up(&migrations, "head", &options)).unwrap();
    release.join().unwrap();
    assert_eq!(revisions(&report), ["r2", "r3"]);
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3"]);
    assert_eq!(count(&mut db, "SELECT count(*) FROM audit"), 1);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'items' AND column_name = 'title'"
        ),
        1
    );
    // The session's own lock_timeout is as it was before the run.
    assert_eq!(
        db.client
            .query_one("SELECT current_setting('lock_timeout')", &[])
            .unwrap()
            .get::<_, String>(0),
        "0"
    );
}

/// A statement that gives up waiting for a table lock names the session it waited for, not a
/// write that queued behind it: an application transaction that began before the attempt,
/// wrote once the attempt let go and holds its lock for a moment longer.
#[test]
fn a_lock_timeout_names_the_holder_not_a_write_queued_behind_the_attempt() {
    let Some((test_db, mut db)) = fresh("runner_lock_blockers") else {
        return;
    };
    let migrations = set(chain(&[
        ITEMS,
        (
            "ALTER TABLE items ADD COLUMN note text;",
            "ALTER TABLE items DROP COLUMN note;",
        ),
    ]));
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let mut holder = test_db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE items IN ACCESS SHARE MODE")
        .unwrap();
    let holder_pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // The application's transaction is open before the attempt starts; its write waits behind
    // the attempt, goes through when the attempt gives up, and commits 300 ms later.
    let mut app = test_db.connect();
    app.batch_execute("BEGIN; SELECT 1").unwrap();
    let app_pid: i32 = app
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mut watcher = test_db.connect();
    let writer = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE '%ALTER TABLE items ADD%'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 0
        {
            assert!(Instant::now() < deadline, "the ALTER never waited");
            std::thread::sleep(Duration::from_millis(5));
        }
        app.batch_execute("INSERT INTO items VALUES (1, 'written meanwhile')")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        app.batch_execute("COMMIT").unwrap();
    });
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(1_000),
            retries: 0,
        },
        ..RunOptions::default()
    };
    let error = db.run(&up(&migrations, "head", &options)).unwrap_err();
    writer.join().unwrap();
    holder.batch_execute("ROLLBACK").unwrap();
    let message = error.to_string();
    assert!(
        message.contains("gave up waiting for a table lock"),
        "{message}"
    );
    assert!(
        message.contains(&format!("blocked by process {holder_pid}")),
        "{message}"
    );
    assert!(
        !message.contains(&format!("process {app_pid}")),
        "{message}"
    );
    assert_eq!(
        message.matches("blocked by process ").count(),
        1,
        "{message}"
    );
    assert_eq!(ledger(&mut db), ["r1"]);
    assert_eq!(count(&mut db, "SELECT count(*) FROM items"), 1);
}

#[test]
fn a_concurrently_revision_runs_outside_the_transaction_and_is_recorded() {
    let (_test_db, mut db) = or_skip!(fresh("runner_concurrently"));
    let migrations = with_counter();
    let report = db.run(&up(&migrations, "head", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r1", "r2", "r3", "r4", "r5", "r6"]);
    let valid: bool = db
        .client
        .query_one(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_items_title'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(valid);
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3", "r4", "r5", "r6"]);

    let report = db.run(&down(&migrations, "r4", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r6", "r5"]);
    let index: Option<String> = db
        .client
        .query_one("SELECT to_regclass('ix_items_title')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(index, None);
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3", "r4"]);
    assert_eq!(count(&mut db, "SELECT sum(n) FROM counter"), 1);
}

#[test]
fn a_failure_after_a_concurrently_revision_keeps_what_was_committed() {
    let (_test_db, mut db) = or_skip!(fresh("runner_concurrently_fail"));
    let migrations = set(chain(&[
        ITEMS,
        ITEMS_TITLE_INDEX,
        (
            "CREATE TABLE tags (id bigint PRIMARY KEY);\nDROP TABLE nope;",
            "DROP TABLE tags;",
        ),
    ]));
    let error = db.run(&up(&migrations, "head", &opts())).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, RunError::Statement { failed, committed }
            if failed.revision == "r3" && committed == &["r1", "r2"]),
        "{error:?}"
    );
    assert!(
        message.contains("revisions r1, r2 of this run were committed before it"),
        "{message}"
    );
    assert!(
        message.contains("in statement: DROP TABLE nope"),
        "{message}"
    );
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    // The progress of the CONCURRENTLY revision, empty once it is recorded.
    assert_eq!(
        tables(&mut db),
        ["items", "qvdiff_migrations", "qvdiff_migrations_progress"]
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );

    // A failing CONCURRENTLY revision: not recorded, and says what stays.
    let migrations = set(chain(&[
        ITEMS,
        (
            "CREATE INDEX CONCURRENTLY ix_items_title ON items (title);\n\
             CREATE INDEX CONCURRENTLY ix_nope ON nope (x);",
            "DROP INDEX CONCURRENTLY ix_items_title;",
        ),
    ]));
    let (_test_db, mut db) = or_skip!(fresh("runner_concurrently_fail2"));
    let error = db.run(&up(&migrations, "head", &opts())).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, RunError::Dialect(PgRunFailure::OutsideTransaction { failed, done: 1, committed, batches: None })
            if failed.revision == "r2" && committed == &["r1"]),
        "{error:?}"
    );
    assert_mentions(
        &message,
        &[
            "in statement: CREATE INDEX CONCURRENTLY ix_nope ON nope (x)",
            "its first statement took effect and stays, recorded",
            "it is not recorded as applied",
            "run `qvdiff upgrade` again: it continues with the failed statement",
            "revision r1 of this run was committed before it and stays",
        ],
    );
    assert_eq!(ledger(&mut db), ["r1"]);
    // `current` reads the ledger and the half-done revision together.
    let (applied, half_done) = db.applied_and_half_done().unwrap();
    assert_eq!(applied, db.applied().unwrap());
    assert_eq!(
        half_done,
        [HalfDone {
            revision: "r2".to_string(),
            direction: Direction::Up,
            statements_done: 1
        }]
    );
    assert_eq!(half_done, db.half_done().unwrap());
    // The first statement recorded as done, and that the revision started.
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM qvdiff_migrations_progress WHERE statement >= 0"
        ),
        1
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        2
    );

    // The cause fixed, the next run continues with the failed statement: the first index,
    // built already, is not built again (that would fail: it exists).
    db.client
        .batch_execute("CREATE TABLE nope (x integer)")
        .unwrap();
    let report = db.run(&up(&migrations, "head", &opts())).unwrap();
    assert_eq!(revisions(&report), ["r2"]);
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indisvalid AND indexrelid IN \
             ('ix_items_title'::regclass, 'ix_nope'::regclass)"
        ),
        2
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );
    // Down runs step by step too, and leaves no progress behind.
    db.run(&down(&migrations, "r1", &opts())).unwrap();
    assert_eq!(ledger(&mut db), ["r1"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_class WHERE relname = 'ix_items_title'"
        ),
        0
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );
}

/// An invalid index left by a concurrent build that failed (here: a duplicate found by the
/// build itself, after the rows were checked) is found on the next run, dropped and built again.
#[test]
fn an_invalid_index_left_by_a_failed_concurrent_build_is_rebuilt_on_the_next_run() {
    let (_test_db, mut db) = or_skip!(fresh("runner_invalid_index"));
    let migrations = set(chain(&[
        (
            "CREATE TABLE items (id bigint PRIMARY KEY, code text);",
            "DROP TABLE items;",
        ),
        (
            "CREATE UNIQUE INDEX CONCURRENTLY ux_items_code ON items (code);",
            "DROP INDEX CONCURRENTLY ux_items_code;",
        ),
    ]));
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    db.client
        .batch_execute(
            "INSERT INTO items SELECT g, 'c' || g FROM generate_series(1, 1000) g;\
             INSERT INTO items VALUES (1001, 'c1')",
        )
        .unwrap();
    db.client
        .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY ux_items_code ON items (code)")
        .unwrap_err();
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid \
             AND indexrelid = 'ux_items_code'::regclass"
        ),
        1,
        "a failed concurrent build leaves an invalid index"
    );
    db.client
        .batch_execute("DELETE FROM items WHERE id = 1001")
        .unwrap();
    db.run(&up(&migrations, "head", &opts())).unwrap();
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indisvalid AND indisunique \
             AND indexrelid = 'ux_items_code'::regclass"
        ),
        1
    );
    assert_eq!(count(&mut db, "SELECT count(*) FROM items"), 1000);
}

#[test]
fn an_edited_or_missing_applied_file_is_refused() {
    let (test_db, mut db) = or_skip!(fresh("runner_refusals"));
    db.run(&up(&set(three()), "r2", &opts())).unwrap();

    let mut edited = three();
    edited[0] = migration(
        "r1",
        &[],
        "CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL);",
        "DROP TABLE items;",
    );
    let error = db.run(&up(&set(edited), "head", &opts())).unwrap_err();
    assert!(
        matches!(&error, RunError::Refused(Refusal::EditedAfterApplied { revision, .. }) if revision == "r1"),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("migrations/r1_m.sql was edited after it was applied"));
    let backend = qvdiff_core::BackendError::from(error);
    assert_eq!(backend.kind, BackendErrorKind::Refused);

    // r2's file is gone while r3 is still pending: missing files.
    let mut missing = three();
    missing.remove(1);
    missing[1] = migration(
        "r3",
        &["r1"],
        "CREATE TABLE users (id bigint PRIMARY KEY);",
        "DROP TABLE users;",
    );
    let error = db.run(&up(&set(missing), "head", &opts())).unwrap_err();
    assert!(
        matches!(&error, RunError::Refused(Refusal::MissingFiles { revisions }) if revisions == &["r2"]),
        "{error:?}"
    );
    let error = db
        .run(&down(&set(vec![three().remove(0)]), "base", &opts()))
        .unwrap_err();
    assert!(
        matches!(&error, RunError::Refused(Refusal::DatabaseNewer { .. })),
        "{error:?}"
    );
    // Nothing changed, and the lock is free.
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert!(try_lock(&test_db));
}

#[test]
fn transaction_control_in_a_migration_is_refused_before_anything_runs() {
    let (_test_db, mut db) = or_skip!(fresh("runner_commit_refused"));
    let list = three_then(&[(
        "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);",
        "DROP TABLE b;\nDROP TABLE a;",
    )]);
    let message = db
        .run(&up(&set(list), "head", &opts()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("must not contain BEGIN, COMMIT"),
        "{message}"
    );
    assert!(message.contains("revision r4"), "{message}");
    assert!(tables(&mut db).is_empty());
}

#[test]
fn stamp_sets_the_ledger_without_running_sql() {
    let (_test_db, mut db) = or_skip!(fresh("runner_stamp"));
    let migrations = set(three());
    let report = db.stamp(&migrations, &target("r2"), &opts()).unwrap();
    assert_eq!(report.added, ["r1", "r2"]);
    assert!(tables(&mut db) == ["qvdiff_migrations"]);
    assert_eq!(ledger(&mut db), ["r1", "r2"]);

    let mut edited = three();
    edited[1] = migration(
        "r2",
        &["r1"],
        "ALTER TABLE items ADD COLUMN notes varchar(10);",
        "ALTER TABLE items DROP COLUMN notes;",
    );
    let edited = set(edited);
    let report = db.stamp(&edited, &target("r2"), &opts()).unwrap();
    assert_eq!(report.rechecksummed, ["r2"]);
    assert!(report.added.is_empty() && report.removed.is_empty());
    assert_eq!(
        db.applied().unwrap()[1].checksum,
        edited.get("r2").unwrap().checksum
    );
    // Never silently: the audit table keeps both checksums.
    let audit = db.accepted_edits().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].revision, "r2");
    assert_eq!(audit[0].new_checksum, edited.get("r2").unwrap().checksum);
    assert_ne!(audit[0].old_checksum, audit[0].new_checksum);
    assert_eq!(audit[0].reason, qvdiff_core::runner::STAMP_REASON);

    let report = db.stamp(&edited, &target("base"), &opts()).unwrap();
    assert_eq!(report.removed, ["r1", "r2"]);
    assert!(ledger(&mut db).is_empty());
}

#[test]
fn the_progress_hook_hears_of_each_revision_before_it_runs() {
    let (_test_db, mut db) = or_skip!(fresh("runner_progress"));
    let migrations = set(three());
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let options = RunOptions {
        progress: Some({
            let heard = heard.clone();
            Arc::new(move |direction: Direction, m: &Migration| {
                heard
                    .lock()
                    .unwrap()
                    .push(format!("{direction} {}", m.file.revision));
            })
        }),
        ..RunOptions::default()
    };
    db.run(&up(&migrations, "head", &options)).unwrap();
    db.run(&down(&migrations, "-2", &options)).unwrap();
    assert_eq!(
        *heard.lock().unwrap(),
        ["up r1", "up r2", "up r3", "down r3", "down r2"]
    );
}

#[test]
fn the_backend_trait_drives_the_same_runner() {
    let test_db = or_skip!(TestDatabase::create("runner_backend"));
    let migrations = set(three());
    let mut db: Box<dyn Backend> = Box::new(open(&test_db));
    assert_eq!(db.dialect().name(), "postgres");
    let described = db.describe();
    let without_options = described.split('?').next().unwrap_or_default();
    assert!(without_options.ends_with(&test_db.name), "{described}");
    let report = db.run(&up(&migrations, "head", &opts())).unwrap();
    assert_eq!(report.steps.len(), 3);
    assert_eq!(db.applied().unwrap().len(), 3);
    assert_eq!(db.count_rows("items").unwrap(), 2);
    let schema = db.introspect().unwrap();
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["items", "users"]);
    db.run(&down(&migrations, "base", &opts())).unwrap();
    let script = db
        .upgrade_script(&migrations, &target("head"), false)
        .unwrap();
    assert!(
        script.contains("\\set ON_ERROR_STOP on\nBEGIN;\n"),
        "{script}"
    );
    assert!(script.contains("CREATE TABLE IF NOT EXISTS \"qvdiff_migrations\""));
    assert!(script.trim_end().ends_with("COMMIT;"), "{script}");
    assert!(db.applied().unwrap().is_empty());
}

#[test]
fn the_offline_script_puts_concurrently_revisions_between_transactions() {
    let script = qvdiff_postgres::sql_script(&with_counter(), None).unwrap();
    let r5 = script.find("-- revision r5").unwrap();
    let before = &script[..r5];
    let after = &script[r5..];
    assert!(before.trim_end().ends_with("COMMIT;"), "{script}");
    assert!(after.contains("CREATE INDEX CONCURRENTLY ix_items_title ON items (title);\nINSERT"));
    let r6 = after.find("-- revision r6").unwrap();
    assert!(after[..r6].trim_end().ends_with("BEGIN;"), "{script}");
    assert_eq!(script.matches("BEGIN;").count(), 2);
    assert_eq!(script.matches("COMMIT;").count(), 2);

    // Sections are verbatim, comments included, and a missing last `;` is added.
    let with_comment = set(chain(&[(
        "-- the items\nCREATE TABLE items (id int)",
        "DROP TABLE items",
    )]));
    let script = qvdiff_postgres::sql_script(&with_comment, None).unwrap();
    assert!(
        script.contains("-- the items\nCREATE TABLE items (id int);\nCREATE TABLE IF NOT EXISTS"),
        "{script}"
    );
}

#[test]
fn connection_errors_name_the_url_without_its_password() {
    let error = PostgresDatabase::open("postgres://app:hunter2@127.0.0.1:1/shop").unwrap_err();
    assert!(
        error
            .message
            .contains("connecting to postgres://app:***@127.0.0.1:1/shop"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("hunter2"));
    assert!(
        error.message.contains("Connection refused"),
        "{}",
        error.message
    );
}

/// The revisions an upgrade to head inside the caller's transaction `tx` applies, or its error.
fn upgrade_in(
    tx: &mut postgres::Transaction,
    migrations: &Migrations,
) -> Result<Vec<String>, String> {
    qvdiff_postgres::runner::upgrade_in_transaction(
        tx,
        "test",
        migrations,
        &target("head"),
        Duration::from_secs(5),
    )
    .map(|steps| steps.into_iter().map(|step| step.revision).collect())
    .map_err(|error| error.to_string())
}

#[test]
fn an_upgrade_inside_the_callers_transaction_commits_or_leaves_nothing() {
    let (_test_db, mut db) = or_skip!(fresh("runner_in_transaction"));
    let mut list = three_then(&[(
        "CREATE INDEX CONCURRENTLY ix_users_name ON users (name);",
        "DROP INDEX CONCURRENTLY ix_users_name;",
    )]);
    let migrations = set(list.clone());

    // Rolled back: no table, no index, no ledger.
    {
        let mut tx = db.client.transaction().unwrap();
        let applied = upgrade_in(&mut tx, &migrations).unwrap();
        assert_eq!(applied, ["r1", "r2", "r3", "r4"]);
        tx.rollback().unwrap();
    }
    assert!(tables(&mut db).is_empty());

    // Committed: all of it, the index built without CONCURRENTLY inside the transaction.
    let mut tx = db.client.transaction().unwrap();
    upgrade_in(&mut tx, &migrations).unwrap();
    tx.commit().unwrap();
    assert_eq!(ledger(&mut db), ["r1", "r2", "r3", "r4"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_users_name'"
        ),
        1
    );

    // A statement that needs its own transaction is refused before anything runs.
    let other_db = or_skip!(TestDatabase::create("runner_in_transaction_vacuum"));
    list.push(migration("r5", &["r4"], "VACUUM users;", "SELECT 1;"));
    let mut other = open(&other_db);
    let mut tx = other.client.transaction().unwrap();
    let refused = upgrade_in(&mut tx, &set(list)).unwrap_err();
    assert!(refused.contains("VACUUM users"), "{refused}");
    assert!(refused.contains("qvdiff upgrade"), "{refused}");
    assert_eq!(
        tx.query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[]
        )
        .unwrap()
        .get::<_, i64>(0),
        0
    );
}

/// A session that passes every query on to a real connection and keeps its text: what a run
/// sends to the server, one entry per round trip.
struct Recording<'c> {
    client: &'c mut postgres::Client,
    sent: Vec<String>,
}

impl qvdiff_postgres::session::Session for Recording<'_> {
    fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<qvdiff_postgres::session::TextRow>, qvdiff_postgres::session::SessionError>
    {
        self.sent.push(sql.to_string());
        qvdiff_postgres::session::Session::simple_query(self.client, sql)
    }
}

#[test]
fn a_small_upgrade_takes_few_round_trips_and_puts_the_session_back() {
    let test_db = or_skip!(TestDatabase::create("runner_round_trips"));
    let rename = migration(
        "r2",
        &["r1"],
        "ALTER TABLE items RENAME COLUMN title TO name;",
        "ALTER TABLE items RENAME COLUMN name TO title;",
    );
    let migrations = set(vec![three()[0].clone(), rename.clone()]);
    let mut db = open(&test_db);
    // The session an application lends has a lock_timeout of its own, and may read in
    // repeatable read by default (the ledger is still read after the lock is taken).
    db.client
        .batch_execute(
            "SET lock_timeout = '4321ms'; SET default_transaction_isolation = 'repeatable read'",
        )
        .unwrap();
    let mut session = Recording {
        client: &mut db.client,
        sent: Vec::new(),
    };
    let first =
        qvdiff_postgres::runner::run(&mut session, "db", &up(&migrations, "r1", &opts())).unwrap();
    assert_eq!(revisions(&first), ["r1"]);
    // Two statements and no ledger yet: the lock with the ledger's read, which fails; whether
    // the lock is held, with the setting and whether there is a ledger; BEGIN with the first
    // statement; the second; the ledger created with its row, COMMIT and the unlock.
    let sent = std::mem::take(&mut session.sent);
    assert_eq!(sent.len(), 5, "{sent:#?}");

    // One revision of one statement on a database with a ledger: the lock with the run's
    // lock_timeout and the ledger, BEGIN with the statement, and its ledger row with the
    // setting put back, COMMIT and the unlock.
    let report =
        qvdiff_postgres::runner::run(&mut session, "db", &up(&migrations, "head", &opts()))
            .unwrap();
    assert_eq!(revisions(&report), ["r2"]);
    let sent = std::mem::take(&mut session.sent);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert!(
        sent[0].contains("pg_try_advisory_lock") && sent[0].contains("FROM \"qvdiff_migrations\""),
        "{sent:#?}"
    );
    // Nothing to do: the lock with the setting and the ledger, then the setting put back with
    // the unlock.
    let noop = qvdiff_postgres::runner::run(&mut session, "db", &up(&migrations, "head", &opts()))
        .unwrap();
    assert!(noop.is_noop());
    let sent = std::mem::take(&mut session.sent);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    // `current`: which of the ledger and the progress table exist, then the ledger's rows.
    let (applied, half_done) =
        qvdiff_postgres::runner::applied_and_half_done(&mut session).unwrap();
    let sent = std::mem::take(&mut session.sent);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert_eq!(
        applied
            .iter()
            .map(|a| a.revision.as_str())
            .collect::<Vec<_>>(),
        ["r1", "r2"]
    );
    assert!(half_done.is_empty());
    // `check --db`: the schema (the default one found in the same query) in one round trip.
    let schema = qvdiff_postgres::introspect(&mut session).unwrap();
    let sent = std::mem::take(&mut session.sent);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let items = schema.table("items").expect("items introspected");
    assert!(items.column("name").is_some(), "{items:?}");
    assert_eq!(items.primary_key, ["id"]);

    // A failed run puts the setting back and releases the lock too.
    let broken = set(vec![
        three()[0].clone(),
        rename,
        migration(
            "r3",
            &["r2"],
            "ALTER TABLE nowhere ADD COLUMN x int;",
            "SELECT 1;",
        ),
    ]);
    let failed = qvdiff_postgres::runner::run(&mut session, "db", &up(&broken, "head", &opts()));
    assert!(
        matches!(failed, Err(RunError::Statement { .. })),
        "{failed:?}"
    );

    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM items WHERE name IN ('lamp', 'desk; with semicolon')"
        ),
        2
    );
    assert_eq!(
        db.client
            .query_one("SELECT current_setting('lock_timeout')", &[])
            .unwrap()
            .get::<_, String>(0),
        "4321ms"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ),
        0
    );
    // `[postgres] schema`: a missing one is refused without being created and leaves the
    // search_path as it was; created when asked and put on the search_path in one round trip.
    let search_path = |db: &mut PostgresDatabase| {
        db.client
            .query_one("SELECT current_setting('search_path')", &[])
            .unwrap()
            .get::<_, String>(0)
    };
    let before = search_path(&mut db);
    let refused = qvdiff_postgres::connect::use_schema(&mut db.client, "db", "app", false)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("schema app ([postgres] schema in qvdiff.toml) does not exist"));
    assert_eq!(search_path(&mut db), before);
    let mut session = Recording {
        client: &mut db.client,
        sent: Vec::new(),
    };
    qvdiff_postgres::connect::use_schema(&mut session, "db", "app", true).unwrap();
    assert_eq!(session.sent.len(), 1, "{:#?}", session.sent);
    let schemas = |db: &mut PostgresDatabase| {
        db.client
            .query_one("SELECT current_schemas(false)::text", &[])
            .unwrap()
            .get::<_, String>(0)
    };
    assert_eq!(schemas(&mut db), "{app}");
    db.client
        .batch_execute(&format!("SET search_path TO {before}"))
        .unwrap();
    assert_eq!(schemas(&mut db), "{public}");
    qvdiff_postgres::connect::use_schema(&mut db.client, "db", "app", false).unwrap();
    assert_eq!(schemas(&mut db), "{app}");
}

/// A revision run step by step that checks the rows (a unique index built concurrently, a CHECK
/// and a foreign key added `NOT VALID`, then validated) reads each table once on the way to
/// success: the build or the `VALIDATE` itself, no count of the rows before it. When the rows
/// refuse one of them, the steps before it are undone (see `every_data_step_is_refused_…` and
/// the `postgres_online_*` cases of the bad-input corpus); a step with no known inverse before
/// the check keeps the count up front, so nothing changes either.
#[test]
fn checks_of_the_rows_run_once_when_the_rows_allow_them() {
    let test_db = or_skip!(TestDatabase::create("runner_checks_once"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n\
         CREATE TABLE items (id bigint PRIMARY KEY, user_id bigint, qty bigint);\n\
         INSERT INTO users VALUES (1, 'a@x', 'ann'), (2, 'b@x', 'bo'), (3, NULL, 'cy');\n\
         INSERT INTO items VALUES (1, 1, 5), (2, 3, 0), (3, NULL, 7);",
        "DROP TABLE items;\nDROP TABLE users;",
    );
    let checks = migration(
        "r2",
        &["r1"],
        "CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n\
         CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);\n\
         ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;\n\
         ALTER TABLE items ADD CONSTRAINT ck_items_qty CHECK (qty >= 0) NOT VALID;\n\
         COMMENT ON CONSTRAINT ck_items_qty ON items IS 'qvdiff: qty >= 0';\n\
         ALTER TABLE items VALIDATE CONSTRAINT ck_items_qty;\n\
         ALTER TABLE items ADD CONSTRAINT items_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n\
         ALTER TABLE items VALIDATE CONSTRAINT items_user_id_fkey;",
        "ALTER TABLE items DROP CONSTRAINT items_user_id_fkey;\n\
         ALTER TABLE items DROP CONSTRAINT ck_items_qty;\n\
         ALTER TABLE users DROP CONSTRAINT users_email_key;\n\
         DROP INDEX CONCURRENTLY ix_users_name;",
    );
    let mut db = open(&test_db);
    db.run(&up(&set(vec![base.clone()]), "head", &opts()))
        .unwrap();
    let migrations = set(vec![base.clone(), checks.clone()]);
    let mut session = Recording {
        client: &mut db.client,
        sent: Vec::new(),
    };
    let report =
        qvdiff_postgres::runner::run(&mut session, "db", &up(&migrations, "head", &opts()))
            .unwrap();
    assert_eq!(revisions(&report), ["r2"]);
    let counting: Vec<&String> = session
        .sent
        .iter()
        .filter(|sql| sql.contains("count(") || sql.contains("GROUP BY"))
        .collect();
    assert!(counting.is_empty(), "rows counted first: {counting:#?}");
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_constraint WHERE convalidated AND conname IN \
             ('users_email_key', 'ck_items_qty', 'items_user_id_fkey')"
        ),
        3
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indisvalid \
             AND indexrelid IN ('ix_users_name'::regclass, 'users_email_key'::regclass)"
        ),
        2
    );
    assert_eq!(
        tables(&mut db),
        [
            "items",
            "qvdiff_migrations",
            "qvdiff_migrations_progress",
            "users"
        ]
    );

    // A rename before the check has no inverse here: the rows are counted before the first
    // step, and the rename is not applied.
    let refused = migration(
        "r3",
        &["r2"],
        "ALTER TABLE users RENAME COLUMN name TO title;\n\
         ALTER TABLE items ADD CONSTRAINT ck_items_qty_small CHECK (qty < 7) NOT VALID;\n\
         ALTER TABLE items VALIDATE CONSTRAINT ck_items_qty_small;",
        "ALTER TABLE items DROP CONSTRAINT ck_items_qty_small;\n\
         ALTER TABLE users RENAME COLUMN title TO name;",
    );
    // Without it, the check runs at once and its refusal undoes the constraint added before
    // it; the progress table, there before the run, stays, without a row of this revision.
    let undone = migration(
        "r3",
        &["r2"],
        "ALTER TABLE items ADD CONSTRAINT ck_items_qty_small CHECK (qty < 7) NOT VALID;\n\
         ALTER TABLE items VALIDATE CONSTRAINT ck_items_qty_small;",
        "ALTER TABLE items DROP CONSTRAINT ck_items_qty_small;",
    );
    let mut session = Recording {
        client: &mut db.client,
        sent: Vec::new(),
    };
    let error = qvdiff_postgres::runner::run(
        &mut session,
        "db",
        &up(
            &set(vec![base.clone(), checks.clone(), undone]),
            "head",
            &opts(),
        ),
    )
    .unwrap_err();
    assert_mentions(
        &error.to_string(),
        &[
            "nothing was changed",
            "in statement: ALTER TABLE items ADD CONSTRAINT ck_items_qty_small",
        ],
    );
    assert!(
        session
            .sent
            .iter()
            .any(|sql| sql.contains("VALIDATE CONSTRAINT ck_items_qty_small")),
        "the check did not run: {:#?}",
        session.sent
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'ck_items_qty_small'"
        ),
        0
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );
    assert_eq!(ledger(&mut db), ["r1", "r2"]);

    let migrations = set(vec![base, checks, refused]);
    assert_refused(
        &mut db,
        &migrations,
        &["users", "items"],
        &[
            "of items break",
            "the check ck_items_qty_small",
            "nothing was changed",
            "in statement: ALTER TABLE items ADD CONSTRAINT ck_items_qty_small",
        ],
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'users' AND column_name = 'name'"
        ),
        1
    );
}

/// A refusal met after steps run step by step undoes only what this run created: an index
/// there before the run (its build skipped as done) stays; a unique build the undo cannot name
/// (`IF NOT EXISTS`) is counted before it runs, so no invalid index is left behind.
#[test]
fn a_refusal_undoes_only_what_this_run_created() {
    let (_test_db, mut db) = or_skip!(fresh("runner_undo_own"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n\
         CREATE INDEX ix_users_name ON users (name);\n\
         INSERT INTO users VALUES (1, 'a@x', 'ann'), (2, 'a@x', 'bo'), (3, NULL, 'cy');",
        "DROP TABLE users;",
    );
    db.run(&up(&set(vec![base.clone()]), "head", &opts()))
        .unwrap();

    // The index exists before the run: its build is skipped, and the refused VALIDATE after it
    // must not drop it.
    let existing = migration(
        "r2",
        &["r1"],
        "CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n\
         ALTER TABLE users ADD CONSTRAINT ck_users_id CHECK (id > 1) NOT VALID;\n\
         ALTER TABLE users VALIDATE CONSTRAINT ck_users_id;",
        "ALTER TABLE users DROP CONSTRAINT ck_users_id;",
    );
    assert_refused(
        &mut db,
        &set(vec![base.clone(), existing]),
        &["users"],
        &["the check ck_users_id", "nothing was changed"],
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indisvalid \
             AND indexrelid = 'ix_users_name'::regclass"
        ),
        1
    );

    // The unique build cannot be undone by name: its duplicates are counted before it runs,
    // and the constraint added before it is undone.
    let if_not_exists = migration(
        "r2",
        &["r1"],
        "ALTER TABLE users ADD CONSTRAINT ck_users_name CHECK (name <> '') NOT VALID;\n\
         CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_key ON users (email);",
        "DROP INDEX CONCURRENTLY users_email_key;\n\
         ALTER TABLE users DROP CONSTRAINT ck_users_name;",
    );
    assert_refused(
        &mut db,
        &set(vec![base.clone(), if_not_exists]),
        &["users"],
        &["nothing was changed", "users_email_key"],
    );
    assert!(!tables(&mut db).contains(&"qvdiff_migrations_progress".to_string()));
    assert_eq!(ledger(&mut db), ["r1"]);

    // When the undo itself fails (here a trigger refuses every drop), the message says so and
    // how to remove what stays by hand, instead of "nothing was changed".
    db.client
        .batch_execute(
            "CREATE FUNCTION no_drops() RETURNS event_trigger LANGUAGE plpgsql AS \
               $$ BEGIN RAISE EXCEPTION 'drops are refused here'; END $$;\n\
             CREATE EVENT TRIGGER no_drops ON sql_drop EXECUTE FUNCTION no_drops();",
        )
        .unwrap();
    let unique = migration(
        "r2",
        &["r1"],
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
        "DROP INDEX CONCURRENTLY users_email_key;",
    );
    let message = db
        .run(&up(&set(vec![base, unique]), "head", &opts()))
        .unwrap_err()
        .to_string();
    db.client
        .batch_execute("DROP EVENT TRIGGER no_drops")
        .unwrap();
    assert_mentions(
        &message,
        &[
            "undoing what this run did failed",
            "qvdiff_migrations_progress",
            "drops are refused here",
            "DROP INDEX IF EXISTS users_email_key",
        ],
    );
    assert!(!message.contains("nothing was changed"), "{message}");
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE NOT indisvalid \
             AND indexrelid = 'users_email_key'::regclass"
        ),
        1
    );
}

/// A batched backfill that gives up waiting for a row lock half way: the message says which
/// batches committed and stay, the progress table records the key the last one reached (a
/// progress table from before that column gets it), and both the retry within the run and the
/// next run continue after that key instead of walking the filled keys again.
#[test]
fn a_stopped_batched_backfill_continues_after_its_last_committed_batch() {
    let (test_db, mut db) = or_skip!(fresh("runner_batch_resume"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE orders (id bigint PRIMARY KEY, shipped boolean);\n\
         INSERT INTO orders SELECT g, NULL FROM generate_series(1, 1000) g;",
        "DROP TABLE orders;",
    );
    let backfill = migration(
        "r2",
        &["r1"],
        "-- qvdiff:batch 100\nUPDATE orders SET shipped = false WHERE shipped IS NULL;",
        "UPDATE orders SET shipped = NULL;",
    );
    let migrations = set(vec![base, backfill]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    // The progress table as a version without `last_key` created it.
    db.client
        .batch_execute(
            "CREATE TABLE qvdiff_migrations_progress (revision text NOT NULL, \
             direction text NOT NULL, checksum text NOT NULL, statement integer NOT NULL, \
             PRIMARY KEY (revision, direction, statement))",
        )
        .unwrap();

    let reports = Arc::new(Mutex::new(Vec::new()));
    let heard = Arc::clone(&reports);
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(300),
            retries: 1,
        },
        batch_progress: Some(Arc::new(
            move |report: &qvdiff_core::backend::BatchProgress| {
                heard.lock().unwrap().push(report.clone());
            },
        )),
        ..opts()
    };
    let mut holder = test_db.connect();
    holder
        .batch_execute("BEGIN; SELECT id FROM orders WHERE id = 550 FOR UPDATE")
        .unwrap();
    let error = db.run(&up(&migrations, "head", &options)).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, RunError::Dialect(PgRunFailure::LockTimeout { batches: Some(b), attempts: 2, .. })
            if b.batches == 5 && b.changed == 500 && b.last_key == "'500'"),
        "{error:?}"
    );
    assert_mentions(
        &message,
        &[
            "committed 5 batches (500 rows changed, up to key '500')",
            "they stay",
            "running `qvdiff upgrade` again continues after key '500'",
        ],
    );
    assert!(!message.contains("nothing was applied"), "{message}");
    // The retry continued after key 500: five batches in all, not five and five again.
    assert_eq!(reports.lock().unwrap().len(), 5);

    // Still held: a run that commits no batch says the earlier run's batches stay.
    let again = db
        .run(&up(&migrations, "head", &options))
        .unwrap_err()
        .to_string();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_mentions(
        &again,
        &[
            "committed no batch in this run; the batches an earlier run committed, up to key \
             '500', stay",
            "continues after key '500'",
        ],
    );
    assert!(!again.contains("nothing was applied"), "{again}");
    assert_eq!(reports.lock().unwrap().len(), 5);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM orders WHERE shipped IS NOT NULL"
        ),
        500
    );
    let recorded: Option<String> = db
        .client
        .query_one(
            "SELECT last_key FROM qvdiff_migrations_progress \
             WHERE revision = 'r2' AND last_key IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(recorded.as_deref(), Some("'500'"));
    // A version from before `last_key` reads the statements done as the numbers from 0 of the
    // section's rows, and counts those for `current`: the backfill under way is none of them,
    // so such a version runs it again rather than skip its other half.
    let old_done: Vec<usize> = db
        .client
        .query(
            "SELECT statement::text, checksum FROM \"qvdiff_migrations_progress\" \
             WHERE revision = 'r2' AND direction = 'up' ORDER BY statement",
            &[],
        )
        .unwrap()
        .iter()
        .filter_map(|row| row.get::<_, String>(0).parse().ok())
        .collect();
    assert_eq!(old_done, Vec::<usize>::new());
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FILTER (WHERE statement >= 0) FROM \"qvdiff_migrations_progress\" \
             WHERE revision = 'r2'"
        ),
        0
    );
    // Under way is not done: `current` counts no statement of r2 as done.
    let half = Backend::half_done(&mut db).unwrap();
    assert_eq!(half.len(), 1);
    assert_eq!(half[0].statements_done, 0);

    reports.lock().unwrap().clear();
    db.run(&up(&migrations, "head", &options)).unwrap();
    let heard = reports.lock().unwrap().clone();
    // Five batches from key 500 and the closing report: the keys filled before were not
    // walked again (from the first key, ten batches would have gone past 1000 keys).
    assert_eq!(heard.len(), 6, "{heard:?}");
    let last = heard.last().unwrap();
    assert!(last.done);
    assert_eq!((last.walked, last.changed), (500, 500));
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM orders WHERE shipped IS NULL"),
        0
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM orders WHERE NOT shipped"),
        1000
    );
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );
}

/// Whether an index of a run is its own is decided when its build step runs: an index that
/// another session built after the run began (here while the run's first build waits for an
/// older transaction) is found there by its step, and the undo of a refusal later in the
/// revision removes what this run built and leaves that index in place.
#[test]
fn an_index_built_by_another_session_during_the_run_is_not_undone() {
    let (test_db, mut db) = or_skip!(fresh("runner_undo_window"));
    let base = migration(
        "r1",
        &[],
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n\
         CREATE TABLE other (x integer);\n\
         INSERT INTO users VALUES (1, 'ann'), (2, 'bo');",
        "DROP TABLE users; DROP TABLE other;",
    );
    let revision = migration(
        "r2",
        &["r1"],
        "CREATE INDEX CONCURRENTLY ix_other_x ON other (x);\n\
         CREATE INDEX CONCURRENTLY ix_users_name ON users (name);\n\
         ALTER TABLE users ADD CONSTRAINT ck_users_id CHECK (id > 1) NOT VALID;\n\
         ALTER TABLE users VALIDATE CONSTRAINT ck_users_id;",
        "ALTER TABLE users DROP CONSTRAINT ck_users_id;\n\
         DROP INDEX CONCURRENTLY ix_users_name;\nDROP INDEX CONCURRENTLY ix_other_x;",
    );
    let migrations = set(vec![base, revision]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();

    // An open snapshot: the first concurrent build waits for it to end.
    let mut holder = test_db.connect();
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM users")
        .unwrap();
    let url = test_db.url.clone();
    let run = std::thread::spawn(move || {
        let mut db = PostgresDatabase::open(&url).unwrap();
        db.run(&up(&migrations, "head", &opts())).unwrap_err()
    });
    let mut other = test_db.connect();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type IS NOT NULL \
                   AND wait_event_type <> 'Client' AND query LIKE 'CREATE INDEX CONCURRENTLY ix_other_x%'";
    let started = Instant::now();
    while other.query_one(waiting, &[]).unwrap().get::<_, i64>(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the first build never waited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    other
        .batch_execute("CREATE INDEX ix_users_name ON users (name)")
        .unwrap();
    holder.batch_execute("COMMIT").unwrap();
    let error = run.join().unwrap();
    assert!(
        matches!(error, RunError::Data { .. }),
        "not the refusal of the VALIDATE: {error}"
    );
    assert_mentions(&error.to_string(), &["ck_users_id", "nothing was changed"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indisvalid \
             AND indexrelid = 'ix_users_name'::regclass"
        ),
        1
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_class WHERE relname = 'ix_other_x'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'ck_users_id'"
        ),
        0
    );
    assert_eq!(ledger(&mut db), ["r1"]);
}

/// The progress table is created, or given `last_key`, once per run before the first step: the
/// steps only write its rows. A deploying role granted those rights on a progress table it does
/// not own runs a revision step by step (a concurrent build, a batched backfill), and a session
/// reading the table (an open transaction that selected from it) holds up no step.
#[test]
fn steps_only_write_the_rows_of_a_progress_table_another_role_owns() {
    let test_db = or_skip!(TestDatabase::create("runner_progress_rights"));
    let role = format!("qvdiff_deployer_{}", std::process::id());
    let mut owner = test_db.connect();
    owner
        .batch_execute(&format!(
            "CREATE ROLE \"{role}\" LOGIN; \
             GRANT ALL ON SCHEMA public TO \"{role}\"; \
             CREATE TABLE qvdiff_migrations_progress (revision text NOT NULL, \
             direction text NOT NULL, checksum text NOT NULL, statement integer NOT NULL, \
             last_key text, PRIMARY KEY (revision, direction, statement)); \
             GRANT SELECT, INSERT, UPDATE, DELETE ON qvdiff_migrations_progress TO \"{role}\""
        ))
        .unwrap();
    struct DropRole(postgres::Client, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            let _ = self.0.batch_execute(&format!(
                "DROP OWNED BY \"{0}\"; DROP ROLE IF EXISTS \"{0}\"",
                self.1
            ));
        }
    }
    let mut owner = DropRole(owner, role.clone());
    let start = test_db.url.find("://").unwrap() + 3;
    let at = start + test_db.url[start..].find('@').unwrap();
    let url = format!("{}{role}{}", &test_db.url[..start], &test_db.url[at..]);
    let mut db = PostgresDatabase::open(&url).unwrap();
    // From before `last_key`, the table cannot get the column from this role: refused before
    // the first step, saying who can add it.
    owner
        .0
        .batch_execute("ALTER TABLE qvdiff_migrations_progress DROP COLUMN last_key")
        .unwrap();
    let ahead = set(vec![migration(
        "r1",
        &[],
        "CREATE TABLE early (id bigint PRIMARY KEY);\n\
         CREATE INDEX CONCURRENTLY ix_early ON early (id);",
        "DROP TABLE early;",
    )]);
    let refused = db
        .run(&up(&ahead, "head", &opts()))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &refused,
        &[
            "adding the column last_key",
            "no step of the revision ran",
            "the table's owner can add it: ALTER TABLE \"qvdiff_migrations_progress\" ADD COLUMN",
            "must be owner of table qvdiff_migrations_progress",
        ],
    );
    assert!(!tables(&mut db).contains(&"early".to_string()), "{refused}");
    owner
        .0
        .batch_execute("ALTER TABLE qvdiff_migrations_progress ADD COLUMN last_key text")
        .unwrap();
    let migrations = set(vec![
        migration(
            "r1",
            &[],
            "CREATE TABLE items (id bigint PRIMARY KEY, title text NOT NULL);\n\
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g;",
            "DROP TABLE items;",
        ),
        migration(
            "r2",
            &["r1"],
            "CREATE INDEX CONCURRENTLY ix_items_title ON items (title);\n\
             -- qvdiff:batch 2\n\
             UPDATE items SET title = upper(title);",
            "DROP INDEX CONCURRENTLY ix_items_title;",
        ),
    ]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let mut reader = test_db.connect();
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM qvdiff_migrations_progress")
        .unwrap();
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(300),
            retries: 0,
        },
        ..opts()
    };
    let report = db.run(&up(&migrations, "head", &options));
    reader.batch_execute("ROLLBACK").unwrap();
    assert_eq!(revisions(&report.unwrap()), ["r2"]);
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM items WHERE title = 'ITEM ' || id"
        ),
        5
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM pg_index WHERE indexrelid = 'ix_items_title'::regclass \
             AND indisvalid"
        ),
        1
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM qvdiff_migrations_progress"),
        0
    );
}

/// A batched backfill over a composite key of a date and a text continues after the key its
/// last batch reached, whatever `DateStyle` the sessions of the stopped run and of the next one
/// had: the key is written and read in ISO (`'05/03/2024'` under `SQL, DMY` would be read as
/// May 3rd under `ISO, MDY`, and the keys of two months skipped).
#[test]
fn a_stopped_backfill_over_a_date_and_text_key_continues_under_another_date_style() {
    let (test_db, mut db) = or_skip!(fresh("runner_batch_date_key"));
    let migrations = set(vec![
        migration(
            "r1",
            &[],
            "CREATE TABLE sales (day date, shop text, hits integer NOT NULL DEFAULT 0, \
             PRIMARY KEY (day, shop));\n\
             INSERT INTO sales SELECT date '2024-02-25' + g, s \
             FROM generate_series(0, 49) g, unnest(ARRAY['a', 'b']) s;\n\
             ANALYZE sales;",
            "DROP TABLE sales;",
        ),
        migration(
            "r2",
            &["r1"],
            "-- qvdiff:batch 10\nUPDATE sales SET hits = hits + 1;",
            "UPDATE sales SET hits = hits - 1;",
        ),
    ]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let heard = Arc::clone(&reports);
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(300),
            retries: 0,
        },
        batch_progress: Some(Arc::new(
            move |report: &qvdiff_core::backend::BatchProgress| {
                heard.lock().unwrap().push(report.clone());
            },
        )),
        ..opts()
    };
    db.client
        .batch_execute("SET DateStyle = 'SQL, DMY'")
        .unwrap();
    let mut holder = test_db.connect();
    holder
        .batch_execute(
            "BEGIN; SELECT * FROM sales WHERE day = '2024-03-08' AND shop = 'a' FOR UPDATE",
        )
        .unwrap();
    let error = db.run(&up(&migrations, "head", &options)).unwrap_err();
    holder.batch_execute("ROLLBACK").unwrap();
    // The statement has no WHERE: the message does not say one keeps the rows from a second
    // change; the next run continuing after the key does.
    let message = error.to_string();
    assert_mentions(
        &message,
        &["running `qvdiff upgrade` again continues after key '2024-03-05', 'b'"],
    );
    assert!(
        !message.contains("match the statement's WHERE"),
        "{message}"
    );
    // Two batches of five days each committed: up to March 5th, shop b.
    assert!(
        matches!(&error, RunError::Dialect(PgRunFailure::LockTimeout { batches: Some(b), .. })
            if b.batches == 2 && b.last_key == "'2024-03-05', 'b'"),
        "{error:?}"
    );
    assert_eq!(
        db.client
            .query_one("SELECT current_setting('DateStyle')", &[])
            .unwrap()
            .get::<_, String>(0),
        "SQL, DMY"
    );
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM sales WHERE hits = 1"),
        20
    );

    db.client
        .batch_execute("SET DateStyle = 'ISO, MDY'")
        .unwrap();
    let first_run = std::mem::take(&mut *reports.lock().unwrap());
    assert_eq!(first_run.len(), 2, "{first_run:?}");
    assert_eq!(first_run[1].estimate, Some(100));
    db.run(&up(&migrations, "head", &options)).unwrap();
    // The continuing run counts from the key reached, against the rows after it (80 of the
    // 100, as the planner estimates them): it ends near all of them, not at a fifth.
    let heard = reports.lock().unwrap().clone();
    let last = heard.last().unwrap();
    assert!(last.done);
    assert_eq!((last.walked, last.changed), (80, 80));
    let estimate = last.estimate.unwrap();
    assert!((60..100).contains(&estimate), "{heard:?}");
    // Each row changed once: none skipped, none of the first run's changed again.
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM sales WHERE hits = 1"),
        100
    );
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
}

/// When recording a batched statement as done waits out `lock_timeout` after its last batch
/// (here a session holds the row of its batches under way), the attempt again records it
/// without vacuuming the whole table a second time.
#[test]
fn a_retried_record_after_the_last_batch_vacuums_the_table_once() {
    let (test_db, mut db) = or_skip!(fresh("runner_batch_vacuum_once"));
    let migrations = set(vec![
        migration(
            "r1",
            &[],
            "CREATE TABLE tallies (id bigint PRIMARY KEY, n integer NOT NULL);\n\
             INSERT INTO tallies SELECT g, 0 FROM generate_series(1, 4) g;",
            "DROP TABLE tallies;",
        ),
        migration(
            "r2",
            &["r1"],
            "-- qvdiff:batch 2\nUPDATE tallies SET n = n + 1;",
            "UPDATE tallies SET n = n - 1;",
        ),
    ]);
    db.run(&up(&migrations, "r1", &opts())).unwrap();
    let holder = Mutex::new(Some(test_db.connect()));
    let options = RunOptions {
        lock_retry: qvdiff_core::backend::LockRetry {
            timeout: Duration::from_millis(300),
            retries: 3,
        },
        batch_progress: Some(Arc::new(
            move |report: &qvdiff_core::backend::BatchProgress| {
                if report.walked < 4 || report.done {
                    return;
                }
                // After the last batch: the row of the batches under way is held for a while.
                let Some(mut holder) = holder.lock().unwrap().take() else {
                    return;
                };
                holder
                    .batch_execute(
                        "BEGIN; SELECT * FROM qvdiff_migrations_progress \
                         WHERE revision = 'r2' FOR UPDATE",
                    )
                    .unwrap();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(600));
                    holder.batch_execute("ROLLBACK").unwrap();
                });
            },
        )),
        ..opts()
    };
    db.run(&up(&migrations, "head", &options)).unwrap();
    assert_eq!(ledger(&mut db), ["r1", "r2"]);
    assert_eq!(
        count(&mut db, "SELECT count(*) FROM tallies WHERE n = 1"),
        4
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'tallies'"
        ),
        1
    );
}
