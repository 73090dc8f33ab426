//! The example app, run as it starts: migrations through its own sqlx pool, the models check,
//! and a task of every column kind written and read back — on a SQLite file and on the real
//! PostgreSQL server (`.ci/postgres`).

use qvdiff_postgres::testing::TestDatabase;

fn run(url: &str) -> Vec<String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(with_sqlx::run(url))
        .unwrap_or_else(|e| panic!("the app failed on {url}: {e}"))
}

fn check_runs(first: Vec<String>, second: Vec<String>) {
    assert!(
        first.iter().filter(|l| l.starts_with("applied ")).count() >= 1,
        "{first:?}"
    );
    assert!(
        first.contains(&"round trip of task 1 ok".to_string()),
        "{first:?}"
    );
    // A second start finds nothing to apply and reads the same row back.
    assert_eq!(
        second,
        [
            "the database matches the models".to_string(),
            "round trip of task 1 ok".to_string()
        ]
    );
}

#[test]
fn sqlite_file_through_the_sqlx_pool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    check_runs(run(&url), run(&url));
}

#[test]
fn postgres_through_the_sqlx_pool() {
    let Some(database) = TestDatabase::create("with_sqlx") else {
        return;
    };
    check_runs(run(&database.url), run(&database.url));
}
