//! The `[architecture]` section: what the running topology looks like, so
//! the `/architecture` page can draw it. The phase stacks fill it in; a plain
//! `million serve` is "phase 0", one process.
//!
//! Variables: `APP__ARCHITECTURE__PHASE`, `APP__ARCHITECTURE__FRONT`,
//! `APP__ARCHITECTURE__APP_SERVERS` (comma-separated `name=host:port`),
//! `APP__ARCHITECTURE__STATIC_SERVER`, `APP__ARCHITECTURE__DATABASE`.

use serde::{Deserialize, Serialize};

/// The topology this app server is part of.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArchitectureSettings {
    /// Which phase of the scaling road (0 = a single `million serve`).
    pub phase: u8,
    /// The front door: `nginx host:port` or `haproxy host:port`; empty for none.
    pub front: String,
    /// Every app server as `name=host:port`; empty means just this one.
    pub app_servers: Vec<String>,
    /// Where static files come from when not from the front door.
    pub static_server: String,
    /// How to label the database node; empty means its address.
    pub database: String,
}

impl ArchitectureSettings {
    /// The app servers as (name, address) pairs.
    pub fn app_server_list(&self) -> Vec<(String, String)> {
        self.app_servers
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, address)) => (name.trim().to_string(), address.trim().to_string()),
                None => (entry.trim().to_string(), String::new()),
            })
            .collect()
    }
}
