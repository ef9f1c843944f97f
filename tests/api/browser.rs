//! A real headless Chromium, driven through chromedriver with a WebDriver
//! client, walks the main story: sign up, sign in, edit the profile, publish,
//! find the article on the profile, favorite it, comment, sign out.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use million::process::{ChildOptions, ManagedChild};
use nix::sys::signal::Signal;

use crate::helpers::{PASSWORD, spawn_app};

struct Chrome {
    client: Client,
    driver: ManagedChild,
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

async fn start_chrome() -> Chrome {
    let driver_path = find_program(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
        .expect("chromedriver not found: install it with `sudo apt-get install chromium chromium-driver`");
    let browser_path = find_program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]).expect(
        "chromium not found: install it with `sudo apt-get install chromium chromium-driver`",
    );
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
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("starting a Chromium session");
    Chrome {
        client,
        driver,
        profile,
    }
}

async fn find(client: &Client, selector: &str) -> fantoccini::elements::Element {
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

async fn fill(client: &Client, selector: &str, text: &str) {
    let field = find(client, selector).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, selector: &str) {
    find(client, selector).await.click().await.unwrap();
}

/// Waits until the first element matching `selector` reads `expected`
/// (pages load after clicks, so the previous page may still be showing).
async fn expect_text(client: &Client, selector: &str, expected: &str) {
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

/// Signs in through the form and waits for the signed-in page.
async fn sign_in(client: &Client, site: &str, email: &str, username: &str) {
    client.goto(&format!("{site}/login")).await.unwrap();
    fill(client, "#email", email).await;
    fill(client, "#password", PASSWORD).await;
    click(client, "main form button[type=submit]").await;
    expect_text(client, ".nav-user", username).await;
}

/// Signs out and waits until the signed-out page has loaded.
async fn sign_out(client: &Client) {
    click(client, "form[action='/logout'] button").await;
    expect_text(client, ".nav-links a[href='/register']", "Sign up").await;
}

#[tokio::test]
async fn a_visitor_signs_up_writes_and_is_read_in_a_real_browser() {
    let app = spawn_app().await;
    let chrome = start_chrome().await;
    let c = &chrome.client;
    let site = &app.address;

    // Sign up.
    c.goto(&format!("{site}/register")).await.unwrap();
    fill(c, "#username", "browser_user").await;
    fill(c, "#email", "browser@example.com").await;
    fill(c, "#password", PASSWORD).await;
    click(c, "main form button[type=submit]").await;
    expect_text(c, ".flash", "Welcome to million, browser_user!").await;
    expect_text(c, ".nav-user", "browser_user").await;

    // Sign out, then back in.
    sign_out(c).await;
    sign_in(c, site, "browser@example.com", "browser_user").await;

    // Edit the profile.
    c.goto(&format!("{site}/settings")).await.unwrap();
    fill(c, "#name", "Browser User").await;
    fill(c, "#bio", "I click things for a living.").await;
    click(c, "main form[action='/settings'] button[type=submit]").await;
    expect_text(c, ".flash", "Your settings have been saved.").await;
    expect_text(c, ".profile-banner .bio", "I click things for a living.").await;
    expect_text(c, ".profile-banner h1", "Browser User").await;

    // Publish an article.
    c.goto(&format!("{site}/editor")).await.unwrap();
    fill(c, "#title", "Written in Chromium").await;
    fill(c, "#description", "End to end").await;
    fill(c, "#body", "## It works\n\nFrom a *real* browser.").await;
    fill(c, "#tags", "e2e browser").await;
    click(c, "main form button[type=submit]").await;
    expect_text(c, ".article-banner h1", "Written in Chromium").await;
    expect_text(c, ".article-body h2", "It works").await;

    // It is on the profile page.
    c.goto(&format!("{site}/profile/browser_user"))
        .await
        .unwrap();
    expect_text(c, ".preview h2", "Written in Chromium").await;

    // Someone else favorites it and comments.
    app.register("reader").await;
    sign_out(c).await;
    sign_in(c, site, "reader@example.com", "reader").await;
    c.goto(&format!("{site}/article/written-in-chromium"))
        .await
        .unwrap();
    expect_text(c, ".article-banner .favorite-button", "♥ Favorite (0)").await;
    click(c, ".article-banner .favorite-button").await;
    expect_text(c, ".article-banner .favorite-button", "♥ Unfavorite (1)").await;
    fill(c, "#body", "Read it in a browser too.").await;
    click(c, ".comment-form button[type=submit]").await;
    expect_text(c, ".comment-body", "Read it in a browser too.").await;
    expect_text(c, ".comment .author", "reader").await;

    // Sign out.
    sign_out(c).await;

    chrome.client.clone().close().await.unwrap();
}
