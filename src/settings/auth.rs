//! The `[auth]` section: API tokens and password hashing.
//!
//! Variables: `APP__AUTH__JWT_SECRET`, `APP__AUTH__TOKEN_TTL_HOURS`,
//! `APP__AUTH__HASH_CONCURRENCY`, `APP__AUTH__HASH_WAIT_MS`.

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::Environment;
use super::redacted::masked;

/// Marks the development secrets shipped in `config/local.toml`.
const DEVELOPMENT_MARKER: &str = "local-development";

/// Whether `secret` is one of the examples shipped with the project
/// (`config/local.toml`, `deploy/app/million.env`) rather than a real one.
pub(super) fn is_placeholder(secret: &str) -> bool {
    secret.contains(DEVELOPMENT_MARKER) || secret.contains("change-me")
}

/// How API tokens are signed and passwords hashed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// HMAC key for the API's JSON Web Tokens (at least 32 characters).
    #[serde(serialize_with = "masked")]
    pub jwt_secret: SecretString,
    /// How long an API token stays valid.
    pub token_ttl_hours: u64,
    /// Password hashes computed at once; 0 means one per core.
    pub hash_concurrency: usize,
    /// How long a sign-in waits for a hashing slot before answering 503.
    pub hash_wait_ms: u64,
}

impl AuthSettings {
    /// The number of password hashes allowed to run at the same time.
    pub fn hash_slots(&self) -> usize {
        if self.hash_concurrency > 0 {
            self.hash_concurrency
        } else {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        }
    }

    pub(super) fn check(&self, environment: Environment) -> anyhow::Result<()> {
        let secret = self.jwt_secret.expose_secret();
        if secret.len() < 32 {
            bail!(
                "auth.jwt_secret must be at least 32 characters: set APP__AUTH__JWT_SECRET \
                 (for example to the output of `openssl rand -hex 32`)"
            );
        }
        if environment == Environment::Production && is_placeholder(secret) {
            bail!(
                "auth.jwt_secret is an example value: set APP__AUTH__JWT_SECRET \
                 to a secret of your own in production"
            );
        }
        if self.token_ttl_hours == 0 {
            bail!("auth.token_ttl_hours must be at least 1");
        }
        Ok(())
    }
}
