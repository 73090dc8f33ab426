use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(nullable)]
    pub notes: String,
}

fn main() {}
