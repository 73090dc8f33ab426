use super::*;

/// A contract's down section renames the column back before adding its CHECK: reading the
/// rows for that CHECK before the first step would name a column not there yet (the server
/// refuses and logs the error). Constraints before any such statement are still read.
#[test]
fn nothing_the_revision_names_first_is_read_before_it_runs() {
    let checked = |statements: &[&str]| -> Vec<usize> {
        checks_up_front(statements, &[])
            .into_iter()
            .map(|(index, _)| index)
            .collect()
    };
    let not_null = "ALTER TABLE \"items\" ADD CONSTRAINT \"items_qty_new_not_null\" \
                    CHECK (\"qty_new\" IS NOT NULL) NOT VALID";
    let validate = "ALTER TABLE \"items\" VALIDATE CONSTRAINT \"items_qty_new_not_null\"";
    for gives_a_name in [
        "ALTER TABLE \"items\" RENAME COLUMN \"qty\" TO \"qty_new\"",
        "ALTER TABLE \"stock\" RENAME TO \"items\"",
        "ALTER TABLE \"items\" ADD COLUMN \"qty_new\" bigint",
        "CREATE TABLE \"items\" (\"id\" bigint PRIMARY KEY, \"qty_new\" bigint)",
    ] {
        assert!(
            checked(&[gives_a_name, not_null, validate]).is_empty(),
            "{gives_a_name}"
        );
    }
    assert_eq!(checked(&[not_null, validate]), vec![0]);
    // Names given that the constraint does not use leave it readable.
    for elsewhere in [
        "ALTER INDEX \"ix_items_qty\" RENAME TO \"ix_items_qty_old\"",
        "ALTER TABLE users RENAME COLUMN name TO title",
        "CREATE TABLE \"notes\" (\"id\" bigint PRIMARY KEY)",
    ] {
        assert_eq!(checked(&[elsewhere, not_null]), vec![1], "{elsewhere}");
    }
    assert_eq!(
        checked(&[
            "CREATE INDEX CONCURRENTLY ix ON \"items\" (\"qty\")",
            not_null
        ]),
        vec![1]
    );
    // A type change on a table the revision renames into place reads the rows under the
    // name they have before it runs, through a chain of renames; on a table the revision
    // creates, nothing.
    let widen = "ALTER TABLE \"items\" ALTER COLUMN \"qty\" TYPE bigint";
    assert_eq!(checked(&[widen]), vec![0]);
    let read_from = |statements: &[&str]| -> Vec<String> {
        checks_up_front(statements, &[])
            .into_iter()
            .filter_map(|(_, check)| match check {
                UpFront::Conversion(DataStep::Type { table, .. }) => Some(table.shown),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        read_from(&["ALTER TABLE \"stock\" RENAME TO \"items\"", widen]),
        ["stock"]
    );
    assert_eq!(
        read_from(&[
            "ALTER TABLE \"goods\" RENAME TO \"stock\"",
            "ALTER TABLE \"stock\" RENAME TO \"items\"",
            widen
        ]),
        ["goods"]
    );
    assert!(checked(&[
        "CREATE TABLE \"stock\" (\"id\" bigint PRIMARY KEY, \"qty\" integer)",
        "ALTER TABLE \"stock\" RENAME TO \"items\"",
        widen
    ])
    .is_empty());
    assert_eq!(
        checked(&["ALTER TABLE \"other\" RENAME TO \"more\"", widen]),
        vec![1]
    );
}

fn name(sql: &str, shown: &str) -> Name {
    Name {
        sql: sql.to_string(),
        shown: shown.to_string(),
    }
}

#[test]
fn recognises_the_steps_rows_can_block() {
    assert_eq!(
        DataStep::of("ALTER TABLE \"Users\" ALTER COLUMN \"email\" SET NOT NULL;"),
        Some(DataStep::NotNull {
            table: name("\"Users\"", "Users"),
            column: name("\"email\"", "email"),
        })
    );
    assert_eq!(
        DataStep::of(
            "CREATE UNIQUE INDEX CONCURRENTLY \"ix\" ON \"t\" (\"a\", b) WHERE status = 'x';"
        ),
        Some(DataStep::Unique {
            table: name("\"t\"", "t"),
            columns: vec![name("\"a\"", "a"), name("b", "b")],
            predicate: Some("status = 'x'".to_string()),
            concurrently: true,
        })
    );
    assert_eq!(
        DataStep::of("alter table t alter column c type varchar(10) using c::varchar(10)"),
        Some(DataStep::Type {
            table: name("t", "t"),
            column: name("c", "c"),
            to: "varchar(10)".to_string(),
            plain_cast: true,
            using: Some("c::varchar(10)".to_string()),
        })
    );
    assert!(matches!(
        DataStep::of("ALTER TABLE t ALTER COLUMN c TYPE integer USING length(c)"),
        Some(DataStep::Type {
            plain_cast: false,
            ..
        })
    ));
    assert!(matches!(
        DataStep::of("ALTER TABLE t ADD CONSTRAINT k FOREIGN KEY (a) REFERENCES p (id)"),
        Some(DataStep::ForeignKey { .. })
    ));
    assert!(matches!(
        DataStep::of("ALTER TABLE t ADD CONSTRAINT k CHECK (a > 0)"),
        Some(DataStep::Check { .. })
    ));
    assert!(matches!(
        DataStep::of("ALTER TABLE t VALIDATE CONSTRAINT k"),
        Some(DataStep::Validate { .. })
    ));
    // Checked later, by VALIDATE; several actions, expression indexes: as they are.
    assert_eq!(
        DataStep::of("ALTER TABLE t ADD CONSTRAINT k CHECK (a > 0) NOT VALID"),
        None
    );
    assert_eq!(
        DataStep::of("ALTER TABLE t ALTER a SET NOT NULL, ALTER b SET NOT NULL"),
        None
    );
    assert_eq!(DataStep::of("CREATE UNIQUE INDEX i ON t (lower(a))"), None);
    assert_eq!(DataStep::of("CREATE INDEX i ON t (a)"), None);
}

#[test]
fn conversions_that_change_values_are_found() {
    use ColumnType as T;
    let text = T::Text { max_length: None };
    let short = T::Text {
        max_length: Some(10),
    };
    assert_eq!(
        changed_by_conversion("c", &text, &short).as_deref(),
        Some("char_length(c::text) > 10")
    );
    assert!(changed_by_conversion("c", &T::Float, &T::Integer { bits: 64 }).is_some());
    assert!(
        changed_by_conversion("c", &T::Integer { bits: 64 }, &T::Integer { bits: 32 }).is_some()
    );
    assert!(changed_by_conversion(
        "c",
        &T::Decimal {
            precision: Some(10),
            scale: Some(3)
        },
        &T::Decimal {
            precision: Some(5),
            scale: Some(2)
        }
    )
    .is_some());
    // Widening keeps every value.
    assert_eq!(changed_by_conversion("c", &short, &text), None);
    assert_eq!(
        changed_by_conversion("c", &T::Integer { bits: 32 }, &T::Integer { bits: 64 }),
        None
    );
    assert!(not_null_column("((email IS NOT NULL))").is_some());
    assert!(keeps_values(
        "ALTER TABLE \"t\" ALTER COLUMN \"x'y\" DROP DEFAULT"
    ));
    assert!(keeps_values("alter table t alter c set default -2.25"));
    assert!(!keeps_values("ALTER TABLE t RENAME COLUMN a TO c"));
    assert!(!keeps_values("ALTER TABLE t ALTER c TYPE bigint"));
    assert!(!keeps_values(
        "ALTER TABLE t ALTER c DROP DEFAULT, ALTER c TYPE int"
    ));
    assert_eq!(not_null_column("a > 0"), None);
}
