use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(skip, primary_key)]
    pub cache: Vec<u8>,
}

fn main() {}
