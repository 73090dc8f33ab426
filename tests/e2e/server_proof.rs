//! A PostgreSQL server at hand (`[postgres] shadow_url`, or `migrate --db`): `migrate` proves the
//! new file on a throwaway database there, and checks the values typed at its prompts there, as
//! SQLite projects do in memory. The real binary, a real server, rows checked.
//!
//! Needs a server (`QVDIFF_TEST_POSTGRES_URL`, see `qvdiff_postgres::testing`); without one the
//! tests say "skipped" and pass, unless `QVDIFF_REQUIRE_POSTGRES=1`.

use super::support::Project;
use qvdiff_postgres::testing::{TestDatabase, URL_VAR};

const MODELS_V1: &str = r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub name: String,
    pub code: Option<String>,
}
"#;

/// A PostgreSQL-only project; `shadow`: the `[postgres] shadow_url` line's URL.
fn project(shadow: Option<&str>) -> Project {
    let p = Project::empty();
    let mut config =
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n".to_string();
    if let Some(url) = shadow {
        config.push_str(&format!(
            "\n[postgres]\nshadow_url = {}\n",
            toml_string(url)
        ));
    }
    p.write("qvdiff.toml", &config);
    std::fs::create_dir_all(p.path("migrations")).unwrap();
    p.write("src/models.rs", MODELS_V1);
    p
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Proof databases on the test server (`qvdiff_proof_<pid>_…`) whose process has ended: each
/// is one a proof left behind. (Other tests' proofs may be running at the same time.)
fn proof_databases(server: &TestDatabase) -> Vec<String> {
    server
        .connect()
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'qvdiff_proof_%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|name| {
            let pid = name["qvdiff_proof_".len()..]
                .split('_')
                .next()
                .unwrap_or("");
            !std::path::Path::new("/proc").join(pid).exists()
        })
        .collect()
}

/// `items` as `id|name|code` (the code as text, NULL as `-`), in id order.
fn items(db: &TestDatabase) -> Vec<String> {
    db.connect()
        .query(
            "SELECT id::text || '|' || name || '|' || COALESCE(code::text, '-') FROM items \
             ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A `using` naming a function the server does not have: the replay cannot know it and
/// passes the file; with `shadow_url`, or with `migrate --db`, the server refuses it on a
/// throwaway database: exit 2, the server's message, nothing written, no database left behind.
#[test]
fn a_using_the_server_rejects_is_refused_by_the_proof_on_the_server() {
    let Some(db) = TestDatabase::create("proof_using") else {
        return;
    };
    let server_url = std::env::var(URL_VAR).unwrap();
    let p = project(Some(&server_url));
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    db.connect()
        .batch_execute(
            "INSERT INTO items (id, name, code) VALUES (1, 'lamp', '17'), (2, 'desk', NULL)",
        )
        .unwrap();
    let rows = ["1|lamp|17", "2|desk|-"];
    assert_eq!(items(&db), rows);

    let retyped = |using: &str| {
        MODELS_V1.replace(
            "    pub code: Option<String>,",
            &format!("    #[column(using = \"{using}\")]\n    pub code: Option<i64>,"),
        )
    };
    p.write("src/models.rs", &retyped("to_bigint(code)"));
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "-m", "code as number", "--rev-id", "r2"])
        .expect_code(2);
    assert!(
        run.stderr
            .contains("PostgreSQL refuses it on a throwaway database")
            && run.stderr.contains("function to_bigint("),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("qvdiff bug"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before, "nothing written");
    assert_eq!(proof_databases(&db), Vec::<String>::new(), "dropped");

    // `--db` puts the same server at hand without the key.
    let no_key = project(None);
    no_key.write(
        "migrations/r1_items.sql",
        &p.read("migrations/r1_items.sql"),
    );
    no_key.write("src/models.rs", &retyped("to_bigint(code)"));
    let before = no_key.snapshot();
    let run = no_key
        .qvdiff(&[
            "migrate",
            "-m",
            "code as number",
            "--rev-id",
            "r2",
            "--db",
            &db.url,
        ])
        .expect_code(2);
    assert!(run.stderr.contains("function to_bigint("), "{}", run.stderr);
    assert_eq!(no_key.snapshot(), before, "nothing written");
    assert_eq!(proof_databases(&db), Vec::<String>::new(), "dropped");
    // Without a server the replay alone passes the file: the refusals above are the
    // server's.
    no_key
        .qvdiff(&["migrate", "-m", "code as number", "--rev-id", "r2"])
        .expect_code(0);
    assert_eq!(items(&db), rows, "the database is untouched");

    // A conversion the server knows goes through the proof, and the rows convert.
    p.write("src/models.rs", &retyped("code::bigint"));
    let run = p
        .qvdiff(&["-v", "migrate", "-m", "code as number", "--rev-id", "r2"])
        .expect_code(0);
    assert!(
        run.stderr
            .contains("proving the file on a throwaway database"),
        "{}",
        run.stderr
    );
    assert_eq!(proof_databases(&db), Vec::<String>::new(), "dropped");
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    assert_eq!(items(&db), rows);
    let ty: String = db
        .connect()
        .query_one(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = 'items' \
             AND column_name = 'code'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(ty, "bigint");
}

/// A value typed at the prompt of a PostgreSQL-only project is checked by the server at hand:
/// a typo is the typist's error, with the column and PostgreSQL's message, and is asked again.
#[test]
fn an_answer_postgres_cannot_evaluate_is_shown_with_its_message_and_asked_again() {
    let Some(db) = TestDatabase::create("proof_prompt") else {
        return;
    };
    let server_url = std::env::var(URL_VAR).unwrap();
    let p = project(Some(&server_url));
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    db.connect()
        .batch_execute(
            "INSERT INTO items (id, name, code) VALUES (1, 'Lamp', 'a'), (2, 'DESK', NULL)",
        )
        .unwrap();
    p.write(
        "src/models.rs",
        &MODELS_V1.replace(
            "    pub name: String,",
            "    pub name: String,\n    pub slug: String,",
        ),
    );
    let run = p
        .qvdiff_with_stdin(
            &["migrate", "-m", "slug", "--rev-id", "r2"],
            "lowr(name)\nlower(nme)\nlower(name)\n",
        )
        .expect_code(0);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", run.stderr);
    assert!(
        errors[0].contains("items.slug: the value `lowr(name)` cannot be evaluated")
            && errors[0].contains("PostgreSQL: function lowr("),
        "{}",
        run.stderr
    );
    assert!(
        errors[1].contains("PostgreSQL: column \"nme\" does not exist"),
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
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let slugs: Vec<String> = db
        .connect()
        .query("SELECT slug FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(slugs, ["lamp", "desk"]);
    assert_eq!(items(&db), ["1|Lamp|a", "2|DESK|-"]);
}

/// A `backfill_sql` the server cannot evaluate is the model's error, found before the proof:
/// the column, PostgreSQL's message, exit 2, nothing written.
#[test]
fn a_backfill_sql_postgres_cannot_evaluate_is_the_models_error() {
    let Some(db) = TestDatabase::create("proof_backfill") else {
        return;
    };
    let p = project(Some(&std::env::var(URL_VAR).unwrap()));
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.write(
        "src/models.rs",
        &MODELS_V1.replace(
            "    pub name: String,",
            "    pub name: String,\n    #[column(backfill_sql = \"lowr(name)\")]\n    pub slug: String,",
        ),
    );
    let before = p.snapshot();
    let run = p
        .qvdiff(&["migrate", "-m", "slug", "--rev-id", "r2"])
        .expect_code(2);
    assert!(
        run.stderr
            .contains("items.slug: backfill_sql `lowr(name)` fails on PostgreSQL: function lowr("),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("qvdiff bug"), "{}", run.stderr);
    assert_eq!(p.snapshot(), before, "nothing written");
    assert_eq!(proof_databases(&db), Vec::<String>::new());
}

/// A login role without `CREATEDB` that may read `db`'s tables; dropped (with its grants) on
/// drop.
struct ReaderRole {
    name: String,
    db_url: String,
}

impl ReaderRole {
    fn create(db: &TestDatabase) -> ReaderRole {
        let name = format!("qvdiff_reader_{}", std::process::id());
        let admin_url = std::env::var(URL_VAR).unwrap();
        qvdiff_postgres::connect(&admin_url)
            .unwrap()
            .batch_execute(&format!("CREATE ROLE \"{name}\" LOGIN NOCREATEDB"))
            .unwrap();
        let role = ReaderRole {
            name,
            db_url: db.url.clone(),
        };
        db.connect()
            .batch_execute(&format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{}\"",
                role.name
            ))
            .unwrap();
        role
    }

    /// `db`'s URL with this role as its user.
    fn url(&self) -> String {
        let start = self.db_url.find("://").unwrap() + 3;
        let at = start + self.db_url[start..].find('@').unwrap();
        format!(
            "{}{}{}",
            &self.db_url[..start],
            self.name,
            &self.db_url[at..]
        )
    }
}

impl Drop for ReaderRole {
    fn drop(&mut self) {
        if let Ok(mut db) = qvdiff_postgres::connect(&self.db_url) {
            let _ = db.batch_execute(&format!("DROP OWNED BY \"{}\"", self.name));
        }
        if let Ok(mut admin) = qvdiff_postgres::connect(&std::env::var(URL_VAR).unwrap()) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
        }
    }
}

/// `migrate --db` as a role that may not create databases: the file is proven on the schema
/// model, written, and the warning says the server proof was skipped and why.
#[test]
fn migrate_db_without_createdb_warns_that_the_server_proof_was_skipped() {
    let Some(db) = TestDatabase::create("proof_no_createdb") else {
        return;
    };
    let p = project(None);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    let role = ReaderRole::create(&db);
    p.write(
        "src/models.rs",
        &MODELS_V1.replace(
            "    pub code: Option<String>,",
            "    pub code: Option<String>,\n    pub notes: Option<String>,",
        ),
    );
    let run = p
        .qvdiff(&[
            "migrate",
            "-m",
            "notes",
            "--rev-id",
            "r2",
            "--db",
            &role.url(),
        ])
        .expect_code(0);
    assert!(
        run.stderr.contains("is proven on the schema model only")
            && run.stderr.contains("permission denied to create database"),
        "{}",
        run.stderr
    );
    assert!(p.path("migrations/r2_notes.sql").is_file());
    p.qvdiff(&["upgrade", "--db", &db.url]).expect_code(0);
    db.connect()
        .batch_execute("INSERT INTO items (id, name, notes) VALUES (1, 'lamp', 'by the door')")
        .unwrap();
    assert_eq!(items(&db), ["1|lamp|-"]);
    drop(role);
}
