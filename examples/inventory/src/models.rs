//! The inventory app's tables. qvdiff reads this file (see `qvdiff.toml` at the repository root)
//! and the derive gives each struct `T::table()` for checks at start-up.

use chrono::{DateTime, Utc};
use qvdiff::{Enum, Model};

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

/// The state an item is sold in: stored as `new`, `used` or `refurbished` (SQLite: a CHECK;
/// PostgreSQL: the enum type `item_condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[enum_type(name = "item_condition")]
pub enum Condition {
    New,
    Used,
    Refurbished,
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Condition {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Condition::from_stored(value).ok_or_else(|| format!("{value:?} is not an item condition"))
    }
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
    #[column(default = "new")]
    pub condition: Condition,
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
    /// When the sale was last changed (an instant: `timestamptz` on PostgreSQL); none until then.
    pub updated_at: Option<DateTime<Utc>>,
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
