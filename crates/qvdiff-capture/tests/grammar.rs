//! The attribute grammar and mapping rules, through the public API (`scan_source`, which runs
//! `parse_model` on every model it finds).

use qvdiff_capture::{scan_source, CapturedTable, ScanOutput};
use qvdiff_core::{
    Check, Column, ColumnType, DefaultValue, FkAction, ForeignKey, Index, Table, Unique,
};

fn scan(text: &str) -> ScanOutput {
    scan_source("models.rs", text)
}

/// The only table in `text`; fails with the diagnostics when there are errors.
fn one_table(text: &str) -> Table {
    let out = scan(text);
    assert!(
        out.errors.is_empty(),
        "unexpected errors: {:#?}",
        out.errors
    );
    assert_eq!(out.tables.len(), 1, "{:#?}", out.tables);
    out.tables
        .into_iter()
        .map(|t: CapturedTable| t.table)
        .next()
        .unwrap_or_else(|| unreachable!())
}

fn text(max: Option<u32>) -> ColumnType {
    ColumnType::Text { max_length: max }
}

#[test]
fn design_example_maps_as_documented() {
    let table = one_table(
        r#"
use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
#[model(unique(user_id, ebay_listing_id))]
#[model(index(fields(user_id, category), name = "ix_items_user_category"))]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "cascade", index)]
    pub user_id: i64,
    #[column(max_length = 200)]
    pub title: String,
    pub notes: Option<String>,
    #[column(default = 1)]
    pub quantity: i64,
    #[column(default = true, backfill = true)]
    pub ebay_sync_enabled: bool,
    #[column(renamed_from = "listing_url")]
    pub listing_link: Option<String>,
    #[column(sql_type = "JSON")]
    pub tags: Option<Tags>,
    #[column(skip)]
    pub cache: Cache,
    pub ebay_listing_id: Option<String>,
    pub category: String,
}
"#,
    );
    let mut quantity = Column::new("quantity", ColumnType::Integer { bits: 64 });
    quantity.default = Some(DefaultValue::Integer(1));
    let mut sync = Column::new("ebay_sync_enabled", ColumnType::Bool);
    sync.default = Some(DefaultValue::Bool(true));
    sync.backfill = Some(DefaultValue::Bool(true));
    let mut notes = Column::new("notes", text(None));
    notes.nullable = true;
    let mut link = Column::new("listing_link", text(None));
    link.nullable = true;
    link.renamed_from = Some("listing_url".into());
    let mut tags = Column::new("tags", ColumnType::Json);
    tags.nullable = true;
    let mut listing = Column::new("ebay_listing_id", text(None));
    listing.nullable = true;
    let mut want = Table::new(
        "items",
        vec![
            Column::new("id", ColumnType::Integer { bits: 64 }),
            Column::new("user_id", ColumnType::Integer { bits: 64 }),
            Column::new("title", text(Some(200))),
            notes,
            quantity,
            sync,
            link,
            tags,
            listing,
            Column::new("category", text(None)),
        ],
    );
    want.primary_key = vec!["id".into()];
    want.uniques = vec![Unique {
        name: None,
        columns: vec!["user_id".into(), "ebay_listing_id".into()],
    }];
    want.indexes = vec![
        Index {
            name: "ix_items_user_category".into(),
            columns: vec!["user_id".into(), "category".into()],
            unique: false,
            predicate: None,
        },
        Index {
            name: "ix_items_user_id".into(),
            columns: vec!["user_id".into()],
            unique: false,
            predicate: None,
        },
    ];
    want.foreign_keys = vec![ForeignKey {
        columns: vec!["user_id".into()],
        ref_table: "users".into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::Cascade,
        on_update: FkAction::NoAction,
    }];
    want.normalize();
    assert_eq!(table, want);
}

#[test]
fn table_name_defaults_to_snake_case_and_struct_attrs_combine() {
    let table = one_table(
        r#"
#[derive(Debug, Clone, qvdiff::Model, PartialEq)]
#[model(primary_key(sale_id, line_no), renamed_from = "sale_lines")]
#[model(check(name = "ck_qty", expr = "qty > 0"), check(name = "ck_price", expr = "price >= 0"))]
#[model(index(fields(sku, qty), unique))]
#[model(unique(sku, line_no, name = "uq_sku_line"))]
struct SaleItem {
    sale_id: i64,
    line_no: i32,
    #[column(name = "item_sku")]
    sku: String,
    qty: u16,
    price: f64,
}
"#,
    );
    assert_eq!(table.name, "sale_item");
    assert_eq!(table.renamed_from.as_deref(), Some("sale_lines"));
    assert_eq!(table.primary_key, ["sale_id", "line_no"]);
    assert_eq!(table.columns[2].name, "item_sku");
    // A u16 of 65535 needs 32 signed bits (PostgreSQL `integer`, not `smallint`).
    assert_eq!(table.columns[3].ty, ColumnType::Integer { bits: 32 });
    assert!(
        table.columns.iter().all(|c| !c.nullable),
        "primary keys and plain fields are NOT NULL"
    );
    assert_eq!(
        table.indexes,
        [Index {
            name: "ix_sale_item_item_sku_qty".into(),
            columns: vec!["item_sku".into(), "qty".into()],
            unique: true,
            predicate: None
        }]
    );
    assert_eq!(
        table.uniques,
        [Unique {
            name: Some("uq_sku_line".into()),
            columns: vec!["item_sku".into(), "line_no".into()]
        }]
    );
    assert_eq!(
        table.checks,
        [
            Check {
                name: "ck_price".into(),
                expr: "price >= 0".into()
            },
            Check {
                name: "ck_qty".into(),
                expr: "qty > 0".into()
            }
        ]
    );
}

#[test]
fn defaults_of_every_literal_kind() {
    let table = one_table(
        r#"
#[derive(Model)]
struct Defaults {
    #[column(primary_key, autoincrement)] id: i64,
    #[column(default = -5)] negative: i32,
    #[column(default = 2.5)] ratio: f64,
    #[column(default = -0.25)] below: f32,
    #[column(default = 3)] whole_float: f64,
    #[column(default = false)] flag: bool,
    #[column(default = "new")] status: String,
    #[column(default_sql = "CURRENT_TIMESTAMP")] created: chrono::NaiveDateTime,
    #[column(default = "1970-01-01")] day: NaiveDate,
    #[column(default = -9223372036854775808)]
    extreme: i64,
}
"#,
    );
    let defaults: Vec<Option<DefaultValue>> =
        table.columns.iter().map(|c| c.default.clone()).collect();
    assert_eq!(
        defaults,
        [
            None,
            Some(DefaultValue::Integer(-5)),
            Some(DefaultValue::Float(2.5)),
            Some(DefaultValue::Float(-0.25)),
            Some(DefaultValue::Integer(3)),
            Some(DefaultValue::Bool(false)),
            Some(DefaultValue::Text("new".into())),
            Some(DefaultValue::Sql("CURRENT_TIMESTAMP".into())),
            Some(DefaultValue::Text("1970-01-01".into())),
            Some(DefaultValue::Integer(i64::MIN)),
        ]
    );
    assert!(table.columns[0].autoincrement);
}

#[test]
fn a_partial_index_keeps_its_condition_trimmed() {
    let table = one_table(
        r#"
#[derive(qvdiff::Model)]
#[model(index(fields(sku), unique, where = "  status = 'draft' "), index(fields(owner)))]
struct Item {
    #[column(primary_key)]
    id: i64,
    sku: String,
    owner: i64,
    status: String,
}
"#,
    );
    assert_eq!(
        table.indexes,
        [
            Index {
                name: "ix_item_owner".into(),
                columns: vec!["owner".into()],
                unique: false,
                predicate: None,
            },
            Index {
                name: "ix_item_sku".into(),
                columns: vec!["sku".into()],
                unique: true,
                predicate: Some("status = 'draft'".into()),
            },
        ]
    );
}

#[test]
fn backfill_sql_is_kept_as_sql() {
    let table = one_table(
        r#"
#[derive(Model)]
struct T { #[column(primary_key)] id: i64, #[column(backfill_sql = "'n/a'")] note: String }
"#,
    );
    assert_eq!(
        table.columns[1].backfill,
        Some(DefaultValue::Sql("'n/a'".into()))
    );
}

#[test]
fn sql_type_overrides_the_rust_type() {
    let table = one_table(
        r#"
#[derive(Model)]
struct T {
    #[column(primary_key, sql_type = "UUID")] id: String,
    #[column(sql_type = "NUMERIC(10, 2)")] price: String,
    #[column(sql_type = "jsonb")] doc: Option<Doc>,
    #[column(sql_type = "VARCHAR(20)")] code: String,
}
"#,
    );
    let types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty.clone()).collect();
    assert_eq!(
        types,
        [
            ColumnType::Uuid,
            ColumnType::Decimal {
                precision: Some(10),
                scale: Some(2)
            },
            ColumnType::Custom {
                sql: "jsonb".into()
            },
            text(Some(20)),
        ]
    );
    assert!(table.columns[2].nullable);
}

#[test]
fn foreign_key_actions_accept_every_spelling() {
    let table = one_table(
        r#"
#[derive(Model)]
struct T {
    #[column(primary_key)] id: i64,
    #[column(references = "a.id", on_delete = "set null", on_update = "CASCADE")] a: Option<i64>,
    #[column(references = "b.id", on_delete = "set_null")] b: Option<i64>,
    #[column(references = "c.id", on_delete = "restrict", on_update = "no action")] c: i64,
    #[column(references = "d.id", on_delete = "set default", default = 0)] d: i64,
}
"#,
    );
    let actions: Vec<(FkAction, FkAction)> = table
        .foreign_keys
        .iter()
        .map(|fk| (fk.on_delete, fk.on_update))
        .collect();
    assert_eq!(
        actions,
        [
            (FkAction::SetNull, FkAction::Cascade),
            (FkAction::SetNull, FkAction::NoAction),
            (FkAction::Restrict, FkAction::NoAction),
            (FkAction::SetDefault, FkAction::NoAction),
        ]
    );
}

#[test]
fn finds_models_in_nested_modules_and_ignores_other_items() {
    let out = scan(
        r#"
#[derive(Debug)]
struct NotAModel { x: Weird }

#[cfg(feature = "server")]
mod db {
    pub mod inner {
        #[derive(Clone, ::qvdiff::Model)]
        pub struct Deep { #[column(primary_key)] pub id: i64 }
    }
    #[derive(qvdiff_derive::Model)]
    pub struct Shallow { #[column(primary_key)] pub r#type: String }
}

mod external;

#[derive(other::Model)]
struct Foreign { x: Weird }

fn main() {}
"#,
    );
    assert!(out.errors.is_empty(), "{:#?}", out.errors);
    let found: Vec<(&str, &str, usize, usize)> = out
        .tables
        .iter()
        .map(|t| {
            (
                t.struct_name.as_str(),
                t.table.name.as_str(),
                t.line,
                t.column,
            )
        })
        .collect();
    assert_eq!(
        found,
        [("Deep", "deep", 9, 20), ("Shallow", "shallow", 12, 16)]
    );
    assert_eq!(out.tables[1].table.columns[0].name, "type");
}

#[test]
fn a_syntax_error_is_one_diagnostic_at_its_location() {
    let out = scan("struct A {\n    id: i64,,\n}\n");
    assert_eq!(out.errors.len(), 1, "{:#?}", out.errors);
    let error = &out.errors[0];
    assert_eq!((error.line, error.column), (2, 13));
    assert!(error.to_string().starts_with("models.rs:2:13: "), "{error}");
}

#[test]
fn generic_structs_are_models_too() {
    let table = one_table(
        r#"
#[derive(Model)]
struct Named<'a, T> { #[column(primary_key)] name: &'a str, #[column(skip)] marker: T }
"#,
    );
    assert_eq!(table.columns.len(), 1);
}

#[test]
fn composite_foreign_key_references_columns_in_order() {
    let table = one_table(
        r#"
#[derive(Model)]
#[model(table = "shipments")]
#[model(foreign_key(fields(order_no, order_region), references = "orders(order_no, region)", on_delete = "cascade", on_update = "restrict"))]
struct Shipment {
    #[column(primary_key)]
    id: i64,
    order_no: i64,
    #[column(name = "region_code")]
    order_region: String,
}
"#,
    );
    assert_eq!(
        table.foreign_keys,
        [ForeignKey {
            columns: vec!["order_no".to_string(), "region_code".to_string()],
            ref_table: "orders".to_string(),
            ref_columns: vec!["order_no".to_string(), "region".to_string()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::Restrict,
        }]
    );
}
