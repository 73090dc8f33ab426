//! The daily workflow on the example app and on small projects: migrate, check, upgrade,
//! downgrade, with real rows in real SQLite files.

use super::support::{example_app, Project};
use rusqlite::Connection;
use std::path::Path;

fn migration_files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
}

fn section<'a>(file: &'a str, marker: &str) -> &'a str {
    let start = file.find(marker).expect("marker") + marker.len();
    let rest = &file[start..];
    rest.find("-- qvdiff:")
        .map_or(rest, |end| &rest[..end])
        .trim()
}

fn query_strings(db: &Path, sql: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap();
    rows.map(|r| r.unwrap().unwrap_or_else(|| "NULL".into()))
        .collect()
}

#[test]
fn example_app_add_notes_field_writes_one_alter_and_check_turns_green() {
    let p = example_app();
    p.qvdiff(&["check"]).expect_code(0);
    let before = migration_files(&p);

    let models = p.read("examples/inventory/src/models.rs");
    let edited = models.replacen(
        "    pub description: Option<String>,\n",
        "    pub description: Option<String>,\n    pub notes: Option<String>,\n",
        1,
    );
    assert_ne!(models, edited);
    p.write("examples/inventory/src/models.rs", &edited);

    let check = p.qvdiff(&["check"]).expect_code(1);
    assert!(
        check.stdout.contains("add column items.notes"),
        "{}",
        check.stdout
    );

    let run = p
        .qvdiff(&["migrate", "-m", "add notes field"])
        .expect_code(0);
    let after = migration_files(&p);
    assert_eq!(after.len(), before.len() + 1, "exactly one new file");
    let new_file = after.iter().find(|f| !before.contains(f)).unwrap();
    assert!(new_file.ends_with("_add_notes_field.sql"), "{new_file}");
    let text = p.read(&format!("migrations/{new_file}"));
    assert_eq!(
        section(&text, "-- qvdiff:up"),
        "ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;"
    );
    assert_eq!(
        section(&text, "-- qvdiff:down"),
        "ALTER TABLE \"items\" DROP COLUMN \"notes\";  -- DESTRUCTIVE: drops data in items.notes"
    );
    assert!(text.contains("-- message: add notes field\n"), "{text}");
    assert!(
        run.stderr.contains("DESTRUCTIVE"),
        "the console lists the destructive down: {}",
        run.stderr
    );

    p.qvdiff(&["check"]).expect_code(0);
}

#[test]
fn no_changes_writes_nothing() {
    let p = example_app();
    let before = p.snapshot();
    let run = p.qvdiff(&["migrate", "-m", "nothing"]).expect_code(0);
    assert!(run.stderr.contains("No changes detected"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before);
}

const ITEMS_V1: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
}

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "cascade")]
    pub user_id: i64,
    pub title: String,
    pub url: Option<String>,
    pub qty: i64,
}
"#;

/// A project at revision r1 of ITEMS_V1, upgraded, with users and items rows.
fn project_with_rows() -> Project {
    let p = Project::with_models(&[("src/models.rs", ITEMS_V1)]);
    p.qvdiff(&["migrate", "-m", "v1", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO users VALUES (1, 'ann'), (2, 'bob');
         INSERT INTO items VALUES (1, 1, 'lamp', 'http://a', 3), (2, 2, 'desk', NULL, 1), (3, 1, 'chair', 'http://c', 7);",
    )
    .unwrap();
    p
}

#[test]
fn migrate_with_db_reads_the_live_database_without_changing_a_byte() {
    let p = project_with_rows();
    let db_before = std::fs::read(p.path("app.db")).unwrap();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace(
            "pub qty: i64,",
            "pub qty: i64,\n    pub notes: Option<String>,",
        ),
    );
    p.qvdiff(&["migrate", "--db", "sqlite://app.db", "-m", "notes"])
        .expect_code(0);
    assert_eq!(
        std::fs::read(p.path("app.db")).unwrap(),
        db_before,
        "the live database is only read"
    );
    assert!(!p.path("app.db-wal").exists());
    assert_eq!(migration_files(&p).len(), 2);
}

#[test]
fn new_not_null_column_without_value_is_refused_naming_the_attribute() {
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace("pub qty: i64,", "pub qty: i64,\n    pub sku: String,"),
    );
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "--no-input", "-m", "sku"])
        .expect_code(2);
    assert!(run.stderr.contains("items.sku"), "{}", run.stderr);
    assert!(
        run.stderr.contains("#[column(default = …)]"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("#[column(backfill = …)]"),
        "{}",
        run.stderr
    );
    assert_eq!(p.snapshot(), before, "nothing written");
}

#[test]
fn new_not_null_column_value_can_be_answered_at_the_prompt() {
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace("pub qty: i64,", "pub qty: i64,\n    pub sku: String,"),
    );
    let run = p
        .qvdiff_with_stdin(&["migrate", "-m", "sku", "--rev-id", "r2"], "'none'\n")
        .expect_code(0);
    assert!(
        run.stderr.contains("items.sku is a new NOT NULL column"),
        "{}",
        run.stderr
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT sku FROM items ORDER BY id"),
        ["none", "none", "none"]
    );
}

/// A typo in an expression typed at the prompt is the typist's error: the column and SQLite's
/// own message are shown and the question comes again; the next answer is used.
#[test]
fn an_answer_sqlite_cannot_evaluate_is_shown_with_its_message_and_asked_again() {
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace("pub qty: i64,", "pub qty: i64,\n    pub slug: String,"),
    );
    let run = p
        .qvdiff_with_stdin(
            &["migrate", "-m", "slug", "--rev-id", "r2"],
            "lowr(title)\nlower(titel)\nlower(title)\n",
        )
        .expect_code(0);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", run.stderr);
    assert!(
        errors[0].contains("items.slug: the value `lowr(title)` cannot be evaluated")
            && errors[0].contains("SQLite: no such function: lowr"),
        "{}",
        run.stderr
    );
    assert!(
        errors[1].contains("SQLite: no such column: titel"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("qvdiff bug"), "{}", run.stderr);
    assert_eq!(
        run.stderr
            .matches("items.slug is a new NOT NULL column")
            .count(),
        3,
        "{}",
        run.stderr
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT slug FROM items ORDER BY id"),
        ["lamp", "desk", "chair"]
    );

    // No answer that works (input ends): nothing is written.
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace("pub qty: i64,", "pub qty: i64,\n    pub slug: String,"),
    );
    let before_bad = p.snapshot();
    let run = p
        .qvdiff_with_stdin(
            &["migrate", "-m", "slug", "--rev-id", "r2"],
            "lowr(title)\n",
        )
        .expect_code(2);
    assert!(
        run.stderr.contains("no such function: lowr"),
        "{}",
        run.stderr
    );
    assert_eq!(p.snapshot(), before_bad, "nothing written");
}

/// A table that disappears while one with the same columns appears is asked about like a
/// column; yes renames it in place: its rows stay, and the foreign keys pointing at it follow.
#[test]
fn possible_table_rename_is_asked_and_yes_keeps_rows_and_incoming_foreign_keys() {
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1
            .replace(
                "#[model(table = \"users\")]",
                "#[model(table = \"people\")]",
            )
            .replace("references = \"users.id\"", "references = \"people.id\""),
    );
    let run = p
        .qvdiff_with_stdin(&["migrate", "-m", "people", "--rev-id", "r2"], "y\n")
        .expect_code(0);
    assert!(
        run.stderr
            .contains("Did you rename table users to people? [y/N]"),
        "{}",
        run.stderr
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT name FROM people ORDER BY id"),
        ["ann", "bob"]
    );
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM people WHERE id = 1;")
        .unwrap();
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT title FROM items ORDER BY id"),
        ["desk"]
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}

#[test]
fn a_table_renamed_with_a_new_column_is_pointed_at_renamed_from_which_keeps_its_rows() {
    let p = project_with_rows();
    // `items` becomes `products` and gains a column in one change: no longer the same columns,
    // so nobody is asked; the drop must at least say how to keep the rows.
    let products = ITEMS_V1
        .replace(
            "#[model(table = \"items\")]",
            "#[model(table = \"products\")]",
        )
        .replace(
            "pub qty: i64,",
            "pub qty: i64,\n    pub sku: Option<String>,",
        );
    p.write("src/models.rs", &products);
    let run = p
        .qvdiff_with_stdin(&["migrate", "-m", "products", "--rev-id", "r2"], "")
        .expect_code(0);
    assert!(
        run.stderr.contains(
            "table items is dropped and table products created, with 5 of the 5 columns of \
             items: if products is items renamed, add #[model(renamed_from = \"items\")] to its \
             struct to keep the rows"
        ),
        "{}",
        run.stderr
    );
    std::fs::remove_file(p.path("migrations/r2_products.sql")).unwrap();
    // With the model saying so, the table is renamed and gains the column, rows kept.
    p.write(
        "src/models.rs",
        &products.replace(
            "#[model(table = \"products\")]",
            "#[model(table = \"products\", renamed_from = \"items\")]",
        ),
    );
    let run = p
        .qvdiff(&["migrate", "-m", "products", "--rev-id", "r2"])
        .expect_code(0);
    assert!(!run.stderr.contains("is dropped"), "{}", run.stderr);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(
            &p.path("app.db"),
            "SELECT title || '/' || coalesce(sku, '-') FROM products ORDER BY id"
        ),
        ["lamp/-", "desk/-", "chair/-"]
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}

#[test]
fn a_migrations_folder_that_does_not_exist_is_named_by_check_and_migrate() {
    let p = project_with_rows();
    // A typo in `migrations`: the history looks empty, so everything looks new.
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migration\"\ndatabase = \"sqlite://app.db\"\n",
    );
    let check = p.qvdiff(&["check"]).expect_code(1);
    assert!(
        check.stdout.contains(
            "The migrations folder migration does not exist: check the migrations paths in \
             qvdiff.toml."
        ),
        "{}",
        check.stdout
    );
    let run = p
        .qvdiff(&["migrate", "-m", "again", "--rev-id", "r9"])
        .expect_code(0);
    assert!(
        run.stderr
            .contains("Created the migrations folder migration, which did not exist"),
        "{}",
        run.stderr
    );
    // The folder exists now: nothing more is said.
    let check = p.qvdiff(&["check"]).expect_code(0);
    assert!(!check.stdout.contains("does not exist"), "{}", check.stdout);
    // The applied history is still where it was, and `upgrade` names the way out.
    let upgrade = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(
        upgrade
            .stderr
            .contains("check that `migrations` in qvdiff.toml"),
        "{}",
        upgrade.stderr
    );
}

#[test]
fn possible_rename_is_asked_and_no_input_treats_it_as_drop_and_add() {
    let renamed = ITEMS_V1.replace("pub url: Option<String>,", "pub link: Option<String>,");

    let p = project_with_rows();
    p.write("src/models.rs", &renamed);
    let run = p
        .qvdiff(&["migrate", "--no-input", "-m", "link", "--rev-id", "r2"])
        .expect_code(0);
    assert!(
        run.stderr
            .contains("treating items.url -> items.link as a drop and an add"),
        "{}",
        run.stderr
    );
    let text = p.read(&migration_files(&p)[1].pipe_path());
    assert!(text.contains("DROP COLUMN \"url\""), "{text}");

    let p = project_with_rows();
    p.write("src/models.rs", &renamed);
    let run = p
        .qvdiff_with_stdin(&["migrate", "-m", "link", "--rev-id", "r2"], "y\n")
        .expect_code(0);
    assert!(
        run.stderr
            .contains("Did you rename items.url to items.link? [y/N]"),
        "{}",
        run.stderr
    );
    let text = p.read(&migration_files(&p)[1].pipe_path());
    assert!(
        text.contains("ALTER TABLE \"items\" RENAME COLUMN \"url\" TO \"link\";"),
        "{text}"
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT link FROM items ORDER BY id"),
        ["http://a", "NULL", "http://c"]
    );
}

trait PipePath {
    fn pipe_path(&self) -> String;
}

impl PipePath for String {
    fn pipe_path(&self) -> String {
        format!("migrations/{self}")
    }
}

#[test]
fn a_migration_that_fails_verification_is_never_written() {
    // An invalid CHECK expression: the generated SQL cannot apply, which verification finds on
    // the in-memory copy before anything is written.
    let p = project_with_rows();
    let broken = ITEMS_V1.replace(
        "#[model(table = \"items\")]",
        "#[model(table = \"items\")]\n#[model(check(name = \"qty_positive\", expr = \"qty >\"))]",
    );
    p.write("src/models.rs", &broken);
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "--no-input", "-m", "check"])
        .expect_code(2);
    assert!(run.stderr.contains("verif"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before);
}

#[test]
fn existing_rev_id_is_refused() {
    let p = project_with_rows();
    p.write(
        "src/models.rs",
        &ITEMS_V1.replace(
            "pub qty: i64,",
            "pub qty: i64,\n    pub notes: Option<String>,",
        ),
    );
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "-m", "again", "--rev-id", "r1"])
        .expect_code(2);
    assert!(
        run.stderr.contains("revision r1 already exists"),
        "{}",
        run.stderr
    );
    assert_eq!(p.snapshot(), before);
}

#[test]
fn changes_keep_every_row_through_up_and_down_with_incoming_foreign_keys() {
    // items is referenced by sales; change items' qty type, make url NOT NULL with backfill,
    // add a unique, change the users FK action, drop title's neighbour, and rename a column.
    let p = project_with_rows();
    let v1_with_sales = format!(
        "{ITEMS_V1}\n#[derive(Model)]\n#[model(table = \"sales\")]\npub struct Sale {{\n    #[column(primary_key)]\n    pub id: i64,\n    #[column(references = \"items.id\", on_delete = \"cascade\")]\n    pub item_id: i64,\n    pub price: f64,\n}}\n"
    );
    p.write("src/models.rs", &v1_with_sales);
    p.qvdiff(&["migrate", "--no-input", "-m", "sales", "--rev-id", "r2"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("INSERT INTO sales VALUES (1, 1, 9.5), (2, 3, 20.0), (3, 3, 21.25);")
        .unwrap();
    drop(conn);

    let v2 = v1_with_sales
        .replace("pub qty: i64,", "pub qty: f64,")
        .replace(
            "pub url: Option<String>,",
            "#[column(backfill = \"none\")]\n    pub url: String,",
        )
        .replace(
            "pub title: String,",
            "#[column(unique, renamed_from = \"title\")]\n    pub name: String,",
        )
        .replace(
            "on_delete = \"cascade\")]\n    pub user_id",
            "on_delete = \"restrict\")]\n    pub user_id",
        );
    p.write("src/models.rs", &v2);
    p.qvdiff(&[
        "migrate",
        "--no-input",
        "-m",
        "reshape items",
        "--rev-id",
        "r3",
    ])
    .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let db = p.path("app.db");
    assert_eq!(
        query_strings(
            &db,
            "SELECT name || '|' || url || '|' || qty || '|' || typeof(qty) FROM items ORDER BY id"
        ),
        [
            "lamp|http://a|3.0|real",
            "desk|none|1.0|real",
            "chair|http://c|7.0|real"
        ]
    );
    assert_eq!(
        query_strings(
            &db,
            "SELECT group_concat(item_id || ':' || price) FROM sales"
        ),
        ["1:9.5,3:20.0,3:21.25"]
    );
    assert_eq!(query_strings(&db, "PRAGMA integrity_check"), ["ok"]);
    assert!(query_strings(&db, "PRAGMA foreign_key_check").is_empty());
    p.qvdiff(&["check", "--db", "app.db"]).expect_code(0);

    p.qvdiff(&["downgrade", "--no-backup"]).expect_code(0);
    assert_eq!(query_strings(&db, "SELECT title || '|' || coalesce(url, 'NULL') || '|' || qty || '|' || typeof(qty) FROM items ORDER BY id"), [
        "lamp|http://a|3|integer",
        "desk|none|1|integer",
        "chair|http://c|7|integer"
    ]);
    assert_eq!(
        query_strings(
            &db,
            "SELECT group_concat(item_id || ':' || price) FROM sales"
        ),
        ["1:9.5,3:20.0,3:21.25"]
    );
    assert_eq!(query_strings(&db, "PRAGMA integrity_check"), ["ok"]);
    assert!(query_strings(&db, "PRAGMA foreign_key_check").is_empty());
}

#[test]
fn migrate_db_judges_a_column_becoming_not_null_by_the_live_rows() {
    let model = |notes: &str| {
        format!(
            "use qvdiff::Model;\n\n#[derive(Model)]\n#[model(table = \"items\")]\npub struct Item {{\n    \
             #[column(primary_key)]\n    pub id: i64,\n    pub notes: {notes},\n}}\n"
        )
    };
    let p = Project::with_models(&[("src/models.rs", &model("Option<String>"))]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("INSERT INTO items (id, notes) VALUES (1, 'a'), (2, NULL), (3, NULL);")
        .unwrap();
    p.write("src/models.rs", &model("String"));

    // Two NULLs now: a value is needed, and the message says how many rows need it.
    let before = p.snapshot();
    let refused = p
        .qvdiff(&["migrate", "-m", "required", "--db", "app.db", "--no-input"])
        .expect_code(2);
    assert!(
        refused
            .stderr
            .contains("items.notes becomes NOT NULL (2 rows hold NULL now)"),
        "{}",
        refused.stderr
    );
    assert_eq!(p.snapshot(), before, "a refused migrate wrote something");

    // None now: no value is asked, and the file fills nothing in.
    conn.execute_batch("UPDATE items SET notes = 'b' WHERE notes IS NULL;")
        .unwrap();
    drop(conn);
    p.qvdiff(&[
        "migrate",
        "-m",
        "required",
        "--db",
        "app.db",
        "--no-input",
        "--rev-id",
        "r2",
    ])
    .expect_code(0);
    let file = p.read(&format!("migrations/{}", migration_files(&p)[1]));
    let up = section(&file, "-- qvdiff:up");
    assert!(!up.contains("COALESCE"), "{up}");
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        query_strings(&p.path("app.db"), "SELECT notes FROM items ORDER BY id"),
        ["a", "b", "b"]
    );
}
