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
                let sources = read_sources(paths)?;
                let cache = capture_cache_entry(&sources);
                if let Some(schema) = cache.as_deref().and_then(load_capture) {
                    return Ok(schema);
                }
                let tables = scan_sources(&sources)?;
                let schema = Schema {
                    tables: tables.into_iter().map(|c| c.table).collect(),
                    ..Schema::default()
                }
                .normalized();
                if let Some(entry) = cache {
                    store_capture(&entry, &schema);
                }
                Ok(schema)
            }
        }
    }
}

/// Scans every `.rs` file under `paths` for models; all errors of all files are reported at once,
/// then the cross-model checks (duplicate tables, foreign keys) run over the whole set.
pub fn scan_paths(paths: &[PathBuf]) -> CliResult<Vec<CapturedTable>> {
    scan_sources(&read_sources(paths)?)
}

/// Every `.rs` file under `paths`, sorted, with its text.
fn read_sources(paths: &[PathBuf]) -> CliResult<Vec<(PathBuf, String)>> {
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
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|e| io_error("read", &file, e))?;
            Ok((file, text))
        })
        .collect()
}

fn scan_sources(sources: &[(PathBuf, String)]) -> CliResult<Vec<CapturedTable>> {
    let mut tables = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for (file, text) in sources {
        let out = qvdiff_capture::scan_source(&display_path(file), text);
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

/// Where the captured schema of exactly these sources is cached (see [`crate::cache`]): parsing
/// a thousand models with syn is most of a `check`, and the result depends only on the texts.
/// The key hashes each file's path and text (the 64-bit std hasher: hashing is on every run,
/// and a collision between two versions of one project's models is not a practical concern)
/// with the qvdiff build. Only successful captures are stored; errors are always re-reported.
fn capture_cache_entry(sources: &[(PathBuf, String)]) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let dir = crate::cache::dir()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    crate::cache::build_identity()?.hash(&mut hasher);
    for (file, text) in sources {
        file.hash(&mut hasher);
        text.hash(&mut hasher);
    }
    Some(dir.join(format!("capture-{:016x}.json", hasher.finish())))
}

fn load_capture(entry: &Path) -> Option<Schema> {
    let text = std::fs::read_to_string(entry).ok()?;
    let tables: Vec<qvdiff_core::Table> = serde_json::from_str(&text).ok()?;
    crate::cache::touch(entry);
    Some(Schema {
        tables,
        ..Schema::default()
    })
}

fn store_capture(entry: &Path, schema: &Schema) {
    let Some(dir) = entry.parent() else {
        return;
    };
    let Ok(json) = serde_json::to_vec(&schema.tables) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_ok() && crate::cache::write_atomically(entry, &json) {
        crate::cache::evict(dir, "capture-", &[]);
    }
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
