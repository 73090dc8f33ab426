//! `qvdiff manifest`: the wanted schema as stable JSON.

use crate::cli::ManifestArgs;
use crate::config::Config;
use crate::error::CliResult;
use crate::fsutil::write_atomic;
use crate::models::ModelSource;
use crate::output::Console;
use std::io::Write;

/// Prints (or writes) the manifest of the models.
pub fn run(config: &Config, args: &ManifestArgs, console: &Console) -> CliResult<()> {
    let schema = ModelSource::choose(config, args.manifest.as_deref()).load()?;
    let tables = schema.tables.len();
    let json = qvdiff_core::manifest::into_json(schema);
    match &args.output {
        Some(path) => {
            write_atomic(path, json.as_bytes(), false)?;
            console.info(&format!("Wrote {tables} tables to {}", path.display()));
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`qvdiff manifest | head`) is not an error worth reporting.
            let _ = out.write_all(json.as_bytes());
        }
    }
    Ok(())
}
