//! PostgreSQL over TLS and passwords kept out of the repository, with the real binary on the
//! test server of `.ci/postgres` (`ssl = on`, its own CA, `pg_hba.conf` rules for TLS-only and
//! password-only roles; see `qvdiff_postgres::testing`).
//!
//! Each migration run here records its own session in a table (`pg_stat_ssl` of
//! `pg_backend_pid()`), so the tests see what the server saw: whether qvdiff's connection was
//! encrypted, and as whom it logged in.

use super::support::{base_command, example_app, Project, Run};
use qvdiff_postgres::testing::{test_ca, TestDatabase, PASSWORD_GROUP, TLS_ONLY_GROUP, URL_VAR};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The revision of the probe migration.
const PROBE: &str = "20261201000000";

/// A migration that records the session that runs it.
const PROBE_FILE: &str = "-- qvdiff revision: 20261201000000
-- parents:
-- message: record the session
-- qvdiff:up
CREATE TABLE session_probe AS
    SELECT ssl, version, current_user::text AS login FROM pg_stat_ssl WHERE pid = pg_backend_pid();
-- qvdiff:down
DROP TABLE session_probe;
";

/// A password put in URLs: it must never be printed.
const SECRET: &str = "tls-s3cr3t-pw";

/// A PostgreSQL project whose one migration is [`PROBE_FILE`].
fn probe_project() -> Project {
    let p = Project::empty();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n",
    );
    p.write("src/lib.rs", "");
    p.write(
        &format!("migrations/{PROBE}_record_the_session.sql"),
        PROBE_FILE,
    );
    p
}

/// A fresh database and the CA of the test server, or `None` (skipped) without them.
fn server(label: &str) -> Option<(TestDatabase, PathBuf)> {
    let ca = test_ca(label)?;
    Some((TestDatabase::create(label)?, ca))
}

/// The port of the test server.
fn server_port(db: &TestDatabase) -> &str {
    let rest = &db.url[db.url.find('@').expect("user in the test URL") + 1..];
    let host_port = &rest[..rest.find('/').expect("database in the test URL")];
    host_port.rsplit(':').next().expect("port in the test URL")
}

/// `postgres://{login}@{host}:port/{database}{query}` on the test server of `db`.
fn url(db: &TestDatabase, login: &str, host: &str, query: &str) -> String {
    format!(
        "postgres://{login}@{host}:{}/{}{query}",
        server_port(db),
        db.name
    )
}

/// `sslmode=… &sslrootcert=ca`.
fn ca_query(mode: &str, ca: &Path) -> String {
    format!("?sslmode={mode}&sslrootcert={}", ca.display())
}

/// `qvdiff args` in `p`, with none of libpq's variables from the test's environment and `home`
/// as the home directory (where `.pgpass` is looked for).
fn qvdiff_env(p: &Project, args: &[&str], home: &Path, env: &[(&str, &str)]) -> Run {
    let mut cmd = base_command(p.root(), args);
    for var in ["PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT"] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).stdin(std::process::Stdio::null());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run qvdiff");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What the probe migration recorded: (ssl, TLS version, login), or `None` when it did not run.
fn probe(db: &TestDatabase) -> Option<(bool, Option<String>, String)> {
    let mut client = db.connect();
    let exists: bool = client
        .query_one("SELECT to_regclass('session_probe') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    exists.then(|| {
        let row = client
            .query_one("SELECT ssl, version, login FROM session_probe", &[])
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    })
}

/// The tables of the public schema, sorted.
fn tables(db: &TestDatabase) -> Vec<String> {
    db.connect()
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A login role for one test, in `group`, with `password`; dropped on drop (declare it before
/// the databases it works in, so they are dropped first).
struct Role {
    name: String,
}

static NEXT_ROLE: AtomicUsize = AtomicUsize::new(0);

impl Role {
    fn create(group: &str, password: &str) -> Role {
        let name = format!(
            "qvdiff_r_{}_{}",
            std::process::id(),
            NEXT_ROLE.fetch_add(1, Ordering::SeqCst)
        );
        admin()
            .batch_execute(&format!(
                "CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}' IN ROLE \"{group}\""
            ))
            .unwrap();
        Role { name }
    }

    /// Lets the role create tables in `db`.
    fn may_create_in(&self, db: &TestDatabase) {
        db.connect()
            .batch_execute(&format!("GRANT ALL ON SCHEMA public TO \"{}\"", self.name))
            .unwrap();
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!("DROP ROLE IF EXISTS \"{}\"", self.name));
    }
}

/// A connection to the test server's `postgres` database as its superuser.
fn admin() -> postgres::Client {
    let url = std::env::var(URL_VAR).expect("test server URL");
    qvdiff_postgres::connect(&url).unwrap()
}

#[test]
fn each_sslmode_encrypts_as_libpq_does_and_the_server_sees_it() {
    let Some(ca) = test_ca("sslmodes") else {
        return;
    };
    // (query, encrypted): prefer is the default, and this server offers TLS.
    let cases = [
        (String::new(), true),
        ("?sslmode=prefer".to_string(), true),
        ("?sslmode=require".to_string(), true),
        (ca_query("verify-ca", &ca), true),
        (ca_query("verify-full", &ca), true),
        ("?sslmode=disable".to_string(), false),
    ];
    let p = probe_project();
    for (query, encrypted) in cases {
        let Some(db) = TestDatabase::create("sslmode") else {
            return;
        };
        let url = url(&db, "postgres", "127.0.0.1", &query);
        p.qvdiff(&["upgrade", "--db", &url]).expect_code(0);
        let (ssl, version, _) = probe(&db).expect("the migration ran");
        assert_eq!(ssl, encrypted, "{query}: pg_stat_ssl.ssl");
        assert_eq!(version.is_some(), encrypted, "{query}: {version:?}");
        if let Some(version) = version {
            assert!(version.starts_with("TLSv1."), "{query}: {version}");
        }
    }

    // Over the server's Unix socket (in the cluster's directory, beside tls/), libpq ignores
    // sslmode: the connection is made, unencrypted.
    let socket_dir = ca
        .parent()
        .and_then(Path::parent)
        .expect("cluster directory");
    let Some(db) = TestDatabase::create("sslmode_socket") else {
        return;
    };
    let socket = format!(
        "postgres://postgres@/{}?host={}&port={}&sslmode=verify-full",
        db.name,
        socket_dir.display(),
        server_port(&db)
    );
    p.qvdiff(&["upgrade", "--db", &socket]).expect_code(0);
    assert_eq!(probe(&db).map(|(ssl, _, _)| ssl), Some(false));
}

#[test]
fn verify_full_refuses_a_wrong_ca_and_a_wrong_host_name_and_changes_nothing() {
    let Some((db, ca)) = server("verify_full_refusals") else {
        return;
    };
    let wrong_ca = ca.with_file_name("wrong-ca.crt");
    assert!(wrong_ca.is_file(), "{} is missing", wrong_ca.display());
    let p = probe_project();
    let login = format!("postgres:{SECRET}");

    let refused = [
        (
            url(
                &db,
                &login,
                "127.0.0.1",
                &ca_query("verify-full", &wrong_ca),
            ),
            vec![
                "not signed by the CA certificates of sslrootcert=",
                "wrong-ca.crt",
                "set sslrootcert",
            ],
        ),
        (
            // The certificate names localhost and 127.0.0.1; hostaddr reaches the same server
            // under a name the certificate does not hold.
            url(
                &db,
                &login,
                "wrong-name.invalid",
                &format!("{}&hostaddr=127.0.0.1", ca_query("verify-full", &ca)),
            ),
            vec![
                "does not name the host wrong-name.invalid",
                "sslmode=verify-ca",
            ],
        ),
        (
            url(
                &db,
                &login,
                "127.0.0.1",
                &ca_query("verify-full", &ca.with_file_name("missing-ca.crt")),
            ),
            vec!["reading sslrootcert=", "missing-ca.crt", "No such file"],
        ),
        (
            // No sslrootcert: the system's roots, which do not hold the test CA.
            url(&db, &login, "127.0.0.1", "?sslmode=verify-full"),
            vec![
                "not signed by the system's root certificates",
                "set sslrootcert",
            ],
        ),
    ];
    for (url, said) in refused {
        for args in [
            vec!["upgrade", "--db", url.as_str()],
            // The probe project has no models (`check` refuses that before connecting).
            vec!["current", "--db", url.as_str()],
        ] {
            let run = p.qvdiff(&args).expect_code(2);
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(!all.contains(SECRET), "the password was printed:\n{all}");
            assert!(
                run.stderr
                    .starts_with("error: connecting to postgres://postgres:***@"),
                "{args:?}:\n{}",
                run.stderr
            );
            for part in &said {
                assert!(
                    run.stderr.contains(part),
                    "{args:?}: no {part:?} in\n{}",
                    run.stderr
                );
            }
            assert_eq!(
                tables(&db),
                Vec::<String>::new(),
                "{args:?} changed the database"
            );
        }
    }

    // The same host name under verify-ca: the chain is checked, the name is not.
    let verify_ca = url(
        &db,
        "postgres",
        "wrong-name.invalid",
        &format!("{}&hostaddr=127.0.0.1", ca_query("verify-ca", &ca)),
    );
    p.qvdiff(&["upgrade", "--db", &verify_ca]).expect_code(0);
    assert_eq!(probe(&db).map(|(ssl, _, _)| ssl), Some(true));
    // The right CA and a name the certificate holds.
    let Some(db) = TestDatabase::create("verify_full_localhost") else {
        return;
    };
    let verify_full = url(&db, "postgres", "localhost", &ca_query("verify-full", &ca));
    p.qvdiff(&["upgrade", "--db", &verify_full]).expect_code(0);
    assert_eq!(probe(&db).map(|(ssl, _, _)| ssl), Some(true));
}

#[test]
fn a_tls_only_server_refuses_sslmode_disable_and_upgrade_and_port_carry_every_row_over_tls() {
    let Some(ca) = test_ca("tls_only") else {
        return;
    };
    let role = Role::create(TLS_ONLY_GROUP, "unused");
    let Some(db) = TestDatabase::create("tls_only_upgrade") else {
        return;
    };
    role.may_create_in(&db);
    let p = example_app();

    let plain = url(&db, &role.name, "127.0.0.1", "?sslmode=disable");
    let run = p.qvdiff(&["upgrade", "--db", &plain]).expect_code(2);
    for part in [
        "no encryption",
        "accepts only encrypted connections",
        "remove sslmode=disable",
        "sslmode=verify-full",
    ] {
        assert!(run.stderr.contains(part), "no {part:?} in\n{}", run.stderr);
    }
    assert_eq!(tables(&db), Vec::<String>::new());

    // upgrade: the first revision, rows, then the rest; the role can only log in over TLS.
    let tls = url(&db, &role.name, "127.0.0.1", &ca_query("verify-full", &ca));
    p.qvdiff(&["upgrade", "20261125133834", "--db", &tls])
        .expect_code(0);
    let users: Vec<(i64, String, String, String)> = vec![
        (
            1,
            "ann@example.com".into(),
            "Ann".into(),
            "2024-02-29 12:34:56.789".into(),
        ),
        (
            2,
            "o'brien+\"x\"@example.com".into(),
            "Tab\there, new\nline, back\\slash".into(),
            "1970-01-01 00:00:00".into(),
        ),
        (
            3,
            "zoë@exämple.com".into(),
            "日本語 🚀 e\u{301}".into(),
            "2026-12-05 00:00:00.5".into(),
        ),
    ];
    let mut client = db.connect();
    for (id, email, name, created) in &users {
        client
            .execute(
                "INSERT INTO users (id, email, display_name, created_at) \
                 VALUES ($1, $2, $3, $4::text::timestamp)",
                &[id, email, name, created],
            )
            .unwrap();
    }
    p.qvdiff(&["upgrade", "--db", &tls]).expect_code(0);
    let read_users = |client: &mut postgres::Client| -> Vec<(i64, String, String, String)> {
        client
            .query(
                "SELECT id, email::text, display_name::text, created_at::text FROM users \
                 ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    };
    assert_eq!(read_users(&mut client), users);
    let applied: i64 = client
        .query_one("SELECT count(*) FROM qvdiff_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, 5);

    // port: the same rows from a SQLite file into a second database, over TLS.
    let Some(target) = TestDatabase::create("tls_only_port") else {
        return;
    };
    role.may_create_in(&target);
    p.qvdiff(&["upgrade", "--db", "sqlite://source.db", "--no-backup"])
        .expect_code(0);
    let source = rusqlite::Connection::open(p.path("source.db")).unwrap();
    for (id, email, name, created) in &users {
        source
            .execute(
                "INSERT INTO users (id, email, display_name, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, email, name, created],
            )
            .unwrap();
    }
    source
        .execute(
            "INSERT INTO items (id, user_id, title, sku, description, cost, price, quantity, \
             is_active) VALUES (7, 3, 'Lamp ''Ö''', 'SKU-7', NULL, 0.1, 1e300, -5, 0)",
            [],
        )
        .unwrap();
    drop(source);
    let to = url(
        &target,
        &role.name,
        "127.0.0.1",
        &ca_query("verify-full", &ca),
    );
    let port = p
        .qvdiff(&["port", "--from", "sqlite://source.db", "--to", &to])
        .expect_code(0);
    assert!(port.stdout.contains("Ported") || port.stderr.contains("Ported"));
    let mut client = target.connect();
    assert_eq!(read_users(&mut client), users);
    let item = client
        .query_one(
            "SELECT user_id, title::text, sku::text, description, cost, price, quantity, \
             is_active FROM items WHERE id = 7",
            &[],
        )
        .unwrap();
    assert_eq!(item.get::<_, i64>(0), 3);
    assert_eq!(item.get::<_, String>(1), "Lamp 'Ö'");
    assert_eq!(item.get::<_, String>(2), "SKU-7");
    assert_eq!(item.get::<_, Option<String>>(3), None);
    assert_eq!(item.get::<_, f64>(4), 0.1);
    assert_eq!(item.get::<_, f64>(5), 1e300);
    assert_eq!(item.get::<_, i64>(6), -5);
    assert!(!item.get::<_, bool>(7));
}

#[test]
fn the_password_comes_from_pgpassword_or_a_private_pgpass_and_a_loose_pgpass_is_ignored() {
    let Some(ca) = test_ca("passwords") else {
        return;
    };
    let role = Role::create(PASSWORD_GROUP, SECRET);
    let Some(db) = TestDatabase::create("passwords") else {
        return;
    };
    role.may_create_in(&db);
    let p = probe_project();
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    let line = format!(
        "127.0.0.1:{}:{}:{}:{SECRET}\n",
        server_port(&db),
        db.name,
        role.name
    );
    let no_password = url(&db, &role.name, "127.0.0.1", &ca_query("verify-full", &ca));
    let current = ["current", "--db", no_password.as_str()];
    let set_mode = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };

    // Nowhere: refused by the server, which asks for one.
    let run = qvdiff_env(&p, &current, home.path(), &[]).expect_code(2);
    assert!(run.stderr.contains("password"), "{}", run.stderr);

    // A wrong PGPASSWORD: refused, and not printed.
    let run = qvdiff_env(&p, &current, home.path(), &[("PGPASSWORD", "not-it-123")]).expect_code(2);
    assert!(
        run.stderr.contains("password authentication failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("not-it-123"), "{}", run.stderr);

    // PGPASSWORD: upgrade runs as the role.
    qvdiff_env(
        &p,
        &["upgrade", "--db", &no_password],
        home.path(),
        &[("PGPASSWORD", SECRET)],
    )
    .expect_code(0);
    assert_eq!(
        probe(&db).map(|(ssl, _, login)| (ssl, login)),
        Some((true, role.name.clone()))
    );

    // ~/.pgpass readable by others: ignored as libpq ignores it, and the message says why.
    std::fs::write(
        &pgpass,
        format!("# other servers first\nelsewhere:5432:*:*:nope\n{line}"),
    )
    .unwrap();
    set_mode(&pgpass, 0o644);
    let run = qvdiff_env(&p, &current, home.path(), &[]).expect_code(2);
    for part in [".pgpass was not read", "mode 0644", "chmod 600"] {
        assert!(run.stderr.contains(part), "no {part:?} in\n{}", run.stderr);
    }
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);

    // The same file made private: used.
    set_mode(&pgpass, 0o600);
    let run = qvdiff_env(&p, &current, home.path(), &[]).expect_code(0);
    assert!(
        run.stdout.contains(PROBE) || run.stderr.contains(PROBE),
        "{run:?}"
    );

    // PGPASSWORD wins over the file, as in libpq.
    qvdiff_env(&p, &current, home.path(), &[("PGPASSWORD", "not-it-123")]).expect_code(2);

    // PGPASSFILE names another file.
    let other = home.path().join("elsewhere.pgpass");
    std::fs::write(&other, &line).unwrap();
    set_mode(&other, 0o600);
    std::fs::remove_file(&pgpass).unwrap();
    qvdiff_env(&p, &current, home.path(), &[]).expect_code(2);
    qvdiff_env(
        &p,
        &current,
        home.path(),
        &[("PGPASSFILE", other.to_str().unwrap())],
    )
    .expect_code(0);
}

#[test]
fn a_password_in_qvdiff_toml_is_warned_about_without_showing_it() {
    let p = probe_project();
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n\
         database = \"postgres://app:hunter2@db.example/shop?sslmode=verify-full\"\n",
    );
    let run = p.qvdiff(&["heads"]).expect_code(0);
    assert!(run.stdout.contains(PROBE), "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("hunter2"), "{all}");
    for part in [
        "warning: qvdiff.toml: `database` holds a password",
        "postgres://app:***@db.example/shop",
        "DATABASE_URL",
        "PGPASSWORD",
        "~/.pgpass",
    ] {
        assert!(run.stderr.contains(part), "no {part:?} in\n{}", run.stderr);
    }
    // -q keeps warnings.
    let quiet = p.qvdiff(&["-q", "heads"]).expect_code(0);
    assert!(
        quiet.stderr.contains("holds a password"),
        "{}",
        quiet.stderr
    );

    // Without a password: no warning.
    p.write(
        "qvdiff.toml",
        "models = [\"src\"]\nmigrations = \"migrations\"\ndialect = \"postgres\"\n\
         database = \"postgres://app@db.example/shop?sslmode=verify-full\"\n",
    );
    let run = p.qvdiff(&["heads"]).expect_code(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}
