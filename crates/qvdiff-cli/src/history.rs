//! The migrations directory: every file parsed strictly and linked into a revision graph.

use crate::error::{io_error, CliError, CliResult};
use crate::models::display_path;
use qvdiff_core::graph::{Node, RevisionGraph};
use qvdiff_core::migration::MigrationFile;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One migration file on disk.
#[derive(Debug, Clone)]
pub struct LoadedMigration {
    /// Where it is.
    pub path: PathBuf,
    /// Its parsed content.
    pub file: MigrationFile,
    /// Checksum of its bytes (stored in the ledger when applied).
    pub checksum: String,
}

/// All migrations of a project and the graph their parent links form.
#[derive(Debug)]
pub struct History {
    /// Migrations by revision id.
    pub migrations: BTreeMap<String, LoadedMigration>,
    /// The revision graph.
    pub graph: RevisionGraph,
}

impl History {
    /// Reads every `*.sql` file of `dir` (a missing directory is an empty history). Every
    /// malformed file is reported, each naming its path and line.
    pub fn load(dir: &Path) -> CliResult<History> {
        let mut paths = Vec::new();
        if dir.exists() {
            let entries = std::fs::read_dir(dir).map_err(|e| io_error("read directory", dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io_error("read directory", dir, e))?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
                    paths.push(path);
                }
            }
        }
        paths.sort();

        let mut errors = Vec::new();
        let mut loaded = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
            match MigrationFile::parse(&text) {
                Ok(file) => {
                    let checksum = MigrationFile::checksum(&text);
                    loaded.push(LoadedMigration { path, file, checksum });
                }
                Err(e) => errors.push(format!("{}:{}: {}", display_path(&path), e.line, e.message)),
            }
        }
        if !errors.is_empty() {
            return Err(malformed(errors));
        }

        let nodes = loaded
            .iter()
            .map(|m| Node {
                revision: m.file.revision.clone(),
                parents: m.file.parents.clone(),
                file: display_path(&m.path),
            })
            .collect();
        let graph = RevisionGraph::build(nodes).map_err(|e| {
            CliError::new(format!("the migrations in {} do not form a valid history", display_path(dir)))
                .with_details([e.to_string()])
        })?;
        let migrations = loaded.into_iter().map(|m| (m.file.revision.clone(), m)).collect();
        Ok(History { migrations, graph })
    }

    /// Migrations in apply order (parents before children).
    pub fn in_order(&self) -> Vec<&LoadedMigration> {
        self.graph.topo_order().into_iter().filter_map(|rev| self.migrations.get(rev)).collect()
    }

    /// Whether there are no migrations yet.
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }
}

fn malformed(errors: Vec<String>) -> CliError {
    let n = errors.len();
    CliError::new(format!("{n} malformed migration file{}", if n == 1 { "" } else { "s" }))
        .with_details(errors)
        .with_hint("fix the file by hand, or remove it if it was never applied anywhere")
}
