//! `qvdiff init`: write `qvdiff.toml` and `migrations/`, and make git ignore the local database
//! and the backups folder.

use crate::config::{CONFIG_FILE, DEFAULT_CONFIG};
use crate::error::{io_error, CliError, CliResult};
use crate::fsutil::write_atomic;
use crate::output::Console;

/// Creates the config and the migrations directory in the current directory.
pub fn run(console: &Console) -> CliResult<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let config = cwd.join(CONFIG_FILE);
    if config.exists() {
        return Err(CliError::new(format!(
            "{} already exists; nothing was written",
            config.display()
        ))
        .with_hint("edit it by hand, or remove it first to start over"));
    }
    let migrations = cwd.join("migrations");
    if migrations.exists() && !migrations.is_dir() {
        return Err(CliError::new(format!(
            "{} exists and is not a directory; nothing was written",
            migrations.display()
        )));
    }
    let gitignore = cwd.join(".gitignore");
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_error("read", &gitignore, e)),
    };
    let ignored = with_ignored_lines(&existing);
    std::fs::create_dir_all(&migrations).map_err(|e| io_error("create", &migrations, e))?;
    if ignored != existing {
        write_atomic(&gitignore, ignored.as_bytes(), false)?;
    }
    write_atomic(&config, DEFAULT_CONFIG.as_bytes(), true)?;
    console.info(&format!("Created {CONFIG_FILE} and migrations/"));
    if ignored != existing {
        console.info("Added the database and the backups folder to .gitignore");
    }
    console.info("Next: point `models` at your #[derive(Model)] structs, then run `qvdiff migrate -m \"initial\"`.");
    Ok(())
}

/// What git must not track in a project made by `init`: the database `DEFAULT_CONFIG` names
/// (with SQLite's `-wal`, `-shm` and `-journal` files) and its backups folder.
const IGNORED: [&str; 3] = ["/instance/app.db", "/instance/app.db-*", "/backups/"];

/// `.gitignore` text with every [`IGNORED`] line that is not there yet appended. A line already
/// there counts whatever its leading and trailing `/` (`backups`, `backups/`, `/backups/`).
fn with_ignored_lines(existing: &str) -> String {
    let bare = |line: &str| line.trim().trim_matches('/').to_string();
    let present: Vec<String> = existing.lines().map(bare).collect();
    let missing: Vec<&str> = IGNORED
        .into_iter()
        .filter(|line| !present.contains(&bare(line)))
        .collect();
    if missing.is_empty() {
        return existing.to_string();
    }
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# qvdiff: the local database and upgrade's backups\n");
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    text
}
