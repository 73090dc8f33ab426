use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "set null")]
    pub user_id: i64,
}

fn main() {}
