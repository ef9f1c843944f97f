//! PostgreSQL, the primary: `deploy/postgres/*.conf` sized by the pgtune
//! rules for the plan's machine, the app's role and database, the role the
//! replicas stream as, migrations and the demo data.

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{Kind, Process, Server, config_dir, log_file};
use crate::db::embedded::{ClusterConfig, PgBinaries, PostgresServer};
use crate::db::local::usable_location;
use crate::stack::pgtune::Tuning;
use crate::stack::plan::{DatabasePlacement, Plan};
use crate::stack::render::render_file;
use crate::stack::secrets::Secrets;

/// The database the app servers use, and its owner.
pub const DATABASE: &str = "million";
/// The role the app servers connect as.
pub const APP_ROLE: &str = "million";
/// The role replicas stream the primary's WAL as.
pub const REPLICATION_ROLE: &str = "replicator";
/// Connections PostgreSQL accepts: app pools plus room for admins.
const MAX_CONNECTIONS: u64 = 100;

/// The primary database server.
pub struct Primary;

impl Server for Primary {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn render(&self, plan: &Plan, _secrets: &Secrets) -> anyhow::Result<()> {
        let (listen, port) = postgres_endpoint(plan);
        if plan.tls() {
            // What the app servers (and the runner, migrating) verify it with.
            super::tls::trust(plan, &super::tls::app_trust_dir(plan))?;
        }
        PostgresNode::new("postgres", &plan.state_dir, listen, port).render(plan)
    }

    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>> {
        async move {
            let binaries = PgBinaries::locate()?;
            let (listen, port) = postgres_endpoint(plan);
            let config =
                PostgresNode::new("postgres", &plan.state_dir, listen, port).config(plan)?;
            let server = PostgresServer::start(&binaries, config).await?;
            provision(&server, secrets).await?;
            let conninfo = runner_conninfo(plan, secrets)?;
            crate::db::migrations::run(&conninfo).await?;
            crate::seed::run(&conninfo, &crate::seed::Plan::demo(), true).await?;
            Ok(Process::Postgres(server))
        }
        .boxed()
    }
}

/// One PostgreSQL server of the stack: its name (which names its rendered
/// configs and log), where its data lives and where it listens.
pub(super) struct PostgresNode<'a> {
    name: &'a str,
    state_dir: &'a Path,
    listen: String,
    port: u16,
}

impl<'a> PostgresNode<'a> {
    pub(super) fn new(name: &'a str, state_dir: &'a Path, listen: String, port: u16) -> Self {
        Self {
            name,
            state_dir,
            listen,
            port,
        }
    }

    fn config_files(&self, plan: &Plan) -> (PathBuf, PathBuf) {
        let file_name = |kind: &str| {
            if self.name == "postgres" {
                format!("{kind}.conf")
            } else {
                format!("{kind}-{}.conf", self.name)
            }
        };
        (
            config_dir(plan).join(file_name("postgresql")),
            config_dir(plan).join(file_name("pg_hba")),
        )
    }

    /// Where this server's certificate, key and copy of the authority's
    /// certificate live (phase 6): beside its data, where its account reaches.
    pub(super) fn tls_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(postgres_location(self.state_dir)?.0.join("tls"))
    }

    /// `postgresql.conf`'s TLS settings and `pg_hba.conf`'s connection type
    /// for other hosts: TLS only in phase 6, with a new certificate for this
    /// server's address.
    fn tls(&self, plan: &Plan) -> anyhow::Result<(String, &'static str)> {
        if !plan.tls() || self.listen.is_empty() {
            return Ok(("ssl = off".to_string(), "host"));
        }
        let address = self
            .listen
            .parse()
            .with_context(|| format!("{}: `{}` is not an address", self.name, self.listen))?;
        let dir = self.tls_dir()?;
        let owner = crate::db::embedded::service_user()?;
        let issued = super::tls::issue(plan, self.name, address, &dir, owner.as_ref())?;
        // A replica verifies its primary with it.
        super::tls::trust(plan, &dir)?;
        // postgresql.conf doubles a quote inside a quoted value.
        let quoted = |path: &std::path::Path| path.display().to_string().replace('\'', "''");
        let settings = format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_min_protocol_version = 'TLSv1.2'",
            quoted(&issued.certificate),
            quoted(&issued.key)
        );
        Ok((settings, "hostssl"))
    }

    /// Renders `deploy/postgres/*.conf` for this server.
    pub(super) fn render(&self, plan: &Plan) -> anyhow::Result<()> {
        let (dir, shared) = postgres_location(self.state_dir)?;
        if shared {
            crate::db::shared_dir::claim(&dir)?;
        }
        let (tls_settings, other_hosts) = self.tls(plan)?;
        let tuning = Tuning::for_machine(plan.machine, MAX_CONNECTIONS);
        let socket_dir = dir.join("run");
        let (conf, hba) = self.config_files(plan);
        let values = vec![
            ("LISTEN_ADDRESSES", self.listen.clone()),
            ("PORT", self.port.to_string()),
            ("SOCKET_DIR", socket_dir.display().to_string()),
            ("MAX_CONNECTIONS", tuning.max_connections.to_string()),
            ("SHARED_BUFFERS", tuning.shared_buffers.clone()),
            ("EFFECTIVE_CACHE_SIZE", tuning.effective_cache_size.clone()),
            ("MAINTENANCE_WORK_MEM", tuning.maintenance_work_mem.clone()),
            ("WORK_MEM", tuning.work_mem.clone()),
            ("WAL_BUFFERS", tuning.wal_buffers.clone()),
            ("MIN_WAL_SIZE", tuning.min_wal_size.clone()),
            ("MAX_WAL_SIZE", tuning.max_wal_size.clone()),
            ("RANDOM_PAGE_COST", tuning.random_page_cost.clone()),
            (
                "EFFECTIVE_IO_CONCURRENCY",
                tuning.effective_io_concurrency.to_string(),
            ),
            (
                "MAX_WORKER_PROCESSES",
                tuning.max_worker_processes.to_string(),
            ),
            (
                "MAX_PARALLEL_WORKERS",
                tuning.max_parallel_workers.to_string(),
            ),
            (
                "MAX_PARALLEL_WORKERS_PER_GATHER",
                tuning.max_parallel_workers_per_gather.to_string(),
            ),
            (
                "MAX_PARALLEL_MAINTENANCE_WORKERS",
                tuning.max_parallel_maintenance_workers.to_string(),
            ),
            // Locally the admin is whoever runs the stack; a real server uses peer.
            ("ADMIN_AUTH", "trust".to_string()),
            ("OTHER_HOSTS", other_host_lines(plan, other_hosts)),
            ("TLS", tls_settings),
        ];
        let deploy = plan.project_dir.join("deploy/postgres");
        render_file(&deploy.join("postgresql.conf"), &conf, &values)?;
        render_file(&deploy.join("pg_hba.conf"), &hba, &values)?;
        // The postgres account reads the rendered files.
        for file in [&conf, &hba] {
            std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        }
        Ok(())
    }

    /// How to start this server from its rendered configs.
    pub(super) fn config(&self, plan: &Plan) -> anyhow::Result<ClusterConfig> {
        let (dir, shared) = postgres_location(self.state_dir)?;
        if shared {
            crate::db::shared_dir::claim(&dir)?;
        }
        let (conf, hba) = self.config_files(plan);
        Ok(ClusterConfig {
            data_dir: dir.join("data"),
            socket_dir: dir.join("run"),
            port: self.port,
            listen_addresses: self.listen.clone(),
            superuser: "postgres".to_string(),
            throwaway: false,
            settings: vec![
                ("config_file".to_string(), conf.display().to_string()),
                ("hba_file".to_string(), hba.display().to_string()),
            ],
            log_file: log_file(plan, self.name),
            netns: plan.namespace_of_host(&self.listen),
        })
    }
}

/// Where the stack's PostgreSQL keeps its data and socket.
pub fn postgres_dir(plan: &Plan) -> anyhow::Result<PathBuf> {
    Ok(postgres_location(&plan.state_dir)?.0)
}

/// Where the PostgreSQL of the stack kept in `state_dir` keeps its data and
/// socket, and whether that is a shared folder (under /var/tmp, when we are
/// root and PostgreSQL's account cannot reach the state folder) that must be
/// checked with [`crate::db::shared_dir`] before use.
pub fn postgres_location(state_dir: &Path) -> anyhow::Result<(PathBuf, bool)> {
    let own = state_dir.join("postgres");
    let own = std::path::absolute(&own).with_context(|| format!("resolving {}", own.display()))?;
    let location = usable_location(&own)?;
    let shared = location != own;
    Ok((location, shared))
}

pub(super) fn postgres_endpoint(plan: &Plan) -> (String, u16) {
    match &plan.database {
        DatabasePlacement::SameHost => (String::new(), 5432),
        DatabasePlacement::OwnHost(address) => (address.ip().to_string(), address.port()),
    }
}

/// Creates (or updates) the app's role and database, and the role replicas
/// stream as.
pub async fn provision(server: &PostgresServer, secrets: &Secrets) -> anyhow::Result<()> {
    let (client, connection) =
        tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls)
            .await
            .context("connecting to the stack's PostgreSQL as its admin")?;
    let driver = tokio::spawn(connection);
    // The password is generated alphanumeric text: safe inside quotes.
    client
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                 CREATE ROLE {APP_ROLE} LOGIN;
               END IF;
             END $$;
             ALTER ROLE {APP_ROLE} WITH LOGIN PASSWORD '{}';",
            secrets.database_password
        ))
        .await
        .context("creating the app's database role")?;
    client
        .batch_execute(&format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{REPLICATION_ROLE}') THEN
                 CREATE ROLE {REPLICATION_ROLE} WITH REPLICATION LOGIN;
               END IF;
             END $$;
             ALTER ROLE {REPLICATION_ROLE} WITH REPLICATION LOGIN PASSWORD '{}';",
            secrets.replication_password
        ))
        .await
        .context("creating the replication role")?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {DATABASE} OWNER {APP_ROLE}"))
            .await
            .context("creating the app's database")?;
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// How the app servers reach the database: the variables a real deployment
/// would set (`DATABASE_URL` over the socket in phase 1, `DB_*` after).
pub fn database_env(plan: &Plan, secrets: &Secrets) -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(match &plan.database {
        DatabasePlacement::SameHost => vec![(
            "DATABASE_URL",
            format!(
                "host={} port=5432 dbname={DATABASE} user={APP_ROLE} password={}",
                postgres_dir(plan)?.join("run").display(),
                secrets.database_password
            ),
        )],
        DatabasePlacement::OwnHost(address) => {
            let mut env = vec![
                ("DB_HOST", address.ip().to_string()),
                ("DB_PORT", address.port().to_string()),
                ("DB_NAME", DATABASE.to_string()),
                ("DB_USER", APP_ROLE.to_string()),
                ("DB_PASSWORD", secrets.database_password.clone()),
            ];
            if plan.tls() {
                env.push(("DB_SSLMODE", "verify-full".to_string()));
                env.push((
                    "DB_SSLROOTCERT",
                    super::tls::app_trust_dir(plan)
                        .join("ca.pem")
                        .display()
                        .to_string(),
                ));
            }
            env
        }
    })
}

/// `pg_hba.conf`'s lines for the hosts that reach PostgreSQL over the
/// network, each by its own address where hosts have namespaces of their own.
fn other_host_lines(plan: &Plan, kind: &str) -> String {
    let line = |database: &str, user: &str, address: String, who: &str| {
        format!("{kind:<7} {database:<11} {user:<10} {address:<15} scram-sha-256  # {who}")
    };
    let mut lines = Vec::new();
    if plan.network.is_some() {
        for app in &plan.apps {
            lines.push(line(
                DATABASE,
                APP_ROLE,
                format!("{}/32", app.address.ip()),
                &app.name,
            ));
        }
        for (index, replica) in plan.replicas.iter().enumerate() {
            let name = super::replica_name(index);
            lines.push(line(
                "replication",
                REPLICATION_ROLE,
                format!("{}/32", replica.ip()),
                &name,
            ));
        }
    } else {
        lines.push(line(
            DATABASE,
            APP_ROLE,
            "127.0.0.1/32".into(),
            "the app servers",
        ));
        if !plan.replicas.is_empty() {
            lines.push(line(
                "replication",
                REPLICATION_ROLE,
                "127.0.0.1/32".into(),
                "the replicas",
            ));
        }
    }
    lines.join("\n")
}

/// How the runner itself connects as the app's role (migrations, the demo
/// data): as the app servers do, except where hosts have namespaces of
/// their own, where only the app servers may reach PostgreSQL over the
/// network: there it comes through the database host's unix socket.
pub fn runner_conninfo(plan: &Plan, secrets: &Secrets) -> anyhow::Result<String> {
    if plan.network.is_some()
        && let DatabasePlacement::OwnHost(address) = &plan.database
    {
        return Ok(format!(
            "host={} port={} dbname={DATABASE} user={APP_ROLE} password={}",
            crate::settings::quote_conninfo(&postgres_dir(plan)?.join("run").display().to_string()),
            address.port(),
            secrets.database_password
        ));
    }
    app_conninfo(plan, secrets)
}

/// The connection string the runner itself uses as the app's role.
pub fn app_conninfo(plan: &Plan, secrets: &Secrets) -> anyhow::Result<String> {
    let mut settings = crate::settings::DatabaseSettings {
        url: secrecy::SecretString::from(String::new()),
        pool_size: 0,
        acquire_timeout_ms: 0,
        connect_timeout_ms: 0,
        statement_timeout_ms: 0,
        migrate_on_start: false,
        embedded_dir: PathBuf::new(),
    };
    settings.apply_env(
        database_env(plan, secrets)?
            .into_iter()
            .map(|(key, value)| (key.to_string(), value)),
    )?;
    use secrecy::ExposeSecret;
    Ok(settings.url.expose_secret().to_string())
}
