//! The `[replicas]` section: PostgreSQL read replicas (the `replicas` build).
//!
//! Variables: `APP__REPLICAS__HOSTS` (comma-separated `host:port`; empty = no
//! replicas), `APP__REPLICAS__MAX_LAG_BYTES`, `APP__REPLICAS__MAX_LAG_MS`,
//! `APP__REPLICAS__CHECK_INTERVAL_MS`, `APP__REPLICAS__ACQUIRE_TIMEOUT_MS`,
//! `APP__REPLICAS__READ_AFTER_TTL_SECS`.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// Where the replicas are, and when one is fit to read from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicaSettings {
    /// `host:port` of each replica; the primary's database, user and
    /// password are used on each. Empty: every read goes to the primary.
    pub hosts: Vec<String>,
    /// A replica this far behind the primary's WAL leaves rotation.
    pub max_lag_bytes: u64,
    /// A replica whose replay is this far behind in time leaves rotation.
    pub max_lag_ms: u64,
    /// How often each replica's replay position is checked.
    pub check_interval_ms: u64,
    /// Longest wait for a replica connection before reading the primary.
    pub acquire_timeout_ms: u64,
    /// How long after a write its author's reads wait for replicas to have
    /// replayed it (pages carry the position in a cookie this long).
    pub read_after_ttl_secs: u64,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            hosts: Vec::new(),
            max_lag_bytes: 16 * 1024 * 1024,
            max_lag_ms: 5_000,
            check_interval_ms: 1_000,
            acquire_timeout_ms: 100,
            read_after_ttl_secs: 60,
        }
    }
}

impl ReplicaSettings {
    /// Whether any replica is configured.
    pub fn enabled(&self) -> bool {
        !self.hosts.is_empty()
    }

    pub fn check_interval(&self) -> Duration {
        Duration::from_millis(self.check_interval_ms)
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.acquire_timeout_ms)
    }

    pub(super) fn check(&self) -> anyhow::Result<()> {
        for host in &self.hosts {
            let Some((name, port)) = host.rsplit_once(':') else {
                bail!("replicas.hosts: `{host}` is not host:port (e.g. 127.0.2.2:5432)");
            };
            if name.is_empty() || port.parse::<u16>().is_err() {
                bail!("replicas.hosts: `{host}` is not host:port (e.g. 127.0.2.2:5432)");
            }
        }
        if self.check_interval_ms == 0 || self.acquire_timeout_ms == 0 {
            bail!("replicas.check_interval_ms and replicas.acquire_timeout_ms must be above 0");
        }
        if self.enabled() {
            crate::tiers::require("replicas", "replicas.hosts")?;
        }
        Ok(())
    }
}
