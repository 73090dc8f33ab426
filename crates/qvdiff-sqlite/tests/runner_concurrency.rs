//! Eight concurrent upgrades of one database file apply every revision exactly once.

mod runner_support;

use qvdiff_sqlite::runner::{run, RunOptions};
use runner_support::*;
use std::sync::{Arc, Barrier};

#[test]
fn eight_concurrent_upgrades_apply_each_revision_once() {
    let (_dir, path) = database();
    let migrations = Arc::new(set(chain(&[
        (
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, revision TEXT NOT NULL);\n\
             INSERT INTO runs (revision) VALUES ('r1');",
            "DROP TABLE runs;",
        ),
        (
            "CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT);\n\
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)\n\
             INSERT INTO big (v) SELECT hex(randomblob(32)) FROM n;\n\
             INSERT INTO runs (revision) VALUES ('r2');",
            "DROP TABLE big;",
        ),
        (
            "INSERT INTO runs (revision) VALUES ('r3');",
            "DELETE FROM runs WHERE revision = 'r3';",
        ),
    ])));
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let migrations = migrations.clone();
            let barrier = barrier.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let mut conn =
                    qvdiff_sqlite::runner::open_database(&path, true).map_err(|e| e.to_string())?;
                barrier.wait();
                run(&mut conn, &up(&migrations, "head", &RunOptions::default()))
                    .map(|report| report.steps.len())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut applied_by_thread = Vec::new();
    for handle in handles {
        match handle.join().unwrap() {
            Ok(n) => applied_by_thread.push(n),
            Err(message) => panic!("an upgrade failed: {message}"),
        }
    }
    assert_eq!(
        applied_by_thread.iter().sum::<usize>(),
        3,
        "{applied_by_thread:?}"
    );
    let conn = open(&path);
    assert_eq!(ledger_revisions(&conn), ["r1", "r2", "r3"]);
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 3);
    assert_eq!(count(&conn, "SELECT count(*) FROM big"), 2000);
}
