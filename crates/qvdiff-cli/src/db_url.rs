//! Database URLs: `sqlite://PATH` or a bare path. `sqlite:///srv/app.db` is absolute;
//! `sqlite://app.db` and bare relative paths are relative to the directory of `qvdiff.toml`.
//! Precedence: `--db`, then `DATABASE_URL`, then `database` in `qvdiff.toml`.

use crate::config::Config;
use crate::error::{CliError, CliResult};
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
}

impl std::fmt::Display for UrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UrlSource::Flag => "--db",
            UrlSource::Env => "DATABASE_URL",
            UrlSource::Config => "`database` in qvdiff.toml",
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

/// Resolves the database in effect, or explains how to name one.
pub fn resolve(config: &Config, flag: Option<&str>) -> CliResult<DatabaseTarget> {
    let (url, source) = effective_url(config, flag).ok_or_else(|| {
        CliError::new("no database given").with_hint(
            "pass --db sqlite://app.db, set DATABASE_URL, or set `database` in qvdiff.toml",
        )
    })?;
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
            "the `{scheme}` scheme is not supported by this build (only sqlite)"
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
    }
}
