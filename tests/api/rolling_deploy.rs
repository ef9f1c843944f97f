//! Phase 7: the app servers run as containers of an image, and a deploy
//! rolls a new image across them through HAProxy's runtime API while a
//! steady stream of reads and writes goes through the front door — real
//! Podman containers, real HAProxy, the phase 6 topology around them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use million::settings::SessionStoreKind;
use million::stack::Stack;
use million::stack::state::Outcome;
use million::stack::traffic::{Tally, Traffic};

use crate::stack::test_plan;

/// The images a test deploys, made from this build's binary and removed
/// when the test ends: `first`, then `second` (another release of it),
/// `broken`, whose server never answers, and `unready`, whose server is
/// alive but cannot reach its database.
struct TestImages {
    first: String,
    second: String,
    broken: String,
    unready: String,
}

impl TestImages {
    fn build() -> Self {
        let tag = format!("test-{}", std::process::id());
        let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let built = Command::new(project.join("scripts/build-images"))
            .arg("app")
            .env("BINARY", env!("CARGO_BIN_EXE_million"))
            .env("RELEASE", format!("{tag}-first"))
            .current_dir(&project)
            .output()
            .expect("running scripts/build-images");
        assert!(
            built.status.success(),
            "building the app image: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let images = Self {
            first: format!("million-app:{tag}-first"),
            second: format!("million-app:{tag}-second"),
            broken: format!("million-app:{tag}-broken"),
            unready: format!("million-app:{tag}-unready"),
        };
        // Another release of the same binary: only its name differs.
        derive(
            &images.second,
            &format!("FROM {}\nENV MILLION_RELEASE={tag}-second\n", images.first),
        );
        // Migrates, but its server never listens.
        derive(
            &images.broken,
            &format!(
                "FROM {}\nENV MILLION_RELEASE={tag}-broken\n\
                 ENTRYPOINT [\"sh\", \"-c\", \"if [ \\\"$1\\\" = serve ]; then sleep 3600; \
                 else exec million \\\"$@\\\"; fi\", \"million\"]\n",
                images.first
            ),
        );
        // Migrates, then serves /healthz, but /readyz never: its server
        // looks for PostgreSQL, primary and replicas, on a port where
        // nothing listens.
        derive(
            &images.unready,
            &format!(
                "FROM {}\nENV MILLION_RELEASE={tag}-unready\n\
                 ENTRYPOINT [\"sh\", \"-c\", \"if [ \\\"$1\\\" = serve ]; then export DB_PORT=1 APP__REPLICAS__HOSTS=127.0.0.1:1; fi; \
                 exec million \\\"$@\\\"\", \"million\"]\n",
                images.first
            ),
        );
        images
    }

    /// The release name each image answers with.
    fn release(image: &str) -> &str {
        image.rsplit_once(':').map_or(image, |(_, tag)| tag)
    }
}

impl Drop for TestImages {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rmi", "--force", &self.unready, &self.broken, &self.second])
            .output();
        let _ = Command::new("podman")
            .args(["rmi", "--force", &self.first])
            .output();
    }
}

/// Builds `image` from the Containerfile text `file`.
fn derive(image: &str, file: &str) {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("Containerfile"), file).unwrap();
    let built = Command::new("podman")
        .args(["build", "--quiet", "--format", "docker", "--tag", image])
        .arg(folder.path())
        .output()
        .expect("running podman build");
    assert!(
        built.status.success(),
        "building {image}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// Asks the front door for `/version` until every app server has answered
/// at least twice; the releases they named, by server.
async fn releases_by_server(
    front: &str,
    authority: &Path,
    servers: usize,
) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..(servers * 10) {
        let answer = million::tls::https_get(&format!("{front}/version"), authority)
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        let served_by = answer.header("x-served-by").unwrap_or_default().to_string();
        let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        let release = body["release"].as_str().unwrap_or_default().to_string();
        assert_eq!(
            answer.header("x-app-version"),
            Some(release.as_str()),
            "the header names the same release as the body"
        );
        seen.insert(served_by.clone());
        answers.push((served_by, release));
        if seen.len() == servers && answers.len() >= servers * 2 {
            break;
        }
    }
    assert_eq!(seen.len(), servers, "every app server answers: {answers:?}");
    answers
}

/// Whether every answer named `release`.
async fn assert_every_server_runs(front: &str, authority: &Path, release: &str) {
    for (server, answered) in releases_by_server(front, authority, 3).await {
        assert_eq!(answered, release, "{server} runs {answered}, not {release}");
    }
}

/// Runs `deploy` with traffic flowing through `front` before, during and
/// after it; what the traffic saw.
async fn under_traffic(stack: &mut Stack, front: &str, authority: &Path, image: &str) -> Tally {
    let traffic = Traffic::start(front, Some(authority.to_path_buf()))
        .await
        .unwrap();
    let slug = traffic.article().to_string();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    stack.deploy(image).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let tally = traffic.stop().await;
    // Every acknowledged write landed, once (asked of the primary over its
    // socket: only the app servers may reach it over the network).
    let secrets = million::stack::secrets::Secrets::load_or_create(&stack.plan.state_dir).unwrap();
    let conninfo = million::stack::components::runner_conninfo(&stack.plan, &secrets).unwrap();
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let landed: i64 = client
        .query_one(
            "SELECT count(*) FROM comments JOIN articles ON articles.id = comments.article_id \
             WHERE articles.slug = $1",
            &[&slug],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        landed, tally.acknowledged as i64,
        "the article has exactly the comments acknowledged"
    );
    tally
}

#[tokio::test]
async fn phase_7_rolls_new_images_across_the_app_servers_without_failing_a_request() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "phase 7 skipped: its app servers are containers of rootful Podman (run as root)"
        );
        return;
    }
    let images = TestImages::build();
    let (plan, _state) = test_plan(7);
    let mut plan = plan.segmented_from(6).with_image(&images.first);
    plan.sessions = SessionStoreKind::Cookie;
    let https = plan.https.unwrap();
    let front = match https.port() {
        443 => format!("https://{}", https.ip()),
        _ => format!("https://{https}"),
    };
    let authority = plan.authority_dir().join("ca.pem");
    let mut stack = Stack::up(plan).await.unwrap();
    assert_every_server_runs(&front, &authority, TestImages::release(&images.first)).await;

    // A new release, rolled out under a steady stream of reads and writes.
    let tally = under_traffic(&mut stack, &front, &authority, &images.second).await;
    let rollout = stack.state(None).rollout;
    assert_eq!(
        rollout.outcome,
        Some(Outcome::Deployed),
        "{:?}",
        rollout.steps
    );
    assert_eq!(tally.failed, 0, "{}", tally.report());
    assert!(tally.acknowledged > 50, "{}", tally.report());
    for image in [&images.first, &images.second] {
        assert!(
            tally.releases.contains_key(TestImages::release(image)),
            "both releases answered during the roll: {}",
            tally.report()
        );
    }
    assert_every_server_runs(&front, &authority, TestImages::release(&images.second)).await;
    assert_eq!(rollout.current.as_deref(), Some(images.second.as_str()));
    assert_eq!(rollout.previous.as_deref(), Some(images.first.as_str()));

    // An image whose server never becomes healthy is rolled back by itself,
    // and so is one whose server is alive but never ready.
    for (image, gate) in [(&images.broken, ""), (&images.unready, "/readyz")] {
        let tally = under_traffic(&mut stack, &front, &authority, image).await;
        let rollout = stack.state(None).rollout;
        assert!(
            matches!(&rollout.outcome, Some(Outcome::RolledBack(why)) if why.contains(gate)),
            "{image}: {:?}",
            rollout.outcome
        );
        assert_eq!(tally.failed, 0, "{image}: {}", tally.report());
        assert!(
            !tally.releases.contains_key(TestImages::release(image)),
            "{image} never answered: {}",
            tally.report()
        );
        assert_every_server_runs(&front, &authority, TestImages::release(&images.second)).await;
        assert_eq!(rollout.current.as_deref(), Some(images.second.as_str()));
    }
    let rollout = stack.state(None).rollout;

    // `make rollback`: back to the release before, the same way.
    let previous = rollout.previous.clone().unwrap();
    let tally = under_traffic(&mut stack, &front, &authority, &previous).await;
    assert_eq!(stack.state(None).rollout.outcome, Some(Outcome::Deployed));
    assert_eq!(tally.failed, 0, "{}", tally.report());
    assert_every_server_runs(&front, &authority, TestImages::release(&images.first)).await;

    let containers: Vec<String> = stack
        .plan
        .apps
        .iter()
        .map(|app| million::stack::containers::container_name(&stack.plan.state_dir, &app.name))
        .collect();
    stack.down().await;
    for container in containers {
        let exists = Command::new("podman")
            .args(["container", "exists", &container])
            .status()
            .unwrap();
        assert!(
            !exists.success(),
            "{container} is left after the stack went down"
        );
    }
}
