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
    // Reviewing the head (the merge) says what a merge does, not "No schema change".
    let md = p.qvdiff(&["review"]).expect_code(0).stdout;
    assert!(md.contains("## `r3`: join"), "{md}");
    assert!(
        md.contains("This merge joins 2 branches, ending at "),
        "{md}"
    );
    assert!(
        md.contains("`r2_mine`") && md.contains("`r2_theirs`"),
        "{md}"
    );
    assert!(md.contains("It changes no schema of its own."), "{md}");
    assert!(!md.contains("No schema change."), "{md}");
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

/// Rows for a fresh users and items: one user, one item of theirs.
const ONE_USER_ONE_ITEM: &str = "INSERT INTO users (id, email) VALUES (1, 'ann@x'); \
     INSERT INTO items (id, user_id, title) VALUES (7, 1, 'lamp');";

/// Writes the hand-written data migration `r2` (an UPDATE with a comment); returns its file.
fn write_data_migration(p: &Project) -> String {
    p.qvdiff(&[
        "migrate",
        "--empty",
        "-m",
        "lowercase emails",
        "--rev-id",
        "r2",
    ])
    .expect_code(0);
    let file = file_of(p, "r2");
    let text = p.read(&file).replace(
        "-- qvdiff:up\n",
        "-- qvdiff:up\nUPDATE users SET email = lower(email); -- normalise\n",
    );
    p.write(&file, &text);
    file
}

/// A data migration `r2` (an UPDATE) on top of [`sqlite_project`], applied with rows.
fn applied_data_migration() -> Project {
    let p = sqlite_project();
    write_data_migration(&p);
    p.qvdiff(&["upgrade", "r1", "--no-backup"]).expect_code(0);
    exec(
        &p.path("app.db"),
        "INSERT INTO users (id, email) VALUES (1, 'Ann@X'), (2, 'bob@y'); \
         INSERT INTO items (id, user_id, title) VALUES (1, 1, 'lamp'), (2, 2, 'desk');",
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    p
}

#[test]
fn accept_records_an_intended_edit_in_the_audit_and_upgrade_proceeds() {
    let p = applied_data_migration();
    let db = p.path("app.db");
    assert_eq!(
        rows(&db, "SELECT id, email FROM users ORDER BY id"),
        ["1|ann@x", "2|bob@y"]
    );
    let file = file_of(&p, "r2");
    let original = p.read(&file);
    // A fixed comment: the schema is the same, the checksum is not.
    p.write(
        &file,
        &original.replace("-- normalise", "-- normalise emails to lower case"),
    );
    let refused = p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
    assert!(
        refused.stderr.contains("qvdiff accept r2"),
        "{}",
        refused.stderr
    );

    // Without a reason, with a blank one, or for a revision that is not applied: refused.
    p.qvdiff(&["accept", "r2"]).expect_code(2);
    let blank = p.qvdiff(&["accept", "r2", "--reason", "  "]).expect_code(2);
    assert!(blank.stderr.contains("needs a reason"), "{}", blank.stderr);
    let before = ledger_checksums(&db);
    let accepted = p
        .qvdiff(&["accept", "r2", "--reason", "clearer comment"])
        .expect_code(0);
    assert!(accepted.stderr.contains("Accepted"), "{}", accepted.stderr);
    let after = ledger_checksums(&db);
    assert_ne!(before, after, "the ledger holds the new checksum");
    let audit = rows(
        &db,
        "SELECT revision, old_checksum, new_checksum, reason, accepted_at \
         FROM qvdiff_migrations_audit",
    );
    assert_eq!(audit.len(), 1, "{audit:?}");
    let fields: Vec<&str> = audit[0].split('|').collect();
    assert_eq!(fields[0], "r2");
    assert_eq!(fields[1], before[1]);
    assert_eq!(fields[2], after[1]);
    assert_eq!(fields[3], "clearer comment");
    assert!(
        fields[4].ends_with('Z') && fields[4].len() == 20,
        "{}",
        fields[4]
    );

    // Nothing left to accept; the next revision applies; history shows the audit; check is clean.
    let again = p
        .qvdiff(&["accept", "r2", "--reason", "again"])
        .expect_code(2);
    assert!(
        again.stderr.contains("nothing to accept"),
        "{}",
        again.stderr
    );
    migrate(&p, &with_item_notes(MODELS), "r3", "item notes");
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(ledger(&db), ["r1", "r2", "r3"]);
    let history = p.qvdiff(&["history"]).expect_code(0);
    assert!(
        history.stdout.contains("accepted (audit)"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("r2  checksum"),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("clearer comment"),
        "{}",
        history.stdout
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
    assert_eq!(
        rows(&db, "SELECT id, email FROM users ORDER BY id"),
        ["1|ann@x", "2|bob@y"]
    );
    assert_eq!(
        rows(
            &db,
            "SELECT id, user_id, title, notes FROM items ORDER BY id"
        ),
        ["1|1|lamp|NULL", "2|2|desk|NULL"]
    );
}

#[test]
fn accept_refuses_an_edit_that_changes_the_schema_and_writes_nothing() {
    let p = applied_data_migration();
    let db = p.path("app.db");
    let file = file_of(&p, "r2");
    let text = p.read(&file).replace(
        "-- qvdiff:up\n",
        "-- qvdiff:up\nCREATE INDEX \"ix_items_title\" ON \"items\" (\"title\");\n",
    );
    p.write(&file, &text);
    let before = std::fs::read(&db).unwrap();
    let refused = p
        .qvdiff(&["accept", "r2", "--reason", "add an index"])
        .expect_code(2);
    assert!(
        refused.stderr.contains("changes the schema"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("ix_items_title"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is unchanged"
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(2);
}

fn ledger_checksums(db: &Path) -> Vec<String> {
    rows(db, "SELECT checksum FROM qvdiff_migrations ORDER BY rowid")
}

/// A PostgreSQL-only project (no database in the config) whose first revision `r1` creates
/// users and items.
pub fn postgres_project() -> Project {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    p.write("src/models.rs", MODELS);
    p.qvdiff(&["migrate", "-m", "users and items", "--rev-id", "r1"])
        .expect_code(0);
    p
}

/// Rows of `sql` on a server, columns as text joined by `|`.
pub fn pg_rows(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    row.get::<_, Option<String>>(i)
                        .unwrap_or_else(|| "NULL".to_string())
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[test]
fn accept_on_postgres_records_the_audit_and_upgrade_proceeds() {
    let Some(server) = qvdiff_postgres::testing::TestDatabase::create("team_accept") else {
        return;
    };
    let url = server.url.as_str();
    let p = postgres_project();
    let file = write_data_migration(&p);
    p.qvdiff(&["upgrade", "r1", "--db", url]).expect_code(0);
    let mut client = server.connect();
    client
        .batch_execute(
            "INSERT INTO users (id, email) VALUES (1, 'Ann@X'), (2, 'bob@y'); \
             INSERT INTO items (id, user_id, title) VALUES (1, 1, 'lamp');",
        )
        .unwrap();
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    p.write(
        &file,
        &p.read(&file).replace("-- normalise", "-- normalise emails"),
    );
    p.qvdiff(&["upgrade", "--db", url]).expect_code(2);

    // A schema-changing edit is refused, and nothing is written.
    let schema_edit = p.read(&file).replace(
        "-- qvdiff:up\n",
        "-- qvdiff:up\nCREATE INDEX \"ix_items_title\" ON \"items\" (\"title\");\n",
    );
    let comment_edit = p.read(&file);
    p.write(&file, &schema_edit);
    let refused = p
        .qvdiff(&["accept", "r2", "--reason", "index", "--db", url])
        .expect_code(2);
    assert!(
        refused.stderr.contains("changes the schema"),
        "{}",
        refused.stderr
    );
    let exists = pg_rows(
        &mut client,
        "SELECT (to_regclass('qvdiff_migrations_audit') IS NOT NULL)::text",
    );
    assert_eq!(exists, ["false"]);

    p.write(&file, &comment_edit);
    p.qvdiff(&["accept", "r2", "--reason", "clearer comment", "--db", url])
        .expect_code(0);
    let audit = pg_rows(
        &mut client,
        "SELECT a.revision, a.reason, (a.new_checksum = l.checksum)::text, \
         (a.old_checksum <> a.new_checksum)::text \
         FROM qvdiff_migrations_audit a JOIN qvdiff_migrations l USING (revision)",
    );
    assert_eq!(audit, ["r2|clearer comment|true|true"]);
    let history = p.qvdiff(&["history", "--db", url]).expect_code(0);
    assert!(
        history.stdout.contains("clearer comment"),
        "{}",
        history.stdout
    );

    p.write("src/models.rs", &with_item_notes(MODELS));
    p.qvdiff(&["migrate", "-m", "item notes", "--rev-id", "r3"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", url]).expect_code(0);
    p.qvdiff(&["check", "--db", url]).expect_code(0);
    assert_eq!(
        pg_rows(&mut client, "SELECT id::text, email FROM users ORDER BY id"),
        ["1|ann@x", "2|bob@y"]
    );
    assert_eq!(
        pg_rows(&mut client, "SELECT id::text, title, notes FROM items"),
        ["1|lamp|NULL"]
    );
}

/// `MODELS` with users.name, items.notes and items.price: the schema after r4.
fn models_r4() -> String {
    with_field(
        &with_item_notes(&with_user_name(MODELS)),
        "    pub notes: Option<String>,\n",
        "price: Option<f64>",
    )
}

/// A SQLite project with four revisions r1..r4 (users and items; users.name; items.notes;
/// items.price).
fn four_revisions() -> Project {
    let p = sqlite_project();
    migrate(&p, &with_user_name(MODELS), "r2", "user name");
    migrate(
        &p,
        &with_item_notes(&with_user_name(MODELS)),
        "r3",
        "item notes",
    );
    migrate(&p, &models_r4(), "r4", "item price");
    p
}

/// Upgrades `db` (a file in the project) to `target` and puts one user and one item in it.
fn database_at(p: &Project, db: &str, target: &str) {
    let url = format!("sqlite://{db}");
    p.qvdiff(&["upgrade", target, "--db", &url, "--no-backup"])
        .expect_code(0);
    exec(&p.path(db), ONE_USER_ONE_ITEM);
}

/// Every table's `CREATE` statement as SQLite stores it, sorted (the ledger and audit aside).
fn stored_schema(db: &Path) -> Vec<String> {
    let mut sql = rows(
        db,
        "SELECT name || ': ' || sql FROM sqlite_master \
         WHERE name NOT LIKE 'qvdiff_%' AND name NOT LIKE 'sqlite_%' AND sql IS NOT NULL",
    );
    sql.sort();
    sql
}

fn columns(db: &Path, table: &str) -> Vec<String> {
    let mut cols = rows(
        db,
        &format!("SELECT name FROM pragma_table_info('{table}')"),
    );
    cols.sort();
    cols
}

#[test]
fn squash_replaces_the_history_and_databases_at_n_minus_1_n_and_past_n_keep_working() {
    let p = four_revisions();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\n",
    );
    database_at(&p, "at_r2.db", "r2");
    database_at(&p, "at_r3.db", "r3");
    database_at(&p, "at_r4.db", "r4");
    database_at(&p, "inside.db", "r2");

    let run = p
        .qvdiff(&[
            "squash",
            "--to",
            "r3",
            "-m",
            "baseline",
            "--rev-id",
            "b1",
            "--keep-files",
        ])
        .expect_code(0);
    assert!(
        run.stderr.contains("replacing 3 revisions"),
        "{}",
        run.stderr
    );
    let baseline = p.read(&file_of(&p, "b1"));
    assert!(
        baseline.contains("-- qvdiff:squashes r1 r2 r3\n"),
        "{baseline}"
    );
    assert!(baseline.contains("-- parents:\n"), "{baseline}");
    assert!(baseline.contains("CREATE TABLE \"items\""), "{baseline}");
    p.qvdiff(&["check", "--lint"]).expect_code(0);
    let history = p.qvdiff(&["history"]).expect_code(0);
    assert!(
        history
            .stdout
            .contains("b1 (root; baseline replacing 3 revisions"),
        "{}",
        history.stdout
    );

    // A fresh database gets the baseline and r4: the same schema as one upgraded through r1..r4.
    p.qvdiff(&["upgrade", "--db", "sqlite://fresh.db", "--no-backup"])
        .expect_code(0);
    assert_eq!(ledger(&p.path("fresh.db")), ["b1", "r4"]);
    for table in ["users", "items"] {
        assert_eq!(
            columns(&p.path("fresh.db"), table),
            columns(&p.path("at_r4.db"), table)
        );
    }
    p.qvdiff(&["check", "--db", "sqlite://fresh.db"])
        .expect_code(0);

    // At N: the baseline counts as applied; upgrade applies r4 only.
    let current = p
        .qvdiff(&["current", "--db", "sqlite://at_r3.db"])
        .expect_code(0);
    assert_eq!(current.stdout, "b1  baseline\n");
    p.qvdiff(&["upgrade", "--db", "sqlite://at_r3.db", "--no-backup"])
        .expect_code(0);
    assert_eq!(ledger(&p.path("at_r3.db")), ["r1", "r2", "r3", "r4"]);

    // At N-1: the kept file of r3 brings it to the end of the range, then r4.
    let current = p
        .qvdiff(&["current", "--db", "sqlite://at_r2.db"])
        .expect_code(0);
    assert_eq!(
        current.stdout, "r2  (replaced by baseline b1)\n",
        "{}",
        current.stderr
    );
    let check = p
        .qvdiff(&["check", "--db", "sqlite://at_r2.db"])
        .expect_code(1);
    assert!(
        check.stdout.contains("2 pending revisions: r3, r4"),
        "{}",
        check.stdout
    );
    assert!(
        check
            .stdout
            .contains("inside the history baseline b1 replaces"),
        "{}",
        check.stdout
    );
    let up = p
        .qvdiff(&["upgrade", "--db", "sqlite://at_r2.db", "--no-backup"])
        .expect_code(0);
    assert!(up.stderr.contains("r3"), "{}", up.stderr);
    assert_eq!(ledger(&p.path("at_r2.db")), ["r1", "r2", "r3", "r4"]);

    // Past N: nothing to do; down to the baseline and up again.
    p.qvdiff(&["upgrade", "--db", "sqlite://at_r4.db", "--no-backup"])
        .expect_code(0);
    p.qvdiff(&[
        "downgrade",
        "b1",
        "--db",
        "sqlite://at_r4.db",
        "--no-backup",
    ])
    .expect_code(0);
    assert_eq!(ledger(&p.path("at_r4.db")), ["r1", "r2", "r3"]);
    assert_eq!(
        p.qvdiff(&["current", "--db", "sqlite://at_r4.db"]).stdout,
        "b1  baseline\n"
    );
    p.qvdiff(&["upgrade", "--db", "sqlite://at_r4.db", "--no-backup"])
        .expect_code(0);

    // Every database has the same schema and kept its rows.
    for db in ["at_r2.db", "at_r3.db", "at_r4.db"] {
        assert_eq!(
            stored_schema(&p.path(db)),
            stored_schema(&p.path("at_r3.db")),
            "{db}"
        );
        assert_eq!(
            rows(
                &p.path(db),
                "SELECT u.email, i.id, i.title FROM items i JOIN users u ON u.id = i.user_id"
            ),
            ["ann@x|7|lamp"],
            "{db}"
        );
        p.qvdiff(&["check", "--db", &format!("sqlite://{db}")])
            .expect_code(0);
    }

    // With the replaced files deleted, every database past the range keeps working, and one
    // inside it is refused with the way out.
    for rev in ["r1", "r2", "r3"] {
        std::fs::remove_file(p.path(&file_of(&p, rev))).unwrap();
    }
    p.qvdiff(&["check"]).expect_code(0);
    for db in ["at_r2.db", "at_r3.db", "at_r4.db", "fresh.db"] {
        let url = format!("sqlite://{db}");
        p.qvdiff(&["upgrade", "--db", &url, "--no-backup"])
            .expect_code(0);
        p.qvdiff(&["check", "--db", &url]).expect_code(0);
    }
    let before = std::fs::read(p.path("inside.db")).unwrap();
    let refused = p
        .qvdiff(&["upgrade", "--db", "sqlite://inside.db", "--no-backup"])
        .expect_code(2);
    assert!(
        refused.stderr.contains("baseline b1 replaces"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("r3"), "{}", refused.stderr);
    assert_eq!(std::fs::read(p.path("inside.db")).unwrap(), before);

    // Down to base from past the baseline empties the ledger of replaced rows too.
    p.qvdiff(&[
        "downgrade",
        "base",
        "--db",
        "sqlite://at_r4.db",
        "--no-backup",
    ])
    .expect_code(0);
    assert!(ledger(&p.path("at_r4.db")).is_empty());
    assert!(stored_schema(&p.path("at_r4.db")).is_empty());
}

/// The columns of every table on a server, `table.column type`, sorted (the ledger aside).
fn pg_columns(client: &mut postgres::Client) -> Vec<String> {
    pg_rows(
        client,
        "SELECT table_name || '.' || column_name || ' ' || data_type \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE 'qvdiff_%' ORDER BY 1",
    )
}

#[test]
fn squash_on_postgres_keeps_databases_before_at_and_past_the_baseline_working() {
    let Some(before) = qvdiff_postgres::testing::TestDatabase::create("team_squash_before") else {
        return;
    };
    let (Some(at), Some(past), Some(fresh)) = (
        qvdiff_postgres::testing::TestDatabase::create("team_squash_at"),
        qvdiff_postgres::testing::TestDatabase::create("team_squash_past"),
        qvdiff_postgres::testing::TestDatabase::create("team_squash_fresh"),
    ) else {
        return;
    };
    let p = postgres_project();
    for (models, rev, message) in [
        (with_user_name(MODELS), "r2", "user name"),
        (with_item_notes(&with_user_name(MODELS)), "r3", "item notes"),
    ] {
        p.write("src/models.rs", &models);
        p.qvdiff(&["migrate", "-m", message, "--rev-id", rev])
            .expect_code(0);
    }
    for (db, target) in [(&before, "r1"), (&at, "r2"), (&past, "r3")] {
        p.qvdiff(&["upgrade", target, "--db", &db.url])
            .expect_code(0);
        db.connect().batch_execute(ONE_USER_ONE_ITEM).unwrap();
    }
    p.qvdiff(&[
        "squash",
        "--to",
        "r2",
        "-m",
        "baseline",
        "--rev-id",
        "b1",
        "--keep-files",
    ])
    .expect_code(0);
    let baseline = p.read(&file_of(&p, "b1"));
    assert!(
        baseline.contains("-- qvdiff:squashes r1 r2\n"),
        "{baseline}"
    );
    assert!(
        baseline.contains("GENERATED BY DEFAULT AS IDENTITY"),
        "{baseline}"
    );
    p.qvdiff(&["check"]).expect_code(0);

    let current = p.qvdiff(&["current", "--db", &at.url]).expect_code(0);
    assert_eq!(current.stdout, "b1  baseline\n");
    for db in [&before, &at, &past, &fresh] {
        p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
        p.qvdiff(&["check", "--db", &db.url]).expect_code(0);
    }
    let mut reference = past.connect();
    let expected = pg_columns(&mut reference);
    assert!(
        expected.contains(&"items.notes text".to_string()),
        "{expected:?}"
    );
    for db in [&before, &at, &fresh] {
        assert_eq!(pg_columns(&mut db.connect()), expected, "{}", db.name);
    }
    for db in [&before, &at, &past] {
        assert_eq!(
            pg_rows(
                &mut db.connect(),
                "SELECT u.email, i.id::text, i.title FROM items i JOIN users u ON u.id = i.user_id"
            ),
            ["ann@x|7|lamp"],
            "{}",
            db.name
        );
    }
    assert_eq!(
        pg_rows(
            &mut fresh.connect(),
            "SELECT revision FROM qvdiff_migrations ORDER BY applied_order"
        ),
        ["b1", "r3"]
    );
    // Down to the baseline and up again, past it.
    p.qvdiff(&["downgrade", "b1", "--db", &past.url])
        .expect_code(0);
    assert_eq!(
        pg_rows(
            &mut reference,
            "SELECT revision FROM qvdiff_migrations ORDER BY applied_order"
        ),
        ["r1", "r2"]
    );
    p.qvdiff(&["upgrade", "--db", &past.url]).expect_code(0);
    assert_eq!(pg_columns(&mut reference), expected);
}

#[test]
fn adopt_writes_the_drift_as_a_migration_stamped_on_that_database_only() {
    let p = sqlite_project();
    for db in ["app.db", "other.db"] {
        database_at(&p, db, "head");
    }
    let app = p.path("app.db");
    // By hand in production: a column, filled.
    exec(
        &app,
        "ALTER TABLE items ADD COLUMN sku TEXT; UPDATE items SET sku = 'SKU-7';",
    );
    let check = p
        .qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(1);
    assert!(check.stdout.contains("drifted"), "{}", check.stdout);

    // Not at head: refused, nothing written.
    let before = p.snapshot();
    p.qvdiff(&["migrate", "--empty", "-m", "pending", "--rev-id", "r2"])
        .expect_code(0);
    let refused = p
        .qvdiff(&["adopt", "--db", "sqlite://app.db", "--rev-id", "r3"])
        .expect_code(2);
    assert!(refused.stderr.contains("not at head"), "{}", refused.stderr);
    std::fs::remove_file(p.path(&file_of(&p, "r2"))).unwrap();
    assert_eq!(p.snapshot(), before);

    let run = p
        .qvdiff(&[
            "--no-input",
            "adopt",
            "-m",
            "adopt sku",
            "--rev-id",
            "r2",
            "--db",
            "sqlite://app.db",
        ])
        .expect_code(0);
    assert!(run.stderr.contains("Stamped r2"), "{}", run.stderr);
    let text = p.read(&file_of(&p, "r2"));
    assert!(text.contains("-- parents: r1\n"), "{text}");
    assert!(
        text.contains("ALTER TABLE \"items\" ADD COLUMN \"sku\" TEXT;"),
        "{text}"
    );
    assert_eq!(ledger(&app), ["r1", "r2"]);
    assert_eq!(rows(&app, "SELECT id, sku FROM items"), ["7|SKU-7"]);
    // The models learn the column; both databases agree with the history.
    p.write(
        "src/models.rs",
        &with_field(MODELS, "    pub title: String,\n", "sku: Option<String>"),
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
    // Another database applies it normally, keeping its rows.
    let other = p.path("other.db");
    p.qvdiff(&["check", "--db", "sqlite://other.db"])
        .expect_code(1);
    p.qvdiff(&["upgrade", "--db", "sqlite://other.db", "--no-backup"])
        .expect_code(0);
    assert_eq!(ledger(&other), ["r1", "r2"]);
    assert_eq!(
        rows(&other, "SELECT id, title, sku FROM items"),
        ["7|lamp|NULL"]
    );
    p.qvdiff(&["check", "--db", "sqlite://other.db"])
        .expect_code(0);
    // No drift left: adopt writes nothing.
    let none = p
        .qvdiff(&["adopt", "--db", "sqlite://app.db"])
        .expect_code(0);
    assert!(none.stderr.contains("no drift"), "{}", none.stderr);
}

#[test]
fn adopt_on_postgres_writes_and_stamps_the_drift() {
    let Some(server) = qvdiff_postgres::testing::TestDatabase::create("team_adopt") else {
        return;
    };
    let Some(other) = qvdiff_postgres::testing::TestDatabase::create("team_adopt_other") else {
        return;
    };
    let p = postgres_project();
    for db in [&server, &other] {
        p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
        db.connect().batch_execute(ONE_USER_ONE_ITEM).unwrap();
    }
    let mut client = server.connect();
    client
        .batch_execute("ALTER TABLE items ADD COLUMN sku text; UPDATE items SET sku = 'SKU-7';")
        .unwrap();
    p.qvdiff(&["check", "--db", &server.url]).expect_code(1);
    p.qvdiff(&[
        "--no-input",
        "adopt",
        "-m",
        "adopt sku",
        "--rev-id",
        "r2",
        "--db",
        &server.url,
    ])
    .expect_code(0);
    let text = p.read(&file_of(&p, "r2"));
    assert!(text.contains("ADD COLUMN \"sku\" text;"), "{text}");
    assert_eq!(
        pg_rows(
            &mut client,
            "SELECT revision FROM qvdiff_migrations ORDER BY applied_order"
        ),
        ["r1", "r2"]
    );
    assert_eq!(
        pg_rows(&mut client, "SELECT id::text, sku FROM items"),
        ["7|SKU-7"]
    );
    p.write(
        "src/models.rs",
        &with_field(MODELS, "    pub title: String,\n", "sku: Option<String>"),
    );
    p.qvdiff(&["check", "--db", &server.url]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", &other.url]).expect_code(0);
    p.qvdiff(&["check", "--db", &other.url]).expect_code(0);
    assert_eq!(
        pg_rows(
            &mut other.connect(),
            "SELECT id::text, title, sku FROM items"
        ),
        ["7|lamp|NULL"]
    );
}

/// Two lines off r1 in one directory: `mine` (r2_mine, written with `mine_models`) and a
/// teammate's (r2_theirs, with `their_models`), as after pulling theirs into my branch.
fn two_lines(p: &Project, mine_models: &str, their_models: &str) {
    migrate(p, their_models, "r2_theirs", "item notes");
    let theirs = file_of(p, "r2_theirs");
    let theirs_text = p.read(&theirs);
    std::fs::remove_file(p.path(&theirs)).unwrap();
    migrate(p, mine_models, "r2_mine", "my change");
    p.write(&theirs, &theirs_text);
}

#[test]
fn rebase_reparents_my_unapplied_revision_and_keeps_every_row() {
    let p = sqlite_project();
    two_lines(&p, &with_user_name(MODELS), &with_item_notes(MODELS));
    let both = with_item_notes(&with_user_name(MODELS));
    p.write("src/models.rs", &both);
    // The teammate's revision is deployed on the project's database, with rows.
    database_at(&p, "app.db", "r2_theirs");
    let mine_before = p.read(&file_of(&p, "r2_mine"));

    let run = p.qvdiff(&["rebase", "--onto", "r2_theirs"]).expect_code(0);
    assert!(
        run.stderr.contains("re-parented, SQL unchanged"),
        "{}",
        run.stderr
    );
    let mine = p.read(&file_of(&p, "r2_mine"));
    assert_eq!(
        mine,
        mine_before.replace("-- parents: r1\n", "-- parents: r2_theirs\n")
    );
    let heads = p.qvdiff(&["heads"]).expect_code(0);
    assert_eq!(heads.stdout, "r2_mine  my change\n");
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["lint"]).expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(ledger(&p.path("app.db")), ["r1", "r2_theirs", "r2_mine"]);
    assert_eq!(
        rows(&p.path("app.db"), "SELECT u.email, u.name, i.title, i.notes FROM items i JOIN users u ON u.id = i.user_id"),
        ["ann@x|NULL|lamp|NULL"]
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);

    // Nothing left to move.
    let again = p.qvdiff(&["rebase", "--onto", "r2_mine"]).expect_code(2);
    assert!(
        again.stderr.contains("nothing to rebase"),
        "{}",
        again.stderr
    );
}

#[test]
fn rebase_refuses_revisions_a_database_applied_and_writes_nothing() {
    let p = sqlite_project();
    two_lines(&p, &with_user_name(MODELS), &with_item_notes(MODELS));
    database_at(&p, "app.db", "r2_mine");
    let before = p.snapshot();
    let refused = p.qvdiff(&["rebase", "--onto", "r2_theirs"]).expect_code(2);
    assert!(
        refused.stderr.contains("app.db has applied one"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("r2_mine"), "{}", refused.stderr);
    assert_eq!(p.snapshot(), before);
}

#[test]
fn rebase_replans_a_table_rebuild_that_would_lose_the_other_sides_column() {
    let p = sqlite_project();
    // Mine: items.title becomes nullable (a SQLite table rebuild copying items' columns).
    let mine_models = MODELS.replace(
        "    pub title: String,\n",
        "    pub title: Option<String>,\n",
    );
    two_lines(&p, &mine_models, &with_item_notes(MODELS));
    let old = p.read(&file_of(&p, "r2_mine"));
    assert!(
        old.contains("\"items_new\"") || old.contains("rebuild"),
        "{old}"
    );
    database_at(&p, "app.db", "r2_theirs");
    exec(&p.path("app.db"), "UPDATE items SET notes = 'keep me';");

    let run = p.qvdiff(&["rebase", "--onto", "r2_theirs"]).expect_code(0);
    assert!(
        run.stderr.contains("re-planned, SQL rewritten"),
        "{}",
        run.stderr
    );
    let new = p.read(&file_of(&p, "r2_mine"));
    assert!(
        new.contains("-- qvdiff revision: r2_mine\n-- parents: r2_theirs\n"),
        "{new}"
    );
    assert!(
        new.contains("\"notes\""),
        "the rebuild now keeps notes: {new}"
    );
    p.write(
        "src/models.rs",
        &with_field(
            &mine_models,
            "    pub title: Option<String>,\n",
            "notes: Option<String>",
        ),
    );
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        rows(&p.path("app.db"), "SELECT id, title, notes FROM items"),
        ["7|lamp|keep me"]
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}

#[test]
fn rebase_on_postgres_moves_my_revision_and_refuses_once_it_is_applied() {
    let Some(server) = qvdiff_postgres::testing::TestDatabase::create("team_rebase") else {
        return;
    };
    let Some(mine_db) = qvdiff_postgres::testing::TestDatabase::create("team_rebase_mine") else {
        return;
    };
    let p = postgres_project();
    two_lines(&p, &with_user_name(MODELS), &with_item_notes(MODELS));
    p.write("src/models.rs", &with_item_notes(&with_user_name(MODELS)));
    p.qvdiff(&["upgrade", "r2_mine", "--db", &mine_db.url])
        .expect_code(0);
    let refused = p
        .qvdiff(&["rebase", "--onto", "r2_theirs", "--db", &mine_db.url])
        .expect_code(2);
    assert!(
        refused.stderr.contains("has applied one"),
        "{}",
        refused.stderr
    );

    p.qvdiff(&["upgrade", "r2_theirs", "--db", &server.url])
        .expect_code(0);
    let mut client = server.connect();
    client
        .batch_execute(
            "INSERT INTO users (id, email) VALUES (1, 'ann@x'); \
             INSERT INTO items (id, user_id, title, notes) VALUES (7, 1, 'lamp', 'n');",
        )
        .unwrap();
    let run = p
        .qvdiff(&["rebase", "--onto", "r2_theirs", "--db", &server.url])
        .expect_code(0);
    assert!(run.stderr.contains("re-parented"), "{}", run.stderr);
    assert!(p
        .read(&file_of(&p, "r2_mine"))
        .contains("-- parents: r2_theirs\n"));
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["upgrade", "--db", &server.url]).expect_code(0);
    p.qvdiff(&["check", "--db", &server.url]).expect_code(0);
    assert_eq!(
        pg_rows(
            &mut client,
            "SELECT u.email, coalesce(u.name, 'NULL'), i.title, i.notes \
             FROM items i JOIN users u ON u.id = i.user_id"
        ),
        ["ann@x|NULL|lamp|n"]
    );
}

/// Copies every `.sql` file of `from`'s migrations into `to`'s (a push, or a pull).
fn sync_migrations(from: &Project, to: &Project) {
    for entry in std::fs::read_dir(from.path("migrations")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sql") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            to.write(
                &format!("migrations/{name}"),
                &std::fs::read_to_string(&path).unwrap(),
            );
        }
    }
}

/// A second working copy of `origin`: config, models and migrations.
fn clone_of(origin: &Project) -> Project {
    let p = Project::with_models(&[("src/models.rs", &origin.read("src/models.rs"))]);
    sync_migrations(origin, &p);
    p
}

/// Inserts a user and an item with ids from `n` into `db`.
fn add_rows(db: &Path, n: i64) {
    exec(
        db,
        &format!(
            "INSERT INTO users (id, email) VALUES ({n}, 'user{n}@x'); \
             INSERT INTO items (id, user_id, title) VALUES ({n}, {n}, 'item {n}');"
        ),
    );
}

const EVERY_ROW: &str = "SELECT u.id, u.email, i.id, i.title FROM items i \
                         JOIN users u ON u.id = i.user_id ORDER BY u.id";

/// Alice and Bob clone one project; Alice adds items.notes and lands it first; Bob added
/// users.name meanwhile and, after pulling, joins the two with `join` (`rebase` or `merge`).
/// Both databases end with the same schema and every row. Returns Bob's working copy.
fn team_run(join: &str) -> (Project, Project) {
    let origin = sqlite_project();
    let alice = clone_of(&origin);
    let bob = clone_of(&origin);
    alice.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    bob.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    add_rows(&alice.path("app.db"), 1);
    add_rows(&bob.path("app.db"), 2);

    migrate(&alice, &with_item_notes(MODELS), "r2_alice", "item notes");
    alice.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    migrate(&bob, &with_user_name(MODELS), "r2_bob", "user name");
    sync_migrations(&alice, &origin);

    // Bob pulls: two heads, and check says how to join them.
    sync_migrations(&origin, &bob);
    let both = with_item_notes(&with_user_name(MODELS));
    bob.write("src/models.rs", &both);
    let check = bob.qvdiff(&["check"]).expect_code(1);
    assert!(check.stdout.contains("have 2 heads"), "{}", check.stdout);
    match join {
        "rebase" => {
            bob.qvdiff(&["rebase", "--onto", "r2_alice"]).expect_code(0);
        }
        _ => {
            bob.qvdiff(&["merge", "-m", "join", "--rev-id", "r3_merge"])
                .expect_code(0);
        }
    }
    bob.qvdiff(&["check"]).expect_code(0);
    bob.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    sync_migrations(&bob, &origin);

    sync_migrations(&origin, &alice);
    alice.write("src/models.rs", &both);
    alice.qvdiff(&["check"]).expect_code(0);
    alice.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    for p in [&alice, &bob] {
        p.qvdiff(&["check", "--db", "sqlite://app.db"])
            .expect_code(0);
    }
    assert_eq!(
        stored_schema(&alice.path("app.db")),
        stored_schema(&bob.path("app.db"))
    );
    assert_eq!(
        rows(&alice.path("app.db"), EVERY_ROW),
        ["1|user1@x|1|item 1"]
    );
    assert_eq!(rows(&bob.path("app.db"), EVERY_ROW), ["2|user2@x|2|item 2"]);
    (alice, bob)
}

#[test]
fn team_scenario_rebase_then_merge_then_squash() {
    // First run: Bob rebases; the history is one line.
    let (alice, bob) = team_run("rebase");
    assert_eq!(bob.qvdiff(&["heads"]).stdout, "r2_bob  user name\n");
    assert_eq!(ledger(&alice.path("app.db")), ["r1", "r2_alice", "r2_bob"]);
    assert_eq!(ledger(&bob.path("app.db")), ["r1", "r2_alice", "r2_bob"]);

    // Second run: Bob merges instead; the same schema comes out.
    let (merged_alice, merged_bob) = team_run("merge");
    assert_eq!(merged_bob.qvdiff(&["heads"]).stdout, "r3_merge  join\n");
    assert_eq!(
        stored_schema(&merged_alice.path("app.db")),
        stored_schema(&alice.path("app.db"))
    );

    // Then Bob squashes the first N = 2 revisions (r1, r2_alice), with databases at N-1, N
    // and past N, each holding rows.
    for (db, target, n) in [
        ("n_minus_1.db", "r1", 10),
        ("n.db", "r2_alice", 20),
        ("past.db", "r2_bob", 30),
    ] {
        bob.qvdiff(&[
            "upgrade",
            target,
            "--db",
            &format!("sqlite://{db}"),
            "--no-backup",
        ])
        .expect_code(0);
        add_rows(&bob.path(db), n);
    }
    bob.qvdiff(&[
        "squash",
        "--to",
        "r2_alice",
        "-m",
        "baseline",
        "--rev-id",
        "b1",
        "--keep-files",
    ])
    .expect_code(0);
    assert_eq!(bob.qvdiff(&["heads"]).stdout, "r2_bob  user name\n");
    bob.qvdiff(&["check"]).expect_code(0);
    for (db, n) in [
        ("n_minus_1.db", 10),
        ("n.db", 20),
        ("past.db", 30),
        ("app.db", 2),
    ] {
        let url = format!("sqlite://{db}");
        bob.qvdiff(&["upgrade", "--db", &url, "--no-backup"])
            .expect_code(0);
        bob.qvdiff(&["check", "--db", &url]).expect_code(0);
        assert_eq!(
            stored_schema(&bob.path(db)),
            stored_schema(&alice.path("app.db")),
            "{db}"
        );
        assert_eq!(
            rows(&bob.path(db), EVERY_ROW),
            [format!("{n}|user{n}@x|{n}|item {n}")],
            "{db}"
        );
    }
    assert_eq!(
        ledger(&bob.path("n_minus_1.db")),
        ["r1", "r2_alice", "r2_bob"]
    );
}

/// The lines of the commented block `-- rename, {which}:` without their `--   ` prefix.
fn commented_block(text: &str, which: &str) -> String {
    let start = text
        .find(&format!("-- rename, {which}:\n"))
        .unwrap_or_else(|| panic!("no {which} alternative in {text}"));
    text[start..]
        .lines()
        .skip(1)
        .map_while(|line| line.strip_prefix("--   "))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn no_input_writes_an_ambiguous_rename_as_drop_and_add_with_the_rename_commented_and_lint_flags_it()
{
    let p = sqlite_project();
    let renamed = with_item_notes(MODELS);
    migrate(&p, &renamed, "r2", "item notes");
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    exec(
        &p.path("app.db"),
        "INSERT INTO users (id, email) VALUES (1, 'ann@x'); \
         INSERT INTO items (id, user_id, title, notes) VALUES (7, 1, 'lamp', 'fragile');",
    );
    // notes becomes remarks: a drop and an add of the same type, nobody asked.
    let run = migrate(
        &p,
        &renamed.replace("pub notes: Option<String>", "pub remarks: Option<String>"),
        "r3",
        "remarks",
    );
    assert!(run.stderr.contains("renamed_from"), "{}", run.stderr);
    let file = file_of(&p, "r3");
    let text = p.read(&file);
    let up = text.split("-- qvdiff:down").next().unwrap();
    assert!(up.contains("DROP COLUMN \"notes\""), "{text}");
    assert!(up.contains("ADD COLUMN \"remarks\""), "{text}");
    assert!(up.contains("-- possible rename:"), "{text}");
    assert_eq!(
        commented_block(&text, "up"),
        "ALTER TABLE \"items\" RENAME COLUMN \"notes\" TO \"remarks\";\n"
    );
    assert_eq!(
        commented_block(&text, "down"),
        "ALTER TABLE \"items\" RENAME COLUMN \"remarks\" TO \"notes\";\n"
    );
    let lint = p.qvdiff(&["lint", "r3"]).expect_code(1);
    assert!(lint.stdout.contains("possible-rename"), "{}", lint.stdout);
    assert!(
        lint.stdout
            .contains("items.notes is dropped and items.remarks"),
        "{}",
        lint.stdout
    );

    // The reviewer switches to the rename: the data stays.
    let header_end = text.find("-- qvdiff:up\n").unwrap();
    let switched = format!(
        "{}-- qvdiff:up\n{}-- qvdiff:down\n{}",
        &text[..header_end],
        commented_block(&text, "up"),
        commented_block(&text, "down")
    );
    p.write(&file, &switched);
    p.qvdiff(&["check"]).expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        rows(&p.path("app.db"), "SELECT id, remarks FROM items"),
        ["7|fragile"]
    );
}

#[test]
fn no_input_writes_an_ambiguous_table_rename_with_the_rename_commented_and_lint_flags_it() {
    let tags = "\n#[derive(Model)]\n#[model(table = \"tags\")]\npub struct Tag {\n    \
                #[column(primary_key)]\n    pub id: i64,\n    pub label: String,\n}\n";
    let p = Project::with_models(&[("src/models.rs", &format!("{MODELS}{tags}"))]);
    p.qvdiff(&["migrate", "-m", "first", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    exec(
        &p.path("app.db"),
        "INSERT INTO tags (id, label) VALUES (1, 'red');",
    );
    let run = migrate(
        &p,
        &format!("{MODELS}{}", tags.replace("\"tags\"", "\"labels\"")),
        "r2",
        "labels",
    );
    assert!(
        run.stderr.contains("renamed_from = \"tags\""),
        "{}",
        run.stderr
    );
    let file = file_of(&p, "r2");
    let text = p.read(&file);
    assert!(
        text.contains("-- possible rename: written as a drop of table tags"),
        "{text}"
    );
    assert_eq!(
        commented_block(&text, "up"),
        "ALTER TABLE \"tags\" RENAME TO \"labels\";\n"
    );
    assert_eq!(
        commented_block(&text, "down"),
        "ALTER TABLE \"labels\" RENAME TO \"tags\";\n"
    );
    let lint = p.qvdiff(&["lint", "r2"]).expect_code(1);
    assert!(
        lint.stdout
            .contains("possible-rename: table tags is dropped and table labels"),
        "{}",
        lint.stdout
    );
    // As written (drop and create), the rows of tags are gone; switched, they stay.
    let header_end = text.find("-- qvdiff:up\n").unwrap();
    p.write(
        &file,
        &format!(
            "{}-- qvdiff:up\n{}-- qvdiff:down\n{}",
            &text[..header_end],
            commented_block(&text, "up"),
            commented_block(&text, "down")
        ),
    );
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    assert_eq!(
        rows(&p.path("app.db"), "SELECT id, label FROM labels"),
        ["1|red"]
    );
    p.qvdiff(&["check", "--db", "sqlite://app.db"])
        .expect_code(0);
}
