//! An inventory app for a small reseller: users, their items, sales and marketplace listings.
//! Its schema is managed by qvdiff; the migrations live in the repository's `migrations/`.

pub mod models;

pub use models::{Condition, Item, Listing, Sale, User};

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

/// Every column of the first item (lowest id) as `(column, value)` text, whatever columns the
/// table has now: a column added by the latest migration shows up without changing this code.
/// `None` when there are no items.
pub fn first_item(
    conn: &qvdiff::migrate::rusqlite::Connection,
) -> qvdiff::migrate::rusqlite::Result<Option<Vec<(String, String)>>> {
    use qvdiff::migrate::rusqlite::types::ValueRef;
    let mut stmt = conn.prepare("SELECT * FROM items ORDER BY id LIMIT 1")?;
    let names: Vec<String> = stmt
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut rows = stmt.query([])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut fields = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let value = match row.get_ref(i)? {
            ValueRef::Null => "NULL".to_string(),
            ValueRef::Integer(v) => v.to_string(),
            ValueRef::Real(v) => v.to_string(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
        };
        fields.push((name, value));
    }
    Ok(Some(fields))
}
