//! The project's migration histories: where each lives ([`HistoryDir`]: a folder of one
//! dialect's SQL files), and a history read from it ([`History`]: the files parsed strictly
//! and linked into the core's revision graph). `qvdiff.toml` ([`Config`]) only says where the
//! folders are; a command that works on migrations takes the [`History`] it reads.

use crate::config::{Config, DialectKind};
use crate::db_url::{resolve_database, Database};
use crate::error::{io_error, CliError, CliResult};
use crate::models::display_path;
use qvdiff_core::migration::{sanitize_message, FormatError, MigrationFile};
use qvdiff_core::runner::{Migration, Migrations};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Where one of the project's histories lives, before anything is read: the folder of its
/// migration files and the dialect their SQL is written in. A project keeps one (`migrations`,
/// in `dialect`), and a SQLite project may keep a PostgreSQL one beside it
/// (`[postgres] migrations`): `migrate` writes both with one revision id, and `postgres://`
/// URLs use the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryDir {
    /// The dialect of its SQL (and of every database it runs on).
    pub dialect: DialectKind,
    /// The folder of its files.
    pub path: PathBuf,
}

impl HistoryDir {
    /// The project's own history: `migrations`, in `dialect`.
    pub fn project(config: &Config) -> HistoryDir {
        HistoryDir {
            dialect: config.dialect,
            path: config.migrations.clone(),
        }
    }

    /// The history the project keeps in `dialect`, or `None` when it keeps none there.
    pub fn in_dialect(config: &Config, dialect: DialectKind) -> Option<HistoryDir> {
        if dialect == config.dialect {
            return Some(HistoryDir::project(config));
        }
        match (dialect, &config.postgres_migrations) {
            (DialectKind::Postgres, Some(path)) => Some(HistoryDir {
                dialect,
                path: path.clone(),
            }),
            _ => None,
        }
    }

    /// Every history the project keeps: its own dialect's first.
    pub fn all(config: &Config) -> Vec<HistoryDir> {
        let mut all = vec![HistoryDir::project(config)];
        all.extend(
            HistoryDir::in_dialect(config, DialectKind::Postgres)
                .filter(|_| config.dialect != DialectKind::Postgres),
        );
        all
    }

    /// Reads the history: every `*.sql` file of the folder ([`HistoryDir::read_files`]; a
    /// missing folder is an empty history). Every malformed file is reported, each naming its
    /// path and line; then the graph is checked ([`HistoryDir::link`]).
    pub fn load(&self) -> CliResult<History> {
        let (parsed, unparsed) = self.read_files()?;
        if !unparsed.is_empty() {
            let n = unparsed.len();
            return Err(CliError::new(format!(
                "{n} malformed migration file{}",
                if n == 1 { "" } else { "s" }
            ))
            .with_details(
                unparsed
                    .iter()
                    .map(|u| format!("{}:{}: {}", u.path, u.error.line, u.error.message)),
            )
            .with_hint("fix the file by hand, or remove it if it was never applied anywhere"));
        }
        Ok(History {
            dialect: self.dialect,
            dir: self.path.clone(),
            migrations: self.link(parsed)?,
        })
    }

    /// Every `*.sql` file of the folder in name order (a missing folder has none), each read
    /// and parsed: the migrations, and the files that do not parse. `load` refuses the latter;
    /// `lint` reports each as a finding.
    pub fn read_files(&self) -> CliResult<(Vec<Migration>, Vec<Unparsed>)> {
        let dir = &self.path;
        let mut paths = Vec::new();
        if dir.exists() {
            let entries = std::fs::read_dir(dir).map_err(|e| io_error("read directory", dir, e))?;
            for entry in entries {
                let path = entry
                    .map_err(|e| io_error("read directory", dir, e))?
                    .path();
                if path.extension().is_some_and(|e| e == "sql") && path.is_file() {
                    paths.push(path);
                }
            }
        }
        paths.sort();
        let mut parsed = Vec::new();
        let mut unparsed = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| io_error("read", &path, e))?;
            let shown = display_path(&path);
            match Migration::from_text(&text, shown.clone()) {
                Ok(m) => parsed.push(m),
                Err(error) => unparsed.push(Unparsed {
                    path: shown,
                    text,
                    error,
                }),
            }
        }
        Ok((parsed, unparsed))
    }

    /// Links migrations read from this folder into one revision graph; every duplicate id,
    /// unknown parent and cycle is reported at once.
    pub fn link(&self, migrations: Vec<Migration>) -> CliResult<Migrations> {
        Migrations::new(migrations).map_err(|e| {
            CliError::new(format!(
                "the migrations in {} do not form a valid history",
                self.shown()
            ))
            .with_details(e.to_string().lines().map(str::to_string))
        })
    }

    /// This history among `read` (those a command has read already), else read now: a folder
    /// is read once per command.
    pub fn find_or_load<'a>(&self, read: &'a [History]) -> CliResult<Cow<'a, History>> {
        match read
            .iter()
            .find(|h| h.dialect == self.dialect && h.dir == self.path)
        {
            Some(history) => Ok(Cow::Borrowed(history)),
            None => self.load().map(Cow::Owned),
        }
    }

    /// The folder as messages show it.
    pub fn shown(&self) -> String {
        display_path(&self.path)
    }
}

/// A file of a history's folder that does not parse as a migration.
#[derive(Debug)]
pub struct Unparsed {
    /// Its path as messages show it.
    pub path: String,
    /// Its text.
    pub text: String,
    /// Why, and at which line.
    pub error: FormatError,
}

/// One history, read: its dialect and folder, and its files linked into the revision graph
/// ([`Migrations`]: the revisions by id, the graph, the baselines and what they replace), which
/// commands query directly.
#[derive(Debug, Clone)]
pub struct History {
    /// The dialect of its SQL.
    pub dialect: DialectKind,
    /// The folder its files were read from, and new files go to.
    pub dir: PathBuf,
    /// Its migrations.
    pub migrations: Migrations,
}

impl History {
    /// Every history the project keeps, read ([`HistoryDir::all`]): its own dialect's first.
    pub fn load_all(config: &Config) -> CliResult<Vec<History>> {
        HistoryDir::all(config)
            .iter()
            .map(HistoryDir::load)
            .collect()
    }

    /// The same folder and dialect holding only `migrations`: a part of this history (the
    /// chain below a revision being moved), or none of it (a baseline's empty start).
    pub fn with_migrations(&self, migrations: Migrations) -> History {
        History {
            dialect: self.dialect,
            dir: self.dir.clone(),
            migrations,
        }
    }

    /// Where `file` is (or is written) in this history.
    pub fn path_of(&self, file: &MigrationFile) -> PathBuf {
        self.dir.join(file.file_name())
    }

    /// Where a migration read from this history is: its file name in the folder.
    pub fn path_of_loaded(&self, migration: &Migration) -> PathBuf {
        self.dir
            .join(Path::new(&migration.path).file_name().unwrap_or_default())
    }

    /// The folder as messages show it.
    pub fn shown(&self) -> String {
        display_path(&self.dir)
    }
}

/// The database in effect and the history of its dialect, read ([`resolve_database`] then
/// [`HistoryDir::load`]): what every command that runs against one database starts from.
pub fn database_and_history(
    config: &Config,
    db_flag: Option<&str>,
) -> CliResult<(Database, History)> {
    let (dir, database) = resolve_database(config, db_flag)?;
    Ok((database, dir.load()?))
}

/// A new revision's `-m` message on one line; refused when nothing is left of it. `what` names
/// the revision (`migration`, `merge`), `example` is a message to suggest.
pub fn revision_message(raw: &str, what: &str, example: &str) -> CliResult<String> {
    let message = sanitize_message(raw);
    if message.is_empty() {
        return Err(CliError::new(format!("the {what} message is empty"))
            .with_hint(format!("pass -m \"{example}\"")));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(Path::new("/p/qvdiff.toml"), text).unwrap()
    }

    #[test]
    fn a_sqlite_project_keeps_its_postgres_history_second() {
        let both = config("migrations = \"m\"\n[postgres]\nmigrations = \"m/pg\"\n");
        let dirs = HistoryDir::all(&both);
        assert_eq!(
            dirs,
            vec![
                HistoryDir {
                    dialect: DialectKind::Sqlite,
                    path: PathBuf::from("/p/m"),
                },
                HistoryDir {
                    dialect: DialectKind::Postgres,
                    path: PathBuf::from("/p/m/pg"),
                },
            ]
        );
        assert_eq!(
            HistoryDir::in_dialect(&both, DialectKind::Postgres).as_ref(),
            dirs.get(1)
        );
        let sqlite_only = config("migrations = \"m\"\n");
        assert_eq!(HistoryDir::all(&sqlite_only).len(), 1);
        assert_eq!(
            HistoryDir::in_dialect(&sqlite_only, DialectKind::Postgres),
            None
        );
    }

    #[test]
    fn a_postgres_project_keeps_one_history() {
        // `[postgres] migrations` means a second history beside SQLite only.
        let pg = config("dialect = \"postgres\"\n[postgres]\nmigrations = \"other\"\n");
        assert_eq!(
            HistoryDir::all(&pg),
            vec![HistoryDir {
                dialect: DialectKind::Postgres,
                path: PathBuf::from("/p/migrations"),
            }]
        );
        assert_eq!(HistoryDir::in_dialect(&pg, DialectKind::Sqlite), None);
    }

    #[test]
    fn a_loaded_history_knows_its_folder_and_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let file = MigrationFile {
            revision: "r1".into(),
            parents: Vec::new(),
            message: "first".into(),
            up: "CREATE TABLE t (id INTEGER PRIMARY KEY);\n".into(),
            down: "DROP TABLE t;\n".into(),
        };
        std::fs::write(dir.path().join(file.file_name()), file.render()).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a migration").unwrap();
        let history = HistoryDir {
            dialect: DialectKind::Sqlite,
            path: dir.path().to_path_buf(),
        }
        .load()
        .unwrap();
        assert_eq!(history.migrations.graph().heads(), vec!["r1"]);
        let loaded = history.migrations.get("r1").unwrap();
        assert_eq!(
            history.path_of_loaded(loaded),
            dir.path().join(file.file_name())
        );
        assert_eq!(history.path_of(&file), dir.path().join(file.file_name()));
        let none = history.with_migrations(Migrations::new(Vec::new()).unwrap());
        assert!(none.migrations.is_empty());
        assert_eq!((none.dialect, &none.dir), (history.dialect, &history.dir));
        // A missing folder is an empty history, not an error.
        let missing = HistoryDir {
            dialect: DialectKind::Postgres,
            path: dir.path().join("absent"),
        };
        assert!(missing.load().unwrap().migrations.is_empty());
    }

    #[test]
    fn a_history_read_already_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = HistoryDir {
            dialect: DialectKind::Sqlite,
            path: dir.path().to_path_buf(),
        };
        let read = vec![sqlite.load().unwrap()];
        // A file written after the read is not seen: the history read before is the one used.
        std::fs::write(dir.path().join("x.sql"), "not a migration").unwrap();
        assert!(matches!(sqlite.find_or_load(&read), Ok(Cow::Borrowed(_))));
        // Another dialect's history over the same folder is read now (and refuses the file).
        let postgres = HistoryDir {
            dialect: DialectKind::Postgres,
            ..sqlite.clone()
        };
        let err = postgres.find_or_load(&read).unwrap_err();
        assert!(
            err.message.contains("1 malformed migration file"),
            "{}",
            err.message
        );
    }
}
