//! The topology: which servers run, how many of each, and where. Each phase
//! is one such value ([`Plan::standard`], at the addresses of the phases'
//! contract); everything else (the configs, the start order, the map, the
//! status, the architecture page) is drawn from it, and any of it can be
//! changed (the tests use free ports; `APPS=N` changes the app servers).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::settings::SessionStoreKind;

use super::network::Network;
use super::pgtune::Machine;

/// Where the database listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabasePlacement {
    /// On the app's host, over a unix socket only (phase 1).
    SameHost,
    /// On its own host, over TCP with password authentication (phase 2+).
    OwnHost(SocketAddr),
}

/// One app server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppServer {
    pub name: String,
    pub address: SocketAddr,
    /// The container image it runs (phase 7), e.g. `million-app:3f2a9c1e7b0d`;
    /// `None`: the plan's `app_binary`, as a plain process.
    pub image: Option<String>,
}

/// Everything a phase needs to run on this machine.
#[derive(Debug, Clone)]
pub struct Plan {
    pub phase: u8,
    /// The project checkout: `deploy/`, `config/`, `static/`.
    pub project_dir: PathBuf,
    /// Data, rendered configs, logs and pid files.
    pub state_dir: PathBuf,
    /// The `million` binary the app servers run.
    pub app_binary: PathBuf,
    /// The front door (nginx in phases 1–2, HAProxy from phase 3); with
    /// TLS, plain HTTP there only redirects to `https`.
    pub front: SocketAddr,
    /// The front door over TLS (phase 6): HAProxy holds a certificate from
    /// the stack's own authority, and every hop behind it that leaves a
    /// host (app to PostgreSQL, replica to primary) is TLS too.
    pub https: Option<SocketAddr>,
    /// nginx serving static files behind HAProxy (phase 3+).
    pub static_server: Option<SocketAddr>,
    /// HAProxy's stats page, behind a password, on an address only this
    /// host reaches (phase 3+).
    pub admin: Option<SocketAddr>,
    pub apps: Vec<AppServer>,
    pub database: DatabasePlacement,
    /// Streaming replicas of the database (phase 5+), each on its own host.
    pub replicas: Vec<SocketAddr>,
    /// The Redis cache tier (phase 4+).
    pub cache: Option<SocketAddr>,
    /// What PostgreSQL is sized for.
    pub machine: Machine,
    /// Where app servers keep browser sessions.
    pub sessions: SessionStoreKind,
    /// How long a crashed component stays down before it is restarted.
    pub restart_delay: Duration,
    /// How long each component may take to become healthy.
    pub start_timeout: Duration,
    /// Print progress lines.
    pub verbose: bool,
    /// Each host in a network namespace of its own, behind nftables rules
    /// (phase 6, as root); `None`: every host on a loopback address.
    pub network: Option<Network>,
    /// Why the hosts are not segmented although the phase asks for it.
    pub unsegmented: Option<String>,
}

fn address(text: &str) -> SocketAddr {
    // The literals below are valid socket addresses.
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

impl Plan {
    /// Phase `phase` at the standard addresses.
    pub fn standard(phase: u8, project_dir: PathBuf, app_binary: PathBuf) -> anyhow::Result<Self> {
        let state_dir = project_dir.join(".million").join("stack");
        let apps = match phase {
            1 | 2 => vec![AppServer {
                name: "app-1".into(),
                address: address("127.0.0.1:8000"),
                image: None,
            }],
            3..=7 => Self::app_servers(3),
            other => bail!("there is no phase {other}: `make phase1` to `make phase7` are"),
        };
        if phase >= 5 {
            crate::tiers::require("replicas", &format!("phase {phase}"))?;
        }
        if phase >= 6 {
            crate::tiers::require("cache", &format!("phase {phase}"))?;
        }
        Ok(Self {
            phase,
            project_dir,
            state_dir,
            app_binary,
            front: address("127.0.0.1:8080"),
            https: (phase >= 6).then(|| address("127.0.0.1:8443")),
            static_server: (phase >= 3).then(|| address("127.0.0.1:8081")),
            admin: (phase >= 3).then(|| address("127.0.0.1:8404")),
            apps,
            database: if phase == 1 {
                DatabasePlacement::SameHost
            } else {
                DatabasePlacement::OwnHost(address("127.0.2.1:5432"))
            },
            replicas: if phase >= 5 {
                vec![address("127.0.2.2:5432"), address("127.0.2.3:5432")]
            } else {
                Vec::new()
            },
            cache: (phase >= 4).then(|| address("127.0.3.1:6379")),
            machine: Machine::this_one(),
            sessions: if phase >= 3 && crate::tiers::require("stateless-sessions", "").is_ok() {
                SessionStoreKind::Cookie
            } else {
                SessionStoreKind::Memory
            },
            restart_delay: Duration::from_secs(10),
            start_timeout: Duration::from_secs(60),
            verbose: true,
            network: None,
            unsegmented: None,
        }
        .segmented_from(6))
    }

    /// From phase `from` on, each host in a network namespace of its own
    /// where this machine allows it; otherwise the reason is kept, to be
    /// said, and the hosts stay on loopback addresses.
    pub fn segmented_from(self, from: u8) -> Self {
        if self.phase < from {
            return self;
        }
        match super::network::unavailable() {
            Some(reason) => Self {
                unsegmented: Some(reason),
                ..self
            },
            None => {
                let network = Network::for_state_dir(&self.state_dir);
                self.in_network(network)
            }
        }
    }

    /// The same topology with each host in `network`: the load balancer at
    /// `.2` (80, 443, stats on 8404), static files at `.3`, app servers from
    /// `.11`, PostgreSQL at `.21` and its replicas from `.22`, Redis at `.31`,
    /// each on its standard port (a namespace has every port to itself).
    pub fn in_network(mut self, network: Network) -> Self {
        let at = |n: u8, port: u16| SocketAddr::from((network.address(n), port));
        self.front = at(2, 80);
        self.https = self.https.map(|_| at(2, 443));
        self.admin = self.admin.map(|_| at(2, 8404));
        self.static_server = self.static_server.map(|_| at(3, 80));
        for (index, app) in self.apps.iter_mut().enumerate() {
            app.address = at(11 + index as u8, 8000);
        }
        if let DatabasePlacement::OwnHost(address) = &mut self.database {
            *address = at(21, 5432);
        }
        for (index, replica) in self.replicas.iter_mut().enumerate() {
            *replica = at(22 + index as u8, 5432);
        }
        self.cache = self.cache.map(|_| at(31, 6379));
        self.network = Some(network);
        self.unsegmented = None;
        self
    }

    /// [`Self::namespace_of`] for a host written as text (`""` for none).
    pub fn namespace_of_host(&self, host: &str) -> Option<PathBuf> {
        self.namespace_of(host.parse().ok()?)
    }

    /// The network namespace of the host at `address`, when hosts have them.
    pub fn namespace_of(&self, address: std::net::IpAddr) -> Option<PathBuf> {
        self.network.as_ref()?.namespace_of(address)
    }

    /// `count` app servers at 127.0.1.1, 127.0.1.2, … port 8000.
    pub fn app_servers(count: u8) -> Vec<AppServer> {
        (1..=count)
            .map(|n| AppServer {
                name: format!("app-{n}"),
                address: address(&format!("127.0.1.{n}:8000")),
                image: None,
            })
            .collect()
    }

    /// Runs `count` app servers behind HAProxy instead (phase 3+).
    pub fn with_apps(mut self, count: u8) -> anyhow::Result<Self> {
        if !self.load_balanced() {
            bail!("APPS={count}: phases 1 and 2 have one app server; phase 3 and later take more");
        }
        if !(1..=64).contains(&count) {
            bail!("APPS={count}: between 1 and 64 app servers");
        }
        let image = self.apps.first().and_then(|app| app.image.clone());
        self.apps = Self::app_servers(count);
        for app in &mut self.apps {
            app.image.clone_from(&image);
        }
        if !(1..=10).contains(&count) && self.network.is_some() {
            bail!("APPS={count}: at most 10 app servers when each host has a namespace of its own");
        }
        Ok(match self.network.clone() {
            Some(network) => self.in_network(network),
            None => self,
        })
    }

    /// Every app server runs the container image `image` (phase 7).
    pub fn with_image(mut self, image: &str) -> Self {
        for app in &mut self.apps {
            app.image = Some(image.to_string());
        }
        self
    }

    /// Whether the app servers run as containers (phase 7).
    pub fn containerized(&self) -> bool {
        self.apps.iter().any(|app| app.image.is_some())
    }

    /// Whether the stack speaks TLS (phase 6): at the front door, and from
    /// the app servers and replicas to PostgreSQL.
    pub fn tls(&self) -> bool {
        self.https.is_some()
    }

    /// Where the stack's certificate authority is kept: beside the state
    /// folder, so that `make phase-clean` keeps it and a browser told to
    /// trust it goes on trusting the stack.
    pub fn authority_dir(&self) -> PathBuf {
        self.project_dir.join(".million").join("ca")
    }

    /// Whether HAProxy is the front door: it is whenever static files have
    /// a server of their own behind it.
    pub fn load_balanced(&self) -> bool {
        self.static_server.is_some()
    }
}
