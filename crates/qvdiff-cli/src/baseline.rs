//! The schema a new migration starts from: a live database's with `--db`, otherwise the one the
//! committed migrations produce. What each dialect does to get it is [`crate::dialects`]'s.

use crate::config::Config;
use crate::error::CliResult;
use crate::history::History;
use crate::output::Console;

pub use crate::dialects::Baseline;

/// The starting point of `migrate` and `diff` in `history`: the live database with `--db`,
/// otherwise the history's migrations replayed in memory.
pub fn choose(
    config: &Config,
    history: &History,
    db_flag: Option<&str>,
    console: &Console,
) -> CliResult<Baseline> {
    let mut base = match db_flag {
        Some(_) => {
            let (_, database) = crate::db_url::resolve_database(config, db_flag)?;
            console.detail(&format!(
                "reading the live schema of {} (read-only)",
                database.display()
            ));
            crate::dialects::live(&database)?
        }
        None => {
            console.detail(&format!(
                "replaying {} migration(s) in memory",
                history.migrations.len()
            ));
            crate::dialects::recorded(history, None)?
        }
    };
    base.server = crate::dialects::ProofServer::of(config, history.dialect, db_flag)?;
    console.detail(&format!(
        "the starting schema has {} table(s)",
        base.schema.tables.len()
    ));
    Ok(base)
}
