//! Helpers shared by the runner tests: migrations from SQL text, real database files.

#![allow(dead_code)]

use qvdiff_core::runner::{Migration, Migrations};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// A migration `rev` with `parents`, as if read from `migrations/<rev>_m.sql`.
pub fn migration(rev: &str, parents: &[&str], up: &str, down: &str) -> Migration {
    let (message, path) = (format!("revision {rev}"), format!("migrations/{rev}_m.sql"));
    Migration::from_sections(rev, parents, &message, up, down, path)
}

pub fn set(list: Vec<Migration>) -> Migrations {
    Migrations::new(list).unwrap()
}

/// Revisions `r1`, `r2`, … from `(up, down)` pairs, each the child of the one before.
pub fn chain(steps: &[(&str, &str)]) -> Vec<Migration> {
    let mut list: Vec<Migration> = Vec::new();
    for (i, (up, down)) in steps.iter().enumerate() {
        let parent = format!("r{i}");
        let parents: &[&str] = if i == 0 { &[] } else { &[&parent] };
        list.push(migration(&format!("r{}", i + 1), parents, up, down));
    }
    list
}

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
