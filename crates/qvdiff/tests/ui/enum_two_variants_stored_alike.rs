use qvdiff::Enum;

#[derive(Enum)]
pub enum Status {
    Todo,
    #[variant(name = "todo")]
    Pending,
    Done,
}

fn main() {}
