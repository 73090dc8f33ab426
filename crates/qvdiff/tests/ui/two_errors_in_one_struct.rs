use qvdiff::Model;

pub struct Tags;

#[derive(Model)]
pub struct Item {
    #[column(primary_key, max_length = 5)]
    pub id: i64,
    pub tags: Tags,
    #[column(references = "users_id")]
    pub user_id: i64,
}

fn main() {}
