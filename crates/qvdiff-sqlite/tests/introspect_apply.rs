//! The round-trip invariant, replay, schema copy, apply on a file database, and verify.

mod common;
#[path = "../../../fixtures/schema/sample_columns.rs"]
mod sample_columns;

use common::*;
use qvdiff_core::{
    Check, Column, ColumnType, DefaultValue, Dialect, FkAction, ForeignKey, Index, Schema, Unique,
};
use qvdiff_sqlite::{
    apply_script, create_table_sql, introspect, replay, schema_copy, verify, Sqlite, SqliteError,
    VerifyError, VerifyStep,
};

/// A schema using every logical type, default kind and constraint kind.
fn rich_schema() -> Schema {
    let mut users = table(
        "users",
        &["id"],
        vec![
            integer("id"),
            Column::new(
                "email",
                ColumnType::Text {
                    max_length: Some(320),
                },
            ),
            nullable(Column::new("score", ColumnType::Float)),
            sample_columns::active(),
            sample_columns::created(),
            nullable(Column::new("born", ColumnType::Date)),
            nullable(Column::new("wakes", ColumnType::Time)),
            Column::new("uid", ColumnType::Uuid),
            nullable(Column::new("prefs", ColumnType::Json)),
            with_default(
                Column::new(
                    "balance",
                    ColumnType::Decimal {
                        precision: Some(12),
                        scale: Some(2),
                    },
                ),
                DefaultValue::Float(0.5),
            ),
            nullable(Column::new(
                "ratio",
                ColumnType::Decimal {
                    precision: None,
                    scale: None,
                },
            )),
            nullable(Column::new("avatar", ColumnType::Blob)),
            nullable(Column::new(
                "legacy",
                ColumnType::Custom {
                    sql: "BIGINT".into(),
                },
            )),
            with_default(
                text("motto"),
                DefaultValue::Text("it's -- fine; (really)".into()),
            ),
            with_default(
                Column::new("day", ColumnType::Text { max_length: None }),
                DefaultValue::Sql("date('now', '+1 day')".into()),
            ),
            with_default(integer("negative"), DefaultValue::Integer(-42)),
            with_default(
                Column::new("tiny", ColumnType::Float),
                DefaultValue::Float(1e-300),
            ),
        ],
    );
    users.columns[0].autoincrement = true;
    users.uniques.push(Unique {
        name: Some("uq_users_email".into()),
        columns: vec!["email".into()],
    });
    users.uniques.push(Unique {
        name: None,
        columns: vec!["uid".into(), "born".into()],
    });
    users
        .indexes
        .push(Index::new("ix_users_score", &["score"], false));
    users
        .indexes
        .push(Index::new("ux_users_motto_day", &["motto", "day"], true));
    users.checks.push(Check {
        name: "ck_score".into(),
        expr: "score IS NULL OR (score >= 0 AND score <= 100)".into(),
    });
    users.checks.push(Check {
        name: String::new(),
        expr: "length(email) > 3".into(),
    });

    let mut memberships = table(
        "memberships",
        &["user_id", "group"],
        vec![
            integer("user_id"),
            text("group"),
            nullable(integer("invited_by")),
        ],
    );
    memberships.foreign_keys.push(ForeignKey {
        columns: vec!["user_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::Cascade,
        on_update: FkAction::Restrict,
    });
    memberships.foreign_keys.push(ForeignKey {
        columns: vec!["invited_by".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::SetNull,
        on_update: FkAction::NoAction,
    });
    let mut pairs = table(
        "pairs",
        &["a", "b"],
        vec![text("a"), text("b"), text("note")],
    );
    pairs.foreign_keys.push(ForeignKey {
        columns: vec!["a".into(), "b".into()],
        ref_table: "memberships".into(),
        ref_columns: vec!["group".into(), "user_id".into()],
        on_delete: FkAction::SetDefault,
        on_update: FkAction::Cascade,
    });
    schema(vec![users, memberships, pairs])
}

/// The `CREATE TABLE` statements of every table of `schema`, one a line.
fn create_script(schema: &Schema) -> String {
    schema
        .tables
        .iter()
        .map(create_table_sql)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn create_then_introspect_round_trips() {
    let wanted = Sqlite.normalize(&rich_schema());
    let create = create_script(&wanted);
    let conn = replay([("r1", create.as_str())]).unwrap_or_else(|e| panic!("{e}\n{create}"));
    assert_eq!(tables_of(&conn), wanted.without_hints(), "{create}");
    // Normalizing is idempotent.
    assert_eq!(Sqlite.normalize(&wanted), wanted);
    // In place, it gives the same schema as the copy.
    assert_eq!(Sqlite.normalize_owned(rich_schema()), wanted);
}

#[test]
fn create_table_sql_is_readable() {
    let t = &Sqlite.normalize(&rich_schema()).tables[2];
    assert_eq!(t.name, "users");
    let sql = create_table_sql(t);
    assert!(
        sql.starts_with(
            "CREATE TABLE \"users\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,\n"
        ),
        "{sql}"
    );
    assert!(
        sql.contains("\n    CONSTRAINT \"uq_users_email\" UNIQUE (\"email\"),\n"),
        "{sql}"
    );
    assert!(
        sql.contains("\"day\" TEXT NOT NULL DEFAULT (date('now', '+1 day'))"),
        "{sql}"
    );
    assert!(
        sql.contains("\"balance\" NUMERIC(12, 2) NOT NULL DEFAULT 0.5"),
        "{sql}"
    );
    assert!(
        sql.contains(
            "\nCREATE UNIQUE INDEX \"ux_users_motto_day\" ON \"users\" (\"motto\", \"day\");"
        ),
        "{sql}"
    );
}

#[test]
fn introspect_skips_internal_tables_and_reads_hand_written_sql() {
    let conn = replay([(
        "hand",
        "CREATE TABLE qvdiff_migrations (revision TEXT PRIMARY KEY);
         CREATE TABLE t (
             id integer primary key autoincrement,
             n int default (1),
             s varchar( 20 ) CONSTRAINT s_uq UNIQUE,
             x,
             CONSTRAINT \"positive\" CHECK (n > 0)
         );
         CREATE INDEX t_x ON t (x);
         CREATE INDEX t_partial ON t (x) WHERE x IS NOT NULL;
         CREATE INDEX t_expr ON t (lower(s));",
    )])
    .expect("replay");
    let schema = introspect(&conn).expect("introspect");
    assert_eq!(schema.tables.len(), 1);
    let t = &schema.tables[0];
    assert!(t.columns[0].autoincrement);
    assert_eq!(t.columns[1].ty, ColumnType::Custom { sql: "INT".into() });
    assert_eq!(t.columns[1].default, Some(DefaultValue::Integer(1)));
    assert_eq!(
        t.columns[2].ty,
        ColumnType::Text {
            max_length: Some(20)
        }
    );
    assert_eq!(t.columns[3].ty, ColumnType::Custom { sql: String::new() });
    assert_eq!(
        t.uniques,
        vec![Unique {
            name: Some("s_uq".into()),
            columns: vec!["s".into()]
        }]
    );
    assert_eq!(
        t.checks,
        vec![Check {
            name: "positive".into(),
            expr: "n > 0".into()
        }]
    );
    // A partial index keeps its condition as written; an expression index is not modelled.
    assert_eq!(
        t.indexes,
        vec![
            Index {
                name: "t_partial".into(),
                columns: vec!["x".into()],
                unique: false,
                predicate: Some("x IS NOT NULL".into()),
            },
            Index::new("t_x", &["x"], false),
        ]
    );
}

#[test]
fn replay_runs_hand_written_sql_and_names_the_failure() {
    let conn = replay([
        (
            "r1",
            "CREATE TABLE t (s TEXT); -- comment; still a comment\n\
                CREATE TABLE log (s TEXT);\n\
                CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n\
                  INSERT INTO log VALUES ('a;b' || new.s);\n\
                END;",
        ),
        ("r2", "INSERT INTO t VALUES ('x'); /* ; */ SELECT * FROM t;"),
    ])
    .expect("replay");
    assert_eq!(rows(&conn, "SELECT s FROM log"), strings(&[&["t:a;bx"]]));

    let error = replay([
        ("r1", "CREATE TABLE t (s TEXT);"),
        (
            "r2",
            "INSERT INTO t VALUES ('a;b');\nINSERT INTO nowhere VALUES (1);",
        ),
    ])
    .expect_err("no such table");
    match &error {
        SqliteError::Statement {
            revision,
            statement,
            message,
        } => {
            assert_eq!(revision, "r2");
            assert_eq!(statement, "INSERT INTO nowhere VALUES (1)");
            assert!(message.contains("no such table: nowhere"), "{message}");
        }
        other => panic!("unexpected {other}"),
    }
    let display = error.to_string();
    assert!(
        display.contains("revision r2") && display.contains("INSERT INTO nowhere"),
        "{display}"
    );

    // A runtime failure (not a prepare failure) names its statement too.
    let error = replay([(
        "r3",
        "CREATE TABLE u (n INTEGER NOT NULL); INSERT INTO u VALUES (NULL);",
    )])
    .expect_err("not null");
    assert!(
        error.to_string().contains("INSERT INTO u VALUES (NULL)"),
        "{error}"
    );
}

#[test]
fn a_script_that_commits_is_refused() {
    let error = replay([("r1", "CREATE TABLE t (s TEXT); COMMIT;")]).expect_err("commit");
    assert!(
        error
            .to_string()
            .contains("must not contain BEGIN, COMMIT or ROLLBACK"),
        "{error}"
    );
}

#[test]
fn schema_copy_has_the_schema_and_no_rows() {
    let wanted = Sqlite.normalize(&rich_schema());
    let create = create_script(&wanted);
    let live = replay([("r1", create.as_str())]).expect("replay");
    live.execute_batch(
        "INSERT INTO users (email, uid) VALUES ('a@b.c', 'u');
         CREATE VIEW v AS SELECT email FROM users;
         CREATE TRIGGER tr AFTER DELETE ON users BEGIN SELECT 1; END;",
    )
    .expect("seed");
    let copy = schema_copy(&live).expect("copy");
    assert_eq!(
        introspect(&copy).expect("copy schema"),
        introspect(&live).expect("live schema")
    );
    assert_eq!(
        rows(&copy, "SELECT count(*) FROM users"),
        strings(&[&["i:0"]])
    );
}

#[test]
fn apply_on_a_file_database() {
    let path = std::env::temp_dir().join(format!("qvdiff-sqlite-test-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let from = schema(vec![table(
        "t",
        &["id"],
        vec![integer("id"), nullable(integer("n"))],
    )]);
    let to = schema(vec![table(
        "t",
        &["id"],
        vec![integer("id"), nullable(Column::new("n", ColumnType::Float))],
    )]);
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        apply_script(&mut conn, "r1", &create_table_sql(&from.tables[0])).expect("create");
        conn.execute_batch("INSERT INTO t VALUES (1, 2)")
            .expect("insert");
        migrate(&mut conn, &from, &to);
    }
    let conn = rusqlite::Connection::open(&path).expect("reopen");
    assert_eq!(rows(&conn, "SELECT n FROM t"), strings(&[&["r:2"]]));
    assert_eq!(tables_of(&conn), expected(&to));
    drop(conn);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn verify_accepts_a_correct_migration_and_detects_a_wrong_down() {
    let from = schema(vec![table(
        "t",
        &["id"],
        vec![integer("id"), nullable(text("notes"))],
    )]);
    let mut to_table = from.tables[0].clone();
    to_table
        .columns
        .push(with_default(integer("n"), DefaultValue::Integer(0)));
    to_table.columns[1].ty = ColumnType::Text {
        max_length: Some(50),
    };
    let to = schema(vec![to_table]);
    let up = script(&plan_up(&from, &to).expect("up"));
    let down = script(&plan_down(&from, &to).expect("down"));

    let create = create_table_sql(&from.tables[0]);
    let mut conn = replay([("base", create.as_str())]).expect("base");
    verify(&mut conn, &to, &up, &down).expect("verifies");

    // A down that forgets to undo the type change.
    let mut conn = replay([("base", create.as_str())]).expect("base");
    let wrong_down = "ALTER TABLE \"t\" DROP COLUMN \"n\";";
    match verify(&mut conn, &to, &up, wrong_down) {
        Err(VerifyError::Mismatch {
            step,
            expected,
            actual,
        }) => {
            assert_eq!(step, VerifyStep::Down);
            assert_ne!(expected, actual);
            assert_eq!(
                expected.tables[0].columns[1].ty,
                ColumnType::Text { max_length: None }
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }

    // A down that fails to run.
    let mut conn = replay([("base", create.as_str())]).expect("base");
    let error = verify(&mut conn, &to, &up, "DROP TABLE nope;").expect_err("fails");
    assert!(
        matches!(
            error,
            VerifyError::Apply {
                step: VerifyStep::Down,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("no such table: nope"), "{error}");
}

#[test]
fn introspects_many_tables() {
    // Not a benchmark (tests never assert on time): checks that the bulk queries cover every
    // table and column when there are many.
    let mut tables = Vec::new();
    for t in 0..200 {
        let mut columns = vec![integer("id")];
        for c in 0..19 {
            columns.push(nullable(text(&format!("c{c}"))));
        }
        let mut tbl = table(&format!("t{t:04}"), &["id"], columns);
        tbl.indexes.push(Index {
            name: format!("ix_t{t:04}_c0"),
            columns: vec!["c0".into()],
            unique: false,
            predicate: None,
        });
        tables.push(tbl);
    }
    let wanted = schema(tables);
    let create = create_script(&wanted);
    let conn = replay([("r1", create.as_str())]).expect("replay");
    assert_eq!(tables_of(&conn), expected(&wanted));
}
