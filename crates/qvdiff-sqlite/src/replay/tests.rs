//! The replay held to SQLite itself on scripts the renderer writes and on ones it must leave alone.

use super::*;
use crate::apply::{replay, stored_objects};
use crate::introspect::introspect;

/// The schema the replay gives at its end ([`SchemaReplay::into_parts`]), leaving it as it is.
fn schema_of(pure: &SchemaReplay) -> Schema {
    pure.clone().into_parts().0
}

/// The replay and SQLite on the same scripts: both schema and stored objects, as they are read
/// while the replay goes on and as they are moved out at its end.
fn assert_same_as_sqlite(scripts: &[&str]) {
    let mut pure = SchemaReplay::default();
    pure.apply(scripts.iter().copied())
        .expect("the model reads these scripts");
    let conn = replay(scripts.iter().map(|sql| ("test", *sql))).unwrap();
    let (schema, objects) = (introspect(&conn).unwrap(), stored_objects(&conn).unwrap());
    assert_eq!(pure.objects(), objects);
    assert_eq!(pure.into_parts(), (schema, objects));
}

const PARENT: &str = concat!(
    "CREATE TABLE \"parent\" (\n",
    "    \"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,\n",
    "    \"code\" VARCHAR(12) NOT NULL DEFAULT 'a''b',\n",
    "    \"ratio\" REAL DEFAULT -2.5,\n",
    "    \"on\" BOOLEAN NOT NULL DEFAULT TRUE,\n",
    "    \"at\" DATETIME DEFAULT CURRENT_TIMESTAMP,\n",
    "    \"n\" BIGINT,\n",
    "    CONSTRAINT \"uq_code\" UNIQUE (\"code\")\n",
    ");",
);
const CHILD: &str = concat!(
    "CREATE TABLE \"child\" (\n",
    "    \"a\" INTEGER NOT NULL,\n",
    "    \"b\" TEXT NOT NULL,\n",
    "    \"parent_id\" INTEGER,\n",
    "    PRIMARY KEY (\"a\", \"b\"),\n",
    "    UNIQUE (\"b\", \"parent_id\"),\n",
    "    FOREIGN KEY (\"parent_id\") REFERENCES \"parent\" (\"id\") ON DELETE SET NULL ON UPDATE CASCADE\n",
    ");\n",
    "CREATE UNIQUE INDEX \"ix_child_b\" ON \"child\" (\"b\");\n",
    "CREATE INDEX \"ix_child_pa\" ON \"child\" (\"parent_id\", \"a\");",
);

#[test]
fn reads_what_the_renderer_writes_as_sqlite_does() {
    assert_same_as_sqlite(&[PARENT, CHILD]);
    assert_same_as_sqlite(&[
        PARENT,
        CHILD,
        "DROP INDEX \"ix_child_b\";\nDROP TABLE \"parent\";",
        "CREATE TABLE \"parent\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
    ]);
}

const ADD_COLUMNS: &str = concat!(
    "ALTER TABLE \"child\" ADD COLUMN \"note\" TEXT DEFAULT 'x';\n",
    "ALTER TABLE \"parent\" ADD COLUMN \"up\" INTEGER REFERENCES \"parent\" (\"id\") ON DELETE CASCADE;\n",
    "ALTER TABLE \"parent\" ADD COLUMN \"size\" REAL NOT NULL DEFAULT 1.5;",
);

#[test]
fn adds_columns_as_sqlite_stores_them() {
    // Into the text of a table with constraints and of one without.
    assert_same_as_sqlite(&[PARENT, CHILD, ADD_COLUMNS]);
    let bare = "CREATE TABLE \"bare\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);";
    assert_same_as_sqlite(&[
        bare,
        "ALTER TABLE \"bare\" ADD COLUMN \"a\" TEXT;\nALTER TABLE \"bare\" ADD COLUMN \"b\" BLOB;",
    ]);
    // And reads such stored text back, then adds more.
    let conn = replay([("test", PARENT), ("test", CHILD), ("test", ADD_COLUMNS)]).unwrap();
    let objects = stored_objects(&conn).unwrap();
    let mut pure = SchemaReplay::from_stored(&objects).expect("reads ADD COLUMN's text");
    assert_eq!(pure.objects(), objects);
    assert_eq!(schema_of(&pure), introspect(&conn).unwrap());
    let more = "ALTER TABLE \"parent\" ADD COLUMN \"last\" DATE;";
    pure.apply([more]).unwrap();
    let conn = replay([
        ("test", PARENT),
        ("test", CHILD),
        ("test", ADD_COLUMNS),
        ("test", more),
    ])
    .unwrap();
    assert_eq!(pure.objects(), stored_objects(&conn).unwrap());
    assert_eq!(schema_of(&pure), introspect(&conn).unwrap());
}

#[test]
fn leaves_to_sqlite_what_it_does_not_write_or_sqlite_refuses() {
    let outside = [
        // hand-written spellings
        "create table \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
        "CREATE TABLE \"t\" (\"id\" INTEGER NOT NULL PRIMARY KEY);",
        "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY -- key\n);",
        // CHECKs and expression defaults are SQLite's to judge
        "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY,\n    CHECK (id > 0)\n);",
        "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY DEFAULT (abs(1))\n);",
        // a type word SQLite may refuse (a keyword)
        "CREATE TABLE \"t\" (\n    \"id\" INT ON\n);",
        // refused by SQLite
        "CREATE TABLE \"t\" (\n    \"id\" TEXT NOT NULL PRIMARY KEY AUTOINCREMENT\n);",
        "CREATE TABLE \"t\" (\n    \"a\" INTEGER NOT NULL,\n    \"A\" INTEGER NOT NULL\n);",
        "CREATE TABLE \"sqlite_x\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY\n);",
        "CREATE INDEX \"ix\" ON \"missing\" (\"id\");",
        "CREATE TABLE \"t\" (\n    \"a\" INTEGER NOT NULL,\n    FOREIGN KEY (\"b\") REFERENCES \"p\" (\"id\")\n);",
        "DROP TABLE \"missing\";",
        "ALTER TABLE \"missing\" ADD COLUMN \"x\" INTEGER;",
        // not plain DDL
        "CREATE VIEW \"v\" AS SELECT 1;",
    ];
    for sql in outside {
        assert!(SchemaReplay::default().apply([sql]).is_none(), "{sql}");
    }
    let mut pure = SchemaReplay::default();
    pure.apply([PARENT]).unwrap();
    assert!(pure.apply([PARENT]).is_none(), "a taken name");
    let added = [
        // refused by SQLite, at least on a table with rows
        "ALTER TABLE \"parent\" ADD COLUMN \"code\" TEXT;",
        "ALTER TABLE \"parent\" ADD COLUMN \"x\" TEXT NOT NULL;",
        "ALTER TABLE \"parent\" ADD COLUMN \"x\" DATETIME DEFAULT CURRENT_TIMESTAMP;",
        "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER DEFAULT 1 REFERENCES \"parent\" (\"id\");",
        "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER NOT NULL PRIMARY KEY;",
        // not as the planner writes it
        "ALTER TABLE \"parent\" ADD \"x\" INTEGER;",
        "ALTER TABLE \"parent\" ADD COLUMN;",
        "CREATE TABLE \"t\" ();",
    ];
    for sql in added {
        let mut pure = SchemaReplay::default();
        pure.apply([PARENT]).unwrap();
        assert!(pure.apply([sql]).is_none(), "{sql}");
    }
    // A foreign key whose parent key is not a key fails SQLite's foreign_key_check.
    let child = "CREATE TABLE \"c\" (\n    \"p\" INTEGER,\n    FOREIGN KEY (\"p\") REFERENCES \"parent\" (\"n\")\n);";
    assert!(SchemaReplay::default().apply([PARENT, child]).is_none());
    assert!(replay([("test", PARENT), ("test", child)]).is_err());
}

#[test]
fn knows_what_it_reads_by_the_first_words() {
    let statements = SchemaReplay::statements_of([
        PARENT,
        CHILD,
        "DROP INDEX \"ix_child_b\";\nDROP TABLE \"child\";",
    ]);
    assert_eq!(statements.map(|s| s.len()), Some(6));
    let statements =
        SchemaReplay::statements_of([PARENT, "ALTER TABLE \"parent\" ADD COLUMN \"x\" INTEGER;"]);
    assert_eq!(statements.map(|s| s.len()), Some(2));
    assert!(
        SchemaReplay::statements_of([PARENT, "ALTER TABLE \"parent\" RENAME TO \"p\";"]).is_none()
    );
    assert!(SchemaReplay::statements_of(["CREATE TEMP TABLE \"t\" (\"x\")"]).is_none());
    assert!(SchemaReplay::default()
        .apply([PARENT, "INSERT INTO \"parent\" DEFAULT VALUES;"])
        .is_none());
}

#[test]
fn every_prefix_of_a_script_is_read_as_sqlite_runs_it_or_left_to_sqlite() {
    // Cut anywhere, statements come out truncated, unbalanced or unterminated: the replay
    // must never panic, and whatever it reads must be what SQLite does with the same text.
    let script = format!("{PARENT}\n{CHILD}\n{ADD_COLUMNS}\nDROP INDEX \"ix_child_b\";");
    let mut read = 0;
    for end in (0..=script.len()).filter(|&end| script.is_char_boundary(end)) {
        let prefix = &script[..end];
        let mut pure = SchemaReplay::default();
        if pure.apply([prefix]).is_none() {
            continue;
        }
        read += 1;
        let conn = replay([("test", prefix)])
            .unwrap_or_else(|e| panic!("the model read what SQLite refuses: {e}\n{prefix}"));
        assert_eq!(schema_of(&pure), introspect(&conn).unwrap(), "{prefix}");
        assert_eq!(pure.objects(), stored_objects(&conn).unwrap(), "{prefix}");
    }
    assert!(read > 8, "only {read} prefixes were read");
}

/// A script of `n` parent/child table pairs (each child with its two indexes): past
/// [`PARALLEL_READ_MIN`] statements, so its creates are read on several threads.
fn many_tables(n: usize) -> String {
    (0..n)
        .map(|i| {
            let rename = |sql: &str| {
                sql.replace("\"parent\"", &format!("\"parent{i}\""))
                    .replace("\"child\"", &format!("\"child{i}\""))
                    .replace("\"ix_child_", &format!("\"ix_child{i}_"))
                    .replace("\"uq_code\"", &format!("\"uq_code{i}\""))
            };
            format!("{}\n{}\n", rename(PARENT), rename(CHILD))
        })
        .collect()
}

#[test]
fn many_statements_are_read_on_all_cores_as_one_by_one() {
    let script = many_tables(100);
    let statements = sqltext::statement_texts(&script);
    assert!(statements.len() >= PARALLEL_READ_MIN);
    assert_same_as_sqlite(&[&script]);
    // Stored objects read back in parallel too.
    let conn = replay([("test", script.as_str())]).unwrap();
    let objects = stored_objects(&conn).unwrap();
    let pure = SchemaReplay::from_stored(&objects).unwrap();
    assert_eq!(pure.objects(), objects);
    // One statement that does not read, early or late, or a name taken late, fails the run
    // as it fails one by one.
    for cut in [3, statements.len() / 2, statements.len() - 1] {
        let mut edited: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
        edited[cut] = edited[cut].replace("CREATE", "CREATE  ");
        let edited: Vec<&str> = edited.iter().map(String::as_str).collect();
        assert!(SchemaReplay::default().run_statements(&edited).is_none());
        let mut one_by_one = SchemaReplay::default();
        assert!(edited.iter().any(|s| one_by_one.run_statement(s).is_none()));
    }
    let mut taken: Vec<&str> = statements.clone();
    taken.push(statements[0]);
    assert!(SchemaReplay::default().run_statements(&taken).is_none());
}

#[test]
fn starts_from_stored_objects() {
    let conn = replay([("test", PARENT), ("test", CHILD)]).unwrap();
    let objects = stored_objects(&conn).unwrap();
    let pure = SchemaReplay::from_stored(&objects).unwrap();
    assert_eq!(pure.objects(), objects);
    assert_eq!(schema_of(&pure), introspect(&conn).unwrap());
}
