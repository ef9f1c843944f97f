//! The connection pool: diesel-async connections over tokio-postgres, pooled
//! by deadpool, each with a statement timeout and diesel-async's prepared
//! statement cache (on by default for every query built with diesel's DSL).
//! Each connection reports its queries to [`super::instrumentation`].

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::settings::DatabaseSettings;

/// A pool of connections to one PostgreSQL server.
pub type PgPool = Pool<AsyncPgConnection>;

/// A connection borrowed from a [`PgPool`].
pub type PooledConnection =
    deadpool::managed::Object<AsyncDieselConnectionManager<AsyncPgConnection>>;

/// Builds a pool for `conninfo`; connections are opened lazily.
pub fn build(
    conninfo: &str,
    settings: &DatabaseSettings,
    application_name: &str,
) -> anyhow::Result<PgPool> {
    let mut config: tokio_postgres::Config = conninfo
        .parse()
        .map_err(|error| anyhow::anyhow!("the database connection string is invalid: {error}"))?;
    config
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .application_name(application_name)
        .options(format!(
            "-c statement_timeout={}",
            settings.statement_timeout_ms
        ));

    let mut manager_config = ManagerConfig::default();
    // No test query on every checkout: a connection the server closed is
    // noticed (`is_closed`) and replaced, and a failure mid-request is a 503.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |_url| connect(config.clone()).boxed());
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        conninfo.to_string(),
        manager_config,
    );
    let timeout = Duration::from_millis(settings.acquire_timeout_ms);
    Pool::builder(manager)
        .max_size(settings.pool_size())
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|error| anyhow::anyhow!("building the database pool: {error}"))
}

fn connect(
    config: tokio_postgres::Config,
) -> BoxFuture<'static, diesel::ConnectionResult<AsyncPgConnection>> {
    async move {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|error| ConnectionError::BadConnection(error.to_string()))?;
        let mut connection =
            AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
        connection.set_instrumentation(super::instrumentation::QueryCounter);
        Ok(connection)
    }
    .boxed()
}
