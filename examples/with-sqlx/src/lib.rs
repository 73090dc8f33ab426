//! An app on sqlx that keeps its schema with qvdiff: at start it runs its embedded migrations
//! through its own pool (SQLite or PostgreSQL, chosen by the URL), checks that the database
//! matches the models, then writes a task with every column kind and reads it back.

pub mod models;

use chrono::{TimeZone, Utc};
use models::{Status, Task, User};
use qvdiff::{Migrator, Model};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Database, Executor, IntoArguments, Pool};
use std::str::FromStr;

/// The boxed error of the example.
pub type AppResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The SQLite history, compiled into the binary.
const SQLITE_MIGRATIONS: &[(&str, &str)] = qvdiff::embed_migrations!("migrations");
/// The PostgreSQL history: the same revisions in PostgreSQL's SQL.
const POSTGRES_MIGRATIONS: &[(&str, &str)] = qvdiff::embed_migrations!("migrations/postgres");

/// The models, as qvdiff compares them with the database.
pub fn tables() -> Vec<qvdiff::Table> {
    vec![User::table(), Task::table()]
}

/// The task every run writes and expects back, field for field.
pub fn sample_task(id: i64, owner_id: i64) -> Task {
    Task {
        id,
        owner_id,
        title: "Ship the release".to_string(),
        notes: Some("naïve café, 'quoted', 100%".to_string()),
        status: Status::Doing,
        points: -3,
        estimate_hours: 2.5,
        archived: true,
        due_at: Utc
            .with_ymd_and_hms(2026, 12, 24, 18, 30, 5)
            .single()
            .expect("a valid instant"),
        attachment: Some(vec![0, 159, 146, 150, 255]),
        overdue: false,
    }
}

/// Migrates the database at `url` (`sqlite://…` or `postgres://…`) through an sqlx pool, checks
/// it against the models, writes a user and a task and reads the task back. Returns what it did,
/// one line per step.
pub async fn run(url: &str) -> AppResult<Vec<String>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
        let migrator = Migrator::new(POSTGRES_MIGRATIONS)?;
        exercise(&pool, &migrator, numbered_marks).await
    } else {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let migrator = Migrator::new(SQLITE_MIGRATIONS)?;
        exercise(&pool, &migrator, question_marks).await
    }
}

/// PostgreSQL's bind placeholders: `$1, $2, …`.
fn numbered_marks(count: usize) -> String {
    (1..=count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's bind placeholders: `?, ?, …`.
fn question_marks(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The app's start-up and one round trip, the same code for both databases.
async fn exercise<DB>(
    pool: &Pool<DB>,
    migrator: &Migrator,
    marks: fn(usize) -> String,
) -> AppResult<Vec<String>>
where
    DB: Database,
    Pool<DB>: qvdiff::migrate::Pool,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> Task: sqlx::FromRow<'r, DB::Row>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i32: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Status: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> chrono::DateTime<Utc>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut log = Vec::new();
    let report = migrator.upgrade_pool(pool).await?;
    for step in &report.steps {
        log.push(format!("applied {} {}", step.revision, step.message));
    }
    let differences = migrator.verify_models_pool(pool, &tables()).await?;
    if !differences.is_empty() {
        return Err(format!(
            "the database does not match the models: {}",
            differences.join("; ")
        )
        .into());
    }
    log.push("the database matches the models".to_string());

    let owner = User {
        id: 1,
        email: "ada@example.com".to_string(),
    };
    sqlx::query(&format!(
        "INSERT INTO users (id, email) VALUES ({}) ON CONFLICT (id) DO NOTHING",
        marks(2)
    ))
    .bind(owner.id)
    .bind(owner.email.clone())
    .execute(pool)
    .await?;

    let task = sample_task(1, owner.id);
    sqlx::query(&format!(
        "INSERT INTO tasks (id, owner_id, title, notes, status, points, estimate_hours, \
         archived, due_at, attachment) VALUES ({}) ON CONFLICT (id) DO NOTHING",
        marks(10)
    ))
    .bind(task.id)
    .bind(task.owner_id)
    .bind(task.title.clone())
    .bind(task.notes.clone())
    .bind(task.status)
    .bind(task.points)
    .bind(task.estimate_hours)
    .bind(task.archived)
    .bind(task.due_at)
    .bind(task.attachment.clone())
    .execute(pool)
    .await?;

    let read: Task = sqlx::query_as("SELECT * FROM tasks WHERE id = 1")
        .fetch_one(pool)
        .await?;
    if read != task {
        return Err(format!("read back {read:?}, wrote {task:?}").into());
    }
    log.push(format!("round trip of task {} ok", task.id));
    Ok(log)
}
