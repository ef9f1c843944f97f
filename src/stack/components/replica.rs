//! A streaming replica of the primary (phase 5+): cloned with
//! `pg_basebackup -R` the first time, then following the primary as
//! `replicator`, from the same `deploy/postgres/` templates.

use anyhow::{Context, bail};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::postgres::{PostgresNode, REPLICATION_ROLE};
use super::{Kind, Process, Server};
use crate::db::embedded::{PgBinaries, PostgresServer};
use crate::stack::plan::{DatabasePlacement, Plan};
use crate::stack::secrets::Secrets;

/// Replica `index` (from 0) of the plan.
pub struct Replica {
    pub index: usize,
}

/// `replica-1`, … for replica `index` (from 0).
pub fn replica_name(index: usize) -> String {
    format!("replica-{}", index + 1)
}

impl Replica {
    fn node<'a>(
        &self,
        plan: &'a Plan,
        name: &'a str,
        state_dir: &'a std::path::Path,
    ) -> anyhow::Result<PostgresNode<'a>> {
        let address = plan
            .replicas
            .get(self.index)
            .context("no such replica in this plan")?;
        Ok(PostgresNode::new(
            name,
            state_dir,
            address.ip().to_string(),
            address.port(),
        ))
    }
}

impl Server for Replica {
    fn kind(&self) -> Kind {
        Kind::Replica
    }

    fn render(&self, plan: &Plan, _secrets: &Secrets) -> anyhow::Result<()> {
        let name = replica_name(self.index);
        let state_dir = plan.state_dir.join(&name);
        self.node(plan, &name, &state_dir)?.render(plan)
    }

    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>> {
        async move {
            let binaries = PgBinaries::locate()?;
            let DatabasePlacement::OwnHost(primary) = &plan.database else {
                bail!("replicas need the database on its own host (phase 2+)");
            };
            let name = replica_name(self.index);
            let state_dir = plan.state_dir.join(&name);
            let node = self.node(plan, &name, &state_dir)?;
            let config = node.config(plan)?;
            let mut source = format!(
                "host={} port={} user={REPLICATION_ROLE} application_name={name}",
                primary.ip(),
                primary.port(),
            );
            if plan.tls() {
                // `pg_basebackup -R` keeps these in `primary_conninfo`: the
                // replica streams over TLS and verifies its primary.
                source.push_str(&format!(
                    " sslmode=verify-full sslrootcert={}",
                    crate::settings::quote_conninfo(
                        &node.tls_dir()?.join("ca.pem").display().to_string()
                    )
                ));
            }
            // A clone made for another phase streams the wrong way (in the
            // clear, or over TLS to a primary without it, or from the
            // primary's address in another network): clone it again.
            let auto_conf = config.data_dir.join("postgresql.auto.conf");
            if let Ok(text) = std::fs::read_to_string(&auto_conf)
                // `sslmode='verify-full'`, quoted or not.
                && (text.contains("verify-full") != plan.tls()
                    || !text.contains(&format!("host={} ", primary.ip())))
            {
                tracing::warn!("{name} was cloned for another phase's primary: cloning it again");
                let _ = std::fs::remove_file(config.data_dir.join("standby.signal"));
            }
            let server = PostgresServer::start_replica(
                &binaries,
                config,
                &source,
                Some(&secrets.replication_password),
            )
            .await?;
            Ok(Process::Postgres(server))
        }
        .boxed()
    }
}
