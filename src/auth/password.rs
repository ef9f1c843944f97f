//! Password hashing with argon2id at OWASP's parameters (19 MiB, two passes,
//! one lane).
//!
//! Hashing is deliberately slow, so it runs on blocking threads and at most
//! `slots` hashes run at once; a request that cannot get a slot within `wait`
//! gets 503 with `Retry-After` instead of queueing without end. Sign-in for an
//! unknown email still computes one hash, so timing does not reveal accounts.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::error::AppError;

/// Bounded, off-executor password hashing.
#[derive(Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    wait: Duration,
}

fn argon2() -> Argon2<'static> {
    // OWASP: m=19456 KiB, t=2, p=1. Constant parameters: cannot fail.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A valid hash of a password nobody knows, verified against when the account
/// does not exist so that the answer takes as long as for a real one.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        argon2()
            .hash_password(b"decoy password nobody can sign in with")
            .map(|hash: PasswordHash| hash.to_string())
            .unwrap_or_default()
    })
}

impl Passwords {
    /// Allows `slots` concurrent hashes, each request waiting at most `wait`.
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            wait,
        }
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &SecretString) -> Result<String, AppError> {
        let password = password.clone();
        self.run(move || {
            argon2()
                .hash_password(password.expose_secret().as_bytes())
                .map(|hash: PasswordHash| hash.to_string())
                .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))
        })
        .await
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user),
    /// spends the same effort and answers `false`.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<String>,
    ) -> Result<bool, AppError> {
        let password = password.clone();
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| decoy_hash().to_string());
            let parsed = PasswordHash::new(&stored)
                .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
            let matches = argon2()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(known && matches)
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let busy = || AppError::Busy {
            what: "the sign-in service",
            retry_after_secs: 1,
        };
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .context("the password hashing task panicked")?;
        Ok(result?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_string())
    }

    #[tokio::test]
    async fn hashes_verify_only_the_right_password() {
        let passwords = Passwords::new(2, Duration::from_secs(5));
        let hash = passwords.hash(&secret("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify(&secret("correct horse"), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify(&secret("wrong horse"), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let passwords = Passwords::new(1, Duration::from_secs(5));
        let decoy_password = secret("decoy password nobody can sign in with");
        assert!(!passwords.verify(&decoy_password, None).await.unwrap());
    }

    #[tokio::test]
    async fn saturation_answers_busy_instead_of_queueing() {
        let passwords = Passwords::new(1, Duration::from_millis(1));
        let held = Arc::clone(&passwords.slots).acquire_owned().await.unwrap();
        let error = passwords.hash(&secret("whatever1")).await.unwrap_err();
        assert!(matches!(error, AppError::Busy { .. }));
        drop(held);
        assert!(passwords.hash(&secret("whatever1")).await.is_ok());
    }
}
