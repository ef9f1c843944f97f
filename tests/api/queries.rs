//! Lists cost a constant number of queries, however long they are: no N+1
//! for authors, tags, favorites or follows. `X-Db-Queries` says what each
//! request cost; the README's table comes from these numbers.

use reqwest::header::HeaderMap;

use crate::helpers::{TestApp, spawn_app};

fn queries(headers: &HeaderMap) -> u64 {
    headers["x-db-queries"].to_str().unwrap().parse().unwrap()
}

/// Publishes `count` tagged, commented articles by as many different authors,
/// all favorited and followed by `reader`.
async fn populate(app: &TestApp, reader: &str, prefix: &str, count: usize) {
    for n in 0..count {
        let author = format!("{prefix}{n}");
        let token = app.register(&author).await;
        let slug = app
            .publish(&token, &format!("{author} writes"), &["one", "two"])
            .await;
        app.api(
            "POST",
            &format!("/api/articles/{slug}/favorite"),
            Some(reader),
            None,
        )
        .await;
        app.api(
            "POST",
            &format!("/api/articles/{slug}/comments"),
            Some(&token),
            Some(serde_json::json!({"comment": {"body": "First!"}})),
        )
        .await;
        app.api(
            "POST",
            &format!("/api/profiles/{author}/follow"),
            Some(reader),
            None,
        )
        .await;
    }
}

async fn costs(app: &TestApp, reader: &str) -> Vec<(&'static str, u64)> {
    let browser = app.browser();
    let signed_in = app.browser();
    signed_in.sign_in("reader").await;
    let slug = app.get("/api/articles?limit=1").await.body["articles"][0]["slug"]
        .as_str()
        .unwrap()
        .to_string();
    vec![
        ("api list", queries(&app.get("/api/articles").await.headers)),
        (
            "api list, token",
            queries(
                &app.api("GET", "/api/articles", Some(reader), None)
                    .await
                    .headers,
            ),
        ),
        (
            "api feed",
            queries(
                &app.api("GET", "/api/articles/feed", Some(reader), None)
                    .await
                    .headers,
            ),
        ),
        (
            "api article",
            queries(&app.get(&format!("/api/articles/{slug}")).await.headers),
        ),
        (
            "api comments",
            queries(
                &app.get(&format!("/api/articles/{slug}/comments"))
                    .await
                    .headers,
            ),
        ),
        (
            "api profile",
            queries(&app.get("/api/profiles/reader").await.headers),
        ),
        ("api tags", queries(&app.get("/api/tags").await.headers)),
        ("home", queries(&browser.get("/").await.headers)),
        (
            "home, signed in",
            queries(&signed_in.get("/").await.headers),
        ),
        (
            "your feed",
            queries(&signed_in.get("/?feed=your").await.headers),
        ),
        (
            "article page",
            queries(&browser.get(&format!("/article/{slug}")).await.headers),
        ),
        (
            "article page, signed in",
            queries(&signed_in.get(&format!("/article/{slug}")).await.headers),
        ),
        (
            "profile page",
            queries(&browser.get("/profile/reader/favorites").await.headers),
        ),
        ("people", queries(&browser.get("/people?q=a").await.headers)),
    ]
}

#[tokio::test]
async fn every_list_costs_the_same_few_queries_at_any_length() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    populate(&app, &reader, "a", 2).await;
    let short = costs(&app, &reader).await;

    populate(&app, &reader, "b", 9).await;
    let long = costs(&app, &reader).await;

    assert_eq!(short, long, "costs grow with list length: N+1 somewhere");
    assert_eq!(
        long,
        [
            ("api list", 4),
            ("api list, token", 7),
            ("api feed", 7),
            ("api article", 3),
            ("api comments", 3),
            ("api profile", 1),
            ("api tags", 1),
            ("home", 5),
            ("home, signed in", 8),
            ("your feed", 8),
            ("article page", 5),
            ("article page, signed in", 9),
            ("profile page", 7),
            ("people", 3),
        ]
    );
}
