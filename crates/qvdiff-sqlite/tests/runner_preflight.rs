//! Steps that existing rows would break are refused with counts and example keys, and nothing
//! is changed.

mod runner_support;

use qvdiff_core::{diff, Column, ColumnType, DefaultValue, Dialect, Renames, Schema, Table};
use qvdiff_sqlite::runner::{run, RunError, RunOptions};
use qvdiff_sqlite::Sqlite;
use runner_support::*;

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, sku TEXT);\n\
     INSERT INTO items (id, sku) VALUES \
     (1, 'a'), (2, 'b'), (3, 'c'), (4, NULL), (5, 'a'), (6, 'b'), (7, 'x'), (8, 'b'), \
     (9, NULL), (10, 'y'), (11, 'z'), (12, NULL);";

fn applied_items(
    extra: Vec<qvdiff_core::runner::Migration>,
) -> (tempfile::TempDir, std::path::PathBuf, RunError) {
    let (dir, path) = database();
    let mut conn = open(&path);
    let mut list = vec![migration("r1", &[], ITEMS, "DROP TABLE items;")];
    run(
        &mut conn,
        &up(&set(list.clone()), "head", &RunOptions::default()),
    )
    .unwrap();
    list.extend(extra);
    let err = run(&mut conn, &up(&set(list), "head", &RunOptions::default())).unwrap_err();
    // Nothing changed.
    assert_eq!(ledger_revisions(&conn), ["r1"]);
    assert_eq!(count(&conn, "SELECT count(*) FROM items"), 12);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name LIKE '_qvdiff_new_%'"
        ),
        0
    );
    (dir, path, err)
}

#[test]
fn not_null_over_nulls_counts_and_names_rows() {
    let rebuild = "CREATE TABLE \"_qvdiff_new_items\" (\"id\" INTEGER PRIMARY KEY, \"sku\" TEXT NOT NULL);\n\
         INSERT INTO \"_qvdiff_new_items\" (\"id\", \"sku\") SELECT \"id\", \"sku\" FROM \"items\";\n\
         DROP TABLE \"items\";\n\
         ALTER TABLE \"_qvdiff_new_items\" RENAME TO \"items\";";
    let (_dir, _path, err) = applied_items(vec![migration("r2", &["r1"], rebuild, "SELECT 1;")]);
    let message = err.to_string();
    assert!(matches!(err, RunError::Data { .. }), "{message}");
    assert!(message.contains("revision r2"), "{message}");
    assert!(
        message.contains("3 rows of items have NULL in sku (ids 4, 9, 12)"),
        "{message}"
    );
    assert!(message.contains("backfill"), "{message}");
}

#[test]
fn unique_over_duplicates_counts_and_names_rows() {
    let (_dir, _path, err) = applied_items(vec![migration(
        "r2",
        &["r1"],
        "CREATE UNIQUE INDEX ux_items_sku ON items (sku);",
        "DROP INDEX ux_items_sku;",
    )]);
    let message = err.to_string();
    assert!(matches!(err, RunError::Data { .. }), "{message}");
    assert!(
        message.contains(
            "5 rows of items share their value of (sku) with another row (2 duplicated values): \
             sku 'a' on ids 1, 5; sku 'b' on ids 2, 6, 8;"
        ),
        "{message}"
    );
    assert!(
        message.contains("CREATE UNIQUE INDEX ux_items_sku"),
        "{message}"
    );
}

/// A partial unique index refuses only duplicates among the rows its condition selects: those
/// are counted, and rows outside it that share a value are not named.
#[test]
fn partial_unique_over_duplicates_counts_only_the_rows_it_selects() {
    let (_dir, _path, err) = applied_items(vec![migration(
        "r2",
        &["r1"],
        "CREATE UNIQUE INDEX ux_items_sku ON items (sku) WHERE id < 7;",
        "DROP INDEX ux_items_sku;",
    )]);
    let message = err.to_string();
    assert!(matches!(err, RunError::Data { .. }), "{message}");
    // Among ids 1–6: 'a' on 1, 5 and 'b' on 2, 6; id 8 ('b') is outside the condition.
    assert!(
        message.contains(
            "4 rows of items share their value of (sku) with another row (2 duplicated values): \
             sku 'a' on ids 1, 5; sku 'b' on ids 2, 6"
        ),
        "{message}"
    );
    assert!(!message.contains("2, 6, 8"), "{message}");
}

/// Duplicates are grouped by value, each value with its ids in order, the values in the order of
/// their first row; past the limits an ellipsis says more exist, and the counts stay exact.
#[test]
fn unique_over_duplicates_groups_ids_by_value_in_key_order() {
    let (dir, path) = database();
    let mut conn = open(&path);
    let rows: Vec<String> = [
        (1, "lamp"),
        (2, "desk"),
        (3, "desk"),
        (4, "lamp"),
        (5, "sofa"),
        (6, "chair"),
        (7, "chair"),
        (8, "sofa"),
        (9, "rug"),
        (10, "rug"),
        (11, "lamp"),
        (12, "lamp"),
        (13, "lamp"),
        (14, "lamp"),
        (15, "bed"),
    ]
    .iter()
    .map(|(id, title)| format!("({id}, '{title}')"))
    .collect();
    let create = format!(
        "CREATE TABLE things (id INTEGER PRIMARY KEY, title TEXT);\n\
         INSERT INTO things (id, title) VALUES {};",
        rows.join(", ")
    );
    let list = vec![
        migration("r1", &[], &create, "DROP TABLE things;"),
        migration(
            "r2",
            &["r1"],
            "CREATE UNIQUE INDEX ux_things_title ON things (title);",
            "DROP INDEX ux_things_title;",
        ),
    ];
    run(
        &mut conn,
        &up(&set(list.clone()), "r1", &RunOptions::default()),
    )
    .unwrap();
    let err = run(&mut conn, &up(&set(list), "head", &RunOptions::default())).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, RunError::Data { .. }), "{message}");
    assert!(
        message.contains(
            "14 rows of things share their value of (title) with another row (5 duplicated \
             values): title 'lamp' on ids 1, 4, 11, 12, 13, …; title 'desk' on ids 2, 3; \
             title 'sofa' on ids 5, 8; …;"
        ),
        "{message}"
    );
    assert_eq!(ledger_revisions(&conn), ["r1"]);
    assert_eq!(count(&conn, "SELECT count(*) FROM things"), 15);
    drop(dir);
}

#[test]
fn foreign_key_over_orphans_counts_and_names_rows() {
    let (_dir, _path, err) = applied_items(vec![migration(
        "r2",
        &["r1"],
        "CREATE TABLE sales (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL REFERENCES items (id));\n\
         INSERT INTO sales (id, item_id) VALUES (100, 1), (101, 99), (102, 98), (103, 2);",
        "DROP TABLE sales;",
    )]);
    let message = err.to_string();
    assert!(matches!(err, RunError::Data { .. }), "{message}");
    assert!(
        message.contains("2 rows of sales reference a missing row of items (through sales.item_id) (ids 101, 102)"),
        "{message}"
    );
}

#[test]
fn a_planned_not_null_change_on_real_rows_is_refused_then_backfill_passes() {
    let (_dir, path) = database();
    let mut conn = open(&path);
    let before = Schema {
        tables: vec![Table {
            primary_key: vec!["id".to_string()],
            ..Table::new(
                "items",
                vec![
                    Column::new("id", ColumnType::Integer { bits: 64 }),
                    Column {
                        nullable: true,
                        ..Column::new("sku", ColumnType::Text { max_length: None })
                    },
                ],
            )
        }],
        ..Schema::default()
    };
    let mut after = before.clone();
    after.tables[0].columns[1].nullable = false;
    let plan = |from: &Schema, to: &Schema| {
        let changes = diff(from, to, &Renames::default());
        let steps = Sqlite.plan(from, to, &changes).unwrap().steps;
        qvdiff_core::render_steps(&steps)
    };
    let create = plan(&Schema::default(), &before);
    let migrations = vec![migration(
        "r1",
        &[],
        &format!("{create}INSERT INTO items (id, sku) VALUES (1, 'a'), (2, NULL);"),
        "DROP TABLE items;",
    )];
    run(
        &mut conn,
        &up(&set(migrations.clone()), "head", &RunOptions::default()),
    )
    .unwrap();

    let mut refused = migrations.clone();
    refused.push(migration(
        "r2",
        &["r1"],
        &plan(&before, &after),
        "SELECT 1;",
    ));
    let err = run(
        &mut conn,
        &up(&set(refused), "head", &RunOptions::default()),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("1 row of items has NULL in sku (id 2)"),
        "{err}"
    );

    let mut with_backfill = after.clone();
    with_backfill.tables[0].columns[1].backfill = Some(DefaultValue::Text("none".to_string()));
    let mut fixed = migrations;
    fixed.push(migration(
        "r2",
        &["r1"],
        &plan(&before, &with_backfill),
        "SELECT 1;",
    ));
    run(&mut conn, &up(&set(fixed), "head", &RunOptions::default())).unwrap();
    assert_eq!(
        count(&conn, "SELECT count(*) FROM items WHERE sku = 'none'"),
        1
    );
}
