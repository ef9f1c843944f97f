//! The sizes lists show come from counters kept by triggers; after a burst
//! of concurrent writes every counter still equals what counting the rows
//! gives, and the API reports those numbers.

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const WRITERS: usize = 4;
const ARTICLES_EACH: usize = 6;

/// Every counter compared with a count of its rows: the disagreements.
async fn drifted(app: &TestApp) -> Vec<String> {
    let checks = [
        (
            "site",
            "SELECT (SELECT sum(articles) FROM article_counts)::int8 - (SELECT count(*) FROM articles)",
        ),
        (
            "authors",
            "SELECT count(*) FROM users u WHERE u.articles_count <> \
             (SELECT count(*) FROM articles a WHERE a.author_id = u.id)",
        ),
        (
            "fans",
            "SELECT count(*) FROM users u WHERE u.favorites_count <> \
             (SELECT count(*) FROM favorites f WHERE f.user_id = u.id)",
        ),
        (
            "followers",
            "SELECT count(*) FROM users u WHERE u.followers_count <> \
             (SELECT count(*) FROM follows f WHERE f.followee_id = u.id) \
             OR u.following_count <> (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)",
        ),
        (
            "tags",
            "SELECT count(*) FROM tags t WHERE t.articles_count <> \
             (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id)",
        ),
        (
            "favorites",
            "SELECT count(*) FROM articles a WHERE a.favorites_count <> \
             (SELECT count(*) FROM favorites f WHERE f.article_id = a.id)",
        ),
        (
            "times",
            "SELECT (SELECT count(*) FROM article_tags t JOIN articles a ON a.id = t.article_id \
                     WHERE t.created_at <> a.created_at) \
                  + (SELECT count(*) FROM favorites f JOIN articles a ON a.id = f.article_id \
                     WHERE f.article_created_at <> a.created_at)",
        ),
    ];
    let mut drifted = Vec::new();
    for (name, sql) in checks {
        let off = app.db.count(sql).await;
        if off != 0 {
            drifted.push(format!("{name}: {off}"));
        }
    }
    drifted
}

fn ok(response: &crate::helpers::ApiResponse) -> bool {
    response.status.is_success()
}

#[tokio::test]
async fn counters_stay_exact_through_a_burst_of_concurrent_writes() {
    // Every request of the burst waits for a connection rather than giving up.
    let app = spawn_app_with(|settings| settings.database.acquire_timeout_ms = 60_000).await;
    let mut tokens = Vec::new();
    for n in 0..WRITERS {
        tokens.push(app.register(&format!("writer{n}")).await);
    }
    let reader = app.register("reader").await;
    for n in 0..WRITERS {
        let follow = app
            .api(
                "POST",
                &format!("/api/profiles/writer{n}/follow"),
                Some(&reader),
                None,
            )
            .await;
        assert!(ok(&follow), "{}", follow.text);
    }

    // Every writer publishes at once, each article tagged from a shared set.
    let published = join_all(tokens.iter().enumerate().flat_map(|(n, token)| {
        let app = &app;
        (0..ARTICLES_EACH).map(move |i| async move {
            let tags: &[&str] = if i % 2 == 0 {
                &["shared", "even"]
            } else {
                &["shared"]
            };
            app.publish(token, &format!("Writer {n} article {i}"), tags)
                .await
        })
    }))
    .await;
    // Then everyone favorites everything and follows each other, while half
    // the articles are deleted and some favorites are taken back.
    let favorites = join_all(tokens.iter().chain([&reader]).flat_map(|token| {
        let app = &app;
        published.iter().map(move |slug| async move {
            let path = format!("/api/articles/{slug}/favorite");
            let added = app.api("POST", &path, Some(token), None).await;
            if slug.len() % 3 == 0 {
                app.api("DELETE", &path, Some(token), None).await;
            }
            added.status
        })
    }));
    let deletions = join_all(
        published
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(i, slug)| {
                let app = &app;
                let token = &tokens[i / ARTICLES_EACH];
                async move {
                    app.api(
                        "DELETE",
                        &format!("/api/articles/{slug}"),
                        Some(token),
                        None,
                    )
                    .await
                    .status
                }
            }),
    );
    let follows = join_all(tokens.iter().enumerate().flat_map(|(n, token)| {
        let app = &app;
        (0..WRITERS)
            .filter(move |m| *m != n)
            .map(move |m| async move {
                let path = format!("/api/profiles/writer{m}/follow");
                app.api("POST", &path, Some(token), None).await;
                if (n + m) % 3 == 0 {
                    app.api("DELETE", &path, Some(token), None).await;
                }
            })
    }));
    let (favorited, deleted, _) = tokio::join!(favorites, deletions, follows);

    assert!(
        deleted
            .iter()
            .all(|status| *status == StatusCode::NO_CONTENT)
    );
    assert!(
        favorited
            .iter()
            .all(|status| *status == StatusCode::OK || *status == StatusCode::NOT_FOUND),
        "{favorited:?}"
    );
    assert_eq!(drifted(&app).await, Vec::<String>::new());
    let remaining = app.db.count("SELECT count(*) FROM articles").await;
    assert_eq!(remaining as usize, WRITERS * ARTICLES_EACH / 2);
    let counted = |path: &'static str| {
        let app = &app;
        let reader = &reader;
        async move {
            let response = app.api("GET", path, Some(reader), None).await;
            assert_eq!(response.status, StatusCode::OK, "{path}: {}", response.text);
            response.body["articlesCount"].as_i64().unwrap()
        }
    };
    assert_eq!(counted("/api/articles").await, remaining);
    assert_eq!(counted("/api/articles/feed").await, remaining);
    assert_eq!(
        counted("/api/articles?tag=shared").await,
        app.db
            .count("SELECT count(*) FROM article_tags t JOIN tags g ON g.id = t.tag_id WHERE g.name = 'shared'")
            .await
    );
    assert_eq!(
        counted("/api/articles?author=writer0").await,
        (ARTICLES_EACH / 2) as i64
    );
    assert_eq!(
        counted("/api/articles?favorited=reader").await,
        app.db
            .count("SELECT count(*) FROM favorites f JOIN users u ON u.id = f.user_id WHERE u.username = 'reader'")
            .await
    );
    assert_eq!(
        counted("/api/articles?favorited=reader&tag=even").await,
        app.db
            .count(
                "SELECT count(*) FROM favorites f JOIN users u ON u.id = f.user_id \
                 JOIN article_tags t ON t.article_id = f.article_id JOIN tags g ON g.id = t.tag_id \
                 WHERE u.username = 'reader' AND g.name = 'even'"
            )
            .await
    );

    // Deleting an account (as the settings page does) takes its articles and
    // favorites, and the counters with them.
    app.db
        .client()
        .await
        .execute("DELETE FROM users WHERE username = 'writer1'", &[])
        .await
        .unwrap();
    assert_eq!(drifted(&app).await, Vec::<String>::new());
}

#[tokio::test]
async fn combined_filters_count_what_they_list() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let both = app.publish(&jake, "Both", &["rust", "web"]).await;
    app.publish(&jake, "Rust only", &["rust"]).await;
    app.publish(&anna, "Anna web", &["web"]).await;
    app.api(
        "POST",
        &format!("/api/articles/{both}/favorite"),
        Some(&anna),
        None,
    )
    .await;

    let by = |path: &'static str| {
        let app = &app;
        async move {
            let response = app.get(path).await;
            (
                response.body["articlesCount"].as_i64().unwrap(),
                response.body["articles"].as_array().unwrap().len() as i64,
            )
        }
    };

    assert_eq!(by("/api/articles?author=jake&tag=web").await, (1, 1));
    assert_eq!(by("/api/articles?author=jake&tag=rust").await, (2, 2));
    assert_eq!(by("/api/articles?favorited=anna&tag=rust").await, (1, 1));
    assert_eq!(by("/api/articles?author=anna&favorited=anna").await, (0, 0));
    assert_eq!(
        by("/api/articles?author=JAKE&favorited=Anna&tag=web").await,
        (1, 1)
    );
    assert_eq!(by("/api/articles?author=nobody").await, (0, 0));
    assert_eq!(by("/api/articles?favorited=nobody").await, (0, 0));
    assert_eq!(by("/api/articles?tag=nothing").await, (0, 0));
}
