//! The `[auth]` section: API tokens and password hashing.
//!
//! Variables: `APP__AUTH__JWT_SECRET`, `APP__AUTH__TOKEN_TTL_HOURS`,
//! `APP__AUTH__HASH_CONCURRENCY`, `APP__AUTH__HASH_WAIT_MS`,
//! `APP__AUTH__API_REQUIRES_CURRENT_PASSWORD`.

use anyhow::bail;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::Environment;
use super::redacted::masked;

/// Marks the development secrets shipped in `config/local.toml`.
const DEVELOPMENT_MARKER: &str = "local-development";

/// Refuses a signing secret (`key`, set with `variable`) that is too short,
/// or, in production, one of the examples shipped with the project
/// (`config/local.toml`, `deploy/app/million.env`).
pub(super) fn check_secret(
    key: &str,
    variable: &str,
    secret: &str,
    environment: Environment,
) -> anyhow::Result<()> {
    if secret.len() < 32 {
        bail!(
            "{key} must be at least 32 characters: set {variable} \
             (for example to the output of `openssl rand -hex 32`)"
        );
    }
    let example = secret.contains(DEVELOPMENT_MARKER) || secret.contains("change-me");
    if environment == Environment::Production && example {
        bail!("{key} is an example value: set {variable} to a secret of your own in production");
    }
    Ok(())
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
    /// Whether `PUT /api/user` refuses a new email or password without
    /// `currentPassword`. Off by default: the RealWorld shape has no such
    /// field, and RealWorld front ends never send it. The settings page
    /// always asks for it.
    #[serde(default)]
    pub api_requires_current_password: bool,
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
        check_secret(
            "auth.jwt_secret",
            "APP__AUTH__JWT_SECRET",
            self.jwt_secret.expose_secret(),
            environment,
        )?;
        if self.token_ttl_hours == 0 {
            bail!("auth.token_ttl_hours must be at least 1");
        }
        Ok(())
    }
}
