use qvdiff::Model;

#[derive(Model)]
#[model(unique(user_id, sku))]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub usr_id: i64,
    pub sku: String,
}

fn main() {}
