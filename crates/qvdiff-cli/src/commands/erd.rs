//! `qvdiff erd [--format mermaid|dot] [--from models|migrations]`: an ER diagram of the whole
//! schema, with foreign keys as edges. `--db URL` draws the live database instead (read-only).

use crate::cli::{ErdArgs, ErdFormat, ErdSource};
use crate::config::Config;
use crate::dialects;
use crate::error::CliResult;
use crate::history::HistoryDir;
use crate::models::ModelSource;
use qvdiff_core::erd::{dot, mermaid, Marks};

/// Prints the diagram on standard output.
pub fn run(config: &Config, args: &ErdArgs, db_flag: Option<&str>) -> CliResult<()> {
    let schema = match (db_flag, args.from) {
        (Some(_), _) => {
            let (_, database) = crate::db_url::resolve_database(config, db_flag)?;
            dialects::live(&database)?.schema
        }
        (None, ErdSource::Migrations) => {
            let history = HistoryDir::project(config).load()?;
            let schema = dialects::recorded(&history, None)?.schema;
            match dialects::comments_for_history(config, args.manifest.as_deref()) {
                Some(models) => schema.with_comments_from(&models),
                None => schema,
            }
        }
        (None, ErdSource::Models) => {
            let models = ModelSource::choose(config, args.manifest.as_deref()).load()?;
            // A dialect that stores no comments (SQLite) normalizes them away; the models'
            // diagram shows them all the same.
            dialects::planner(config, config.dialect)
                .normalize(&models)
                .without_hints()
                .with_comments_from(&models)
        }
    };
    let type_name = |ty: &qvdiff_core::ColumnType| dialects::type_name(config, ty);
    let text = match args.format {
        ErdFormat::Mermaid => mermaid(&schema, None, &Marks::default(), &type_name),
        ErdFormat::Dot => dot(&schema, &type_name),
    };
    print!("{text}");
    Ok(())
}
