use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "now", default_sql = "CURRENT_TIMESTAMP")]
    pub created_at: String,
}

fn main() {}
