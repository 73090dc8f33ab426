use qvdiff::Model;

/// A stand-in with the name the type table knows.
pub struct Decimal;

#[derive(Model)]
pub struct Invoice {
    #[column(primary_key)]
    pub id: i64,
    #[column(precision = 4, scale = 6)]
    pub total: Decimal,
    #[column(scale = 2)]
    pub fee: Decimal,
}

fn main() {}
