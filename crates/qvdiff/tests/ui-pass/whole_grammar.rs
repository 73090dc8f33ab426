use qvdiff::{ColumnType, DefaultValue, FkAction, Model};

pub struct Tags;

/// A stand-in with the name the type table knows.
pub struct Decimal;

#[derive(Debug, Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key, autoincrement)]
    pub id: i64,
}

#[derive(Model)]
#[model(table = "items", renamed_from = "products")]
#[model(unique(owner, sku), index(fields(owner, sku), unique, name = "ux_items_owner_sku"))]
#[model(index(fields(sku), unique, name = "ux_items_live_sku", where = "quantity > 0"))]
#[model(check(name = "ck_items_quantity", expr = "quantity >= 0"))]
pub struct Item<'a, T> {
    #[column(primary_key)]
    pub id: i64,
    #[column(name = "owner_id", references = "users.id", on_delete = "set null", on_update = "cascade", index)]
    pub owner: Option<i64>,
    #[column(max_length = 32, unique, renamed_from = "code")]
    pub sku: &'a str,
    #[column(default = -1, backfill = 0)]
    pub quantity: i32,
    #[column(default = 1.5, using = "CAST(weight AS REAL)")]
    pub weight: f64,
    #[column(sql_type = "JSON", default_sql = "'[]'")]
    pub tags: Tags,
    #[column(skip)]
    pub extra: T,
    pub r#type: Option<String>,
    #[column(precision = 10, scale = 2)]
    pub price: Decimal,
}

fn main() {
    let users = User::table();
    assert_eq!(users.primary_key, ["id"]);
    assert!(users.columns[0].autoincrement);

    let items = Item::<'static, ()>::table();
    assert_eq!(items.name, "items");
    assert_eq!(items.renamed_from.as_deref(), Some("products"));
    let names: Vec<&str> = items.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "owner_id", "sku", "quantity", "weight", "tags", "type", "price"]);
    assert_eq!(items.columns[2].ty, ColumnType::Text { max_length: Some(32) });
    assert_eq!(items.columns[3].default, Some(DefaultValue::Integer(-1)));
    assert_eq!(items.columns[4].default, Some(DefaultValue::Float(1.5)));
    assert_eq!(items.columns[4].using.as_deref(), Some("CAST(weight AS REAL)"));
    assert_eq!(items.columns[5].ty, ColumnType::Json);
    assert_eq!(
        items.columns[7].ty,
        ColumnType::Decimal { precision: Some(10), scale: Some(2) }
    );
    assert_eq!(items.foreign_keys[0].on_delete, FkAction::SetNull);
    assert_eq!(items.foreign_keys[0].on_update, FkAction::Cascade);
    let index_names: Vec<&str> = items.indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(index_names, ["ix_items_owner_id", "ux_items_live_sku", "ux_items_owner_sku"]);
    assert_eq!(items.indexes[1].predicate.as_deref(), Some("quantity > 0"));
    assert_eq!(items.uniques.len(), 2);
    assert_eq!(items.checks[0].name, "ck_items_quantity");
}
