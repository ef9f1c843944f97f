//! The `[cache]` section: the Redis cache tier (the `cache` build).
//!
//! Variables: `APP__CACHE__REDIS_URL` (empty = no cache), `APP__CACHE__PROFILE_TTL_SECS`,
//! `APP__CACHE__ARTICLE_TTL_SECS`, `APP__CACHE__LIST_TTL_SECS`,
//! `APP__CACHE__TAGS_TTL_SECS`, `APP__CACHE__COMMENTS_TTL_SECS`,
//! `APP__CACHE__MISSING_TTL_SECS`, `APP__CACHE__TIMEOUT_MS`,
//! `APP__CACHE__BREAKER_FAILURES`, `APP__CACHE__BREAKER_COOLDOWN_MS`,
//! `APP__CACHE__LEASE_MS`, `APP__CACHE__LEASE_WAIT_MS`, `APP__CACHE__EARLY_REFRESH_BETA`,
//! `APP__CACHE__NEAR_TTL_MS`, `APP__CACHE__NEAR_CAPACITY_KIB`, `APP__CACHE__SESSION_TTL_SECS`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest near-cache TTL accepted: past a minute it is no longer "near".
const MAX_NEAR_TTL_MS: u64 = 60_000;
/// Longest session generation TTL accepted.
const MAX_SESSION_TTL_SECS: u64 = 60;

/// How long each kind of entry lives, and how the cache behaves when Redis
/// misbehaves.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// `redis://host:port`, or `redis://user:password@host:port` where Redis
    /// has accounts (phase 6); empty means no cache tier.
    #[serde(serialize_with = "password_masked")]
    pub redis_url: String,
    /// Profiles (the hottest read).
    pub profile_ttl_secs: u64,
    /// Single articles.
    pub article_ttl_secs: u64,
    /// The first pages of the global article list.
    pub list_ttl_secs: u64,
    /// The tag lists.
    pub tags_ttl_secs: u64,
    /// Comment threads.
    pub comments_ttl_secs: u64,
    /// "Does not exist" answers, so floods of misses stay off the database.
    pub missing_ttl_secs: u64,
    /// Longest wait for any one Redis call before the database answers instead.
    pub timeout_ms: u64,
    /// Failures in a row that open the circuit (Redis is left alone).
    pub breaker_failures: u32,
    /// How long the circuit stays open before one call probes Redis again.
    pub breaker_cooldown_ms: u64,
    /// How long a refill lease lasts (one server refills, others wait).
    pub lease_ms: u64,
    /// How long a request waits for another server's refill before reading the database itself.
    pub lease_wait_ms: u64,
    /// XFetch's β: above 1 refreshes hot entries earlier, 0 turns early refresh off.
    pub early_refresh_beta: f64,
    /// The near cache's staleness bound: each server keeps hot entries in
    /// memory for at most this long after reading them from Redis, so another
    /// server's write shows here within this long even if its message is
    /// lost; 0 turns the near cache off.
    pub near_ttl_ms: u64,
    /// Most memory the near cache's entries may weigh, in KiB (by the size of
    /// what Redis holds for them); 0 turns it off.
    pub near_capacity_kib: u64,
    /// How long Redis holds an account's session generation (API tokens are
    /// checked against it); a revocation that cannot reach Redis waits this
    /// long plus `lease_ms` before answering.
    pub session_ttl_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            redis_url: String::new(),
            profile_ttl_secs: 300,
            article_ttl_secs: 300,
            list_ttl_secs: 30,
            tags_ttl_secs: 60,
            comments_ttl_secs: 120,
            missing_ttl_secs: 30,
            timeout_ms: 50,
            breaker_failures: 3,
            breaker_cooldown_ms: 5000,
            lease_ms: 2000,
            lease_wait_ms: 300,
            early_refresh_beta: 1.0,
            near_ttl_ms: 1000,
            near_capacity_kib: 32 * 1024,
            session_ttl_secs: 5,
        }
    }
}

impl CacheSettings {
    /// Whether a cache tier is configured.
    pub fn enabled(&self) -> bool {
        !self.redis_url.trim().is_empty()
    }

    /// A Redis call's time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.enabled() {
            crate::tiers::require("cache", "cache.redis_url")?;
            if !self.redis_url.starts_with("redis://") && !self.redis_url.starts_with("rediss://") {
                anyhow::bail!(
                    "cache.redis_url must start with redis:// (it is `{}`)",
                    self.redis_url
                );
            }
        }
        if self.early_refresh_beta < 0.0 {
            anyhow::bail!("cache.early_refresh_beta must be 0 or more");
        }
        if self.near_ttl_ms > MAX_NEAR_TTL_MS {
            anyhow::bail!(
                "cache.near_ttl_ms is how stale another server's write may look here: \
                 at most {MAX_NEAR_TTL_MS} ms (it is {})",
                self.near_ttl_ms
            );
        }
        if self.session_ttl_secs > MAX_SESSION_TTL_SECS {
            anyhow::bail!(
                "cache.session_ttl_secs is how long a revocation may wait when Redis is away: \
                 at most {MAX_SESSION_TTL_SECS} s (it is {})",
                self.session_ttl_secs
            );
        }
        Ok(())
    }
}

/// The URL with its password, if any, masked (`million config`).
fn password_masked<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    let masked = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            // `user:password@host`: the password may hold `:` itself.
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:********@{host}"),
                None => format!("{scheme}://{credentials}@{host}"),
            },
            None => url.to_string(),
        },
        None => url.to_string(),
    };
    serializer.serialize_str(&masked)
}
