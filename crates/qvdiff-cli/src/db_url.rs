//! Database URLs: `sqlite://PATH` or a bare path. `sqlite:///srv/app.db` is absolute;
//! `sqlite://app.db` and bare relative paths are relative to the directory of `qvdiff.toml`.
//! `postgres://user@host:port/db` (or `postgresql://`) names a PostgreSQL database.
//! Precedence: `--db`, then `DATABASE_URL`, then `database` in `qvdiff.toml`.

use crate::config::{Config, DialectKind};
use crate::error::{CliError, CliResult};
use crate::history::HistoryDir;
use std::path::{Path, PathBuf};

/// Where a database URL came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// The `--db` option.
    Flag,
    /// The `DATABASE_URL` environment variable.
    Env,
    /// `database` in qvdiff.toml.
    Config,
    /// `qvdiff port --from`.
    PortFrom,
    /// `qvdiff port --to`.
    PortTo,
}

impl std::fmt::Display for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlSource::Flag => "--db",
            UrlSource::Env => "DATABASE_URL",
            UrlSource::Config => "`database` in qvdiff.toml",
            UrlSource::PortFrom => "--from",
            UrlSource::PortTo => "--to",
        })
    }
}

/// A resolved SQLite database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseTarget {
    /// The database file.
    pub path: PathBuf,
    /// The URL as given.
    pub url: String,
    /// Where it came from.
    pub source: UrlSource,
}

impl DatabaseTarget {
    /// Refuses a database file that does not exist (only `upgrade` creates one).
    pub fn require_existing(&self) -> CliResult<()> {
        if self.path.is_file() {
            return Ok(());
        }
        Err(CliError::new(format!(
            "database {} does not exist (from {})",
            crate::models::display_path(&self.path),
            self.source
        ))
        .with_hint("check the URL; `qvdiff upgrade` creates the database"))
    }
}

/// A PostgreSQL database location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    /// The URL as given (it may hold a password: show [`PostgresTarget::display`] instead).
    pub url: String,
    /// Where it came from.
    pub source: UrlSource,
    /// The schema the project's tables and ledger live in (`[postgres] schema`); `None`: the
    /// first schema of the connection's `search_path` (normally `public`).
    pub schema: Option<String>,
}

impl PostgresTarget {
    /// The URL without its password, for messages.
    pub fn display(&self) -> String {
        crate::dialects::redact_url(&self.url)
    }
}

/// A database of either dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(DatabaseTarget),
    /// A PostgreSQL database.
    Postgres(PostgresTarget),
}

impl Database {
    /// The dialect the URL names.
    pub fn dialect(&self) -> DialectKind {
        match self {
            Database::Sqlite(_) => DialectKind::Sqlite,
            Database::Postgres(_) => DialectKind::Postgres,
        }
    }

    /// The database for messages: a path relative to the working directory, or a URL without
    /// its password.
    pub fn display(&self) -> String {
        match self {
            Database::Sqlite(target) => crate::models::display_path(&target.path),
            Database::Postgres(target) => target.display(),
        }
    }

    /// The database file, for what only files have (backups, creating a missing database).
    pub fn file(&self) -> Option<&DatabaseTarget> {
        match self {
            Database::Sqlite(target) => Some(target),
            Database::Postgres(_) => None,
        }
    }

    /// Whether there is a database to open: a file that exists, or any server database (the
    /// server says whether it exists when connected to).
    pub fn exists(&self) -> bool {
        match self {
            Database::Sqlite(target) => target.path.is_file(),
            Database::Postgres(_) => true,
        }
    }

    /// Where the URL came from.
    pub fn source(&self) -> UrlSource {
        match self {
            Database::Sqlite(target) => target.source,
            Database::Postgres(target) => target.source,
        }
    }
}

/// Whether a URL names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A URL as a [`Database`] of either dialect, relative SQLite paths taken from the config's
/// directory. No check against the project's dialect (see [`resolve_database`]).
pub fn parse_database(url: &str, source: UrlSource, config: &Config) -> CliResult<Database> {
    if is_postgres_url(url) {
        return Ok(Database::Postgres(PostgresTarget {
            url: url.to_string(),
            source,
            schema: config.postgres_schema.clone(),
        }));
    }
    let path = parse_sqlite_url(url, &config.root).map_err(|why| {
        CliError::new(format!("{source} = \"{url}\": {why}")).with_hint(
            "use sqlite://relative/path.db, sqlite:///absolute/path.db, a plain file path, or \
             postgres://user@host/database",
        )
    })?;
    if path.is_dir() {
        return Err(CliError::new(format!(
            "database {} is a directory, not a SQLite file (from {source})",
            crate::models::display_path(&path)
        ))
        .with_hint(format!(
            "name the database file, e.g. {}/app.db",
            url.trim_end_matches('/')
        )));
    }
    Ok(Database::Sqlite(DatabaseTarget {
        path,
        url: url.to_string(),
        source,
    }))
}

/// The database in effect, and the history of its dialect ([`HistoryDir::in_dialect`], not
/// read yet): migration files are SQL of one dialect, so a URL of a dialect the project keeps
/// no history in is refused before anything runs.
pub fn resolve_database(config: &Config, flag: Option<&str>) -> CliResult<(HistoryDir, Database)> {
    let (url, source) = effective_url(config, flag).ok_or_else(no_database)?;
    let database = parse_database(&url, source, config)?;
    match HistoryDir::in_dialect(config, database.dialect()) {
        Some(dir) => Ok((dir, database)),
        None => Err(CliError::new(format!(
            "{source} names a {} database ({}), but the project's migrations ({}) are {} SQL \
             (dialect = \"{}\" in {})",
            database.dialect().display_name(),
            database.display(),
            crate::models::display_path(&config.migrations),
            config.dialect.display_name(),
            config.dialect.name(),
            crate::models::display_path(&config.file),
        ))
        .with_hint(
            "use a database of the project's dialect, or keep a PostgreSQL history beside the \
             SQLite one ([postgres] migrations = \"migrations/postgres\" in qvdiff.toml) and \
             move the data with `qvdiff port`",
        )),
    }
}

fn no_database() -> CliError {
    CliError::new("no database given").with_hint(
        "pass --db sqlite://app.db (or postgres://…), set DATABASE_URL, or set `database` in \
         qvdiff.toml",
    )
}

/// The URL in effect: `--db`, else `DATABASE_URL`, else the config's `database`.
pub fn effective_url(config: &Config, flag: Option<&str>) -> Option<(String, UrlSource)> {
    if let Some(url) = flag {
        return Some((url.to_string(), UrlSource::Flag));
    }
    if let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Some((url, UrlSource::Env));
    }
    config.database.clone().map(|url| (url, UrlSource::Config))
}

/// Resolves the SQLite database file in effect, for the commands that work on files only
/// (backups); a PostgreSQL URL is refused with what to use instead.
pub fn resolve(config: &Config, flag: Option<&str>) -> CliResult<DatabaseTarget> {
    let (url, source) = effective_url(config, flag).ok_or_else(no_database)?;
    if is_postgres_url(&url) {
        return Err(CliError::new(format!(
            "{source} names a PostgreSQL database ({}): this command works on SQLite files only",
            crate::dialects::redact_url(&url)
        ))
        .with_hint(
            "back up and restore PostgreSQL with pg_dump / pg_restore or your provider's backups",
        ));
    }
    let path = parse_sqlite_url(&url, &config.root).map_err(|why| {
        CliError::new(format!("{source} = \"{url}\": {why}")).with_hint(
            "use sqlite://relative/path.db, sqlite:///absolute/path.db or a plain file path",
        )
    })?;
    Ok(DatabaseTarget { path, url, source })
}

/// Turns a URL into a file path, relative paths taken from `root`.
pub fn parse_sqlite_url(url: &str, root: &Path) -> Result<PathBuf, String> {
    let rest = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(format!(
            "the `{scheme}` scheme is not supported (sqlite:// and postgres:// are)"
        ));
    } else if let Some(scheme) = mistyped_scheme(url) {
        // `postgres:/db.internal/app` would otherwise be a relative path: upgrade would create
        // and migrate a SQLite file under a folder named `postgres:`.
        return Err(format!(
            "`{scheme}:` reads as a URL scheme, but the URL does not start with `{scheme}://`"
        ));
    } else {
        url
    };
    // Query parameters (`?mode=rwc`) are accepted and ignored: qvdiff decides how it opens files.
    let rest = rest.split('?').next().unwrap_or_default();
    if rest.is_empty() {
        return Err("the URL names no file".into());
    }
    if rest == ":memory:" {
        return Err("an in-memory database cannot be migrated".into());
    }
    let path = Path::new(rest);
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    })
}

/// The scheme of a URL whose `//` is missing or mistyped (`postgres:/app`, `postgres:app@db`):
/// a first path part ending in `:` after a scheme's letters. `sqlite:` has its own meaning.
fn mistyped_scheme(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    let scheme_like = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    (scheme_like && scheme != "sqlite").then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let root = Path::new("/proj");
        assert_eq!(
            parse_sqlite_url("sqlite:///srv/app.db", root).unwrap(),
            PathBuf::from("/srv/app.db")
        );
        assert_eq!(
            parse_sqlite_url("sqlite://app.db", root).unwrap(),
            PathBuf::from("/proj/app.db")
        );
        assert_eq!(
            parse_sqlite_url("data/app.db", root).unwrap(),
            PathBuf::from("/proj/data/app.db")
        );
        assert_eq!(
            parse_sqlite_url("/abs.db", root).unwrap(),
            PathBuf::from("/abs.db")
        );
        assert!(parse_sqlite_url("postgres://x/y", root)
            .unwrap_err()
            .contains("postgres"));
        assert!(parse_sqlite_url("sqlite://", root).is_err());
        // A URL with its `//` missing is not a file path (the first part would be a folder).
        for mistyped in ["postgres:/db/app", "postgresql:app@db/app", "file:app.db"] {
            assert!(
                parse_sqlite_url(mistyped, root)
                    .unwrap_err()
                    .contains("reads as a URL scheme"),
                "{mistyped}"
            );
        }
        assert_eq!(
            parse_sqlite_url("sqlite:app.db", root).unwrap(),
            PathBuf::from("/proj/app.db")
        );
    }
}
