use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key = true)]
    pub id: i64,
}

fn main() {}
