//! axe-core, the accessibility checker, run inside the page the browser
//! shows: every violation of WCAG 2.1 A and AA that a machine can find.
//!
//! The checker comes from npm (`package.json`, installed by `make test-deps`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::Client;
use serde::Deserialize;

/// The rules that test WCAG 2.0 and 2.1, levels A and AA.
const TAGS: [&str; 4] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/// axe-core's source, read once per run.
fn source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "{} could not be read ({error}): run `make test-deps`, which installs axe-core with `npm ci`",
                path.display()
            )
        })
    })
}

#[derive(Debug, Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    #[serde(rename = "helpUrl")]
    help_url: String,
    nodes: Vec<Offender>,
}

#[derive(Debug, Deserialize)]
struct Offender {
    target: String,
    html: String,
}

/// What axe-core found on the pages checked so far.
#[derive(Default)]
pub struct Audit {
    pages: Vec<String>,
    findings: Vec<String>,
}

impl Audit {
    /// An empty audit; fails at once when axe-core is not installed.
    pub fn new() -> Self {
        source();
        Self::default()
    }

    /// Runs axe-core on the page the browser shows, called `what` in the
    /// report, and records every violation.
    pub async fn check(&mut self, client: &Client, what: &str) {
        wait_until_loaded(client).await;
        let url = client
            .current_url()
            .await
            .map(|url| url.to_string())
            .unwrap_or_default();
        client
            .execute(source(), vec![])
            .await
            .unwrap_or_else(|error| panic!("loading axe-core into {url}: {error}"));
        let options = serde_json::json!({
            "runOnly": {"type": "tag", "values": TAGS},
            "resultTypes": ["violations"],
        });
        let outcome = client
            .execute_async(
                r#"const [options, done] = arguments;
                   axe.run(document, options).then(
                     (results) => done({violations: results.violations.map((violation) => ({
                       id: violation.id, impact: violation.impact, help: violation.help,
                       helpUrl: violation.helpUrl,
                       nodes: violation.nodes.map((node) => ({
                         target: node.target.join(" "), html: node.html,
                       })),
                     }))}),
                     (error) => done({error: String(error)}));"#,
                vec![options],
            )
            .await
            .unwrap_or_else(|error| panic!("running axe-core on {url}: {error}"));
        if let Some(error) = outcome.get("error") {
            panic!("axe-core failed on {url}: {error}");
        }
        let violations: Vec<Violation> =
            serde_json::from_value(outcome["violations"].clone()).expect("axe-core's results");
        self.pages.push(what.to_string());
        for violation in violations {
            let mut finding = format!(
                "{what} ({url}): {} [{}] {}\n    {}",
                violation.id,
                violation.impact.as_deref().unwrap_or("?"),
                violation.help,
                violation.help_url
            );
            for node in violation.nodes {
                finding.push_str(&format!("\n    at {}: {}", node.target, node.html));
            }
            self.findings.push(finding);
        }
    }

    /// Fails the test with every violation found, each with its rule, the
    /// elements at fault and the page explaining the rule.
    pub fn assert_clean(&mut self) {
        let findings = std::mem::take(&mut self.findings);
        assert!(
            findings.is_empty(),
            "axe-core found {} violations of WCAG 2.1 AA across {} pages:\n{}",
            findings.len(),
            self.pages.len(),
            findings.join("\n")
        );
        eprintln!(
            "axe-core: no violations of WCAG 2.1 AA on {} pages: {}",
            self.pages.len(),
            self.pages.join("; ")
        );
    }
}

impl Drop for Audit {
    /// A test that fails on another step still shows what axe-core found.
    fn drop(&mut self) {
        if !self.findings.is_empty() {
            eprintln!(
                "axe-core found, before the test failed:\n{}",
                self.findings.join("\n")
            );
        }
    }
}

/// Waits until the page and everything it loads have arrived.
async fn wait_until_loaded(client: &Client) {
    let started = Instant::now();
    loop {
        let state = client
            .execute("return document.readyState;", vec![])
            .await
            .unwrap_or_default();
        if state == "complete" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the page did not finish loading"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
