//! The home page: global feed, your feed, tags, pagination.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn visitors_see_the_banner_the_global_feed_and_popular_tags() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    app.publish(&token, "Older", &["common"]).await;
    app.publish(&token, "Newer", &["common", "rare"]).await;

    let page = app.browser().get("/").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text_of(".banner h1"), "million");
    assert_eq!(page.texts(".tabs a"), ["Global feed"]);
    assert_eq!(page.texts(".preview h2"), ["Newer", "Older"]);
    assert_eq!(page.texts(".sidebar .tag"), ["common", "rare"]);
    assert_eq!(page.texts(".preview .author"), ["author", "author"]);
}

#[tokio::test]
async fn an_empty_site_says_so() {
    let app = spawn_app().await;

    let page = app.browser().get("/").await;

    assert_eq!(page.text_of(".empty"), "No articles here yet.");
    assert_eq!(page.text_of(".sidebar p"), "No tags yet.");
}

#[tokio::test]
async fn your_feed_holds_the_people_you_follow() {
    let app = spawn_app().await;
    let followed = app.register("followed").await;
    let stranger = app.register("stranger").await;
    app.publish(&followed, "From a friend", &[]).await;
    app.publish(&stranger, "From a stranger", &[]).await;
    let browser = app.browser();
    browser.sign_up("reader").await;

    let empty_feed = browser.get("/?feed=your").await;
    browser
        .submit("/profile/followed/follow", &[("next", "/?feed=your")])
        .await;
    let feed = browser.get("/?feed=your").await;
    let global = browser.get("/").await;

    assert!(
        empty_feed
            .text_of(".empty")
            .starts_with("Nothing here yet.")
    );
    assert_eq!(feed.texts(".tabs a"), ["Your feed", "Global feed"]);
    assert_eq!(feed.text_of(".tabs a.active"), "Your feed");
    assert_eq!(feed.texts(".preview h2"), ["From a friend"]);
    assert_eq!(
        global.texts(".preview h2"),
        ["From a stranger", "From a friend"]
    );
    assert!(
        global.texts(".banner").is_empty(),
        "signed-in users skip the banner"
    );
}

#[tokio::test]
async fn a_tag_filters_the_list() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    app.publish(&token, "Tagged", &["rust"]).await;
    app.publish(&token, "Untagged", &[]).await;

    let page = app.browser().get("/?tag=rust").await;
    let odd = app
        .browser()
        .get("/?tag=%27%3B%20DROP%20TABLE%20tags%3B")
        .await;

    assert_eq!(page.text_of(".tabs a.active"), "#rust");
    assert_eq!(page.texts(".preview h2"), ["Tagged"]);
    assert_eq!(odd.status, StatusCode::OK);
    assert_eq!(odd.text_of(".empty"), "No articles here yet.");
}

#[tokio::test]
async fn a_tag_no_article_could_carry_finds_nothing() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    app.publish(&token, "Tagged", &["rust"]).await;
    let browser = app.browser();

    let nul = browser.get("/?tag=ru%00st").await;
    let long = browser.get(&format!("/?tag={}", "x".repeat(5000))).await;

    for page in [nul, long] {
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.text_of(".empty"), "No articles here yet.");
        assert_eq!(page.texts(".sidebar .tag"), ["rust"]);
    }
}

#[tokio::test]
async fn long_lists_page_by_newer_and_older_links() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    for n in 1..=12 {
        app.publish(&token, &format!("Article {n:02}"), &[]).await;
    }
    let browser = app.browser();

    let first = browser.get("/").await;
    let older = first.attr(".pager a[rel=next]", "href").unwrap();
    let second = browser.get(&older).await;
    let newer = second.attr(".pager a[rel=prev]", "href").unwrap();
    let back = browser.get(&newer).await;
    let junk = browser.get("/?before=junk&after=%00").await;
    let out_of_range = browser.get("/?before=-300000000000000000.1").await;
    let ancient = browser.get("/?before=1.1").await;

    assert_eq!(first.texts(".preview").len(), 10);
    assert_eq!(first.text_of(".preview h2"), "Article 12");
    assert_eq!(first.texts(".pager a"), ["Older →"]);
    assert!(older.starts_with("/?before="), "{older}");
    assert_eq!(second.texts(".preview h2"), ["Article 02", "Article 01"]);
    assert_eq!(second.texts(".pager a"), ["← Newer"]);
    assert!(newer.starts_with("/?after="), "{newer}");
    assert_eq!(back.texts(".preview h2").len(), 10);
    assert_eq!(back.text_of(".preview h2"), "Article 12");
    assert_eq!(back.texts(".pager a"), ["Older →"]);
    assert_eq!(junk.status, StatusCode::OK);
    assert_eq!(junk.text_of(".preview h2"), "Article 12");
    assert_eq!(out_of_range.status, StatusCode::OK);
    assert_eq!(out_of_range.text_of(".preview h2"), "Article 12");
    assert_eq!(ancient.status, StatusCode::OK);
    assert!(ancient.texts(".preview").is_empty());
}

/// Follows "Older" links from `path` to the end, publishing a new article
/// before each step, and returns every title shown, in order.
async fn walk_while_publishing(
    app: &crate::helpers::TestApp,
    token: &str,
    path: &str,
    tags: &[&str],
) -> Vec<String> {
    let browser = app.browser();
    let mut seen = Vec::new();
    let mut next = Some(path.to_string());
    let mut step = 0;
    while let Some(address) = next {
        let page = browser.get(&address).await;
        assert_eq!(page.status, StatusCode::OK, "{address}");
        seen.extend(page.texts(".preview h2"));
        next = page.attr(".pager a[rel=next]", "href");
        step += 1;
        app.publish(token, &format!("Interloper {path} {step}"), tags)
            .await;
    }
    seen
}

#[tokio::test]
async fn walking_older_pages_never_skips_or_repeats_while_articles_arrive() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    for n in 1..=35 {
        app.publish(&token, &format!("Article {n:02}"), &["walk"])
            .await;
    }
    let expected: Vec<String> = (1..=35).rev().map(|n| format!("Article {n:02}")).collect();

    let global = walk_while_publishing(&app, &token, "/", &["walk"]).await;
    let tagged = walk_while_publishing(&app, &token, "/?tag=walk", &["walk"]).await;
    let profile = walk_while_publishing(&app, &token, "/profile/author", &["walk"]).await;

    let originals = |titles: &[String]| -> Vec<String> {
        titles
            .iter()
            .filter(|t| t.starts_with("Article"))
            .cloned()
            .collect()
    };
    for (name, titles) in [("global", &global), ("tag", &tagged), ("profile", &profile)] {
        assert_eq!(originals(titles), expected, "{name}: {titles:?}");
        let mut unique = titles.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            titles.len(),
            "{name} repeated an article: {titles:?}"
        );
    }
}

#[tokio::test]
async fn favoriting_from_a_list_returns_to_the_list() {
    let app = spawn_app().await;
    let token = app.register("author").await;
    let slug = app.publish(&token, "Lovable", &[]).await;
    let browser = app.browser();
    browser.sign_up("fan").await;

    let response = browser
        .submit(
            &format!("/article/{slug}/favorite"),
            &[("next", "/?page=1")],
        )
        .await;
    let page = browser.get("/").await;

    assert_eq!(response.location(), Some("/?page=1"));
    assert_eq!(page.text_of(".preview .heart .count"), "1");
    assert_eq!(
        page.attr(".preview .heart", "aria-pressed").unwrap(),
        "true"
    );
}
