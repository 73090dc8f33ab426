//! The example's tables: each struct is a qvdiff model (the schema) and an sqlx row (the
//! queries) at once. The two derives read different attributes (`model`/`column` and `sqlx`).

use chrono::{DateTime, Utc};

/// Where a task stands. Stored as its snake_case name in a TEXT column; the `sqlx::Type` impls
/// below are the glue that lets sqlx bind and read it as text on both databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not started.
    Todo,
    /// In progress.
    Doing,
    /// Finished.
    Done,
}

impl Status {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Todo => "todo",
            Status::Doing => "doing",
            Status::Done => "done",
        }
    }

    /// The variant a stored value names.
    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "todo" => Some(Status::Todo),
            "doing" => Some(Status::Doing),
            "done" => Some(Status::Done),
            _ => None,
        }
    }
}

impl<DB: sqlx::Database> sqlx::Type<DB> for Status
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Status
where
    &'q str: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Status
where
    String: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <String as sqlx::Decode<'r, DB>>::decode(value)?;
        Status::parse(&text).ok_or_else(|| format!("unknown status {text:?}").into())
    }
}

/// A user of the tracker.
#[derive(Debug, Clone, PartialEq, qvdiff::Model, sqlx::FromRow)]
#[model(table = "users")]
pub struct User {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 120, unique)]
    pub email: String,
}

/// A task, with a column of every kind the app stores.
#[derive(Debug, Clone, PartialEq, qvdiff::Model, sqlx::FromRow)]
#[model(table = "tasks")]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "users.id", on_delete = "cascade", index)]
    pub owner_id: i64,
    #[column(max_length = 200)]
    pub title: String,
    pub notes: Option<String>,
    #[column(sql_type = "TEXT", default = "todo")]
    pub status: Status,
    #[column(default = 0)]
    pub points: i32,
    pub estimate_hours: f64,
    #[column(default = false)]
    pub archived: bool,
    pub due_at: DateTime<Utc>,
    pub attachment: Option<Vec<u8>>,
    /// Computed by the app, never stored: skipped by qvdiff, and by sqlx.
    #[column(skip)]
    #[sqlx(skip)]
    pub overdue: bool,
}
