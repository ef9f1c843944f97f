//! The cache tier is not built in: every read goes to the database and
//! invalidations have nothing to do. Same API as `cache_on`.

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::settings::CacheSettings;

pub use super::cache_common::{CacheCounters, Invalidation};

/// No cache.
#[derive(Clone, Default)]
pub struct Cache;

impl Cache {
    /// No cache; `cache.redis_url` is refused at start-up in this build.
    pub fn new(_settings: &CacheSettings) -> anyhow::Result<Self> {
        Ok(Self)
    }

    /// Always false.
    pub fn enabled(&self) -> bool {
        false
    }

    /// What the architecture page says about the cache tier.
    pub fn describe(&self) -> String {
        "none".to_string()
    }

    /// Loads from the database.
    pub async fn get_or_load<T, F, Fut>(
        &self,
        _key: &str,
        _ttl: Duration,
        load: F,
    ) -> Result<Option<T>, AppError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, AppError>>,
    {
        load().await
    }

    /// Nothing cached, nothing to read.
    pub async fn generation(&self, _name: &str) -> Option<u64> {
        None
    }

    /// Nothing cached, nothing to forget.
    pub async fn invalidate(&self, _invalidation: Invalidation) {}

    /// Reads account `user`'s session generation from the database (`load`).
    pub async fn session_generation<F, Fut>(
        &self,
        _user: i64,
        load: F,
    ) -> Result<Option<i32>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<i32>, AppError>>,
    {
        load().await
    }

    /// No shared counters: the caller counts in its own process.
    pub async fn window_count(&self, _key: &str) -> Option<(u64, Duration)> {
        None
    }

    /// No shared counters.
    pub async fn window_increment(&self, _key: &str, _window: Duration) -> Option<u64> {
        None
    }

    /// Nowhere to remember a write position.
    pub async fn remember_write_position(&self, _user: i64, _position: u64, _ttl: Duration) {}

    /// No write position is remembered.
    pub async fn write_position(&self, _user: i64) -> Option<u64> {
        None
    }

    /// Nothing holds a session generation but the database.
    pub async fn sessions_ended(&self, _user: i64) {}

    /// All zero.
    pub fn counters(&self) -> CacheCounters {
        CacheCounters::default()
    }
}
