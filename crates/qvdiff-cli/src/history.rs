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
use qvdiff_core::summary::recorded_fingerprint;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// A migration read from its file, with whether qvdiff generated it (fingerprint line present).
type MarkedMigration = (Migration, bool);

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
        let (parsed, unparsed) = self.read_marked_files()?;
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
        self.refuse_other_dialect(&parsed)?;
        let parsed = parsed.into_iter().map(|(m, _)| m).collect();
        Ok(History {
            dialect: self.dialect,
            dir: self.path.clone(),
            migrations: self.link(parsed)?,
        })
    }

    /// Refuses a history whose generated files are the other dialect's SQL (a SQLite project
    /// switched to `dialect = "postgres"` over its SQLite files): every later message would
    /// be about SQL that fails or types that differ, never about the cause. Judged by the
    /// first generated file (`marked`: it carries qvdiff's fingerprint) that creates a table,
    /// from the column types qvdiff's renderers write (SQLite `INTEGER`, PostgreSQL `bigint`).
    fn refuse_other_dialect(&self, marked: &[MarkedMigration]) -> CliResult<()> {
        let Some((migration, written_for)) = marked
            .iter()
            .filter(|(_, generated)| *generated)
            .find_map(|(m, _)| written_for(&m.file.up).map(|d| (m, d)))
        else {
            return Ok(());
        };
        if written_for == self.dialect {
            return Ok(());
        }
        let folder = self.shown();
        let error = CliError::new(format!(
            "the migrations in {folder} are {} SQL ({} creates its tables with {}'s types), but \
             the project's dialect is {} (dialect = \"{}\" in qvdiff.toml)",
            written_for.display_name(),
            migration.path,
            written_for.display_name(),
            self.dialect.display_name(),
            self.dialect.name()
        ));
        Err(match written_for {
            DialectKind::Sqlite => error.with_hint(format!(
                "a history is SQL of one dialect: keep dialect = \"sqlite\" for {folder}, keep \
                 a PostgreSQL history beside it ([postgres] migrations = \"migrations/postgres\" \
                 in qvdiff.toml; README: \"Moving an app from SQLite to PostgreSQL\") and copy \
                 the data with `qvdiff port --from sqlite://… --to postgres://…`"
            )),
            DialectKind::Postgres => error.with_hint(format!(
                "a history is SQL of one dialect: set dialect = \"postgres\" for {folder}, or \
                 point `migrations` at a folder of SQLite files"
            )),
        })
    }

    /// Every `*.sql` file of the folder in name order (a missing folder has none), each read
    /// and parsed: the migrations, and the files that do not parse. `load` refuses the latter;
    /// `lint` reports each as a finding.
    pub fn read_files(&self) -> CliResult<(Vec<Migration>, Vec<Unparsed>)> {
        let (parsed, unparsed) = self.read_marked_files()?;
        Ok((parsed.into_iter().map(|(m, _)| m).collect(), unparsed))
    }

    /// [`HistoryDir::read_files`], each migration with whether qvdiff generated it (its
    /// fingerprint line is there).
    fn read_marked_files(&self) -> CliResult<(Vec<MarkedMigration>, Vec<Unparsed>)> {
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
                Ok(m) => parsed.push((m, recorded_fingerprint(&text).is_some())),
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

/// The dialect whose SQL `up` is, judged by the column types of its first `CREATE TABLE` as
/// qvdiff's renderers write them (`"id" INTEGER` for SQLite, `"id" bigint` for PostgreSQL);
/// `None` when it creates no table or its types say neither (types of the models' own,
/// `sql_type = "…"`, are left out).
fn written_for(up: &str) -> Option<DialectKind> {
    const SQLITE: [&str; 12] = [
        "INTEGER", "REAL", "TEXT", "VARCHAR", "BOOLEAN", "DATETIME", "DATE", "TIME", "CHAR",
        "JSON", "NUMERIC", "BLOB",
    ];
    const POSTGRES: [&str; 16] = [
        "bigint",
        "integer",
        "smallint",
        "double",
        "real",
        "text",
        "varchar",
        "boolean",
        "timestamp",
        "timestamptz",
        "date",
        "time",
        "uuid",
        "jsonb",
        "numeric",
        "bytea",
    ];
    let mut lines = up.lines().skip_while(|l| !l.starts_with("CREATE TABLE "));
    lines.next()?;
    let (mut sqlite, mut postgres) = (0, 0);
    for line in lines.take_while(|l| !l.starts_with(')')) {
        let Some(rest) = line.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some((_, after_name)) = rest.split_once("\" ") else {
            continue;
        };
        let word: String = after_name
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        sqlite += usize::from(SQLITE.contains(&word.as_str()));
        postgres += usize::from(POSTGRES.contains(&word.as_str()));
    }
    match (sqlite, postgres) {
        (0, 0) => None,
        (_, 0) => Some(DialectKind::Sqlite),
        (0, _) => Some(DialectKind::Postgres),
        _ => None,
    }
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
    fn only_generated_files_of_the_other_dialect_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite_up = "CREATE TABLE \"t\" (\n    \"id\" INTEGER NOT NULL PRIMARY KEY,\n    \
                         \"name\" TEXT\n);\n";
        let file = MigrationFile {
            revision: "r1".into(),
            parents: Vec::new(),
            message: "first".into(),
            up: sqlite_up.into(),
            down: "DROP TABLE \"t\";\n".into(),
        };
        let path = dir.path().join(file.file_name());
        let postgres = HistoryDir {
            dialect: DialectKind::Postgres,
            path: dir.path().to_path_buf(),
        };
        // Hand-written in upper case: PostgreSQL's as much as SQLite's, so not judged.
        std::fs::write(&path, file.render()).unwrap();
        assert!(postgres.load().is_ok());
        // Generated (fingerprinted) with SQLite's types: the other dialect's history.
        let generated = file.render().replace(
            "-- qvdiff:up",
            &format!(
                "-- {}\n-- qvdiff:up",
                qvdiff_core::summary::fingerprint_note(&file.up, &file.down)
            ),
        );
        std::fs::write(&path, generated).unwrap();
        let err = postgres.load().unwrap_err();
        assert!(err.message.contains("are SQLite SQL"), "{}", err.message);
        let sqlite = HistoryDir {
            dialect: DialectKind::Sqlite,
            ..postgres
        };
        assert!(sqlite.load().is_ok());
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
