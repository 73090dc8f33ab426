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
fn a_failed_upgrade_changes_nothing_and_leaves_the_backups_as_they_were() {
    let p = project_with_r2("CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");");
    p.write(
        "migrations/r3_step.sql",
        "-- qvdiff revision: r3\n-- parents: r2\n-- message: broken\n-- qvdiff:up\nINSERT INTO items VALUES (6, 'C');\nSELECT no_such_function();\n-- qvdiff:down\n",
    );
    let db = p.path("app.db");
    let db_before = std::fs::read(&db).unwrap();
    // r1 created the database: nothing to back up then.
    let backups_before = backup_files(&p);
    assert_eq!(backups_before, Vec::<String>::new());
    let run = p.qvdiff(&["upgrade"]).expect_code(2);
    assert!(run.stderr.contains("revision r3"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_function"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        db_before,
        "schema, ledger and rows as before"
    );
    // The failed run's backup was a copy of the unchanged database: it is gone again.
    assert_eq!(backup_files(&p), backups_before);
    assert!(
        p.path("backups").read_dir().unwrap().next().is_none(),
        "no temporary file left either"
    );
}

/// Backups of runs that went through are never pushed out of `keep` by runs that failed.
#[test]
fn failed_upgrades_do_not_push_good_backups_out_of_keep() {
    let p = project_with_r2("CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");");
    let config = p.read("qvdiff.toml");
    p.write(
        "qvdiff.toml",
        &format!("{config}\n[backup]\ndir = \"backups\"\nkeep = 2\n"),
    );
    // Backups taken before r2 and before r3.
    p.qvdiff(&["upgrade"]).expect_code(0);
    p.write(
        "migrations/r3_step.sql",
        "-- qvdiff revision: r3\n-- parents: r2\n-- message: more\n-- qvdiff:up\nCREATE INDEX \"ix_items_id_sku\" ON \"items\" (\"id\", \"sku\");\n-- qvdiff:down\nDROP INDEX \"ix_items_id_sku\";\n",
    );
    p.qvdiff(&["upgrade"]).expect_code(0);
    let good = backup_files(&p);
    assert_eq!(good.len(), 2, "{good:?}");
    let good_bytes: Vec<Vec<u8>> = good
        .iter()
        .map(|n| std::fs::read(p.path(&format!("backups/{n}"))).unwrap())
        .collect();
    p.write(
        "migrations/r4_step.sql",
        "-- qvdiff revision: r4\n-- parents: r3\n-- message: unique\n-- qvdiff:up\nCREATE UNIQUE INDEX \"ux_items_sku\" ON \"items\" (\"sku\");\n-- qvdiff:down\nDROP INDEX \"ux_items_sku\";\n",
    );
    for _ in 0..3 {
        let run = p.qvdiff(&["upgrade"]).expect_code(2);
        assert!(run.stderr.contains("2 rows of items"), "{}", run.stderr);
    }
    assert_eq!(backup_files(&p), good);
    for (name, bytes) in good.iter().zip(&good_bytes) {
        assert_eq!(
            &std::fs::read(p.path(&format!("backups/{name}"))).unwrap(),
            bytes
        );
    }
    // Once the data is fixed the upgrade goes through and the folder is pruned to `keep`.
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch("UPDATE items SET sku = 'A2' WHERE id = 4;")
        .unwrap();
    p.qvdiff(&["upgrade"]).expect_code(0);
    let after = backup_files(&p);
    // Taken before r2, r3 and r4: the one before r2 is pruned.
    let labels: Vec<&str> = after
        .iter()
        .map(|n| n.rsplit('.').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(labels.len(), 2, "{after:?}");
    assert!(
        labels.contains(&"r2") && labels.contains(&"r3"),
        "{after:?}"
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

#[test]
fn downgrade_sql_prints_the_down_sections_and_leaves_the_database_byte_identical() {
    let p = project_with_r2("CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");");
    std::fs::write(
        p.path("migrations/r2_step.sql"),
        "-- qvdiff revision: r2\n-- parents: r1\n-- message: step\n-- qvdiff:up\n\
         CREATE INDEX \"ix_items_sku\" ON \"items\" (\"sku\");\n\
         -- qvdiff:down\nDROP INDEX \"ix_items_sku\";\n",
    )
    .unwrap();
    p.qvdiff(&["upgrade"]).expect_code(0);
    let files = p.snapshot();

    let one = p.qvdiff(&["downgrade", "--sql"]).expect_code(0);
    assert!(
        one.stdout.contains("DROP INDEX \"ix_items_sku\";"),
        "{}",
        one.stdout
    );
    assert!(one.stdout.contains("'r2'"), "{}", one.stdout);
    assert!(!one.stdout.contains("DROP TABLE"), "{}", one.stdout);
    // The header names the revision `-1` reaches, not `-1`.
    for relative in [
        &["downgrade", "--sql"][..],
        &["downgrade", "-1", "--sql"][..],
    ] {
        let script = p.qvdiff(relative).expect_code(0);
        assert!(
            script.stdout.contains("r2 -> r1") && !script.stdout.contains("-> -1"),
            "{relative:?}: {}",
            script.stdout
        );
    }
    let all = p.qvdiff(&["downgrade", "base", "--sql"]).expect_code(0);
    assert!(
        all.stdout.find("DROP INDEX \"ix_items_sku\"") < all.stdout.find("DROP TABLE \"items\""),
        "children first:\n{}",
        all.stdout
    );
    // Database, migrations and backups: byte for byte as before.
    assert!(p.snapshot() == files, "downgrade --sql changed a file");

    // Run as printed, the script reverts r2 exactly as `downgrade` would.
    let db = p.path("app.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(&one.stdout)
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM qvdiff_migrations"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM sqlite_master WHERE name = 'ix_items_sku'"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM items"), 5);
}

/// The task tracker a new user writes from scratch: a self-referencing table, a join table
/// with a composite key, then a table rename and a column rename, two branches merged, a
/// downgrade and an upgrade again, and a type change over a value that does not convert
/// (refused, then given a `using`). Version 1 of its models.
const TRACKER_V1: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "projects")]
pub struct Board {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Model)]
#[model(table = "tasks")]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "projects.id", on_delete = "cascade", index)]
    pub project_id: i64,
    #[column(references = "tasks.id", on_delete = "set null")]
    pub parent_id: Option<i64>,
    pub title: String,
}

#[derive(Model)]
#[model(table = "tags")]
pub struct Tag {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Model)]
#[model(table = "task_tags", primary_key(task_id, tag_id))]
pub struct TaskTag {
    #[column(references = "tasks.id", on_delete = "cascade")]
    pub task_id: i64,
    #[column(references = "tags.id", on_delete = "cascade")]
    pub tag_id: i64,
}
"#;

/// The tracker's database on one dialect, read and written by the test itself.
enum TrackerDb {
    Sqlite(std::path::PathBuf),
    Postgres(qvdiff_postgres::testing::TestDatabase),
}

impl TrackerDb {
    fn url(&self) -> String {
        match self {
            TrackerDb::Sqlite(path) => format!("sqlite://{}", path.display()),
            TrackerDb::Postgres(db) => db.url.clone(),
        }
    }

    fn exec(&self, sql: &str) {
        match self {
            // As an application connects: with foreign keys enforced.
            TrackerDb::Sqlite(path) => Connection::open(path)
                .unwrap()
                .execute_batch(&format!("PRAGMA foreign_keys = ON;\n{sql}"))
                .unwrap(),
            TrackerDb::Postgres(db) => db.connect().batch_execute(sql).unwrap(),
        }
    }

    /// One text per row of `sql`, whose one column is text (NULL as `-`).
    fn rows(&self, sql: &str) -> Vec<String> {
        match self {
            TrackerDb::Sqlite(path) => {
                let conn = Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let rows = stmt
                    .query_map([], |r| r.get::<_, Option<String>>(0))
                    .unwrap()
                    .map(|r| r.unwrap().unwrap_or_else(|| "-".into()))
                    .collect();
                rows
            }
            TrackerDb::Postgres(db) => db
                .connect()
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, Option<String>>(0).unwrap_or_else(|| "-".into()))
                .collect(),
        }
    }
}

/// `tasks` as `id|project|parent|title`, in id order (`title_column`: its name at this step).
fn tracker_tasks(db: &TrackerDb, title_column: &str) -> Vec<String> {
    db.rows(&format!(
        "SELECT CAST(id AS TEXT) || '|' || CAST(project_id AS TEXT) || '|' || \
         COALESCE(CAST(parent_id AS TEXT), '-') || '|' || {title_column} FROM tasks ORDER BY id"
    ))
}

/// The join table's rows as `task|tag`, in key order.
fn tracker_links(db: &TrackerDb, table: &str) -> Vec<String> {
    db.rows(&format!(
        "SELECT CAST(task_id AS TEXT) || '|' || CAST(tag_id AS TEXT) FROM {table} \
         ORDER BY task_id, tag_id"
    ))
}

/// The tracker's tables, sorted (the ledger and the backups' bookkeeping left out).
fn tracker_tables(db: &TrackerDb) -> Vec<String> {
    let sql = match db {
        TrackerDb::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE 'qvdiff_%'"
        }
        TrackerDb::Postgres(_) => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \
             'public' AND table_name NOT LIKE 'qvdiff_%'"
        }
    };
    let mut tables = db.rows(sql);
    tables.sort();
    tables
}

/// The new user's whole story on one dialect, rows checked after every step.
fn task_tracker_story(p: &Project, db: &TrackerDb) {
    let url = db.url();
    // A command against the tracker's database.
    let on_db = |args: &[&str]| p.qvdiff(&[args, &["--db", url.as_str()]].concat());
    p.write("src/models.rs", TRACKER_V1);

    // 1. The first migration, applied, and rows: a task tree and tags on tasks.
    p.qvdiff(&["migrate", "-m", "tracker", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);
    on_db(&["upgrade"]).expect_code(0);
    db.exec(
        "INSERT INTO projects (id, name) VALUES (1, 'home'), (2, 'work');
         INSERT INTO tasks (id, project_id, parent_id, title) VALUES
             (1, 1, NULL, 'move'), (2, 1, 1, 'pack books'), (3, 1, 2, 'buy boxes'),
             (4, 2, NULL, 'report');
         INSERT INTO tags (id, name) VALUES (1, 'urgent'), (2, 'later');
         INSERT INTO task_tags (task_id, tag_id) VALUES (1, 1), (2, 1), (2, 2), (4, 2);",
    );
    let tasks_v1 = [
        "1|1|-|move",
        "2|1|1|pack books",
        "3|1|2|buy boxes",
        "4|2|-|report",
    ];
    assert_eq!(tracker_tasks(db, "title"), tasks_v1);
    let links = ["1|1", "2|1", "2|2", "4|2"];
    assert_eq!(tracker_links(db, "task_tags"), links);

    // 2. The join table and a column renamed in the models: both renames keep every row.
    let v2 = TRACKER_V1
        .replace(
            "#[model(table = \"task_tags\", primary_key(task_id, tag_id))]",
            "#[model(table = \"task_labels\", renamed_from = \"task_tags\", primary_key(task_id, tag_id))]",
        )
        .replace(
            "    pub title: String,\n}\n\n#[derive(Model)]\n#[model(table = \"tags\")]",
            "    #[column(renamed_from = \"title\")]\n    pub summary: String,\n}\n\n#[derive(Model)]\n#[model(table = \"tags\")]",
        );
    assert!(
        v2.contains("task_labels") && v2.contains("pub summary"),
        "{v2}"
    );
    p.write("src/models.rs", &v2);
    p.qvdiff(&["migrate", "--no-input", "-m", "renames", "--rev-id", "r2"])
        .expect_code(0);
    on_db(&["upgrade"]).expect_code(0);
    assert_eq!(tracker_tasks(db, "summary"), tasks_v1);
    assert_eq!(tracker_links(db, "task_labels"), links);
    assert_eq!(
        tracker_tables(db),
        ["projects", "tags", "task_labels", "tasks"]
    );
    // The renamed table keeps its foreign keys: deleting a task deletes its labels.
    db.exec("INSERT INTO tasks (id, project_id, parent_id, summary) VALUES (5, 2, 4, 'draft');");
    db.exec("INSERT INTO task_labels (task_id, tag_id) VALUES (5, 1);");
    db.exec("DELETE FROM tasks WHERE id = 5;");
    assert_eq!(tracker_links(db, "task_labels"), links);

    // 3. Two branches from r2, written apart and merged: a priority with a default for the
    //    existing tasks, and a description of projects.
    let priority = |m: &str| {
        m.replace(
            "    pub summary: String,\n",
            "    pub summary: String,\n    #[column(default = 3)]\n    pub priority: i64,\n",
        )
    };
    let description = |m: &str| {
        m.replace(
            "    pub name: String,\n}\n\n#[derive(Model)]\n#[model(table = \"tasks\")]",
            "    pub name: String,\n    pub description: Option<String>,\n}\n\n#[derive(Model)]\n#[model(table = \"tasks\")]",
        )
    };
    p.write("src/models.rs", &priority(&v2));
    p.qvdiff(&["migrate", "-m", "priority", "--rev-id", "r3a"])
        .expect_code(0);
    let r3a = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("r3a_"))
        .expect("r3a written");
    let r3a_text = std::fs::read_to_string(&r3a).unwrap();
    std::fs::remove_file(&r3a).unwrap();
    p.write("src/models.rs", &description(&v2));
    p.qvdiff(&["migrate", "-m", "project description", "--rev-id", "r3b"])
        .expect_code(0);
    std::fs::write(&r3a, r3a_text).unwrap();
    let v3 = description(&priority(&v2));
    p.write("src/models.rs", &v3);
    p.qvdiff(&["check"]).expect_code(1);
    p.qvdiff(&[
        "merge",
        "-m",
        "join priority and description",
        "--rev-id",
        "r4",
    ])
    .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);
    // Reviewing the head (the merge) says what a merge does.
    let md = p.qvdiff(&["review"]).expect_code(0).stdout;
    assert!(md.contains("This merge joins 2 branches"), "{md}");
    assert!(md.contains("It changes no schema of its own."), "{md}");
    on_db(&["upgrade"]).expect_code(0);
    on_db(&["check"]).expect_code(0);
    assert_eq!(tracker_tasks(db, "summary"), tasks_v1);
    assert_eq!(
        db.rows("SELECT CAST(id AS TEXT) || '|' || CAST(priority AS TEXT) FROM tasks ORDER BY id"),
        ["1|3", "2|3", "3|3", "4|3"]
    );
    db.exec("UPDATE projects SET description = 'chores' WHERE id = 1; UPDATE tasks SET priority = 1 WHERE id = 4;");
    assert_eq!(tracker_links(db, "task_labels"), links);

    // 4. Back to r2 (the merge and both branches undone), then forward to head again.
    on_db(&["downgrade", "r2"]).expect_code(0);
    assert_eq!(tracker_tasks(db, "summary"), tasks_v1);
    assert_eq!(tracker_links(db, "task_labels"), links);
    let columns = match db {
        TrackerDb::Sqlite(_) => "SELECT name FROM pragma_table_info('tasks')",
        TrackerDb::Postgres(_) => {
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = \
             'public' AND table_name = 'tasks'"
        }
    };
    let mut task_columns = db.rows(columns);
    task_columns.sort();
    assert_eq!(task_columns, ["id", "parent_id", "project_id", "summary"]);
    on_db(&["upgrade"]).expect_code(0);
    assert_eq!(tracker_tasks(db, "summary"), tasks_v1);
    assert_eq!(tracker_links(db, "task_labels"), links);
    // What the branches added comes back as the models say: the default, no description.
    assert_eq!(
        db.rows(
            "SELECT CAST(t.id AS TEXT) || '|' || CAST(t.priority AS TEXT) || '|' || \
             COALESCE(p.description, '-') FROM tasks t JOIN projects p ON p.id = t.project_id \
             ORDER BY t.id"
        ),
        ["1|3|-", "2|3|-", "3|3|-", "4|3|-"]
    );
    // And the self-reference still holds: deleting a parent clears its children's link.
    db.exec("DELETE FROM tasks WHERE id = 1;");
    assert_eq!(
        tracker_tasks(db, "summary"),
        ["2|1|-|pack books", "3|1|2|buy boxes", "4|2|-|report"]
    );
    assert_eq!(tracker_links(db, "task_labels"), ["2|1", "2|2", "4|2"]);
    on_db(&["check"]).expect_code(0);

    // 5. Tags get a code, typed as text at first; one of them is not a number.
    let tag_end = "    pub name: String,\n}\n\n#[derive(Model)]\n#[model(table = \"task_labels\"";
    assert!(v3.contains(tag_end), "{v3}");
    let with_code =
        |field: &str| v3.replace(tag_end, &tag_end.replacen("}", &format!("{field}\n}}"), 1));
    p.write("src/models.rs", &with_code("    pub code: Option<String>,"));
    p.qvdiff(&["migrate", "-m", "tag codes", "--rev-id", "r5"])
        .expect_code(0);
    on_db(&["upgrade"]).expect_code(0);
    db.exec(
        "UPDATE tags SET code = '12' WHERE id = 1; UPDATE tags SET code = '#f00' WHERE id = 2;",
    );
    let tag_codes = |db: &TrackerDb| {
        db.rows(
            "SELECT CAST(id AS TEXT) || '|' || name || '|' || COALESCE(CAST(code AS TEXT), '-') \
             FROM tags ORDER BY id",
        )
    };
    assert_eq!(tag_codes(db), ["1|urgent|12", "2|later|#f00"]);

    // 6. The code becomes a number: `#f00` does not convert, so upgrade refuses with the count
    //    and the key, and the database is as it was (SQLite: byte-identical).
    p.write("src/models.rs", &with_code("    pub code: Option<i64>,"));
    p.qvdiff(&["migrate", "-m", "tag codes as numbers", "--rev-id", "r6"])
        .expect_code(0);
    let bytes = |db: &TrackerDb| match db {
        TrackerDb::Sqlite(path) => std::fs::read(path).unwrap(),
        TrackerDb::Postgres(_) => Vec::new(),
    };
    let (bytes_before, ledger_before) = (
        bytes(db),
        db.rows("SELECT revision FROM qvdiff_migrations ORDER BY revision"),
    );
    let refused = on_db(&["upgrade"]).expect_code(2);
    assert!(
        refused.stderr.contains("1 row of tags holds a value")
            && refused.stderr.contains(" code that does not convert")
            && refused.stderr.contains("(id 2)")
            && refused.stderr.contains("nothing was changed"),
        "{}",
        refused.stderr
    );
    assert_eq!(bytes(db), bytes_before, "database byte-identical");
    assert_eq!(
        db.rows("SELECT revision FROM qvdiff_migrations ORDER BY revision"),
        ledger_before
    );
    assert_eq!(tag_codes(db), ["1|urgent|12", "2|later|#f00"]);
    assert_eq!(
        tracker_tasks(db, "summary"),
        ["2|1|-|pack books", "3|1|2|buy boxes", "4|2|-|report"]
    );

    // 7. With the conversion in the model (`using`, one expression both dialects run), it goes
    //    through: the number is kept, the colour becomes NULL, every other row as it was.
    let r6 = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with("r6_"))
        .expect("r6 written");
    std::fs::remove_file(r6).unwrap();
    p.write(
        "src/models.rs",
        &with_code(
            "    #[column(using = \"CAST(nullif(code, '#f00') AS INTEGER)\")]\n    pub code: Option<i64>,",
        ),
    );
    p.qvdiff(&["migrate", "-m", "tag codes as numbers", "--rev-id", "r6"])
        .expect_code(0);
    on_db(&["upgrade"]).expect_code(0);
    assert_eq!(tag_codes(db), ["1|urgent|12", "2|later|-"]);
    let stored = match db {
        TrackerDb::Sqlite(_) => "SELECT typeof(code) FROM tags WHERE id = 1",
        TrackerDb::Postgres(_) => "SELECT pg_typeof(code)::text FROM tags WHERE id = 1",
    };
    assert_eq!(
        db.rows(stored),
        [match db {
            TrackerDb::Sqlite(_) => "integer",
            TrackerDb::Postgres(_) => "bigint",
        }]
    );
    assert_eq!(
        tracker_tasks(db, "summary"),
        ["2|1|-|pack books", "3|1|2|buy boxes", "4|2|-|report"]
    );
    assert_eq!(tracker_links(db, "task_labels"), ["2|1", "2|2", "4|2"]);
    on_db(&["check"]).expect_code(0);
}

#[test]
fn a_new_user_builds_a_task_tracker_on_sqlite() {
    let p = Project::with_models(&[]);
    let db = TrackerDb::Sqlite(p.path("app.db"));
    task_tracker_story(&p, &db);
}

#[test]
fn a_new_user_builds_a_task_tracker_on_postgres() {
    let Some(server) = qvdiff_postgres::testing::TestDatabase::create("task_tracker") else {
        return;
    };
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    std::fs::create_dir_all(p.path("migrations")).unwrap();
    task_tracker_story(&p, &TrackerDb::Postgres(server));
}
