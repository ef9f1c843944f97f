//! Redis, the cache tier from phase 4 (`deploy/redis/redis.conf`): bounded
//! memory, no persistence, a private address only.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use nix::sys::signal::Signal;

use super::{Kind, Process, Server, config_dir, spawn, unprivileged};
use crate::stack::plan::Plan;
use crate::stack::render::render_file;
use crate::stack::secrets::Secrets;

/// Redis listening on `address`.
pub struct Redis {
    pub address: SocketAddr,
    /// The app's account's password, once rendered into its config (phase
    /// 6): what the probe signs in with.
    pub password: std::sync::OnceLock<String>,
}

impl Server for Redis {
    fn kind(&self) -> Kind {
        Kind::Redis
    }

    fn render(&self, plan: &Plan, secrets: &Secrets) -> anyhow::Result<()> {
        let address = self.address;
        let data = plan.state_dir.join("redis");
        std::fs::create_dir_all(&data)?;
        let conf = config_dir(plan).join("redis.conf");
        let access = if plan.tls() {
            let _ = self.password.set(secrets.redis_password.clone());
            use sha2::Digest;
            let digest = sha2::Sha256::digest(secrets.redis_password.as_bytes());
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            format!(
                "user default off\nuser {ACCOUNT} on #{hex} ~million:* &million:* +@all -@admin -@dangerous"
            )
        } else {
            "# (before phase 6: no password; the private address is the only guard)".to_string()
        };
        let values = vec![
            ("ACCESS", access),
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
        Ok(())
    }

    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        _secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>> {
        async move {
            let conf = config_dir(plan).join("redis.conf");
            let data = plan.state_dir.join("redis");
            let account = unprivileged(&["redis"], &[&config_dir(plan), &data]);
            if let Some(user) = &account {
                // Its working folder is its own.
                nix::unistd::chown(&data, Some(user.uid), Some(user.gid))?;
            }
            spawn(
                plan,
                ("redis", self.address.ip()),
                ("redis-server", "redis-server"),
                &[conf.as_os_str()],
                account.as_ref(),
                Signal::SIGTERM,
            )
        }
        .boxed()
    }

    fn probe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, bool> {
        async move {
            let namespace = plan.namespace_of(self.address.ip());
            let password = self.password.get().map(String::as_str);
            redis_ok(namespace.as_deref(), self.address, password).await
        }
        .boxed()
    }
}

/// The account the app servers use in Redis (phase 6).
pub const ACCOUNT: &str = "million";

/// The URL the app servers reach Redis at: with the account and password
/// from phase 6.
pub fn redis_url(plan: &Plan, secrets: &Secrets, address: SocketAddr) -> String {
    if plan.tls() {
        format!("redis://{ACCOUNT}:{}@{address}", secrets.redis_password)
    } else {
        format!("redis://{address}")
    }
}

/// Whether Redis at `address` answers PING (signing in as [`ACCOUNT`] with
/// `password` first, if given).
pub async fn redis_ok(
    namespace: Option<&std::path::Path>,
    address: SocketAddr,
    password: Option<&str>,
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut stream =
            crate::stack::network::connect_from(namespace, address, Duration::from_secs(1))
                .await
                .ok()?;
        let mut expected = Vec::new();
        if let Some(password) = password {
            stream
                .write_all(format!("AUTH {ACCOUNT} {password}\r\n").as_bytes())
                .await
                .ok()?;
            expected.extend_from_slice(b"+OK\r\n");
        }
        stream.write_all(b"PING\r\n").await.ok()?;
        expected.extend_from_slice(b"+PONG\r\n");
        let mut reply = vec![0u8; expected.len()];
        stream.read_exact(&mut reply).await.ok()?;
        Some(reply == expected)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}
