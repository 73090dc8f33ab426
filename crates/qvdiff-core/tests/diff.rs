//! Tests of the differ: every change kind, renames, ordering, candidates, and the
//! "empty diff iff equal" property.

use qvdiff_core::diff::{diff, rename_candidates, RenameCandidate};
use qvdiff_core::{
    Change, Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Renames, Schema,
    Table, Unique,
};

fn int() -> ColumnType {
    ColumnType::Integer { bits: 64 }
}

fn text() -> ColumnType {
    ColumnType::Text { max_length: None }
}

fn col(name: &str, ty: ColumnType) -> Column {
    Column::new(name, ty)
}

fn nullable(name: &str, ty: ColumnType) -> Column {
    let mut c = Column::new(name, ty);
    c.nullable = true;
    c
}

fn table(name: &str, columns: Vec<Column>) -> Table {
    let mut t = Table::new(name, columns);
    t.primary_key = vec!["id".to_string()];
    t
}

fn schema(tables: Vec<Table>) -> Schema {
    Schema {
        tables,
        ..Schema::default()
    }
}

fn index(name: &str, columns: &[&str], unique: bool) -> Index {
    Index {
        name: name.to_string(),
        columns: columns.iter().map(|s| s.to_string()).collect(),
        unique,
        predicate: None,
    }
}

fn users() -> Table {
    table("users", vec![col("id", int()), col("email", text())])
}

fn items() -> Table {
    let mut t = table(
        "items",
        vec![
            col("id", int()),
            col("user_id", int()),
            col(
                "title",
                ColumnType::Text {
                    max_length: Some(200),
                },
            ),
            nullable("url", text()),
        ],
    );
    t.foreign_keys
        .push(ForeignKey::new(&["user_id"], "users", &["id"]));
    t.indexes
        .push(index("ix_items_user_id", &["user_id"], false));
    t
}

fn no_renames() -> Renames {
    Renames::default()
}

/// A short label per change, to assert order compactly.
fn labels(changes: &[Change]) -> Vec<String> {
    changes.iter().map(Change::describe).collect()
}

#[test]
fn identical_schemas_give_no_change() {
    let s = schema(vec![users(), items()]);
    assert!(diff(&s, &s, &no_renames()).is_empty());
}

#[test]
fn create_table() {
    let from = schema(vec![]);
    let to = schema(vec![users()]);
    assert_eq!(
        diff(&from, &to, &no_renames()),
        vec![Change::CreateTable { table: users() }]
    );
}

#[test]
fn drop_table_is_destructive() {
    let from = schema(vec![users()]);
    let to = schema(vec![]);
    let changes = diff(&from, &to, &no_renames());
    assert_eq!(changes, vec![Change::DropTable { table: users() }]);
    assert!(changes[0].is_destructive());
    assert_eq!(changes[0].describe(), "drop table users (DESTRUCTIVE)");
}

#[test]
fn add_and_drop_column() {
    let from = schema(vec![users()]);
    let mut wanted = users();
    wanted.columns.push(nullable("notes", text()));
    let to = schema(vec![wanted]);

    let up = diff(&from, &to, &no_renames());
    assert_eq!(
        up,
        vec![Change::AddColumn {
            table: "users".into(),
            column: nullable("notes", text()),
        }]
    );
    assert_eq!(up[0].describe(), "add column users.notes");
    assert!(!up[0].is_destructive());

    let down = diff(&to, &from, &no_renames());
    assert_eq!(
        down,
        vec![Change::DropColumn {
            table: "users".into(),
            column: nullable("notes", text()),
        }]
    );
    assert_eq!(down[0].describe(), "drop column users.notes (DESTRUCTIVE)");
    assert_eq!(
        down[0].destructive_reason().as_deref(),
        Some("drops data in users.notes")
    );
}

#[test]
fn alter_column_type_nullability_default_autoincrement() {
    let from = schema(vec![table("t", vec![col("id", int()), col("qty", int())])]);

    let mut to_type = from.clone();
    to_type.tables[0].columns[1].ty = ColumnType::Float;
    let changes = diff(&from, &to_type, &no_renames());
    assert_eq!(
        changes,
        vec![Change::AlterColumn {
            table: "t".into(),
            from: col("qty", int()),
            to: col("qty", ColumnType::Float),
        }]
    );
    assert_eq!(
        changes[0].describe(),
        "alter column t.qty: INTEGER -> FLOAT (DESTRUCTIVE)"
    );

    let mut to_null = from.clone();
    to_null.tables[0].columns[1].nullable = true;
    let changes = diff(&from, &to_null, &no_renames());
    assert_eq!(changes.len(), 1);
    assert_eq!(
        changes[0].describe(),
        "alter column t.qty: NOT NULL -> NULL"
    );
    assert!(!changes[0].is_destructive());

    let mut to_default = from.clone();
    to_default.tables[0].columns[1].default = Some(DefaultValue::Integer(1));
    let changes = diff(&from, &to_default, &no_renames());
    assert_eq!(
        changes[0].describe(),
        "alter column t.qty: default none -> 1"
    );

    let mut to_auto = from.clone();
    to_auto.tables[0].columns[0].autoincrement = true;
    let changes = diff(&from, &to_auto, &no_renames());
    assert_eq!(
        changes[0].describe(),
        "alter column t.id: autoincrement off -> on"
    );
}

#[test]
fn destructive_type_changes() {
    let alter = |from: ColumnType, to: ColumnType| Change::AlterColumn {
        table: "t".into(),
        from: col("c", from),
        to: col("c", to),
    };
    let text_n = |n| ColumnType::Text {
        max_length: Some(n),
    };
    // Lossy.
    assert!(alter(text(), int()).is_destructive());
    assert!(alter(text_n(200), text_n(100)).is_destructive());
    assert!(alter(text(), text_n(100)).is_destructive());
    assert!(alter(ColumnType::Float, int()).is_destructive());
    assert!(alter(
        ColumnType::Integer { bits: 64 },
        ColumnType::Integer { bits: 32 }
    )
    .is_destructive());
    assert!(alter(ColumnType::DateTime, ColumnType::Date).is_destructive());
    assert!(alter(ColumnType::Blob, text()).is_destructive());
    assert!(alter(
        ColumnType::Custom {
            sql: "MONEY".into()
        },
        ColumnType::Custom { sql: "CASH".into() }
    )
    .is_destructive());
    // Lossless.
    assert!(!alter(text_n(100), text_n(200)).is_destructive());
    assert!(!alter(text_n(100), text()).is_destructive());
    assert!(!alter(int(), text()).is_destructive());
    assert!(!alter(ColumnType::Integer { bits: 32 }, int()).is_destructive());
    assert!(!alter(ColumnType::Integer { bits: 32 }, ColumnType::Float).is_destructive());
    assert!(!alter(ColumnType::Bool, int()).is_destructive());
    assert!(!alter(ColumnType::Date, ColumnType::DateTime).is_destructive());
    assert!(!alter(ColumnType::Uuid, text_n(36)).is_destructive());
    assert!(!alter(
        ColumnType::Decimal {
            precision: Some(10),
            scale: Some(2)
        },
        ColumnType::Decimal {
            precision: Some(12),
            scale: Some(2)
        }
    )
    .is_destructive());
    // Nullability or default changes never lose data.
    let mut to = col("c", int());
    to.nullable = true;
    assert!(!Change::AlterColumn {
        table: "t".into(),
        from: col("c", int()),
        to,
    }
    .is_destructive());
}

#[test]
fn column_order_alone_is_not_a_change() {
    let from = schema(vec![items()]);
    let mut to = from.clone();
    to.tables[0].columns.reverse();
    assert!(diff(&from, &to, &no_renames()).is_empty());
}

#[test]
fn constraint_order_is_not_a_change() {
    let mut a = items();
    a.uniques = vec![
        Unique {
            name: None,
            columns: vec!["title".into()],
        },
        Unique {
            name: None,
            columns: vec!["url".into()],
        },
    ];
    let mut b = a.clone();
    b.uniques.reverse();
    assert!(diff(
        &schema(vec![users(), a]),
        &schema(vec![users(), b]),
        &no_renames()
    )
    .is_empty());
}

#[test]
fn primary_key_change() {
    let from = schema(vec![table("t", vec![col("id", int()), col("k", int())])]);
    let mut to = from.clone();
    to.tables[0].primary_key = vec!["id".into(), "k".into()];
    let changes = diff(&from, &to, &no_renames());
    assert_eq!(
        changes,
        vec![Change::SetPrimaryKey {
            table: "t".into(),
            from: vec!["id".into()],
            to: vec!["id".into(), "k".into()],
        }]
    );
    assert_eq!(
        changes[0].describe(),
        "change primary key of t: (id) -> (id, k)"
    );
}

#[test]
fn add_and_drop_index_unique_fk_check() {
    let base = schema(vec![users(), items()]);
    let mut wanted = base.clone();
    let it = &mut wanted.tables[1];
    it.indexes.push(index("ix_items_title", &["title"], true));
    it.uniques.push(Unique {
        name: None,
        columns: vec!["user_id".into(), "title".into()],
    });
    it.checks.push(Check {
        name: "ck_title".into(),
        expr: "length(title) > 0".into(),
    });
    it.foreign_keys.clear();

    let up = diff(&base, &wanted, &no_renames());
    assert_eq!(
        labels(&up),
        vec![
            "drop foreign key items (user_id) -> users (id)",
            "add unique items (user_id, title)",
            "add unique index ix_items_title on items (title)",
            "add check ck_title on items (length(title) > 0)",
        ]
    );
    let down = diff(&wanted, &base, &no_renames());
    assert_eq!(
        labels(&down),
        vec![
            "drop index ix_items_title on items",
            "drop unique items (user_id, title)",
            "drop check ck_title on items",
            "add foreign key items (user_id) -> users (id)",
        ]
    );
}

#[test]
fn changed_foreign_key_is_drop_plus_add() {
    let from = schema(vec![users(), items()]);
    let mut to = from.clone();
    to.tables[1].foreign_keys[0].on_delete = FkAction::Cascade;
    let changes = diff(&from, &to, &no_renames());
    assert_eq!(
        changes,
        vec![
            Change::DropForeignKey {
                table: "items".into(),
                foreign_key: ForeignKey::new(&["user_id"], "users", &["id"]),
            },
            Change::AddForeignKey {
                table: "items".into(),
                foreign_key: to.tables[1].foreign_keys[0].clone(),
            },
        ]
    );
    assert_eq!(
        changes[1].describe(),
        "add foreign key items (user_id) -> users (id) ON DELETE CASCADE"
    );
}

#[test]
fn changed_index_is_drop_plus_add() {
    let from = schema(vec![users(), items()]);
    let mut to = from.clone();
    to.tables[1].indexes[0].unique = true;
    let changes = diff(&from, &to, &no_renames());
    assert_eq!(
        labels(&changes),
        vec![
            "drop index ix_items_user_id on items",
            "add unique index ix_items_user_id on items (user_id)",
        ]
    );
}

#[test]
fn column_rename_from_hint() {
    let from = schema(vec![users(), items()]);
    let mut to = from.clone();
    to.tables[1].columns[3].name = "listing_link".into();
    to.tables[1].columns[3].renamed_from = Some("url".into());

    let renames = Renames::from_hints(&to);
    assert_eq!(
        renames.columns,
        vec![("items".into(), "url".into(), "listing_link".into())]
    );
    let up = diff(&from, &to, &renames);
    assert_eq!(
        up,
        vec![Change::RenameColumn {
            table: "items".into(),
            from: "url".into(),
            to: "listing_link".into(),
        }]
    );
    assert_eq!(
        up[0].describe(),
        "rename column items.url to items.listing_link"
    );

    let down = diff(&to, &from, &renames.inverted());
    assert_eq!(
        down,
        vec![Change::RenameColumn {
            table: "items".into(),
            from: "listing_link".into(),
            to: "url".into(),
        }]
    );
}

#[test]
fn without_renames_a_rename_is_drop_plus_add_and_a_candidate() {
    let from = schema(vec![users(), items()]);
    let mut to = from.clone();
    to.tables[1].columns[3].name = "listing_link".into();
    to.tables[1].columns.push(nullable("n", int()));

    let changes = diff(&from, &to, &no_renames());
    assert_eq!(
        labels(&changes),
        vec![
            "drop column items.url (DESTRUCTIVE)",
            "add column items.listing_link",
            "add column items.n",
        ]
    );
    // Only the column of the same logical type is a candidate.
    assert_eq!(
        rename_candidates(&changes),
        vec![RenameCandidate {
            table: "items".into(),
            from: "url".into(),
            to: "listing_link".into(),
        }]
    );

    // A confirmed candidate is a rename.
    let confirmed = Renames {
        tables: vec![],
        columns: vec![("items".into(), "url".into(), "listing_link".into())],
        indexes: vec![],
    };
    let changes = diff(&from, &to, &confirmed);
    assert_eq!(
        labels(&changes),
        vec![
            "rename column items.url to items.listing_link",
            "add column items.n"
        ]
    );
    assert!(rename_candidates(&changes).is_empty());
}

#[test]
fn rename_with_type_change_is_rename_then_alter() {
    let from = schema(vec![table("t", vec![col("id", int()), col("a", int())])]);
    let to = schema(vec![table(
        "t",
        vec![col("id", int()), nullable("b", int())],
    )]);
    let renames = Renames {
        tables: vec![],
        columns: vec![("t".into(), "a".into(), "b".into())],
        indexes: vec![],
    };
    let changes = diff(&from, &to, &renames);
    assert_eq!(
        changes,
        vec![
            Change::RenameColumn {
                table: "t".into(),
                from: "a".into(),
                to: "b".into(),
            },
            Change::AlterColumn {
                table: "t".into(),
                from: col("b", int()),
                to: nullable("b", int()),
            },
        ]
    );
}

#[test]
fn table_rename_keeps_references_and_inverts() {
    let from = schema(vec![users(), items()]);
    let mut to = from.clone();
    // users -> accounts, and items.user_id -> items.account_id referencing it.
    to.tables[0].name = "accounts".into();
    to.tables[0].renamed_from = Some("users".into());
    let it = &mut to.tables[1];
    it.columns[1].name = "account_id".into();
    it.columns[1].renamed_from = Some("user_id".into());
    it.foreign_keys = vec![ForeignKey::new(&["account_id"], "accounts", &["id"])];
    it.indexes = vec![index("ix_items_user_id", &["account_id"], false)];

    let renames = Renames::from_hints(&to);
    assert_eq!(renames.tables, vec![("users".into(), "accounts".into())]);
    let up = diff(&from, &to, &renames);
    assert_eq!(
        labels(&up),
        vec![
            "rename table users to accounts",
            "rename column items.user_id to items.account_id",
        ]
    );

    let down = diff(&to, &from, &renames.inverted());
    assert_eq!(
        labels(&down),
        vec![
            "rename table accounts to users",
            "rename column items.account_id to items.user_id",
        ]
    );
}

#[test]
fn inverted_rekeys_columns_by_old_table_name() {
    let renames = Renames {
        tables: vec![("users".into(), "accounts".into())],
        columns: vec![
            ("accounts".into(), "mail".into(), "email".into()),
            ("items".into(), "url".into(), "link".into()),
        ],
        indexes: vec![],
    };
    let inv = renames.inverted();
    assert_eq!(inv.tables, vec![("accounts".into(), "users".into())]);
    assert_eq!(
        inv.columns,
        vec![
            ("items".into(), "link".into(), "url".into()),
            ("users".into(), "email".into(), "mail".into()),
        ]
    );
    assert_eq!(inv.inverted(), {
        let mut r = renames.clone();
        r.columns.sort();
        r
    });
}

#[test]
fn renamed_table_with_column_rename_and_changes() {
    let from = schema(vec![table("old", vec![col("id", int()), col("a", int())])]);
    let mut t = table(
        "new",
        vec![col("id", int()), col("b", int()), col("c", text())],
    );
    t.renamed_from = Some("old".into());
    t.columns[1].renamed_from = Some("a".into());
    let to = schema(vec![t]);
    let changes = diff(&from, &to, &Renames::from_hints(&to));
    assert_eq!(
        labels(&changes),
        vec![
            "rename table old to new",
            "rename column new.a to new.b",
            "add column new.c",
        ]
    );
}

#[test]
fn stale_rename_hints_are_ignored() {
    // The migration that renamed url -> listing_link and users -> accounts is applied; the
    // hints are still in the model.
    let mut t = table(
        "accounts",
        vec![col("id", int()), nullable("listing_link", text())],
    );
    t.renamed_from = Some("users".into());
    t.columns[1].renamed_from = Some("url".into());
    let wanted = schema(vec![t]);
    let recorded = wanted.without_hints();
    assert!(diff(&recorded, &wanted, &Renames::from_hints(&wanted)).is_empty());
}

#[test]
fn rename_hint_is_ignored_when_both_names_exist() {
    let from = schema(vec![table(
        "t",
        vec![col("id", int()), col("a", int()), col("b", int())],
    )]);
    let mut to = schema(vec![table("t", vec![col("id", int()), col("b", int())])]);
    to.tables[0].columns[1].renamed_from = Some("a".into());
    let changes = diff(&from, &to, &Renames::from_hints(&to));
    assert_eq!(labels(&changes), vec!["drop column t.a (DESTRUCTIVE)"]);
}

#[test]
fn creates_follow_foreign_keys_and_drops_reverse_them() {
    // sales -> items -> users; a name sort would put items before users.
    let mut sales = table("sales", vec![col("id", int()), col("item_id", int())]);
    sales
        .foreign_keys
        .push(ForeignKey::new(&["item_id"], "items", &["id"]));
    let mut aaa = table("aaa", vec![col("id", int()), col("sale_id", int())]);
    aaa.foreign_keys
        .push(ForeignKey::new(&["sale_id"], "sales", &["id"]));
    let full = schema(vec![aaa, items(), sales, users()]).normalized();
    let empty = schema(vec![]);

    let up = diff(&empty, &full, &no_renames());
    assert_eq!(
        labels(&up),
        vec![
            "create table users",
            "create table items",
            "create table sales",
            "create table aaa"
        ]
    );
    let down = diff(&full, &empty, &no_renames());
    assert_eq!(
        labels(&down),
        vec![
            "drop table aaa (DESTRUCTIVE)",
            "drop table sales (DESTRUCTIVE)",
            "drop table items (DESTRUCTIVE)",
            "drop table users (DESTRUCTIVE)",
        ]
    );
}

#[test]
fn foreign_key_cycles_and_self_references_still_order() {
    let mut a = table("a", vec![col("id", int()), col("b_id", int())]);
    a.foreign_keys
        .push(ForeignKey::new(&["b_id"], "b", &["id"]));
    let mut b = table(
        "b",
        vec![col("id", int()), col("a_id", int()), col("parent", int())],
    );
    b.foreign_keys
        .push(ForeignKey::new(&["a_id"], "a", &["id"]));
    b.foreign_keys
        .push(ForeignKey::new(&["parent"], "b", &["id"]));
    let to = schema(vec![b, a]);
    let changes = diff(&schema(vec![]), &to, &no_renames());
    assert_eq!(labels(&changes), vec!["create table a", "create table b"]);
}

#[test]
fn full_ordering_of_a_mixed_migration() {
    let mut from_items = items();
    from_items.columns.push(col("old", int()));
    from_items.checks.push(Check {
        name: "ck_old".into(),
        expr: "old > 0".into(),
    });
    let mut legacy = table("legacy", vec![col("id", int()), col("item_id", int())]);
    legacy
        .foreign_keys
        .push(ForeignKey::new(&["item_id"], "items", &["id"]));
    let from = schema(vec![users(), from_items, legacy]);

    let categories = table("categories", vec![col("id", int())]);
    let mut to_items = items();
    to_items.columns[3].name = "link".into();
    to_items.columns[3].renamed_from = Some("url".into());
    to_items.columns[2].nullable = true;
    to_items.columns.push(nullable("category_id", int()));
    to_items
        .foreign_keys
        .push(ForeignKey::new(&["category_id"], "categories", &["id"]));
    to_items.indexes = vec![index("ix_items_category_id", &["category_id"], false)];
    let mut to_users = users();
    to_users.columns.push(nullable("name", text()));
    let to = schema(vec![to_users, to_items, categories]);

    let changes = diff(&from, &to, &Renames::from_hints(&to));
    assert_eq!(
        labels(&changes),
        vec![
            "create table categories",
            // users comes before items: items references it.
            "add column users.name",
            "drop index ix_items_user_id on items",
            "drop check ck_old on items",
            "rename column items.url to items.link",
            "drop column items.old (DESTRUCTIVE)",
            "add column items.category_id",
            "alter column items.title: NOT NULL -> NULL",
            "add index ix_items_category_id on items (category_id)",
            "add foreign key items (category_id) -> categories (id)",
            "drop table legacy (DESTRUCTIVE)",
        ]
    );
}

#[test]
fn diff_is_deterministic() {
    let from = schema(vec![users(), items()]);
    let mut to = schema(vec![items(), users()]);
    to.tables[0].columns.push(nullable("x", int()));
    to.tables[1].columns.push(nullable("y", int()));
    let first = diff(&from, &to, &no_renames());
    for _ in 0..5 {
        assert_eq!(diff(&from, &to, &no_renames()), first);
    }
}

#[test]
fn hints_inside_schemas_are_not_changes() {
    let from = schema(vec![users()]);
    let mut to = from.clone();
    to.tables[0].columns[1].backfill = Some(DefaultValue::Text("x".into()));
    assert!(diff(&from, &to, &no_renames()).is_empty());
}

#[test]
fn backfill_travels_with_the_change_that_needs_it() {
    // Added NOT NULL column and a column becoming NOT NULL: whoever consumes the changes (the
    // CLI's prompt for missing values, a planner) must see the model's backfill.
    let from = schema(vec![items()]);
    let mut to = from.clone();
    let mut added = col("location", text());
    added.backfill = Some(DefaultValue::Text("unknown".into()));
    to.tables[0].columns.push(added.clone());
    to.tables[0].columns[3].nullable = false;
    to.tables[0].columns[3].backfill = Some(DefaultValue::Text("n/a".into()));
    let changes = diff(&from, &to, &no_renames());
    assert_eq!(
        changes,
        vec![
            Change::AddColumn {
                table: "items".into(),
                column: added,
            },
            Change::AlterColumn {
                table: "items".into(),
                from: nullable("url", text()),
                to: to.tables[0].columns[3].clone(),
            },
        ]
    );
}

#[test]
fn lossless_conversions_are_one_rule() {
    let float = ColumnType::Float;
    assert!(!int().converts_losslessly_to(&float), "2^53 + 1 is lost");
    assert!(ColumnType::Integer { bits: 32 }.converts_losslessly_to(&float));
    assert!(!float.converts_losslessly_to(&int()));
    assert!(int().converts_losslessly_to(&text()));
}

/// Column order does not count, so compare with columns sorted too.
fn canonical(s: &Schema) -> Schema {
    let mut s = s.without_hints().normalized();
    for t in &mut s.tables {
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
    }
    s
}

#[test]
fn property_diff_is_empty_iff_schemas_are_equal() {
    let base = schema(vec![users(), items()]);
    let mut variants = vec![base.clone(), schema(vec![]), schema(vec![users()])];
    let mut v = base.clone();
    v.tables[1].columns.reverse();
    variants.push(v);
    let mut v = base.clone();
    v.tables[1].columns[2].ty = ColumnType::Text {
        max_length: Some(100),
    };
    variants.push(v);
    let mut v = base.clone();
    v.tables[0].columns[1].default = Some(DefaultValue::Text("a@b".into()));
    variants.push(v);
    let mut v = base.clone();
    v.tables[1].foreign_keys[0].on_update = FkAction::Cascade;
    variants.push(v);
    let mut v = base.clone();
    v.tables[1].indexes.clear();
    variants.push(v);
    let mut v = base.clone();
    v.tables[0].primary_key = vec!["email".into()];
    variants.push(v);
    let mut v = base.clone();
    v.tables[1].checks.push(Check {
        name: "c".into(),
        expr: "1".into(),
    });
    variants.push(v);
    let mut v = base.clone();
    v.tables[0].columns[1].renamed_from = Some("mail".into());
    variants.push(v);
    let mut v = base.clone();
    v.tables[0].uniques.push(Unique {
        name: Some("uq".into()),
        columns: vec!["email".into()],
    });
    variants.push(v);

    for (i, a) in variants.iter().enumerate() {
        for (j, b) in variants.iter().enumerate() {
            let changes = diff(a, b, &no_renames());
            assert_eq!(
                changes.is_empty(),
                canonical(a) == canonical(b),
                "variants {i} and {j}: {changes:?}"
            );
            // With the wanted side's hints as renames, a diff and its inverse agree on
            // emptiness.
            let renames = Renames::from_hints(b);
            assert_eq!(
                diff(a, b, &renames).is_empty(),
                diff(b, a, &renames.inverted()).is_empty(),
                "variants {i} and {j}"
            );
        }
    }
}

#[test]
fn the_way_back_fills_a_dropped_not_null_column_with_a_placeholder() {
    // Property seed 81: dropping a NOT NULL column without default made the down unplannable
    // ("a new NOT NULL column needs a value"), so a required field could not be removed.
    let before = schema(vec![table(
        "items",
        vec![
            col("id", int()),
            col("title", text()),
            nullable("note", text()),
        ],
    )]);
    let after = schema(vec![table("items", vec![col("id", int())])]);
    let reverse = diff(&after, &before, &Renames::default());
    let mut target = before.clone();
    let filled = qvdiff_core::fill_restored_columns(&mut target, &reverse);
    assert_eq!(filled, vec!["items.title".to_string()]);
    let items = target.table("items").unwrap();
    assert_eq!(
        items.column("title").unwrap().backfill,
        Some(DefaultValue::Text(String::new()))
    );
    // A nullable column comes back NULL: nothing to fill.
    assert_eq!(items.column("note").unwrap().backfill, None);
    assert_eq!(
        qvdiff_core::restore_placeholder(&int()),
        DefaultValue::Integer(0)
    );
}

#[test]
fn the_way_back_fills_a_dropped_unique_column_with_distinct_values() {
    // Property seed 9825: one zero in every row broke the restored unique constraint, so the
    // way back of dropping a unique NOT NULL column refused its own duplicates.
    let mut before_items = table("items", vec![col("id", int()), col("sku", text())]);
    before_items.uniques.push(Unique {
        name: None,
        columns: vec!["sku".to_string()],
    });
    let before = schema(vec![before_items]);
    let after = schema(vec![table("items", vec![col("id", int())])]);
    let reverse = diff(&after, &before, &Renames::default());
    let mut target = before.clone();
    qvdiff_core::fill_restored_columns(&mut target, &reverse);
    assert_eq!(
        target
            .table("items")
            .unwrap()
            .column("sku")
            .unwrap()
            .backfill,
        Some(DefaultValue::Sql("rowid".to_string()))
    );
}
