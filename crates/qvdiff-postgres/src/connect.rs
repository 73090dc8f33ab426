//! Connecting to a PostgreSQL server (over TLS as libpq's `sslmode` asks, with the password
//! from the URL, `PGPASSWORD` or the password file), and naming it in messages without its
//! password.

use crate::error::PgError;
use crate::pgpass::{lookup_password, PasswordKey, PasswordLookup};
use crate::session::Session;
use crate::tls::{client_config, MakeRustlsConnect, Verification};
use postgres::config::{Host, SslMode as DriverSslMode};
use postgres::error::SqlState;
use postgres::{Client, Config};
use qvdiff_core::{BackendError, BackendErrorKind};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, RootCertStore};
use std::time::Duration;

/// How long [`connect`] waits for the server when the URL sets no `connect_timeout`: a
/// firewalled host would otherwise hang a deploy for minutes with no message.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// libpq's `sslmode`: whether the connection is encrypted and how much of the server's
/// certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Try without TLS first, with TLS if the server refuses.
    Allow,
    /// Encrypt when the server offers TLS (the default).
    Prefer,
    /// Always encrypt; check the certificate only when `sslrootcert` is given.
    Require,
    /// Encrypt, and check that a trusted authority signed the server's certificate.
    VerifyCa,
    /// As `verify-ca`, and check that the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Reads libpq's spelling (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
    /// `verify-full`).
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// The TLS settings of a database URL, which qvdiff reads itself (the driver knows only
/// `disable`, `prefer` and `require`, and no `sslrootcert`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `sslmode`, when the URL sets it.
    pub mode: Option<String>,
    /// `sslrootcert`, when the URL sets it: a file of CA certificates, or `system`.
    pub root_cert: Option<String>,
}

/// Splits `sslmode` and `sslrootcert` off a database URL (either form): the rest, for the
/// driver, and their values.
pub fn take_tls_options(url: &str) -> (String, TlsOptions) {
    let mut options = TlsOptions::default();
    let mut keep = |key: &str, value: String| {
        if key.eq_ignore_ascii_case("sslmode") {
            options.mode = Some(value);
            false
        } else if key.eq_ignore_ascii_case("sslrootcert") {
            options.root_cert = Some(value);
            false
        } else {
            true
        }
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let (query, fragment) = match query.split_once('#') {
                    Some((q, f)) => (q, Some(f)),
                    None => (query, None),
                };
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        keep(key, percent_decode(value))
                    })
                    .collect();
                let mut rest = base.to_string();
                if !kept.is_empty() {
                    rest.push('?');
                    rest.push_str(&kept.join("&"));
                }
                if let Some(fragment) = fragment {
                    rest.push('#');
                    rest.push_str(fragment);
                }
                rest
            }
            None => url.to_string(),
        }
    } else {
        let mut rest = String::with_capacity(url.len());
        let mut last = 0;
        for pair in key_value_pairs(url) {
            if !keep(pair.key, pair.value) {
                rest.push_str(&url[last..pair.start]);
                last = pair.end;
            }
        }
        rest.push_str(&url[last..]);
        rest
    };
    (rest, options)
}

/// `%2F` → `/`; a malformed escape stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One `key=value` of libpq's keyword form, with the byte range it covers.
struct KeyValue<'a> {
    key: &'a str,
    /// The value with quotes and escapes removed.
    value: String,
    /// Where the pair starts (its key), where its value starts, and where it ends.
    start: usize,
    value_start: usize,
    end: usize,
}

/// The `key = value` pairs of libpq's keyword form (values may be quoted, with `\'` and `\\`
/// escapes).
fn key_value_pairs(text: &str) -> Vec<KeyValue<'_>> {
    let mut pairs = Vec::new();
    let mut rest_start = 0;
    while let Some(eq) = text[rest_start..].find('=').map(|i| i + rest_start) {
        let before = text[rest_start..eq].trim_end();
        let key_start = rest_start
            + before
                .rfind(char::is_whitespace)
                .map_or(before.len() - before.trim_start().len(), |i| i + 1);
        let key = &text[key_start..rest_start + before.len()];
        let after = &text[eq + 1..];
        let value_start = eq + 1 + (after.len() - after.trim_start().len());
        let raw = &text[value_start..];
        let (value, len) = if let Some(quoted) = raw.strip_prefix('\'') {
            let mut value = String::new();
            let mut escaped = false;
            let mut len = raw.len();
            for (i, c) in quoted.char_indices() {
                if escaped {
                    value.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\'' {
                    len = i + 2;
                    break;
                } else {
                    value.push(c);
                }
            }
            (value, len)
        } else {
            let len = raw.find(char::is_whitespace).unwrap_or(raw.len());
            (raw[..len].to_string(), len)
        };
        pairs.push(KeyValue {
            key,
            value,
            start: key_start,
            value_start,
            end: value_start + len,
        });
        rest_start = value_start + len;
    }
    pairs
}

/// The driver's reading of `url` without connecting (qvdiff's TLS options taken out): a URL
/// that cannot be read is refused where it is written down (`qvdiff init`), not at the first
/// connection.
pub fn parse_url(url: &str) -> Result<Config, PgError> {
    let (driver_url, _) = take_tls_options(url);
    driver_url.parse().map_err(|e: postgres::Error| {
        PgError::new(
            format!("reading the database URL {}", redact_url(url)),
            e.to_string(),
        )
    })
}

/// Connects to `url` (`postgres://user:password@host:port/db?options`, or libpq's
/// `key=value` form), over TLS as its `sslmode` asks (`prefer` when it says nothing).
///
/// As libpq: `sslmode` and `sslrootcert` may also come from `PGSSLMODE` and `PGSSLROOTCERT`;
/// `verify-ca` and `verify-full` check the server's certificate against `sslrootcert` (a PEM
/// file of CA certificates) or, without it or with `sslrootcert=system`, the system's root
/// certificates; a URL without a password takes it from `PGPASSWORD`, then from the password
/// file (`PGPASSFILE` or `~/.pgpass`, read only when no one but its owner can access it).
///
/// Unless the URL says otherwise, the connection waits at most [`DEFAULT_CONNECT_TIMEOUT`] and
/// shows as `application_name = qvdiff` in `pg_stat_activity` (so a DBA sees who holds the
/// migration lock). An error names the URL without its password, and says what to change.
pub fn connect(url: &str) -> Result<Client, PgError> {
    let redacted = redact_url(url);
    let reading = || format!("reading the database URL {redacted}");
    let (_, options) = take_tls_options(url);
    let mut config = parse_url(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("qvdiff");
    }
    let from_env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (mode_text, mode_source) = match (options.mode, from_env("PGSSLMODE")) {
        (Some(mode), _) => (Some(mode), "sslmode"),
        (None, Some(mode)) => (Some(mode), "PGSSLMODE"),
        (None, None) => (None, "sslmode"),
    };
    let root_cert = options.root_cert.or_else(|| from_env("PGSSLROOTCERT"));
    let system_roots = root_cert.as_deref() == Some("system");
    let mode = match mode_text {
        Some(text) => SslMode::parse(&text).ok_or_else(|| {
            PgError::new(
                reading(),
                format!(
                    "{mode_source}={text} is not a TLS mode: use disable, allow, prefer, \
                     require, verify-ca or verify-full"
                ),
            )
        })?,
        // libpq: the system's roots serve to check a host name, so they imply verify-full.
        None if system_roots => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if system_roots && mode != SslMode::VerifyFull {
        return Err(PgError::new(
            reading(),
            format!(
                "sslrootcert=system checks the server against the system's root certificates, \
                 which needs sslmode=verify-full (not {})",
                mode.as_str()
            ),
        ));
    }
    // libpq: TLS is never used over a Unix socket, whatever sslmode says.
    let hosts = config.get_hosts();
    #[cfg(unix)]
    let unix_only = !hosts.is_empty() && hosts.iter().all(|h| matches!(h, Host::Unix(_)));
    #[cfg(not(unix))]
    let unix_only = false;
    let mode = if unix_only { SslMode::Disable } else { mode };
    let verification = match mode {
        SslMode::VerifyFull => Verification::Full,
        SslMode::VerifyCa => Verification::Chain,
        // libpq: with a root certificate given, `require` checks the chain too.
        SslMode::Require if root_cert.is_some() => Verification::Chain,
        _ => Verification::None,
    };
    let roots_label = match root_cert.as_deref() {
        Some(file) if !system_roots => format!("the CA certificates of sslrootcert={file}"),
        _ => "the system's root certificates".to_string(),
    };
    let roots = match verification {
        Verification::None => RootCertStore::empty(),
        _ => load_roots(root_cert.as_deref().filter(|_| !system_roots))
            .map_err(|message| PgError::new(format!("connecting to {redacted}"), message))?,
    };
    let tls = client_config(verification, roots)
        .map(MakeRustlsConnect::new)
        .map_err(|e| PgError::new(format!("connecting to {redacted}"), e.to_string()))?;
    let mut password_note = None;
    if config.get_password().is_none() {
        let key = password_key(&config);
        match lookup_password(&PasswordKey::from(&key)) {
            PasswordLookup::Found(password) => {
                config.password(password);
            }
            PasswordLookup::Missing => {}
            PasswordLookup::Skipped(reason) => password_note = Some(reason),
        }
    }
    let result = match mode {
        SslMode::Disable => config.ssl_mode(DriverSslMode::Disable).connect(tls.clone()),
        SslMode::Allow => config
            .ssl_mode(DriverSslMode::Disable)
            .connect(tls.clone())
            .or_else(|plain_error| match plain_error.as_db_error() {
                // Refused by the server (not unreachable): try again with TLS.
                Some(_) => config.ssl_mode(DriverSslMode::Require).connect(tls.clone()),
                None => Err(plain_error),
            }),
        SslMode::Prefer => config.ssl_mode(DriverSslMode::Prefer).connect(tls.clone()),
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            config.ssl_mode(DriverSslMode::Require).connect(tls.clone())
        }
    };
    result.map_err(|e| {
        let hint = connect_hint(&e, mode, &roots_label, &config);
        let mut error = PgError::from_pg(format!("connecting to {redacted}"), e);
        if let Some(hint) = hint {
            error.message.push_str(&format!(": {hint}"));
        }
        if let Some(note) = password_note {
            error.message.push_str(&format!(" ({note})"));
        }
        error
    })
}

/// The CA certificates of `file`, or the system's when `None`.
fn load_roots(file: Option<&str>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match file {
        Some(file) => {
            let certificates = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("reading sslrootcert={file}: {e}"))?;
            if certificates.is_empty() {
                return Err(format!(
                    "sslrootcert={file} holds no PEM certificate (-----BEGIN CERTIFICATE-----): \
                     give the CA bundle your provider publishes"
                ));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|e| format!("reading sslrootcert={file}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err("no system root certificates found to check the server's \
                            certificate: install the system's CA certificates, or set \
                            sslrootcert to the CA file of the server"
                    .to_string());
            }
        }
    }
    Ok(roots)
}

/// The password file's view of where `config` connects: the first host (`localhost` for a
/// socket directory, as libpq), port, database and user, with the driver's defaults.
fn password_key(config: &Config) -> PasswordKeyOwned {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(_)) => "localhost".to_string(),
        None => config
            .get_hostaddrs()
            .first()
            .map_or("localhost".to_string(), |addr| addr.to_string()),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config
        .get_user()
        .map(str::to_string)
        .or_else(|| whoami::username().ok())
        .unwrap_or_default();
    let database = config.get_dbname().map_or(user.clone(), str::to_string);
    PasswordKeyOwned {
        host,
        port,
        database,
        user,
    }
}

/// [`PasswordKey`] owning its parts.
struct PasswordKeyOwned {
    host: String,
    port: String,
    database: String,
    user: String,
}

impl<'a> From<&'a PasswordKeyOwned> for PasswordKey<'a> {
    fn from(key: &'a PasswordKeyOwned) -> PasswordKey<'a> {
        PasswordKey {
            host: &key.host,
            port: &key.port,
            database: &key.database,
            user: &key.user,
        }
    }
}

/// What to change when a connection failed for a TLS reason, or `None`.
fn connect_hint(
    error: &postgres::Error,
    mode: SslMode,
    roots_label: &str,
    config: &Config,
) -> Option<String> {
    if let Some(db) = error.as_db_error() {
        let refused_plain = *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().contains("no encryption");
        return (refused_plain && mode == SslMode::Disable).then(|| {
            "the server accepts only encrypted connections from here: remove sslmode=disable \
             (the default, prefer, encrypts when the server offers TLS) or set \
             sslmode=verify-full"
                .to_string()
        });
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        let tls_error = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| cause.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(certificate)) = tls_error {
            let host = match config.get_hosts().first() {
                Some(Host::Tcp(host)) => host.as_str(),
                _ => "the host",
            };
            return Some(match certificate {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                    "the server's certificate is not signed by {roots_label}: set sslrootcert \
                     to the CA certificate that signed it (managed databases publish theirs)"
                ),
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's certificate does not name the host {host}: connect with a \
                     host name the certificate names, or set sslmode=verify-ca to check the \
                     certificate's authority only"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired: renew it on the server".to_string()
                }
                _ => format!(
                    "the server's certificate was refused under sslmode={}",
                    mode.as_str()
                ),
            });
        }
        if cause.to_string().contains("server does not support TLS") {
            return Some(format!(
                "sslmode={} needs TLS: turn ssl on in the server's postgresql.conf, or set \
                 sslmode=prefer to connect without encryption",
                mode.as_str()
            ));
        }
        source = cause.source();
    }
    None
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

/// `host=h password='a b' user=u` → `host=h password=*** user=u`.
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for pair in key_value_pairs(text) {
        if pair.key.eq_ignore_ascii_case("password") {
            out.push_str(&text[last..pair.value_start]);
            out.push_str("***");
            last = pair.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Makes `schema` the only schema of the session's `search_path`, so that every unqualified name
/// — the tables migrations create, introspection, the ledger — is in it (the project's
/// `[postgres] schema`). `create`: a missing schema is created first (`upgrade`, `port`);
/// otherwise a missing schema is an error that says how to create it. `database` names the
/// database in messages (without its password).
pub fn use_schema(
    session: &mut (impl crate::session::Session + ?Sized),
    database: &str,
    schema: &str,
    create: bool,
) -> Result<(), PgError> {
    let context = || format!("using schema {schema} of {database}");
    let quoted = crate::render::quote_ident(schema);
    // One round trip: the search path is set only when the schema exists (created first when
    // `create`), so a refusal leaves the session as it was.
    let use_it = format!(
        "SELECT set_config('search_path', {}, false) FROM pg_catalog.pg_namespace \
         WHERE nspname = {}",
        crate::render::quote_string(&quoted),
        crate::render::quote_string(schema)
    );
    let sql = if create {
        format!("CREATE SCHEMA IF NOT EXISTS {quoted};\n{use_it}")
    } else {
        use_it
    };
    let rows = session
        .simple_query(&sql)
        .map_err(|e| PgError::new(context(), e.message))?;
    if rows.is_empty() {
        return Err(PgError::new(
            context(),
            format!(
                "schema {schema} ([postgres] schema in qvdiff.toml) does not exist; `qvdiff \
                 upgrade` creates it, or create it yourself: CREATE SCHEMA {quoted}"
            ),
        ));
    }
    Ok(())
}

/// A live PostgreSQL database for the deploy commands: a connection and the URL it came from,
/// without its password, for messages. Its runner methods (`upgrade`, `downgrade`, `stamp`,
/// …) are in [`crate::runner`]. `S` is the connection: the CLI's own [`Client`], or any
/// [`Session`] an application lends (its `Client`, a connection of its sqlx pool).
pub struct PostgresDatabase<S = Client> {
    /// The connection.
    pub client: S,
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

    /// A database over a connection already made (one that [`use_schema`] pointed at a schema
    /// of its own); `url` names it in messages, without its password.
    pub fn from_client(client: Client, url: &str) -> PostgresDatabase {
        PostgresDatabase {
            client,
            url_redacted: redact_url(url),
        }
    }
}

impl<S: Session> PostgresDatabase<S> {
    /// A database over a session an application lends, named in messages by the server:
    /// `database <name>` (the application's URL and password stay its own).
    pub fn on_session(mut session: S) -> PostgresDatabase<S> {
        let name = match session.query_value("SELECT current_database()") {
            Ok(Some(name)) => format!("database {name}"),
            _ => "the database".to_string(),
        };
        PostgresDatabase {
            client: session,
            url_redacted: name,
        }
    }
}

impl<S> PostgresDatabase<S> {
    /// The database URL without its password (or the server's name for it), for messages.
    pub fn url_redacted(&self) -> &str {
        &self.url_redacted
    }
}

impl<S> std::fmt::Debug for PostgresDatabase<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("url", &self.url_redacted)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::{redact_url, take_tls_options, SslMode, TlsOptions};

    #[test]
    fn tls_options_are_taken_out_of_both_url_forms() {
        let options = |mode: &str, root: &str| TlsOptions {
            mode: Some(mode.to_string()),
            root_cert: Some(root.to_string()),
        };
        assert_eq!(
            take_tls_options(
                "postgres://app@db/shop?sslmode=verify-full&connect_timeout=5&sslrootcert=%2Fetc%2Fca%20x.pem"
            ),
            (
                "postgres://app@db/shop?connect_timeout=5".to_string(),
                options("verify-full", "/etc/ca x.pem")
            )
        );
        assert_eq!(
            take_tls_options("postgres://app@db/shop?sslrootcert=system&SSLMODE=require"),
            (
                "postgres://app@db/shop".to_string(),
                options("require", "system")
            )
        );
        assert_eq!(
            take_tls_options("host=db sslmode = verify-ca sslrootcert='/a b/it\\'s.pem' user=app"),
            (
                "host=db   user=app".to_string(),
                options("verify-ca", "/a b/it's.pem")
            )
        );
        assert_eq!(
            take_tls_options("postgres://app@db/shop"),
            ("postgres://app@db/shop".to_string(), TlsOptions::default())
        );
    }

    #[test]
    fn ssl_modes_read_as_libpq_spells_them() {
        for mode in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(SslMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(SslMode::parse("verify_full"), None);
        assert_eq!(SslMode::parse("Require"), None);
    }

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
