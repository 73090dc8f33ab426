//! The example's tables: each struct is a qvdiff model (the schema and its migrations) and a
//! Diesel row (`Queryable`, `Selectable`, `Insertable`) at once. The derives read different
//! attributes: qvdiff `model`/`column`, Diesel `diesel`.

use crate::schema::{projects, tasks};
use chrono::NaiveDateTime;
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteValue};

/// Where a task stands, stored as its snake_case name in a TEXT column. The `ToSql`/`FromSql`
/// impls are the glue Diesel needs for a text-backed enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum Status {
    /// Not started.
    Todo,
    /// In progress.
    Doing,
    /// Finished.
    Done,
}

impl ToSql<Text, Sqlite> for Status {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(match self {
            Status::Todo => "todo",
            Status::Doing => "doing",
            Status::Done => "done",
        });
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Sqlite> for Status {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        match text.as_str() {
            "todo" => Ok(Status::Todo),
            "doing" => Ok(Status::Doing),
            "done" => Ok(Status::Done),
            other => Err(format!("unknown status {other:?}").into()),
        }
    }
}

/// A project.
#[derive(
    Debug,
    Clone,
    PartialEq,
    qvdiff::Model,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
)]
#[model(table = "projects")]
#[diesel(table_name = projects)]
pub struct Project {
    #[column(primary_key)]
    pub id: i64,
    #[column(max_length = 100, unique)]
    pub name: String,
}

/// A task, with a column of every kind the app stores.
#[derive(
    Debug,
    Clone,
    PartialEq,
    qvdiff::Model,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
)]
#[model(table = "tasks")]
#[diesel(table_name = tasks)]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = "projects.id", on_delete = "cascade", index)]
    pub project_id: i64,
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
    pub due_at: NaiveDateTime,
    pub attachment: Option<Vec<u8>>,
}
