//! Throwaway databases on a real PostgreSQL server, for tests (this crate's, the CLI's
//! end-to-end suite, the property suite).
//!
//! The server is named by `QVDIFF_TEST_POSTGRES_URL` (`.ci/postgres start` prints it, with
//! `sslmode=verify-full`: every connection of the tests goes through [`crate::connect`], so over
//! TLS). `QVDIFF_TEST_POSTGRES_CA` names the CA file of that server's certificate; the tests of
//! TLS and passwords need it and the roles [`TLS_ONLY_GROUP`] and [`PASSWORD_GROUP`] that
//! `.ci/postgres` makes. Each
//! [`TestDatabase`] is a fresh database with a unique name, dropped when the value is dropped, so
//! tests run in parallel. Without the variable the tests that need a server are skipped with a
//! line on stderr — unless `QVDIFF_REQUIRE_POSTGRES=1` (set by `.ci/run`), which makes a missing
//! server a failure instead of a silent pass.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable naming the test server.
pub const URL_VAR: &str = "QVDIFF_TEST_POSTGRES_URL";

/// The environment variable that turns a missing test server into a failure.
pub const REQUIRE_VAR: &str = "QVDIFF_REQUIRE_POSTGRES";

/// The environment variable naming the CA certificate file of the test server
/// (`.ci/postgres`'s `tls/ca.crt`; `wrong-ca.crt` beside it is a CA that signed nothing).
pub const CA_VAR: &str = "QVDIFF_TEST_POSTGRES_CA";

/// The role whose members the test server's `pg_hba.conf` lets in over TLS only.
pub const TLS_ONLY_GROUP: &str = "qvdiff_tls_only";

/// The role whose members the test server's `pg_hba.conf` lets in with a password only.
pub const PASSWORD_GROUP: &str = "qvdiff_password_login";

/// The CA file of the test server (`QVDIFF_TEST_POSTGRES_CA`), or `None` when it is not set
/// (after saying so on stderr); panics when it is missing and `QVDIFF_REQUIRE_POSTGRES=1`.
pub fn test_ca(label: &str) -> Option<std::path::PathBuf> {
    match std::env::var(CA_VAR).ok().filter(|v| !v.is_empty()) {
        Some(path) => Some(path.into()),
        None if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") => {
            panic!("{REQUIRE_VAR}=1 but {CA_VAR} is not set: start the server with .ci/postgres")
        }
        None => {
            eprintln!("skipped {label}: {CA_VAR} is not set (start a server with .ci/postgres)");
            None
        }
    }
}

/// The value inside `$found`, an `Option` from [`TestDatabase::create`] or a function wrapping it, or
/// else a return from the calling test: `None` means there is no test server, and the test is
/// skipped (it said so on stderr).
#[macro_export]
macro_rules! or_skip {
    ($found:expr) => {
        match $found {
            Some(found) => found,
            None => return,
        }
    };
}

/// A fresh, empty database on the test server; dropped (with `FORCE`) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    /// `postgres://…/<name>`: connect here.
    pub url: String,
    /// The database name.
    pub name: String,
    admin_url: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TestDatabase {
    /// Creates a database named after `label` (plus the process id and a counter), or `None`
    /// when no test server is configured (after saying so on stderr). Panics when the server is
    /// configured but unusable, or required but not configured.
    pub fn create(label: &str) -> Option<TestDatabase> {
        let Some(admin_url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
            if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_VAR}=1 but {URL_VAR} is not set: start one with .ci/postgres");
            }
            eprintln!("skipped {label}: {URL_VAR} is not set (start a server with .ci/postgres)");
            return None;
        };
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "qvdiff_t_{clean}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = crate::connect(&admin_url)
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VAR}: {e}"));
        // Two round trips: a multi-statement batch is one transaction, where CREATE DATABASE
        // is refused.
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            admin
                .batch_execute(&sql)
                .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        }
        let url = with_database(&admin_url, &name);
        Some(TestDatabase {
            url,
            name,
            admin_url,
        })
    }

    /// A new connection to this database.
    pub fn connect(&self) -> postgres::Client {
        crate::connect(&self.url).unwrap_or_else(|e| panic!("cannot connect: {e}"))
    }

    /// [`TestDatabase::create`] with a first connection: `None` without a test server. Keep the
    /// database alive as long as the connection is used; dropping it drops the database.
    pub fn create_connected(label: &str) -> Option<(TestDatabase, postgres::Client)> {
        let db = TestDatabase::create(label)?;
        let client = db.connect();
        Some((db, client))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = crate::connect(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database (the path) replaced by `name`, query string kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "x"),
            "postgres://u@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
