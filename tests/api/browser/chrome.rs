//! A headless Chromium driven through chromedriver, and the few ways the
//! browser test handles it: find, fill, click, wait for text.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`make test-deps` installs them).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use million::process::{ChildOptions, ManagedChild};
use nix::sys::signal::Signal;

/// A browser of its own: chromedriver, its Chromium, a throwaway profile.
pub struct Chrome {
    pub client: Client,
    driver: ManagedChild,
    /// chromedriver's address, for the commands WebDriver has no word for.
    driver_url: String,
    profile: tempfile::TempDir,
}

impl Drop for Chrome {
    /// However the test ends, no browser process outlives it: chromedriver's
    /// process group goes, then anything still using this test's profile.
    fn drop(&mut self) {
        self.driver.stop(Signal::SIGTERM, Duration::from_secs(5));
        let marker = self.profile.path().to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

fn find_program(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|candidate| Path::new(candidate).is_file())
        .map(|found| found.to_string())
}

/// Starts chromedriver on a free port and a headless Chromium session.
pub async fn start_chrome() -> Chrome {
    let driver_path = find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
        .expect("chromedriver not found: install it with `make test-deps`");
    let browser_path = find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])
        .expect("chromium not found: install it with `make test-deps`");
    let profile = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(driver_path);
    command.arg(format!("--port={port}"));
    let driver = ManagedChild::spawn(
        command,
        ChildOptions {
            name: "chromedriver",
            log_file: &profile.path().join("chromedriver.log"),
            run_as: None,
            on_parent_death: Signal::SIGTERM,
            netns: None,
        },
    )
    .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let user_data = profile.path().join("profile");
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": browser_path,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", user_data.display()),
            ],
        }
    });
    let capabilities = match capabilities {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    };
    let driver_url = format!("http://127.0.0.1:{port}");
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("starting a Chromium session");
    Chrome {
        client,
        driver,
        driver_url,
        profile,
    }
}

impl Chrome {
    /// Makes the pages see `prefers-reduced-motion: reduce` (or no
    /// preference), as a reader who turned animations off in their system
    /// would: a DevTools command, through chromedriver's own endpoint.
    pub async fn prefer_reduced_motion(&self, reduce: bool) {
        let session = self
            .client
            .session_id()
            .await
            .unwrap()
            .expect("a WebDriver session");
        let response = reqwest::Client::new()
            .post(format!(
                "{}/session/{session}/goog/cdp/execute",
                self.driver_url
            ))
            .json(&serde_json::json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [
                    {"name": "prefers-reduced-motion", "value": if reduce { "reduce" } else { "" }},
                ]},
            }))
            .send()
            .await
            .expect("asking chromedriver to emulate reduced motion");
        assert!(
            response.status().is_success(),
            "emulating reduced motion: {}",
            response.text().await.unwrap_or_default()
        );
    }
}

/// Waits for the element matching `selector`, or fails showing the page.
pub async fn find(client: &Client, selector: &str) -> fantoccini::elements::Element {
    let found = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await;
    match found {
        Ok(element) => element,
        Err(error) => {
            let url = client
                .current_url()
                .await
                .map(|url| url.to_string())
                .unwrap_or_default();
            let source = client.source().await.unwrap_or_default();
            panic!("{selector} did not appear on {url} ({error}); the page was:\n{source}");
        }
    }
}

/// Replaces the text of the field matching `selector`.
pub async fn fill(client: &Client, selector: &str, text: &str) {
    let field = find(client, selector).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks the element matching `selector`.
pub async fn click(client: &Client, selector: &str) {
    find(client, selector).await.click().await.unwrap();
}

/// Waits until the first element matching `selector` reads `expected`
/// (pages load after clicks, so the previous page may still be showing).
pub async fn expect_text(client: &Client, selector: &str, expected: &str) {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(element) = client.find(Locator::Css(selector)).await {
            last = element.text().await.unwrap_or_default();
            if last == expected {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = client
        .current_url()
        .await
        .map(|url| url.to_string())
        .unwrap_or_default();
    panic!("{selector} on {url} reads {last:?}, not {expected:?}");
}

/// Runs `script` (a function body) in the page and returns what it returns.
pub async fn eval(client: &Client, script: &str) -> serde_json::Value {
    client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("running {script:?} in the page: {error}"))
}
