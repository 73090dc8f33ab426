//! `qvdiff.toml`: where the models, migrations and database are, and the settings of the
//! commands. Paths in it are relative to the directory that holds it, so commands work the same
//! from any subdirectory. The migration histories the folders hold are
//! [`crate::history`]'s.

use crate::error::{io_error, CliError, CliResult};
use qvdiff_core::backend::{LockRetry, DEFAULT_LOCK_RETRY};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The config file name looked for in the current directory and its parents.
pub const CONFIG_FILE: &str = "qvdiff.toml";

/// The text `qvdiff init` writes.
pub const DEFAULT_CONFIG: &str = r#"# qvdiff configuration. Paths are relative to this file.

# Where the #[derive(Model)] structs live: files or directories, scanned recursively.
models = ["src"]

# Where migration files are written and read.
migrations = "migrations"

# The database `upgrade` applies migrations to (DATABASE_URL and --db override it).
# sqlite://app.db is relative to this file; sqlite:///srv/app.db is absolute.
database = "sqlite://instance/app.db"

# SQL dialect of the migration files: "sqlite" or "postgres". A database URL must match it
# (sqlite://… or postgres://…); `qvdiff port` moves the data from one to the other.
dialect = "sqlite"

# How long upgrade/downgrade/stamp wait for another writer (milliseconds) before giving up.
busy_timeout_ms = 30000

[backup]
# Where `upgrade` puts its automatic backups, and how many it keeps.
dir = "backups"
keep = 10
"#;

/// The text `qvdiff init --dialect postgres` writes (the `database` line filled in by
/// [`init_config`] when a URL is given).
pub const POSTGRES_CONFIG: &str = r#"# qvdiff configuration. Paths are relative to this file.

# Where the #[derive(Model)] structs live: files or directories, scanned recursively.
models = ["src"]

# Where migration files are written and read.
migrations = "migrations"

# The database `upgrade` applies migrations to (DATABASE_URL and --db override it). Leave the
# password out: this file is committed; give it through DATABASE_URL, PGPASSWORD or ~/.pgpass.
# database = "postgres://app@localhost:5432/app"

# SQL dialect of the migration files: "sqlite" or "postgres". A database URL must match it
# (sqlite://… or postgres://…); `qvdiff port` moves the data from one to the other.
dialect = "postgres"

[postgres]
# Online-safe DDL on existing tables, so the application keeps writing while they change:
# indexes built and dropped CONCURRENTLY, UNIQUE constraints from a concurrently built index
# (such steps run outside the migration transaction, recorded one by one). false: plain DDL,
# each revision in one transaction.
online_ddl = true
# How long one migration statement may wait for a table lock (0: no limit). Longer waits queue
# the application's writes behind it; a timed-out attempt is rolled back and tried again.
lock_timeout_ms = 2000
# How many times a timed-out attempt is tried again before `upgrade` gives up and names the
# session holding the lock.
lock_retries = 5
# Write a column type change that rewrites a table, a column rename, or a new NOT NULL column
# with a computed value, as two revisions that keep the app online (as `qvdiff migrate --online`): expand, then contract, which `upgrade`
# applies only with --contract, after the new app version is deployed.
expand_contract = false
# The schema the tables and the ledger live in (created by `upgrade` when missing). Without it,
# the first schema of the connection's search_path: normally public.
# schema = "app"
# A server where `migrate` proves each new file on a throwaway database it creates and drops
# (the role needs CREATEDB), and checks the values typed at its prompts. No password here.
# shadow_url = "postgres://app@localhost:5432/postgres"
"#;

/// The `qvdiff.toml` that `init` writes for `dialect`, with `database` set to `url` when given.
pub fn init_config(dialect: DialectKind, url: Option<&str>) -> String {
    let (template, database_line) = match dialect {
        DialectKind::Sqlite => (DEFAULT_CONFIG, "database = \"sqlite://instance/app.db\""),
        DialectKind::Postgres => (
            POSTGRES_CONFIG,
            "# database = \"postgres://app@localhost:5432/app\"",
        ),
    };
    match url {
        Some(url) => template.replacen(
            database_line,
            &format!("database = {}", toml::Value::String(url.to_string())),
            1,
        ),
        None => template.to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_models")]
    models: Vec<String>,
    #[serde(default = "default_migrations")]
    migrations: String,
    database: Option<String>,
    #[serde(default = "default_dialect")]
    dialect: String,
    #[serde(default = "default_busy_timeout_ms")]
    busy_timeout_ms: u64,
    #[serde(default)]
    backup: RawBackup,
    #[serde(default)]
    postgres: RawPostgres,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    online_ddl: Option<bool>,
    /// The earlier name of `online_ddl`, still read with the same meaning.
    concurrent_indexes: Option<bool>,
    #[serde(default)]
    expand_contract: bool,
    #[serde(default = "default_lock_timeout_ms")]
    lock_timeout_ms: u64,
    #[serde(default = "default_lock_retries")]
    lock_retries: u32,
    migrations: Option<String>,
    schema: Option<String>,
    shadow_url: Option<String>,
}

impl Default for RawPostgres {
    fn default() -> Self {
        RawPostgres {
            online_ddl: None,
            concurrent_indexes: None,
            expand_contract: false,
            lock_timeout_ms: default_lock_timeout_ms(),
            lock_retries: default_lock_retries(),
            migrations: None,
            schema: None,
            shadow_url: None,
        }
    }
}

fn default_lock_timeout_ms() -> u64 {
    u64::try_from(DEFAULT_LOCK_RETRY.timeout.as_millis()).unwrap_or(u64::MAX)
}
fn default_lock_retries() -> u32 {
    DEFAULT_LOCK_RETRY.retries
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    #[serde(default = "default_backup_dir")]
    dir: String,
    #[serde(default = "default_keep")]
    keep: usize,
}

impl Default for RawBackup {
    fn default() -> Self {
        RawBackup {
            dir: default_backup_dir(),
            keep: default_keep(),
        }
    }
}

fn default_models() -> Vec<String> {
    vec!["src".into()]
}
fn default_migrations() -> String {
    "migrations".into()
}
fn default_dialect() -> String {
    "sqlite".into()
}
fn default_busy_timeout_ms() -> u64 {
    // Long enough for another deploy's upgrade of a large table to finish, short enough that a
    // stuck writer is reported instead of hanging a deploy script forever.
    30_000
}
fn default_backup_dir() -> String {
    "backups".into()
}
fn default_keep() -> usize {
    10
}

/// The loaded configuration, paths resolved against the config file's directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `qvdiff.toml` this came from.
    pub file: PathBuf,
    /// Its directory: the project root.
    pub root: PathBuf,
    /// Model source paths (files or directories).
    pub models: Vec<PathBuf>,
    /// The folder of the project's own history (`migrations`; see
    /// [`crate::history::HistoryDir`]).
    pub migrations: PathBuf,
    /// Database URL from the file, if any (unresolved).
    pub database: Option<String>,
    /// The dialect of the migration files (and of every database they run on).
    pub dialect: DialectKind,
    /// A second history in PostgreSQL SQL (`[postgres] migrations`) kept beside a SQLite one:
    /// `migrate` writes both, with one revision id; `postgres://` URLs use it.
    pub postgres_migrations: Option<PathBuf>,
    /// PostgreSQL: write the online-safe form of DDL on existing tables (`[postgres] online_ddl`,
    /// default true; `concurrent_indexes` is its deprecated alias).
    pub online_ddl: bool,
    /// PostgreSQL: `migrate` writes a change that rewrites a table or renames a column as
    /// expand and contract revisions, as `migrate --online` does (`[postgres] expand_contract`).
    pub expand_contract: bool,
    /// PostgreSQL: the schema the tables and the ledger live in (`[postgres] schema`); `None`:
    /// the first schema of the connection's `search_path`, normally `public`.
    pub postgres_schema: Option<String>,
    /// PostgreSQL: a server where `migrate` proves each new file on a throwaway database
    /// (`[postgres] shadow_url`; its role needs `CREATEDB`).
    pub shadow_url: Option<String>,
    /// How long `upgrade`, `downgrade` and `stamp` wait for another writer's lock
    /// (`busy_timeout_ms`).
    pub busy_timeout: std::time::Duration,
    /// PostgreSQL: how long a migration statement waits for a table lock and how often it is
    /// retried (`[postgres] lock_timeout_ms`, `lock_retries`).
    pub lock_retry: LockRetry,
    /// Backup directory.
    pub backup_dir: PathBuf,
    /// How many automatic backups to keep.
    pub backup_keep: usize,
}

impl Config {
    /// Finds `qvdiff.toml` (the given path, or the current directory and its parents) and loads it.
    pub fn discover(explicit: Option<&Path>) -> CliResult<Config> {
        let file = match explicit {
            Some(p) => {
                if !p.is_file() {
                    return Err(CliError::new(format!(
                        "config file {} does not exist",
                        p.display()
                    ))
                    .with_hint("pass the path of an existing qvdiff.toml, or run `qvdiff init`"));
                }
                p.to_path_buf()
            }
            None => {
                let cwd = std::env::current_dir().map_err(|e| {
                    CliError::new(format!("cannot read the current directory: {e}"))
                })?;
                cwd.ancestors()
                    .map(|d| d.join(CONFIG_FILE))
                    .find(|p| p.is_file())
                    .ok_or_else(|| {
                        CliError::new(format!(
                            "no {CONFIG_FILE} in {} or any parent directory",
                            cwd.display()
                        ))
                        .with_hint("run `qvdiff init` in the project root, or pass --config FILE")
                    })?
            }
        };
        let text = std::fs::read_to_string(&file).map_err(|e| io_error("read", &file, e))?;
        Config::parse(&file, &text)
    }

    /// Parses config text; `file` locates relative paths and names the file in errors.
    pub fn parse(file: &Path, text: &str) -> CliResult<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let (line, col) = line_col(text, span.start);
                    format!("{}:{line}:{col}", file.display())
                })
                .unwrap_or_else(|| file.display().to_string());
            CliError::new(format!("{at}: invalid config: {}", e.message()))
                .with_hint("see `qvdiff init` for a commented example of every key")
        })?;
        let Some(dialect) = DialectKind::parse(&raw.dialect) else {
            return Err(CliError::new(format!(
                "{}: dialect \"{}\" is not supported by this build",
                file.display(),
                raw.dialect
            ))
            .with_hint("use dialect = \"sqlite\" or dialect = \"postgres\""));
        };
        if raw.backup.keep == 0 {
            return Err(CliError::new(format!(
                "{}: [backup] keep = 0 would delete every backup, including the one just taken",
                file.display()
            ))
            .with_hint("set keep to 1 or more (default 10), or use `upgrade --no-backup`"));
        }
        if let Some(schema) = &raw.postgres.schema {
            // PostgreSQL cuts names at 63 bytes, and `pg_` names are the system's.
            if schema.is_empty() || schema.len() > 63 || schema.starts_with("pg_") {
                return Err(CliError::new(format!(
                    "{}: [postgres] schema = \"{schema}\" is not a schema qvdiff can use: a \
                     name of 1 to 63 bytes, not starting with pg_",
                    file.display()
                ))
                .with_hint(
                    "use a plain name such as schema = \"app\", or leave the key out for \
                            the search_path's first schema (normally public)",
                ));
            }
        }
        let online_ddl = match (raw.postgres.online_ddl, raw.postgres.concurrent_indexes) {
            (Some(online), Some(alias)) if online != alias => {
                return Err(CliError::new(format!(
                    "{}: [postgres] online_ddl = {online} and concurrent_indexes = {alias} \
                     disagree: concurrent_indexes is the earlier name of online_ddl",
                    file.display()
                ))
                .with_hint("remove the concurrent_indexes line and keep online_ddl"));
            }
            (online, alias) => online.or(alias).unwrap_or(true),
        };
        let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        Ok(Config {
            file: file.to_path_buf(),
            models: raw.models.iter().map(|m| root.join(m)).collect(),
            migrations: root.join(&raw.migrations),
            database: raw.database,
            dialect,
            online_ddl,
            expand_contract: raw.postgres.expand_contract,
            postgres_schema: raw.postgres.schema,
            shadow_url: raw.postgres.shadow_url,
            postgres_migrations: raw
                .postgres
                .migrations
                .as_ref()
                .filter(|_| dialect == DialectKind::Sqlite)
                .map(|m| root.join(m)),
            busy_timeout: std::time::Duration::from_millis(raw.busy_timeout_ms),
            lock_retry: LockRetry {
                timeout: std::time::Duration::from_millis(raw.postgres.lock_timeout_ms),
                retries: raw.postgres.lock_retries,
            },
            backup_dir: root.join(&raw.backup.dir),
            backup_keep: raw.backup.keep,
            root,
        })
    }
}

/// The SQL dialects qvdiff speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialectKind {
    /// SQLite (`sqlite://` URLs or file paths).
    Sqlite,
    /// PostgreSQL (`postgres://` or `postgresql://` URLs).
    Postgres,
}

impl DialectKind {
    /// The dialect of a `dialect = "…"` value or of `init --dialect`, in any case
    /// (`Postgres`, `SQLite`): one reading for both.
    pub fn parse(name: &str) -> Option<DialectKind> {
        match name.to_ascii_lowercase().as_str() {
            "sqlite" => Some(DialectKind::Sqlite),
            "postgres" | "postgresql" => Some(DialectKind::Postgres),
            _ => None,
        }
    }

    /// The name as written in `qvdiff.toml`.
    pub fn name(self) -> &'static str {
        match self {
            DialectKind::Sqlite => "sqlite",
            DialectKind::Postgres => "postgres",
        }
    }

    /// The name for people.
    pub fn display_name(self) -> &'static str {
        match self {
            DialectKind::Sqlite => "SQLite",
            DialectKind::Postgres => "PostgreSQL",
        }
    }
}

impl Config {
    /// A warning when `database` holds a password: the file is committed with the code, so the
    /// password would be too. `None` when it holds none.
    pub fn password_warning(&self) -> Option<String> {
        let url = self.database.as_deref()?;
        let redacted = crate::dialects::redact_url(url);
        (redacted != url).then(|| {
            format!(
                "{}: `database` holds a password ({redacted}); this file is committed with the \
                 code, so the password would be too: leave it out of the URL and give it through \
                 DATABASE_URL, PGPASSWORD or ~/.pgpass (chmod 600) where qvdiff runs",
                crate::models::display_path(&self.file)
            )
        })
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses_with_defaults() {
        let c = Config::parse(Path::new("/p/qvdiff.toml"), DEFAULT_CONFIG).unwrap();
        assert_eq!(c.models, vec![PathBuf::from("/p/src")]);
        assert_eq!(c.migrations, PathBuf::from("/p/migrations"));
        assert_eq!(c.database.as_deref(), Some("sqlite://instance/app.db"));
        assert_eq!(c.backup_keep, 10);
        assert_eq!(c.backup_dir, PathBuf::from("/p/backups"));
    }

    #[test]
    fn init_configs_parse_as_their_dialect() {
        let sqlite = init_config(DialectKind::Sqlite, None);
        assert_eq!(sqlite, DEFAULT_CONFIG);
        let pg = Config::parse(
            Path::new("/p/qvdiff.toml"),
            &init_config(DialectKind::Postgres, None),
        )
        .unwrap();
        assert_eq!(pg.dialect, DialectKind::Postgres);
        assert_eq!(pg.database, None);
        assert_eq!(pg.migrations, PathBuf::from("/p/migrations"));
        let url = "postgres://app@db.internal:5432/shop?sslmode=verify-full&x=\"q\"";
        let pg = Config::parse(
            Path::new("/p/qvdiff.toml"),
            &init_config(DialectKind::Postgres, Some(url)),
        )
        .unwrap();
        assert_eq!(pg.database.as_deref(), Some(url));
        let sqlite = Config::parse(
            Path::new("/p/qvdiff.toml"),
            &init_config(DialectKind::Sqlite, Some("sqlite:///srv/app.db")),
        )
        .unwrap();
        assert_eq!(sqlite.dialect, DialectKind::Sqlite);
        assert_eq!(sqlite.database.as_deref(), Some("sqlite:///srv/app.db"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err =
            Config::parse(Path::new("q.toml"), "models = [\"src\"]\nmodles = 1\n").unwrap_err();
        assert!(
            err.message.starts_with("q.toml:2:1: invalid config"),
            "{}",
            err.message
        );
        assert!(err.message.contains("modles"), "{}", err.message);
    }

    #[test]
    fn online_ddl_is_the_default_and_concurrent_indexes_its_alias() {
        let parse = |postgres: &str| {
            Config::parse(
                Path::new("q.toml"),
                &format!("dialect = \"postgres\"\n[postgres]\n{postgres}"),
            )
        };
        assert!(parse("").unwrap().online_ddl);
        assert!(parse("online_ddl = true\n").unwrap().online_ddl);
        assert!(!parse("online_ddl = false\n").unwrap().online_ddl);
        assert!(!parse("concurrent_indexes = false\n").unwrap().online_ddl);
        assert!(parse("concurrent_indexes = true\n").unwrap().online_ddl);
        assert!(
            !parse("online_ddl = false\nconcurrent_indexes = false\n")
                .unwrap()
                .online_ddl
        );
        let err = parse("online_ddl = false\nconcurrent_indexes = true\n").unwrap_err();
        assert!(err.message.contains("disagree"), "{}", err.message);
    }

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
