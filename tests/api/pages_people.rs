//! The people directory.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn people_are_found_by_username_or_name_prefix() {
    let app = spawn_app().await;
    for name in ["ada", "adam", "bob", "Adele_x"] {
        app.register(name).await;
    }
    // Bob's display name starts with "Ad" too; names are set on the settings page.
    let browser = app.browser();
    browser.sign_in("bob").await;
    browser
        .submit(
            "/settings",
            &[
                ("image", ""),
                ("username", "bob"),
                ("name", "Adrian Bob"),
                ("bio", ""),
                ("email", "bob@example.com"),
                ("password", ""),
            ],
        )
        .await;

    let page = app.browser().get("/people?q=AD").await;
    let everyone = app.browser().get("/people").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.texts(".person .handle")
            .iter()
            .map(|h| h.split(' ').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        ["@ada", "@adam", "@Adele_x", "@bob"]
    );
    assert_eq!(page.text_of(".result-count"), "4 matches for “AD”");
    assert_eq!(everyone.text_of(".result-count"), "4 people");
}

#[tokio::test]
async fn wildcards_and_quotes_match_literally() {
    let app = spawn_app().await;
    app.register("under_score").await;
    app.register("underdog").await;

    let underscore = app.browser().get("/people?q=under_").await;
    let percent = app.browser().get("/people?q=%25").await;
    let quote = app.browser().get("/people?q=%27%20OR%201%3D1").await;

    assert_eq!(underscore.texts(".person-name"), ["under_score"]);
    assert!(percent.texts(".person").is_empty());
    assert_eq!(quote.status, StatusCode::OK);
    assert!(quote.texts(".person").is_empty());
}

#[tokio::test]
async fn the_directory_is_paginated_and_has_follow_buttons() {
    let app = spawn_app().await;
    for n in 0..22 {
        app.register(&format!("member{n:02}")).await;
    }
    let browser = app.browser();
    browser.sign_up("zed").await;

    let first = browser.get("/people?q=member").await;
    let next = first.attr(".pager a[rel=next]", "href").unwrap();
    let second = browser.get(&next).await;
    let previous = second.attr(".pager a[rel=prev]", "href").unwrap();
    let back = browser.get(&previous).await;
    let junk = browser.get("/people?q=member&after=%00%27").await;

    assert_eq!(first.texts(".person").len(), 20);
    assert_eq!(first.text_of(".result-count"), "22 matches for “member”");
    assert_eq!(first.texts(".pager a"), ["Next →"]);
    assert_eq!(next, "/people?q=member&after=member19");
    assert_eq!(second.texts(".person-name"), ["member20", "member21"]);
    assert_eq!(second.texts(".pager a"), ["← Previous"]);
    assert_eq!(back.texts(".person").len(), 20);
    assert_eq!(back.text_of(".person-name"), "member00");
    assert_eq!(back.texts(".pager a"), ["Next →"]);
    assert_eq!(
        junk.texts(".person").len(),
        20,
        "a junk cursor is the first page"
    );
    assert_eq!(first.text_of(".person button"), "Follow");
}
