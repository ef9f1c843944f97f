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
    assert!(next.starts_with("/people?q=member&after="), "{next}");
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

#[tokio::test]
async fn paging_through_name_and_username_matches_skips_and_repeats_nobody() {
    let app = spawn_app().await;
    for n in 0..21 {
        app.register(&format!("member{n:02}")).await;
    }
    // Three people found by their display name, not their username.
    for (username, name) in [
        ("zed", "Member Zed"),
        ("amy", "member amy"),
        ("kim", "Membership Kim"),
    ] {
        app.register(username).await;
        let browser = app.browser();
        browser.sign_in(username).await;
        let saved = browser
            .submit(
                "/settings",
                &[
                    ("image", ""),
                    ("username", username),
                    ("name", name),
                    ("bio", ""),
                    ("email", &format!("{username}@example.com")),
                    ("password", ""),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    }
    let browser = app.browser();

    let mut seen = Vec::new();
    let mut address = Some("/people?q=MEMBER".to_string());
    let mut pages = Vec::new();
    while let Some(here) = address {
        let page = browser.get(&here).await;
        seen.extend(
            page.texts(".person .handle")
                .iter()
                .map(|h| h.split(' ').next().unwrap().to_string()),
        );
        address = page.attr(".pager a[rel=next]", "href");
        pages.push(page);
    }
    let previous = pages[1].attr(".pager a[rel=prev]", "href").unwrap();
    let back = browser.get(&previous).await;

    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].text_of(".result-count"), "24 matches for “MEMBER”");
    let mut expected: Vec<String> = (0..21).map(|n| format!("@member{n:02}")).collect();
    // In the order of what matched: "member amy" < "member zed" < "member00" …
    expected.insert(0, "@zed".to_string());
    expected.insert(0, "@amy".to_string());
    expected.push("@kim".to_string());
    assert_eq!(seen, expected);
    assert_eq!(back.texts(".person").len(), 20);
    assert_eq!(
        back.text_of(".person .handle").split(' ').next(),
        Some("@amy")
    );
}
