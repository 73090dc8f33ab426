//! `qvdiff backup`, `backups`, `restore`: consistent copies of a live SQLite database.

use crate::cli::RestoreArgs;
use crate::config::Config;
use crate::db_url;
use crate::dialects::backup;
use crate::error::{CliError, CliResult};
use crate::history::HistoryDir;
use crate::models::display_path;
use crate::output::Console;
use crate::prompt::Prompter;
use qvdiff_core::graph::Target;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

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

/// `qvdiff restore [FILE|latest] [--revision REV] [--yes]`: says which backup it restores
/// (revision, time, size), asks on a terminal, then restores and names the rows the database
/// held that the backup does not.
pub fn restore(
    config: &Config,
    args: &RestoreArgs,
    db_flag: Option<&str>,
    prompter: &Prompter,
    console: &Console,
) -> CliResult<()> {
    let target = db_url::resolve(config, db_flag)?;
    let db_name = db_name(&target.path);
    let file = match &args.revision {
        Some(rev) => backup_before(config, &db_name, rev)?,
        None => backup::find_backup(&config.backup_dir, &db_name, args.backup.as_deref())
            .map_err(backup_error)?,
    };
    let info = backup::describe_backup(&file, &db_name).map_err(backup_error)?;
    let described = format!(
        "Backup {}: revision {}, taken {}, {}",
        display_path(&info.path),
        info.revision,
        info.created,
        human_size(info.size)
    );
    let ask = !args.yes && std::io::stdin().is_terminal() && prompter.enabled();
    if ask {
        console.info(&described);
        let question = format!(
            "Restore {} from this backup (its current state is backed up first)?",
            display_path(&target.path)
        );
        if !prompter.confirm(&question) {
            console.info("Nothing was restored.");
            return Ok(());
        }
    }
    let report = backup::restore(&target.path, &file, &config.backup_dir, config.backup_keep)
        .map_err(backup_error)?;
    if !ask {
        // Said after the restore, so a refusal (another writer) prints the error alone.
        console.info(&described);
    }
    console.info(&format!(
        "Restored {} from {} (the state before is saved in {})",
        display_path(&target.path),
        display_path(&report.restored_from),
        display_path(&report.previous_state_backup)
    ));
    for lost in &report.discarded {
        console.warn(&format!(
            "table {}: {} row(s) were in the database and are not in the restored one; they are \
             kept in {}",
            lost.table,
            lost.rows,
            display_path(&report.previous_state_backup)
        ));
    }
    Ok(())
}

/// The newest backup of `db_name` taken before revision `rev` was applied: one whose database
/// was at a state that does not include `rev` (its recorded heads are neither `rev` nor its
/// descendants).
fn backup_before(config: &Config, db_name: &str, rev: &str) -> CliResult<PathBuf> {
    let history = HistoryDir::project(config).load()?;
    let graph = history.migrations.graph();
    let rev = match graph.resolve(rev) {
        Ok(Target::Revision(full)) => full,
        Ok(_) => {
            return Err(
                CliError::new(format!("--revision {rev} names no single revision"))
                    .with_hint("give the revision id (or a unique prefix) whose backup you want"),
            )
        }
        Err(e) => {
            return Err(CliError::new(format!(
                "--revision {rev} (in {}): {e}",
                history.shown()
            )))
        }
    };
    let includes_rev = |label: &str| -> Option<bool> {
        if label == "base" {
            return Some(false);
        }
        let mut includes = false;
        for head in label.split('+') {
            if !graph.contains(head) {
                // A label the graph does not know (`unknown`, a revision whose file is gone)
                // cannot be judged: such a backup is never picked.
                return None;
            }
            includes |= graph.ancestors(head).contains(&rev);
        }
        Some(includes)
    };
    backup::list_backups(&config.backup_dir, db_name)
        .map_err(backup_error)?
        .into_iter()
        .find(|info| includes_rev(&info.revision) == Some(false))
        .map(|info| info.path)
        .ok_or_else(|| {
            CliError::new(format!(
                "no backup of {db_name} in {} was taken before revision {rev} was applied",
                display_path(&config.backup_dir)
            ))
            .with_hint("`qvdiff backups` lists the backups and the revision each was at")
        })
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
