//! An app on Diesel that keeps its schema with qvdiff: at start it applies its embedded
//! migrations (qvdiff's runner on a rusqlite connection: ledger, checksums, backup) and checks
//! the database against the models, then Diesel does the queries — here, a task with every
//! column kind written and read back.

pub mod models;
pub mod schema;

use chrono::NaiveDate;
use diesel::prelude::*;
use models::{Project, Status, Task};
use qvdiff::migrate::rusqlite;
use qvdiff::{Migrator, Model};
use std::path::Path;

/// The boxed error of the example.
pub type AppResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The migrations, compiled into the binary.
const MIGRATIONS: &[(&str, &str)] = qvdiff::embed_migrations!("migrations");

/// The models, as qvdiff compares them with the database.
pub fn tables() -> Vec<qvdiff::Table> {
    vec![Project::table(), Task::table()]
}

/// The task every run writes and expects back, field for field.
pub fn sample_task(id: i64, project_id: i64) -> Task {
    Task {
        id,
        project_id,
        title: "Ship the release".to_string(),
        notes: Some("naïve café, 'quoted', 100%".to_string()),
        status: Status::Doing,
        points: -3,
        estimate_hours: 2.5,
        archived: true,
        due_at: NaiveDate::from_ymd_opt(2026, 12, 24)
            .and_then(|d| d.and_hms_opt(18, 30, 5))
            .expect("a valid timestamp"),
        attachment: Some(vec![0, 159, 146, 150, 255]),
    }
}

/// Migrates the SQLite file at `path` with qvdiff, checks it against the models, then writes a
/// project and a task with Diesel and reads the task back. Returns what it did, one line each.
pub fn run(path: &Path) -> AppResult<Vec<String>> {
    let mut log = Vec::new();
    let migrator = Migrator::new(MIGRATIONS)?;
    let mut conn = rusqlite::Connection::open(path)?;
    let report = migrator.upgrade(&mut conn)?;
    for step in &report.steps {
        log.push(format!("applied {} {}", step.revision, step.message));
    }
    let differences = migrator.verify_models(&mut conn, &tables())?;
    if !differences.is_empty() {
        return Err(format!(
            "the database does not match the models: {}",
            differences.join("; ")
        )
        .into());
    }
    drop(conn);
    log.push("the database matches the models".to_string());

    let url = path.to_str().ok_or("the database path is not UTF-8")?;
    let mut db = SqliteConnection::establish(url)?;
    let project = Project {
        id: 1,
        name: "Launch".to_string(),
    };
    diesel::insert_or_ignore_into(schema::projects::table)
        .values(&project)
        .execute(&mut db)?;
    let task = sample_task(1, project.id);
    diesel::insert_or_ignore_into(schema::tasks::table)
        .values(&task)
        .execute(&mut db)?;
    let read: Task = schema::tasks::table
        .find(task.id)
        .select(Task::as_select())
        .first(&mut db)?;
    if read != task {
        return Err(format!("read back {read:?}, wrote {task:?}").into());
    }
    log.push(format!("round trip of task {} ok", task.id));
    Ok(log)
}
