use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    #[column(using = color)]
    pub color: Option<i64>,
}

fn main() {}
