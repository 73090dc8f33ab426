//! The planner against hand-built schemas: which statements, in which order, with which marks.

use super::*;
use qvdiff_core::{diff, FkAction, Renames};

const INT64: ColumnType = ColumnType::Integer { bits: 64 };
const TEXT: ColumnType = ColumnType::Text { max_length: None };

#[test]
fn indexes_whose_name_follows_a_renamed_table_are_renamed_not_rebuilt() {
    let mut before_items = table(
        "items",
        vec![Column::new("sku", TEXT), Column::new("qty", INT64)],
    );
    before_items.indexes = vec![
        Index::new("ix_items_sku", &["sku"], true),
        Index::new("ix_items_qty", &["qty"], false),
    ];
    let mut after_goods = table(
        "goods",
        vec![
            Column::new("sku", TEXT),
            Column {
                renamed_from: Some("qty".into()),
                ..Column::new("quantity", INT64)
            },
        ],
    );
    after_goods.renamed_from = Some("items".into());
    after_goods.indexes = vec![
        Index::new("ix_goods_sku", &["sku"], true),
        // Its column renamed too: still the same index.
        Index::new("ix_goods_quantity", &["quantity"], false),
    ];
    assert_eq!(
        sql(&schema(vec![before_items]), &schema(vec![after_goods])),
        vec![
            "ALTER TABLE \"items\" RENAME TO \"goods\";",
            "ALTER TABLE \"goods\" RENAME COLUMN \"qty\" TO \"quantity\";",
            "ALTER INDEX \"ix_items_qty\" RENAME TO \"ix_goods_quantity\";",
            "ALTER INDEX \"ix_items_sku\" RENAME TO \"ix_goods_sku\";",
            "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_pkey\" TO \"goods_pkey\";",
        ]
    );
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A table with an `id` primary key and the given other columns.
fn table(name: &str, columns: Vec<Column>) -> Table {
    let mut all = vec![Column::new("id", INT64)];
    all.extend(columns);
    let mut table = Table::new(name, all);
    table.primary_key = strings(&["id"]);
    table
}

fn schema(tables: Vec<Table>) -> Schema {
    Schema {
        tables,
        ..Schema::default()
    }
}

fn plan_with(dialect: Postgres, from: &Schema, to: &Schema) -> Result<Plan, PlanError> {
    let from = dialect.normalize(from).without_hints();
    let to = dialect.normalize(to);
    let changes = diff(&from, &to, &Renames::from_hints(&to));
    dialect.plan(&from, &to, &changes)
}

/// The statements `dialect` plans from `from` to `to`.
fn sql_with(dialect: Postgres, from: &Schema, to: &Schema) -> Vec<String> {
    match plan_with(dialect, from, to) {
        Ok(plan) => plan.steps.into_iter().map(|s| s.sql).collect(),
        Err(e) => panic!("plan failed: {e}"),
    }
}

/// [`sql_with`] the default dialect (online DDL on).
fn sql(from: &Schema, to: &Schema) -> Vec<String> {
    sql_with(Postgres::default(), from, to)
}

fn users() -> Table {
    table("users", vec![Column::new("email", TEXT)])
}

#[test]
fn normalize_follows_what_postgres_stores() {
    let mut t = Table::new(
        "t",
        vec![
            Column {
                autoincrement: false,
                ..Column::new("id", ColumnType::Integer { bits: 32 })
            },
            Column::new_nullable("tiny", ColumnType::Integer { bits: 8 }),
            Column {
                autoincrement: true,
                default: Some(DefaultValue::Sql(" 'x' ".into())),
                ..Column::new_nullable(
                    "c",
                    ColumnType::Custom {
                        sql: "VARCHAR(20)".into(),
                    },
                )
            },
        ],
    );
    t.primary_key = strings(&["id"]);
    let long = "x".repeat(70);
    t.indexes = vec![Index::new(long.clone(), &["c"], false)];
    let s = Schema {
        tables: vec![t],
        views: vec![qvdiff_core::RawObject {
            name: "v".into(),
            table: String::new(),
            sql: "CREATE VIEW v AS SELECT 1".into(),
        }],
        triggers: Vec::new(),
    };
    let n = Postgres::default().normalize(&s);
    assert!(n.views.is_empty());
    let t = &n.tables[0];
    assert!(t.columns[0].autoincrement);
    assert!(!t.columns[0].nullable);
    assert_eq!(t.columns[1].ty, ColumnType::Integer { bits: 16 });
    assert!(!t.columns[2].autoincrement);
    assert_eq!(
        t.columns[2].ty,
        ColumnType::Text {
            max_length: Some(20)
        }
    );
    assert_eq!(t.columns[2].default, Some(DefaultValue::Text("x".into())));
    assert_eq!(t.indexes[0].name, limit_name(&long));
    assert_eq!(Postgres::default().normalize(&n), n);
    // `numeric(7)` is kept as `numeric(7,0)`, from the logical type or a custom spelling.
    let numeric_7 = ColumnType::Decimal {
        precision: Some(7),
        scale: Some(0),
    };
    for ty in [
        ColumnType::Decimal {
            precision: Some(7),
            scale: None,
        },
        ColumnType::Custom {
            sql: "NUMERIC(7)".into(),
        },
    ] {
        assert_eq!(normalize_type(&ty), numeric_7);
    }
}

#[test]
fn create_tables_parents_first_and_cycles_through_add_constraint() {
    let mut items = table("items", vec![Column::new("user_id", INT64)]);
    items.foreign_keys = vec![ForeignKey::new(&["user_id"], "users", &["id"])];
    items.indexes = vec![Index::new("ix_items_user_id", &["user_id"], false)];
    assert_eq!(
        sql(&Schema::default(), &schema(vec![items.clone(), users()])),
        vec![
            "CREATE TABLE \"users\" (\n    \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \"email\" text NOT NULL,\n    CONSTRAINT \"users_pkey\" PRIMARY KEY (\"id\")\n);",
            "CREATE TABLE \"items\" (\n    \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \"user_id\" bigint NOT NULL,\n    CONSTRAINT \"items_pkey\" PRIMARY KEY (\"id\"),\n    CONSTRAINT \"items_user_id_fkey\" FOREIGN KEY (\"user_id\") REFERENCES \"users\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION\n);",
            "CREATE INDEX \"ix_items_user_id\" ON \"items\" (\"user_id\");",
        ]
    );

    let mut a = table("a", vec![Column::new_nullable("b_id", INT64)]);
    a.foreign_keys = vec![ForeignKey::new(&["b_id"], "b", &["id"])];
    let mut b = table("b", vec![Column::new_nullable("a_id", INT64)]);
    b.foreign_keys = vec![ForeignKey::new(&["a_id"], "a", &["id"])];
    let steps = sql(&Schema::default(), &schema(vec![a, b]));
    assert_eq!(steps.len(), 3);
    assert!(steps[0].starts_with("CREATE TABLE \"a\""));
    assert!(!steps[0].contains("FOREIGN KEY"));
    assert!(steps[1].starts_with("CREATE TABLE \"b\""));
    assert!(steps[1].contains("CONSTRAINT \"b_a_id_fkey\" FOREIGN KEY"));
    assert_eq!(
        steps[2],
        "ALTER TABLE \"a\" ADD CONSTRAINT \"a_b_id_fkey\" FOREIGN KEY (\"b_id\") REFERENCES \"b\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION;"
    );
}

#[test]
fn drop_tables_children_first_after_foreign_keys_pointing_at_them() {
    let mut items = table("items", vec![Column::new("user_id", INT64)]);
    items.foreign_keys = vec![ForeignKey::new(&["user_id"], "users", &["id"])];
    let mut notes = table("notes", vec![Column::new_nullable("user_id", INT64)]);
    notes.foreign_keys = vec![ForeignKey::new(&["user_id"], "users", &["id"])];
    let before = schema(vec![users(), items, notes]);
    let after = schema(vec![table(
        "notes",
        vec![Column::new_nullable("user_id", INT64)],
    )]);
    let plan = plan_with(Postgres::default(), &before, &after).expect("plan");
    let steps: Vec<(&str, Option<String>)> = plan
        .steps
        .iter()
        .map(|s| (s.sql.as_str(), s.destructive()))
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                "ALTER TABLE \"notes\" DROP CONSTRAINT \"notes_user_id_fkey\";",
                None
            ),
            (
                "DROP TABLE \"items\";",
                Some("drops table items and all its rows".to_string())
            ),
            (
                "DROP TABLE \"users\";",
                Some("drops table users and all its rows".to_string())
            ),
        ]
    );
}

#[test]
fn dropped_tables_in_a_cycle_lose_the_blocking_foreign_key_first() {
    let mut a = table("a", vec![Column::new_nullable("b_id", INT64)]);
    a.foreign_keys = vec![ForeignKey::new(&["b_id"], "b", &["id"])];
    let mut b = table("b", vec![Column::new_nullable("a_id", INT64)]);
    b.foreign_keys = vec![ForeignKey::new(&["a_id"], "a", &["id"])];
    assert_eq!(
        sql(&schema(vec![a, b]), &Schema::default()),
        vec![
            "ALTER TABLE \"a\" DROP CONSTRAINT \"a_b_id_fkey\";",
            "DROP TABLE \"b\";",
            "DROP TABLE \"a\";",
        ]
    );
}

#[test]
fn add_columns() {
    let before = schema(vec![table("t", vec![])]);
    let with = |c: Column| schema(vec![table("t", vec![c])]);
    assert_eq!(
        sql(&before, &with(Column::new_nullable("notes", TEXT))),
        vec!["ALTER TABLE \"t\" ADD COLUMN \"notes\" text;"]
    );
    let defaulted = Column {
        default: Some(DefaultValue::Integer(1)),
        ..Column::new("qty", INT64)
    };
    assert_eq!(
        sql(&before, &with(defaulted.clone())),
        vec!["ALTER TABLE \"t\" ADD COLUMN \"qty\" bigint NOT NULL DEFAULT 1;"]
    );
    let backfilled = Column {
        backfill: Some(DefaultValue::Text("n/a".into())),
        ..Column::new("title", TEXT)
    };
    assert_eq!(
        sql(&before, &with(backfilled)),
        vec![
            "ALTER TABLE \"t\" ADD COLUMN \"title\" text NOT NULL DEFAULT 'n/a';",
            "ALTER TABLE \"t\" ALTER COLUMN \"title\" DROP DEFAULT;",
        ]
    );
    let both = Column {
        backfill: Some(DefaultValue::Integer(0)),
        ..defaulted
    };
    assert_eq!(
        sql(&before, &with(both)),
        vec![
            "ALTER TABLE \"t\" ADD COLUMN \"qty\" bigint NOT NULL DEFAULT 0;",
            "ALTER TABLE \"t\" ALTER COLUMN \"qty\" SET DEFAULT 1;",
        ]
    );
}

#[test]
fn a_new_not_null_column_without_a_value_is_a_plan_error() {
    let before = schema(vec![table("t", vec![])]);
    let after = schema(vec![table("t", vec![Column::new("location", TEXT)])]);
    let err = plan_with(Postgres::default(), &before, &after).expect_err("refused");
    assert_eq!(err.table, "t");
    assert_eq!(err.column.as_deref(), Some("location"));
    assert!(err
        .to_string()
        .starts_with("t.location: a new NOT NULL column"));
    // A new table has no rows: nothing to fill.
    assert!(plan_with(Postgres::default(), &Schema::default(), &after).is_ok());
}

#[test]
fn drop_column_is_destructive_and_comes_after_its_index() {
    let mut before_table = table("t", vec![Column::new_nullable("a", TEXT)]);
    before_table.indexes = vec![Index::new("ix_t_a", &["a"], false)];
    let plan = plan_with(
        Postgres::default(),
        &schema(vec![before_table]),
        &schema(vec![table("t", vec![])]),
    )
    .expect("plan");
    assert_eq!(plan.steps[0].sql, "DROP INDEX CONCURRENTLY \"ix_t_a\";");
    assert_eq!(plan.steps[1].sql, "ALTER TABLE \"t\" DROP COLUMN \"a\";");
    assert_eq!(
        plan.steps[1].destructive().as_deref(),
        Some("drops data in t.a")
    );
}

#[test]
fn renames_rename_the_constraints_named_after_them() {
    let mut before_items = table(
        "items",
        vec![Column::new("user_id", INT64), Column::new("sku", TEXT)],
    );
    before_items.foreign_keys = vec![ForeignKey::new(&["user_id"], "users", &["id"])];
    before_items.uniques = vec![Unique::new(None, &["sku"])];
    before_items.indexes = vec![Index::new("ix_items_sku", &["sku"], false)];
    let mut after_goods = table(
        "goods",
        vec![
            Column {
                renamed_from: Some("user_id".into()),
                ..Column::new("owner_id", INT64)
            },
            Column::new("sku", TEXT),
        ],
    );
    after_goods.renamed_from = Some("items".into());
    after_goods.foreign_keys = vec![ForeignKey::new(&["owner_id"], "users", &["id"])];
    after_goods.uniques = before_items.uniques.clone();
    after_goods.indexes = before_items.indexes.clone();
    assert_eq!(
        sql(
            &schema(vec![users(), before_items]),
            &schema(vec![users(), after_goods])
        ),
        vec![
            "ALTER TABLE \"items\" RENAME TO \"goods\";",
            "ALTER TABLE \"goods\" RENAME COLUMN \"user_id\" TO \"owner_id\";",
            "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_pkey\" TO \"goods_pkey\";",
            "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_sku_key\" TO \"goods_sku_key\";",
            "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_user_id_fkey\" TO \"goods_owner_id_fkey\";",
        ]
    );
}

#[test]
fn type_changes_cast_with_using_and_mark_losses() {
    let before = schema(vec![table(
        "t",
        vec![
            Column {
                default: Some(DefaultValue::Bool(true)),
                ..Column::new("flag", ColumnType::Bool)
            },
            Column::new("n", INT64),
            Column::new("price", ColumnType::Float),
        ],
    )]);
    let after = schema(vec![table(
        "t",
        vec![
            Column {
                default: Some(DefaultValue::Integer(1)),
                ..Column::new("flag", ColumnType::Integer { bits: 32 })
            },
            Column::new("n", ColumnType::Bool),
            Column::new("price", ColumnType::Integer { bits: 64 }),
        ],
    )]);
    let plan = plan_with(Postgres::default(), &before, &after).expect("plan");
    let steps: Vec<(&str, bool)> = plan
        .steps
        .iter()
        .map(|s| (s.sql.as_str(), s.destructive().is_some()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("ALTER TABLE \"t\" ALTER COLUMN \"flag\" DROP DEFAULT;", false),
            (
                "ALTER TABLE \"t\" ALTER COLUMN \"flag\" TYPE integer USING CASE WHEN \"flag\" THEN 1 WHEN NOT \"flag\" THEN 0 END;",
                false
            ),
            ("ALTER TABLE \"t\" ALTER COLUMN \"flag\" SET DEFAULT 1;", false),
            (
                "ALTER TABLE \"t\" ALTER COLUMN \"n\" TYPE boolean USING (\"n\" <> 0);",
                true
            ),
            // The server's conversion, which refuses what does not fit.
            ("ALTER TABLE \"t\" ALTER COLUMN \"price\" TYPE bigint;", true),
        ]
    );
    assert_eq!(
        plan.steps[4].destructive().as_deref(),
        Some("converts t.price from double precision to bigint; values that do not fit are lost or changed")
    );
}

/// Property seed 2: `timestamp` → `bigint` has no cast in PostgreSQL, which refused the bare
/// `"c"::bigint` even on an empty table; types without a cast go through their text form.
#[test]
fn narrowing_is_left_to_the_server_which_refuses_what_does_not_fit() {
    // `USING "label"::varchar(10)` cut a longer value to ten characters; the server's own
    // conversion refuses it.
    let before = schema(vec![table("t", vec![Column::new("label", TEXT)])]);
    let after = schema(vec![table(
        "t",
        vec![Column::new(
            "label",
            ColumnType::Text {
                max_length: Some(10),
            },
        )],
    )]);
    assert_eq!(
        sql(&before, &after),
        vec!["ALTER TABLE \"t\" ALTER COLUMN \"label\" TYPE varchar(10);"]
    );
    assert_eq!(
        sql(&after, &before),
        vec!["ALTER TABLE \"t\" ALTER COLUMN \"label\" TYPE text;"]
    );
    assert!(has_assignment_cast(&ColumnType::Float, &INT64));
    assert!(!has_assignment_cast(&TEXT, &INT64));
    assert!(!has_assignment_cast(&ColumnType::Blob, &TEXT));
}

#[test]
fn conversions_without_a_cast_go_through_text() {
    let cases = [
        (ColumnType::DateTime, INT64, "\"c\"::text::bigint"),
        (ColumnType::Uuid, ColumnType::Date, "\"c\"::text::date"),
        (INT64, ColumnType::Json, "\"c\"::text::jsonb"),
        (
            ColumnType::Time,
            ColumnType::DateTime,
            "\"c\"::text::timestamp",
        ),
        (ColumnType::Bool, ColumnType::Uuid, "\"c\"::text::uuid"),
        (ColumnType::Json, ColumnType::Date, "\"c\"::text::date"),
        // Property seed 374: a NULL boolean stays NULL (it became 0 with `ELSE 0`).
        (
            ColumnType::Bool,
            INT64,
            "CASE WHEN \"c\" THEN 1 WHEN NOT \"c\" THEN 0 END",
        ),
        // Casts PostgreSQL has stay casts.
        (ColumnType::Float, INT64, "\"c\"::bigint"),
        (ColumnType::Date, ColumnType::DateTime, "\"c\"::timestamp"),
        (ColumnType::DateTime, ColumnType::Time, "\"c\"::time"),
        (
            ColumnType::Json,
            ColumnType::Float,
            "\"c\"::double precision",
        ),
        (TEXT, ColumnType::Uuid, "\"c\"::uuid"),
        (ColumnType::Uuid, TEXT, "\"c\"::text"),
    ];
    for (from, to, using) in cases {
        assert_eq!(
            using_expression("c", &from, &to),
            using,
            "{from:?} -> {to:?}"
        );
    }
}

#[test]
fn nullability_and_defaults() {
    let before = schema(vec![table(
        "t",
        vec![
            Column::new_nullable("a", TEXT),
            Column::new_nullable("b", TEXT),
            Column::new("c", TEXT),
            Column::new_nullable("d", TEXT),
        ],
    )]);
    let after = schema(vec![table(
        "t",
        vec![
            Column {
                backfill: Some(DefaultValue::Text("(none)".into())),
                default: Some(DefaultValue::Text("x".into())),
                ..Column::new("a", TEXT)
            },
            Column {
                default: Some(DefaultValue::Text("draft".into())),
                ..Column::new("b", TEXT)
            },
            Column::new_nullable("c", TEXT),
            Column::new("d", TEXT),
        ],
    )]);
    assert_eq!(
        sql(&before, &after),
        vec![
            "ALTER TABLE \"t\" ALTER COLUMN \"a\" SET DEFAULT 'x';",
            "-- qvdiff:batch 10000\nUPDATE \"t\" SET \"a\" = '(none)' WHERE \"a\" IS NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_not_null_check\" CHECK (\"a\" IS NOT NULL) NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_a_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"a\" SET NOT NULL;",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_a_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"b\" SET DEFAULT 'draft';",
            "-- qvdiff:batch 10000\nUPDATE \"t\" SET \"b\" = 'draft' WHERE \"b\" IS NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_b_not_null_check\" CHECK (\"b\" IS NOT NULL) NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_b_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"b\" SET NOT NULL;",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_b_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"c\" DROP NOT NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_d_not_null_check\" CHECK (\"d\" IS NOT NULL) NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_d_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"d\" SET NOT NULL;",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_d_not_null_check\";",
        ]
    );
    assert_eq!(
        sql(&after, &before)[0],
        "ALTER TABLE \"t\" ALTER COLUMN \"a\" DROP DEFAULT;"
    );
}

#[test]
fn primary_key_change_moves_identity_and_suspends_incoming_foreign_keys() {
    let tags = table("tags", vec![Column::new("slug", TEXT)]);
    let mut links = table("links", vec![Column::new("tag_id", INT64)]);
    links.foreign_keys = vec![ForeignKey::new(&["tag_id"], "tags", &["id"])];
    let mut composite = tags.clone();
    composite.primary_key = strings(&["slug", "id"]);
    composite.uniques = vec![Unique::new(None, &["id"])];
    let before = schema(vec![tags, links.clone()]);
    let after = schema(vec![composite, links]);
    assert_eq!(
        sql(&before, &after),
        vec![
            "ALTER TABLE \"links\" DROP CONSTRAINT \"links_tag_id_fkey\";",
            "ALTER TABLE \"tags\" DROP CONSTRAINT \"tags_pkey\";",
            "ALTER TABLE \"tags\" ALTER COLUMN \"id\" DROP IDENTITY;",
            "ALTER TABLE \"tags\" ADD CONSTRAINT \"tags_pkey\" PRIMARY KEY (\"slug\", \"id\");",
            "CREATE UNIQUE INDEX CONCURRENTLY \"tags_id_key\" ON \"tags\" (\"id\");",
            "ALTER TABLE \"tags\" ADD CONSTRAINT \"tags_id_key\" UNIQUE USING INDEX \"tags_id_key\";",
            "ALTER TABLE \"links\" ADD CONSTRAINT \"links_tag_id_fkey\" FOREIGN KEY (\"tag_id\") REFERENCES \"tags\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION NOT VALID;",
            "ALTER TABLE \"links\" VALIDATE CONSTRAINT \"links_tag_id_fkey\";",
        ]
    );
    let back = sql(&after, &before);
    let identity = back
        .iter()
        .position(|s| {
            s == "ALTER TABLE \"tags\" ALTER COLUMN \"id\" ADD GENERATED BY DEFAULT AS IDENTITY;"
        })
        .expect("identity comes back");
    assert_eq!(
        back[identity + 1],
        "SELECT setval(pg_get_serial_sequence('\"tags\"', 'id'), GREATEST(MAX(\"id\"), 1), \
         COALESCE(MAX(\"id\") >= 1, false)) FROM \"tags\";"
    );
}

#[test]
fn constraints_and_indexes_of_existing_tables() {
    let before = schema(vec![
        users(),
        table(
            "t",
            vec![Column::new_nullable("a", INT64), Column::new("b", TEXT)],
        ),
    ]);
    let mut t = table(
        "t",
        vec![Column::new_nullable("a", INT64), Column::new("b", TEXT)],
    );
    t.uniques = vec![Unique::new(Some("t_b_unique"), &["b"])];
    t.indexes = vec![Index::new("ix_t_a_b", &["a", "b"], true)];
    t.foreign_keys = vec![ForeignKey::new(&["a"], "users", &["id"])
        .with_actions(FkAction::SetNull, FkAction::NoAction)];
    t.checks = vec![Check::new("b_not_empty", "b <> ''")];
    let after = schema(vec![users(), t]);
    let concurrent = Postgres { online_ddl: true };
    let up = sql_with(concurrent, &before, &after);
    assert_eq!(
        up,
        vec![
            "CREATE UNIQUE INDEX CONCURRENTLY \"t_b_unique\" ON \"t\" (\"b\");",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_b_unique\" UNIQUE USING INDEX \"t_b_unique\";",
            "CREATE UNIQUE INDEX CONCURRENTLY \"ix_t_a_b\" ON \"t\" (\"a\", \"b\");",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"b_not_empty\" CHECK (b <> '') NOT VALID;",
            "COMMENT ON CONSTRAINT \"b_not_empty\" ON \"t\" IS 'qvdiff: b <> ''''';",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"b_not_empty\";",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_fkey\" FOREIGN KEY (\"a\") REFERENCES \"users\" (\"id\") ON DELETE SET NULL ON UPDATE NO ACTION NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_a_fkey\";",
        ]
    );
    assert_eq!(
        sql(&after, &before),
        vec![
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_a_fkey\";",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"b_not_empty\";",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_b_unique\";",
            "DROP INDEX CONCURRENTLY \"ix_t_a_b\";",
        ]
    );
    // The unique index is built outside the transaction without blocking writes; adopting it
    // takes a brief exclusive lock and reads no row.
    let up_plan = plan_with(concurrent, &before, &after).expect("plan");
    let build = &up_plan.steps[0].facts;
    assert!(build.outside_transaction);
    let lock = build.lock.as_ref().expect("lock");
    assert_eq!(
        (lock.mode, lock.scans),
        (LockMode::ShareUpdateExclusive, true)
    );
    let adopt = &up_plan.steps[1].facts;
    assert!(!adopt.outside_transaction);
    let lock = adopt.lock.as_ref().expect("lock");
    assert_eq!((lock.mode, lock.scans), (LockMode::AccessExclusive, false));
    // With online DDL turned off, the plain forms.
    let up_plain = sql_with(Postgres { online_ddl: false }, &before, &after);
    assert_eq!(
        up_plain[..2],
        [
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_b_unique\" UNIQUE (\"b\");",
            "CREATE UNIQUE INDEX \"ix_t_a_b\" ON \"t\" (\"a\", \"b\");",
        ]
    );
    let down_plain = sql_with(Postgres { online_ddl: false }, &after, &before);
    assert!(down_plain.contains(&"DROP INDEX \"ix_t_a_b\";".to_string()));
    // A new table's indexes are never built concurrently: nobody writes to it yet.
    let mut fresh = table("fresh", vec![Column::new("a", INT64)]);
    fresh.indexes = vec![Index::new("ix_fresh_a", &["a"], false)];
    let created = sql_with(concurrent, &Schema::default(), &schema(vec![fresh]));
    assert_eq!(
        created[1],
        "CREATE INDEX \"ix_fresh_a\" ON \"fresh\" (\"a\");"
    );
}

#[test]
fn every_new_check_is_followed_by_its_comment_under_the_current_table_name() {
    let before = schema(vec![table("items", vec![Column::new("qty", INT64)])]);
    let mut goods = table("goods", vec![Column::new("qty", INT64)]);
    goods.renamed_from = Some("items".into());
    goods.checks = vec![Check::new("qty_positive", "  qty > 0 ")];
    let mut fresh = table("fresh", vec![Column::new("status", TEXT)]);
    fresh.checks = vec![
        Check::new("status_known", "status IN ('new', 'it''s')"),
        Check::new("id_positive", "id > 0"),
    ];
    fresh.indexes = vec![Index::new("ix_fresh_status", &["status"], false)];
    let after = schema(vec![goods, fresh]);
    assert_eq!(
        sql(&before, &after),
        vec![
            "ALTER TABLE \"items\" RENAME TO \"goods\";",
            "ALTER TABLE \"goods\" RENAME CONSTRAINT \"items_pkey\" TO \"goods_pkey\";",
            "ALTER TABLE \"goods\" ADD CONSTRAINT \"qty_positive\" CHECK (qty > 0) NOT VALID;",
            "COMMENT ON CONSTRAINT \"qty_positive\" ON \"goods\" IS 'qvdiff: qty > 0';",
            "ALTER TABLE \"goods\" VALIDATE CONSTRAINT \"qty_positive\";",
            "CREATE TABLE \"fresh\" (\n    \
             \"id\" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL,\n    \
             \"status\" text NOT NULL,\n    \
             CONSTRAINT \"fresh_pkey\" PRIMARY KEY (\"id\"),\n    \
             CONSTRAINT \"id_positive\" CHECK (id > 0),\n    \
             CONSTRAINT \"status_known\" CHECK (status IN ('new', 'it''s'))\n);",
            "COMMENT ON CONSTRAINT \"id_positive\" ON \"fresh\" IS 'qvdiff: id > 0';",
            "COMMENT ON CONSTRAINT \"status_known\" ON \"fresh\" \
             IS 'qvdiff: status IN (''new'', ''it''''s'')';",
            "CREATE INDEX \"ix_fresh_status\" ON \"fresh\" (\"status\");",
        ]
    );
    // A changed expression is a new constraint, with a new comment.
    let mut changed = after.clone();
    changed.tables[0].checks[0].expr = "qty >= 1".into();
    assert_eq!(
        sql(&after, &changed),
        vec![
            "ALTER TABLE \"goods\" DROP CONSTRAINT \"qty_positive\";",
            "ALTER TABLE \"goods\" ADD CONSTRAINT \"qty_positive\" CHECK (qty >= 1) NOT VALID;",
            "COMMENT ON CONSTRAINT \"qty_positive\" ON \"goods\" IS 'qvdiff: qty >= 1';",
            "ALTER TABLE \"goods\" VALIDATE CONSTRAINT \"qty_positive\";",
        ]
    );
}

#[test]
fn restored_key_columns_get_a_distinct_value_per_row() {
    let before = schema(vec![table("t", vec![])]);
    let mut after_table = table(
        "t",
        vec![
            Column {
                backfill: Some(DefaultValue::Sql("rowid".into())),
                ..Column::new("code", ColumnType::Integer { bits: 32 })
            },
            Column {
                backfill: Some(DefaultValue::Sql("rowid".into())),
                ..Column::new("sku", TEXT)
            },
            Column {
                backfill: Some(DefaultValue::Text(String::new())),
                ..Column::new("at", ColumnType::DateTime)
            },
            Column {
                backfill: Some(DefaultValue::Sql("rowid".into())),
                ..Column::new("day", ColumnType::Date)
            },
        ],
    );
    after_table.uniques = vec![
        Unique::new(None, &["code"]),
        Unique::new(None, &["sku"]),
        Unique::new(None, &["day"]),
    ];
    assert_eq!(
        sql(&before, &schema(vec![after_table])),
        vec![
            "ALTER TABLE \"t\" ADD COLUMN \"code\" integer GENERATED BY DEFAULT AS IDENTITY NOT NULL;",
            "ALTER TABLE \"t\" ALTER COLUMN \"code\" DROP IDENTITY;",
            "ALTER TABLE \"t\" ADD COLUMN \"sku\" text;",
            "UPDATE \"t\" SET \"sku\" = ctid::text WHERE \"sku\" IS NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_sku_not_null_check\" CHECK (\"sku\" IS NOT NULL) NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_sku_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"sku\" SET NOT NULL;",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_sku_not_null_check\";",
            "ALTER TABLE \"t\" ADD COLUMN \"at\" timestamp NOT NULL DEFAULT '1970-01-01 00:00:00';",
            "ALTER TABLE \"t\" ALTER COLUMN \"at\" DROP DEFAULT;",
            // Property seed 3653: a value of the column's type (`ctid::text` is no date).
            "ALTER TABLE \"t\" ADD COLUMN \"day\" date;",
            "UPDATE \"t\" SET \"day\" = DATE '1970-01-01' + ((ctid::text::point)[0] * 65536 + (ctid::text::point)[1])::integer WHERE \"day\" IS NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_day_not_null_check\" CHECK (\"day\" IS NOT NULL) NOT VALID;",
            "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_day_not_null_check\";",
            "ALTER TABLE \"t\" ALTER COLUMN \"day\" SET NOT NULL;",
            "ALTER TABLE \"t\" DROP CONSTRAINT \"t_day_not_null_check\";",
            "CREATE UNIQUE INDEX CONCURRENTLY \"t_code_key\" ON \"t\" (\"code\");",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_code_key\" UNIQUE USING INDEX \"t_code_key\";",
            "CREATE UNIQUE INDEX CONCURRENTLY \"t_day_key\" ON \"t\" (\"day\");",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_day_key\" UNIQUE USING INDEX \"t_day_key\";",
            "CREATE UNIQUE INDEX CONCURRENTLY \"t_sku_key\" ON \"t\" (\"sku\");",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_sku_key\" UNIQUE USING INDEX \"t_sku_key\";",
        ]
    );
}

/// On a table that exists, a CHECK, a foreign key and nullable → NOT NULL with a fill are
/// checked by a VALIDATE step of their own and the fill runs in batches; with online DDL off,
/// the plain statements inside the transaction.
#[test]
fn constraints_and_backfills_on_existing_tables_run_online_unless_turned_off() {
    let before = schema(vec![
        users(),
        table("t", vec![Column::new_nullable("a", INT64)]),
    ]);
    let mut t = table(
        "t",
        vec![Column {
            backfill: Some(DefaultValue::Integer(0)),
            ..Column::new("a", INT64)
        }],
    );
    t.checks = vec![Check::new("a_positive", "a >= 0")];
    t.foreign_keys = vec![ForeignKey {
        columns: strings(&["a"]),
        ref_table: "users".into(),
        ref_columns: strings(&["id"]),
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    }];
    let after = schema(vec![users(), t]);
    let online = plan_with(Postgres::default(), &before, &after).expect("plan");
    let steps: Vec<(&str, bool)> = online
        .steps
        .iter()
        .map(|s| (s.sql.as_str(), s.facts.outside_transaction))
        .collect();
    assert_eq!(
        steps,
        vec![
            (
                "-- qvdiff:batch 10000\nUPDATE \"t\" SET \"a\" = 0 WHERE \"a\" IS NULL;",
                true
            ),
            (
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_not_null_check\" CHECK (\"a\" IS NOT NULL) \
                 NOT VALID;",
                false
            ),
            (
                "ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_a_not_null_check\";",
                true
            ),
            ("ALTER TABLE \"t\" ALTER COLUMN \"a\" SET NOT NULL;", false),
            (
                "ALTER TABLE \"t\" DROP CONSTRAINT \"t_a_not_null_check\";",
                false
            ),
            (
                "ALTER TABLE \"t\" ADD CONSTRAINT \"a_positive\" CHECK (a >= 0) NOT VALID;",
                false
            ),
            (
                "COMMENT ON CONSTRAINT \"a_positive\" ON \"t\" IS 'qvdiff: a >= 0';",
                false
            ),
            ("ALTER TABLE \"t\" VALIDATE CONSTRAINT \"a_positive\";", true),
            (
                "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_fkey\" FOREIGN KEY (\"a\") REFERENCES \
                 \"users\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION NOT VALID;",
                false
            ),
            ("ALTER TABLE \"t\" VALIDATE CONSTRAINT \"t_a_fkey\";", true),
        ]
    );
    // The scans happen under VALIDATE's lock, which lets writes through; SET NOT NULL reads
    // nothing.
    for step in online
        .steps
        .iter()
        .filter(|s| !s.sql.starts_with("COMMENT"))
    {
        let lock = step.facts.lock.as_ref().expect("t exists");
        assert_eq!(
            lock.scans,
            step.sql.contains("VALIDATE CONSTRAINT") || step.sql.contains("\nUPDATE "),
            "{}",
            step.sql
        );
    }
    let plain = sql_with(Postgres { online_ddl: false }, &before, &after);
    assert_eq!(
        plain,
        vec![
            "UPDATE \"t\" SET \"a\" = 0 WHERE \"a\" IS NULL;",
            "ALTER TABLE \"t\" ALTER COLUMN \"a\" SET NOT NULL;",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"a_positive\" CHECK (a >= 0);",
            "COMMENT ON CONSTRAINT \"a_positive\" ON \"t\" IS 'qvdiff: a >= 0';",
            "ALTER TABLE \"t\" ADD CONSTRAINT \"t_a_fkey\" FOREIGN KEY (\"a\") REFERENCES \
             \"users\" (\"id\") ON DELETE NO ACTION ON UPDATE NO ACTION;",
        ]
    );
}

/// Under expand / contract, a new NOT NULL column filled by an expression over the row is
/// carried; a literal (a transient default, no rewrite), a nullable column or one in an index
/// is not.
#[test]
fn expand_contract_carries_a_new_column_with_a_computed_value_only() {
    let dialect = Postgres::default();
    let before = schema(vec![users()]);
    let planned = |column: Column, indexed: bool| {
        let mut wanted = users();
        if indexed {
            wanted
                .indexes
                .push(Index::new("ix_users_handle", &["handle"], false));
        }
        wanted.columns.push(column);
        let to = dialect.normalize(&schema(vec![wanted]));
        let from = dialect.normalize(&before).without_hints();
        let changes = diff(&from, &to, &Renames::default());
        dialect
            .expand_contract(&from, &to, &changes)
            .expect("planned")
    };
    let computed = Column {
        backfill: Some(DefaultValue::Sql("lower(email)".into())),
        ..Column::new("handle", TEXT)
    };
    let carried = planned(computed.clone(), false).expect("carried");
    assert_eq!(
        carried.carried,
        ["users.handle: new NOT NULL column, the rows there filled with lower(email)"]
    );
    let up: Vec<&str> = carried
        .expand_up
        .steps
        .iter()
        .map(|s| s.sql.as_str())
        .collect();
    assert!(
        up.contains(&"-- qvdiff:batch 10000\nUPDATE \"users\" SET \"handle\" = lower(email) WHERE \"handle\" IS NULL;"),
        "{up:#?}"
    );
    // As a type change that stays in place: nothing to carry, a plain migration.
    assert!(planned(computed.clone(), true).is_none());
    let literal = Column {
        backfill: Some(DefaultValue::Text("n/a".into())),
        ..Column::new("handle", TEXT)
    };
    assert!(planned(literal, false).is_none());
    let nullable = Column {
        nullable: true,
        ..computed
    };
    assert!(planned(nullable, false).is_none());
}

#[test]
fn expand_contract_keeps_a_renamed_tables_old_name_as_a_view_unless_a_table_takes_it() {
    let dialect = Postgres::default();
    let from = dialect.normalize(&schema(vec![users()])).without_hints();
    let planned = |tables: Vec<Table>| {
        let to = dialect.normalize(&schema(tables));
        let renames = Renames {
            tables: vec![("users".into(), "members".into())],
            ..Renames::default()
        };
        let changes = diff(&from, &to, &renames);
        dialect
            .expand_contract(&from, &to, &changes)
            .expect("planned")
    };
    let members = Table {
        name: "members".into(),
        ..users()
    };
    let online = planned(vec![members.clone()]).expect("expand / contract");
    let sql = |plan: &Plan| -> Vec<String> { plan.steps.iter().map(|s| s.sql.clone()).collect() };
    let view = "CREATE VIEW \"users\" AS SELECT * FROM \"members\";";
    let drop = "DROP VIEW IF EXISTS \"users\";";
    assert_eq!(
        sql(&online.expand_up).last().map(String::as_str),
        Some(view)
    );
    assert_eq!(sql(&online.expand_down)[0], drop);
    assert_eq!(sql(&online.contract_up), [drop]);
    assert_eq!(sql(&online.contract_down), [view]);
    assert_eq!(
        online.expanded.views,
        [crate::replay::table_view_object("users", "members")]
    );
    assert_eq!(
        online.carried,
        ["table users renamed to members: users stays, as a view over members, until the contract"]
    );
    // A table of the models takes the old name: the rename is planned as without --online.
    assert!(planned(vec![members, users()]).is_none());
}

/// The message `expand_contract` refuses `users` renamed to `members` with, from `before` to
/// `after`, having checked what every such refusal says.
fn refused_table_rename(before: Table, after: Table) -> String {
    let dialect = Postgres::default();
    let from = dialect.normalize(&schema(vec![before])).without_hints();
    let to = dialect.normalize(&schema(vec![after]));
    let renames = Renames {
        tables: vec![("users".into(), "members".into())],
        ..Renames::default()
    };
    let changes = diff(&from, &to, &renames);
    let refused = dialect
        .expand_contract(&from, &to, &changes)
        .expect_err("refused");
    assert_eq!(refused.table, "users");
    assert!(
        refused.message.starts_with(
            "renamed to members through expand / contract, but the same expand also runs steps \
             that commit on their own (an index build or a constraint validation)"
        ) && refused.message.contains("split it into two migrations"),
        "{refused}"
    );
    refused.message
}

#[test]
fn expand_contract_refuses_a_table_rename_beside_a_step_that_commits_on_its_own() {
    // Renamed, and an index built on it: `CONCURRENTLY`, so the expand runs statement by
    // statement and the view could not come in the rename's transaction.
    let mut members = Table {
        name: "members".into(),
        ..users()
    };
    members
        .indexes
        .push(Index::new("ix_members_email", &["email"], false));
    refused_table_rename(users(), members);
}

/// The expand's up section drops a CHECK in the rename's transaction, but its down section
/// adds it back `NOT VALID` and validates it on its own: that section runs statement by
/// statement, and the old name's view would be dropped a commit before the table gets the
/// name back. Refused as an up section with such a step is.
#[test]
fn expand_contract_refuses_a_table_rename_whose_undo_has_a_step_on_its_own() {
    let mut before = users();
    before.checks.push(Check {
        name: "ck_users_email".into(),
        expr: "email <> ''".into(),
    });
    let members = Table {
        name: "members".into(),
        ..users()
    };
    let message = refused_table_rename(before, members);
    assert!(message.contains("nor, undoing it, dropped"), "{message}");
}

#[test]
fn expand_contract_leaves_two_carried_columns_sharing_a_constraint_in_place() {
    let dialect = Postgres::default();
    let int32 = ColumnType::Integer { bits: 32 };
    let mut before = table(
        "spans",
        vec![
            Column::new("lo", int32.clone()),
            Column::new("hi", int32.clone()),
            Column::new("size", int32),
        ],
    );
    before.checks.push(Check {
        name: "ck_spans_order".into(),
        expr: "lo < hi".into(),
    });
    let mut after = before.clone();
    for c in &mut after.columns {
        if c.name != "id" {
            c.ty = INT64;
        }
    }
    let from = dialect.normalize(&schema(vec![before])).without_hints();
    let to = dialect.normalize(&schema(vec![after]));
    let changes = diff(&from, &to, &Renames::default());
    let online = dialect
        .expand_contract(&from, &to, &changes)
        .expect("planned")
        .expect("size is carried");
    assert_eq!(
        online.carried,
        ["spans.size: integer -> bigint through spans.size_new (existing rows: size, kept in step by a trigger)"]
    );
    assert_eq!(
        online.in_place,
        [
            "spans.lo stays in place: an index or constraint on it covers another column carried too",
            "spans.hi stays in place: an index or constraint on it covers another column carried too",
        ]
    );
    // The CHECK is built once, by the type changes in place.
    assert!(!online
        .expand_up
        .steps
        .iter()
        .any(|s| s.sql.contains("ck_spans_order_new")));
}
