use qvdiff::Model;

#[derive(Model)]
pub struct Item {
    pub id: i64,
    pub title: String,
}

fn main() {}
