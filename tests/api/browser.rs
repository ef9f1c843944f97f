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

async fn fill(client: &Client, selector: &str, text: &str) {
    let field = client.find(Locator::Css(selector)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, selector: &str) {
    client
        .find(Locator::Css(selector))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn text(client: &Client, selector: &str) -> String {
    let found = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await;
    match found {
        Ok(element) => element.text().await.unwrap(),
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
    assert_eq!(text(c, ".flash").await, "Welcome to million, browser_user!");
    assert_eq!(text(c, ".nav-user").await, "browser_user");

    // Sign out, then back in.
    click(c, "form[action='/logout'] button").await;
    assert_eq!(text(c, ".nav-links a[href='/login']").await, "Sign in");
    c.goto(&format!("{site}/login")).await.unwrap();
    fill(c, "#email", "browser@example.com").await;
    fill(c, "#password", PASSWORD).await;
    click(c, "main form button[type=submit]").await;
    assert_eq!(text(c, ".nav-user").await, "browser_user");

    // Edit the profile.
    c.goto(&format!("{site}/settings")).await.unwrap();
    fill(c, "#name", "Browser User").await;
    fill(c, "#bio", "I click things for a living.").await;
    click(c, "form[action='/settings'] button[type=submit]").await;
    assert_eq!(text(c, ".flash").await, "Your settings have been saved.");
    assert_eq!(
        text(c, ".profile-banner .bio").await,
        "I click things for a living."
    );

    // Publish an article.
    c.goto(&format!("{site}/editor")).await.unwrap();
    fill(c, "#title", "Written in Chromium").await;
    fill(c, "#description", "End to end").await;
    fill(c, "#body", "## It works\n\nFrom a *real* browser.").await;
    fill(c, "#tags", "e2e browser").await;
    click(c, "main form button[type=submit]").await;
    assert_eq!(text(c, ".article-banner h1").await, "Written in Chromium");
    assert_eq!(text(c, ".article-body h2").await, "It works");

    // It is on the profile page.
    c.goto(&format!("{site}/profile/browser_user"))
        .await
        .unwrap();
    assert_eq!(text(c, ".preview h2").await, "Written in Chromium");

    // Someone else favorites it and comments.
    app.register("reader").await;
    click(c, "form[action='/logout'] button").await;
    c.goto(&format!("{site}/login")).await.unwrap();
    fill(c, "#email", "reader@example.com").await;
    fill(c, "#password", PASSWORD).await;
    click(c, "main form button[type=submit]").await;
    c.goto(&format!("{site}/article/written-in-chromium"))
        .await
        .unwrap();
    click(c, ".article-banner .favorite-button").await;
    assert_eq!(
        text(c, ".article-banner .favorite-button").await,
        "♥ Unfavorite (1)"
    );
    fill(c, "#body", "Read it in a browser too.").await;
    click(c, ".comment-form button[type=submit]").await;
    assert_eq!(text(c, ".comment-body").await, "Read it in a browser too.");

    // Sign out.
    click(c, "form[action='/logout'] button").await;
    assert_eq!(text(c, ".nav-links a[href='/register']").await, "Sign up");

    chrome.client.clone().close().await.unwrap();
}
