//! Reading the wanted schema: scan the model sources of `qvdiff.toml`, or read a manifest file.

use crate::config::Config;
use crate::error::{io_error, CliError, CliResult};
use qvdiff_capture::{CapturedTable, Diagnostic};
use qvdiff_core::Schema;
use std::path::{Path, PathBuf};

/// Where the wanted schema comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// Scan these source paths (files or directories).
    Sources(Vec<PathBuf>),
    /// Read this manifest JSON file.
    Manifest(PathBuf),
}

impl ModelSource {
    /// `--manifest FILE` when given, otherwise the config's `models` paths.
    pub fn choose(config: &Config, manifest: Option<&Path>) -> ModelSource {
        match manifest {
            Some(m) => ModelSource::Manifest(m.to_path_buf()),
            None => ModelSource::Sources(config.models.clone()),
        }
    }

    /// Loads and validates the wanted schema (normalized, with migration hints).
    pub fn load(&self) -> CliResult<Schema> {
        match self {
            ModelSource::Manifest(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| io_error("read manifest", path, e))?;
                qvdiff_core::manifest::from_json(&text).map_err(|e| {
                    CliError::new(format!(
                        "{}:{}:{}: {}",
                        display_path(path),
                        e.line,
                        e.column,
                        e.message
                    ))
                })
            }
            ModelSource::Sources(paths) => {
                let tables = scan_paths(paths)?;
                let schema = Schema {
                    tables: tables.into_iter().map(|c| c.table).collect(),
                    ..Schema::default()
                };
                Ok(schema.normalized())
            }
        }
    }
}

/// Scans every `.rs` file under `paths` for models; all errors of all files are reported at once,
/// then the cross-model checks (duplicate tables, foreign keys) run over the whole set.
pub fn scan_paths(paths: &[PathBuf]) -> CliResult<Vec<CapturedTable>> {
    let mut files = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(
                CliError::new(format!("model path {} does not exist", display_path(p)))
                    .with_hint("fix `models` in qvdiff.toml"),
            );
        }
        collect_rust_files(p, &mut files)?;
    }
    files.sort();
    files.dedup();

    let mut tables = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(|e| io_error("read", file, e))?;
        let out = qvdiff_capture::scan_source(&display_path(file), &text);
        tables.extend(out.tables);
        errors.extend(out.errors);
    }
    if errors.is_empty() {
        errors = qvdiff_capture::validate(&tables);
    }
    if !errors.is_empty() {
        let n = errors.len();
        return Err(CliError::new(format!(
            "{n} error{} in the model sources; nothing was written",
            if n == 1 { "" } else { "s" }
        ))
        .with_details(errors.iter().map(|d| d.to_string())));
    }
    Ok(tables)
}

fn collect_rust_files(path: &Path, out: &mut Vec<PathBuf>) -> CliResult<()> {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| io_error("read directory", path, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error("read directory", path, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Build output and hidden directories never hold models.
        if name.starts_with('.') || name == "target" {
            continue;
        }
        collect_rust_files(&entry.path(), out)?;
    }
    Ok(())
}

/// A path as shown to people: relative to the current directory when it is below it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    let s = shown.display().to_string();
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}
