use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key, autoincrement)]
    pub code: String,
}

fn main() {}
