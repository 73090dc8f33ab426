use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(backfill = 0, backfill_sql = "1 + 1")]
    pub quantity: i64,
}

fn main() {}
