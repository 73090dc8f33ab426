use qvdiff::Model;

// An empty condition, and `where` where it makes no partial index: each reported at its span.
#[derive(Model)]
#[model(index(fields(sku), unique, where = "  "))]
#[model(unique(sku, owner, where = "status = 'draft'"))]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub sku: String,
    pub owner: i64,
    #[column(index, where = "status = 'draft'")]
    pub status: String,
}

fn main() {}
