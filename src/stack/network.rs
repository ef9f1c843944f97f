//! Hosts as network namespaces, security groups as nftables (phase 6).
//!
//! As root, each host of the topology gets a network namespace of its own
//! with one interface on a private bridge and one address in a /24 of
//! 10.60.0.0/16 that exists only inside them; this machine is `.1` on the
//! bridge. Each namespace drops every incoming connection except those its
//! security group admits ([`rules`]): the load balancer takes HTTP and HTTPS
//! from anywhere and its stats page from this machine only, the app servers
//! take the load balancer only, PostgreSQL and Redis the app servers only
//! (and the primary its replicas, for replication). The same table is what
//! `deploy/aws/` says for a real cloud, and the map prints it.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::plan::{DatabasePlacement, Plan};

/// The namespaces and bridge of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Names the bridge (`{prefix}br`), the namespaces (`{prefix}-{n}`) and
    /// the host ends of the links (`{prefix}v{n}`), `n` the host's last
    /// address byte. Short: interface names stop at 15 bytes.
    pub prefix: String,
    /// The third byte of the stack's 10.60.x.0/24.
    pub subnet: u8,
}

/// Who a security group admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Any address: the load balancer's public side.
    Anywhere,
    /// This machine, on its end of the bridge (the admin side).
    ThisMachine,
    /// The hosts named, at their addresses.
    Hosts(Vec<(String, Ipv4Addr)>),
}

/// One rule: `host` accepts TCP on `port` from `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The host's security group (`lb`, `static`, `app`, `db`, `cache`,
    /// as `deploy/aws/` names them) and the host's name.
    pub group: &'static str,
    pub host: String,
    pub address: Ipv4Addr,
    pub port: u16,
    pub from: Source,
    /// What the rule is for.
    pub why: &'static str,
}

impl Network {
    /// The network of the stack kept in `state_dir`: its names and subnet
    /// follow from the folder, so that two stacks on one machine differ.
    pub fn for_state_dir(state_dir: &Path) -> Self {
        let hash = super::fingerprint(state_dir);
        Self {
            prefix: format!("mn{:08x}", hash & 0xffff_ffff),
            subnet: (hash >> 32) as u8,
        }
    }

    /// Address `.n` of the stack's subnet.
    pub fn address(&self, n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 60, self.subnet, n)
    }

    /// This machine's address on the bridge.
    pub fn this_machine(&self) -> Ipv4Addr {
        self.address(1)
    }

    /// The namespace holding `address`, if it is one of this network's.
    pub fn namespace_of(&self, address: IpAddr) -> Option<PathBuf> {
        match address {
            IpAddr::V4(v4) if v4.octets()[..3] == [10, 60, self.subnet] && v4.octets()[3] > 1 => {
                Some(PathBuf::from("/run/netns").join(self.namespace_name(v4.octets()[3])))
            }
            _ => None,
        }
    }

    fn namespace_name(&self, n: u8) -> String {
        format!("{}-{n}", self.prefix)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    fn link(&self, n: u8) -> String {
        format!("{}v{n}", self.prefix)
    }
}

/// Why namespaces cannot be used here, if they cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("it needs root (network namespaces, links and nftables)".to_string());
    }
    for (program, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        if super::components::program(program, package).is_err() {
            return Some(format!(
                "`{program}` is not installed: `sudo apt-get install {package}` (or `make phase-deps`)"
            ));
        }
    }
    None
}

/// Every host of `plan` with its name and address.
fn hosts(plan: &Plan) -> Vec<(String, Ipv4Addr)> {
    let mut hosts = Vec::new();
    let mut add = |name: &str, address: SocketAddr| {
        if let IpAddr::V4(v4) = address.ip()
            && !hosts.iter().any(|(_, known)| *known == v4)
        {
            hosts.push((name.to_string(), v4));
        }
    };
    add("haproxy", plan.front);
    if let Some(address) = plan.static_server {
        add("nginx", address);
    }
    for app in &plan.apps {
        add(&app.name, app.address);
    }
    if let DatabasePlacement::OwnHost(address) = plan.database {
        add("postgres", address);
    }
    for (index, address) in plan.replicas.iter().enumerate() {
        add(&super::components::replica_name(index), *address);
    }
    if let Some(address) = plan.cache {
        add("redis", address);
    }
    hosts
}

fn v4(address: SocketAddr) -> Option<Ipv4Addr> {
    match address.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    }
}

/// The security groups of `plan`, as rules: who may open a connection to
/// which host and port. Nothing else gets in.
pub fn rules(plan: &Plan) -> Vec<Rule> {
    let mut rules = Vec::new();
    let apps: Vec<(String, Ipv4Addr)> = plan
        .apps
        .iter()
        .filter_map(|app| Some((app.name.clone(), v4(app.address)?)))
        .collect();
    let Some(front) = v4(plan.front) else {
        return rules;
    };
    let balancer = vec![("haproxy".to_string(), front)];
    let mut rule = |group, host: &str, address: SocketAddr, from: Source, why| {
        if let Some(ip) = v4(address) {
            rules.push(Rule {
                group,
                host: host.to_string(),
                address: ip,
                port: address.port(),
                from,
                why,
            });
        }
    };
    rule(
        "lb",
        "haproxy",
        plan.front,
        Source::Anywhere,
        "HTTP, redirected to HTTPS",
    );
    if let Some(https) = plan.https {
        rule("lb", "haproxy", https, Source::Anywhere, "HTTPS");
    }
    if let Some(admin) = plan.admin {
        rule(
            "lb",
            "haproxy",
            admin,
            Source::ThisMachine,
            "the stats page, behind a password",
        );
    }
    if let Some(address) = plan.static_server {
        rule(
            "static",
            "nginx",
            address,
            Source::Hosts(balancer.clone()),
            "static files",
        );
    }
    for app in &plan.apps {
        rule(
            "app",
            &app.name,
            app.address,
            Source::Hosts(balancer.clone()),
            "requests",
        );
    }
    let replicas: Vec<(String, Ipv4Addr)> = plan
        .replicas
        .iter()
        .enumerate()
        .filter_map(|(index, address)| {
            Some((super::components::replica_name(index), v4(*address)?))
        })
        .collect();
    if let DatabasePlacement::OwnHost(address) = plan.database {
        rule(
            "db",
            "postgres",
            address,
            Source::Hosts(apps.clone()),
            "queries",
        );
        if !replicas.is_empty() {
            rule(
                "db",
                "postgres",
                address,
                Source::Hosts(replicas.clone()),
                "replication",
            );
        }
    }
    for (index, address) in plan.replicas.iter().enumerate() {
        let name = super::components::replica_name(index);
        rule("db", &name, *address, Source::Hosts(apps.clone()), "reads");
    }
    if let Some(address) = plan.cache {
        rule(
            "cache",
            "redis",
            address,
            Source::Hosts(apps.clone()),
            "the cache",
        );
    }
    rules
}

/// The security groups of `plan` at the level of groups, as a cloud has
/// them: (group, port, from), `from` being `anywhere`, `admin` (this
/// machine, an admin network on real ones) or another group. What
/// `deploy/aws/` must say too.
pub fn security_groups(plan: &Plan) -> std::collections::BTreeSet<(String, u16, String)> {
    let rules = rules(plan);
    let group_of = |host: &str| {
        rules
            .iter()
            .find(|rule| rule.host == host)
            .map_or("unknown", |rule| rule.group)
            .to_string()
    };
    let mut groups = std::collections::BTreeSet::new();
    for rule in &rules {
        let sources = match &rule.from {
            Source::Anywhere => vec!["anywhere".to_string()],
            Source::ThisMachine => vec!["admin".to_string()],
            Source::Hosts(hosts) => hosts.iter().map(|(name, _)| group_of(name)).collect(),
        };
        for from in sources {
            groups.insert((rule.group.to_string(), rule.port, from));
        }
    }
    groups
}

/// The rule table, as the map prints it.
pub fn table(plan: &Plan) -> Vec<String> {
    rules(plan)
        .iter()
        .map(|rule| {
            let from = match &rule.from {
                Source::Anywhere => "anywhere".to_string(),
                Source::ThisMachine => "this machine only".to_string(),
                Source::Hosts(hosts) => hosts
                    .iter()
                    .map(|(name, _)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!(
                "{:<10} {:>15}:{:<5} from {from} ({})",
                rule.host, rule.address, rule.port, rule.why
            )
        })
        .collect()
}

/// The nftables ruleset of the host at `address`: drop everything incoming
/// but replies, loopback and what its rules admit.
pub fn ruleset(plan: &Plan, address: Ipv4Addr) -> String {
    let this_machine = plan.network.as_ref().map(Network::this_machine);
    let mut text = String::from(
        "table inet million {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    \
         iif \"lo\" accept\n    ct state established,related accept\n",
    );
    for rule in rules(plan).iter().filter(|rule| rule.address == address) {
        let from = match &rule.from {
            Source::Anywhere => String::new(),
            Source::ThisMachine => match this_machine {
                Some(ip) => format!("ip saddr {ip} "),
                None => continue,
            },
            Source::Hosts(hosts) if hosts.is_empty() => continue,
            Source::Hosts(hosts) => format!(
                "ip saddr {{ {} }} ",
                hosts
                    .iter()
                    .map(|(_, ip)| ip.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            text,
            "    {from}tcp dport {} accept  # {}",
            rule.port, rule.why
        );
    }
    text.push_str("  }\n}\n");
    text
}

/// Creates the bridge, one namespace per host with its address, and each
/// namespace's rules; whatever an earlier run of this stack left is removed
/// first.
pub fn up(plan: &Plan) -> anyhow::Result<()> {
    let Some(network) = &plan.network else {
        return Ok(());
    };
    down(plan);
    let bridge = network.bridge();
    let taken = output(Command::new("ip").args(["-o", "-4", "addr", "show"]))?;
    let subnet = format!("10.60.{}.", network.subnet);
    if taken.contains(&subnet) {
        bail!(
            "addresses in {subnet}0/24 are already in use on this machine (`ip -4 addr`): \
             another stack, or a network of its own; stop it, or run from another folder"
        );
    }
    run(Command::new("ip").args(["link", "add", &bridge, "type", "bridge"]))?;
    run(Command::new("ip").args([
        "addr",
        "add",
        &format!("{}/24", network.this_machine()),
        "dev",
        &bridge,
    ]))?;
    run(Command::new("ip").args(["link", "set", &bridge, "up"]))?;
    for (_, address) in hosts(plan) {
        let n = address.octets()[3];
        let namespace = network.namespace_name(n);
        let link = network.link(n);
        run(Command::new("ip").args(["netns", "add", &namespace]))?;
        run(Command::new("ip").args([
            "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &namespace,
        ]))?;
        run(Command::new("ip").args(["link", "set", &link, "master", &bridge, "up"]))?;
        let inside = |args: &[&str]| {
            let mut command = Command::new("ip");
            command.args(["-n", &namespace]).args(args);
            run(&mut command)
        };
        inside(&["addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
        inside(&["link", "set", "eth0", "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        let mut nft = Command::new("ip");
        nft.args(["netns", "exec", &namespace, "nft", "-f", "-"]);
        run_with_input(&mut nft, &ruleset(plan, address))
            .with_context(|| format!("loading the rules of {namespace}"))?;
    }
    Ok(())
}

/// Removes the stack's namespaces and bridge (their links go with them).
pub fn down(plan: &Plan) {
    let Some(network) = &plan.network else {
        return;
    };
    let mut namespaces = std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&format!("{}-", network.prefix)))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    namespaces.sort();
    for namespace in namespaces {
        let _ = run(Command::new("ip").args(["netns", "del", &namespace]));
    }
    let bridge = network.bridge();
    if Path::new("/sys/class/net").join(&bridge).exists() {
        let _ = run(Command::new("ip").args(["link", "del", &bridge]));
    }
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}").replace('"', "");
    let output = command
        .output()
        .with_context(|| format!("running {shown}"))?;
    if !output.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

fn output(command: &mut Command) -> anyhow::Result<String> {
    let output = command.output().context("running ip")?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_with_input(command: &mut Command, input: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running nft")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// A TCP connection to `address` opened from inside the network namespace
/// `namespace` (from this machine's own when `None`), within `timeout`.
///
/// A socket belongs to the namespace it was made in, so a short-lived
/// thread of its own enters the namespace, connects and hands the socket
/// back; the executor's threads never change namespace.
pub async fn connect_from(
    namespace: Option<&Path>,
    address: SocketAddr,
    timeout: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(namespace) = namespace else {
        return tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?;
    };
    let namespace = namespace.to_path_buf();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("netns-connect".to_string())
        .spawn(move || {
            let attempt = (|| -> std::io::Result<std::net::TcpStream> {
                let file = std::fs::File::open(&namespace)?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)?;
                let stream = std::net::TcpStream::connect_timeout(&address, timeout)?;
                stream.set_nonblocking(true)?;
                Ok(stream)
            })();
            let _ = sender.send(attempt);
        })?;
    let stream = receiver
        .await
        .map_err(|_| std::io::Error::other("the connecting thread failed"))??;
    tokio::net::TcpStream::from_std(stream)
}

/// The status of `GET path` on the HTTP server at `address`, asked from
/// inside `namespace`: the probe of servers only their peers may reach.
pub async fn http_status(namespace: Option<&Path>, address: SocketAddr, path: &str) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let attempt = async {
        let mut stream = connect_from(namespace, address, Duration::from_secs(1))
            .await
            .ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut head = vec![0u8; 16];
        let read = stream.read(&mut head).await.ok()?;
        let line = String::from_utf8_lossy(&head[..read]).into_owned();
        line.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), attempt)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_interfaces_and_differ_between_stacks() {
        let one = Network::for_state_dir(Path::new("/work/a/.million/stack"));
        let other = Network::for_state_dir(Path::new("/work/b/.million/stack"));
        assert_ne!(one, other);
        assert!(format!("{}v254", one.prefix).len() <= 15, "{}", one.prefix);
        assert!(format!("{}br", one.prefix).len() <= 15);
        assert_eq!(
            one.namespace_of(IpAddr::V4(one.address(11))),
            Some(PathBuf::from(format!("/run/netns/{}-11", one.prefix)))
        );
        assert_eq!(one.namespace_of(IpAddr::V4(one.this_machine())), None);
        assert_eq!(one.namespace_of("127.0.0.1".parse().unwrap()), None);
    }
}
