//! Online backups: naming, permissions, retention, consistency under writes, restore.

mod runner_support;

use qvdiff_sqlite::backup::{backup, backup_file, find_backup, list_backups, restore, BackupError};
use runner_support::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn seeded() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, path) = database();
    let conn = open(&path);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
         INSERT INTO items (title) VALUES ('lamp'), ('desk'), ('chair');",
    )
    .unwrap();
    (dir, path)
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn backup_is_private_named_and_listed() {
    let (dir, path) = seeded();
    let backups = dir.path().join("backups").join("nested");
    let conn = open(&path);
    let first = backup(&conn, &backups, "app.db", Some("r1"), 10).unwrap();
    let second = backup(&conn, &backups, "app.db", None, 10).unwrap();
    assert_ne!(
        first, second,
        "a backup in the same second must not overwrite"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&first), 0o600);
        assert_eq!(mode(&backups), 0o700);
    }
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("app.db.") && name.ends_with(".r1.bak"),
        "{name}"
    );
    let list = list_backups(&backups, "app.db").unwrap();
    assert_eq!(list.len(), 2);
    // Newest first; a database without ledger is at base.
    assert_eq!(list[0].path, second);
    assert_eq!(list[0].revision, "base");
    assert_eq!(list[1].revision, "r1");
    assert!(list[0].created.ends_with('Z') && list[0].size > 0);
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(count(&open(&first), "SELECT count(*) FROM items"), 3);
}

#[test]
fn retention_keeps_the_newest_and_only_touches_this_databases_backups() {
    let (dir, path) = seeded();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let unrelated = [
        backups.join("other.db.20200101-000000.base.bak"),
        backups.join("notes.txt"),
    ];
    for file in &unrelated {
        std::fs::write(file, "x").unwrap();
    }
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(backup_file(&path, &backups, 3).unwrap());
    }
    let list = list_backups(&backups, "app.db").unwrap();
    assert_eq!(list.len(), 3);
    let kept: Vec<_> = list.iter().map(|b| b.path.clone()).collect();
    assert_eq!(kept, made[2..].iter().rev().cloned().collect::<Vec<_>>());
    for file in &unrelated {
        assert!(file.exists());
    }
}

#[test]
fn backup_while_another_connection_writes_is_consistent() {
    let (dir, path) = seeded();
    let backups = dir.path().join("backups");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = open(&path);
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            let mut written = 0;
            while !stop.load(Ordering::Relaxed) {
                conn.execute_batch(
                    "BEGIN; INSERT INTO items (title) VALUES (hex(randomblob(200)));
                     INSERT INTO items (title) VALUES ('pair'); COMMIT;",
                )
                .unwrap();
                written += 1;
            }
            written
        })
    };
    let conn = open(&path);
    let mut taken = Vec::new();
    for _ in 0..5 {
        taken.push(backup(&conn, &backups, "app.db", None, 10).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    for file in taken {
        let copy = open(&file);
        let check: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        // Every write transaction adds two rows: a consistent snapshot has an odd total (3 + 2k).
        assert_eq!(count(&copy, "SELECT count(*) FROM items") % 2, 1);
    }
}

#[test]
fn restore_refuses_during_a_write_transaction_then_restores() {
    let (dir, path) = seeded();
    let backups = dir.path().join("backups");
    let first = backup_file(&path, &backups, 10).unwrap();
    let conn = open(&path);
    conn.execute("DELETE FROM items WHERE id > 1", []).unwrap();

    let writer = open(&path);
    writer
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO items (title) VALUES ('pending');")
        .unwrap();
    let err = restore(&path, &first, &backups, 10).unwrap_err();
    assert!(matches!(err, BackupError::Busy { .. }), "{err}");
    assert!(
        err.to_string().contains("another connection is writing"),
        "{err}"
    );
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 1);

    let latest = find_backup(&backups, "app.db", Some("latest")).unwrap();
    assert_eq!(latest, first);
    let report = restore(&path, &latest, &backups, 10).unwrap();
    // The connection that stayed open sees the restored rows.
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 3);
    // The state just before the restore was kept.
    assert_eq!(
        count(
            &open(&report.previous_state_backup),
            "SELECT count(*) FROM items"
        ),
        1
    );
    assert_eq!(list_backups(&backups, "app.db").unwrap().len(), 2);
}

#[test]
fn restore_refuses_a_file_that_is_not_a_database() {
    let (dir, path) = seeded();
    let bogus = dir.path().join("bogus.bak");
    std::fs::write(
        &bogus,
        "not a database at all, just text that is long enough",
    )
    .unwrap();
    let err = restore(&path, &bogus, &dir.path().join("backups"), 10).unwrap_err();
    assert!(matches!(err, BackupError::NotABackup { .. }), "{err}");
    assert!(matches!(
        find_backup(&dir.path().join("none"), "app.db", None),
        Err(BackupError::NoBackups { .. })
    ));
}

#[test]
fn restore_names_the_rows_it_takes_out_per_table() {
    let (dir, path) = seeded();
    let backups = dir.path().join("backups");
    let taken = backup_file(&path, &backups, 10).unwrap();
    // Since the backup: a column and a table added (as a release would), a new row, a changed
    // row, a deleted row (the restore brings it back: nothing lost), and rows in the new table.
    open(&path)
        .execute_batch(
            "ALTER TABLE items ADD COLUMN notes TEXT;
             INSERT INTO items (title, notes) VALUES ('shelf', 'new');
             UPDATE items SET title = 'lamp (sold)' WHERE id = 1;
             UPDATE items SET notes = 'only in the new column' WHERE id = 2;
             DELETE FROM items WHERE id = 3;
             CREATE TABLE sales (id INTEGER PRIMARY KEY, item_id INTEGER);
             INSERT INTO sales (item_id) VALUES (1), (1);
             CREATE TABLE qvdiff_scratch (x);
             INSERT INTO qvdiff_scratch VALUES (1);",
        )
        .unwrap();
    let report = restore(&path, &taken, &backups, 10).unwrap();
    let discarded: Vec<(&str, u64)> = report
        .discarded
        .iter()
        .map(|d| (d.table.as_str(), d.rows))
        .collect();
    // items: the new row and the changed title; a value written only into the column the
    // restore removes is not counted (the columns both have are compared).
    assert_eq!(discarded, [("items", 2), ("sales", 2)]);
    let kept = open(&report.previous_state_backup);
    assert_eq!(count(&kept, "SELECT count(*) FROM sales"), 2);
    assert_eq!(
        count(&kept, "SELECT count(*) FROM items WHERE title = 'shelf'"),
        1
    );
    assert_eq!(count(&open(&path), "SELECT count(*) FROM items"), 3);
}
