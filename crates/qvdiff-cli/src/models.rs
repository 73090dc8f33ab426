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
                let memo = ItemMemo::for_paths(paths);
                let tables = scan_sources_with(&sources, memo.as_ref())?;
                if let Some(memo) = &memo {
                    memo.store();
                }
                if tables.is_empty() {
                    return Err(no_table_captured(paths, sources.len()));
                }
                Ok(Schema {
                    tables: tables.into_iter().map(|c| c.table).collect(),
                    ..Schema::default()
                }
                .normalized())
            }
        }
    }
}

/// The refusal when the model paths exist but hold no `#[derive(Model)]` struct: planning from
/// them would drop every table, which is never what a wrong `models` setting means.
fn no_table_captured(paths: &[PathBuf], files: usize) -> CliError {
    let shown: Vec<String> = paths.iter().map(|p| display_path(p)).collect();
    let why = if shown.is_empty() {
        "`models` in qvdiff.toml lists no file or folder".to_string()
    } else {
        format!(
            "no #[derive(Model)] struct in {} ({files} .rs file{} scanned)",
            shown.join(", "),
            if files == 1 { "" } else { "s" }
        )
    };
    CliError::new(format!(
        "the models capture no table: {why}; nothing was written"
    ))
    .with_hint(
        "set `models = [...]` in qvdiff.toml to the files or folders that hold your \
         #[derive(Model)] structs, e.g. `models = [\"src/models.rs\"]`",
    )
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
    scan_sources_with(sources, None)
}

fn scan_sources_with(
    sources: &[(PathBuf, String)],
    memo: Option<&ItemMemo>,
) -> CliResult<Vec<CapturedTable>> {
    let mut tables = Vec::new();
    let mut enums = Vec::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for (file, text) in sources {
        let memo = memo.map(|m| m as &dyn qvdiff_capture::CaptureMemo);
        let out = qvdiff_capture::scan_source_with(&display_path(file), text, memo);
        tables.extend(out.tables);
        enums.extend(out.enums);
        errors.extend(out.errors);
    }
    errors.extend(qvdiff_capture::resolve_enums(&mut tables, &enums));
    // In file order, whichever step found them.
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
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

/// The models captured from each top-level item of a project's sources in an earlier run (see
/// [`crate::cache`]), keyed by a hash of the item's text (the 64-bit std hasher: a collision
/// between two versions of one project's items is not a practical concern): after an edit, only
/// the items that changed are parsed again. It holds only the items syn had to parse (the quick
/// reader reads the common shape faster than the memo is loaded). One entry per project
/// and qvdiff build (`items-*.json`); it keeps the items of the latest run only, so it never
/// grows past the project. Only items that captured without an error are remembered, so errors
/// are always reported again.
struct ItemMemo {
    entry: PathBuf,
    known: std::collections::HashMap<u64, Vec<MemoTable>>,
    /// Items of this run found in `known`.
    recalled: std::sync::Mutex<std::collections::HashSet<u64>>,
    /// Items of this run captured anew.
    fresh: std::sync::Mutex<Vec<(u64, Vec<MemoTable>)>>,
}

/// One remembered model: its table, struct name, and position within its item.
type MemoTable = (qvdiff_core::Table, String, usize, usize);

impl ItemMemo {
    /// The memo of the project whose models are at `paths`, or `None` when caching is off.
    fn for_paths(paths: &[PathBuf]) -> Option<ItemMemo> {
        use std::hash::{Hash, Hasher};
        let dir = crate::cache::dir()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        crate::cache::build_identity()?.hash(&mut hasher);
        for path in paths {
            std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .hash(&mut hasher);
        }
        let entry = dir.join(format!("items-{:016x}.json", hasher.finish()));
        let known = std::fs::read(&entry)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<(u64, Vec<MemoTable>)>>(&bytes).ok())
            .unwrap_or_default()
            .into_iter()
            .collect();
        Some(ItemMemo {
            entry,
            known,
            recalled: Default::default(),
            fresh: Default::default(),
        })
    }

    fn key(text: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut hasher);
        hasher.finish()
    }

    /// Writes this run's items, when they differ from what was read.
    fn store(&self) {
        let (Ok(recalled), Ok(fresh)) = (self.recalled.lock(), self.fresh.lock()) else {
            return;
        };
        if fresh.is_empty() && recalled.len() == self.known.len() {
            crate::cache::touch(&self.entry);
            return;
        }
        let items: Vec<(&u64, &Vec<MemoTable>)> = self
            .known
            .iter()
            .filter(|(key, _)| recalled.contains(key))
            .chain(fresh.iter().map(|(key, tables)| (key, tables)))
            .collect();
        let (Some(dir), Ok(json)) = (self.entry.parent(), serde_json::to_vec(&items)) else {
            return;
        };
        if std::fs::create_dir_all(dir).is_ok()
            && crate::cache::write_atomically(&self.entry, &json)
        {
            crate::cache::evict(dir, "items-", &[]);
        }
    }
}

impl qvdiff_capture::CaptureMemo for ItemMemo {
    fn recall(&self, text: &str) -> Option<Vec<CapturedTable>> {
        let key = ItemMemo::key(text);
        let tables = self.known.get(&key)?;
        if let Ok(mut recalled) = self.recalled.lock() {
            recalled.insert(key);
        }
        Some(
            tables
                .iter()
                .map(|(table, struct_name, line, column)| CapturedTable {
                    table: table.clone(),
                    struct_name: struct_name.clone(),
                    file: String::new(),
                    line: *line,
                    column: *column,
                    enum_fields: Vec::new(),
                })
                .collect(),
        )
    }

    fn remember(&self, text: &str, tables: Vec<CapturedTable>) {
        let remembered = tables
            .into_iter()
            .map(|t| (t.table, t.struct_name, t.line, t.column))
            .collect();
        if let Ok(mut fresh) = self.fresh.lock() {
            fresh.push((ItemMemo::key(text), remembered));
        }
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
