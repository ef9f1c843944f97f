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
            let config = self.node(plan, &name, &state_dir)?.config(plan)?;
            let source = format!(
                "host={} port={} user={REPLICATION_ROLE} application_name={name}",
                primary.ip(),
                primary.port(),
            );
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
