//! nginx: the front door of phases 1–2 (`deploy/nginx/million.conf`:
//! static files from disk, everything else proxied to the app), or the
//! static file server behind HAProxy from phase 3 (`deploy/nginx/static.conf`).

use std::net::SocketAddr;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use nix::sys::signal::Signal;

use super::{Kind, Process, Server, config_dir, serves, spawn, unprivileged};
use crate::stack::plan::Plan;
use crate::stack::render::render_file;
use crate::stack::secrets::Secrets;

/// What an nginx does in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NginxRole {
    /// The front door, in front of the one app server.
    Front,
    /// Static files only, behind HAProxy.
    Static,
}

/// An nginx listening on `address`.
pub struct Nginx {
    pub role: NginxRole,
    pub address: SocketAddr,
}

impl Nginx {
    fn health_path(&self) -> &'static str {
        match self.role {
            NginxRole::Front => "/healthz",
            NginxRole::Static => "/nginx-health",
        }
    }
}

impl Server for Nginx {
    fn kind(&self) -> Kind {
        match self.role {
            NginxRole::Front => Kind::FrontNginx,
            NginxRole::Static => Kind::StaticNginx,
        }
    }

    fn render(&self, plan: &Plan, _secrets: &Secrets) -> anyhow::Result<()> {
        let prefix = plan.state_dir.join("nginx");
        std::fs::create_dir_all(prefix.join("logs"))?;
        let (template, listen) = match self.role {
            NginxRole::Static => ("static.conf", self.address),
            NginxRole::Front => ("million.conf", self.address),
        };
        let user = if nix::unistd::Uid::effective().is_root() {
            // Workers must read the project's static/ folder.
            let static_dir = plan.project_dir.join("static");
            unprivileged(&["www-data"], &[&static_dir])
                .map_or_else(|| "root".to_string(), |user| user.name)
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
        Ok(())
    }

    fn start<'a>(
        &'a self,
        plan: &'a Plan,
        _secrets: &'a Secrets,
    ) -> BoxFuture<'a, anyhow::Result<Process>> {
        async move {
            let prefix = plan.state_dir.join("nginx");
            let conf = config_dir(plan).join("nginx.conf");
            spawn(
                plan,
                ("nginx", self.address.ip()),
                ("nginx", "nginx"),
                &[
                    "-p".as_ref(),
                    prefix.as_os_str(),
                    "-c".as_ref(),
                    conf.as_os_str(),
                    "-g".as_ref(),
                    "daemon off;".as_ref(),
                ],
                // The master stays root; its workers run as `user`.
                None,
                // QUIT is nginx's graceful stop; its workers follow the master.
                Signal::SIGQUIT,
            )
        }
        .boxed()
    }

    fn probe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, bool> {
        async move { serves(plan, self.address, self.health_path()).await }.boxed()
    }

    fn health_url(&self) -> Option<String> {
        Some(format!("http://{}{}", self.address, self.health_path()))
    }
}
