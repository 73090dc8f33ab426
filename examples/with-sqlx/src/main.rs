//! `with-sqlx [DATABASE_URL]`: migrate the database through the app's sqlx pool, check it
//! against the models, and round-trip a task. The URL defaults to `$DATABASE_URL`, then to
//! `sqlite://instance/app.db`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "sqlite://instance/app.db".to_string());
    if let Some(path) = url.strip_prefix("sqlite://") {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                let _ = std::fs::create_dir_all(dir);
            }
        }
    }
    match with_sqlx::run(&url).await {
        Ok(log) => {
            for line in log {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
