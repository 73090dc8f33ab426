//! Working as a team on one history, with real rows in real SQLite files (and a real PostgreSQL
//! server where one is configured): several heads in CI, audited acceptance of an edited applied
//! file, squashing, rebasing, adopting drift.

use super::support::{Project, Run};
use rusqlite::Connection;
use std::path::Path;

/// Models of the first revision: users and their items.
pub const MODELS: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 100)]
    pub email: String,
}

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id")]
    pub user_id: i64,
    pub title: String,
}
"#;

/// `MODELS` with `field` added to the struct whose last line is `after`.
pub fn with_field(models: &str, after: &str, field: &str) -> String {
    assert!(models.contains(after), "{after} not in the models");
    models.replacen(after, &format!("{after}    pub {field},\n"), 1)
}

/// `MODELS` with a nullable `name` on users.
pub fn with_user_name(models: &str) -> String {
    with_field(models, "    pub email: String,\n", "name: Option<String>")
}

/// `MODELS` with a nullable `notes` on items.
pub fn with_item_notes(models: &str) -> String {
    with_field(models, "    pub title: String,\n", "notes: Option<String>")
}

/// A SQLite project whose first revision `r1` creates users and items.
pub fn sqlite_project() -> Project {
    let p = Project::with_models(&[("src/models.rs", MODELS)]);
    p.qvdiff(&["migrate", "-m", "users and items", "--rev-id", "r1"])
        .expect_code(0);
    p
}

/// Adds `models` and writes the migration `rev`.
pub fn migrate(p: &Project, models: &str, rev: &str, message: &str) -> Run {
    p.write("src/models.rs", models);
    p.qvdiff(&["--no-input", "migrate", "-m", message, "--rev-id", rev])
        .expect_code(0)
}

/// The rows of `sql` as text, one string per row with columns joined by `|`.
pub fn rows(db: &Path, sql: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| {
            let mut cols = Vec::new();
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i)?;
                cols.push(match v {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Real(f) => f.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                });
            }
            Ok(cols.join("|"))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Runs SQL on a SQLite file.
pub fn exec(db: &Path, sql: &str) {
    Connection::open(db).unwrap().execute_batch(sql).unwrap();
}

/// The ledger's revisions, in applied order.
pub fn ledger(db: &Path) -> Vec<String> {
    rows(db, "SELECT revision FROM qvdiff_migrations ORDER BY rowid")
}

/// The migration file of `rev` in `migrations/`.
pub fn file_of(p: &Project, rev: &str) -> String {
    std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&format!("{rev}_")) && n.ends_with(".sql"))
        .map(|n| format!("migrations/{n}"))
        .unwrap_or_else(|| panic!("no file for {rev}"))
}

#[test]
fn check_exits_1_on_several_heads_naming_them_and_how_to_join_them() {
    let p = sqlite_project();
    migrate(&p, &with_user_name(MODELS), "r2_mine", "user name");
    // A teammate's branch, written from r1 too: move the first file away while it is written.
    let mine = file_of(&p, "r2_mine");
    let mine_text = p.read(&mine);
    std::fs::remove_file(p.path(&mine)).unwrap();
    migrate(&p, &with_item_notes(MODELS), "r2_theirs", "item notes");
    p.write(&mine, &mine_text);
    p.write("src/models.rs", &with_item_notes(&with_user_name(MODELS)));

    let check = p.qvdiff(&["check"]).expect_code(1);
    assert!(check.stdout.contains("have 2 heads"), "{}", check.stdout);
    assert!(
        check.stdout.contains("r2_mine  user name"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("r2_theirs  item notes"),
        "{}",
        check.stdout
    );
    assert!(check.stdout.contains("qvdiff merge"), "{}", check.stdout);
    assert!(check.stdout.contains("qvdiff rebase"), "{}", check.stdout);

    // Merged, the history has one head again and check passes.
    p.qvdiff(&["merge", "-m", "join", "--rev-id", "r3"])
        .expect_code(0);
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    exec(
        &p.path("app.db"),
        "INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'Ann'); \
         INSERT INTO items (id, user_id, title, notes) VALUES (1, 1, 'lamp', 'n');",
    );
    assert_eq!(
        rows(&p.path("app.db"), "SELECT id, email, name FROM users"),
        ["1|a@x|Ann"]
    );
}
