//! The map printed once a stack is up: what runs where, where to look, and
//! how to break it on purpose.

use super::state::StackState;

/// What each kind of component does, for the map.
fn role(kind: &str, balanced: bool) -> &'static str {
    match (kind, balanced) {
        ("haproxy", _) => "front door: round-robin over the app servers, health checks",
        ("nginx", true) => "static files (/static/), behind HAProxy",
        ("nginx", false) => "front door: serves /static/ itself, proxies the rest",
        ("app", _) => "million serve",
        ("postgres", true) => "PostgreSQL, the primary: every write",
        ("postgres", false) => "PostgreSQL",
        ("replica", _) => "PostgreSQL streaming replica: reads (pg_basebackup -R)",
        ("redis", _) => "Redis: the cache tier",
        _ => "",
    }
}

/// A phase's one-line summary.
pub fn summary(phase: u8) -> &'static str {
    match phase {
        1 => "a single server: nginx, one app server and PostgreSQL on one host",
        2 => "a separate database host: PostgreSQL on 127.0.2.1 with password authentication",
        3 => "a load balancer: HAProxy over three stateless app servers",
        4 => "a cache tier: Redis in front of the hot reads, on top of phase 3",
        5 => "read replicas: two PostgreSQL streaming replicas take the reads, on top of phase 4",
        6 => {
            "security hardening: TLS at the front door and to PostgreSQL, Redis behind a password, on top of phase 5"
        }
        7 => {
            "deploys: the app servers run as containers of an image tagged with its commit, rolled one at a time, on top of phase 6"
        }
        _ => "a custom stack",
    }
}

/// The map for `state`.
pub fn map(state: &StackState) -> String {
    let mut out = String::new();
    let phase = state.phase;
    // What to say follows from what runs, not from the phase's number.
    let has = |kind: &str| {
        state
            .components
            .iter()
            .any(|component| component.kind == kind)
    };
    let balanced = has("haproxy");
    out.push_str(&format!(
        "\nPhase {phase} is running: {}.\n\n",
        summary(phase)
    ));
    for component in &state.components {
        let role = match &component.image {
            Some(image) => format!("container of {image}"),
            None => role(&component.kind, balanced).to_string(),
        };
        out.push_str(&format!(
            "  {:<9} {:<22} {role}\n",
            component.name, component.address,
        ));
    }
    out.push_str(&format!("\n  Open          {}/\n", state.front_url));
    if let Some(authority) = &state.authority {
        out.push_str(&format!(
            "  Trust         {}  the stack's own certificate authority: import it into a\n\
             \x20               browser as an authority, or `curl --cacert` it. Plain HTTP redirects.\n",
            authority.display()
        ));
    }
    out.push_str(&format!(
        "  Architecture  {}/architecture?refresh=2\n",
        state.front_url
    ));
    if let Some(stats) = &state.stats_url {
        out.push_str(&format!(
            "  Stats         {stats}  (this host only; user admin, password in {}/secrets.json)\n",
            state
                .components
                .first()
                .and_then(|c| c.log.parent())
                .and_then(|logs| logs.parent())
                .map_or_else(
                    || ".million/stack".to_string(),
                    |dir| dir.display().to_string()
                )
        ));
    }
    if let Some(log) = state.components.first().and_then(|c| c.log.parent()) {
        out.push_str(&format!("  Logs          {}/\n", log.display()));
    }
    out.push_str("  Status        make phase-status\n");
    if !state.firewall.is_empty() {
        out.push_str(
            "\nSecurity groups (a network namespace per host, nftables in each; all else dropped):\n",
        );
        for rule in &state.firewall {
            out.push_str(&format!("  {rule}\n"));
        }
    }
    if let Some(reason) = &state.unsegmented {
        out.push_str(&format!(
            "\nNetwork segmentation is NOT enforced: {reason}. Every host is a loopback address\n\
             that anything on this machine can reach.\n"
        ));
    }
    if let Some(current) = &state.rollout.current {
        out.push_str(&format!(
            "\nDeploy (the app servers run {current}):\n\
             \x20 make deploy         build the working tree into a new image, migrate, then roll the app\n\
             \x20                     servers onto it one at a time through HAProxy's runtime API (drain,\n\
             \x20                     stop, start, healthy, back in); LOAD=1 sends traffic meanwhile and\n\
             \x20                     counts failed requests. A server that fails on it rolls everything back.\n\
             \x20 make rollback       roll back to the image before, the same way.\n"
        ));
    }
    out.push_str("\nBreak something on purpose:\n");
    if balanced {
        out.push_str(
            "  make kill-app N=2   app-2 crashes. On the stats page it turns red within ~3 s while\n\
             \x20                     pages keep coming from app-1 and app-3 (HAProxy retries elsewhere);\n\
             \x20                     the supervisor restarts it after 10 s and it turns green again.\n\
             \x20 make stop-app N=2   keeps app-2 down until `make start-app N=2`.\n",
        );
        out.push_str(
            "  SESSIONS=memory make phase3   sessions in each server's memory: sign in, then reload\n\
             \x20                     /architecture: on the next server you are signed out again.\n",
        );
    } else {
        out.push_str(
            "  make kill-app N=1   the only app server crashes: nginx answers 502 until the\n\
             \x20                     supervisor restarts it (10 s). One server is one point of failure.\n",
        );
    }
    if has("redis") {
        out.push_str(
            "  make stop-redis     the cache goes away: the site stays up, every response says\n\
             \x20                     X-Cache: bypass, and /metrics counts the bypasses; `make start-redis`\n\
             \x20                     brings it back and the hits return.\n",
        );
    }
    if has("replica") {
        out.push_str(
            "  make pause-replica N=1   replica-1 stops replaying: it answers with old data. Write\n\
             \x20                     something; within seconds it leaves rotation (make phase-status shows\n\
             \x20                     its lag), while whoever wrote still reads their own write.\n\
             \x20 make resume-replica N=1  it catches up and comes back.\n\
             \x20 make kill-replica N=2    a replica crashes: reads move to the other one (or the primary)\n\
             \x20                     without a failed request; the supervisor restarts it after 10 s.\n\
             \x20 make kill-db        the primary crashes: reads go on from the replicas, writes answer\n\
             \x20                     503 \"read-only for now\" and every page says so, until it is back (10 s).\n\
             \x20 make load           drive traffic through the front door and read requests/s and latency.\n",
        );
    } else {
        out.push_str(
            "  make kill-db        PostgreSQL crashes: pages answer 503 \"database unavailable\" and\n\
             \x20                     /readyz fails until it is restarted (10 s); nothing else falls over.\n\
             \x20 make load           drive traffic through the front door and read requests/s and latency.\n",
        );
    }
    if !balanced
        && state
            .components
            .iter()
            .any(|c| c.kind == "postgres" && c.address != "unix socket")
    {
        out.push_str(
            "  psql -h 127.0.2.1 -U million million   asks for a password: the database is its own host now.\n",
        );
    }
    out.push_str("\nCtrl-C stops everything (`make phase-down` when started with DETACH=1).\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::state::{ComponentState, Status};

    #[test]
    fn the_phase_3_map_names_the_stats_page_and_the_breakages() {
        let state = StackState {
            phase: 3,
            status: Status::Ready,
            supervisor_pid: 1,
            supervisor_start_time: None,
            boot_id: None,
            error: None,
            front_url: "http://127.0.0.1:8080".into(),
            authority: None,
            firewall: Vec::new(),
            unsegmented: None,
            stats_url: Some("http://127.0.0.1:8404/".into()),
            app_database: String::new(),
            components: vec![ComponentState {
                name: "haproxy".into(),
                kind: "haproxy".into(),
                address: "127.0.0.1:8080".into(),
                pid: Some(2),
                start_time: None,
                log: "/tmp/logs/haproxy.log".into(),
                health_url: None,
                condition: "up".into(),
                netns: None,
                image: None,
            }],
            rollout: Default::default(),
        };
        let text = map(&state);
        assert!(text.contains("http://127.0.0.1:8404/"));
        assert!(text.contains("/tmp/secrets.json"), "{text}");
        assert!(text.contains("make kill-app N=2"));
        assert!(text.contains("/tmp/logs/"));
    }
}
