use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(default_sql(sqlite = "datetime('now')"))]
    pub created_at: String,
    #[column(default_sql(sqlite = "datetime('now')", mysql = "NOW()"))]
    pub updated_at: String,
    #[column(default_sql(sqlite = "1", sqlite = "2", postgres = "2"))]
    pub twice: i64,
    #[column(default_sql(sqlite = 1, postgres = "1"))]
    pub unquoted: i64,
    #[column(default = 0, default_sql(sqlite = "1", postgres = "1"))]
    pub both: i64,
}

fn main() {}
