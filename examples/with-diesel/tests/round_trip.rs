//! The example app, run as it starts, twice, on a real SQLite file: qvdiff's migrations, the
//! models check, and a task of every column kind written and read back with Diesel.

#[test]
fn migrations_by_qvdiff_queries_by_diesel() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("app.db");
    let first = with_diesel::run(&path).unwrap_or_else(|e| panic!("first start: {e}"));
    assert!(first.iter().any(|l| l.starts_with("applied ")), "{first:?}");
    assert!(
        first.contains(&"round trip of task 1 ok".to_string()),
        "{first:?}"
    );
    let second = with_diesel::run(&path).unwrap_or_else(|e| panic!("second start: {e}"));
    assert_eq!(
        second,
        [
            "the database matches the models".to_string(),
            "round trip of task 1 ok".to_string()
        ]
    );
}
