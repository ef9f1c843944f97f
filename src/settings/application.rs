//! The `[application]` section: where the server listens and how it presents
//! itself.
//!
//! Variables: `APP__APPLICATION__HOST`, `APP__APPLICATION__PORT`,
//! `APP__APPLICATION__WORKERS`, `APP__APPLICATION__INSTANCE_NAME`,
//! `APP__APPLICATION__TRUSTED_PROXIES` (comma-separated IPs),
//! `APP__APPLICATION__CORS_ORIGINS` (comma-separated origins, or `*`),
//! `APP__APPLICATION__STATIC_DIR`, `APP__APPLICATION__SHUTDOWN_TIMEOUT_SECS`,
//! `APP__APPLICATION__DATA_DIR`.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// How the HTTP server listens and names itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSettings {
    /// Address to bind, e.g. `127.0.0.1` or `0.0.0.0`.
    pub host: String,
    /// Port to bind; 0 picks a free one (the tests use that).
    pub port: u16,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// The name sent in `X-Served-By`; empty means `hostname:port`.
    pub instance_name: String,
    /// Peers whose `X-Forwarded-*` headers are believed (the reverse proxies).
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins allowed to call the JSON API from a browser; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Folder served under `/static/`.
    pub static_dir: PathBuf,
    /// How long in-flight requests may take to finish on SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Where a local run keeps what it makes for itself: its development
    /// signing keys (`secrets.toml`). Not used in production.
    pub data_dir: PathBuf,
}

impl ApplicationSettings {
    /// The worker count to start: the configured one, or one per core.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
        }
    }

    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.host.trim().is_empty() {
            bail!("application.host is empty: set an address such as 127.0.0.1");
        }
        if self.instance_name.len() > 100 || self.instance_name.chars().any(char::is_control) {
            bail!("application.instance_name must be at most 100 printable characters");
        }
        Ok(())
    }
}
