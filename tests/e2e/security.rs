//! Security properties: what a message, a slug, a name or a directory cannot do, and code that
//! never starts a process. (Hostile table and column names through every change kind are the
//! fixture case `fixtures/cases/hostile_identifiers`; through the preflight queries, the corpus
//! cases `fixtures/bad/*_hostile_identifiers`.)

use super::support::{repo_root, Project};
use qvdiff_core::migration::MigrationFile;
use rusqlite::Connection;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const ITEMS: &str = r#"use qvdiff::Model;

#[derive(Model)]
#[model(table = "items")]
pub struct Item {
    #[column(primary_key)]
    pub id: i64,
    pub title: String,
}
"#;

fn with_notes() -> String {
    ITEMS.replace(
        "    pub title: String,\n",
        "    pub title: String,\n    pub notes: Option<String>,\n",
    )
}

/// A project at revision r1 (items with two rows), its models already changed to add `notes`.
fn project_with_rows() -> Project {
    let p = Project::with_models(&[("src/models.rs", ITEMS)]);
    p.qvdiff(&["migrate", "-m", "items", "--rev-id", "r1", "--no-input"])
        .expect_code(0);
    p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
    let conn = Connection::open(p.path("app.db")).unwrap();
    conn.execute_batch("INSERT INTO items (id, title) VALUES (1, 'lamp'), (2, 'desk');")
        .unwrap();
    drop(conn);
    p.write("src/models.rs", &with_notes());
    p
}

fn migration_files(p: &Project) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn the_file(p: &Project, rev: &str) -> (PathBuf, String) {
    let path = migration_files(p)
        .into_iter()
        .find(|f| f.file_name().unwrap().to_string_lossy().starts_with(rev))
        .unwrap_or_else(|| panic!("no migration {rev}_*.sql"));
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// The promise of a message: one header line, whatever it holds; the file parses into the
/// sections that were generated, and running it changes nothing but what the models asked for.
#[test]
fn a_message_cannot_inject_sql_or_a_header_line() {
    let messages = [
        "x\n-- qvdiff:down\nDROP TABLE items;",
        "close */ and -- comment; DROP TABLE items; --",
        "-- parents: r0\n-- message: forged\n-- qvdiff revision: r9",
        "tab\there\r\nand\u{2028}line separator",
    ];
    for (i, message) in messages.iter().enumerate() {
        let p = project_with_rows();
        let rev = format!("r2_{i}");
        // `--message=` so that a message starting with `-` is a value, as a user would pass it.
        let arg = format!("--message={message}");
        let run = p.qvdiff(&["migrate", &arg, "--rev-id", &rev, "--no-input"]);
        assert_eq!(run.code, 0, "{message:?}: {}", run.stderr);
        let (_, text) = the_file(&p, &rev);

        let header: Vec<&str> = text.lines().take(3).collect();
        assert_eq!(header[0], format!("-- qvdiff revision: {rev}"), "{text}");
        assert_eq!(header[1], "-- parents: r1", "{text}");
        assert!(header[2].starts_with("-- message: "), "{text}");
        // Between the header and the up marker only comment lines (a summary block), and none
        // of them a second header line.
        for line in text.lines().skip(3).take_while(|l| *l != "-- qvdiff:up") {
            assert!(line.starts_with("--"), "{line:?} in\n{text}");
            for prefix in ["-- parents:", "-- message:", "-- qvdiff revision:"] {
                assert!(!line.starts_with(prefix), "{line:?} in\n{text}");
            }
        }
        let parsed = MigrationFile::parse(&text).unwrap();
        let expected_message: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(parsed.message, expected_message);
        assert_eq!(parsed.parents, ["r1"]);
        assert_eq!(
            parsed.up, "ALTER TABLE \"items\" ADD COLUMN \"notes\" TEXT;\n",
            "{text}"
        );
        assert!(
            parsed
                .down
                .starts_with("ALTER TABLE \"items\" DROP COLUMN \"notes\";"),
            "{text}"
        );
        // Exactly one marker of each kind, each on a line of its own.
        assert_eq!(text.lines().filter(|l| *l == "-- qvdiff:up").count(), 1);
        assert_eq!(text.lines().filter(|l| *l == "-- qvdiff:down").count(), 1);

        p.qvdiff(&["upgrade", "--no-backup"]).expect_code(0);
        let conn = Connection::open(p.path("app.db")).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM items WHERE notes IS NULL", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 2, "{message:?}: items lost rows or the column");
        // The ledger stores the message as a value, not as SQL.
        let stored: String = conn
            .query_row(
                "SELECT message FROM qvdiff_migrations WHERE revision = ?1",
                [&rev],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored, expected_message);
    }
}

/// `-m` only ever becomes a slug of `[a-z0-9_]`: the file lands in migrations/ whatever the
/// message says about paths.
#[test]
fn a_slug_cannot_leave_the_migrations_directory() {
    for message in [
        "../../etc/x",
        "/etc/passwd",
        "..\\..\\x",
        "a/../../b",
        "...",
    ] {
        let p = project_with_rows();
        let run = p.qvdiff(&["migrate", "-m", message, "--rev-id", "r2", "--no-input"]);
        assert_eq!(run.code, 0, "{message:?}: {}", run.stderr);
        let (path, _) = the_file(&p, "r2");
        assert_eq!(path.parent().unwrap(), p.path("migrations"));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.strip_prefix("r2_")
                .and_then(|rest| rest.strip_suffix(".sql"))
                .is_some_and(|slug| slug
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "{message:?} gave {name}"
        );
        // Nothing but the two migrations, the database and the project's own files.
        let mut top: Vec<String> = std::fs::read_dir(p.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, ["app.db", "migrations", "qvdiff.toml", "src"]);
        assert_eq!(migration_files(&p).len(), 2);
    }
}

/// A database whose file name holds quotes, `;` and `--` is backed up, and every backup is 0600
/// in a 0700 directory qvdiff created.
#[test]
fn a_hostile_database_file_name_is_backed_up_privately() {
    let p = project_with_rows();
    let db = "we'ird; -- \"db\".db";
    std::fs::copy(p.path("app.db"), p.path(db)).unwrap();
    p.qvdiff(&["migrate", "-m", "notes", "--rev-id", "r2", "--no-input"])
        .expect_code(0);
    p.qvdiff(&["--db", db, "upgrade"]).expect_code(0);
    let dir = p.path("backups");
    assert_eq!(mode(&dir), 0o700);
    let backups: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(db));
    assert_eq!(mode(&backups[0]), 0o600);
    let conn = Connection::open(&backups[0]).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
}

/// An existing backup directory keeps the mode its owner chose (a group-readable directory for a
/// backup agent is legitimate; each file is 0600 anyway), but one others can write to is refused:
/// anyone could plant a "backup" that `restore latest` would put back.
#[test]
fn an_existing_backup_directory_keeps_its_mode_unless_others_can_write() {
    let p = project_with_rows();
    std::fs::create_dir(p.path("backups")).unwrap();
    set_mode(&p.path("backups"), 0o750);
    p.qvdiff(&["backup"]).expect_code(0);
    assert_eq!(mode(&p.path("backups")), 0o750);
    for entry in std::fs::read_dir(p.path("backups")).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }

    // A pending revision, so that `upgrade` has something to back up first.
    p.qvdiff(&["migrate", "-m", "notes", "--rev-id", "r2", "--no-input"])
        .expect_code(0);
    set_mode(&p.path("backups"), 0o1777);
    let before = p.snapshot();
    for args in [&["backup"][..], &["upgrade"], &["restore", "latest"]] {
        let run = p.qvdiff(args).expect_code(2);
        assert!(
            run.stderr.contains("writable by other users"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(p.snapshot(), before, "{args:?} changed the project");
    }
    set_mode(&p.path("backups"), 0o700);
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// qvdiff never starts a process, so no shell can ever interpret a name, a message or a path:
/// library and CLI code (everything under crates/*/src) must not mention the process-spawning
/// APIs, except `qvdiff review --since`, which runs `git` directly with an argument vector.
/// Tests and the example app may.
#[test]
fn library_and_cli_code_never_spawn_a_process() {
    const SPAWNING: [&str; 8] = [
        "Command::new",
        "process::Command",
        "std::process::{",
        ".spawn(",
        "sh -c",
        "libc::system",
        "execvp",
        "fork(",
    ];
    let mut files = Vec::new();
    for krate in std::fs::read_dir(repo_root().join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 20, "found only {} source files", files.len());
    // The one sanctioned exception (ARCHITECTURE.md): `qvdiff review --since` runs git with an
    // argument vector, no shell. Exactly these lines of that one file may mention spawning.
    let allowed = |file: &Path, line: &str| {
        file.ends_with("crates/qvdiff-cli/src/commands/review.rs")
            && matches!(
                line.trim(),
                "use std::process::Command;" | "let output = Command::new(\"git\")"
            )
    };
    let mut offenders = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if allowed(file, line) {
                continue;
            }
            // `.spawn(` also starts threads (`thread::Builder`); it spawns a process only where
            // the file has a `Command` to spawn.
            let names_a_command = text.contains("Command") || text.contains("process::");
            if let Some(api) = SPAWNING
                .iter()
                .filter(|api| **api != ".spawn(" || names_a_command)
                .find(|api| line.contains(*api))
            {
                offenders.push(format!(
                    "{}:{}: {api}: {}",
                    file.display(),
                    i + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "process spawning in library or CLI code:\n{}",
        offenders.join("\n")
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
