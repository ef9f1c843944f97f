//! Access to PostgreSQL.
//!
//! Handlers say what they need: [`Db::write`] for a connection that may change
//! data (always the primary), [`Db::read`] for one that only shows it: a read
//! replica where the `replicas` tier has one fit for the request (see
//! [`crate::tiers::replicas`]), else the primary. Reads that must never be
//! stale run inside [`reading_current`]: they go to the primary.

pub mod connect;
pub mod embedded;
pub mod instrumentation;
pub mod local;
pub mod migrations;
pub mod pool;
pub mod shared_dir;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::PoolError;

use crate::error::AppError;
use crate::report;
use crate::tiers::replicas::Replicas;
pub use pool::{PgPool, PooledConnection};

/// The name `X-Db-Node` and the architecture page give the primary.
pub const PRIMARY: &str = "primary";

tokio::task_local! {
    /// Set while reads must see everything committed: they go to the primary.
    static CURRENT: ();
}

/// Runs `work` with every read it makes on the primary: checks that must
/// never be stale (is this session revoked?) and cache refills (a lagging
/// replica must not put back a value a write has just invalidated).
pub async fn reading_current<F: Future>(work: F) -> F::Output {
    CURRENT.scope((), work).await
}

fn must_be_current() -> bool {
    CURRENT.try_with(|()| ()).is_ok()
}

/// The application's databases.
#[derive(Clone)]
pub struct Db {
    primary: PgPool,
    primary_node: String,
    primary_name: Arc<str>,
    replicas: Replicas,
}

impl Db {
    /// Database access through `primary` (known on pages as `primary_node`,
    /// its address) and `replicas` for reads.
    pub fn new(primary: PgPool, primary_node: String, replicas: Replicas) -> Self {
        Self {
            primary,
            primary_node,
            primary_name: Arc::from(PRIMARY),
            replicas,
        }
    }

    /// The primary's address, as pages show it.
    pub fn primary_address(&self) -> &str {
        &self.primary_node
    }

    /// The read replicas.
    pub fn replicas(&self) -> &Replicas {
        &self.replicas
    }

    /// A connection for changing data: the primary. While the primary is
    /// down and replicas still serve reads, [`AppError::ReadOnly`].
    pub async fn write(&self) -> Result<PooledConnection, AppError> {
        if self.replicas.primary_down() {
            return Err(AppError::ReadOnly(anyhow::anyhow!(
                "the primary failed its last checks"
            )));
        }
        let connection = checkout(&self.primary).await?;
        report::wrote();
        report::read_from(&self.primary_name);
        Ok(connection)
    }

    /// A connection for showing data: a replica fit for this request, or
    /// the primary. While the primary is down, a replica in rotation that
    /// has what the read needs (for a must-be-current read: everything the
    /// primary was last seen with); a write the primary acknowledged in its
    /// last moment and never sent is not there until it is back.
    pub async fn read(&self) -> Result<PooledConnection, AppError> {
        if self.replicas.enabled() {
            let read_after = report::read_after();
            let checkout = if self.replicas.primary_down() {
                // Only a replica that has everything the primary was last
                // seen with may answer what must be current; a read after
                // its author's write still waits for that write.
                if must_be_current() {
                    self.replicas.checkout_current().await
                } else {
                    self.replicas.checkout(read_after).await
                }
            } else if must_be_current() {
                self.replicas.primary_read();
                None
            } else {
                self.replicas.checkout(read_after).await
            };
            if let Some((connection, node)) = checkout {
                report::read_from(&node);
                return Ok(connection);
            }
        }
        report::read_from(&self.primary_name);
        checkout(&self.primary).await
    }

    /// Whether writes are refused for now: the primary is down while the
    /// replicas still serve reads. Pages say so in a banner.
    pub fn read_only(&self) -> bool {
        self.replicas.primary_down()
    }

    /// A connection for a read that must see everything committed (is this
    /// session revoked?): the primary. Not a write.
    pub async fn read_current(&self) -> Result<PooledConnection, AppError> {
        reading_current(self.read()).await
    }

    /// The position a request that wrote hands back: the primary's current
    /// insert position; if that cannot be read (the primary is busy or just
    /// went away), one no replica reaches before plenty more WAL has passed,
    /// so the writer reads from the primary meanwhile rather than from a
    /// replica that may lack the write. `None` without replicas.
    pub async fn position_after_write(&self) -> Option<u64> {
        if !self.replicas.enabled() {
            return None;
        }
        match self.primary_position().await {
            Some(position) => Some(position),
            None => {
                tracing::warn!(
                    "could not read the primary's WAL position after a write: its author reads from the primary for a while"
                );
                Some(self.replicas.conservative_position())
            }
        }
    }

    /// The primary's current WAL insert position: what a replica must have
    /// replayed to show everything committed so far. (The insert position,
    /// not `pg_current_wal_lsn()`: with `synchronous_commit = off` a commit
    /// can return before its record is written out.) `None` without replicas, or when
    /// the primary does not answer.
    pub async fn primary_position(&self) -> Option<u64> {
        #[derive(diesel::QueryableByName)]
        struct Position {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            lsn: i64,
        }
        if !self.replicas.enabled() {
            return None;
        }
        let mut connection = self.primary.get().await.ok()?;
        let position: Position = diesel::sql_query(
            "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS lsn",
        )
        .get_result(&mut connection)
        .await
        .ok()?;
        u64::try_from(position.lsn).ok()
    }

    /// Whether the primary answers a trivial query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let check = async {
            let mut connection = self.primary.get().await.ok()?;
            diesel::sql_query("SELECT 1")
                .execute(&mut connection)
                .await
                .ok()
        };
        matches!(tokio::time::timeout(timeout, check).await, Ok(Some(_)))
    }

    /// Pool figures for the logs and the architecture page.
    pub fn status(&self) -> deadpool::Status {
        self.primary.status()
    }
}

/// A short label for the server `conninfo` names: `host:port`, or the
/// socket folder for a local connection.
pub fn node_label(conninfo: &str) -> String {
    let Ok((config, _)) = connect::settings_of(conninfo) else {
        return "database".to_string();
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => format!("{host}:{port}"),
        Some(tokio_postgres::config::Host::Unix(_)) => "unix socket, same host".to_string(),
        None => "database".to_string(),
    }
}

async fn checkout(pool: &PgPool) -> Result<PooledConnection, AppError> {
    pool.get().await.map_err(|error| match error {
        PoolError::Timeout(_) => AppError::Busy {
            what: "the database",
            retry_after_secs: 1,
        },
        other => AppError::DatabaseUnavailable(anyhow::anyhow!("{other}")),
    })
}
