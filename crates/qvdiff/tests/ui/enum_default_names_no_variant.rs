use qvdiff::{Enum, Model};

#[derive(Enum)]
pub enum Status {
    Todo,
    Done,
}

#[derive(Model)]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "finished")]
    pub status: Status,
    #[column(default = "todo")]
    pub previous: Option<Status>,
}

fn main() {}
