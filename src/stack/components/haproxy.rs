//! HAProxy, the front door from phase 3: round-robin over however many app
//! servers the topology has, static files to nginx (`deploy/haproxy/haproxy.cfg`).

use std::net::SocketAddr;

use anyhow::Context;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use nix::sys::signal::Signal;

use super::{Kind, Process, Server, config_dir, http_ok, https_ok, spawn, unprivileged};
use crate::stack::plan::Plan;
use crate::stack::render::render_file;
use crate::stack::secrets::Secrets;

/// HAProxy listening on `address`, and with TLS on `https` (phase 6).
pub struct Haproxy {
    pub address: SocketAddr,
    pub https: Option<SocketAddr>,
}

impl Server for Haproxy {
    fn kind(&self) -> Kind {
        Kind::Haproxy
    }

    fn render(&self, plan: &Plan, secrets: &Secrets) -> anyhow::Result<()> {
        let conf = config_dir(plan).join("haproxy.cfg");
        let tls = match plan.https {
            Some(https) => {
                // Read while HAProxy is still root, before it drops to its
                // account: the key stays the starting account's.
                let issued = super::tls::issue(
                    plan,
                    "haproxy",
                    https.ip(),
                    &config_dir(plan).join("tls"),
                    None,
                )?;
                // To the same host name, on the HTTPS port.
                let redirect = if https.port() == 443 {
                    "redirect scheme https".to_string()
                } else {
                    format!(
                        "redirect location https://%[req.hdr(host),field(1,:)]:{}%[capture.req.uri]",
                        https.port()
                    )
                };
                format!(
                    "bind {https} ssl crt {}\n    \
                     http-request {redirect} code 301 unless {{ ssl_fc }}\n    \
                     http-response set-header Strict-Transport-Security \"max-age=31536000\" if {{ ssl_fc }}",
                    issued.bundle.display()
                )
            }
            None => "# (no TLS before phase 6)".to_string(),
        };
        let values = vec![
            ("TLS", tls),
            ("LISTEN", self.address.to_string()),
            (
                "STATIC_SERVER",
                plan.static_server
                    .context("phase 3 needs a static server")?
                    .to_string(),
            ),
            ("APP_SERVERS", server_lines(plan)),
            (
                "ADMIN_LISTEN",
                plan.admin
                    .context("HAProxy needs an admin address for its stats page")?
                    .to_string(),
            ),
            ("STATS_PASSWORD", secrets.stats_password.clone()),
            ("ADMIN_SOCKET", admin_socket(plan).display().to_string()),
            (
                "RUN_AS",
                match unprivileged(&["haproxy"], &[&config_dir(plan)]) {
                    Some(user) => {
                        let group = nix::unistd::Group::from_gid(user.gid)
                            .ok()
                            .flatten()
                            .map_or_else(|| user.gid.to_string(), |group| group.name);
                        format!("user {}\n    group {group}", user.name)
                    }
                    None => {
                        "# not started as root: runs as the account that started it".to_string()
                    }
                },
            ),
        ];
        render_file(
            &plan.project_dir.join("deploy/haproxy/haproxy.cfg"),
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
            let conf = config_dir(plan).join("haproxy.cfg");
            spawn(
                plan,
                ("haproxy", self.address.ip()),
                ("haproxy", "haproxy"),
                &["-f".as_ref(), conf.as_os_str(), "-db".as_ref()],
                // It drops to its `user` and `group` itself, once listening.
                None,
                Signal::SIGTERM,
            )
        }
        .boxed()
    }

    fn probe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, bool> {
        async move {
            match self.https {
                Some(https) => {
                    let authority = plan.authority_dir().join("ca.pem");
                    https_ok(&format!("https://{https}/healthz"), &authority).await
                }
                None => http_ok(&format!("http://{}/healthz", self.address)).await,
            }
        }
        .boxed()
    }

    fn health_url(&self) -> Option<String> {
        Some(match self.https {
            Some(https) => format!("https://{https}/healthz"),
            None => format!("http://{}/healthz", self.address),
        })
    }
}

/// One `server` line per app server of the plan, however many there are.
pub(super) fn server_lines(plan: &Plan) -> String {
    plan.apps
        .iter()
        .map(|app| format!("server {} {} check", app.name, app.address))
        .collect::<Vec<_>>()
        .join("\n    ")
}

/// HAProxy's runtime API socket: in the stack's config folder, or where
/// that path is too long for a unix socket (108 bytes), in the temporary
/// folder under a name of that stack's own.
pub fn admin_socket(plan: &Plan) -> std::path::PathBuf {
    let socket = config_dir(plan).join("haproxy.sock");
    if socket.as_os_str().len() < 100 {
        return socket;
    }
    let name = crate::stack::containers::container_name(&plan.state_dir, "haproxy.sock");
    std::env::temp_dir().join(name)
}

/// Sends a command that changes something (`set server …`) to HAProxy's
/// runtime API: HAProxy answers those with nothing when they worked, and
/// with a reason ("No such server.", "Permission denied") when not.
pub async fn command(plan: &Plan, command: &str) -> anyhow::Result<()> {
    let answer = runtime(plan, command).await?;
    if !answer.trim().is_empty() {
        anyhow::bail!("HAProxy refused `{command}`: {}", answer.trim());
    }
    Ok(())
}

/// Sends `command` to HAProxy's runtime API and returns its answer.
pub async fn runtime(plan: &Plan, command: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = admin_socket(plan);
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(&socket).await?;
        stream.write_all(format!("{command}\n").as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok::<String, std::io::Error>(answer)
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("HAProxy's runtime API did not answer within 5 s"))?
        .with_context(|| format!("asking HAProxy's runtime API ({})", socket.display()))
}

/// What HAProxy says of app server `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStat {
    /// `UP`, `DOWN`, `DRAIN`, `MAINT`, `UP 1/3` (going down), `DOWN 1/2`
    /// (coming up)…
    pub status: String,
    /// Requests it is serving now.
    pub in_flight: u64,
    /// Requests queued for it.
    pub queued: u64,
}

/// The `app` backend's line for server `name` in `show stat`.
pub async fn server_stat(plan: &Plan, name: &str) -> anyhow::Result<ServerStat> {
    let csv = runtime(plan, "show stat").await?;
    parse_server_stat(&csv, name)
        .with_context(|| format!("HAProxy's statistics have no server app/{name}"))
}

/// Reads server `name` of backend `app` from `show stat`'s CSV, whose first
/// line (`# pxname,svname,qcur,…`) names the columns.
fn parse_server_stat(csv: &str, name: &str) -> Option<ServerStat> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()?
        .trim_start_matches('#')
        .trim()
        .split(',')
        .collect();
    let column = |wanted: &str| header.iter().position(|column| *column == wanted);
    let (proxy, server) = (column("pxname")?, column("svname")?);
    let (status, current, queued) = (column("status")?, column("scur")?, column("qcur")?);
    lines.find_map(|line| {
        let fields: Vec<&str> = line.split(',').collect();
        (fields.get(proxy) == Some(&"app") && fields.get(server) == Some(&name)).then(|| {
            ServerStat {
                status: fields.get(status).unwrap_or(&"").to_string(),
                in_flight: fields
                    .get(current)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                queued: fields.get(queued).and_then(|n| n.parse().ok()).unwrap_or(0),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_server_from_show_stat() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status\n\
                   www,FRONTEND,,,3,9,8192,40,OPEN\n\
                   app,app-1,0,0,2,5,,17,DRAIN\n\
                   app,app-2,1,2,0,4,,20,UP\n\
                   app,BACKEND,0,0,2,9,,37,UP\n";
        assert_eq!(
            parse_server_stat(csv, "app-1"),
            Some(ServerStat {
                status: "DRAIN".into(),
                in_flight: 2,
                queued: 0
            })
        );
        assert_eq!(parse_server_stat(csv, "app-2").unwrap().queued, 1);
        assert_eq!(parse_server_stat(csv, "app-3"), None);
        assert_eq!(parse_server_stat("", "app-1"), None);
    }
}
