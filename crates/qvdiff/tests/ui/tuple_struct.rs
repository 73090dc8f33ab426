use qvdiff::Model;

#[derive(Model)]
pub struct Point(pub i64, pub i64);

fn main() {}
