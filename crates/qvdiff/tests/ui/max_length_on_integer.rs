use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 10)]
    pub quantity: i64,
}

fn main() {}
