//! The embedded default: with no database configured, `million` runs its own
//! PostgreSQL in a local folder, reachable only over a unix socket.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::embedded::{ClusterConfig, PgBinaries, PostgresServer, reachable_by, service_user};

/// Name of the database the app uses inside the embedded cluster.
const DATABASE: &str = "million";

/// A private PostgreSQL cluster holding the app's database.
pub struct LocalDatabase {
    server: PostgresServer,
}

impl LocalDatabase {
    /// Starts (initialising on first use) the cluster kept under `dir`.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let binaries = PgBinaries::locate()?;
        let dir = usable_location(dir)?;
        tracing::info!(
            "starting the embedded PostgreSQL in {} (set DATABASE_URL to use another server)",
            dir.display()
        );
        let server = PostgresServer::start(
            &binaries,
            ClusterConfig {
                data_dir: dir.join("data"),
                socket_dir: dir.join("run"),
                port: 5432,
                listen_addresses: String::new(),
                superuser: "million".to_string(),
                throwaway: false,
                settings: Vec::new(),
                log_file: dir.join("postgres.log"),
                netns: None,
            },
        )
        .await
        .context("starting the embedded PostgreSQL")?;
        server.ensure_database(DATABASE).await?;
        Ok(Self { server })
    }

    /// The connection string of the app's database.
    pub fn conninfo(&self) -> String {
        self.server.url(DATABASE)
    }

    /// Stops the cluster cleanly.
    pub fn stop(self) {
        tracing::info!("stopping the embedded PostgreSQL");
        self.server.stop();
    }
}

/// `dir`, unless we are root and PostgreSQL's user cannot reach it; then a
/// folder under /var/tmp named after it, so the data still persists.
pub fn usable_location(dir: &Path) -> anyhow::Result<PathBuf> {
    let absolute =
        std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let Some(user) = service_user()? else {
        return Ok(absolute);
    };
    if reachable_by(&absolute, &user) {
        return Ok(absolute);
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in absolute.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let fallback = PathBuf::from(format!("/var/tmp/million-{hash:016x}"));
    // A predictable name in a folder everyone can write to: make it ours,
    // or refuse one that someone else made.
    super::shared_dir::claim(&fallback)?;
    tracing::info!(
        "user `{}` (PostgreSQL will not run as root) cannot reach {}; keeping the database in {} instead",
        user.name,
        absolute.display(),
        fallback.display()
    );
    Ok(fallback)
}
