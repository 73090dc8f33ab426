//! The server workflow in one command, `migrate --db URL -m MSG --apply`, on a terminal (a
//! pseudo-terminal) and without one; `upgrade` and `downgrade` asking on a terminal before
//! steps that destroy data the database holds; and `restore`: which backup, asked first on a
//! terminal, `--revision`, and the rows a restore takes out.

use super::support::{run_on_terminal, Project};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

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

fn with_notes() -> String {
    V1.replace(
        "pub title: String,",
        "pub title: String,\n    pub notes: Option<String>,",
    )
}

/// A project whose database is at its first revision, `r1`, with two items; the models then
/// gain `items.notes` (not migrated yet).
fn live_app() -> Project {
    let p = Project::with_models(&[("src/models.rs", V1)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    Connection::open(p.path("app.db"))
        .unwrap()
        .execute_batch("INSERT INTO items (id, title) VALUES (1, 'lamp'), (2, 'desk');")
        .unwrap();
    p.write("src/models.rs", &with_notes());
    p
}

fn columns(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info('items')")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn titles(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT title FROM items ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn ledger(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT revision FROM qvdiff_migrations ORDER BY revision")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn backups(p: &Project) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(p.path("backups")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    files
}

const APPLY: [&str; 8] = [
    "migrate",
    "--db",
    "sqlite://app.db",
    "-m",
    "add notes",
    "--rev-id",
    "r2",
    "--apply",
];

#[test]
fn migrate_apply_on_a_terminal_shows_the_file_asks_and_upgrades_after_a_backup() {
    let p = live_app();
    let run = run_on_terminal(p.root(), &APPLY, &[("Apply to app.db? [y/N]", "y")]).expect_code(0);
    let shown = &run.stdout;
    // The summary block and the SQL come before the question.
    let question = shown.find("Apply to app.db?").unwrap();
    let summary = shown.find("-- + items.notes").expect(shown);
    let sql = shown
        .find("ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;")
        .expect(shown);
    assert!(summary < question && sql < question, "{shown}");
    assert!(shown.contains("Backed up the database to"), "{shown}");
    assert!(shown.contains("Applied r2 add notes"), "{shown}");

    let db = p.path("app.db");
    assert!(columns(&db).contains(&"notes".to_string()));
    assert_eq!(titles(&db), ["lamp", "desk"]);
    assert_eq!(ledger(&db), ["r1", "r2"]);
    assert!(p.path("migrations/r2_add_notes.sql").is_file());
    // The backup is the database before the change: r1, both rows, no notes column.
    let backups = backups(&p);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].to_string_lossy().ends_with(".r1.bak"));
    assert_eq!(titles(&backups[0]), ["lamp", "desk"]);
    assert!(!columns(&backups[0]).contains(&"notes".to_string()));
}

#[test]
fn migrate_apply_answered_no_applies_nothing_and_keeps_the_file_for_review() {
    let p = live_app();
    let db_before = std::fs::read(p.path("app.db")).unwrap();
    let run = run_on_terminal(p.root(), &APPLY, &[("Apply to app.db? [y/N]", "n")]).expect_code(0);
    assert!(run.stdout.contains("Not applied"), "{}", run.stdout);
    assert_eq!(std::fs::read(p.path("app.db")).unwrap(), db_before);
    assert!(backups(&p).is_empty());
    let file = p.read("migrations/r2_add_notes.sql");
    assert!(file.contains("ADD COLUMN \"notes\""), "{file}");
    // The file stays pending, for `upgrade` after review.
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(1);
    p.qvdiff(&["upgrade"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2"]);
}

#[test]
fn migrate_apply_with_no_input_needs_yes_and_with_it_applies_without_asking() {
    let p = live_app();
    let before = p.snapshot();
    let mut args = APPLY.to_vec();
    args.insert(0, "--no-input");
    let run = p.qvdiff(&args).expect_code(2);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before, "a refused --apply writes nothing");

    args.push("--yes");
    let run = p.qvdiff(&args).expect_code(0);
    assert!(!run.stderr.contains("[y/N]"), "{}", run.stderr);
    assert!(run.stdout.contains("-- + items.notes"), "{}", run.stdout);
    let db = p.path("app.db");
    assert!(columns(&db).contains(&"notes".to_string()));
    assert_eq!(titles(&db), ["lamp", "desk"]);
    assert_eq!(ledger(&db), ["r1", "r2"]);
    assert_eq!(backups(&p).len(), 1);
}

/// r1 (created), r2 (backup labelled r1), r3 (backup labelled r2); two items.
fn three_upgrades() -> Project {
    let p = live_app();
    p.qvdiff(&["--no-input", "migrate", "-m", "notes", "--rev-id", "r2"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    p.write(
        "src/models.rs",
        &with_notes().replace(
            "pub notes: Option<String>,",
            "pub notes: Option<String>,\n    pub color: Option<String>,",
        ),
    );
    p.qvdiff(&["--no-input", "migrate", "-m", "color", "--rev-id", "r3"])
        .expect_code(0);
    p.qvdiff(&["upgrade"]).expect_code(0);
    p
}

#[test]
fn restore_says_which_backup_and_asks_first_on_a_terminal() {
    let p = three_upgrades();
    let db = p.path("app.db");
    let before = std::fs::read(&db).unwrap();
    let question = "Restore app.db from this backup";
    let run = run_on_terminal(p.root(), &["restore", "latest"], &[(question, "n")]).expect_code(0);
    let newest = backups(&p)
        .into_iter()
        .find(|b| b.to_string_lossy().ends_with(".r2.bak"))
        .expect("the backup upgrade took before r3");
    let size = std::fs::metadata(&newest).unwrap().len();
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    // app.db.YYYYmmdd-HHMMSS.r2.bak: revision r2, taken at that time, its size.
    let stamp = &name["app.db.".len().."app.db.".len() + 15];
    let taken = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    assert!(
        run.stdout.contains(&format!(
            "revision r2, taken {taken}, {:.1} KiB",
            size as f64 / 1024.0
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Nothing was restored."),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);

    run_on_terminal(p.root(), &["restore", "latest"], &[(question, "y")]).expect_code(0);
    assert_eq!(ledger(&db), ["r1", "r2"]);
    assert!(!columns(&db).contains(&"color".to_string()));
}

#[test]
fn restore_revision_picks_the_backup_taken_before_that_revision() {
    let p = three_upgrades();
    let db = p.path("app.db");
    // Without a terminal nothing is asked.
    let run = p.qvdiff(&["restore", "--revision", "r3"]).expect_code(0);
    assert!(run.stderr.contains("revision r2,"), "{}", run.stderr);
    assert_eq!(ledger(&db), ["r1", "r2"]);
    // The backup restore took of the state at r3 is newer, but holds r2: r1's is picked.
    let run = p.qvdiff(&["restore", "--revision", "r2"]).expect_code(0);
    assert!(run.stderr.contains("revision r1,"), "{}", run.stderr);
    assert_eq!(ledger(&db), ["r1"]);
    assert_eq!(columns(&db), ["id", "title"]);
    assert_eq!(titles(&db), ["lamp", "desk"]);

    // r1 was applied when the database was created: no backup was taken before it.
    let before = p.snapshot();
    let run = p.qvdiff(&["restore", "--revision", "r1"]).expect_code(2);
    assert!(run.stderr.contains("before revision r1"), "{}", run.stderr);
    let run = p.qvdiff(&["restore", "--revision", "r9"]).expect_code(2);
    assert!(run.stderr.contains("r9"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before, "a refused restore changes nothing");
}

#[test]
fn restore_names_the_rows_it_takes_out_and_keeps_them_in_a_backup() {
    let p = three_upgrades();
    let db = p.path("app.db");
    // Written after the last upgrade's backup: a new item and a changed one.
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "INSERT INTO items (id, title) VALUES (3, 'chair');
             UPDATE items SET title = 'lamp (sold)' WHERE id = 1;",
        )
        .unwrap();
    let run = p.qvdiff(&["restore", "latest"]).expect_code(0);
    let kept = backups(&p)
        .into_iter()
        .find(|b| b.to_string_lossy().ends_with(".r3.bak"))
        .expect("the state before the restore is backed up");
    let kept_name = kept.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        run.stderr
            .contains("table items: 2 row(s) were in the database and are not in the restored one")
            && run.stderr.contains(&kept_name),
        "{}",
        run.stderr
    );
    assert_eq!(titles(&db), ["lamp", "desk"]);
    assert_eq!(titles(&kept), ["lamp (sold)", "desk", "chair"]);
}

#[test]
fn migrate_apply_refuses_a_database_with_pending_revisions_and_writes_nothing() {
    let p = live_app();
    // r2 is committed but not applied: a file planned from the live schema would repeat it.
    p.qvdiff(&["--no-input", "migrate", "-m", "notes", "--rev-id", "r2"])
        .expect_code(0);
    p.write(
        "src/models.rs",
        &with_notes().replace(
            "pub notes: Option<String>,",
            "pub notes: Option<String>,\n    pub color: Option<String>,",
        ),
    );
    let before = p.snapshot();
    let run = p
        .qvdiff(&[
            "--no-input",
            "migrate",
            "--db",
            "sqlite://app.db",
            "-m",
            "color",
            "--apply",
            "--yes",
        ])
        .expect_code(2);
    assert!(
        run.stderr.contains("app.db") && run.stderr.contains("pending: r2"),
        "{}",
        run.stderr
    );
    assert_eq!(p.snapshot(), before, "nothing written, nothing applied");
}

/// The same command against PostgreSQL: the question names the server's database (password
/// hidden), and `upgrade` applies the file there (no file backup: the server has its own).
#[test]
fn migrate_apply_on_a_terminal_applies_to_postgres() {
    let Some(db) = qvdiff_postgres::testing::TestDatabase::create("migrate_apply") else {
        return;
    };
    let p = Project::with_models(&[("src/models.rs", V1)]);
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let mut client = db.connect();
    client
        .batch_execute("INSERT INTO items (id, title) VALUES (1, 'lamp'), (2, 'desk')")
        .unwrap();
    p.write("src/models.rs", &with_notes());

    let args = [
        "migrate",
        "--db",
        &db.url,
        "-m",
        "add notes",
        "--rev-id",
        "r2",
        "--apply",
    ];
    // The URL carries the test server's TLS options after the database name.
    let run = run_on_terminal(p.root(), &args, &[("? [y/N]", "y")]).expect_code(0);
    assert!(
        run.stdout.contains("Apply to postgres://") && run.stdout.contains(&db.name),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ADD COLUMN \"notes\" text;"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Applied r2 add notes"),
        "{}",
        run.stdout
    );
    let rows: Vec<(i64, String, Option<String>)> = client
        .query("SELECT id, title, notes FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        rows,
        [(1, "lamp".to_string(), None), (2, "desk".to_string(), None)]
    );
    let ledger: Vec<String> = client
        .query(
            "SELECT revision FROM qvdiff_migrations ORDER BY revision",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ledger, ["r1", "r2"]);
}

#[test]
fn upgrade_and_downgrade_on_a_terminal_list_the_data_they_destroy_and_ask() {
    // r2 drops items.notes (two rows hold a note) and adds items.label.
    let p = Project::with_models(&[("src/models.rs", &with_notes())]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let db = p.path("app.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "INSERT INTO items (id, title, notes) VALUES (1, 'lamp', 'old'), (2, 'desk', NULL), \
             (3, 'chair', 'x');",
        )
        .unwrap();
    p.write(
        "src/models.rs",
        &V1.replace(
            "pub title: String,",
            "pub title: String,\n    pub label: Option<String>,",
        ),
    );
    p.qvdiff(&["migrate", "-m", "label", "--rev-id", "r2", "--no-input"])
        .expect_code(0);

    let question = "Run the upgrade? [y/N]";
    let before = std::fs::read(&db).unwrap();
    let run =
        run_on_terminal(p.root(), &["upgrade", "--no-backup"], &[(question, "n")]).expect_code(2);
    assert!(
        run.stdout
            .contains("This upgrade destroys data app.db holds now:")
            && run.stdout.contains(
                "r2 (migrations/r2_label.sql): items.notes: 2 values — drops data in items.notes"
            )
            && run.stdout.contains("nothing was changed"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "a declined upgrade changed the file"
    );

    run_on_terminal(p.root(), &["upgrade", "--no-backup"], &[(question, "y")]).expect_code(0);
    assert_eq!(ledger(&db), ["r1", "r2"]);
    assert!(!columns(&db).contains(&"notes".to_string()));

    // The way back drops items.label: asked only once a row holds a label.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("UPDATE items SET label = 'red' WHERE id = 1;")
        .unwrap();
    let run = run_on_terminal(
        p.root(),
        &["downgrade", "--no-backup"],
        &[("Run the downgrade? [y/N]", "y")],
    )
    .expect_code(0);
    assert!(
        run.stdout.contains(
            "r2 (migrations/r2_label.sql): items.label: 1 value — drops data in items.label"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(ledger(&db), ["r1"]);
    // With nothing to lose, nothing is asked: r2's up drops notes, which hold no value now.
    conn.execute_batch("UPDATE items SET notes = NULL;")
        .unwrap();
    let run = run_on_terminal(p.root(), &["upgrade", "--no-backup"], &[]).expect_code(0);
    assert!(!run.stdout.contains("destroys data"), "{}", run.stdout);
    assert_eq!(ledger(&db), ["r1", "r2"]);
}
