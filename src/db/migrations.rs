//! Schema migrations, embedded in the binary from `migrations/`.
//!
//! Several app servers may start at once: an advisory lock makes them take
//! turns, so each migration runs exactly once.

use anyhow::Context;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Arbitrary key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x006d_696c_6c69_6f6e;

/// Applies every pending migration and returns the versions applied.
pub async fn run(conninfo: &str) -> anyhow::Result<Vec<String>> {
    let mut connection = super::connect::Target::parse(conninfo)?
        .diesel()
        .await
        .context("connecting to the database to migrate it")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .execute(&mut connection)
        .await
        .context("taking the migration lock")?;
    // diesel's migration harness is synchronous: run it on a blocking thread.
    let (connection, applied) = tokio::task::spawn_blocking(move || {
        let mut harness: AsyncConnectionWrapper<AsyncPgConnection> = connection.into();
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|error| anyhow::anyhow!("applying migrations: {error}"));
        (harness.into_inner(), applied)
    })
    .await
    .context("the migration task panicked")?;
    let mut connection = connection;
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
        .execute(&mut connection)
        .await
        .context("releasing the migration lock")?;
    applied
}
