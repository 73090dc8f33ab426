//! `qvdiff erd [--format mermaid|dot] [--from models|migrations]`: an ER diagram of the whole
//! schema, with foreign keys as edges. `--db URL` draws the live database instead (read-only).

use crate::baseline;
use crate::cli::{ErdArgs, ErdFormat, ErdSource};
use crate::commands::lint::sqlite_type;
use crate::config::Config;
use crate::error::CliResult;
use crate::history::load_migrations;
use crate::models::ModelSource;
use crate::planning::dialect;
use qvdiff_core::erd::{dot, mermaid, Marks};
use qvdiff_core::Dialect;

/// Prints the diagram on standard output.
pub fn run(config: &Config, args: &ErdArgs, db_flag: Option<&str>) -> CliResult<()> {
    let schema = match (db_flag, args.from) {
        (Some(_), _) => {
            let target = crate::db_url::resolve(config, db_flag)?;
            baseline::live(&target)?.schema
        }
        (None, ErdSource::Migrations) => {
            baseline::recorded(&load_migrations(&config.migrations)?)?.schema
        }
        (None, ErdSource::Models) => dialect()
            .normalize(&ModelSource::choose(config, args.manifest.as_deref()).load()?)
            .without_hints(),
    };
    let text = match args.format {
        ErdFormat::Mermaid => mermaid(&schema, None, &Marks::default(), &sqlite_type),
        ErdFormat::Dot => dot(&schema, &sqlite_type),
    };
    print!("{text}");
    Ok(())
}
