//! A real headless Chromium walks the site as its readers do, over seeded
//! data. The main story (sign up, publish, comment, sign out) is done with
//! the keyboard alone; the rest (sign in, settings, favorites, the pages
//! around them) with clicks. axe-core checks every page on the way, on a
//! desktop window and on a 360 px-wide screen, and the test fails on any
//! WCAG 2.1 A or AA violation it finds.
//!
//! `SCREENSHOTS=folder` keeps a picture of each page seen on the narrow screen.

mod axe;
mod chrome;
mod keyboard;

use std::time::{Duration, Instant};

use fantoccini::Client;
use fantoccini::key::Key;
use million::seed::{Plan, run};

use self::axe::Audit;
use self::chrome::{Chrome, click, eval, expect_text, fill, find, start_chrome};
use self::keyboard::{focused, next_field, press, tab_to, tab_to_control, tab_to_field, type_text};
use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// A seeded article with comments, and its author.
struct Seeded {
    slug: String,
    author: String,
}

impl Seeded {
    async fn find(app: &TestApp) -> Self {
        let row = app
            .db
            .client()
            .await
            .query_one(
                "SELECT a.slug, u.username FROM articles a JOIN users u ON u.id = a.author_id
                  WHERE u.name <> '' AND EXISTS (SELECT 1 FROM comments c WHERE c.article_id = a.id)
                  ORDER BY a.id LIMIT 1",
                &[],
            )
            .await
            .expect("a seeded article with comments");
        Self {
            slug: row.get(0),
            author: row.get(1),
        }
    }
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

/// Loads `path` and has axe-core check it.
async fn visit(client: &Client, site: &str, path: &str, audit: &mut Audit, what: &str) {
    client.goto(&format!("{site}{path}")).await.unwrap();
    audit.check(client, what).await;
}

/// Waits until the page has moved the focus to its error summary, which
/// must read `expected` (a form sent back with problems says so first).
async fn expect_error_summary(client: &Client, expected: &str) {
    expect_text(client, "#error-summary", expected).await;
    let started = Instant::now();
    loop {
        let now = focused(client).await;
        if now.as_ref().is_some_and(|now| now.id == "error-summary") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the error summary did not take the focus; {:?} has it",
            now.map(|now| now.to_string())
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        eval(
            client,
            "return document.getElementById('error-summary').getAttribute('role');"
        )
        .await,
        "alert"
    );
}

/// Every field marked invalid names its message with `aria-describedby`,
/// and the message starts with the field's label.
async fn expect_errors_tied_to_fields(client: &Client) {
    let fields = eval(
        client,
        r#"return [...document.querySelectorAll("main [aria-invalid=true]")].map((field) => {
             const message = document.getElementById(field.getAttribute("aria-describedby") || "");
             return {id: field.id, label: field.labels[0].innerText, message: message ? message.innerText : null};
           });"#,
    )
    .await;
    let fields = fields.as_array().expect("a list of fields");
    assert!(!fields.is_empty(), "no field is marked invalid");
    for field in fields {
        let label = field["label"].as_str().unwrap_or_default();
        let message = field["message"].as_str();
        assert!(
            message.is_some_and(|message| message.starts_with(label)),
            "#{} is invalid but describes itself as {message:?}",
            field["id"]
        );
    }
}

/// The pages a visitor sees before signing in.
async fn signed_out_pages(client: &Client, site: &str, seeded: &Seeded, audit: &mut Audit) {
    let Seeded { slug, author } = seeded;
    visit(client, site, "/", audit, "home").await;
    visit(client, site, &format!("/article/{slug}"), audit, "article").await;
    visit(
        client,
        site,
        &format!("/profile/{author}"),
        audit,
        "profile",
    )
    .await;
    let favorites = format!("/profile/{author}/favorites");
    visit(client, site, &favorites, audit, "profile, favorites").await;
    visit(client, site, "/people", audit, "people").await;
    visit(client, site, "/people?q=zz", audit, "people, nobody found").await;
    visit(client, site, "/architecture", audit, "architecture").await;
    visit(client, site, "/no/such/page", audit, "not found").await;
    expect_text(client, "h1", "Page not found").await;
    visit(client, site, "/login", audit, "sign-in form").await;
    fill(client, "#email", "nobody@example.com").await;
    fill(client, "#password", "wrong password").await;
    click(client, "main form button[type=submit]").await;
    expect_error_summary(client, "That email and password do not match an account.").await;
    audit.check(client, "sign-in form, wrong password").await;
}

/// Sign up, publish, comment and sign out with Tab, Enter, Space and typing.
async fn keyboard_story(client: &Client, site: &str, audit: &mut Audit) {
    // From the home page to the sign-up form.
    client.goto(site).await.unwrap();
    let first = tab_to(client, "the first stop", |_| true).await;
    assert_eq!(first.name, "Skip to main content");
    tab_to_control(client, "Sign up").await;
    press(client, Key::Enter).await;
    expect_text(client, "main h1", "Sign up").await;
    audit.check(client, "sign-up form").await;
    assert_eq!(
        eval(
            client,
            "const field = document.getElementById('password');
             return document.getElementById(field.getAttribute('aria-describedby')).innerText;"
        )
        .await,
        "At least 8 characters.",
        "the password's hint is read with it"
    );

    // The skip link jumps over the navigation to the page's own content.
    let skip = tab_to(client, "the skip link", |_| true).await;
    assert_eq!(skip.name, "Skip to main content");
    press(client, Key::Enter).await;
    let after_skip = tab_to(client, "the first link in main", |_| true).await;
    assert_eq!(after_skip.name, "Have an account?");

    // Sending the empty form says what is wrong, and the error summary
    // takes the focus, so a screen reader reads it first.
    tab_to(client, "the Sign up button", |now| {
        now.tag == "button" && now.name == "Sign up"
    })
    .await;
    press(client, Key::Enter).await;
    expect_error_summary(client, "Please correct the fields marked below.").await;
    expect_errors_tied_to_fields(client).await;
    audit.check(client, "sign-up form with its errors").await;

    // From the summary, Tab leads into the fields in order.
    next_field(client, "username").await;
    type_text(client, "kb_user").await;
    next_field(client, "email").await;
    type_text(client, "kb_user@example.com").await;
    next_field(client, "password").await;
    type_text(client, PASSWORD).await;
    press(client, Key::Enter).await;
    expect_text(client, ".flash", "Welcome to million, kb_user!").await;
    expect_text(client, ".nav-user", "kb_user").await;
    audit.check(client, "home, signed in").await;

    // Publish: an empty article first, then a real one, sent with Space.
    tab_to_control(client, "New article").await;
    press(client, Key::Enter).await;
    expect_text(client, "main h1", "New article").await;
    audit.check(client, "editor").await;
    tab_to_control(client, "Publish article").await;
    press(client, Key::Space).await;
    expect_error_summary(
        client,
        "The article was not saved: please correct the fields marked below.",
    )
    .await;
    expect_errors_tied_to_fields(client).await;
    audit.check(client, "editor with its errors").await;
    next_field(client, "title").await;
    type_text(client, "Written by keyboard").await;
    next_field(client, "description").await;
    type_text(client, "No mouse was harmed").await;
    next_field(client, "body").await;
    type_text(
        client,
        "## It works\n\nFrom a *keyboard*, with [a link](/people).",
    )
    .await;
    next_field(client, "tags").await;
    type_text(client, "e2e keyboard").await;
    tab_to_control(client, "Publish article").await;
    press(client, Key::Space).await;
    expect_text(client, ".article-banner h1", "Written by keyboard").await;
    expect_text(client, ".article-body h2", "It works").await;
    audit.check(client, "article, to its author").await;

    // Comment: an empty one first, then a real one.
    tab_to_field(client, "body").await;
    tab_to_control(client, "Post comment").await;
    press(client, Key::Enter).await;
    expect_error_summary(
        client,
        "Your comment was not posted: please correct it below.",
    )
    .await;
    expect_errors_tied_to_fields(client).await;
    audit.check(client, "article, comment with its error").await;
    next_field(client, "body").await;
    type_text(client, "Typed, not clicked.").await;
    tab_to_control(client, "Post comment").await;
    press(client, Key::Enter).await;
    expect_text(client, ".comment-body", "Typed, not clicked.").await;
    expect_text(client, ".comment .author", "kb_user").await;
    audit.check(client, "article with a comment").await;

    // Sign out.
    tab_to_control(client, "Sign out").await;
    press(client, Key::Enter).await;
    expect_text(client, ".nav-links a[href='/register']", "Sign up").await;
}

/// Settings, their errors, the profile, account deletion refused, and
/// someone else favoriting and commenting, by mouse.
async fn signed_in_pages(client: &Client, app: &TestApp, seeded: &Seeded, audit: &mut Audit) {
    let site = &app.address;
    sign_in(client, site, "kb_user@example.com", "kb_user").await;

    visit(client, site, "/settings", audit, "settings").await;
    fill(client, "#image", "not a web address").await;
    click(client, "main form[action='/settings'] button[type=submit]").await;
    expect_error_summary(
        client,
        "Nothing was saved: please correct the fields marked below.",
    )
    .await;
    expect_errors_tied_to_fields(client).await;
    audit.check(client, "settings with their errors").await;
    fill(client, "#image", "").await;
    fill(client, "#name", "Keyboard User").await;
    fill(client, "#bio", "I press keys for a living.").await;
    click(client, "main form[action='/settings'] button[type=submit]").await;
    expect_text(client, ".flash", "Your settings have been saved.").await;
    expect_text(client, ".profile-banner h1", "Keyboard User").await;
    expect_text(client, ".profile-banner .bio", "I press keys for a living.").await;
    expect_text(client, ".preview h2", "Written by keyboard").await;
    audit.check(client, "profile, to its owner").await;

    visit(client, site, "/settings/delete", audit, "delete account").await;
    fill(client, "#password", "wrong password").await;
    click(client, "main form button[type=submit]").await;
    expect_error_summary(
        client,
        "Your account was not deleted: please correct the field marked below.",
    )
    .await;
    expect_errors_tied_to_fields(client).await;
    audit.check(client, "delete account, wrong password").await;

    visit(client, site, "/?feed=your", audit, "home, your feed").await;
    visit(client, site, "/?tag=keyboard", audit, "home, one tag").await;
    visit(client, site, "/people", audit, "people, signed in").await;
    let Seeded { slug, author } = seeded;
    visit(
        client,
        site,
        &format!("/article/{slug}"),
        audit,
        "article, signed in",
    )
    .await;
    visit(
        client,
        site,
        &format!("/profile/{author}"),
        audit,
        "profile, signed in",
    )
    .await;

    // Someone else favorites it and comments.
    app.register("reader").await;
    sign_out(client).await;
    sign_in(client, site, "reader@example.com", "reader").await;
    client
        .goto(&format!("{site}/article/written-by-keyboard"))
        .await
        .unwrap();
    expect_text(client, ".article-banner .favorite-button", "♥ Favorite (0)").await;
    tab_to_control(client, "♥ Favorite (0)").await;
    press(client, Key::Space).await;
    expect_text(
        client,
        ".article-banner .favorite-button",
        "♥ Unfavorite (1)",
    )
    .await;
    fill(client, "#body", "Read it with a mouse.").await;
    click(client, ".comment-form button[type=submit]").await;
    expect_text(
        client,
        ".comment:last-of-type .comment-body",
        "Read it with a mouse.",
    )
    .await;
    audit
        .check(client, "article, favorited and commented by a reader")
        .await;
}

/// `?refresh=1` reloads the architecture page every second, except when the
/// reader's system asks for reduced motion or the keyboard is on a control.
async fn architecture_reloads(chrome: &Chrome, site: &str, audit: &mut Audit) {
    let client = &chrome.client;
    let mark = "window.stayed = true; return true;";
    let stayed = "return window.stayed === true;";

    chrome.prefer_reduced_motion(true).await;
    client
        .goto(&format!("{site}/architecture?refresh=1"))
        .await
        .unwrap();
    expect_text(
        client,
        ".refresh-paused",
        "Your system asks for reduced motion, so this page does not reload by itself. Reload now or stop.",
    )
    .await;
    assert!(
        !find(client, ".refresh-running")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    eval(client, mark).await;
    audit
        .check(client, "architecture, reloading, reduced motion")
        .await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(eval(client, stayed).await, true, "the page reloaded itself");

    chrome.prefer_reduced_motion(false).await;
    client
        .goto(&format!("{site}/architecture?refresh=1"))
        .await
        .unwrap();
    find(client, ".refresh-running").await;
    eval(client, mark).await;
    let started = Instant::now();
    while eval(client, stayed).await == true {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the page did not reload itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // With the focus on a link, it waits, so "Stop reloading" stays reachable.
    find(client, ".refresh-running").await;
    tab_to_control(client, "Stop reloading").await;
    eval(client, mark).await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        eval(client, stayed).await,
        true,
        "the page reloaded under the focus"
    );
    press(client, Key::Enter).await;
    expect_text(client, ".refresh a", "Reload every 2 seconds").await;
}

/// On a phone-sized screen, no page scrolls sideways, and axe-core finds
/// nothing there either.
async fn narrow_screen(client: &Client, site: &str, seeded: &Seeded, audit: &mut Audit) {
    client.set_window_size(360, 780).await.unwrap();
    let width = eval(client, "return window.innerWidth;").await;
    assert!(
        width.as_u64().is_some_and(|width| width <= 400),
        "the window is {width} px wide"
    );
    let pages = [
        ("home", "/".to_string()),
        ("article", format!("/article/{}", seeded.slug)),
        ("own article", "/article/written-by-keyboard".to_string()),
        ("profile", format!("/profile/{}", seeded.author)),
        ("people", "/people".to_string()),
        ("editor", "/editor".to_string()),
        ("settings", "/settings".to_string()),
        ("architecture", "/architecture".to_string()),
    ];
    let shots = std::env::var_os("SCREENSHOTS").map(std::path::PathBuf::from);
    for (name, path) in pages {
        visit(client, site, &path, audit, &format!("{name}, 360 px")).await;
        let overflow = eval(
            client,
            r#"const width = document.documentElement.clientWidth;
               const wide = [...document.querySelectorAll("body *")]
                 .filter((element) => element.getBoundingClientRect().right > width + 0.5)
                 .map((element) => element.tagName.toLowerCase() + (element.className ? "." + String(element.className).trim().split(/\s+/).join(".") : ""));
               return {by: document.documentElement.scrollWidth - width, wide: wide.slice(0, 10)};"#,
        )
        .await;
        assert_eq!(
            overflow["by"], 0,
            "{path} is wider than a 360 px screen: it scrolls sideways by {} px (too wide: {})",
            overflow["by"], overflow["wide"]
        );
        if let Some(folder) = &shots {
            std::fs::create_dir_all(folder).unwrap();
            let picture = client.screenshot().await.unwrap();
            std::fs::write(
                folder.join(format!("{}.png", name.replace(' ', "-"))),
                picture,
            )
            .unwrap();
        }
    }
    client.set_window_size(1280, 1000).await.unwrap();
}

#[tokio::test]
async fn readers_use_the_site_by_keyboard_and_axe_finds_nothing_wrong() {
    let mut audit = Audit::new();
    let app = spawn_app().await;
    run(&app.db.conninfo, &Plan::new(12, 24), false)
        .await
        .expect("seeding the site");
    let seeded = Seeded::find(&app).await;
    let chrome = start_chrome().await;
    let client = &chrome.client;
    let site = &app.address;

    signed_out_pages(client, site, &seeded, &mut audit).await;
    keyboard_story(client, site, &mut audit).await;
    signed_in_pages(client, &app, &seeded, &mut audit).await;
    architecture_reloads(&chrome, site, &mut audit).await;
    narrow_screen(client, site, &seeded, &mut audit).await;
    sign_out(client).await;

    audit.assert_clean();
    chrome.client.clone().close().await.unwrap();
}
