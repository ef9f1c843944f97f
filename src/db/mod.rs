//! Access to PostgreSQL.
//!
//! Handlers say what they need: [`Db::write`] for a connection that may change
//! data, [`Db::read`] for one that only shows it. Both are the primary for now;
//! a build with read replicas sends reads elsewhere without handlers changing.

pub mod embedded;
pub mod instrumentation;
pub mod local;
pub mod migrations;
pub mod pool;
pub mod shared_dir;

use std::time::Duration;

use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::PoolError;

use crate::error::AppError;
pub use pool::{PgPool, PooledConnection};

/// The application's databases.
#[derive(Clone)]
pub struct Db {
    primary: PgPool,
    primary_node: String,
}

impl Db {
    /// Database access through `primary`, known on pages as `primary_node`.
    pub fn new(primary: PgPool, primary_node: String) -> Self {
        Self {
            primary,
            primary_node,
        }
    }

    /// The node [`Db::read`] uses, as pages show it.
    pub fn read_node(&self) -> &str {
        &self.primary_node
    }

    /// A connection for changing data.
    pub async fn write(&self) -> Result<PooledConnection, AppError> {
        checkout(&self.primary).await
    }

    /// A connection for showing data.
    pub async fn read(&self) -> Result<PooledConnection, AppError> {
        checkout(&self.primary).await
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
    let Ok(config) = conninfo.parse::<tokio_postgres::Config>() else {
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
