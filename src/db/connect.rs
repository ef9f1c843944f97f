//! Where a PostgreSQL server is and how to reach it: a connection string's
//! settings plus, when it asks for it, TLS verified the way libpq's
//! `sslmode=verify-full` verifies it.
//!
//! A connection string takes libpq's TLS words, so the one `psql` uses works
//! here too:
//!
//! - `sslmode=verify-full sslrootcert=/path/ca.pem`: TLS or no connection;
//!   the server's certificate must chain to that certificate authority and
//!   name the host connected to. A server without TLS is refused.
//! - `sslmode=disable`, `allow` or `prefer` (libpq's default) without
//!   `sslrootcert`: a plain connection, as before TLS was configured.
//!
//! `require` and `verify-ca` are refused with an explanation: encrypting
//! without checking whom to (or checking the chain but not the name) leaves
//! the connection open to an impostor, and `verify-full` costs nothing more
//! once the authority is named.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// One PostgreSQL server: its settings and, when required, its TLS.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: Option<Tls>,
}

/// A connection string's settings, and the certificate authority to verify
/// the server against when it asks for TLS; nothing is read from disk.
pub fn settings_of(conninfo: &str) -> anyhow::Result<(tokio_postgres::Config, Option<PathBuf>)> {
    let (rest, words) = take_tls_words(conninfo)?;
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|error| anyhow::anyhow!("the database connection string is invalid: {error}"))?;
    let authority = match (words.mode.as_deref(), words.root_cert) {
        (Some("verify-full"), Some(authority)) => {
            config.ssl_mode(SslMode::Require);
            Some(authority)
        }
        (Some("verify-full"), None) => bail!(
            "sslmode=verify-full needs sslrootcert=<file>: the certificate authority the \
             database server's certificate must chain to"
        ),
        (Some(mode @ ("require" | "verify-ca")), _) => bail!(
            "sslmode={mode} is not supported: it would not check that the server is the one \
             named. Use sslmode=verify-full with sslrootcert=<the authority's certificate>"
        ),
        (_, Some(_)) => bail!(
            "sslrootcert is set but sslmode is not verify-full: add sslmode=verify-full to \
             use TLS, or drop sslrootcert"
        ),
        (None | Some("disable" | "allow" | "prefer"), None) => {
            config.ssl_mode(SslMode::Disable);
            None
        }
        (Some(other), None) => {
            bail!("sslmode={other} is not one of disable, allow, prefer or verify-full")
        }
    };
    Ok((config, authority))
}

/// TLS verified against one certificate authority.
#[derive(Clone)]
struct Tls {
    authority: PathBuf,
    connector: MakeRustlsConnect,
}

impl Target {
    /// Reads a connection string, URL (`postgres://…?sslmode=…`) or
    /// `key=value` form.
    pub fn parse(conninfo: &str) -> anyhow::Result<Self> {
        let (config, authority) = settings_of(conninfo)?;
        let tls = match authority {
            Some(authority) => Some(Tls::trusting(&authority)?),
            None => None,
        };
        Ok(Self { config, tls })
    }

    /// The server's settings, to adjust before connecting.
    pub fn config_mut(&mut self) -> &mut tokio_postgres::Config {
        &mut self.config
    }

    /// The server's settings.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// The server at `host:port` with this one's database, user, password
    /// and TLS (a replica of this primary).
    pub fn at(&self, host: &str, port: u16) -> Self {
        let mut config = tokio_postgres::Config::new();
        config.host(host).port(port);
        if let Some(user) = self.config.get_user() {
            config.user(user);
        }
        if let Some(password) = self.config.get_password() {
            config.password(password);
        }
        if let Some(dbname) = self.config.get_dbname() {
            config.dbname(dbname);
        }
        config.ssl_mode(self.config.get_ssl_mode());
        Self {
            config,
            tls: self.tls.clone(),
        }
    }

    /// The certificate authority connections verify against, if TLS is on.
    pub fn authority(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.authority.as_path())
    }

    /// Opens a client; its connection runs on a task of its own.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.connector.clone())
                    .await
                    .map_err(|error| anyhow::anyhow!(explain(&error)))?;
                tokio::spawn(connection);
                client
            }
            None => {
                let (client, connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(|error| anyhow::anyhow!(explain(&error)))?;
                tokio::spawn(connection);
                client
            }
        };
        Ok(client)
    }

    /// Opens a diesel connection.
    pub async fn diesel(&self) -> diesel::ConnectionResult<AsyncPgConnection> {
        let failed = |error: tokio_postgres::Error| ConnectionError::BadConnection(explain(&error));
        match &self.tls {
            Some(tls) => {
                let (client, connection) = self
                    .config
                    .connect(tls.connector.clone())
                    .await
                    .map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
            None => {
                let (client, connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
        }
    }
}

/// A connection error with its causes ("error performing TLS handshake:
/// invalid peer certificate: UnknownIssuer"), which tokio-postgres's own
/// message leaves out.
fn explain(error: &tokio_postgres::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

impl Tls {
    fn trusting(authority: &Path) -> anyhow::Result<Self> {
        let config = crate::tls::client_config(authority).context("sslrootcert")?;
        Ok(Self {
            authority: authority.to_path_buf(),
            connector: MakeRustlsConnect::new(config),
        })
    }
}

/// libpq's TLS words, which tokio-postgres does not read itself.
#[derive(Debug, Default, PartialEq)]
struct TlsWords {
    mode: Option<String>,
    root_cert: Option<PathBuf>,
}

/// Splits `sslmode` and `sslrootcert` off a connection string.
fn take_tls_words(conninfo: &str) -> anyhow::Result<(String, TlsWords)> {
    let mut words = TlsWords::default();
    let trimmed = conninfo.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        let Some((base, query)) = trimmed.split_once('?') else {
            return Ok((trimmed.to_string(), words));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            match key {
                "sslmode" => words.mode = Some(value),
                "sslrootcert" => words.root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, words));
    }
    let mut kept = Vec::new();
    for (key, value, text) in key_values(trimmed)? {
        match key.as_str() {
            "sslmode" => words.mode = Some(value),
            "sslrootcert" => words.root_cert = Some(PathBuf::from(value)),
            _ => kept.push(text),
        }
    }
    Ok((kept.join(" "), words))
}

/// The `key=value` pairs of a libpq connection string, each with its text
/// as written (values may be single-quoted, with `\'` and `\\` escapes).
fn key_values(conninfo: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = conninfo.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(pairs);
        };
        let mut key = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            bail!("the database connection string is invalid: `{key}` has no `=`");
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => bail!("the database connection string ends inside a quote"),
                    },
                    Some((_, c)) => value.push(c),
                    None => bail!("the database connection string ends inside a quote"),
                }
            }
        } else {
            while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        let end = chars.peek().map_or(conninfo.len(), |(index, _)| *index);
        pairs.push((key, value, conninfo[start..end].trim_end().to_string()));
    }
}

/// Decodes `%XX` escapes in a URL's query value.
fn percent_decode(value: &str) -> anyhow::Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .with_context(|| format!("the database URL has a bad escape in `{value}`"))?;
            out.push(hex);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).with_context(|| format!("the database URL's `{value}` is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_words_come_off_both_forms_and_the_rest_stays() {
        let (rest, words) = take_tls_words(
            r"host=10.0.0.5 sslmode=verify-full password='it\'s' sslrootcert='/etc/my ca.pem' dbname=million",
        )
        .unwrap();
        assert_eq!(rest, r"host=10.0.0.5 password='it\'s' dbname=million");
        assert_eq!(words.mode.as_deref(), Some("verify-full"));
        assert_eq!(words.root_cert, Some(PathBuf::from("/etc/my ca.pem")));

        let (rest, words) = take_tls_words(
            "postgres://u:p@db:5432/million?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/million?application_name=x");
        assert_eq!(words.mode.as_deref(), Some("verify-full"));
        assert_eq!(words.root_cert, Some(PathBuf::from("/etc/ca.pem")));
    }

    #[test]
    fn plain_strings_are_untouched_and_stay_plain() {
        let target = Target::parse("host=127.0.2.1 port=5432 dbname=million user=u").unwrap();
        assert!(target.authority().is_none());
        assert_eq!(target.config().get_ssl_mode(), SslMode::Disable);
        let target = Target::parse("postgres://u@127.0.2.1/million?sslmode=prefer").unwrap();
        assert!(target.authority().is_none());
    }

    #[test]
    fn unverified_tls_is_refused_with_the_fix() {
        for conninfo in [
            "host=db sslmode=require",
            "host=db sslmode=verify-ca sslrootcert=/x.pem",
            "host=db sslmode=verify-full",
            "host=db sslrootcert=/x.pem",
            "postgres://db/million?sslmode=require",
        ] {
            let error = Target::parse(conninfo).err().expect(conninfo).to_string();
            assert!(
                error.contains("verify-full"),
                "{conninfo}: the message names the fix: {error}"
            );
        }
    }

    #[test]
    fn a_missing_authority_file_is_named() {
        let error = Target::parse("host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem")
            .err()
            .unwrap();
        assert!(
            format!("{error:#}").contains("/nonexistent/ca.pem"),
            "{error:#}"
        );
    }
}
