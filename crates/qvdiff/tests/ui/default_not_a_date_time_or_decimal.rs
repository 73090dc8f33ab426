use qvdiff::Model;

/// Stands in for `chrono::NaiveDate`: the derive recognises types by name.
pub struct NaiveDate;
/// Stands in for `chrono::NaiveTime`.
pub struct NaiveTime;
/// Stands in for `rust_decimal::Decimal`.
pub struct Decimal;

#[derive(Model)]
pub struct Invoice {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "2023-02-29")]
    pub due_on: NaiveDate,
    #[column(default = "25:00")]
    pub cutoff: NaiveTime,
    #[column(backfill = "ten")]
    pub total: Decimal,
}

fn main() {}
