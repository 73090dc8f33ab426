//! Every kind of change, planned and applied to real databases holding rows, then reversed.

mod common;

use common::*;
use qvdiff_core::Dialect;
use qvdiff_core::{Change, Check, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Unique};
use qvdiff_sqlite::{apply_script, introspect, Sqlite, SqliteError};

fn items_v1() -> qvdiff_core::Table {
    let mut items = table(
        "items",
        &["id"],
        vec![
            integer("id"),
            Column::new(
                "title",
                ColumnType::Text {
                    max_length: Some(200),
                },
            ),
            nullable(text("notes")),
            with_default(integer("quantity"), DefaultValue::Integer(1)),
            nullable(integer("price")),
        ],
    );
    items.columns[0].autoincrement = true;
    items
}

use qvdiff_core::Column;

const ITEMS_SEED: &str = "INSERT INTO items (id, title, notes, quantity, price) VALUES
    (1, 'lamp', 'old', 2, 10),
    (2, 'desk', NULL, 1, NULL),
    (3, 'it''s; a chair', 'x', 5, 7);";

#[test]
fn rename_column_keeps_data() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[2].name = "remarks".into();
    to_items.columns[2].renamed_from = Some("notes".into());
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert_eq!(
        sql,
        "ALTER TABLE \"items\" RENAME COLUMN \"notes\" TO \"remarks\";"
    );
    assert_eq!(
        rows(&conn, "SELECT id, remarks FROM items ORDER BY id"),
        strings(&[&["i:1", "t:old"], &["i:2", "NULL"], &["i:3", "t:x"]])
    );
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT notes FROM items ORDER BY id"),
        strings(&[&["t:old"], &["NULL"], &["t:x"]])
    );
}

#[test]
fn integer_to_real_rebuild_converts_values() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[4].ty = ColumnType::Float;
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert!(
        sql.starts_with("-- rebuild \"items\": type of \"price\" changes from INTEGER to REAL\n"),
        "{sql}"
    );
    assert!(sql.contains("CREATE TABLE \"_qvdiff_new_items\""), "{sql}");
    assert!(!sql.contains("DROP COLUMN"), "{sql}");
    assert_eq!(
        rows(&conn, "SELECT id, price, title FROM items ORDER BY id"),
        strings(&[
            &["i:1", "r:10", "t:lamp"],
            &["i:2", "NULL", "t:desk"],
            &["i:3", "r:7", "t:it's; a chair"]
        ])
    );
    let down = plan_down(&from, &to).expect("plan down");
    assert!(
        down.steps.iter().any(|s| s
            .destructive()
            .as_deref()
            .is_some_and(|d| d.contains("items.price changes type from REAL to INTEGER"))),
        "{down:?}"
    );
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT price FROM items ORDER BY id"),
        strings(&[&["i:10"], &["NULL"], &["i:7"]])
    );
}

#[test]
fn integer_to_real_is_destructive_beyond_two_to_the_53() {
    // A REAL holds integers exactly only up to 2^53: 2^53 + 1 comes back as 2^53, so the way up
    // must say it can lose data, as `migrate`'s console summary does.
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[4].ty = ColumnType::Float;
    let to = schema(vec![to_items]);
    let up = plan_up(&from, &to).expect("plan up");
    assert!(
        up.steps.iter().any(|s| s
            .destructive()
            .as_deref()
            .is_some_and(|d| d.contains("items.price changes type from INTEGER to REAL"))),
        "{up:?}"
    );
    let mut conn = database(
        &from,
        "INSERT INTO items (id, title, price) VALUES (1, 'big', 9007199254740993);",
    );
    migrate(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT price FROM items"),
        strings(&[&["r:9007199254740992"]])
    );
}

#[test]
fn null_to_not_null_with_backfill_fills_nulls() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[2] = with_backfill(text("notes"), DefaultValue::Text("none".into()));
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert!(sql.contains("COALESCE(\"notes\", 'none')"), "{sql}");
    assert_eq!(
        rows(&conn, "SELECT notes FROM items ORDER BY id"),
        strings(&[&["t:old"], &["t:none"], &["t:x"]])
    );
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM items"),
        strings(&[&["i:3"]])
    );
}

#[test]
fn null_to_not_null_without_backfill_refuses_over_nulls() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[2].nullable = false;
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = script(&plan_up(&from, &to).expect("plan"));
    let error = apply_script(&mut conn, "20260101000000", &sql).expect_err("NULLs must refuse");
    let message = error.to_string();
    assert!(message.contains("20260101000000"), "{message}");
    assert!(message.contains("NOT NULL constraint failed"), "{message}");
    assert!(
        message.contains("INSERT INTO \"_qvdiff_new_items\""),
        "{message}"
    );
    // Nothing changed.
    assert_eq!(tables_of(&conn), expected(&from));
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM items"),
        strings(&[&["i:3"]])
    );
}

#[test]
fn add_not_null_column_with_default_uses_alter() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns.push(with_default(
        Column::new("sync", ColumnType::Bool),
        DefaultValue::Bool(true),
    ));
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert_eq!(
        sql,
        "ALTER TABLE \"items\" ADD COLUMN \"sync\" BOOLEAN NOT NULL DEFAULT TRUE;"
    );
    assert_eq!(
        rows(&conn, "SELECT sync FROM items ORDER BY id"),
        strings(&[&["i:1"], &["i:1"], &["i:1"]])
    );
    let down = migrate_back(&mut conn, &from, &to);
    assert_eq!(down, "ALTER TABLE \"items\" DROP COLUMN \"sync\";");
    let plan = plan_down(&from, &to).expect("plan");
    assert_eq!(
        plan.steps[0].destructive().as_deref(),
        Some("drops data in items.sync")
    );
}

#[test]
fn add_column_with_backfill_differing_from_default() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns.push(with_backfill(
        with_default(
            Column::new("sync", ColumnType::Bool),
            DefaultValue::Bool(false),
        ),
        DefaultValue::Bool(true),
    ));
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    migrate(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT DISTINCT sync FROM items"),
        strings(&[&["i:1"]])
    );
    conn.execute_batch("INSERT INTO items (title) VALUES ('new')")
        .expect("insert");
    assert_eq!(
        rows(&conn, "SELECT sync FROM items WHERE title = 'new'"),
        strings(&[&["i:0"]])
    );
}

#[test]
fn add_not_null_column_with_backfill_only_rebuilds() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns.push(with_backfill(
        text("sku"),
        DefaultValue::Text("unknown".into()),
    ));
    let to = schema(vec![to_items]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert!(sql.contains("_qvdiff_new_items"), "{sql}");
    assert_eq!(
        rows(&conn, "SELECT DISTINCT sku FROM items"),
        strings(&[&["t:unknown"]])
    );
    migrate_back(&mut conn, &from, &to);
}

#[test]
fn add_not_null_column_without_value_is_a_plan_error() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns.push(text("sku"));
    let to = schema(vec![to_items]);
    let error = plan_up(&from, &to).expect_err("needs a value");
    assert_eq!(error.table, "items");
    assert_eq!(error.column.as_deref(), Some("sku"));
    let message = error.to_string();
    assert!(message.starts_with("items.sku: "), "{message}");
    assert!(message.contains("#[column(default = …)]"), "{message}");
    assert!(message.contains("#[column(backfill = …)]"), "{message}");
}

#[test]
fn dropping_a_column_and_its_own_index_alters_in_place() {
    let mut from_items = items_v1();
    from_items
        .indexes
        .push(Index::new("ix_items_price", &["price"], false));
    let from = schema(vec![from_items.clone()]);

    let mut without_notes = from_items.clone();
    without_notes.columns.retain(|c| c.name != "notes");
    let to = schema(vec![without_notes]);
    let mut conn = database(&from, ITEMS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert_eq!(sql, "ALTER TABLE \"items\" DROP COLUMN \"notes\";");
    migrate_back(&mut conn, &from, &to);

    // The column's own index goes with it: DROP INDEX, then DROP COLUMN, no copy of the rows.
    let mut without_price = from_items;
    without_price.columns.retain(|c| c.name != "price");
    without_price.indexes.clear();
    let to = schema(vec![without_price]);
    let plan = plan_up(&from, &to).expect("plan");
    assert_eq!(
        script(&plan),
        "DROP INDEX \"ix_items_price\";\nALTER TABLE \"items\" DROP COLUMN \"price\";"
    );
    assert!(
        plan.steps
            .iter()
            .any(|s| s.destructive().as_deref() == Some("drops data in items.price")),
        "{plan:?}"
    );
    migrate(&mut conn, &from, &to);
    assert_eq!(
        rows(
            &conn,
            "SELECT id, title, notes, quantity FROM items ORDER BY id"
        ),
        strings(&[
            // `notes` was dropped and re-added above: its data is gone, as the plan warned.
            &["i:1", "t:lamp", "NULL", "i:2"],
            &["i:2", "t:desk", "NULL", "i:1"],
            &["i:3", "t:it's; a chair", "NULL", "i:5"]
        ])
    );
    migrate_back(&mut conn, &from, &to);
}

fn users() -> qvdiff_core::Table {
    table(
        "users",
        &["id"],
        vec![integer("id"), text("name"), nullable(integer("age"))],
    )
}

fn orders(on_delete: FkAction) -> qvdiff_core::Table {
    let mut orders = table(
        "orders",
        &["id"],
        vec![integer("id"), integer("user_id"), text("what")],
    );
    orders.foreign_keys.push(ForeignKey {
        columns: vec!["user_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete,
        on_update: FkAction::NoAction,
    });
    orders
}

const USERS_SEED: &str = "INSERT INTO users VALUES (1, 'ann', 30), (2, 'bob', NULL);
    INSERT INTO orders VALUES (10, 1, 'tea'), (11, 1, 'cake'), (12, 2, 'pie');";

#[test]
fn rebuilding_a_parent_does_not_cascade_into_children() {
    let from = schema(vec![users(), orders(FkAction::Cascade)]);
    let mut changed_users = users();
    changed_users.columns[2].ty = ColumnType::Float;
    let to = schema(vec![changed_users, orders(FkAction::Cascade)]);
    let mut conn = database(&from, USERS_SEED);
    conn.execute_batch("PRAGMA foreign_keys = ON")
        .expect("fk on");
    let sql = migrate(&mut conn, &from, &to);
    assert!(sql.contains("DROP TABLE \"users\";"), "{sql}");
    assert_eq!(
        rows(&conn, "SELECT id, user_id FROM orders ORDER BY id"),
        strings(&[&["i:10", "i:1"], &["i:11", "i:1"], &["i:12", "i:2"]])
    );
    // The connection's setting is restored, and the rebuilt parent still cascades.
    assert_eq!(rows(&conn, "PRAGMA foreign_keys"), strings(&[&["i:1"]]));
    conn.execute_batch("DELETE FROM users WHERE id = 2")
        .expect("delete");
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM orders"),
        strings(&[&["i:2"]])
    );
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM orders"),
        strings(&[&["i:2"]])
    );
}

#[test]
fn foreign_key_on_delete_change() {
    let from = schema(vec![users(), orders(FkAction::NoAction)]);
    let to = schema(vec![users(), orders(FkAction::Cascade)]);
    let mut conn = database(&from, USERS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert!(
        sql.contains("REFERENCES \"users\" (\"id\") ON DELETE CASCADE"),
        "{sql}"
    );
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM orders"),
        strings(&[&["i:3"]])
    );
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM orders"),
        strings(&[&["i:3"]])
    );
}

#[test]
fn foreign_key_over_orphans_is_refused_and_rolled_back() {
    let mut plain_orders = orders(FkAction::NoAction);
    plain_orders.foreign_keys.clear();
    let from = schema(vec![users(), plain_orders]);
    let to = schema(vec![users(), orders(FkAction::NoAction)]);
    let mut conn = database(
        &from,
        &format!("{USERS_SEED} INSERT INTO orders VALUES (13, 99, 'ghost');"),
    );
    let sql = script(&plan_up(&from, &to).expect("plan"));
    let error = apply_script(&mut conn, "r1", &sql).expect_err("orphan");
    match &error {
        SqliteError::ForeignKeyViolations {
            violations, total, ..
        } => {
            assert_eq!(*total, 1);
            assert_eq!(violations[0].table, "orders");
            assert_eq!(violations[0].parent, "users");
            assert_eq!(violations[0].rowid, Some(13));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(error
        .to_string()
        .contains("orders rowid 13 references a missing row in users"));
    assert_eq!(tables_of(&conn), expected(&from));
}

#[test]
fn add_nullable_column_with_foreign_key_is_inline() {
    let from = schema(vec![users(), {
        let mut o = orders(FkAction::NoAction);
        o.foreign_keys.clear();
        o
    }]);
    let mut to_orders = orders(FkAction::NoAction);
    to_orders.foreign_keys.push(ForeignKey {
        columns: vec!["helper_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::SetNull,
        on_update: FkAction::NoAction,
    });
    to_orders
        .foreign_keys
        .retain(|f| f.columns == ["helper_id"]);
    to_orders.columns.push(nullable(integer("helper_id")));
    let to = schema(vec![users(), to_orders]);
    let mut conn = database(&from, USERS_SEED);
    let sql = migrate(&mut conn, &from, &to);
    assert_eq!(
        sql,
        "ALTER TABLE \"orders\" ADD COLUMN \"helper_id\" INTEGER REFERENCES \"users\" (\"id\") ON DELETE SET NULL;"
    );
    migrate_back(&mut conn, &from, &to);
}

#[test]
fn triggers_and_views_survive_a_rebuild() {
    let from = schema(vec![items_v1()]);
    let mut conn = database(&from, ITEMS_SEED);
    conn.execute_batch(
        "CREATE TABLE log (what TEXT);
         CREATE VIEW cheap AS SELECT id, title FROM items WHERE price < 9;
         CREATE VIEW cheap_titles AS SELECT title FROM cheap;
         CREATE TRIGGER items_log AFTER INSERT ON items BEGIN
             INSERT INTO log VALUES ('added; ' || new.title);
         END;",
    )
    .expect("objects");
    let from = introspect(&conn).expect("introspect");
    assert_eq!(from.views.len(), 2);
    assert_eq!(from.triggers.len(), 1);
    let mut to = from.clone();
    let items = to
        .tables
        .iter_mut()
        .find(|t| t.name == "items")
        .expect("items");
    items.columns[4].ty = ColumnType::Float;
    to.views.clear();
    to.triggers.clear();
    let plan = plan_up(&from, &to).expect("plan");
    let sql = script(&plan);
    assert!(sql.starts_with("DROP VIEW IF EXISTS"), "{sql}");
    apply_script(&mut conn, "up", &sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let after = introspect(&conn).expect("introspect");
    assert_eq!(after.views.len(), 2, "{sql}");
    assert_eq!(after.triggers.len(), 1, "{sql}");
    assert_eq!(
        rows(&conn, "SELECT title FROM cheap_titles"),
        strings(&[&["t:it's; a chair"]])
    );
    conn.execute_batch("INSERT INTO items (title) VALUES ('rug')")
        .expect("insert");
    assert_eq!(
        rows(&conn, "SELECT what FROM log"),
        strings(&[&["t:added; rug"]])
    );
}

#[test]
fn renamed_and_rebuilt_table_keeps_views_working() {
    let from = schema(vec![items_v1()]);
    let mut conn = database(&from, ITEMS_SEED);
    conn.execute_batch(
        "CREATE VIEW priced AS SELECT items.title, price FROM items WHERE price IS NOT NULL;",
    )
    .expect("view");
    let from = introspect(&conn).expect("introspect");
    let mut to = from.clone();
    to.views.clear();
    let goods = &mut to.tables[0];
    goods.name = "goods".into();
    goods.renamed_from = Some("items".into());
    goods.columns[4].name = "cost".into();
    goods.columns[4].renamed_from = Some("price".into());
    goods.columns[4].ty = ColumnType::Float;
    let sql = script(&plan_up(&from, &to).expect("plan"));
    apply_script(&mut conn, "up", &sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    assert_eq!(tables_of(&conn), expected(&to));
    assert_eq!(
        rows(&conn, "SELECT * FROM priced ORDER BY 1"),
        strings(&[&["t:it's; a chair", "r:7"], &["t:lamp", "r:10"]])
    );
}

#[test]
fn composite_primary_key_change() {
    let from = schema(vec![table(
        "stock",
        &["shop"],
        vec![text("shop"), text("sku"), integer("count")],
    )]);
    let to = schema(vec![table(
        "stock",
        &["shop", "sku"],
        vec![text("shop"), text("sku"), integer("count")],
    )]);
    let mut conn = database(
        &from,
        "INSERT INTO stock VALUES ('a', 'x', 1), ('b', 'x', 2);",
    );
    let sql = migrate(&mut conn, &from, &to);
    assert!(sql.contains("PRIMARY KEY (\"shop\", \"sku\")"), "{sql}");
    conn.execute_batch("INSERT INTO stock VALUES ('a', 'y', 3)")
        .expect("allowed by new key");
    let error = conn.execute_batch("INSERT INTO stock VALUES ('a', 'y', 4)");
    assert!(error.is_err());
    conn.execute_batch("DELETE FROM stock WHERE sku = 'y'")
        .expect("delete");
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT * FROM stock ORDER BY shop"),
        strings(&[&["t:a", "t:x", "i:1"], &["t:b", "t:x", "i:2"]])
    );
}

#[test]
fn unique_add_and_drop() {
    let from = schema(vec![users()]);
    let mut unique_users = users();
    unique_users.uniques.push(Unique {
        name: Some("uq_users_name".into()),
        columns: vec!["name".into()],
    });
    let to = schema(vec![unique_users]);
    let mut conn = database(
        &from,
        "INSERT INTO users VALUES (1, 'ann', 3), (2, 'bob', 4);",
    );
    let sql = migrate(&mut conn, &from, &to);
    assert!(
        sql.contains("CONSTRAINT \"uq_users_name\" UNIQUE (\"name\")"),
        "{sql}"
    );
    assert!(conn
        .execute_batch("INSERT INTO users VALUES (3, 'ann', 5)")
        .is_err());
    migrate_back(&mut conn, &from, &to);
    conn.execute_batch("INSERT INTO users VALUES (3, 'ann', 5)")
        .expect("no longer unique");
    // Adding it again over duplicates is refused and changes nothing.
    let sql = script(&plan_up(&from, &to).expect("plan"));
    let error = apply_script(&mut conn, "r2", &sql).expect_err("duplicates");
    assert!(
        error.to_string().contains("UNIQUE constraint failed"),
        "{error}"
    );
    assert_eq!(tables_of(&conn), expected(&from));
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM users"),
        strings(&[&["i:3"]])
    );
}

#[test]
fn index_add_and_drop_use_create_and_drop_index() {
    let from = schema(vec![users()]);
    let mut indexed = users();
    indexed
        .indexes
        .push(Index::new("ix_users_name_age", &["name", "age"], true));
    let to = schema(vec![indexed]);
    let mut conn = database(&from, "INSERT INTO users VALUES (1, 'ann', 3);");
    let up = migrate(&mut conn, &from, &to);
    assert_eq!(
        up,
        "CREATE UNIQUE INDEX \"ix_users_name_age\" ON \"users\" (\"name\", \"age\");"
    );
    let down = migrate_back(&mut conn, &from, &to);
    assert_eq!(down, "DROP INDEX \"ix_users_name_age\";");
}

#[test]
fn check_add_and_drop() {
    let from = schema(vec![users()]);
    let mut checked = users();
    checked.checks.push(Check {
        name: "ck_users_age".into(),
        expr: "age IS NULL OR age >= 0".into(),
    });
    let to = schema(vec![checked]);
    let mut conn = database(&from, USERS_SEED.split(';').next().unwrap_or_default());
    let sql = migrate(&mut conn, &from, &to);
    assert!(
        sql.contains("CONSTRAINT \"ck_users_age\" CHECK (age IS NULL OR age >= 0)"),
        "{sql}"
    );
    assert!(conn
        .execute_batch("INSERT INTO users VALUES (5, 'neg', -1)")
        .is_err());
    migrate_back(&mut conn, &from, &to);
    conn.execute_batch("INSERT INTO users VALUES (5, 'neg', -1)")
        .expect("check gone");
    assert_eq!(
        rows(&conn, "SELECT count(*) FROM users"),
        strings(&[&["i:3"]])
    );
}

#[test]
fn create_drop_and_rename_tables() {
    let from = schema(vec![users()]);
    let mut people = users();
    people.name = "people".into();
    people.renamed_from = Some("users".into());
    let to = schema(vec![people, items_v1()]);
    let mut conn = database(&from, "INSERT INTO users VALUES (1, 'ann', 3);");
    let sql = migrate(&mut conn, &from, &to);
    assert!(
        sql.contains("ALTER TABLE \"users\" RENAME TO \"people\";"),
        "{sql}"
    );
    assert_eq!(
        rows(&conn, "SELECT name FROM people"),
        strings(&[&["t:ann"]])
    );
    let down = plan_down(&from, &to).expect("plan");
    assert!(down
        .steps
        .iter()
        .any(|s| s.destructive().as_deref() == Some("drops table items and all its rows")));
    migrate_back(&mut conn, &from, &to);
    assert_eq!(
        rows(&conn, "SELECT name FROM users"),
        strings(&[&["t:ann"]])
    );
}

#[test]
fn hand_built_changes_swap_column_names() {
    let from = schema(vec![table(
        "t",
        &["id"],
        vec![integer("id"), text("a"), text("b")],
    )]);
    let to = from.clone();
    let changes = vec![
        Change::RenameColumn {
            table: "t".into(),
            from: "a".into(),
            to: "b".into(),
        },
        Change::RenameColumn {
            table: "t".into(),
            from: "b".into(),
            to: "a".into(),
        },
    ];
    let plan = plan_changes(&from, &to, changes);
    let mut conn = database(&from, "INSERT INTO t VALUES (1, 'x', 'y');");
    apply_script(&mut conn, "swap", &script(&plan)).expect("apply");
    assert_eq!(
        rows(&conn, "SELECT a, b FROM t"),
        strings(&[&["t:y", "t:x"]])
    );
}

#[test]
fn hand_built_alter_column_default_change_rebuilds() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[3].default = Some(DefaultValue::Integer(7));
    let to = schema(vec![to_items.clone()]);
    let changes = vec![Change::AlterColumn {
        table: "items".into(),
        from: items_v1().columns[3].clone(),
        to: to_items.columns[3].clone(),
    }];
    let plan = plan_changes(&from, &to, changes);
    let sql = script(&plan);
    assert!(
        sql.contains("-- rebuild \"items\": default of \"quantity\" changes"),
        "{sql}"
    );
    let mut conn = database(&from, ITEMS_SEED);
    apply_script(&mut conn, "r", &sql).expect("apply");
    assert_eq!(tables_of(&conn), expected(&to));
    conn.execute_batch("INSERT INTO items (title) VALUES ('z')")
        .expect("insert");
    assert_eq!(
        rows(&conn, "SELECT quantity FROM items WHERE title = 'z'"),
        strings(&[&["i:7"]])
    );
}

#[test]
fn autoincrement_sequence_survives_a_rebuild() {
    let from = schema(vec![items_v1()]);
    let mut to_items = items_v1();
    to_items.columns[4].ty = ColumnType::Float;
    let to = schema(vec![to_items]);
    let mut conn = database(
        &from,
        "INSERT INTO items (title) VALUES ('a'), ('b'), ('c'); DELETE FROM items WHERE id = 3;",
    );
    migrate(&mut conn, &from, &to);
    conn.execute_batch("INSERT INTO items (title) VALUES ('d')")
        .expect("insert");
    assert_eq!(
        rows(&conn, "SELECT id FROM items WHERE title = 'd'"),
        strings(&[&["i:4"]])
    );
}

#[test]
fn odd_identifiers_are_quoted_everywhere() {
    let odd_table = "select \"x\" ü";
    let mut from_table = table(
        odd_table,
        &["order"],
        vec![
            integer("order"),
            nullable(text("with space")),
            nullable(text("a\"b")),
            nullable(text("größe")),
        ],
    );
    from_table.indexes.push(Index {
        name: "ix \"odd\"".into(),
        columns: vec!["a\"b".into()],
        unique: false,
        predicate: None,
    });
    from_table.uniques.push(Unique {
        name: Some("uq group".into()),
        columns: vec!["größe".into()],
    });
    let from = schema(vec![from_table.clone()]);
    let seed = "INSERT INTO \"select \"\"x\"\" ü\" VALUES (1, 's', 'q', 'g');";
    let mut conn = database(&from, seed);
    assert_eq!(tables_of(&conn), expected(&from));

    let mut to_table = from_table;
    to_table.columns[1].name = "group".into();
    to_table.columns[1].renamed_from = Some("with space".into());
    to_table.columns[3].ty = ColumnType::Text {
        max_length: Some(10),
    };
    to_table.columns.push(nullable(text("from")));
    let to = schema(vec![to_table]);
    migrate(&mut conn, &from, &to);
    assert_eq!(
        rows(
            &conn,
            "SELECT \"order\", \"group\", \"a\"\"b\", \"größe\" FROM \"select \"\"x\"\" ü\""
        ),
        strings(&[&["i:1", "t:s", "t:q", "t:g"]])
    );
    migrate_back(&mut conn, &from, &to);
}

#[test]
fn normalize_drops_integer_width_and_misplaced_autoincrement() {
    let mut t = table(
        "t",
        &["a", "b"],
        vec![
            Column::new("a", ColumnType::Integer { bits: 16 }),
            Column::new(
                "b",
                ColumnType::Custom {
                    sql: "varchar(5)".into(),
                },
            ),
        ],
    );
    t.columns[0].autoincrement = true;
    let normalized = Sqlite.normalize(&schema(vec![t]));
    let t = &normalized.tables[0];
    assert_eq!(t.columns[0].ty, ColumnType::Integer { bits: 64 });
    assert!(!t.columns[0].autoincrement);
    assert_eq!(
        t.columns[1].ty,
        ColumnType::Text {
            max_length: Some(5)
        }
    );
}
