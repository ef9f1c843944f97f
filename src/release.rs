//! Which release this server runs: `GET /version`, and the `X-App-Version`
//! header on every response, so a rolling deploy can be watched switching
//! from one release to the next.
//!
//! The commit and build time are fixed when the binary is built
//! (`build.rs`). The release name is the image's tag where the server runs
//! from a container image (`MILLION_RELEASE`, set by
//! `deploy/images/app.Containerfile`), the commit otherwise.
//!
//! Each server also says which release it runs in the database every few
//! seconds and reads what the others said ([`announce`]), so the
//! architecture page can list every server's release while a deploy rolls
//! across them, without a query of its own.

use std::sync::OnceLock;
use std::time::Duration;

use serde::Serialize;

use crate::db::Db;
use crate::models::AppServer;

/// How often each server says which release it runs.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(5);
/// A server not heard from for this long is no longer listed.
pub const FORGET_AFTER: Duration = Duration::from_secs(15);

/// The git commit the binary was built from (12 hex digits), or `unknown`.
pub const COMMIT: &str = env!("MILLION_BUILD_COMMIT");

/// What `GET /version` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    /// The release's name: the image tag, else the commit.
    pub release: String,
    pub commit: &'static str,
    /// When the binary was built (RFC 3339, UTC).
    pub built: String,
    /// The optional tiers built in.
    pub features: Vec<&'static str>,
    /// The container image it runs from, if any (`MILLION_IMAGE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// This process's release, read once.
pub fn current() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let named = |variable: &str| {
            std::env::var(variable)
                .ok()
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty() && header_safe(value))
        };
        let built = env!("MILLION_BUILD_TIME")
            .parse::<i64>()
            .ok()
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
            .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        Release {
            release: named("MILLION_RELEASE").unwrap_or_else(|| COMMIT.to_string()),
            commit: COMMIT,
            built,
            features: crate::tiers::enabled(),
            image: named("MILLION_IMAGE"),
        }
    })
}

/// The app servers heard from lately, as this server last read them: the
/// architecture page shows them without a query of its own.
#[derive(Clone, Default)]
pub struct Servers {
    list: std::sync::Arc<std::sync::RwLock<Vec<AppServer>>>,
}

impl Servers {
    /// The servers heard from lately, by name.
    pub fn listed(&self) -> Vec<AppServer> {
        self.list
            .read()
            .map(|list| list.clone())
            .unwrap_or_default()
    }

    fn replace(&self, servers: Vec<AppServer>) {
        if let Ok(mut list) = self.list.write() {
            *list = servers;
        }
    }
}

/// Says every [`ANNOUNCE_EVERY`] that server `instance` runs this release,
/// then reads which releases the others run into `servers`, until the
/// returned handle is aborted. A database that does not answer (or is
/// read-only for now) is skipped until the next turn.
pub fn announce(db: Db, instance: String, servers: Servers) -> tokio::task::AbortHandle {
    let started_at = chrono::Utc::now();
    tokio::spawn(async move {
        loop {
            let said = async {
                let mut conn = db
                    .write()
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
                AppServer::announce(&mut conn, &instance, &current().release, started_at).await?;
                let since = chrono::Utc::now()
                    - chrono::Duration::from_std(FORGET_AFTER)
                        .unwrap_or_else(|_| chrono::Duration::zero());
                servers.replace(AppServer::seen_since(&mut conn, since).await?);
                Ok::<(), anyhow::Error>(())
            };
            if let Err(error) = said.await {
                tracing::debug!("could not say which release runs here: {error:#}");
            }
            tokio::time::sleep(ANNOUNCE_EVERY).await;
        }
    })
    .abort_handle()
}

/// Takes server `instance` off the list, as it stops.
pub async fn retire(db: &Db, instance: &str) {
    let retired = async {
        let mut conn = db.write().await.ok()?;
        AppServer::retire(&mut conn, instance, &current().release)
            .await
            .ok()
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), retired).await;
}

/// Whether `value` may go in a header as it is: printable ASCII only.
fn header_safe(value: &str) -> bool {
    value.bytes().all(|byte| (0x20..0x7f).contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_commit_it_was_built_from() {
        assert!(COMMIT == "unknown" || COMMIT.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!current().release.is_empty());
        assert!(current().built.ends_with('Z'), "{}", current().built);
    }

    #[test]
    fn a_release_name_that_cannot_be_a_header_is_ignored() {
        assert!(header_safe("3f2a9c1e7b0d-dirty.1a2b"));
        assert!(!header_safe("bad\nname"));
        assert!(!header_safe("é"));
    }
}
