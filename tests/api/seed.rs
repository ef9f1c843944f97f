//! `million seed`: generated data that is consistent with what the app keeps.

use million::seed::{Plan, run};
use reqwest::StatusCode;

use crate::helpers::{TestDatabase, spawn_app_with};

async fn assert_consistent(db: &TestDatabase) {
    let wrong_favorite_counts = db
        .count(
            "SELECT count(*) FROM articles a
              WHERE favorites_count <> (SELECT count(*) FROM favorites f WHERE f.article_id = a.id)",
        )
        .await;
    let wrong_tag_counts = db
        .count(
            "SELECT count(*) FROM tags t
              WHERE articles_count <> (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id)",
        )
        .await;
    assert_eq!(wrong_favorite_counts, 0);
    assert_eq!(wrong_tag_counts, 0);
}

#[tokio::test]
async fn seeding_fills_every_table_consistently() {
    let db = TestDatabase::create().await;

    run(&db.conninfo, &Plan::new(150, 400), false)
        .await
        .unwrap();

    assert_eq!(db.count("SELECT count(*) FROM users").await, 150);
    assert_eq!(db.count("SELECT count(*) FROM articles").await, 400);
    assert_eq!(db.count("SELECT count(*) FROM comments").await, 400);
    assert!(db.count("SELECT count(*) FROM follows").await > 150);
    assert!(db.count("SELECT count(*) FROM favorites").await > 100);
    assert!(db.count("SELECT count(*) FROM article_tags").await > 200);
    assert_eq!(
        db.count("SELECT count(*) FROM users WHERE username = 'demo'")
            .await,
        1
    );
    assert_consistent(&db).await;
}

#[tokio::test]
async fn seeded_data_works_with_the_app() {
    let db = TestDatabase::create().await;
    run(&db.conninfo, &Plan::new(30, 60), false).await.unwrap();
    let conninfo = db.conninfo.clone();
    let app = spawn_app_with(move |settings| {
        settings.database.url = secrecy::SecretString::from(conninfo);
    })
    .await;

    let login = app
        .api(
            "POST",
            "/api/users/login",
            None,
            Some(serde_json::json!({"user": {"email": "demo@example.com", "password": million::seed::PASSWORD}})),
        )
        .await;
    let token = login.body["user"]["token"].as_str().unwrap().to_string();
    let slug = app.publish(&token, "After the seed", &["rust"]).await;
    let list = app.get("/api/articles?limit=100").await;
    let home = app.browser().get("/").await;

    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(list.body["articlesCount"], 61);
    assert_eq!(list.body["articles"][0]["slug"], slug.as_str());
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.texts(".preview").len(), 10);
    app.register("newcomer").await;
}

#[tokio::test]
async fn seeding_an_existing_database_adds_or_skips() {
    let db = TestDatabase::create().await;
    run(&db.conninfo, &Plan::new(20, 20), false).await.unwrap();

    run(&db.conninfo, &Plan::new(20, 20), true).await.unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM users").await,
        20,
        "--if-empty skips"
    );

    run(&db.conninfo, &Plan::new(20, 20), false).await.unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM users").await,
        40,
        "otherwise it adds"
    );
    assert_eq!(db.count("SELECT count(*) FROM articles").await, 40);
    assert_consistent(&db).await;
}

#[tokio::test]
async fn seeding_works_for_an_ordinary_database_owner() {
    // Phase 2 and later connect as an ordinary role that owns its tables.
    let admin_db = TestDatabase::create().await;
    let role = format!("owner_{}", &admin_db.name[5..17]);
    let name = format!("{}_own", admin_db.name);
    let admin = admin_db.client().await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'owner-password'"
        ))
        .await
        .unwrap();
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {name} OWNER {role} TEMPLATE template0"
        ))
        .await
        .unwrap();
    let conninfo = admin_db
        .conninfo
        .replace(
            &format!("dbname={}", admin_db.name),
            &format!("dbname={name}"),
        )
        .replace("user=million", &format!("user={role}"))
        .replace("user=postgres password=postgres", &format!("user={role}"));
    let conninfo = format!("{conninfo} password=owner-password");
    million::db::migrations::run(&conninfo).await.unwrap();

    run(&conninfo, &Plan::new(40, 80), false).await.unwrap();

    let owned = TestDatabase { name, conninfo };
    assert_eq!(owned.count("SELECT count(*) FROM articles").await, 80);
    assert_consistent(&owned).await;
}
