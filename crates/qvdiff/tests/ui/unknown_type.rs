use qvdiff::Model;

pub struct Tags;

#[derive(Model)]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub tags: Option<Tags>,
}

fn main() {}
