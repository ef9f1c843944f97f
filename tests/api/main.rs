//! Integration tests: the real application, a real PostgreSQL, and a real
//! browser, each started by the tests themselves.

mod api_articles;
mod api_comments;
mod api_hostile;
mod api_profiles;
mod api_users;
mod browser;
#[cfg(feature = "cache")]
mod cache;
#[cfg(feature = "cache")]
mod cache_near;
#[cfg(feature = "cache")]
mod cache_recovery;
#[cfg(feature = "cache")]
mod cache_tokens;
mod counters;
mod database_tls;
#[cfg(all(feature = "replicas", feature = "cache"))]
mod deploy_files;
mod health;
mod helpers;
mod pages_account;
mod pages_articles;
mod pages_csrf;
mod pages_home;
mod pages_people;
mod pages_profile;
mod pages_sessions;
mod queries;
#[cfg(feature = "replicas")]
mod replicas;
#[cfg(all(
    feature = "replicas",
    feature = "cache",
    feature = "stateless-sessions"
))]
mod rolling_deploy;
mod seed;
mod serve;
mod stack;
