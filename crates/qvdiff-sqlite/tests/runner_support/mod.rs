//! Helpers shared by the runner tests: migrations from SQL text (the histories PostgreSQL's
//! runner suite builds too), real database files.

// Each test binary uses some of these.
#![allow(dead_code, unused_imports)]

use rusqlite::Connection;
use std::path::{Path, PathBuf};

#[path = "../../../../fixtures/runner/history.rs"]
mod history;
pub use history::{chain, down, migration, set, target, up};

/// A fresh database file in a new temp dir (kept alive by the returned guard).
pub fn database() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    (dir, path)
}

pub fn open(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

pub fn ledger_revisions(conn: &Connection) -> Vec<String> {
    qvdiff_sqlite::runner::applied(conn)
        .unwrap()
        .into_iter()
        .map(|row| row.revision)
        .collect()
}

pub fn tables(conn: &Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}
