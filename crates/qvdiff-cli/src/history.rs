//! The migrations directory: every file parsed strictly and linked into a revision graph; the
//! history a command against one database reads, and a new revision's message.

use crate::config::Config;
use crate::db_url::{resolve_database, Database};
use crate::error::{io_error, CliError, CliResult};
use crate::models::display_path;
use qvdiff_core::migration::sanitize_message;
use qvdiff_core::runner::{Migration, Migrations};
use std::path::Path;

/// Reads every `*.sql` file of `dir` (a missing directory is an empty history). Every malformed
/// file is reported, each naming its path and line; then the graph is checked (duplicate ids,
/// unknown parents, cycles), all problems at once.
pub fn load_migrations(dir: &Path) -> CliResult<Migrations> {
    let mut paths = Vec::new();
    if dir.exists() {
        let entries = std::fs::read_dir(dir).map_err(|e| io_error("read directory", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error("read directory", dir, e))?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
                paths.push(path);
            }
        }
    }
    paths.sort();

    let mut errors = Vec::new();
    let mut loaded = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
        let shown = display_path(&path);
        match Migration::from_text(&text, shown.clone()) {
            Ok(m) => loaded.push(m),
            Err(e) => errors.push(format!("{shown}:{}: {}", e.line, e.message)),
        }
    }
    if !errors.is_empty() {
        let n = errors.len();
        return Err(CliError::new(format!(
            "{n} malformed migration file{}",
            if n == 1 { "" } else { "s" }
        ))
        .with_details(errors)
        .with_hint("fix the file by hand, or remove it if it was never applied anywhere"));
    }
    Migrations::new(loaded).map_err(|e| {
        CliError::new(format!(
            "the migrations in {} do not form a valid history",
            display_path(dir)
        ))
        .with_details(e.to_string().lines().map(str::to_string))
    })
}

/// The database in effect and the history of its dialect, read ([`resolve_database`] then
/// [`load_migrations`]): what every command that runs against one database starts from.
pub fn database_and_history(
    config: &Config,
    db_flag: Option<&str>,
) -> CliResult<(Config, Database, Migrations)> {
    let (view, database) = resolve_database(config, db_flag)?;
    let migrations = load_migrations(&view.migrations)?;
    Ok((view, database, migrations))
}

/// A new revision's `-m` message on one line; refused when nothing is left of it. `what` names
/// the revision (`migration`, `merge`), `example` is a message to suggest.
pub fn revision_message(raw: &str, what: &str, example: &str) -> CliResult<String> {
    let message = sanitize_message(raw);
    if message.is_empty() {
        return Err(CliError::new(format!("the {what} message is empty"))
            .with_hint(format!("pass -m \"{example}\"")));
    }
    Ok(message)
}
