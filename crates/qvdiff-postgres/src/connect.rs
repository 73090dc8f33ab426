//! Connecting to a PostgreSQL server, and naming it in messages without its password.

use crate::error::PgError;
use postgres::{Client, Config, NoTls};
use qvdiff_core::{BackendError, BackendErrorKind};
use std::time::Duration;

/// How long [`connect`] waits for the server when the URL sets no `connect_timeout`: a
/// firewalled host would otherwise hang a deploy for minutes with no message.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects without TLS to `url` (`postgres://user:password@host:port/db?options`, or libpq's
/// `key=value` form).
///
/// Unless the URL says otherwise, the connection waits at most [`DEFAULT_CONNECT_TIMEOUT`] and
/// shows as `application_name = qvdiff` in `pg_stat_activity` (so a DBA sees who holds the
/// migration lock). An error names the URL without its password.
pub fn connect(url: &str) -> Result<Client, PgError> {
    let redacted = redact_url(url);
    let mut config: Config = url.parse().map_err(|e: postgres::Error| {
        PgError::new(
            format!("reading the database URL {redacted}"),
            e.to_string(),
        )
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("qvdiff");
    }
    config.connect(NoTls).map_err(|e| {
        let mut error = PgError::from_pg(format!("connecting to {redacted}"), e);
        let lower = url.to_ascii_lowercase();
        if ["sslmode=require", "sslmode=verify"]
            .iter()
            .any(|mode| lower.contains(mode))
        {
            error
                .message
                .push_str(" (qvdiff connects without TLS: use sslmode=disable or prefer)");
        }
        error
    })
}

/// `url` with any password replaced by `***`: the `user:password@` of a URL, a `password=`
/// query parameter, and the `password=` of libpq's `key=value` form.
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        // The authority ends at the first `/`, `?` or `#`; a password may itself hold `/` or
        // `@` only percent-encoded, so the last `@` before that end closes the user info.
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let redacted_authority = match authority.rfind('@') {
            Some(at) => match authority[..at].find(':') {
                Some(colon) => format!("{}:***{}", &authority[..colon], &authority[at..]),
                None => authority.to_string(),
            },
            None => authority.to_string(),
        };
        let tail = &rest[authority_end..];
        let tail = match tail.find('?') {
            Some(q) => format!("{}?{}", &tail[..q], redact_query(&tail[q + 1..])),
            None => tail.to_string(),
        };
        return format!("{}{redacted_authority}{tail}", &url[..scheme_end + 3]);
    }
    redact_key_values(url)
}

/// `a=1&password=x` → `a=1&password=***`.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `host=h password='a b' user=u` → `host=h password=*** user=u` (values may be quoted, with
/// `\'` and `\\` escapes, as libpq reads them).
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let before = rest[..eq].trim_end();
        let key_start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let is_password = before[key_start..].eq_ignore_ascii_case("password");
        out.push_str(&rest[..=eq]);
        let after = &rest[eq + 1..];
        let value_start = after.len() - after.trim_start().len();
        let value = &after[value_start..];
        let value_len = if value.starts_with('\'') {
            let mut escaped = false;
            value
                .char_indices()
                .skip(1)
                .find(|&(_, c)| {
                    let closes = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                })
                .map_or(value.len(), |(i, _)| i + 1)
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str(&after[..value_start]);
        if is_password {
            out.push_str("***");
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

/// A live PostgreSQL database for the deploy commands: a connection and the URL it came from,
/// without its password, for messages. Its runner methods (`upgrade`, `downgrade`, `stamp`,
/// …) are in [`crate::runner`].
pub struct PostgresDatabase {
    /// The connection.
    pub client: Client,
    url_redacted: String,
}

impl PostgresDatabase {
    /// Connects to `url` (see [`connect`]).
    pub fn open(url: &str) -> Result<PostgresDatabase, BackendError> {
        let client = connect(url).map_err(|e| BackendError {
            kind: BackendErrorKind::Failed,
            message: e.to_string(),
        })?;
        Ok(PostgresDatabase {
            client,
            url_redacted: redact_url(url),
        })
    }

    /// The database URL without its password, for messages.
    pub fn url_redacted(&self) -> &str {
        &self.url_redacted
    }
}

impl std::fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("url", &self.url_redacted)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db.example:5432/shop?sslmode=disable"),
            "postgres://app:***@db.example:5432/shop?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://app@db/shop"),
            "postgresql://app@db/shop"
        );
        assert_eq!(
            redact_url("postgres://db/shop?user=app&password=hunter2"),
            "postgres://db/shop?user=app&password=***"
        );
        assert_eq!(redact_url("postgres://a:b@c"), "postgres://a:***@c");
        assert_eq!(
            redact_url("host=db password='it\\'s secret' dbname=shop"),
            "host=db password=*** dbname=shop"
        );
        assert_eq!(
            redact_url("host=db password = hunter2 user=app"),
            "host=db password = *** user=app"
        );
        assert_eq!(redact_url("host=db user=app"), "host=db user=app");
    }
}
