//! The bad-input corpus: every folder under `fixtures/bad/` is one case of input qvdiff must
//! refuse, with exit code 2, one clear message, and nothing written. Adding a case needs no Rust
//! code.
//!
//! A case folder holds (only `args` is required):
//!
//! * `project/` — a tree copied into a fresh temporary directory, the project root (usually a
//!   `qvdiff.toml`, `src/` models and `migrations/`; an `app.db` in it can be any bytes).
//! * `prepare` — qvdiff command lines run first, one per line, split on whitespace; each must
//!   exit 0 (e.g. `upgrade --no-backup` to apply the migrations before a file is edited).
//! * `setup.sql` — SQL run on `app.db` after `prepare` (rows, a hand-made ledger row).
//! * `overlay/` — a tree copied over the project after `setup.sql` (an applied file edited later).
//! * `remove` — paths deleted after the overlay, one per line (an applied file gone missing).
//! * `chmod` — `MODE PATH` lines applied last (`0444 app.db`). When a mode takes write permission
//!   away but the file stays writable (tests running as root), the case is skipped and says why:
//!   it would otherwise pass without testing anything.
//! * `lock` — while the command runs, another connection holds `BEGIN IMMEDIATE` on the database
//!   named in the file (`app.db` when empty).
//! * `env` — `KEY=VALUE` lines added to the command's environment.
//! * `stdin` — fed to the command's standard input (otherwise it is empty).
//! * `args` — the command line, one argument per line, without `qvdiff`.
//!
//! * `setup.postgres.sql` — the case runs against a fresh database on the PostgreSQL test server
//!   (see `qvdiff_postgres::testing`; without one the case is skipped, unless
//!   `QVDIFF_REQUIRE_POSTGRES=1`): `$DATABASE_URL` stands for its URL, and this SQL runs on it
//!   after `prepare`. The command must then leave that database as it was too: schemas, tables,
//!   columns, constraints, indexes, sequences and every row, the ledger included.
//!
//! In `args`, `env` and `prepare`, `$PROJECT` stands for the project root. The runner checks that
//! the command exits 2, prints nothing on stdout, leaves every file and directory of the project
//! byte-identical (database, migrations, config, everything), and that its stderr — the project
//! root shown as `$PROJECT`, the server database's URL as `$DATABASE_URL` — equals
//! `expected.txt`. The snapshot is written when missing, or
//! for every case with `QVDIFF_BLESS=1`; review it: the message must say what is wrong, where
//! (file, line, table, column or revision) and how to fix it.
//! `QVDIFF_BAD_CASES=a,b` runs only the cases whose folder name contains `a` or `b`.

use super::support::Project;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;

/// The corpus must not shrink unnoticed.
const MIN_CASES: usize = 65;

#[test]
fn every_bad_input_case() {
    let dir = super::support::repo_root().join("fixtures/bad");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/bad")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let filter = std::env::var("QVDIFF_BAD_CASES").unwrap_or_default();
    let wanted: Vec<&str> = filter.split(',').filter(|f| !f.is_empty()).collect();
    if wanted.is_empty() {
        assert!(
            cases.len() >= MIN_CASES,
            "expected at least {MIN_CASES} cases, found {}",
            cases.len()
        );
    } else {
        cases.retain(|c| wanted.iter().any(|w| name_of(c).contains(w)));
        assert!(
            !cases.is_empty(),
            "no case matches QVDIFF_BAD_CASES={filter}"
        );
    }
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for case in &cases {
        match run_case(case) {
            Ok(Outcome::Passed) => {}
            Ok(Outcome::Skipped(why)) => {
                skipped.push(format!("[{}] skipped: {why}", name_of(case)))
            }
            Err(e) => failures.push(format!("[{}] {e}", name_of(case))),
        }
    }
    for line in &skipped {
        eprintln!("{line}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

enum Outcome {
    Passed,
    /// The environment cannot produce the case's condition (said why, never counted as a pass).
    Skipped(String),
}

fn name_of(case: &Path) -> String {
    case.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn optional(case: &Path, file: &str) -> Result<Option<String>, String> {
    match std::fs::read_to_string(case.join(file)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{file}: {e}")),
    }
}

fn run_case(case: &Path) -> Result<Outcome, String> {
    let p = Project::empty();
    let root = p.root().to_path_buf();
    let root_text = root.to_string_lossy().into_owned();
    let server_setup = optional(case, "setup.postgres.sql")?;
    let server = match &server_setup {
        Some(_) => match qvdiff_postgres::testing::TestDatabase::create(&name_of(case)) {
            Some(db) => Some(db),
            None => {
                return Ok(Outcome::Skipped(
                    "no PostgreSQL test server (start one with .ci/postgres)".to_string(),
                ))
            }
        },
        None => None,
    };
    let url = server.as_ref().map(|db| db.url.clone()).unwrap_or_default();
    let expand = |s: &str| {
        s.replace("$PROJECT", &root_text)
            .replace("$DATABASE_URL", &url)
    };

    if case.join("project").is_dir() {
        copy_tree(&case.join("project"), &root)?;
    }
    if let Some(prepare) = optional(case, "prepare")? {
        for line in prepare.lines().filter(|l| !l.trim().is_empty()) {
            let args: Vec<String> = expand(line).split_whitespace().map(String::from).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = p.qvdiff(&args);
            if run.code != 0 {
                return Err(format!(
                    "prepare `qvdiff {line}` exited {}:\n{}",
                    run.code, run.stderr
                ));
            }
        }
    }
    if let Some(sql) = optional(case, "setup.sql")? {
        let conn = rusqlite::Connection::open(root.join("app.db")).map_err(|e| e.to_string())?;
        conn.execute_batch(&sql)
            .map_err(|e| format!("setup.sql: {e}"))?;
    }
    if let (Some(sql), Some(db)) = (&server_setup, &server) {
        db.connect()
            .batch_execute(sql)
            .map_err(|e| format!("setup.postgres.sql: {e}"))?;
    }
    if case.join("overlay").is_dir() {
        copy_tree(&case.join("overlay"), &root)?;
    }
    if let Some(remove) = optional(case, "remove")? {
        for rel in remove.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let path = root.join(rel);
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("remove {rel}: {e}"))?;
        }
    }
    let modes = parse_chmod(&optional(case, "chmod")?.unwrap_or_default())?;
    with_modes(&root, &modes, || {
        run_command(case, &p, &root_text, server.as_ref(), &expand)
    })
}

/// Applies the case's modes, runs `body`, and puts write permission back so the temporary
/// directory can be removed whatever happened.
fn with_modes(
    root: &Path,
    modes: &[(u32, String)],
    body: impl FnOnce() -> Result<Outcome, String>,
) -> Result<Outcome, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut originals = Vec::new();
    for (mode, rel) in modes {
        let path = root.join(rel);
        let meta = std::fs::metadata(&path).map_err(|e| format!("chmod {rel}: {e}"))?;
        originals.push((path.clone(), meta.permissions().mode()));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode))
            .map_err(|e| format!("chmod {rel}: {e}"))?;
    }
    let blocked = modes
        .iter()
        .filter(|(mode, _)| mode & 0o200 == 0)
        .find(|(_, rel)| still_writable(&root.join(rel)));
    let result = match blocked {
        Some((mode, rel)) => Ok(Outcome::Skipped(format!(
            "{rel} is still writable after chmod {mode:o} (running as root?), so the case \
             cannot show how qvdiff handles a read-only file"
        ))),
        None => body(),
    };
    for (path, mode) in originals.into_iter().rev() {
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
    }
    result
}

/// Whether this process can still write `path` (root ignores permission bits).
fn still_writable(path: &Path) -> bool {
    if path.is_dir() {
        let probe = path.join(".qvdiff-write-probe");
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    } else {
        std::fs::OpenOptions::new().append(true).open(path).is_ok()
    }
}

fn parse_chmod(text: &str) -> Result<Vec<(u32, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (mode, rel) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("chmod: expected `MODE PATH`, found `{line}`"))?;
            let mode = u32::from_str_radix(mode, 8)
                .map_err(|_| format!("chmod: `{mode}` is not an octal mode"))?;
            Ok((mode, rel.trim().to_string()))
        })
        .collect()
}

fn run_command(
    case: &Path,
    p: &Project,
    root_text: &str,
    server: Option<&qvdiff_postgres::testing::TestDatabase>,
    expand: &dyn Fn(&str) -> String,
) -> Result<Outcome, String> {
    let args_text = optional(case, "args")?.ok_or("missing `args` file")?;
    let args: Vec<String> = args_text.lines().map(expand).collect();
    let env: Vec<(String, String)> = optional(case, "env")?
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.to_string(), expand(v)))
                .ok_or_else(|| format!("env: expected KEY=VALUE, found `{l}`"))
        })
        .collect::<Result<_, _>>()?;
    let stdin = optional(case, "stdin")?.unwrap_or_default();
    let lock = optional(case, "lock")?.map(|l| {
        let l = l.trim();
        p.path(if l.is_empty() { "app.db" } else { l })
    });

    let before = p.snapshot();
    let mut client = server.map(|db| db.connect());
    let server_before = client.as_mut().map(super::postgres::dump);
    let lock_holder = match &lock {
        Some(db) => Some(hold_write_lock(db)?),
        None => None,
    };
    let output = run_qvdiff(p.root(), &args, &env, &stdin);
    if let Some((release, holder)) = lock_holder {
        let _ = release.send(());
        holder
            .join()
            .map_err(|_| "the lock-holding thread panicked".to_string())??;
    }
    let (code, stdout, stderr) = output?;
    let after = p.snapshot();

    let mut problems = Vec::new();
    if code != 2 {
        problems.push(format!("exit code {code}, expected 2"));
    }
    if !stdout.is_empty() {
        problems.push(format!("printed on stdout:\n{stdout}"));
    }
    if let Some(change) = first_change(&before, &after) {
        problems.push(format!("the project changed: {change}"));
    }
    if let (Some(client), Some(before)) = (client.as_mut(), &server_before) {
        if super::postgres::dump(client) != *before {
            problems.push("the PostgreSQL database changed".to_string());
        }
    }
    let mut shown = stderr.replace(root_text, "$PROJECT");
    if let Some(db) = server {
        shown = shown
            .replace(&db.url, "$DATABASE_URL")
            .replace(&qvdiff_postgres::redact_url(&db.url), "$DATABASE_URL");
    }
    if let Err(e) = snapshot(case, &shown) {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(Outcome::Passed)
    } else {
        Err(format!("{}\nstderr:\n{shown}", problems.join("\n")))
    }
}

type LockHolder = (
    mpsc::Sender<()>,
    std::thread::JoinHandle<Result<(), String>>,
);

/// Another connection holding SQLite's write lock on `db` until told to let go.
fn hold_write_lock(db: &Path) -> Result<LockHolder, String> {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let db = db.to_path_buf();
    let holder = std::thread::spawn(move || -> Result<(), String> {
        let conn = match rusqlite::Connection::open(&db)
            .and_then(|c| c.execute_batch("BEGIN IMMEDIATE").map(|()| c))
        {
            Ok(conn) => conn,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("lock {}: {e}", db.display())));
                return Ok(());
            }
        };
        let _ = ready_tx.send(Ok(()));
        let _ = release_rx.recv();
        conn.execute_batch("ROLLBACK").map_err(|e| e.to_string())
    });
    ready_rx
        .recv()
        .map_err(|_| "the lock-holding thread stopped".to_string())??;
    Ok((release_tx, holder))
}

fn run_qvdiff(
    dir: &Path,
    args: &[String],
    env: &[(String, String)],
    stdin: &str,
) -> Result<(i32, String, String), String> {
    use std::io::Write;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = super::support::base_command(dir, &args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        cmd.env(key, value);
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn qvdiff: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        // The command may exit before reading its input: a closed pipe is not the case's failure.
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wait for qvdiff: {e}"))?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn first_change(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Option<String> {
    for (path, bytes) in before {
        match after.get(path) {
            None => return Some(format!("{} was removed", path.display())),
            Some(now) if now != bytes => return Some(format!("{} was modified", path.display())),
            Some(_) => {}
        }
    }
    after
        .keys()
        .find(|path| !before.contains_key(*path))
        .map(|path| format!("{} was created", path.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("mkdir {}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("copy {}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Compares stderr with `expected.txt`, writing it when missing or when blessing.
fn snapshot(case: &Path, actual: &str) -> Result<(), String> {
    let path = case.join("expected.txt");
    let bless = std::env::var_os("QVDIFF_BLESS").is_some();
    match std::fs::read_to_string(&path) {
        Ok(expected) if !bless => {
            if expected == actual {
                Ok(())
            } else {
                Err(format!(
                    "stderr differs from expected.txt (QVDIFF_BLESS=1 rewrites it):\n{}",
                    similar::TextDiff::from_lines(expected.as_str(), actual)
                        .unified_diff()
                        .header("expected.txt", "stderr")
                ))
            }
        }
        _ => std::fs::write(&path, actual).map_err(|e| format!("{}: {e}", path.display())),
    }
}
