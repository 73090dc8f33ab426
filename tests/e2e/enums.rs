//! Enums with the real binary: `check` reports a variant added, `migrate` plans it, and removing
//! a variant that rows still hold is refused at `upgrade` with the count and example keys, the
//! database left as it was — on a SQLite file and on the real PostgreSQL server.

use super::support::Project;
use qvdiff_postgres::testing::TestDatabase;
use rusqlite::Connection;

const WITH_BLOCKED: &str = r#"
use qvdiff::{Enum, Model};

#[derive(Enum)]
#[enum_type(name = "task_status")]
pub enum Status {
    Todo,
    Blocked,
    Done,
}

#[derive(Model)]
#[model(table = "tasks")]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "todo")]
    pub status: Status,
    pub previous: Option<Status>,
}
"#;

fn without_blocked() -> String {
    WITH_BLOCKED.replace("    Blocked,\n", "")
}

fn with_review() -> String {
    WITH_BLOCKED.replace("    Done,\n", "    Done,\n    InReview,\n")
}

const ROWS: &str = "INSERT INTO tasks (id, status, previous) VALUES \
     (1, 'todo', NULL), (2, 'blocked', 'todo'), (3, 'done', 'blocked'), (4, 'blocked', NULL);";

/// `check` names the variant added; `migrate` then plans it and `check` passes.
fn check_reports_the_added_variant(p: &Project) {
    p.write("src/models.rs", &with_review());
    let run = p.qvdiff(&["check"]).expect_code(1);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("add 'in_review'"), "{said}");
    p.qvdiff(&["migrate", "-m", "in review", "--rev-id", "r3"])
        .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);
}

#[test]
fn sqlite_refuses_removing_a_variant_rows_hold_and_check_reports_an_added_one() {
    let p = Project::with_models(&[("src/models.rs", WITH_BLOCKED)]);
    p.qvdiff(&["migrate", "-m", "tasks", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch(ROWS)
        .unwrap();
    // The CHECK refuses a value that is no variant.
    let refused = Connection::open(p.path("app.db"))
        .unwrap()
        .execute("INSERT INTO tasks (id, status) VALUES (9, 'later')", []);
    assert!(refused.is_err(), "{refused:?}");

    p.write("src/models.rs", &without_blocked());
    p.qvdiff(&["migrate", "-m", "no blocked", "--rev-id", "r2"])
        .expect_code(0);
    let before = std::fs::read(p.path("app.db")).unwrap();
    let run = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(
        run.stderr.contains(
            "3 rows of tasks hold values of status that enum task_status no longer has ('blocked')"
        ) || run.stderr.contains("2 rows of tasks hold values of status"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ids 2, 4"), "{}", run.stderr);
    assert_eq!(std::fs::read(p.path("app.db")).unwrap(), before);

    // Once no row holds it, the removal goes through; the rows keep their values.
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch("UPDATE tasks SET status = 'todo' WHERE status = 'blocked'; UPDATE tasks SET previous = NULL WHERE previous = 'blocked';")
        .unwrap();
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
    p.write("src/models.rs", &without_blocked());
    check_reports_the_added_variant(&p);
}

const PG_CONFIG: &str = "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n";

#[test]
fn postgres_refuses_removing_a_variant_rows_hold_and_check_reports_an_added_one() {
    let Some(db) = TestDatabase::create("enum_refusal") else {
        return;
    };
    let url = db.url.as_str();
    let p = Project::empty();
    p.write("qvdiff.toml", PG_CONFIG);
    p.write("src/models.rs", WITH_BLOCKED);
    let first = p
        .qvdiff(&["migrate", "-m", "tasks", "--rev-id", "r1"])
        .expect_code(0);
    let file = p.read("migrations/r1_tasks.sql");
    assert!(
        file.contains("CREATE TYPE \"task_status\" AS ENUM ('todo', 'blocked', 'done');"),
        "{file}\n{first:?}"
    );
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    let mut client = db.connect();
    client.batch_execute(ROWS).unwrap();
    assert!(client
        .batch_execute("INSERT INTO tasks (id, status) VALUES (9, 'later')")
        .is_err());

    p.write("src/models.rs", &without_blocked());
    p.qvdiff(&["migrate", "-m", "no blocked", "--rev-id", "r2"])
        .expect_code(0);
    let run = p.qvdiff(&["upgrade", "--db", url]).expect_code(2);
    // Refused before the swap: the rows holding a removed value, counted, with their keys.
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "2 rows of tasks hold values of status that enum task_status no longer has \
             ('blocked')"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ids 2, 4"), "{}", run.stderr);
    let statuses: Vec<String> = client
        .query("SELECT status::text FROM tasks ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["todo", "blocked", "done", "blocked"]);

    client
        .batch_execute("UPDATE tasks SET status = 'todo' WHERE status = 'blocked'; UPDATE tasks SET previous = NULL WHERE previous = 'blocked';")
        .unwrap();
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    let labels: Vec<String> = client
        .query(
            "SELECT enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
             WHERE t.typname = 'task_status' ORDER BY e.enumsortorder",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(labels, ["todo", "done"]);
    check_reports_the_added_variant(&p);
}

/// Every `Condition` of the example app written and read back with its Rust type, through
/// rusqlite on the SQLite file and the `postgres` crate on the server, into the column the
/// example's histories create; a value that is no variant is refused by both.
#[test]
fn the_example_apps_enum_round_trips_through_rusqlite_and_postgres() {
    use inventory::Condition;
    let all = [Condition::New, Condition::Used, Condition::Refurbished];
    let p = super::support::example_app();
    p.qvdiff(&["upgrade", "--db", "sqlite://rt.db", "--no-backup"])
        .expect_code(0);
    let conn = Connection::open(p.path("rt.db")).unwrap();
    conn.execute(
        "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        [],
    )
    .unwrap();
    for (id, condition) in all.iter().enumerate() {
        conn.execute(
            "INSERT INTO items (id, user_id, title, sku, cost, price, condition) \
             VALUES (?1, 1, 't', ?2, 1.0, 2.0, ?3)",
            rusqlite::params![id as i64 + 1, format!("SKU-{id}"), condition.to_string()],
        )
        .unwrap();
    }
    let mut read = conn
        .prepare("SELECT condition FROM items ORDER BY id")
        .unwrap();
    let back: Vec<Condition> = read
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|text| text.unwrap().parse().unwrap())
        .collect();
    assert_eq!(back, all);
    assert!(conn
        .execute("UPDATE items SET condition = 'broken' WHERE id = 1", [])
        .is_err());

    let Some(db) = TestDatabase::create("enum_round_trip") else {
        return;
    };
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let mut client = db.connect();
    client
        .batch_execute(
            "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        )
        .unwrap();
    for (id, condition) in all.iter().enumerate() {
        client
            .execute(
                "INSERT INTO items (id, user_id, title, sku, cost, price, condition) \
                 VALUES ($1, 1, 't', $2, 1.0, 2.0, $3::text::item_condition)",
                &[
                    &(id as i64 + 1),
                    &format!("SKU-{id}"),
                    &condition.to_string(),
                ],
            )
            .unwrap();
    }
    let back: Vec<Condition> = client
        .query("SELECT condition::text FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| row.get::<_, String>(0).parse().unwrap())
        .collect();
    assert_eq!(back, all);
    assert!(client
        .batch_execute("UPDATE items SET condition = 'broken' WHERE id = 1")
        .is_err());
    // The type is PostgreSQL's native enum, in declaration order.
    let labels: Vec<String> = client
        .query("SELECT unnest(enum_range(NULL::item_condition))::text", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(labels, ["new", "used", "refurbished"]);
}
