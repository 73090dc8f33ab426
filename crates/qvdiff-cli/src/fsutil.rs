//! File writes that never leave half a file behind.

use crate::error::{io_error, CliResult};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same directory and an atomic rename,
/// so readers see either the old file or the whole new one. With `create_new`, an existing `path`
/// is an error and is left untouched.
///
/// A new file gets the permissions any new file gets (0666 less the umask), a replaced one keeps
/// its own: the temporary file's private 0600 would otherwise shut out a deploy user or a
/// teammate.
pub fn write_atomic(path: &Path, bytes: &[u8], create_new: bool) -> CliResult<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let existing = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut tmp = tempfile::Builder::new()
        .prefix(".qvdiff-")
        .suffix(".tmp")
        // Passed to open(2), which takes the umask away.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| io_error("create a temporary file in", dir, e))?;
    if let Some(permissions) = existing.filter(|_| !create_new) {
        std::fs::set_permissions(tmp.path(), permissions)
            .map_err(|e| io_error("set the permissions of", tmp.path(), e))?;
    }
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
