use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(precision = 10, scale = 2)]
    pub title: String,
}

fn main() {}
