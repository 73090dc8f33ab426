//! One project's whole life with the real binary and 500 real rows: init, initial migration, a
//! new field, upgrade with a backup, parallel work merged, downgrade to base and back to head.
//! Plus the refusals that protect data (missing file, NULLs, duplicates) and backup retention.

use super::support::{repo_root, Project};
use rusqlite::Connection;
use std::path::Path;

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn text(db: &Path, sql: &str) -> String {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn add_item_field(models: &str, field: &str) -> String {
    let edited = models.replacen(
        "    pub description: Option<String>,\n",
        &format!("    pub description: Option<String>,\n    {field}\n"),
        1,
    );
    assert_ne!(edited, models, "the Item struct has a description field");
    edited
}

fn backup_files(p: &Project) -> Vec<String> {
    match std::fs::read_dir(p.path("backups")) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_project_from_init_to_merge_and_back_with_500_rows() {
    let p = Project::empty();
    p.qvdiff(&["init"]).expect_code(0);
    let models =
        std::fs::read_to_string(repo_root().join("examples/inventory/src/models.rs")).unwrap();
    p.write("src/models.rs", &models);
    p.qvdiff(&["migrate", "-m", "initial"]).expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    let db = p.path("instance/app.db");
    assert!(
        backup_files(&p).is_empty(),
        "a new database has nothing to back up"
    );

    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "INSERT INTO users (id, email, display_name) VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
         INSERT INTO items (id, user_id, title, sku, cost, price)
         SELECT i, 1 + i % 2, 'item ' || i, 'SKU-' || i, i * 0.5, i * 1.25 FROM n;",
    )
    .unwrap();
    drop(conn);
    let fingerprint = "SELECT group_concat(id || ':' || title || ':' || sku || ':' || price, ',') FROM (SELECT * FROM items ORDER BY id)";
    let rows_before = text(&db, fingerprint);

    // A new field: migrate, upgrade (backup first), rows intact, the app reads the new column.
    let with_notes = add_item_field(&models, "pub notes: Option<String>,");
    p.write("src/models.rs", &with_notes);
    p.qvdiff(&["migrate", "-m", "add notes field"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    assert_eq!(
        backup_files(&p).len(),
        1,
        "upgrade backed up the database first"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM items"), 500);
    assert_eq!(text(&db, fingerprint), rows_before);
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE items SET notes = 'fragile' WHERE id = 1", [])
        .unwrap();
    let first = inventory::first_item(&Connection::open(&db).unwrap())
        .unwrap()
        .expect("an item");
    assert!(
        first.contains(&("notes".to_string(), "fragile".to_string())),
        "{first:?}"
    );

    // Two people migrate from the same parent.
    let parent_heads = p.qvdiff(&["heads"]).expect_code(0).stdout;
    p.write(
        "src/models.rs",
        &add_item_field(&with_notes, "pub color: Option<String>,"),
    );
    p.qvdiff(&["migrate", "-m", "add color", "--rev-id", "a_color"])
        .expect_code(0);
    let a_file = p.path("migrations/a_color_add_color.sql");
    let a_text = std::fs::read_to_string(&a_file).unwrap();
    std::fs::remove_file(&a_file).unwrap();
    p.write(
        "src/models.rs",
        &add_item_field(&with_notes, "pub barcode: Option<String>,"),
    );
    p.qvdiff(&["migrate", "-m", "add barcode", "--rev-id", "b_barcode"])
        .expect_code(0);
    std::fs::write(&a_file, a_text).unwrap();
    assert_eq!(
        p.qvdiff(&["heads"]).expect_code(0).stdout.lines().count(),
        2
    );
    assert_eq!(parent_heads.lines().count(), 1);

    // Both changes in the models; merge; upgrade.
    let both = add_item_field(
        &add_item_field(&with_notes, "pub color: Option<String>,"),
        "pub barcode: Option<String>,",
    );
    p.write("src/models.rs", &both);
    p.qvdiff(&["upgrade"]).expect_code(2);
    p.qvdiff(&["merge", "-m", "merge color and barcode"])
        .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://instance/app.db"])
        .expect_code(0);
    assert_eq!(text(&db, fingerprint), rows_before);
    assert_eq!(text(&db, "SELECT notes FROM items WHERE id = 1"), "fragile");

    // Down to base and back up to head.
    p.qvdiff(&["downgrade", "base"]).expect_code(0);
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE name IN ('items', 'users', 'sales', 'listings')"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM qvdiff_migrations"), 0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    p.qvdiff(&["check", "--db", "sqlite://instance/app.db"])
        .expect_code(0);
    assert_eq!(count(&db, "SELECT count(*) FROM qvdiff_migrations"), 5);
}

const ITEMS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub sku: Option<String>,
}
"#;

/// A project at r1 with items rows (two NULL skus, a duplicated sku) and hand-written r2.
fn project_with_r2(r2_up: &str) -> Project {
    let p = Project::with_models(&[("src/models.rs", ITEMS)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch(
            "INSERT INTO items VALUES (1, 'A'), (2, NULL), (3, 'B'), (4, 'A'), (5, NULL);",
        )
        .unwrap();
    p.write(
        "migrations/r2_step.sql",
        &format!("-- qvdiff revision: r2\n-- parents: r1\n-- message: step\n-- qvdiff:up\n{r2_up}\n-- qvdiff:down\n"),
    );
    p
}

fn assert_refused_unchanged(p: &Project, expected: &[&str]) {
    let before = p.snapshot();
    let run = p.qvdiff(&["upgrade"]).expect_code(2);
    for e in expected {
        assert!(run.stderr.contains(e), "expected {e:?} in:\n{}", run.stderr);
    }
    let after = p.snapshot();
    // A refused upgrade may leave its backup behind; the database and migrations are untouched.
    let without_backups = |s: std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| {
        s.into_iter()
            .filter(|(k, _)| !k.starts_with("backups"))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_backups(after), without_backups(before));
}

#[test]
fn nulls_before_not_null_are_refused_with_counts_and_examples() {
    // r2 made sku nullable; rows with NULL arrived since; going back to NOT NULL must refuse.
    let not_null = ITEMS.replace("pub sku: Option<String>,", "pub sku: String,");
    let p = Project::with_models(&[("src/models.rs", &not_null)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.write("src/models.rs", ITEMS);
    p.qvdiff(&["migrate", "-m", "nullable sku", "--rev-id", "r2"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch(
            "INSERT INTO items VALUES (1, 'A'), (2, NULL), (3, 'B'), (4, 'A'), (5, NULL);",
        )
        .unwrap();
    let before = p.snapshot();
    let run = p.qvdiff(&["downgrade"]).expect_code(2);
    for e in ["revision r2", "2 rows of items", "NULL in sku", "ids 2, 5"] {
        assert!(run.stderr.contains(e), "expected {e:?} in:\n{}", run.stderr);
    }
    let without_backups = |s: std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| {
        s.into_iter()
            .filter(|(k, _)| !k.starts_with("backups"))
            .collect::<Vec<_>>()
    };
    assert_eq!(without_backups(p.snapshot()), without_backups(before));
}

#[test]
fn duplicates_before_unique_are_refused_with_counts_and_examples() {
    let p = project_with_r2("CREATE UNIQUE INDEX \"ux_items_sku\" ON \"items\" (\"sku\");");
    assert_refused_unchanged(&p, &["revision r2", "2 rows of items", "(sku)", "ids 1, 4"]);
}

#[test]
fn an_applied_revision_whose_file_is_missing_is_refused() {
    let p = project_with_r2("CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");");
    p.qvdiff(&["upgrade"]).expect_code(0);
    std::fs::remove_file(p.path("migrations/r2_step.sql")).unwrap();
    assert_refused_unchanged(&p, &["r2"]);
}

#[test]
fn a_failed_upgrade_changes_nothing_and_restore_latest_returns_the_state_before() {
    let p = project_with_r2("CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");");
    p.write(
        "migrations/r3_step.sql",
        "-- qvdiff revision: r3\n-- parents: r2\n-- message: broken\n-- qvdiff:up\nINSERT INTO items VALUES (6, 'C');\nSELECT no_such_function();\n-- qvdiff:down\n",
    );
    let db = p.path("app.db");
    let db_before = std::fs::read(&db).unwrap();
    let run = p.qvdiff(&["upgrade"]).expect_code(2);
    assert!(run.stderr.contains("revision r3"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_function"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        db_before,
        "schema, ledger and rows as before"
    );

    // Someone then damages the data by hand; the backup taken before the upgrade restores it.
    Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM items;")
        .unwrap();
    p.qvdiff(&["restore", "latest"]).expect_code(0);
    assert_eq!(count(&db, "SELECT count(*) FROM items"), 5);
    assert_eq!(count(&db, "SELECT count(*) FROM qvdiff_migrations"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'ix_items_sku'"
        ),
        0
    );
}

#[test]
fn at_most_keep_backups_remain() {
    let p = Project::with_models(&[("src/models.rs", ITEMS)]);
    p.write("qvdiff.toml", "models = [\"src\"]\ndatabase = \"sqlite://app.db\"\n[backup]\ndir = \"backups\"\nkeep = 2\n");
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    for _ in 0..4 {
        p.qvdiff(&["backup"]).expect_code(0);
    }
    assert_eq!(backup_files(&p).len(), 2, "{:?}", backup_files(&p));
}

#[test]
fn a_backup_taken_while_another_process_writes_in_wal_mode_is_consistent() {
    let p = Project::with_models(&[("src/models.rs", ITEMS)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    let db = p.path("app.db");
    let conn = Connection::open(&db).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let conn = Connection::open(&db).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            let mut n = 0_i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                conn.execute_batch(&format!(
                    "BEGIN; INSERT INTO items (sku) VALUES ('w{n}'); INSERT INTO items (sku) VALUES ('v{n}'); COMMIT;"
                ))
                .unwrap();
                n += 1;
            }
            n
        })
    };
    for _ in 0..5 {
        p.qvdiff(&["backup"]).expect_code(0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);
    for name in backup_files(&p) {
        let backup = p.path(&format!("backups/{name}"));
        assert_eq!(text(&backup, "PRAGMA integrity_check"), "ok");
        // Each transaction wrote two rows: a consistent copy never holds half of one.
        assert_eq!(
            count(&backup, "SELECT count(*) FROM items") % 2,
            0,
            "{name}"
        );
    }
}
