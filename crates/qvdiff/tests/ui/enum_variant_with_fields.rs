use qvdiff::Enum;

#[derive(Enum)]
pub enum Status {
    Todo,
    Blocked(String),
    Done { at: i64 },
}

fn main() {}
