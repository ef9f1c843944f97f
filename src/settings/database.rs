//! The `[database]` section: which PostgreSQL to use and how to pool it.
//!
//! Variables: `APP__DATABASE__URL`, `APP__DATABASE__POOL_SIZE`,
//! `APP__DATABASE__ACQUIRE_TIMEOUT_MS`, `APP__DATABASE__CONNECT_TIMEOUT_MS`,
//! `APP__DATABASE__STATEMENT_TIMEOUT_MS`, `APP__DATABASE__MIGRATE_ON_START`,
//! `APP__DATABASE__EMBEDDED_DIR`; and the conventional `DATABASE_URL`, or the
//! split `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_USER`, `DB_PASSWORD` (phase 2 and
//! later use those), with `DB_SSLMODE` and `DB_SSLROOTCERT` for TLS
//! (`sslmode=verify-full`; see `crate::db::connect`). Either of the
//! conventional forms overrides the files.
//!
//! With no URL at all, `million` runs a private PostgreSQL cluster in
//! `embedded_dir` (see `crate::db::embedded`).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The `DB_*` variables beside `DB_HOST`, which mean nothing without it.
const DB_PARTS: [&str; 6] = [
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_SSLMODE",
    "DB_SSLROOTCERT",
];

/// Every variable that names the database: `DATABASE_URL`, `DB_HOST` and
/// its parts. A process started for another database must not inherit them.
pub const DATABASE_VARIABLES: [&str; 8] = [
    "DATABASE_URL",
    "DB_HOST",
    DB_PARTS[0],
    DB_PARTS[1],
    DB_PARTS[2],
    DB_PARTS[3],
    DB_PARTS[4],
    DB_PARTS[5],
];

/// Connection and pool settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// A `postgres://` URL or a `host=… dbname=…` string; empty means embedded.
    #[serde(serialize_with = "masked_conninfo")]
    pub url: SecretString,
    /// Connections per app process; 0 sizes the pool from the core count.
    pub pool_size: usize,
    /// How long a request waits for a free connection before answering 503.
    pub acquire_timeout_ms: u64,
    /// How long opening a new connection may take.
    pub connect_timeout_ms: u64,
    /// Server-side limit on any one statement.
    pub statement_timeout_ms: u64,
    /// Apply pending migrations when `million serve` starts.
    pub migrate_on_start: bool,
    /// Where the embedded cluster keeps its data when no URL is configured.
    pub embedded_dir: PathBuf,
}

/// Where the database is, once every source has been considered.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A server reached through this connection string.
    Url(SecretString),
    /// A private cluster that `million` runs itself in this folder.
    Embedded(PathBuf),
}

impl DatabaseSettings {
    /// Where to connect: the configured URL, or the embedded cluster.
    pub fn target(&self) -> DatabaseTarget {
        let url = self.url.expose_secret().trim();
        if url.is_empty() {
            DatabaseTarget::Embedded(self.embedded_dir.clone())
        } else {
            DatabaseTarget::Url(SecretString::from(url.to_string()))
        }
    }

    /// The pool size to use: the configured one, or four per core (at most 32),
    /// enough to keep every core busy while others wait on the network.
    pub fn pool_size(&self) -> usize {
        if self.pool_size > 0 {
            return self.pool_size;
        }
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        (cores * 4).clamp(4, 32)
    }

    /// Applies `DATABASE_URL` or the `DB_*` variables found in `vars`.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<()> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(key, _)| key == "DATABASE_URL" || key.starts_with("DB_"))
            .collect();
        let url = vars
            .get("DATABASE_URL")
            .filter(|url| !url.trim().is_empty());
        let host = vars.get("DB_HOST").filter(|host| !host.trim().is_empty());
        match (url, host) {
            (Some(_), Some(_)) => {
                bail!("both DATABASE_URL and DB_HOST are set: keep one way of naming the database")
            }
            (Some(url), None) => self.url = SecretString::from(url.clone()),
            (None, Some(host)) => self.url = SecretString::from(split_to_conninfo(host, &vars)?),
            (None, None) => {
                if let Some(stray) = DB_PARTS.iter().find(|key| vars.contains_key(**key)) {
                    bail!("{stray} is set but DB_HOST is not: set DB_HOST too, or unset {stray}");
                }
            }
        }
        Ok(())
    }
}

/// Builds a libpq-style `key=value` connection string from the `DB_*` parts.
fn split_to_conninfo(host: &str, vars: &HashMap<String, String>) -> anyhow::Result<String> {
    let port = vars.get("DB_PORT").map(String::as_str).unwrap_or("5432");
    if port.parse::<u16>().is_err() {
        bail!("DB_PORT is `{port}`: it must be a port number such as 5432");
    }
    let mut parts = vec![
        format!("host={}", quote(host)),
        format!("port={port}"),
        format!(
            "dbname={}",
            quote(vars.get("DB_NAME").map(String::as_str).unwrap_or("million"))
        ),
        format!(
            "user={}",
            quote(vars.get("DB_USER").map(String::as_str).unwrap_or("million"))
        ),
    ];
    if let Some(password) = vars.get("DB_PASSWORD") {
        parts.push(format!("password={}", quote(password)));
    }
    // libpq's TLS words (see `crate::db::connect`).
    if let Some(mode) = vars.get("DB_SSLMODE") {
        parts.push(format!("sslmode={}", quote(mode)));
    }
    if let Some(authority) = vars.get("DB_SSLROOTCERT") {
        parts.push(format!("sslrootcert={}", quote(authority)));
    }
    Ok(parts.join(" "))
}

/// Shows where a connection string points, with its password masked.
fn masked_conninfo<S: serde::Serializer>(
    url: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&describe(url.expose_secret()))
}

/// A printable description of a connection string: everything but the password.
pub fn describe(conninfo: &str) -> String {
    if conninfo.trim().is_empty() {
        return String::new();
    }
    let Ok((config, authority)) = crate::db::connect::settings_of(conninfo) else {
        return "(unparsable connection string)".to_string();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let mut parts = vec![format!("host={}", hosts.join(","))];
    if !ports.is_empty() {
        parts.push(format!("port={}", ports.join(",")));
    }
    if let Some(name) = config.get_dbname() {
        parts.push(format!("dbname={name}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if config.get_password().is_some() {
        parts.push("password=********".to_string());
    }
    if let Some(authority) = authority {
        parts.push(format!(
            "sslmode=verify-full sslrootcert={}",
            quote(&authority.display().to_string())
        ));
    }
    parts.join(" ")
}

/// Quotes a value for a `key=value` connection string.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DatabaseSettings {
        DatabaseSettings {
            url: SecretString::from(String::new()),
            pool_size: 0,
            acquire_timeout_ms: 1000,
            connect_timeout_ms: 1000,
            statement_timeout_ms: 1000,
            migrate_on_start: true,
            embedded_dir: PathBuf::from(".million/postgres"),
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_url_means_embedded() {
        assert!(matches!(settings().target(), DatabaseTarget::Embedded(_)));
    }

    #[test]
    fn database_url_wins_over_the_files() {
        let mut db = settings();
        db.apply_env(vars(&[("DATABASE_URL", "postgres://a@b/c")]))
            .unwrap();
        assert_eq!(db.url.expose_secret(), "postgres://a@b/c");
    }

    #[test]
    fn split_variables_build_a_quoted_connection_string() {
        let mut db = settings();
        db.apply_env(vars(&[
            ("DB_HOST", "127.0.2.1"),
            ("DB_PORT", "5432"),
            ("DB_NAME", "million"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "it's secret"),
        ]))
        .unwrap();
        assert_eq!(
            db.url.expose_secret(),
            r"host='127.0.2.1' port=5432 dbname='million' user='app' password='it\'s secret'"
        );
        let parsed: tokio_postgres::Config = db.url.expose_secret().parse().unwrap();
        assert_eq!(parsed.get_password(), Some("it's secret".as_bytes()));
    }

    #[test]
    fn descriptions_hide_the_password() {
        let shown = describe("postgres://app:hunter2@db.example:6543/million");
        assert_eq!(
            shown,
            "host=db.example port=6543 dbname=million user=app password=********"
        );
    }

    #[test]
    fn both_forms_at_once_are_refused() {
        let mut db = settings();
        let error = db
            .apply_env(vars(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("DB_HOST", "h"),
            ]))
            .unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn a_bad_port_is_named() {
        let mut db = settings();
        let error = db
            .apply_env(vars(&[("DB_HOST", "h"), ("DB_PORT", "x")]))
            .unwrap_err();
        assert!(error.to_string().contains("DB_PORT"));
    }

    #[test]
    fn split_variables_without_host_are_refused() {
        let mut db = settings();
        let error = db.apply_env(vars(&[("DB_USER", "app")])).unwrap_err();
        assert!(error.to_string().contains("DB_HOST"));
    }
}
