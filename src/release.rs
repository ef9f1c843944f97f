//! Which release this server runs: `GET /version`, and the `X-App-Version`
//! header on every response, so a rolling deploy can be watched switching
//! from one release to the next.
//!
//! The commit and build time are fixed when the binary is built
//! (`build.rs`). The release name is the image's tag where the server runs
//! from a container image (`MILLION_RELEASE`, set by
//! `deploy/images/app.Containerfile`), the commit otherwise.

use std::sync::OnceLock;

use serde::Serialize;

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
