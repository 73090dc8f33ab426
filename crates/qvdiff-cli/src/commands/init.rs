//! `qvdiff init`: write `qvdiff.toml` and `migrations/`, and make git ignore the local database
//! and the backups folder.

use crate::cli::InitArgs;
use crate::config::{init_config, DialectKind, CONFIG_FILE};
use crate::db_url::{is_postgres_url, parse_sqlite_url};
use crate::error::{io_error, CliError, CliResult};
use crate::fsutil::write_atomic;
use crate::output::Console;
use std::path::Path;

/// Creates the config and the migrations directory in the current directory. The database is
/// `--database`, else the global `--db`; the dialect is `--dialect`, else the database's.
pub fn run(args: &InitArgs, db_flag: Option<&str>, console: &Console) -> CliResult<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::new(format!("cannot read the current directory: {e}")))?;
    let url = args.database.as_deref().or(db_flag);
    let dialect = chosen_dialect(args.dialect.as_deref(), url, &cwd)?;
    let config = cwd.join(CONFIG_FILE);
    if config.exists() {
        return Err(CliError::new(format!(
            "{} already exists; nothing was written",
            config.display()
        ))
        .with_hint("edit it by hand, or remove it first to start over"));
    }
    let migrations = cwd.join("migrations");
    if migrations.exists() && !migrations.is_dir() {
        return Err(CliError::new(format!(
            "{} exists and is not a directory; nothing was written",
            migrations.display()
        )));
    }
    let gitignore = cwd.join(".gitignore");
    let existing = match std::fs::read_to_string(&gitignore) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_error("read", &gitignore, e)),
    };
    let ignored = with_ignored_lines(&existing, &ignored_lines(dialect, url, &cwd));
    std::fs::create_dir_all(&migrations).map_err(|e| io_error("create", &migrations, e))?;
    if ignored != existing {
        write_atomic(&gitignore, ignored.as_bytes(), false)?;
    }
    write_atomic(&config, init_config(dialect, url).as_bytes(), true)?;
    console.info(&format!(
        "Created {CONFIG_FILE} ({}) and migrations/",
        dialect.display_name()
    ));
    if ignored != existing {
        console.info("Added the database and the backups folder to .gitignore");
    }
    if dialect == DialectKind::Postgres && url.is_none() {
        console.info(
            "Next: set DATABASE_URL=postgres://user@host/db (or `database` in qvdiff.toml), point \
             `models` at your #[derive(Model)] structs, then run `qvdiff migrate -m \"initial\"`.",
        );
    } else {
        console.info("Next: point `models` at your #[derive(Model)] structs, then run `qvdiff migrate -m \"initial\"`.");
    }
    Ok(())
}

/// The dialect of the new project: `--dialect` when given, else the database URL's, else SQLite.
/// Refuses an unknown dialect, a URL qvdiff cannot open, a URL of the other dialect, and a
/// password in the URL (the config is committed with the code).
fn chosen_dialect(named: Option<&str>, url: Option<&str>, cwd: &Path) -> CliResult<DialectKind> {
    let named = match named {
        None => None,
        Some(name) => Some(DialectKind::parse(name).ok_or_else(|| {
            CliError::new(format!(
                "--dialect \"{name}\" is not a dialect qvdiff speaks; nothing was written"
            ))
            .with_hint("use --dialect sqlite or --dialect postgres")
        })?),
    };
    let Some(url) = url else {
        return Ok(named.unwrap_or(DialectKind::Sqlite));
    };
    let of_url = if is_postgres_url(url) {
        let redacted = crate::dialects::redact_url(url);
        if redacted != url {
            return Err(CliError::new(format!(
                "the database URL holds a password ({redacted}); qvdiff.toml is committed with \
                 the code, so nothing was written"
            ))
            .with_hint(
                "leave the password out of the URL and give it through DATABASE_URL, PGPASSWORD \
                 or ~/.pgpass (chmod 600) where qvdiff runs",
            ));
        }
        crate::dialects::check_postgres_url(url).map_err(|e| {
            CliError::new(format!("{e}; nothing was written")).with_hint(
                "a PostgreSQL URL reads postgres://user@host:port/database (port a number; \
                 options after ?, e.g. ?sslmode=verify-full)",
            )
        })?;
        DialectKind::Postgres
    } else {
        parse_sqlite_url(url, cwd).map_err(|why| {
            CliError::new(format!(
                "database URL \"{url}\": {why}; nothing was written"
            ))
            .with_hint(
                "use sqlite://relative/path.db, sqlite:///absolute/path.db, a plain file path, or \
                 postgres://user@host/database",
            )
        })?;
        DialectKind::Sqlite
    };
    match named {
        Some(named) if named != of_url => Err(CliError::new(format!(
            "--dialect {} does not match the database URL, which names a {} database; nothing \
             was written",
            named.name(),
            of_url.display_name()
        ))
        .with_hint(format!(
            "migration files are SQL of one dialect: use --dialect {} with this URL, or a {} URL",
            of_url.name(),
            named.display_name()
        ))),
        _ => Ok(of_url),
    }
}

/// The database file of the SQLite config `init` writes without `--database`.
const DEFAULT_SQLITE_DATABASE: &str = "instance/app.db";

/// What git must not track in a project made by `init`: the SQLite database its config names
/// when it lies inside the project (with SQLite's `-wal`, `-shm` and `-journal` files) and the
/// backups folder. A PostgreSQL project keeps neither in its tree.
fn ignored_lines(dialect: DialectKind, url: Option<&str>, root: &Path) -> Vec<String> {
    if dialect == DialectKind::Postgres {
        return Vec::new();
    }
    let database = match url {
        Some(url) => parse_sqlite_url(url, root).ok(),
        None => Some(root.join(DEFAULT_SQLITE_DATABASE)),
    };
    let mut lines = Vec::new();
    let inside = database
        .as_deref()
        .and_then(|path| path.strip_prefix(root).ok())
        .filter(|rel| {
            rel.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            })
        });
    if let Some(rel) = inside {
        let parts: Vec<String> = rel
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let anchored = format!("/{}", parts.join("/"));
        lines.push(anchored.clone());
        lines.push(format!("{anchored}-*"));
    }
    lines.push("/backups/".to_string());
    lines
}

/// `.gitignore` text with every line of `ignored` that is not there yet appended. A line
/// already there counts whatever its leading and trailing `/` (`backups`, `backups/`,
/// `/backups/`).
fn with_ignored_lines(existing: &str, ignored: &[String]) -> String {
    let bare = |line: &str| line.trim().trim_matches('/').to_string();
    let present: Vec<String> = existing.lines().map(bare).collect();
    let missing: Vec<&str> = ignored
        .iter()
        .map(String::as_str)
        .filter(|line| !present.contains(&bare(line)))
        .collect();
    if missing.is_empty() {
        return existing.to_string();
    }
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# qvdiff: the local database and upgrade's backups\n");
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    text
}
