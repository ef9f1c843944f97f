//! The `[session]` section: the browser session cookie of the HTML pages.
//!
//! Variables: `APP__SESSION__STORE`, `APP__SESSION__SECRET`,
//! `APP__SESSION__COOKIE_NAME`, `APP__SESSION__COOKIE_SECURE`,
//! `APP__SESSION__TTL_HOURS`.

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::Environment;
use super::auth::check_secret;
use super::redacted::masked;

/// Where session state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    /// In this process's memory: one server only.
    Memory,
    /// In an encrypted, signed cookie: any server (needs `stateless-sessions`).
    Cookie,
}

/// How browser sessions are stored, signed and how long they last.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Where session state lives.
    pub store: SessionStoreKind,
    /// Key material for signing and encrypting session cookies (at least 32
    /// characters). Every app server behind one load balancer needs the same.
    #[serde(serialize_with = "masked")]
    pub secret: SecretString,
    /// Name of the session cookie.
    pub cookie_name: String,
    /// Send the cookie only over HTTPS (turn on wherever TLS terminates).
    pub cookie_secure: bool,
    /// How long a signed-in browser stays signed in without a visit.
    pub ttl_hours: i64,
}

impl SessionSettings {
    pub(super) fn check(&self, environment: Environment) -> anyhow::Result<()> {
        if self.store == SessionStoreKind::Cookie {
            crate::tiers::require("stateless-sessions", "session.store = \"cookie\"")?;
        }
        check_secret(
            "session.secret",
            "APP__SESSION__SECRET",
            self.secret.expose_secret(),
            environment,
        )?;
        if self.ttl_hours < 1 {
            bail!("session.ttl_hours must be at least 1");
        }
        if self.cookie_name.is_empty()
            || !self
                .cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("session.cookie_name must be letters, digits, `_` or `-`");
        }
        Ok(())
    }
}
