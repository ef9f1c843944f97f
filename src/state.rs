//! What every request handler can reach.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::cookie::time::Duration;

use crate::auth::password::Passwords;
use crate::auth::session::SessionBackend;
use crate::auth::token::Tokens;
use crate::db::Db;
use crate::settings::{ArchitectureSettings, CacheSettings};
use crate::tiers::cache::Cache;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    /// The databases.
    pub db: Db,
    /// Bounded password hashing.
    pub passwords: Passwords,
    /// API token issuing and checking.
    pub tokens: Tokens,
    /// Whether `PUT /api/user` needs `currentPassword` to change credentials.
    pub api_requires_current_password: bool,
    /// This server's name, as sent in `X-Served-By`.
    pub instance: String,
    /// Where browser sessions live.
    pub sessions: SessionBackend,
    /// How long a browser session may go unused before the server refuses it.
    pub session_idle: Duration,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// The topology this server is part of, for the architecture page.
    pub architecture: Arc<ArchitectureSettings>,
    /// The cache tier (a no-op unless built with `cache` and configured).
    pub cache: Cache,
    /// How long each kind of cache entry lives.
    pub cache_settings: Arc<CacheSettings>,
    /// How long a browser's reads wait for replicas to replay its last write.
    pub read_after_ttl_secs: u64,
    /// Failed sign-ins per account.
    pub signin_throttle: Arc<crate::auth::throttle::SignInThrottle>,
    /// The app servers and their releases, as last read (the architecture page).
    pub servers: crate::release::Servers,
}
