use qvdiff::Model;

#[derive(Model)]
pub enum Status {
    Active,
    Archived,
}

fn main() {}
