//! An inventory app for a small reseller: users, their items, sales and marketplace listings.
//! Its schema is managed by qvdiff; the migrations live in the repository's `migrations/`.

pub mod models;

pub use models::{Item, Listing, Sale, User};

/// Every table of the app, as the models declare them.
pub fn tables() -> Vec<qvdiff::Table> {
    use qvdiff::Model;
    vec![
        User::table(),
        Item::table(),
        Sale::table(),
        Listing::table(),
    ]
}
