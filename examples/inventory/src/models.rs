//! The inventory app's tables. qvdiff reads this file (see `qvdiff.toml` at the repository root)
//! and the derive gives each struct `T::table()` for checks at start-up.

use qvdiff::Model;

/// A seller using the app.
#[derive(Debug, Clone, Model)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(max_length = 255, unique)]
    pub email: String,
    #[column(max_length = 100)]
    pub display_name: String,
    #[column(sql_type = "DATETIME", default_sql = "CURRENT_TIMESTAMP")]
    pub created_at: String,
}

/// Something in stock.
#[derive(Debug, Clone, Model)]
#[model(table = "items")]
#[model(index(fields(user_id, is_active), name = "ix_items_user_active"))]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "cascade", index)]
    pub user_id: i64,
    #[column(max_length = 200)]
    pub title: String,
    #[column(max_length = 64, unique)]
    pub sku: String,
    pub description: Option<String>,
    #[column(max_length = 120)]
    pub supplier: Option<String>,
    pub cost: f64,
    pub price: f64,
    #[column(default = 1)]
    pub quantity: i64,
    #[column(default = true)]
    pub is_active: bool,
    /// Free-form labels, stored as a JSON array.
    #[column(sql_type = "JSON")]
    pub tags: Option<String>,
    #[column(sql_type = "DATE")]
    pub listed_on: Option<String>,
    #[column(sql_type = "DATETIME", default_sql = "CURRENT_TIMESTAMP")]
    pub created_at: String,
    #[column(sql_type = "DATETIME", default_sql = "CURRENT_TIMESTAMP")]
    pub updated_at: String,
}

/// One sale of an item. The sale survives when the item is deleted.
#[derive(Debug, Clone, Model)]
#[model(table = "sales")]
pub struct Sale {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(references = "items.id", on_delete = "set null", index)]
    pub item_id: Option<i64>,
    pub sale_price: f64,
    #[column(default = 0.0)]
    pub shipping_price: f64,
    #[column(default = 0.0)]
    pub fees: f64,
    #[column(max_length = 20, default = "pending")]
    pub status: String,
    #[column(sql_type = "DATETIME")]
    pub sold_at: String,
}

/// An item offered on a marketplace.
#[derive(Debug, Clone, Model)]
#[model(table = "listings")]
#[model(unique(item_id, marketplace))]
pub struct Listing {
    #[column(primary_key, autoincrement)]
    pub id: i64,
    #[column(references = "items.id", on_delete = "cascade")]
    pub item_id: i64,
    #[column(max_length = 40)]
    pub marketplace: String,
    #[column(max_length = 100)]
    pub external_id: String,
    pub url: Option<String>,
    #[column(sql_type = "DATETIME", default_sql = "CURRENT_TIMESTAMP")]
    pub listed_at: String,
}
