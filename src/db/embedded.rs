//! A private PostgreSQL server run from the distribution's binaries.
//!
//! `million serve` uses one when no database is configured, the test harness
//! starts a throwaway one per test run, and the phase stacks start theirs.
//! PostgreSQL refuses to run as root; as root we start it as the `postgres`
//! user (or `nobody`), which must be able to reach its data folder.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use nix::unistd::{Uid, User};

use crate::process::{ChildOptions, ManagedChild, log_tail};

/// The PostgreSQL server programs.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    /// Folder holding `initdb` and `postgres`.
    pub bin_dir: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb` and `postgres` on `PATH` or under `/usr/lib/postgresql/*/bin`.
    pub fn locate() -> anyhow::Result<Self> {
        Self::locate_in(std::env::var_os("PATH"), Path::new("/usr/lib/postgresql"))
    }

    fn locate_in(path: Option<std::ffi::OsString>, versions_root: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.clone().and_then(|path| {
            std::env::split_paths(&path)
                .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        }) {
            return Ok(Self { bin_dir: dir });
        }
        // initdb on PATH is often a symlink into the versioned folder holding postgres.
        if let Some(dir) = path.and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("initdb"))
                .filter_map(|initdb| std::fs::canonicalize(initdb).ok())
                .filter_map(|real| real.parent().map(Path::to_path_buf))
                .find(|dir| dir.join("postgres").is_file())
        }) {
            return Ok(Self { bin_dir: dir });
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(versions_root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                (bin.join("initdb").is_file() && bin.join("postgres").is_file())
                    .then_some((version, bin))
            })
            .collect();
        versions.sort();
        match versions.pop() {
            Some((_, bin_dir)) => Ok(Self { bin_dir }),
            None => bail!(
                "PostgreSQL server programs (initdb, postgres) were not found on PATH or under \
                 /usr/lib/postgresql/*/bin. Install them with `sudo apt-get install postgresql` \
                 (Debian/Ubuntu), or set DATABASE_URL to use a server you already run."
            ),
        }
    }

    /// `name` beside `postgres`: in `bin_dir`, or in the folder `postgres`
    /// really lives in when `bin_dir` holds only links to some programs.
    fn program(&self, name: &str) -> PathBuf {
        let beside = self.bin_dir.join(name);
        if beside.is_file() {
            return beside;
        }
        std::fs::canonicalize(self.bin_dir.join("postgres"))
            .ok()
            .and_then(|real| real.parent().map(|dir| dir.join(name)))
            .filter(|candidate| candidate.is_file())
            .unwrap_or(beside)
    }
}

/// How to lay out and start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The data folder (created with `initdb` when empty).
    pub data_dir: PathBuf,
    /// Folder for the unix socket.
    pub socket_dir: PathBuf,
    /// Port (also names the socket file).
    pub port: u16,
    /// TCP addresses to listen on; empty means the unix socket only.
    pub listen_addresses: String,
    /// Name of the superuser `initdb` creates.
    pub superuser: String,
    /// Trade durability for speed (tests): no fsync, no full-page writes.
    pub throwaway: bool,
    /// Further `-c name=value` settings.
    pub settings: Vec<(String, String)>,
    /// Where the server's log goes.
    pub log_file: PathBuf,
    /// The network namespace it runs in: a host of its own (phase 6).
    pub netns: Option<PathBuf>,
}

/// A PostgreSQL server started by us.
#[derive(Debug)]
pub struct PostgresServer {
    child: ManagedChild,
    config: ClusterConfig,
}

impl PostgresServer {
    /// Initialises the data folder if needed, starts the server and waits until
    /// it accepts connections.
    pub async fn start(binaries: &PgBinaries, config: ClusterConfig) -> anyhow::Result<Self> {
        let run_as = service_user()?;
        prepare_dir(&config.data_dir, run_as.as_ref(), 0o700)?;
        prepare_dir(&config.socket_dir, run_as.as_ref(), 0o700)?;
        if let Some(parent) = config.log_file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if let Some(user) = &run_as {
            check_reachable(&config.data_dir, user)?;
            check_reachable(&config.socket_dir, user)?;
        }
        let socket = config.socket_dir.join(format!(".s.PGSQL.{}", config.port));
        if socket.as_os_str().len() > 100 {
            bail!(
                "the PostgreSQL socket path {} is too long for a unix socket (100 bytes at most): \
                 move the project to a shorter path",
                socket.display()
            );
        }
        if !config.data_dir.join("PG_VERSION").exists() {
            initdb(binaries, &config, run_as.as_ref())?;
        }

        let mut command = Command::new(binaries.program("postgres"));
        command
            .arg("-D")
            .arg(&config.data_dir)
            .arg("-p")
            .arg(config.port.to_string())
            .arg("-k")
            .arg(&config.socket_dir)
            .arg("-c")
            .arg(format!("listen_addresses={}", config.listen_addresses));
        if config.throwaway {
            for setting in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                command.arg("-c").arg(setting);
            }
        }
        for (name, value) in &config.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        let child = ManagedChild::spawn(
            command,
            ChildOptions {
                name: "postgres",
                log_file: &config.log_file,
                run_as: run_as.as_ref(),
                // A fast shutdown: disconnect clients, checkpoint, exit.
                on_parent_death: Signal::SIGINT,
                netns: config.netns.as_deref(),
            },
        )?;
        let server = Self { child, config };
        server.wait_until_ready(Duration::from_secs(60)).await?;
        Ok(server)
    }

    /// Starts a streaming replica of the server `source` names (a
    /// connection string for a role with the REPLICATION attribute). An
    /// empty data folder is first cloned with `pg_basebackup -R`, which
    /// writes `primary_conninfo` and `standby.signal`; the replica then
    /// follows the primary for as long as it runs, across restarts.
    ///
    /// `password` travels in the environment of `pg_basebackup`, not on its
    /// command line where any local user could read it.
    pub async fn start_replica(
        binaries: &PgBinaries,
        mut config: ClusterConfig,
        source: &str,
        password: Option<&str>,
    ) -> anyhow::Result<Self> {
        let run_as = service_user()?;
        prepare_dir(&config.data_dir, run_as.as_ref(), 0o700)?;
        let cloned = config.data_dir.join("PG_VERSION").exists();
        if cloned && !config.data_dir.join("standby.signal").exists() {
            // A clone cut short (or a copy that is no longer a standby):
            // start again from the primary rather than run it as one.
            tracing::warn!(
                "{} holds no standby.signal: cloning the primary again",
                config.data_dir.display()
            );
            clear_dir(&config.data_dir)?;
        }
        if !config.data_dir.join("PG_VERSION").exists() {
            let data_dir = config.data_dir.clone();
            let (binaries, source) = (binaries.clone(), source.to_string());
            let password = password.map(str::to_string);
            let user = run_as.clone();
            let netns = config.netns.clone();
            tokio::task::spawn_blocking(move || {
                base_backup(
                    &binaries,
                    &data_dir,
                    &source,
                    password.as_deref(),
                    (user.as_ref(), netns.as_deref()),
                )
            })
            .await
            .context("the base backup's thread failed")??;
        }
        // Queries on the replica hold back the primary's vacuum of the rows
        // they read, rather than being cancelled by it.
        config
            .settings
            .push(("hot_standby_feedback".to_string(), "on".to_string()));
        Self::start(binaries, config).await
    }

    async fn wait_until_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.exit_status() {
                bail!(
                    "PostgreSQL exited during start-up ({status}); its log {} ends with:\n{}",
                    self.config.log_file.display(),
                    log_tail(&self.config.log_file, 15)
                );
            }
            let url = self.url("postgres");
            let attempt = tokio_postgres::connect(&url, tokio_postgres::NoTls);
            if let Ok(Ok((client, connection))) =
                tokio::time::timeout(Duration::from_secs(2), attempt).await
            {
                drop(client);
                let _ = connection.await;
                return Ok(());
            }
            if started.elapsed() > timeout {
                bail!(
                    "PostgreSQL did not accept connections within {timeout:?}; see its log {}",
                    self.config.log_file.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A connection string for `database` over the unix socket, as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "host={} port={} user={} dbname={database}",
            self.config.socket_dir.display(),
            self.config.port,
            self.config.superuser
        )
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> anyhow::Result<()> {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .context("connecting to the embedded PostgreSQL")?;
        let driver = tokio::spawn(connection);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .await?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!(
                    "CREATE DATABASE \"{}\"",
                    database.replace('"', "\"\"")
                ))
                .await
                .with_context(|| format!("creating database {database}"))?;
        }
        drop(client);
        let _ = driver.await;
        Ok(())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// How the server ended, if it has.
    pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.child.exit_status()
    }

    /// Kills the server outright, as a crash would (its next start recovers).
    pub fn kill(&self) {
        self.child.signal(Signal::SIGKILL);
    }

    /// Stops the server with a fast shutdown and waits for it.
    pub fn stop(&self) {
        self.child.stop(Signal::SIGINT, Duration::from_secs(30));
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if self.child.exit_status().is_none() {
            self.stop();
        }
    }
}

fn initdb(
    binaries: &PgBinaries,
    config: &ClusterConfig,
    run_as: Option<&User>,
) -> anyhow::Result<()> {
    let run = |locale: &[&str]| -> anyhow::Result<std::process::Output> {
        let mut command = Command::new(binaries.program("initdb"));
        command
            .arg("-D")
            .arg(&config.data_dir)
            .args([
                "-U",
                &config.superuser,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .args(locale)
            // initdb runs in the data folder's owner's context.
            .current_dir("/");
        if let Some(user) = run_as {
            crate::process::run_as(&mut command, user);
        }
        command
            .output()
            .with_context(|| format!("running {}", binaries.program("initdb").display()))
    };
    // C.UTF-8 gives Unicode-aware lower(); fall back to plain C where it is missing.
    let mut output = run(&["--locale=C.UTF-8"])?;
    if !output.status.success() {
        clear_dir(&config.data_dir)?;
        output = run(&["--no-locale"])?;
    }
    if !output.status.success() {
        bail!(
            "initdb failed for {}:\n{}{}",
            config.data_dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Clones the server `source` names into `config.data_dir` for a replica.
fn base_backup(
    binaries: &PgBinaries,
    data_dir: &Path,
    source: &str,
    password: Option<&str>,
    (run_as, netns): (Option<&User>, Option<&Path>),
) -> anyhow::Result<()> {
    let mut command = Command::new(binaries.program("pg_basebackup"));
    // From the replica's own host, which the primary admits, as PostgreSQL's
    // account.
    let _namespace = crate::process::place(&mut command, netns, run_as)?;
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
        .arg("-D")
        .arg(data_dir)
        .args([
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            "-d",
            source,
        ])
        .current_dir("/");
    let output = command
        .output()
        .with_context(|| format!("running {}", binaries.program("pg_basebackup").display()))?;
    if !output.status.success() {
        // A half-made copy would be taken for a cluster next time.
        let _ = clear_dir(data_dir);
        bail!(
            "pg_basebackup could not clone the primary into {}:\n{}{}",
            data_dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn clear_dir(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The user to run PostgreSQL as: `None` (ourselves) unless we are root.
pub fn service_user() -> anyhow::Result<Option<User>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(user) = User::from_name(name).context("looking up users")? {
            return Ok(Some(user));
        }
    }
    bail!(
        "running as root, and neither a `postgres` nor a `nobody` user exists to run PostgreSQL: \
         create one (`useradd --system postgres`) or run as an ordinary user"
    )
}

/// Creates `dir` with `mode` and hands it to `owner` (as root).
fn prepare_dir(dir: &Path, owner: Option<&User>, mode: u32) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting permissions of {}", dir.display()))?;
    if let Some(user) = owner {
        chown_tree(dir, user)?;
    }
    Ok(())
}

fn chown_tree(path: &Path, user: &User) -> anyhow::Result<()> {
    let metadata = std::fs::symlink_metadata(path)?;
    if metadata.uid() != user.uid.as_raw() || metadata.gid() != user.gid.as_raw() {
        std::os::unix::fs::lchown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .with_context(|| format!("handing {} to user {}", path.display(), user.name))?;
    }
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), user)?;
        }
    }
    Ok(())
}

/// Whether `user` can walk every folder above `path`.
pub fn reachable_by(path: &Path, user: &User) -> bool {
    let Ok(absolute) = std::path::absolute(path) else {
        return false;
    };
    absolute.ancestors().skip(1).all(|dir| {
        let Ok(metadata) = std::fs::metadata(dir) else {
            return true;
        };
        let mode = metadata.mode();
        if metadata.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if metadata.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    })
}

fn check_reachable(path: &Path, user: &User) -> anyhow::Result<()> {
    if reachable_by(path, user) {
        Ok(())
    } else {
        bail!(
            "PostgreSQL runs as user `{}` (it refuses root), but that user cannot reach {}: \
             a folder above it is private. Put the data elsewhere (APP__DATABASE__EMBEDDED_DIR) \
             or run as an ordinary user.",
            user.name,
            path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_postgres_says_what_to_install() {
        let error = PgBinaries::locate_in(Some("/nonexistent".into()), Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("apt-get install postgresql"), "{error}");
        assert!(error.contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn versioned_folders_are_searched_newest_first() {
        let root = tempfile::tempdir().unwrap();
        for version in ["13", "16", "9"] {
            let bin = root.path().join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
            std::fs::write(bin.join("postgres"), "").unwrap();
        }
        let found = PgBinaries::locate_in(None, root.path()).unwrap();
        assert_eq!(found.bin_dir, root.path().join("16").join("bin"));
    }
}
