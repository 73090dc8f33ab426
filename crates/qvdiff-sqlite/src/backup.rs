//! Online backups of a SQLite database file, their retention, and restore.
//!
//! A backup is `<dir>/<db file name>.<UTC YYYYmmdd-HHMMSS>[-N].<revision>.bak`, e.g.
//! `backups/app.db.20261124-101500.20261120093000.bak`: the database as it was, named by when it
//! was taken and which revision it was at (`base` before the first one, `a+b` with two heads).
//! `-N` (N >= 2) tells apart backups taken in the same second.
//!
//! Backups go through SQLite's online backup API in one step, so the copy is one consistent
//! snapshot (WAL content included) while the application keeps running. The copy is written to a
//! hidden temporary name and then linked to its final name, so a half-written backup never looks
//! like a backup and an existing backup is never overwritten. Files are mode 0600 and a directory
//! this module creates is mode 0700: backups hold all of the application's data.

use crate::ledger::{read_ledger, unix_now};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many backups `qvdiff.toml` keeps unless `[backup] keep` says otherwise.
pub const DEFAULT_KEEP: usize = 10;

/// How long a backup or restore waits for a moment when it can read (or write) the database.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// How long `restore` waits for other writers before refusing.
pub const RESTORE_WRITER_WAIT: Duration = Duration::from_secs(2);

/// Why a backup, listing or restore failed.
#[derive(Debug)]
pub enum BackupError {
    /// A file-system operation failed.
    Io {
        /// What was being done (`creating the backup directory`).
        action: String,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite failed while copying.
    Sqlite {
        /// What was being done.
        action: String,
        /// The database or backup file involved.
        path: PathBuf,
        /// SQLite's message.
        message: String,
    },
    /// Another connection kept the database locked.
    Busy {
        /// The database.
        path: PathBuf,
        /// What was being attempted.
        action: String,
    },
    /// The database has no file (in-memory), so there is nothing to back up.
    NotAFile,
    /// `restore` was given a file that is not a readable, intact SQLite database.
    NotABackup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The backup directory exists and other users may write to it: they could plant a newer
    /// "backup" that `restore latest` would put back, or replace one.
    UnsafeDirectory {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// `restore latest` with no backup of this database in the directory.
    NoBackups {
        /// The backup directory.
        dir: PathBuf,
        /// The database file name.
        db_name: String,
    },
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Io {
                action,
                path,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            BackupError::Sqlite {
                action,
                path,
                message,
            } => write!(f, "{action} {}: {message}", path.display()),
            BackupError::Busy { path, action } => write!(
                f,
                "{} is busy: another connection is writing to it, so qvdiff cannot {action}; \
                 stop the application (or wait for the running write to finish) and retry",
                path.display()
            ),
            BackupError::NotAFile => write!(
                f,
                "the database is in memory, so there is no file to back up; use a file database \
                 or pass --no-backup"
            ),
            BackupError::NotABackup { path, reason } => write!(
                f,
                "{} is not a usable backup: {reason}; `qvdiff backups` lists the backups",
                path.display()
            ),
            BackupError::UnsafeDirectory { dir, mode } => write!(
                f,
                "the backup directory {} is writable by other users (mode {mode:04o}): anyone \
                 could replace a backup or plant one that `restore` would put back, so qvdiff \
                 will not use it; run `chmod o-w {}` (qvdiff creates a missing backup directory \
                 with mode 0700)",
                dir.display(),
                dir.display()
            ),
            BackupError::NoBackups { dir, db_name } => write!(
                f,
                "no backup of {db_name} in {}; `qvdiff backup` takes one",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for BackupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BackupError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> BackupError {
    BackupError::Io {
        action: action.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

fn sqlite_error(action: &str, path: &Path, error: rusqlite::Error) -> BackupError {
    BackupError::Sqlite {
        action: action.to_string(),
        path: path.to_path_buf(),
        message: error.to_string(),
    }
}

/// One backup file, as [`list_backups`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// When it was taken, from its name: UTC ISO-8601 (`2026-11-24T10:15:00Z`).
    pub created: String,
    /// The revision the database was at (`base`: none; `a+b`: two heads).
    pub revision: String,
}

/// The parts of a backup file name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BackupName {
    /// `YYYYmmdd-HHMMSS`.
    stamp: String,
    /// 1 for the first backup of a second, then 2, 3, …
    sequence: u32,
    revision: String,
}

/// `YYYYmmdd-HHMMSS` of a Unix time, UTC.
fn stamp_at(unix_seconds: u64) -> String {
    let (year, month, day, hour, minute, second) = qvdiff_core::utc_parts(unix_seconds);
    format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}{second:02}")
}

/// The file name of a backup of `db_name`.
fn backup_file_name(db_name: &str, name: &BackupName) -> String {
    let sequence = if name.sequence > 1 {
        format!("-{}", name.sequence)
    } else {
        String::new()
    };
    format!("{db_name}.{}{sequence}.{}.bak", name.stamp, name.revision)
}

/// Reads a backup file name of `db_name` back; `None` for any other file.
fn parse_backup_file_name(db_name: &str, file_name: &str) -> Option<BackupName> {
    let rest = file_name
        .strip_prefix(db_name)?
        .strip_prefix('.')?
        .strip_suffix(".bak")?;
    let (stamp_part, revision) = rest.split_once('.')?;
    let (stamp, sequence) = match stamp_part.get(15..) {
        Some("") => (stamp_part, 1),
        Some(suffix) => (
            stamp_part.get(..15)?,
            suffix.strip_prefix('-')?.parse::<u32>().ok()?,
        ),
        None => return None,
    };
    let stamp_ok = stamp.len() == 15
        && stamp.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let revision_ok = !revision.is_empty()
        && revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'+');
    (stamp_ok && revision_ok && sequence >= 1).then(|| BackupName {
        stamp: stamp.to_string(),
        sequence,
        revision: revision.to_string(),
    })
}

/// `20261124-101500` as `2026-11-24T10:15:00Z`.
fn stamp_to_iso8601(stamp: &str) -> String {
    let part = |range: std::ops::Range<usize>| stamp.get(range).unwrap_or("??");
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    )
}

/// The revision label of a database for backup names, from its ledger alone: the revision
/// applied last, or `base`. (The runner, which knows the graph, passes the applied heads
/// instead.) An id outside the file-name-safe alphabet, which qvdiff never writes, becomes
/// `unknown`.
pub fn revision_label(conn: &Connection) -> String {
    let label = match read_ledger(conn) {
        Ok(rows) => match rows.last() {
            None => return "base".to_string(),
            Some(last) => last.revision.clone(),
        },
        Err(_) => return "unknown".to_string(),
    };
    if label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        label
    } else {
        "unknown".to_string()
    }
}

/// Creates `dir` (and its parents) if missing; a directory created here gets mode 0700.
///
/// An existing directory keeps the permissions its owner gave it (a group-readable directory
/// for a backup agent is a legitimate choice, and every backup file is 0600 anyway), unless
/// others can write to it: then it is refused, because anyone could add or replace backups.
fn ensure_private_dir(dir: &Path) -> Result<(), BackupError> {
    if dir.is_dir() {
        return check_not_writable_by_others(dir);
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("creating the backup directory", dir, e))?;
    set_mode(dir, 0o700).map_err(|e| io_error("restricting the permissions of", dir, e))
}

#[cfg(unix)]
fn check_not_writable_by_others(dir: &Path) -> Result<(), BackupError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)
        .map_err(|e| io_error("reading the permissions of", dir, e))?
        .permissions()
        .mode()
        & 0o7777;
    if mode & 0o002 != 0 {
        return Err(BackupError::UnsafeDirectory {
            dir: dir.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_not_writable_by_others(_dir: &Path) -> Result<(), BackupError> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates an empty file only the owner can read (0600 from the start, so the data is never
/// readable by others, not even for a moment).
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// Copies the `main` database of `source` into `destination` in one backup step (one consistent
/// snapshot), retrying while the source or destination is locked, for at most `wait`.
fn copy_database(
    source: &Connection,
    destination: &mut Connection,
    wait: Duration,
) -> Result<(), CopyError> {
    let backup = Backup::new(source, destination).map_err(CopyError::Sqlite)?;
    let deadline = Instant::now() + wait;
    loop {
        // -1: all pages in one step, under one read lock. Smaller steps would let a concurrent
        // writer restart the copy again and again on a busy database.
        match backup.step(-1).map_err(CopyError::Sqlite)? {
            StepResult::Done => return Ok(()),
            StepResult::More => continue,
            StepResult::Busy | StepResult::Locked => {
                if Instant::now() >= deadline {
                    return Err(CopyError::Busy);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // StepResult is non-exhaustive; treat anything new as "try again".
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

enum CopyError {
    Sqlite(rusqlite::Error),
    Busy,
}

/// The file name of the database `conn` has open as `main`.
fn database_path(conn: &Connection) -> Result<PathBuf, BackupError> {
    match conn.path() {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(BackupError::NotAFile),
    }
}

fn file_name_of(path: &Path) -> Result<String, BackupError> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::NotABackup {
            path: path.to_path_buf(),
            reason: "the path has no file name".to_string(),
        })
}

/// Takes an online backup of the database `conn` has open into `dir` and keeps the newest
/// `keep` backups of that database (at least the new one).
///
/// `db_name` is the database's file name (`app.db`), which prefixes the backup name;
/// `revision` is the revision the database is at (`None`: read from its ledger). Safe while
/// other connections read and write: the copy is one consistent snapshot. `conn` may be inside a
/// transaction (the runner backs up under its write lock, before changing anything).
pub fn backup(
    conn: &Connection,
    dir: &Path,
    db_name: &str,
    revision: Option<&str>,
    keep: usize,
) -> Result<PathBuf, BackupError> {
    let path = backup_unpruned(conn, dir, db_name, revision)?;
    prune(dir, db_name, keep)?;
    Ok(path)
}

/// Takes a backup of the database file at `db_path` (for `qvdiff backup`).
pub fn backup_file(db_path: &Path, dir: &Path, keep: usize) -> Result<PathBuf, BackupError> {
    let conn = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error("opening", db_path, e))?;
    let db_name = file_name_of(db_path)?;
    backup(&conn, dir, &db_name, None, keep)
}

/// Takes a backup like [`backup`] without pruning the folder (the runner prunes once the run
/// has committed, so the backup of a failed run never pushes a good one out).
pub(crate) fn backup_unpruned(
    conn: &Connection,
    dir: &Path,
    db_name: &str,
    revision: Option<&str>,
) -> Result<PathBuf, BackupError> {
    let source_path = database_path(conn)?;
    // A file that is not a database (or is unreadable) only fails when read: read it now, before
    // a backup directory or a temporary file is created for nothing.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(|e| sqlite_error("reading the database", &source_path, e))?;
    let revision = match revision {
        Some(rev) => rev.to_string(),
        None => revision_label(conn),
    };
    ensure_private_dir(dir)?;
    let stamp = stamp_at(unix_now());
    let temp = dir.join(format!(
        ".{db_name}.{stamp}.{revision}.bak.tmp-{}-{}",
        std::process::id(),
        temp_discriminator()
    ));
    create_private_file(&temp).map_err(|e| io_error("creating", &temp, e))?;
    let result = write_backup(conn, &source_path, &temp, dir, db_name, &stamp, &revision);
    // The temporary name is gone on success (linked, then removed) and must go on failure.
    let _ = std::fs::remove_file(&temp);
    let _ = std::fs::remove_file(journal_of(&temp));
    result
}

/// A per-call number, so two threads of one process never share a temporary file name.
fn temp_discriminator() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn journal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push("-journal");
    PathBuf::from(name)
}

fn write_backup(
    conn: &Connection,
    source_path: &Path,
    temp: &Path,
    dir: &Path,
    db_name: &str,
    stamp: &str,
    revision: &str,
) -> Result<PathBuf, BackupError> {
    let mut destination =
        Connection::open(temp).map_err(|e| sqlite_error("opening the backup file", temp, e))?;
    copy_database(conn, &mut destination, LOCK_WAIT).map_err(|e| match e {
        CopyError::Sqlite(e) => sqlite_error("backing up", source_path, e),
        CopyError::Busy => BackupError::Busy {
            path: source_path.to_path_buf(),
            action: "take a backup".to_string(),
        },
    })?;
    destination
        .close()
        .map_err(|(_, e)| sqlite_error("closing the backup file", temp, e))?;
    set_mode(temp, 0o600).map_err(|e| io_error("restricting the permissions of", temp, e))?;
    std::fs::File::open(temp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("flushing", temp, e))?;

    // Sequence numbers only grow within a second (whatever the revision), so the newest backup
    // always sorts first, even after pruning freed a smaller number.
    let first_free = list_named(dir, db_name)?
        .iter()
        .filter(|(_, name)| name.stamp == stamp)
        .map(|(_, name)| name.sequence + 1)
        .max()
        .unwrap_or(1);
    // Link, don't rename: a link fails when the name exists, so a backup taken in the same
    // second by another process is never overwritten; the next sequence number is tried instead.
    for sequence in first_free.. {
        let name = BackupName {
            stamp: stamp.to_string(),
            sequence,
            revision: revision.to_string(),
        };
        let final_path = dir.join(backup_file_name(db_name, &name));
        match std::fs::hard_link(temp, &final_path) {
            Ok(()) => {
                sync_dir(dir);
                return Ok(final_path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error("naming the backup", &final_path, e)),
        }
    }
    unreachable!("the sequence numbers of one second never run out")
}

/// Makes a new directory entry durable (best effort: not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Every backup of `db_name` in `dir`, newest first. A missing directory has none.
pub fn list_backups(dir: &Path, db_name: &str) -> Result<Vec<BackupInfo>, BackupError> {
    Ok(list_named(dir, db_name)?
        .into_iter()
        .map(|(info, _)| info)
        .collect())
}

fn list_named(dir: &Path, db_name: &str) -> Result<Vec<(BackupInfo, BackupName)>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("reading the backup directory", dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error("reading the backup directory", dir, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = parse_backup_file_name(db_name, &file_name) else {
            continue;
        };
        let metadata = entry
            .metadata()
            .map_err(|e| io_error("reading", &entry.path(), e))?;
        if !metadata.is_file() {
            continue;
        }
        found.push((
            BackupInfo {
                path: entry.path(),
                size: metadata.len(),
                created: stamp_to_iso8601(&name.stamp),
                revision: name.revision.clone(),
            },
            name,
        ));
    }
    found.sort_by(|(_, a), (_, b)| (&b.stamp, b.sequence).cmp(&(&a.stamp, a.sequence)));
    Ok(found)
}

/// Deletes all but the newest `keep` backups of `db_name` in `dir` (at least one is kept).
/// Only files named like a backup of that database are ever deleted.
pub fn prune(dir: &Path, db_name: &str, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let mut removed = Vec::new();
    for (info, _) in list_named(dir, db_name)?.into_iter().skip(keep.max(1)) {
        std::fs::remove_file(&info.path)
            .map_err(|e| io_error("removing the old backup", &info.path, e))?;
        removed.push(info.path);
    }
    Ok(removed)
}

/// Which backup `restore [FILE|latest]` means: `latest` (or nothing) is the newest backup of
/// `db_name` in `dir`; anything else is a path.
pub fn find_backup(dir: &Path, db_name: &str, which: Option<&str>) -> Result<PathBuf, BackupError> {
    match which.map(str::trim) {
        None | Some("") | Some("latest") => list_backups(dir, db_name)?
            .into_iter()
            .next()
            .map(|info| info.path)
            .ok_or_else(|| BackupError::NoBackups {
                dir: dir.to_path_buf(),
                db_name: db_name.to_string(),
            }),
        Some(path) => Ok(PathBuf::from(path)),
    }
}

/// What is known about a backup file: from its name when qvdiff named it, otherwise its size,
/// the revision its ledger records, and `unknown` for the time.
pub fn describe_backup(path: &Path, db_name: &str) -> Result<BackupInfo, BackupError> {
    if !path.is_file() {
        return Err(BackupError::NotABackup {
            path: path.to_path_buf(),
            reason: "no such file".to_string(),
        });
    }
    let metadata = std::fs::metadata(path).map_err(|e| io_error("reading", path, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(name) = parse_backup_file_name(db_name, &file_name) {
        return Ok(BackupInfo {
            path: path.to_path_buf(),
            size: metadata.len(),
            created: stamp_to_iso8601(&name.stamp),
            revision: name.revision,
        });
    }
    let conn = open_backup_for_restore(path)?;
    Ok(BackupInfo {
        path: path.to_path_buf(),
        size: metadata.len(),
        created: "unknown".to_string(),
        revision: revision_label(&conn),
    })
}

/// Rows of one table that a restore takes out of the live database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscardedRows {
    /// The table.
    pub table: String,
    /// Rows the live database holds and the backup does not (new rows, and rows whose values
    /// in the columns both have differ), or every row of a table the backup lacks.
    pub rows: u64,
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The backup the database now holds.
    pub restored_from: PathBuf,
    /// The backup of the database as it was just before, in case the restore was a mistake.
    pub previous_state_backup: PathBuf,
    /// The application's rows that were in the database and are not in the restored one (they
    /// are still in `previous_state_backup`), per table; empty when nothing was lost.
    pub discarded: Vec<DiscardedRows>,
}

/// Replaces the database at `db_path` with the backup `backup_path`, after backing the current
/// database up into `backup_dir` (kept with the others, newest `keep`).
///
/// Refuses while another connection holds a write transaction (waiting at most
/// [`RESTORE_WRITER_WAIT`]). The copy goes through SQLite's backup API into the live database, so
/// it is atomic for other connections and the live database's WAL and shared-memory files stay
/// consistent; connections that stay open afterwards see the restored content.
pub fn restore(
    db_path: &Path,
    backup_path: &Path,
    backup_dir: &Path,
    keep: usize,
) -> Result<RestoreReport, BackupError> {
    let source = open_backup_for_restore(backup_path)?;
    let db_name = file_name_of(db_path)?;
    let mut live = Connection::open(db_path).map_err(|e| sqlite_error("opening", db_path, e))?;
    live.busy_timeout(RESTORE_WRITER_WAIT)
        .map_err(|e| sqlite_error("configuring", db_path, e))?;
    let busy = || BackupError::Busy {
        path: db_path.to_path_buf(),
        action: "restore it".to_string(),
    };
    // Taking the write lock and releasing it at once tells whether a writer is active, before
    // anything is done; the copy below takes the lock again for real.
    match live.execute_batch("BEGIN IMMEDIATE; ROLLBACK;") {
        Ok(()) => {}
        Err(e) if is_busy(&e) => return Err(busy()),
        Err(e) => return Err(sqlite_error("locking", db_path, e)),
    }
    let previous_state_backup = backup_unpruned(&live, backup_dir, &db_name, None)?;
    // Counted against the state just saved, before the copy: rows written since the backup
    // (by the application, between a deploy and its rollback) are named, not lost unseen.
    let discarded = rows_not_in_backup(&source, &previous_state_backup)
        .map_err(|e| sqlite_error("comparing the database with", backup_path, e))?;
    copy_database(&source, &mut live, RESTORE_WRITER_WAIT).map_err(|e| match e {
        CopyError::Sqlite(e) => sqlite_error("restoring into", db_path, e),
        CopyError::Busy => busy(),
    })?;
    drop(live);
    // Pruning after the copy: the file being restored may itself be the oldest backup.
    prune(backup_dir, &db_name, keep)?;
    Ok(RestoreReport {
        restored_from: backup_path.to_path_buf(),
        previous_state_backup,
        discarded,
    })
}

/// The rows of `current` (a database file) that the database `backup` has open does not hold,
/// per application table (qvdiff's and SQLite's own tables are left out). A table both have is
/// compared on the columns both have; a table only `current` has counts every row.
fn rows_not_in_backup(
    backup: &Connection,
    current: &Path,
) -> Result<Vec<DiscardedRows>, rusqlite::Error> {
    // `backup` is read-only, so the attached file is too.
    backup.execute(
        "ATTACH DATABASE ?1 AS qvdiff_current",
        [current.to_string_lossy()],
    )?;
    let counted = count_rows_not_in(backup);
    // Detached even after a failure: the copy must not find the database attached.
    let detached = backup.execute_batch("DETACH DATABASE qvdiff_current");
    let counted = counted?;
    detached?;
    Ok(counted)
}

fn count_rows_not_in(backup: &Connection) -> Result<Vec<DiscardedRows>, rusqlite::Error> {
    let columns = |schema: &str, table: &str| -> Result<Vec<String>, rusqlite::Error> {
        let mut stmt = backup.prepare("SELECT name FROM pragma_table_info(?1, ?2) ORDER BY cid")?;
        let names = stmt
            .query_map([table, schema], |row| row.get::<_, String>(0))?
            .collect();
        names
    };
    let tables: Vec<String> = {
        let mut stmt = backup.prepare(
            "SELECT name FROM qvdiff_current.sqlite_master WHERE type = 'table' ORDER BY name",
        )?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        names
    };
    let mut discarded = Vec::new();
    for table in tables
        .into_iter()
        .filter(|t| !crate::introspect::is_internal_table(t))
    {
        let in_backup = columns("main", &table)?;
        let quoted_table = crate::quote_ident(&table);
        let sql = if in_backup.is_empty() {
            format!("SELECT count(*) FROM qvdiff_current.{quoted_table}")
        } else {
            let common: Vec<String> = columns("qvdiff_current", &table)?
                .into_iter()
                .filter(|c| in_backup.contains(c))
                .map(|c| crate::quote_ident(&c))
                .collect();
            if common.is_empty() {
                format!("SELECT count(*) FROM qvdiff_current.{quoted_table}")
            } else {
                let list = common.join(", ");
                format!(
                    "SELECT count(*) FROM (SELECT {list} FROM qvdiff_current.{quoted_table} \
                     EXCEPT SELECT {list} FROM main.{quoted_table})"
                )
            }
        };
        let rows: i64 = backup.query_row(&sql, [], |row| row.get(0))?;
        if rows > 0 {
            discarded.push(DiscardedRows {
                table,
                rows: rows as u64,
            });
        }
    }
    Ok(discarded)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Opens a backup read-only and checks it is an intact SQLite database.
fn open_backup_for_restore(path: &Path) -> Result<Connection, BackupError> {
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(not_a_backup("no such file".to_string()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_a_backup(e.to_string()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| not_a_backup(e.to_string()))?;
    if check != "ok" {
        return Err(not_a_backup(format!("integrity check failed: {check}")));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let name = BackupName {
            stamp: stamp_at(1_795_000_000),
            sequence: 1,
            revision: "20261120093000".to_string(),
        };
        let file = backup_file_name("app.db", &name);
        assert_eq!(file, "app.db.20261118-110640.20261120093000.bak");
        assert_eq!(parse_backup_file_name("app.db", &file), Some(name.clone()));
        let second = BackupName {
            sequence: 2,
            ..name
        };
        let file = backup_file_name("app.db", &second);
        assert_eq!(file, "app.db.20261118-110640-2.20261120093000.bak");
        assert_eq!(parse_backup_file_name("app.db", &file), Some(second));
        assert_eq!(parse_backup_file_name("other.db", &file), None);
        assert_eq!(parse_backup_file_name("app.db", "app.db.notes.bak"), None);
        assert_eq!(stamp_to_iso8601("20261118-110640"), "2026-11-18T11:06:40Z");
    }
}
