//! qvdiff's cache directory: results that depend only on their inputs and on the qvdiff build,
//! kept between runs so an unchanged project is not parsed or replayed again.
//!
//! Two kinds of entry live there: replayed migration chains (`replay-*`, see
//! [`crate::baseline`]) and the models captured from each source item (`items-*`, see
//! [`crate::models`]). The directory is
//! `QVDIFF_CACHE_DIR`, else `$XDG_CACHE_HOME/qvdiff`, else `~/.cache/qvdiff`; `QVDIFF_NO_CACHE=1`
//! turns caching off. Every key includes [`build_identity`], so a rebuilt qvdiff never trusts an
//! older build's results. The cache is an optimisation only: any failure to read or write it is
//! ignored and the work is done again; failures are never cached.

use std::path::{Path, PathBuf};

/// How many entries of each kind are kept (the most recently used).
pub const KEEP: usize = 4;

/// The cache directory, or `None` when caching is off or no directory can be named.
pub fn dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if non_empty("QVDIFF_NO_CACHE").is_some_and(|v| v != "0") {
        return None;
    }
    if let Some(dir) = non_empty("QVDIFF_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(Path::new(&dir).join("qvdiff"));
    }
    non_empty("HOME").map(|home| Path::new(&home).join(".cache").join("qvdiff"))
}

/// What identifies this build of qvdiff: its version, the running executable's size and
/// modification time, and the SQLite it embeds. `None` when the executable cannot be read (then
/// nothing could tell an older build's entries apart, and nothing is cached).
pub fn build_identity() -> Option<String> {
    let exe = std::env::current_exe().ok()?.metadata().ok()?;
    let modified = exe
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{}\n{}\n{}\n{}\n",
        env!("CARGO_PKG_VERSION"),
        exe.len(),
        modified.as_nanos(),
        crate::dialects::engine_identity()
    ))
}

/// Writes through a temporary file and a rename, so a reader never sees half an entry.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> bool {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let ok = std::fs::write(&temporary, bytes).is_ok() && std::fs::rename(&temporary, path).is_ok();
    if !ok {
        let _ = std::fs::remove_file(&temporary);
    }
    ok
}

/// Marks an entry as just used, for [`evict`].
pub fn touch(path: &Path) {
    let _ = std::fs::File::options()
        .append(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
}

/// Keeps the [`KEEP`] most recently used `<prefix>*.json` entries; an evicted entry's files
/// with the `companions` extensions go with it.
pub fn evict(dir: &Path, prefix: &str, companions: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .filter_map(|p| Some((p.metadata().ok()?.modified().ok()?, p)))
        .collect();
    found.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    for (_, entry) in found.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(&entry);
        for extension in companions {
            let _ = std::fs::remove_file(entry.with_extension(extension));
        }
    }
}
