use qvdiff::Enum;

#[derive(Enum)]
#[enum_type(nmae = "status")]
pub enum Status {
    #[variant(name = "done")]
    Todo,
    Blocked(u8),
    #[variant(renamed_from = "done", colour = "red")]
    Done,
}

fn main() {}
