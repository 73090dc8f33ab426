//! File writes that never leave half a file behind.

use crate::error::{io_error, CliResult};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and an atomic rename,
/// so readers see either the old file or the whole new one. With `create_new`, an existing `path`
/// is an error and is left untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], create_new: bool) -> CliResult<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".qvdiff-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_error("create a temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| io_error("write", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| io_error("sync", tmp.path(), e))?;
    if create_new {
        tmp.persist_noclobber(path)
            .map_err(|e| io_error("create", path, e.error))?;
    } else {
        tmp.persist(path)
            .map_err(|e| io_error("write", path, e.error))?;
    }
    Ok(())
}
