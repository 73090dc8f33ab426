//! `with-diesel [PATH]`: migrate the SQLite file with qvdiff, check it against the models, and
//! round-trip a task with Diesel. The path defaults to `instance/app.db`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "instance/app.db".to_string()),
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match with_diesel::run(&path) {
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
