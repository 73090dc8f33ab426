//! upgrade / downgrade / stamp / sql on real database files with real rows.

mod runner_support;

use qvdiff_core::runner::Refusal;
use qvdiff_sqlite::runner::{
    run, schema_at, sql_script, stamp, status, BackupSettings, RunError, RunOptions, RunReport,
};
use runner_support::*;

fn opts() -> RunOptions {
    RunOptions::default()
}

/// The revisions a run applied or reverted, in order.
fn revisions_run(report: &RunReport) -> Vec<&str> {
    report.steps.iter().map(|s| s.revision.as_str()).collect()
}

fn three() -> Vec<qvdiff_core::runner::Migration> {
    chain(&[
        (
            "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n\
             INSERT INTO items (id, title) VALUES (1, 'lamp'), (2, 'desk');",
            "DROP TABLE items;",
        ),
        (
            "ALTER TABLE items ADD COLUMN notes TEXT;",
            "ALTER TABLE items DROP COLUMN notes;",
        ),
        (
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
            "DROP TABLE users;",
        ),
    ])
}

#[test]
fn upgrade_applies_everything_once_and_records_checksums() {
    let (_dir, path) = database();
    let migrations = set(three());
    let mut conn = open(&path);
    let report = run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    assert_eq!(revisions_run(&report), ["r1", "r2", "r3"]);
    assert_eq!(report.current, ["r3"]);
    assert_eq!(ledger_revisions(&conn), ["r1", "r2", "r3"]);
    let rows = qvdiff_sqlite::runner::applied(&conn).unwrap();
    assert_eq!(rows[0].checksum, migrations.get("r1").unwrap().checksum);
    assert!(rows[0].applied_at.ends_with('Z') && rows[0].applied_at.contains('T'));
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 2);

    let again = run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    assert!(again.is_noop());
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 2);
}

#[test]
fn the_progress_hook_hears_of_each_revision_before_it_runs() {
    use qvdiff_sqlite::runner::Direction;
    use std::sync::{Arc, Mutex};
    let (_dir, path) = database();
    let migrations = set(three());
    let mut conn = open(&path);
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let options = RunOptions {
        progress: Some({
            let heard = heard.clone();
            Arc::new(
                move |direction: Direction, m: &qvdiff_core::runner::Migration| {
                    heard
                        .lock()
                        .unwrap()
                        .push(format!("{direction} {}", m.file.revision));
                },
            )
        }),
        ..RunOptions::default()
    };
    run(&mut conn, &up(&migrations, "head", &options)).unwrap();
    run(&mut conn, &down(&migrations, "r1", &options)).unwrap();
    assert_eq!(
        *heard.lock().unwrap(),
        ["up r1", "up r2", "up r3", "down r3", "down r2"]
    );
}

#[test]
fn upgrade_creates_a_missing_database_file() {
    let (_dir, path) = database();
    let migrations = set(three());
    let mut conn = qvdiff_sqlite::runner::open_database(&path, true).unwrap();
    run(&mut conn, &up(&migrations, "+1", &opts())).unwrap();
    assert!(path.exists());
    assert_eq!(ledger_revisions(&conn), ["r1"]);
    assert!(qvdiff_sqlite::runner::open_database(&path.with_extension("nope"), false).is_err());
}

/// A file this user may not write (SQLite then opens it read-only without a word) is refused
/// before anything, the backup included, is done. Opened with the read-only flag so the test
/// means the same when it runs as root, where `chmod 0444` would not stop a write.
#[test]
fn a_read_only_database_is_refused_before_the_backup() {
    let (dir, path) = database();
    let migrations = set(three());
    {
        let mut conn = open(&path);
        run(&mut conn, &up(&migrations, "r1", &opts())).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let mut read_only =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let backups = dir.path().join("backups");
    let options = RunOptions {
        backup: Some(BackupSettings {
            dir: backups.clone(),
            keep: 3,
        }),
        ..RunOptions::default()
    };
    let err = run(&mut read_only, &up(&migrations, "head", &options)).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert!(!backups.exists(), "no backup directory for a refused run");
    drop(read_only);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_failing_revision_rolls_back_every_revision() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    conn.execute_batch(
        "CREATE TABLE keep (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO keep VALUES (1, 'a'), (2, 'b');",
    )
    .unwrap();
    let fk_setting = count(&conn, "PRAGMA foreign_keys");
    let migrations = set(chain(&[
        (
            "CREATE TABLE items (id INTEGER PRIMARY KEY);\nINSERT INTO keep VALUES (3, 'c');",
            "DROP TABLE items;",
        ),
        (
            "CREATE INDEX ix_keep_v ON keep (v);\nINSERT INTO no_such_table VALUES (1);",
            "SELECT 1;",
        ),
        ("CREATE TABLE more (id INTEGER);", "DROP TABLE more;"),
    ]));
    let err = run(&mut conn, &up(&migrations, "head", &opts())).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RunError::Statement { .. }), "{message}");
    assert!(message.contains("revision r2"), "{message}");
    assert!(message.contains("migrations/r2_m.sql"), "{message}");
    assert!(message.contains("INSERT INTO no_such_table"), "{message}");
    assert!(message.contains("no such table"), "{message}");
    assert!(ledger_revisions(&conn).is_empty());
    assert_eq!(tables(&conn), ["keep"]);
    assert_eq!(count(&conn, "SELECT count(*) FROM keep"), 2);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
        ),
        0
    );
    // foreign_keys is back to what it was.
    assert_eq!(count(&conn, "PRAGMA foreign_keys"), fk_setting);
}

#[test]
fn foreign_keys_setting_is_restored_and_rebuilds_do_not_cascade() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let migrations = set(chain(&[
        ("CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT);\n\
             CREATE TABLE sales (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL \
             REFERENCES items (id) ON DELETE CASCADE);\n\
             INSERT INTO items VALUES (1, 'a');\nINSERT INTO sales VALUES (10, 1);", "DROP TABLE sales;\nDROP TABLE items;"),
        ("CREATE TABLE _qvdiff_new_items (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '');\n\
             INSERT INTO _qvdiff_new_items (id, title) SELECT id, COALESCE(title, '') FROM items;\n\
             DROP TABLE items;\nALTER TABLE _qvdiff_new_items RENAME TO items;", "SELECT 1;"),
    ]));
    run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM sales"), 1);
    assert_eq!(count(&conn, "PRAGMA foreign_keys"), 1);
}

#[test]
fn an_edited_applied_file_is_refused() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    run(&mut conn, &up(&set(three()), "r1", &opts())).unwrap();
    let mut edited = three();
    edited[0] = migration(
        "r1",
        &[],
        "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, extra TEXT);",
        "DROP TABLE items;",
    );
    let err = run(&mut conn, &up(&set(edited.clone()), "head", &opts())).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, RunError::Refused(Refusal::EditedAfterApplied { .. })),
        "{message}"
    );
    assert!(
        message.contains("migrations/r1_m.sql was edited after it was applied"),
        "{message}"
    );
    assert!(
        message.contains("restore the file from version control"),
        "{message}"
    );
    assert_eq!(ledger_revisions(&conn), ["r1"]);
    // downgrade runs the edited down section: refused too.
    assert!(run(&mut conn, &down(&set(edited.clone()), "base", &opts())).is_err());
    // stamp records the file as it is now (the way out once the schema matches).
    let report = stamp(&mut conn, &set(edited.clone()), &target("r1"), &opts()).unwrap();
    assert_eq!(report.rechecksummed, ["r1"]);
    // Never silently: the audit table keeps both checksums.
    let audit = qvdiff_sqlite::runner::accepted_edits(&conn).unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].revision, "r1");
    assert_ne!(audit[0].old_checksum, audit[0].new_checksum);
    assert_eq!(audit[0].reason, qvdiff_core::runner::STAMP_REASON);
    assert!(run(&mut conn, &up(&set(edited), "head", &opts())).is_ok());
}

#[test]
fn missing_file_and_newer_database_are_refused() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    run(&mut conn, &up(&set(three()), "head", &opts())).unwrap();

    // r3 applied but its file is gone, and nothing else pending: the database is newer.
    let older = set(three().into_iter().take(2).collect());
    let err = run(&mut conn, &up(&older, "head", &opts())).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, RunError::Refused(Refusal::DatabaseNewer { .. })),
        "{message}"
    );
    assert!(message.contains("newer than the migrations"), "{message}");
    assert!(message.contains("r3"), "{message}");

    // r3 applied, its file gone, another revision pending: a missing file.
    let mut branch = three().into_iter().take(2).collect::<Vec<_>>();
    branch.push(migration(
        "r4",
        &["r2"],
        "CREATE TABLE t4 (id INTEGER);",
        "DROP TABLE t4;",
    ));
    let err = run(&mut conn, &up(&set(branch), "head", &opts())).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, RunError::Refused(Refusal::MissingFiles { .. })),
        "{message}"
    );
    assert!(message.contains("no migration file declares"), "{message}");
    assert_eq!(ledger_revisions(&conn), ["r1", "r2", "r3"]);
    assert!(!tables(&conn).contains(&"t4".to_string()));
}

#[test]
fn several_heads_need_a_merge_for_head_but_not_for_heads() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(vec![
        migration("a", &[], "CREATE TABLE a (id INTEGER);", "DROP TABLE a;"),
        migration("b", &["a"], "CREATE TABLE b (id INTEGER);", "DROP TABLE b;"),
        migration("c", &["a"], "CREATE TABLE c (id INTEGER);", "DROP TABLE c;"),
    ]);
    let err = run(&mut conn, &up(&migrations, "head", &opts())).unwrap_err();
    assert!(err.to_string().contains("qvdiff merge"), "{err}");
    assert!(tables(&conn).is_empty());
    let report = run(&mut conn, &up(&migrations, "heads", &opts())).unwrap();
    assert_eq!(report.steps.len(), 3);
    assert_eq!(report.current, ["b", "c"]);
}

#[test]
fn downgrade_one_step_to_a_revision_and_to_base() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(three());
    run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    conn.execute("UPDATE items SET notes = 'n' WHERE id = 1", [])
        .unwrap();

    let report = run(&mut conn, &down(&migrations, "-1", &opts())).unwrap();
    assert_eq!(report.steps[0].revision, "r3");
    assert_eq!(ledger_revisions(&conn), ["r1", "r2"]);
    assert!(!tables(&conn).contains(&"users".to_string()));

    run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    let report = run(&mut conn, &down(&migrations, "r1", &opts())).unwrap();
    assert_eq!(revisions_run(&report), ["r3", "r2"]);
    assert_eq!(report.current, ["r1"]);
    assert_eq!(ledger_revisions(&conn), ["r1"]);
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 2);

    let report = run(&mut conn, &down(&migrations, "base", &opts())).unwrap();
    assert_eq!(report.steps.len(), 1);
    assert!(ledger_revisions(&conn).is_empty());
    assert_eq!(tables(&conn), ["qvdiff_migrations"]);
    // Nothing applied: nothing to do.
    assert!(run(&mut conn, &down(&migrations, "-1", &opts()))
        .unwrap()
        .is_noop());
}

#[test]
fn stamp_and_schema_at() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(three());
    let schema = schema_at(&migrations, &target("r2")).unwrap();
    let items = schema.table("items").unwrap();
    assert!(items.column("notes").is_some());
    assert!(schema.table("users").is_none());

    conn.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL, notes TEXT);",
    )
    .unwrap();
    let report = stamp(&mut conn, &migrations, &target("r2"), &opts()).unwrap();
    assert_eq!(report.added, ["r1", "r2"]);
    assert_eq!(ledger_revisions(&conn), ["r1", "r2"]);
    let upgraded = run(&mut conn, &up(&migrations, "head", &opts())).unwrap();
    assert_eq!(upgraded.steps.len(), 1);
    let report = stamp(&mut conn, &migrations, &target("base"), &opts()).unwrap();
    assert_eq!(report.removed.len(), 3);
    assert!(ledger_revisions(&conn).is_empty());
}

#[test]
fn status_shows_current_and_pending() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(three());
    run(&mut conn, &up(&migrations, "r1", &opts())).unwrap();
    let status = status(&conn, &migrations).unwrap();
    assert_eq!(status.current, ["r1"]);
    assert_eq!(status.pending, ["r2", "r3"]);
    assert!(!status.is_up_to_date());
}

#[test]
fn offline_scripts_have_the_runner_transaction_shape_and_run() {
    let migrations = set(three());
    let script = sql_script(&migrations, None).unwrap();
    let begin = script.find("BEGIN IMMEDIATE;").unwrap();
    assert!(script.find("PRAGMA foreign_keys = OFF;").unwrap() < begin);
    assert!(script.contains("INSERT INTO \"qvdiff_migrations\""));
    assert!(script
        .trim_end()
        .ends_with("PRAGMA foreign_key_check;\nCOMMIT;"));

    let (_dir, path) = database();
    let conn = open(&path);
    conn.execute_batch(&script).unwrap();
    assert_eq!(ledger_revisions(&conn), ["r1", "r2", "r3"]);
    // The recorded checksums are the runner's: a later upgrade accepts them.
    let mut conn = conn;
    assert!(run(&mut conn, &up(&migrations, "head", &opts()))
        .unwrap()
        .is_noop());

    let down = sql_script(&migrations, Some("head:r1")).unwrap();
    conn.execute_batch(&down).unwrap();
    assert_eq!(ledger_revisions(&conn), ["r1"]);
}

#[test]
fn upgrade_takes_a_backup_under_the_lock_when_asked() {
    let (dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(three());
    run(&mut conn, &up(&migrations, "r1", &opts())).unwrap();
    let options = RunOptions {
        backup: Some(BackupSettings {
            dir: dir.path().join("backups"),
            keep: 10,
        }),
        ..RunOptions::default()
    };
    let report = run(&mut conn, &up(&migrations, "head", &options)).unwrap();
    let backup = report.backup.unwrap();
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("app.db.") && name.ends_with(".r1.bak"),
        "{name}"
    );
    let copy = open(&backup);
    assert_eq!(ledger_revisions(&copy), ["r1"]);
    assert_eq!(count(&copy, "SELECT count(*) FROM items"), 2);
    // Nothing to do: no backup.
    let report = run(&mut conn, &up(&migrations, "head", &options)).unwrap();
    assert!(report.backup.is_none());
}

#[test]
fn transaction_control_in_a_migration_is_refused_before_anything_runs() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let migrations = set(chain(&[(
        "CREATE TABLE a (id INTEGER);\nCOMMIT;\nCREATE TABLE b (id INTEGER);",
        "SELECT 1;",
    )]));
    let err = run(&mut conn, &up(&migrations, "head", &opts())).unwrap_err();
    assert!(
        err.to_string().contains("must not contain BEGIN, COMMIT"),
        "{err}"
    );
    assert!(tables(&conn).is_empty());
}
