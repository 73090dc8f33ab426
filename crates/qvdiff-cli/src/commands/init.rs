//! `qvdiff init`: write `qvdiff.toml` and `migrations/`.

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
    std::fs::create_dir_all(&migrations).map_err(|e| io_error("create", &migrations, e))?;
    write_atomic(&config, DEFAULT_CONFIG.as_bytes(), true)?;
    console.info(&format!("Created {CONFIG_FILE} and migrations/"));
    console.info("Next: point `models` at your #[derive(Model)] structs, then run `qvdiff migrate -m \"initial\"`.");
    Ok(())
}
