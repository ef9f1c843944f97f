//! The replicas tier is not built in: every read goes to the primary. Same
//! API as `replicas_on`.

use crate::db::PooledConnection;
use crate::settings::{DatabaseSettings, ReplicaSettings};

pub use super::replicas_common::{NodeStatus, ReplicaCounters};

/// No replicas.
#[derive(Clone, Default)]
pub struct Replicas;

impl Replicas {
    /// No replicas; `replicas.hosts` is refused at start-up in this build.
    pub fn new(
        _settings: &ReplicaSettings,
        _database: &DatabaseSettings,
        _primary_conninfo: &str,
        _instance: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self)
    }

    /// Always false.
    pub fn enabled(&self) -> bool {
        false
    }

    /// Nothing to watch.
    pub fn start_monitor(&self) {}

    /// No replicas: no position is needed.
    pub fn plausible(&self, _position: u64) -> bool {
        false
    }

    /// No replicas: no position.
    pub fn conservative_position(&self) -> u64 {
        0
    }

    /// Never a replica.
    pub async fn checkout_current(&self) -> Option<(PooledConnection, std::sync::Arc<str>)> {
        None
    }

    /// Never a replica: the caller reads the primary.
    pub async fn checkout(
        &self,
        _read_after: Option<u64>,
    ) -> Option<(PooledConnection, std::sync::Arc<str>)> {
        None
    }

    /// No replicas, so never read-only.
    pub fn primary_down(&self) -> bool {
        false
    }

    /// No replicas to show.
    pub fn nodes(&self) -> Vec<NodeStatus> {
        Vec::new()
    }

    /// Nothing counted.
    pub fn counters(&self) -> ReplicaCounters {
        ReplicaCounters::default()
    }

    /// Nothing to count.
    pub fn primary_read(&self) {}
}
