//! `qvdiff backup`, `backups`, `restore`: consistent copies of a live SQLite database.

use crate::cli::RestoreArgs;
use crate::config::Config;
use crate::db_url;
use crate::error::{CliError, CliResult};
use crate::models::display_path;
use crate::output::Console;
use qvdiff_sqlite::backup;
use std::io::Write;

fn backup_error(e: backup::BackupError) -> CliError {
    CliError::new(e.to_string())
}

fn db_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `qvdiff backup`: an online backup now.
pub fn backup(config: &Config, db_flag: Option<&str>, console: &Console) -> CliResult<()> {
    let target = db_url::resolve(config, db_flag)?;
    if !target.path.is_file() {
        return Err(CliError::new(format!(
            "database {} does not exist (from {}); there is nothing to back up",
            display_path(&target.path),
            target.source
        ))
        .with_hint("check the URL; `qvdiff upgrade` creates the database"));
    }
    let path = backup::backup_file(&target.path, &config.backup_dir, config.backup_keep)
        .map_err(backup_error)?;
    console.info(&format!(
        "Backed up {} to {}",
        display_path(&target.path),
        display_path(&path)
    ));
    Ok(())
}

/// `qvdiff backups`: the backups of the database, newest first.
pub fn backups(config: &Config, db_flag: Option<&str>) -> CliResult<()> {
    let target = db_url::resolve(config, db_flag)?;
    let list =
        backup::list_backups(&config.backup_dir, &db_name(&target.path)).map_err(backup_error)?;
    let mut out = String::new();
    for info in &list {
        out.push_str(&format!(
            "{}  {:>10}  {}  {}\n",
            info.created,
            human_size(info.size),
            info.revision,
            display_path(&info.path)
        ));
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}

/// `qvdiff restore [FILE|latest]`.
pub fn restore(
    config: &Config,
    args: &RestoreArgs,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<()> {
    let target = db_url::resolve(config, db_flag)?;
    let file = backup::find_backup(
        &config.backup_dir,
        &db_name(&target.path),
        args.backup.as_deref(),
    )
    .map_err(backup_error)?;
    let report = backup::restore(&target.path, &file, &config.backup_dir, config.backup_keep)
        .map_err(backup_error)?;
    console.info(&format!(
        "Restored {} from {} (the state before is saved in {})",
        display_path(&target.path),
        display_path(&report.restored_from),
        display_path(&report.previous_state_backup)
    ));
    Ok(())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
