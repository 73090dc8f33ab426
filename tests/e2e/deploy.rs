//! The deploy workflow with the real binary: upgrade (backups, all or nothing, refusals,
//! concurrency), downgrade, current, history, heads, merge, stamp, sql, backups, restore.

use super::support::Project;
use rusqlite::Connection;
use std::path::Path;

const V1: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub title: String,
}
"#;

fn v2() -> String {
    V1.replace(
        "pub title: String,",
        "pub title: String,\n    pub notes: Option<String>,",
    )
}

fn v3() -> String {
    v2().replace(
        "pub notes: Option<String>,",
        "pub notes: Option<String>,\n    #[column(default = 1)]\n    pub qty: i64,",
    )
}

/// Three revisions r1, r2, r3 (v1, v2, v3), nothing applied.
fn three_revisions() -> Project {
    let p = Project::with_models(&[("src/models.rs", V1)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.write("src/models.rs", &v2());
    p.qvdiff(&["migrate", "-m", "notes", "--rev-id", "r2"])
        .expect_code(0);
    p.write("src/models.rs", &v3());
    p.qvdiff(&["migrate", "-m", "qty", "--rev-id", "r3"])
        .expect_code(0);
    p
}

fn ledger(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'qvdiff_migrations'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if exists == 0 {
        return Vec::new();
    }
    let mut stmt = conn
        .prepare("SELECT revision FROM qvdiff_migrations ORDER BY revision")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn columns(db: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn upgrade_creates_the_database_and_applies_everything_in_order() {
    let p = three_revisions();
    // Before the first upgrade `current` is at base, and says the file is missing: a path with
    // a typo would otherwise look like a database that was never migrated.
    let before = p.qvdiff(&["current"]).expect_code(0);
    assert_eq!(before.stdout, "base\n");
    assert!(
        before
            .stderr
            .contains("database app.db does not exist yet (`qvdiff upgrade` creates it)"),
        "{}",
        before.stderr
    );
    assert!(!p.path("app.db").exists());
    let run = p.qvdiff(&["upgrade"]).expect_code(0);
    assert!(run.stderr.contains("Applied r1"), "{}", run.stderr);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2", "r3"]);
    assert_eq!(
        columns(&p.path("app.db"), "items"),
        ["id", "title", "notes", "qty"]
    );
    let again = p.qvdiff(&["upgrade"]).expect_code(0);
    assert!(
        again.stderr.contains("Already up to date"),
        "{}",
        again.stderr
    );
    let current = p.qvdiff(&["current"]).expect_code(0);
    assert!(current.stdout.starts_with("r3  qty"), "{}", current.stdout);
    assert!(
        !current.stderr.contains("does not exist"),
        "{}",
        current.stderr
    );
}

#[test]
fn upgrade_backs_up_first_with_private_permissions_and_restore_brings_it_back() {
    use std::os::unix::fs::PermissionsExt;
    let p = three_revisions();
    p.qvdiff(&["upgrade", "r1"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("INSERT INTO items VALUES (1, 'lamp'), (2, 'desk');")
        .unwrap();
    drop(conn);

    let run = p.qvdiff(&["upgrade"]).expect_code(0);
    assert!(
        run.stderr
            .contains("Backed up the database to backups/app.db."),
        "{}",
        run.stderr
    );
    let backups: Vec<_> = std::fs::read_dir(p.path("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = backups[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("app.db.") && name.ends_with(".r1.bak"),
        "{name}"
    );
    assert_eq!(
        std::fs::metadata(&backups[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(p.path("backups"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // The backup is the database as it was: at r1, with both rows.
    assert_eq!(ledger(&backups[0]), ["r1"]);
    assert_eq!(count(&backups[0], "SELECT count(*) FROM items"), 2);

    let listed = p.qvdiff(&["backups"]).expect_code(0);
    assert!(listed.stdout.contains(&name), "{}", listed.stdout);

    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("DELETE FROM items;").unwrap();
    drop(conn);
    p.qvdiff(&["restore", "latest"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1"]);
    assert_eq!(count(&p.path("app.db"), "SELECT count(*) FROM items"), 2);
}

#[test]
fn a_failing_revision_rolls_back_every_revision_of_the_run() {
    let p = three_revisions();
    p.qvdiff(&["upgrade", "r1", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("INSERT INTO items VALUES (1, 'lamp');")
        .unwrap();
    drop(conn);
    // r3 gets a hand-written statement that fails; r2 before it must not stay applied.
    let r3 = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("r3_"))
        .unwrap();
    let text = std::fs::read_to_string(&r3).unwrap();
    std::fs::write(
        &r3,
        text.replace(
            "-- qvdiff:down",
            "INSERT INTO no_such_table VALUES (1);\n-- qvdiff:down",
        ),
    )
    .unwrap();
    let db_before = std::fs::read(p.path("app.db")).unwrap();

    let run = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(run.stderr.contains("revision r3"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was applied"), "{}", run.stderr);
    assert_eq!(ledger(&p.path("app.db")), ["r1"]);
    assert_eq!(columns(&p.path("app.db"), "items"), ["id", "title"]);
    assert_eq!(
        std::fs::read(p.path("app.db")).unwrap(),
        db_before,
        "byte-identical after the refusal"
    );
}

#[test]
fn an_edited_applied_file_is_refused() {
    let p = three_revisions();
    p.qvdiff(&["upgrade", "r2", "--no-backup"]).expect_code(0);
    let r1 = p.path("migrations/r1_items.sql");
    let text = std::fs::read_to_string(&r1).unwrap();
    std::fs::write(
        &r1,
        text.replace("-- message: items", "-- message: items, edited"),
    )
    .unwrap();
    let db_before = std::fs::read(p.path("app.db")).unwrap();
    let run = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(run.stderr.contains("r1"), "{}", run.stderr);
    assert!(run.stderr.contains("edited"), "{}", run.stderr);
    assert_eq!(std::fs::read(p.path("app.db")).unwrap(), db_before);
}

#[test]
fn downgrade_one_step_to_a_revision_and_to_base() {
    let p = three_revisions();
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO items (id, title, notes) VALUES (1, 'lamp', 'n1'), (2, 'desk', NULL);",
    )
    .unwrap();
    drop(conn);
    p.qvdiff(&["downgrade", "--no-backup"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2"]);
    assert_eq!(
        columns(&p.path("app.db"), "items"),
        ["id", "title", "notes"]
    );
    p.qvdiff(&["downgrade", "r1", "--no-backup"]).expect_code(0);
    assert_eq!(
        ledger(&p.path("app.db")),
        ["r1"],
        "downgrade TARGET leaves TARGET applied"
    );
    assert_eq!(count(&p.path("app.db"), "SELECT count(*) FROM items"), 2);
    p.qvdiff(&["downgrade", "base", "--no-backup"])
        .expect_code(0);
    assert!(ledger(&p.path("app.db")).is_empty());
    assert_eq!(
        count(
            &p.path("app.db"),
            "SELECT count(*) FROM sqlite_master WHERE name = 'items'"
        ),
        0
    );
}

#[test]
fn check_with_db_reports_pending_revisions_and_drift() {
    let p = three_revisions();
    p.qvdiff(&["upgrade", "r2", "--no-backup"]).expect_code(0);
    let pending = p.qvdiff(&["check", "--db", "app.db"]).expect_code(1);
    assert!(
        pending.stdout.contains("1 pending revision: r3"),
        "{}",
        pending.stdout
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p.qvdiff(&["check", "--db", "app.db"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("CREATE INDEX ix_by_hand ON items (title);")
        .unwrap();
    drop(conn);
    let drift = p.qvdiff(&["check", "--db", "app.db"]).expect_code(1);
    assert!(drift.stdout.contains("drifted"), "{}", drift.stdout);
    assert!(drift.stdout.contains("ix_by_hand"), "{}", drift.stdout);
}

#[test]
fn parallel_branches_need_a_merge_and_then_upgrade() {
    let p = Project::with_models(&[("src/models.rs", V1)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    // Two people migrate from r1 at once: a second file with the same parent.
    p.write("src/models.rs", &v2());
    p.qvdiff(&["migrate", "-m", "notes", "--rev-id", "a2"])
        .expect_code(0);
    let a2 = p.read("migrations/a2_notes.sql");
    p.write(
        "migrations/b2_index.sql",
        "-- qvdiff revision: b2\n-- parents: r1\n-- message: index\n-- qvdiff:up\nCREATE INDEX \"ix_items_title\" ON \"items\" (\"title\");\n-- qvdiff:down\nDROP INDEX \"ix_items_title\";\n",
    );
    assert!(a2.contains("-- parents: r1"));
    let heads = p.qvdiff(&["heads"]).expect_code(0);
    assert_eq!(heads.stdout.lines().count(), 2, "{}", heads.stdout);

    let refused = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(
        refused.stderr.contains("qvdiff merge"),
        "{}",
        refused.stderr
    );
    let migrate_refused = p.qvdiff(&["migrate", "-m", "more"]).expect_code(2);
    assert!(
        migrate_refused.stderr.contains("heads"),
        "{}",
        migrate_refused.stderr
    );

    p.qvdiff(&["merge", "-m", "merge notes and index", "--rev-id", "m3"])
        .expect_code(0);
    let merge = p.read("migrations/m3_merge_notes_and_index.sql");
    assert!(merge.contains("-- parents: a2 b2\n"), "{merge}");
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["a2", "b2", "m3", "r1"]);
    let history = p.qvdiff(&["history"]).expect_code(0);
    assert!(
        history.stdout.contains("m3 (head; merge of a2 + b2)"),
        "{}",
        history.stdout
    );
}

#[test]
fn stamp_adopts_a_database_only_when_its_schema_matches() {
    let p = three_revisions();
    // A database made by hand, matching r2's schema.
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("CREATE TABLE \"items\" (\"id\" INTEGER NOT NULL PRIMARY KEY, \"title\" TEXT NOT NULL, \"notes\" TEXT);").unwrap();
    drop(conn);
    let refused = p.qvdiff(&["stamp", "r3"]).expect_code(2);
    assert!(
        refused.stderr.contains("is not the schema of revision r3"),
        "{}",
        refused.stderr
    );
    assert!(ledger(&p.path("app.db")).is_empty());
    p.qvdiff(&["stamp", "r2"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2"]);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2", "r3"]);
}

#[test]
fn sql_prints_the_whole_chain_and_touches_nothing() {
    let p = three_revisions();
    let before = p.snapshot();
    let script = p.qvdiff(&["sql"]).expect_code(0).stdout;
    let r1 = script.find("CREATE TABLE \"items\"").expect("r1's SQL");
    let r2 = script.find("ADD COLUMN \"notes\"").expect("r2's SQL");
    let r3 = script.find("ADD COLUMN \"qty\"").expect("r3's SQL");
    assert!(r1 < r2 && r2 < r3, "{script}");
    assert!(script.contains("COMMIT"), "{script}");
    assert_eq!(p.snapshot(), before);
    // The script really runs: the sqlite3 shell is not needed, SQLite itself is.
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(&script).unwrap();
    assert_eq!(
        conn.query_row("SELECT count(*) FROM qvdiff_migrations", [], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        3
    );
}

#[test]
fn concurrent_upgrades_apply_each_revision_exactly_once() {
    let p = three_revisions();
    // A data migration proves its SQL ran once: it inserts a row.
    p.write("src/models.rs", &v3());
    p.qvdiff(&["migrate", "--empty", "-m", "seed", "--rev-id", "r4"])
        .expect_code(0);
    let r4 = p.read("migrations/r4_seed.sql");
    let r4 = r4
        .replace(
            "-- Write the SQL of this migration here.",
            "INSERT INTO items (title) VALUES ('seeded');",
        )
        .replace(
            "-- Write the SQL that undoes it here.",
            "DELETE FROM items WHERE title = 'seeded';",
        );
    p.write("migrations/r4_seed.sql", &r4);

    let children: Vec<_> = (0..8)
        .map(|_| {
            super::support::base_command(p.root(), &["upgrade", "--no-backup"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_by = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
        if stderr.contains("Applied r1") {
            applied_by += 1;
        }
    }
    assert_eq!(applied_by, 1, "exactly one process applied the revisions");
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2", "r3", "r4"]);
    assert_eq!(
        count(
            &p.path("app.db"),
            "SELECT count(*) FROM items WHERE title = 'seeded'"
        ),
        1
    );
}
