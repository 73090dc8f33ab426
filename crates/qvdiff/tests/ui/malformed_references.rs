use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users")]
    pub user_id: i64,
}

fn main() {}
