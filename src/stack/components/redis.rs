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
}

impl Server for Redis {
    fn kind(&self) -> Kind {
        Kind::Redis
    }

    fn render(&self, plan: &Plan, _secrets: &Secrets) -> anyhow::Result<()> {
        let address = self.address;
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
                "redis",
                ("redis-server", "redis-server"),
                &[conf.as_os_str()],
                account.as_ref(),
                Signal::SIGTERM,
            )
        }
        .boxed()
    }

    fn probe<'a>(&'a self, _plan: &'a Plan) -> BoxFuture<'a, bool> {
        async move { redis_ok(self.address).await }.boxed()
    }
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
