use qvdiff::Model;

/// Stands in for `chrono::NaiveDateTime`: the derive recognises types by name.
pub struct NaiveDateTime;
/// Stands in for `uuid::Uuid`.
pub struct Uuid;

#[derive(Model)]
pub struct Meeting {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "next tuesday")]
    pub starts_at: NaiveDateTime,
    #[column(backfill = "not-a-uuid")]
    pub room: Uuid,
}

fn main() {}
