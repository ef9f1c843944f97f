//! The connection pool: diesel-async connections over tokio-postgres, pooled
//! by deadpool, each with a statement timeout and diesel-async's prepared
//! statement cache (on by default for every query built with diesel's DSL).
//! Each connection reports its queries to [`super::instrumentation`].

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::connect::Target;
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
    let mut target = Target::parse(conninfo)?;
    target
        .config_mut()
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .application_name(application_name)
        .options(format!(
            "-c statement_timeout={}",
            settings.statement_timeout_ms
        ));
    let timeout = Duration::from_millis(settings.acquire_timeout_ms);
    let connect = Duration::from_millis(settings.connect_timeout_ms);
    pool_for(target, settings, timeout, connect)
}

/// A pool of read-only connections to a replica at `config`: a write on one
/// fails loudly. A connection not had within `timeout` (waiting or
/// connecting) is given up on, so that the read can go to the primary.
pub fn build_read_only(
    mut target: Target,
    settings: &DatabaseSettings,
    timeout: Duration,
    application_name: &str,
) -> anyhow::Result<PgPool> {
    let config = target.config_mut();
    config.application_name(application_name).options(format!(
        "-c statement_timeout={} -c default_transaction_read_only=on",
        settings.statement_timeout_ms
    ));
    // A new connection (TCP and authentication) gets a little longer.
    let connect = timeout.max(Duration::from_millis(250));
    config.connect_timeout(connect);
    pool_for(target, settings, timeout, connect)
}

fn pool_for(
    target: Target,
    settings: &DatabaseSettings,
    timeout: Duration,
    create_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let mut manager_config = ManagerConfig::default();
    // No test query on every checkout: a connection the server closed is
    // noticed (`is_closed`) and replaced, and a failure mid-request is a 503.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |_url| connect(target.clone()).boxed());
    // The URL is unused: `custom_setup` connects to `target`.
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        String::new(),
        manager_config,
    );
    Pool::builder(manager)
        .max_size(settings.pool_size())
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(create_timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|error| anyhow::anyhow!("building the database pool: {error}"))
}

fn connect(target: Target) -> BoxFuture<'static, diesel::ConnectionResult<AsyncPgConnection>> {
    async move {
        let mut connection = target.diesel().await?;
        connection.set_instrumentation(super::instrumentation::QueryCounter);
        Ok(connection)
    }
    .boxed()
}
