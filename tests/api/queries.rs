//! Lists cost a constant number of queries, however long they are: no N+1
//! for authors, tags, favorites or follows. `X-Db-Queries` says what each
//! request cost; the README's table comes from these numbers.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::helpers::{ApiResponse, Page, TestApp, spawn_app};

/// A response whose query count is measured: only a successful one counts.
trait Measured {
    fn parts(&self) -> (StatusCode, &HeaderMap, &str);

    /// The queries it took, after checking it succeeded.
    fn queries(&self) -> u64 {
        let (status, headers, text) = self.parts();
        assert_eq!(status, StatusCode::OK, "a measured request failed: {text}");
        headers["x-db-queries"].to_str().unwrap().parse().unwrap()
    }
}

impl Measured for ApiResponse {
    fn parts(&self) -> (StatusCode, &HeaderMap, &str) {
        (self.status, &self.headers, &self.text)
    }
}

impl Measured for Page {
    fn parts(&self) -> (StatusCode, &HeaderMap, &str) {
        (self.status, &self.headers, &self.text)
    }
}

/// Checks that a request setting up data did what it was asked.
fn done(response: ApiResponse) -> ApiResponse {
    assert!(
        response.status.is_success(),
        "setting up: {} {}",
        response.status,
        response.text
    );
    response
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
        done(
            app.api(
                "POST",
                &format!("/api/articles/{slug}/favorite"),
                Some(reader),
                None,
            )
            .await,
        );
        done(
            app.api(
                "POST",
                &format!("/api/articles/{slug}/comments"),
                Some(&token),
                Some(serde_json::json!({"comment": {"body": "First!"}})),
            )
            .await,
        );
        done(
            app.api(
                "POST",
                &format!("/api/profiles/{author}/follow"),
                Some(reader),
                None,
            )
            .await,
        );
    }
}

async fn costs(app: &TestApp, reader: &str) -> Vec<(&'static str, u64)> {
    let browser = app.browser();
    let signed_in = app.browser();
    signed_in.sign_in("reader").await;
    let slug = done(app.get("/api/articles?limit=1").await).body["articles"][0]["slug"]
        .as_str()
        .unwrap()
        .to_string();
    vec![
        ("api list", app.get("/api/articles").await.queries()),
        (
            "api list, token",
            app.api("GET", "/api/articles", Some(reader), None)
                .await
                .queries(),
        ),
        (
            "api feed",
            app.api("GET", "/api/articles/feed", Some(reader), None)
                .await
                .queries(),
        ),
        (
            "api article",
            app.get(&format!("/api/articles/{slug}")).await.queries(),
        ),
        (
            "api comments",
            app.get(&format!("/api/articles/{slug}/comments"))
                .await
                .queries(),
        ),
        (
            "api profile",
            app.get("/api/profiles/reader").await.queries(),
        ),
        ("api tags", app.get("/api/tags").await.queries()),
        ("home", browser.get("/").await.queries()),
        ("home, signed in", signed_in.get("/").await.queries()),
        ("your feed", signed_in.get("/?feed=your").await.queries()),
        (
            "article page",
            browser.get(&format!("/article/{slug}")).await.queries(),
        ),
        (
            "article page, signed in",
            signed_in.get(&format!("/article/{slug}")).await.queries(),
        ),
        (
            "profile page",
            browser.get("/profile/reader/favorites").await.queries(),
        ),
        ("people", browser.get("/people?q=a").await.queries()),
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
            ("home", 4),
            ("home, signed in", 7),
            ("your feed", 7),
            ("article page", 5),
            ("article page, signed in", 9),
            ("profile page", 5),
            ("people", 2),
        ]
    );
}
