//! The password when the database URL has none, found as libpq finds it: `PGPASSWORD`, then the
//! password file (`PGPASSFILE`, or `~/.pgpass`; `%APPDATA%\postgresql\pgpass.conf` on Windows).

use std::path::{Path, PathBuf};

/// Where the password of a connection came from, or why the password file was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordLookup {
    /// `PGPASSWORD` or a matching password-file line.
    Found(String),
    /// No password anywhere (a server that trusts the client needs none).
    Missing,
    /// The password file exists but was skipped: the reason, for the error message.
    Skipped(String),
}

/// Who and where the connection goes, as the password file's lines name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordKey<'a> {
    /// Host name (or `localhost` for the default socket directory).
    pub host: &'a str,
    /// Port, as text.
    pub port: &'a str,
    /// Database name.
    pub database: &'a str,
    /// User name.
    pub user: &'a str,
}

/// `PGPASSWORD` when set and not empty, else the first line of the password file matching
/// `key`.
pub fn lookup_password(key: &PasswordKey<'_>) -> PasswordLookup {
    if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return PasswordLookup::Found(password);
    }
    let Some(path) = password_file() else {
        return PasswordLookup::Missing;
    };
    let Ok(metadata) = std::fs::metadata(&path) else {
        return PasswordLookup::Missing;
    };
    if !metadata.is_file() {
        return PasswordLookup::Skipped(format!(
            "the password file {} is not a plain file",
            path.display()
        ));
    }
    if let Some(reason) = too_open(&path, &metadata) {
        return PasswordLookup::Skipped(reason);
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => match find_password(&text, key) {
            Some(password) => PasswordLookup::Found(password),
            None => PasswordLookup::Missing,
        },
        Err(e) => PasswordLookup::Skipped(format!("cannot read {}: {e}", path.display())),
    }
}

/// The password file's path: `PGPASSFILE`, else the per-user default.
fn password_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if cfg!(windows) {
        std::env::var_os("APPDATA").map(|dir| Path::new(&dir).join("postgresql/pgpass.conf"))
    } else {
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass"))
    }
}

/// Why a password file that group or others may read or write is skipped (libpq's rule: the
/// file holds passwords, so it must be `0600` or stricter); `None` when it is private.
#[cfg(unix)]
fn too_open(path: &Path, metadata: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the password file {} was not read: group or others can access it (mode {mode:04o}); \
             make it private with `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn too_open(_path: &Path, _metadata: &std::fs::Metadata) -> Option<String> {
    None
}

/// The password of the first line of a password file (`host:port:database:user:password`,
/// `*` matching anything, `\:` and `\\` escapes, `#` comments) that matches `key`.
pub fn find_password(text: &str, key: &PasswordKey<'_>) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            return None;
        }
        let wanted = [key.host, key.port, key.database, key.user];
        let matches = fields
            .iter()
            .zip(wanted)
            .all(|(field, value)| field == "*" || field == value);
        // As libpq does, the password ends at the next unescaped `:`.
        matches.then(|| fields[4].clone())
    })
}

/// `a:b\:c:d\\e` → `["a", "b:c", "d\e"]`.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::{find_password, PasswordKey};

    const KEY: PasswordKey<'static> = PasswordKey {
        host: "db.example",
        port: "5432",
        database: "shop",
        user: "app",
    };

    #[test]
    fn first_matching_line_wins() {
        let file = "# comment\n\
                    other:5432:shop:app:wrong-host\n\
                    db.example:5433:shop:app:wrong-port\n\
                    db.example:5432:*:app:s3cret\n\
                    *:*:*:*:fallback\n";
        assert_eq!(find_password(file, &KEY).as_deref(), Some("s3cret"));
        let other_user = PasswordKey { user: "ops", ..KEY };
        assert_eq!(
            find_password(file, &other_user).as_deref(),
            Some("fallback")
        );
    }

    #[test]
    fn escapes_and_short_lines() {
        assert_eq!(
            find_password("db.example:5432:shop:app:a\\:b\\\\c\r\n", &KEY).as_deref(),
            Some("a:b\\c")
        );
        assert_eq!(
            find_password("db.example:5432:shop:app:x:y\n", &KEY).as_deref(),
            Some("x")
        );
        assert_eq!(find_password("db.example:5432:shop:app\n", &KEY), None);
        assert_eq!(
            find_password("db\\.example:5432:shop:app:p", &KEY).as_deref(),
            Some("p")
        );
        assert_eq!(find_password("", &KEY), None);
    }
}
