//! The architecture page: the running topology as an SVG diagram, with the
//! parts that served this very request lit up.

use askama::Template;

use crate::report::CacheOutcome;
use crate::routes::web::page::Page;
use crate::settings::ArchitectureSettings;
use crate::tiers::replicas_common::NodeStatus;

/// What happened to the request that rendered the page.
pub struct ThisRequest {
    pub app_server: String,
    pub database_node: String,
    pub session_store: &'static str,
    pub client: String,
    pub proxy: Option<String>,
    /// The cache tier (`None` when there is none).
    pub cache_tier: Option<String>,
    /// How the cache answered this request's reads.
    pub cache: Option<CacheOutcome>,
    /// Database queries this request made.
    pub queries: u64,
    /// The database nodes this request's reads went to (`primary`,
    /// `replica-1`, …), in order of first use.
    pub read_nodes: Vec<String>,
    /// The read replicas as this server last checked them (none without
    /// the replicas tier).
    pub replicas: Vec<NodeStatus>,
}

impl ThisRequest {
    /// Which database nodes served this request, as the page prints it.
    pub fn read_nodes_text(&self) -> String {
        if self.read_nodes.is_empty() {
            return "none (no database query)".to_string();
        }
        self.read_nodes
            .iter()
            .map(
                |name| match self.replicas.iter().find(|replica| replica.name == *name) {
                    Some(replica) => format!("{name} ({})", replica.address),
                    None if name == crate::db::PRIMARY => {
                        format!("primary ({})", self.database_node)
                    }
                    None => name.clone(),
                },
            )
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The cache outcome as the page prints it.
    pub fn cache_text(&self) -> &'static str {
        match (&self.cache_tier, self.cache) {
            (None, _) => "no cache tier",
            (Some(_), Some(outcome)) => outcome.as_str(),
            (Some(_), None) => "not asked",
        }
    }
}

/// A box in the diagram.
pub struct Node {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub title: String,
    pub detail: String,
    /// `client`, `proxy`, `static`, `app`, `database`.
    pub kind: &'static str,
    /// Whether this request went through it.
    pub lit: bool,
}

impl Node {
    /// Where the title's baseline sits.
    pub fn title_y(&self) -> i32 {
        self.y + self.height / 2 - 4
    }

    /// Where the detail's baseline sits.
    pub fn detail_y(&self) -> i32 {
        self.y + self.height / 2 + 16
    }

    /// The horizontal centre.
    pub fn center_x(&self) -> i32 {
        self.x + self.width / 2
    }

    fn right(&self) -> (i32, i32) {
        (self.x + self.width, self.y + self.height / 2)
    }

    fn left(&self) -> (i32, i32) {
        (self.x, self.y + self.height / 2)
    }
}

/// A connection between two boxes.
pub struct Edge {
    pub x1: i32,
    pub y1: i32,
    pub x2: i32,
    pub y2: i32,
    pub lit: bool,
}

/// The whole drawing.
pub struct Diagram {
    pub width: i32,
    pub height: i32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The drawing in words: the path this request took, for readers who
    /// cannot see the picture.
    pub description: String,
}

const BOX_WIDTH: i32 = 190;
const BOX_HEIGHT: i32 = 64;
const COLUMN: i32 = 250;
const ROW: i32 = 90;
const MARGIN: i32 = 20;

fn node(column: i32, y: i32, title: String, detail: String, kind: &'static str, lit: bool) -> Node {
    // Keep details inside their box.
    let detail = if detail.chars().count() > 24 {
        format!("{}…", detail.chars().take(23).collect::<String>())
    } else {
        detail
    };
    Node {
        x: MARGIN + column * COLUMN,
        y,
        width: BOX_WIDTH,
        height: BOX_HEIGHT,
        title,
        detail,
        kind,
        lit,
    }
}

fn edge(from: &Node, to: &Node, lit: bool) -> Edge {
    let (x1, y1) = from.right();
    let (x2, y2) = to.left();
    Edge {
        x1,
        y1,
        x2,
        y2,
        lit,
    }
}

impl Diagram {
    /// Lays out `architecture`, lighting the path `request` took.
    pub fn new(architecture: &ArchitectureSettings, request: &ThisRequest) -> Self {
        let mut servers = architecture.app_server_list();
        if servers.is_empty() {
            servers.push((request.app_server.clone(), String::new()));
        }
        let rows = servers.len() as i32;
        let height = (rows.max(3) * ROW) + 2 * MARGIN;
        let middle = height / 2 - BOX_HEIGHT / 2;
        let mut nodes = Vec::new();
        let mut edges = Vec::new();

        let browser = node(
            0,
            middle,
            "Browser".into(),
            request.client.clone(),
            "client",
            true,
        );
        let front_label =
            split_label(&architecture.front).map(|(kind, address)| (display_name(&kind), address));
        let front = front_label
            .clone()
            .map(|(name, address)| node(1, middle, name, address, "proxy", true));
        let app_column = if front.is_some() { 2 } else { 1 };
        let top = height / 2 - (rows * ROW - (ROW - BOX_HEIGHT)) / 2;
        let apps: Vec<Node> = servers
            .iter()
            .enumerate()
            .map(|(index, (name, address))| {
                let lit = *name == request.app_server;
                let detail = if address.is_empty() {
                    "million".into()
                } else {
                    address.clone()
                };
                node(
                    app_column,
                    top + index as i32 * ROW,
                    name.clone(),
                    detail,
                    "app",
                    lit,
                )
            })
            .collect();
        let static_server = split_label(&architecture.static_server)
            .filter(|_| front.is_some())
            .map(|(kind, address)| (display_name(&kind), address));
        let database_label = if architecture.database.is_empty() {
            request.database_node.clone()
        } else {
            architecture.database.clone()
        };
        let description = describe(
            front_label.as_ref(),
            &servers,
            request,
            &database_label,
            static_server.as_ref(),
        );
        let served = |name: &str| request.read_nodes.iter().any(|node| node == name);
        let database = node(
            app_column + 1,
            middle,
            if request.replicas.is_empty() {
                "PostgreSQL".into()
            } else {
                "PostgreSQL primary".into()
            },
            database_label,
            "database",
            if request.replicas.is_empty() {
                request.queries > 0
            } else {
                served(crate::db::PRIMARY)
            },
        );
        let replicas: Vec<Node> = request
            .replicas
            .iter()
            .enumerate()
            .map(|(index, replica)| {
                node(
                    app_column + 1,
                    middle + (index as i32 + 1) * ROW,
                    format!("{} (replica)", replica.name),
                    replica_detail(replica),
                    "replica",
                    served(&replica.name),
                )
            })
            .collect();
        let cache = request.cache_tier.as_ref().map(|tier| {
            let address = tier
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let used = matches!(request.cache, Some(CacheOutcome::Hit | CacheOutcome::Miss));
            node(
                app_column + 1,
                middle - ROW - 10,
                "Redis cache".into(),
                address,
                "cache",
                used,
            )
        });

        match &front {
            Some(front) => {
                edges.push(edge(&browser, front, true));
                for app in &apps {
                    edges.push(edge(front, app, app.lit));
                }
            }
            None => {
                for app in &apps {
                    edges.push(edge(&browser, app, app.lit));
                }
            }
        }
        for app in &apps {
            edges.push(edge(app, &database, app.lit && database.lit));
            for replica in &replicas {
                edges.push(edge(app, replica, app.lit && replica.lit));
            }
            if let Some(cache) = &cache {
                edges.push(edge(app, cache, app.lit && cache.lit));
            }
        }
        if let (Some(front), Some((kind, address))) = (&front, static_server) {
            let below = node(
                1,
                height - MARGIN - BOX_HEIGHT + 10,
                kind,
                address,
                "static",
                false,
            );
            edges.push(Edge {
                x1: front.center_x(),
                y1: front.y + front.height,
                x2: below.center_x(),
                y2: below.y,
                lit: false,
            });
            nodes.push(below);
        }
        nodes.push(browser);
        nodes.extend(front);
        nodes.extend(apps);
        let width = database.x + BOX_WIDTH + MARGIN;
        let bottom = replicas.last().map_or(height + 20, |last| {
            (last.y + last.height + MARGIN).max(height + 20)
        });
        nodes.push(database);
        nodes.extend(replicas);
        nodes.extend(cache);
        Self {
            width,
            height: bottom,
            nodes,
            edges,
            description,
        }
    }
}

/// A replica's box: its lag and whether it takes reads.
fn replica_detail(replica: &NodeStatus) -> String {
    if !replica.reachable {
        return "not answering".to_string();
    }
    let lag = if replica.lag_bytes == 0 {
        "caught up".to_string()
    } else {
        format!("{} kB behind", replica.lag_bytes.div_ceil(1024))
    };
    match (replica.paused, replica.in_rotation) {
        (true, true) => format!("paused, {lag}"),
        (true, false) => format!("paused, out: {lag}"),
        (false, true) => lag,
        (false, false) => format!("out: {lag}"),
    }
}

/// Says in sentences what the diagram shows: where the request went, which
/// app server answered, what it asked the database and the cache.
fn describe(
    front: Option<&(String, String)>,
    servers: &[(String, String)],
    request: &ThisRequest,
    database: &str,
    static_server: Option<&(String, String)>,
) -> String {
    let at = |name: &str, address: &str| {
        if address.is_empty() {
            name.to_string()
        } else {
            format!("{name} at {address}")
        }
    };
    let mut sentences = Vec::new();
    let answering = servers
        .iter()
        .find(|(name, _)| *name == request.app_server)
        .map_or_else(
            || request.app_server.clone(),
            |(name, address)| at(name, address),
        );
    let mut path = format!("Your browser ({}) sent this request ", request.client);
    match front {
        Some((name, address)) => path.push_str(&format!(
            "to {}, which passed it to app server {answering}",
            at(name, address)
        )),
        None => path.push_str(&format!("straight to app server {answering}")),
    }
    if servers.len() > 1 {
        let names: Vec<&str> = servers.iter().map(|(name, _)| name.as_str()).collect();
        path.push_str(&format!(
            ", one of {} ({})",
            servers.len(),
            names.join(", ")
        ));
    }
    sentences.push(format!("{path}."));
    sentences.push(match request.queries {
        0 => format!(
            "{} did not query the PostgreSQL database ({database}).",
            request.app_server
        ),
        1 => format!(
            "{} made 1 query to the PostgreSQL database at {database}.",
            request.app_server
        ),
        queries => format!(
            "{} made {queries} queries to the PostgreSQL database at {database}.",
            request.app_server
        ),
    });
    if !request.replicas.is_empty() {
        let replicas: Vec<String> = request
            .replicas
            .iter()
            .map(|replica| format!("{} ({})", replica.name, replica_detail(replica)))
            .collect();
        sentences.push(format!(
            "Writes go to the primary; reads go to a replica in rotation: {}. This request's reads went to {}.",
            replicas.join(", "),
            if request.read_nodes.is_empty() {
                "no database node".to_string()
            } else {
                request.read_nodes.join(" and ")
            }
        ));
    }
    if let Some(tier) = &request.cache_tier {
        sentences.push(match request.cache {
            Some(CacheOutcome::Hit) => {
                format!("The cache ({tier}) answered every read: a cache hit.")
            }
            Some(CacheOutcome::Miss) => {
                format!(
                    "The cache ({tier}) missed, so the reads went to the database: a cache miss."
                )
            }
            Some(CacheOutcome::Bypass) => {
                format!("The cache ({tier}) was skipped: a cache bypass.")
            }
            None => format!("The cache ({tier}) was not asked."),
        });
    } else {
        sentences.push("There is no cache tier.".to_string());
    }
    if let Some((name, address)) = static_server {
        sentences.push(format!(
            "{} serves the static files and was not on this request's path.",
            at(name, address)
        ));
    }
    sentences.join(" ")
}

/// `"haproxy 127.0.0.1:8080"` → `("haproxy", "127.0.0.1:8080")`.
fn split_label(label: &str) -> Option<(String, String)> {
    let label = label.trim();
    if label.is_empty() {
        return None;
    }
    Some(match label.split_once(' ') {
        Some((kind, address)) => (kind.to_string(), address.trim().to_string()),
        None => (label.to_string(), String::new()),
    })
}

fn display_name(kind: &str) -> String {
    match kind {
        "nginx" => "nginx".to_string(),
        "haproxy" => "HAProxy".to_string(),
        other => other.to_string(),
    }
}

/// What each phase adds, for the page's caption.
pub fn phase_title(phase: u8) -> &'static str {
    match phase {
        0 => "One process: the app and its own PostgreSQL",
        1 => "Phase 1: a single server (nginx, app, PostgreSQL)",
        2 => "Phase 2: a separate database host",
        3 => "Phase 3: a load balancer over stateless app servers",
        4 => "Phase 4: a cache tier",
        5 => "Phase 5: read replicas",
        6 => "Phase 6: security hardening",
        7 => "Phase 7: CI/CD and rolling deploys",
        _ => "A custom topology",
    }
}

/// The architecture page.
#[derive(Template)]
#[template(path = "architecture.html")]
pub struct ArchitecturePage<'a> {
    pub page: &'a Page,
    pub phase: u8,
    pub title: &'static str,
    pub diagram: Diagram,
    pub request: ThisRequest,
    /// Every optional feature and whether this binary has it.
    pub features: Vec<(&'static str, bool)>,
    /// Seconds between automatic reloads, if asked for.
    pub refresh: Option<u32>,
    /// The popular tags, read through the cache.
    pub popular_tags: Vec<String>,
    /// Every app server heard from lately and the release it runs.
    pub releases: Vec<ServerRelease>,
}

impl ArchitecturePage<'_> {
    /// How often servers say which release they run, in seconds.
    pub fn announce_secs(&self) -> u64 {
        crate::release::ANNOUNCE_EVERY.as_secs()
    }
}

/// One app server's release, as the page lists it.
pub struct ServerRelease {
    pub name: String,
    pub release: String,
    /// Seconds since it started.
    pub up_secs: i64,
    /// Seconds since it last said so.
    pub heard_secs: i64,
    /// Whether it is the server that rendered the page.
    pub this_one: bool,
}

impl ServerRelease {
    /// `server` as the page shows it, heard of at `now` by `this_server`.
    pub fn of(
        server: &crate::models::AppServer,
        now: chrono::DateTime<chrono::Utc>,
        this_server: &str,
    ) -> Self {
        Self {
            name: server.name.clone(),
            release: server.release.clone(),
            up_secs: (now - server.started_at).num_seconds().max(0),
            heard_secs: (now - server.seen_at).num_seconds().max(0),
            this_one: server.name == this_server,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(server: &str) -> ThisRequest {
        ThisRequest {
            app_server: server.to_string(),
            database_node: "127.0.2.1:5432".to_string(),
            session_store: "encrypted cookie",
            client: "198.51.100.7".to_string(),
            proxy: None,
            cache_tier: None,
            cache: None,
            queries: 2,
            read_nodes: vec!["primary".to_string()],
            replicas: Vec::new(),
        }
    }

    #[test]
    fn a_single_process_is_browser_app_database() {
        let diagram = Diagram::new(&ArchitectureSettings::default(), &request("laptop:8000"));
        let kinds: Vec<&str> = diagram.nodes.iter().map(|node| node.kind).collect();
        assert_eq!(kinds, ["client", "app", "database"]);
        assert!(diagram.nodes.iter().all(|node| node.lit));
        assert_eq!(diagram.edges.len(), 2);
        assert_eq!(
            diagram.description,
            "Your browser (198.51.100.7) sent this request straight to app server laptop:8000. \
             laptop:8000 made 2 queries to the PostgreSQL database at 127.0.2.1:5432. \
             There is no cache tier."
        );
    }

    #[test]
    fn replicas_are_drawn_with_their_lag_and_the_one_read_is_lit() {
        let replica = |n: u8, lag_bytes: u64, in_rotation: bool| NodeStatus {
            name: format!("replica-{n}"),
            address: format!("127.0.2.{}:5432", n + 1),
            reachable: true,
            in_rotation,
            paused: !in_rotation,
            lag_bytes,
            lag_ms: 0,
            reads: 0,
        };
        let mut request = request("laptop:8000");
        request.read_nodes = vec!["replica-2".to_string()];
        request.replicas = vec![replica(1, 9000, false), replica(2, 0, true)];
        let diagram = Diagram::new(&ArchitectureSettings::default(), &request);
        let databases: Vec<(&str, &str, bool)> = diagram
            .nodes
            .iter()
            .filter(|node| matches!(node.kind, "database" | "replica"))
            .map(|node| (node.title.as_str(), node.detail.as_str(), node.lit))
            .collect();

        assert_eq!(
            databases,
            [
                ("PostgreSQL primary", "127.0.2.1:5432", false),
                ("replica-1 (replica)", "paused, out: 9 kB behind", false),
                ("replica-2 (replica)", "caught up", true),
            ]
        );
        assert!(
            diagram
                .nodes
                .iter()
                .all(|node| node.y + node.height <= diagram.height)
        );
        assert!(
            diagram
                .description
                .contains("This request's reads went to replica-2.")
        );
        assert_eq!(request.read_nodes_text(), "replica-2 (127.0.2.3:5432)");
    }

    #[test]
    fn the_answering_server_is_lit_among_three() {
        let architecture = ArchitectureSettings {
            phase: 3,
            front: "haproxy 127.0.0.1:8080".into(),
            app_servers: vec![
                "app-1=127.0.1.1:8000".into(),
                "app-2=127.0.1.2:8000".into(),
                "app-3=127.0.1.3:8000".into(),
            ],
            static_server: "nginx 127.0.0.1:8081".into(),
            database: String::new(),
        };
        let diagram = Diagram::new(&architecture, &request("app-2"));
        let apps: Vec<(&str, bool)> = diagram
            .nodes
            .iter()
            .filter(|node| node.kind == "app")
            .map(|node| (node.title.as_str(), node.lit))
            .collect();
        assert_eq!(apps, [("app-1", false), ("app-2", true), ("app-3", false)]);
        assert!(diagram.nodes.iter().any(|node| node.kind == "static"));
        assert!(diagram.nodes.iter().any(|node| node.title == "HAProxy"));
        // Browser→HAProxy, HAProxy→each app, each app→database, HAProxy→nginx.
        assert_eq!(diagram.edges.len(), 1 + 3 + 3 + 1);
        assert!(
            diagram
                .nodes
                .iter()
                .all(|node| node.x + node.width <= diagram.width)
        );
        assert!(
            diagram
                .nodes
                .iter()
                .all(|node| node.y + node.height <= diagram.height)
        );
        assert_eq!(
            diagram.description,
            "Your browser (198.51.100.7) sent this request to HAProxy at 127.0.0.1:8080, \
             which passed it to app server app-2 at 127.0.1.2:8000, one of 3 (app-1, app-2, app-3). \
             app-2 made 2 queries to the PostgreSQL database at 127.0.2.1:5432. \
             There is no cache tier. \
             nginx at 127.0.0.1:8081 serves the static files and was not on this request's path."
        );
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn a_cache_hit_lights_redis_and_leaves_postgres_dark() {
        let request = ThisRequest {
            app_server: "app-1".into(),
            database_node: "127.0.2.1:5432".into(),
            session_store: "encrypted cookie",
            client: "127.0.0.1".into(),
            proxy: None,
            cache_tier: Some("Redis 127.0.3.1:6379".into()),
            cache: Some(CacheOutcome::Hit),
            queries: 0,
            read_nodes: Vec::new(),
            replicas: Vec::new(),
        };
        let diagram = Diagram::new(&ArchitectureSettings::default(), &request);
        let lit = |kind: &str| {
            diagram
                .nodes
                .iter()
                .find(|node| node.kind == kind)
                .unwrap()
                .lit
        };
        assert!(lit("cache"));
        assert!(!lit("database"));
        assert_eq!(request.cache_text(), "hit");
        assert!(diagram.nodes.iter().all(|node| node.y >= 0));
        assert!(
            diagram
                .description
                .contains("did not query the PostgreSQL database")
        );
        assert!(
            diagram
                .description
                .contains("The cache (Redis 127.0.3.1:6379) answered every read: a cache hit.")
        );
    }
}
