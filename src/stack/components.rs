//! Starting each kind of server of a stack from its rendered config, and
//! telling whether it is healthy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

use super::pgtune::Tuning;
use super::plan::{DatabasePlacement, Plan};
use super::render::render_file;
use super::secrets::Secrets;
use crate::db::embedded::{ClusterConfig, PgBinaries, PostgresServer};
use crate::db::local::usable_location;
use crate::process::{ChildOptions, ManagedChild};

/// The database the app servers use, and its owner.
pub const DATABASE: &str = "million";
/// The role the app servers connect as.
pub const APP_ROLE: &str = "million";
/// The role replicas stream the primary's WAL as.
pub const REPLICATION_ROLE: &str = "replicator";
/// Connections PostgreSQL accepts: app pools plus room for admins.
const MAX_CONNECTIONS: u64 = 100;

/// What a component is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    /// A streaming replica of the database (phase 5+).
    Replica,
    App,
    /// nginx in front of the app (phases 1–2).
    FrontNginx,
    /// nginx serving static files behind HAProxy (phase 3+).
    StaticNginx,
    Haproxy,
    /// The Redis cache tier (phase 4+).
    Redis,
}

impl Kind {
    /// The name `status` shows.
    pub fn label(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Replica => "replica",
            Self::App => "app",
            Self::FrontNginx | Self::StaticNginx => "nginx",
            Self::Haproxy => "haproxy",
            Self::Redis => "redis",
        }
    }
}

/// A started server.
pub enum Process {
    Postgres(PostgresServer),
    Child(ManagedChild),
}

impl Process {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        match self {
            Self::Postgres(server) => server.pid(),
            Self::Child(child) => child.pid(),
        }
    }

    /// How it ended, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self {
            Self::Postgres(server) => server.exit_status(),
            Self::Child(child) => child.exit_status(),
        }
    }

    /// When it started, in clock ticks after boot (see [`crate::process::start_time`]).
    pub fn start_time(&self) -> Option<u64> {
        match self {
            // Read while it runs: until it exits and is reaped, the pid is its own.
            Self::Postgres(server) if server.exit_status().is_none() => {
                crate::process::start_time(server.pid())
            }
            Self::Postgres(_) => None,
            Self::Child(child) => child.start_time(),
        }
    }

    /// Stops it the way its kind likes, waiting up to `grace`, without
    /// blocking the executor.
    pub async fn stop(self, grace: Duration) {
        match self {
            // `PostgresServer::stop` blocks its thread until PostgreSQL has
            // checkpointed and exited: run it on the blocking pool, away
            // from the executor.
            Self::Postgres(server) => {
                let _ = tokio::task::spawn_blocking(move || server.stop()).await;
            }
            Self::Child(child) => {
                child.stop_async(Signal::SIGTERM, grace).await;
            }
        }
    }

    /// [`Self::stop`] for where nothing can be awaited (`Drop`): blocks
    /// this thread.
    pub fn stop_blocking(&self, grace: Duration) {
        match self {
            Self::Postgres(server) => server.stop(),
            Self::Child(child) => {
                child.stop(Signal::SIGTERM, grace);
            }
        }
    }

    /// Kills it outright, as a crash would.
    pub fn kill(&self) {
        match self {
            Self::Postgres(server) => server.kill(),
            Self::Child(child) => child.signal(Signal::SIGKILL),
        }
    }
}

/// Finds a server program on `PATH` or in the system folders.
fn program(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    let mut folders: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    folders.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    folders
        .into_iter()
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("{name} is not installed: run `sudo apt-get install {package}` (or `make phase-deps`)")
        })
}

/// The rendered-config folder.
fn config_dir(plan: &Plan) -> PathBuf {
    plan.state_dir.join("config")
}

/// Log file for `name`.
pub fn log_file(plan: &Plan, name: &str) -> PathBuf {
    plan.state_dir.join("logs").join(format!("{name}.log"))
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

fn postgres_endpoint(plan: &Plan) -> (String, u16) {
    match &plan.database {
        DatabasePlacement::SameHost => (String::new(), 5432),
        DatabasePlacement::OwnHost(address) => (address.ip().to_string(), address.port()),
    }
}

/// Starts PostgreSQL with `deploy/postgres/*.conf`, sized for the plan's machine.
pub async fn start_postgres(plan: &Plan) -> anyhow::Result<PostgresServer> {
    let binaries = PgBinaries::locate()?;
    let (listen, port) = postgres_endpoint(plan);
    let config = cluster_config(plan, "postgres", &plan.state_dir, listen, port)?;
    PostgresServer::start(&binaries, config).await
}

/// Starts replica `index` (from 0) of the plan: cloned from the primary with
/// `pg_basebackup -R` the first time, streaming from it as `replicator`.
pub async fn start_replica(
    plan: &Plan,
    secrets: &Secrets,
    index: usize,
) -> anyhow::Result<PostgresServer> {
    let binaries = PgBinaries::locate()?;
    let address = plan
        .replicas
        .get(index)
        .context("no such replica in this plan")?;
    let DatabasePlacement::OwnHost(primary) = &plan.database else {
        bail!("replicas need the database on its own host (phase 2+)");
    };
    let name = replica_name(index);
    let config = cluster_config(
        plan,
        &name,
        &plan.state_dir.join(&name),
        address.ip().to_string(),
        address.port(),
    )?;
    let source = format!(
        "host={} port={} user={REPLICATION_ROLE} password={} application_name={name}",
        primary.ip(),
        primary.port(),
        secrets.replication_password
    );
    PostgresServer::start_replica(&binaries, config, &source).await
}

/// `replica-1`, … for replica `index` (from 0).
pub fn replica_name(index: usize) -> String {
    format!("replica-{}", index + 1)
}

/// Renders `deploy/postgres/*.conf` for the server `name` listening on
/// `listen:port`, with its data under `state_dir`.
fn cluster_config(
    plan: &Plan,
    name: &str,
    state_dir: &Path,
    listen: String,
    port: u16,
) -> anyhow::Result<ClusterConfig> {
    let (dir, shared) = postgres_location(state_dir)?;
    if shared {
        crate::db::shared_dir::claim(&dir)?;
    }
    let tuning = Tuning::for_machine(plan.machine, MAX_CONNECTIONS);
    let socket_dir = dir.join("run");
    let file_name = |kind: &str| {
        if name == "postgres" {
            format!("{kind}.conf")
        } else {
            format!("{kind}-{name}.conf")
        }
    };
    let conf = config_dir(plan).join(file_name("postgresql"));
    let hba = config_dir(plan).join(file_name("pg_hba"));
    let values = vec![
        ("LISTEN_ADDRESSES", listen.clone()),
        ("PORT", port.to_string()),
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
        // On one machine every loopback connection comes from 127.0.0.1,
        // whichever 127.x address it goes to.
        ("APP_HOSTS", "127.0.0.1/32".to_string()),
        ("REPLICA_HOSTS", "127.0.0.1/32".to_string()),
    ];
    let deploy = plan.project_dir.join("deploy/postgres");
    render_file(&deploy.join("postgresql.conf"), &conf, &values)?;
    render_file(&deploy.join("pg_hba.conf"), &hba, &values)?;
    // The postgres account reads the rendered files.
    for file in [&conf, &hba] {
        std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    }
    Ok(ClusterConfig {
        data_dir: dir.join("data"),
        socket_dir,
        port,
        listen_addresses: listen,
        superuser: "postgres".to_string(),
        throwaway: false,
        settings: vec![
            ("config_file".to_string(), conf.display().to_string()),
            ("hba_file".to_string(), hba.display().to_string()),
        ],
        log_file: log_file(plan, name),
    })
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
        DatabasePlacement::OwnHost(address) => vec![
            ("DB_HOST", address.ip().to_string()),
            ("DB_PORT", address.port().to_string()),
            ("DB_NAME", DATABASE.to_string()),
            ("DB_USER", APP_ROLE.to_string()),
            ("DB_PASSWORD", secrets.database_password.clone()),
        ],
    })
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

/// Starts app server `index` of the plan.
pub fn start_app(plan: &Plan, secrets: &Secrets, index: usize) -> anyhow::Result<ManagedChild> {
    let app = &plan.apps[index];
    let mut command = Command::new(&plan.app_binary);
    command.arg("serve").current_dir(&plan.project_dir);
    for inherited in [
        "DATABASE_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASSWORD",
        "RUST_LOG",
    ] {
        command.env_remove(inherited);
    }
    let servers: Vec<String> = plan
        .apps
        .iter()
        .map(|app| format!("{}={}", app.name, app.address))
        .collect();
    let front = if plan.load_balanced() {
        format!("haproxy {}", plan.front)
    } else {
        format!("nginx {}", plan.front)
    };
    let static_server = plan
        .static_server
        .map(|address| format!("nginx {address}"))
        .unwrap_or_default();
    let sessions = match plan.sessions {
        crate::settings::SessionStoreKind::Memory => "memory",
        crate::settings::SessionStoreKind::Cookie => "cookie",
    };
    let env: Vec<(&str, String)> = vec![
        ("APP_ENVIRONMENT", "local".into()),
        (
            "APP_CONFIG_DIR",
            plan.project_dir.join("config").display().to_string(),
        ),
        ("APP__APPLICATION__HOST", app.address.ip().to_string()),
        ("APP__APPLICATION__PORT", app.address.port().to_string()),
        ("APP__APPLICATION__INSTANCE_NAME", app.name.clone()),
        ("APP__APPLICATION__WORKERS", "0".into()),
        ("APP__APPLICATION__TRUSTED_PROXIES", "127.0.0.1".into()),
        (
            "APP__APPLICATION__STATIC_DIR",
            plan.project_dir.join("static").display().to_string(),
        ),
        ("APP__DATABASE__MIGRATE_ON_START", "false".into()),
        ("APP__AUTH__JWT_SECRET", secrets.jwt_secret.clone()),
        ("APP__SESSION__SECRET", secrets.session_secret.clone()),
        ("APP__SESSION__STORE", sessions.into()),
        ("APP__ARCHITECTURE__PHASE", plan.phase.to_string()),
        ("APP__ARCHITECTURE__FRONT", front),
        ("APP__ARCHITECTURE__APP_SERVERS", servers.join(",")),
        ("APP__ARCHITECTURE__STATIC_SERVER", static_server),
        (
            "APP__CACHE__REDIS_URL",
            plan.cache
                .map(|address| format!("redis://{address}"))
                .unwrap_or_default(),
        ),
    ];
    command.envs(env);
    if !plan.replicas.is_empty() {
        let hosts: Vec<String> = plan.replicas.iter().map(ToString::to_string).collect();
        command.env("APP__REPLICAS__HOSTS", hosts.join(","));
    }
    command.envs(database_env(plan, secrets)?);
    ManagedChild::spawn(
        command,
        ChildOptions {
            name: &app.name,
            log_file: &log_file(plan, &app.name),
            run_as: None,
            on_parent_death: Signal::SIGTERM,
        },
    )
}

/// Starts nginx: the front door (phases 1–2) or the static server (phase 3+).
pub fn start_nginx(plan: &Plan, kind: Kind) -> anyhow::Result<ManagedChild> {
    let nginx = program("nginx", "nginx")?;
    let prefix = plan.state_dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs"))?;
    let (template, listen) = match kind {
        Kind::StaticNginx => (
            "static.conf",
            plan.static_server
                .context("this phase has no static server")?,
        ),
        _ => ("million.conf", plan.front),
    };
    let user = if nix::unistd::Uid::effective().is_root() {
        // Workers must read the project's static/ folder wherever it is checked out.
        "root".to_string()
    } else {
        nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .ok()
            .flatten()
            .map_or_else(|| "nobody".to_string(), |user| user.name)
    };
    let conf = config_dir(plan).join("nginx.conf");
    let values = vec![
        ("NGINX_USER", user),
        ("PID_FILE", prefix.join("nginx.pid").display().to_string()),
        ("LOG_DIR", plan.state_dir.join("logs").display().to_string()),
        ("MIME_TYPES", "/etc/nginx/mime.types".to_string()),
        ("LISTEN", listen.to_string()),
        (
            "APP_ADDRESS",
            plan.apps
                .first()
                .map(|app| app.address.to_string())
                .unwrap_or_default(),
        ),
        (
            "STATIC_ROOT",
            plan.project_dir.join("static").display().to_string(),
        ),
    ];
    render_file(
        &plan.project_dir.join("deploy/nginx").join(template),
        &conf,
        &values,
    )?;
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"]);
    ManagedChild::spawn(
        command,
        ChildOptions {
            name: "nginx",
            log_file: &log_file(plan, "nginx"),
            run_as: None,
            // QUIT is nginx's graceful stop; its workers follow the master.
            on_parent_death: Signal::SIGQUIT,
        },
    )
}

/// Starts HAProxy over the app servers (phase 3+).
pub fn start_haproxy(plan: &Plan) -> anyhow::Result<ManagedChild> {
    let haproxy = program("haproxy", "haproxy")?;
    let conf = config_dir(plan).join("haproxy.cfg");
    let values = vec![
        ("LISTEN", plan.front.to_string()),
        (
            "STATIC_SERVER",
            plan.static_server
                .context("phase 3 needs a static server")?
                .to_string(),
        ),
        ("APP_SERVERS", haproxy_servers(plan)),
    ];
    render_file(
        &plan.project_dir.join("deploy/haproxy/haproxy.cfg"),
        &conf,
        &values,
    )?;
    let mut command = Command::new(haproxy);
    command.arg("-f").arg(&conf).arg("-db");
    ManagedChild::spawn(
        command,
        ChildOptions {
            name: "haproxy",
            log_file: &log_file(plan, "haproxy"),
            run_as: None,
            on_parent_death: Signal::SIGTERM,
        },
    )
}

/// One `server` line per app server of the plan, however many there are.
fn haproxy_servers(plan: &Plan) -> String {
    plan.apps
        .iter()
        .map(|app| format!("server {} {} check", app.name, app.address))
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// Starts Redis with `deploy/redis/redis.conf` (phase 4+).
pub fn start_redis(plan: &Plan) -> anyhow::Result<ManagedChild> {
    let redis = program("redis-server", "redis-server")?;
    let address = plan.cache.context("this phase has no cache tier")?;
    let data = plan.state_dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let conf = config_dir(plan).join("redis.conf");
    let values = vec![
        ("BIND", address.ip().to_string()),
        ("PORT", address.port().to_string()),
        ("DATA_DIR", data.display().to_string()),
        // A tenth of what PostgreSQL is sized for: plenty for the hot set.
        (
            "MAXMEMORY",
            format!("{}mb", (plan.machine.memory_bytes / 10 / (1 << 20)).max(32)),
        ),
    ];
    render_file(
        &plan.project_dir.join("deploy/redis/redis.conf"),
        &conf,
        &values,
    )?;
    let mut command = Command::new(redis);
    command.arg(&conf);
    ManagedChild::spawn(
        command,
        ChildOptions {
            name: "redis",
            log_file: &log_file(plan, "redis"),
            run_as: None,
            on_parent_death: Signal::SIGTERM,
        },
    )
}

/// Whether Redis at `address` answers PING.
pub async fn redis_ok(address: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await.ok()?;
        Some(&reply == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}

/// Whether `url` answers 200 within a second.
pub async fn http_ok(url: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let Ok(client) = client else {
        return false;
    };
    matches!(client.get(url).send().await, Ok(response) if response.status().is_success())
}

/// Whether something already listens on `address` (another stack, or `make run`).
pub fn in_use(address: SocketAddr) -> bool {
    std::net::TcpListener::bind(address).is_err()
}

/// The last lines of `log`, for error messages.
pub fn tail(log: &Path) -> String {
    crate::process::log_tail(log, 12)
}
