//! The runtime API: embedded migrations applied at start-up, and the models check.

use qvdiff::migrate::rusqlite::Connection;
use qvdiff::{embed_migrations, Migrator, Model};

#[derive(Model)]
#[model(table = "items")]
#[allow(dead_code)]
struct Item {
    #[column(primary_key)]
    id: i64,
    #[column(max_length = 200)]
    title: String,
    notes: Option<String>,
}

const EMBEDDED: &[(&str, &str)] = embed_migrations!("tests/embedded_migrations");

#[test]
fn embedded_files_are_listed_in_order() {
    let names: Vec<&str> = EMBEDDED.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "20261120093000_create_items.sql",
            "20261124101500_add_notes.sql"
        ]
    );
    assert!(EMBEDDED[1].1.contains("ADD COLUMN \"notes\""));
}

#[test]
fn upgrade_then_verify_models() {
    let migrator = Migrator::new(EMBEDDED).unwrap();
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE other (id INTEGER PRIMARY KEY)")
        .unwrap();
    // Before: the items table is missing.
    let before = migrator.verify_models(&mut conn, &[Item::table()]).unwrap();
    assert!(before.iter().any(|d| d.contains("items")), "{before:?}");

    let report = migrator.upgrade(&mut conn).unwrap();
    assert_eq!(report.steps.len(), 2);
    assert!(migrator.upgrade(&mut conn).unwrap().is_noop());
    assert!(migrator.status(&mut conn).unwrap().is_up_to_date());
    conn.execute("INSERT INTO items (id, title) VALUES (1, 'lamp')", [])
        .unwrap();

    // `other` is not a model: it shows up as a difference, the models' tables do not.
    let differences = migrator.verify_models(&mut conn, &[Item::table()]).unwrap();
    assert_eq!(differences, ["drop table other (DESTRUCTIVE)"]);
}

#[test]
fn a_binary_older_than_the_database_refuses() {
    let mut conn = Connection::open_in_memory().unwrap();
    Migrator::new(EMBEDDED).unwrap().upgrade(&mut conn).unwrap();
    let older = Migrator::new(&EMBEDDED[..1]).unwrap();
    let err = older.upgrade(&mut conn).unwrap_err();
    assert!(
        err.to_string().contains("newer than the migrations"),
        "{err}"
    );
}

#[test]
fn a_malformed_file_names_itself() {
    let err = Migrator::new(&[("x.sql", "not a migration")]).unwrap_err();
    assert!(
        err.to_string().starts_with("migrations/x.sql:line 1"),
        "{err}"
    );
}
