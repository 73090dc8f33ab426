use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(autoincrement)]
    pub counter: i64,
}

fn main() {}
