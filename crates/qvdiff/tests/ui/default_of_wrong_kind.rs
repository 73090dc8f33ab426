use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "one")]
    pub quantity: i64,
}

fn main() {}
