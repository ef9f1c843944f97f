//! Sign-in throttling per account: an account that has had
//! `limits.signin_failures` failed sign-ins within `limits.signin_window_secs`
//! (counted from the first) answers 429 with `Retry-After` to every further
//! attempt until the window ends, before any password is hashed, so a
//! brute-force run against one account costs no hashing slot that other
//! people's sign-ins need, and leaves every other account alone.
//!
//! The counts live in Redis when the cache tier has it (every app server
//! sees the same count), and in this process otherwise (or while Redis is
//! unavailable).
//!
//! Why ten in ten minutes: a person who mistypes gets ten tries; a guesser
//! gets at most 60 an hour per account, against the hours a 10-character
//! password takes at any rate. Locking the account for longer would hand
//! anyone who knows an email address a way to keep its owner out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::settings::LimitSettings;
use crate::tiers::cache::Cache;

/// Most accounts counted in this process at once; the oldest windows go first.
const LOCAL_CAPACITY: usize = 100_000;

/// Failed sign-ins per account.
pub struct SignInThrottle {
    limit: u32,
    window: Duration,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInThrottle {
    pub fn new(limits: &LimitSettings) -> Self {
        Self {
            limit: limits.signin_failures,
            window: Duration::from_secs(limits.signin_window_secs.max(1)),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses a sign-in on `email` while its account is over the limit.
    pub async fn check(&self, cache: &Cache, email: &str) -> Result<(), AppError> {
        if self.limit == 0 {
            return Ok(());
        }
        let key = account_key(email);
        let (failures, left) = match cache.window_count(&key).await {
            Some(counted) => counted,
            None => self.local_count(&key),
        };
        if failures >= u64::from(self.limit) {
            return Err(AppError::TooManyAttempts {
                retry_after_secs: left.as_secs().max(1),
            });
        }
        Ok(())
    }

    /// Counts a failed sign-in on `email`.
    pub async fn failed(&self, cache: &Cache, email: &str) {
        if self.limit == 0 {
            return;
        }
        let key = account_key(email);
        if cache.window_increment(&key, self.window).await.is_none() {
            self.local_increment(key);
        }
    }

    fn local_count(&self, key: &str) -> (u64, Duration) {
        let local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match local.get(key) {
            Some((count, started)) if started.elapsed() < self.window => (
                u64::from(*count),
                self.window.saturating_sub(started.elapsed()),
            ),
            _ => (0, Duration::ZERO),
        }
    }

    fn local_increment(&self, key: String) {
        let mut local = self
            .local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if local.len() >= LOCAL_CAPACITY {
            let window = self.window;
            local.retain(|_, (_, started)| started.elapsed() < window);
            if local.len() >= LOCAL_CAPACITY
                && let Some(oldest) = local
                    .iter()
                    .min_by_key(|(_, (_, started))| *started)
                    .map(|(key, _)| key.clone())
            {
                local.remove(&oldest);
            }
        }
        let entry = local.entry(key).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 = entry.0.saturating_add(1);
    }
}

/// The counter's name: the email as accounts are looked up (trimmed, case
/// ignored), so `Ann@x` and `ann@x ` count together.
fn account_key(email: &str) -> String {
    format!("signin:{}", email.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(failures: u32) -> LimitSettings {
        LimitSettings {
            json_body_bytes: 1,
            form_body_bytes: 1,
            signin_failures: failures,
            signin_window_secs: 600,
        }
    }

    #[tokio::test]
    async fn an_account_is_refused_after_its_failures_and_others_are_not() {
        let throttle = SignInThrottle::new(&limits(3));
        let cache = Cache::new(&crate::settings::CacheSettings::default()).unwrap();
        for _ in 0..3 {
            assert!(throttle.check(&cache, "ann@example.com").await.is_ok());
            throttle.failed(&cache, " Ann@Example.com").await;
        }
        let refused = throttle.check(&cache, "ann@example.com").await.unwrap_err();
        assert!(matches!(
            refused,
            AppError::TooManyAttempts { retry_after_secs } if (590..=600).contains(&retry_after_secs)
        ));
        assert!(throttle.check(&cache, "bob@example.com").await.is_ok());
    }
}
