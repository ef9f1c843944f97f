//! Browser sessions: only signed-in browsers have one, signing out ends a
//! session for good, and with sessions in server memory a server that does
//! not know a browser's session says why.

use million::settings::SessionStoreKind;
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, session_stores, spawn_app, spawn_app_on, spawn_app_with};

/// The names of the cookies a response sets.
fn cookies_set(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|cookie| cookie.split('=').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn anonymous_visitors_get_a_signed_form_token_and_no_session() {
    let app = spawn_app().await;
    app.register("jake").await;
    let browser = app.browser();

    let login = browser.get("/login").await;
    let home = browser.get("/").await;
    let signed_in = browser
        .submit(
            "/login",
            &[("email", "jake@example.com"), ("password", PASSWORD)],
        )
        .await;

    assert_eq!(cookies_set(&login.headers), ["million_session_csrf"]);
    let csrf = login.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Lax"),
        "{csrf}"
    );
    assert!(
        cookies_set(&home.headers).is_empty(),
        "the browser keeps its token: {:?}",
        cookies_set(&home.headers)
    );
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let after = cookies_set(&signed_in.headers);
    assert!(after.contains(&"million_session".to_string()), "{after:?}");
    assert!(
        after.contains(&"million_session_csrf".to_string()),
        "signing in gives a new form token: {after:?}"
    );
    assert_eq!(browser.signed_in_as().await.as_deref(), Some("jake"));
}

#[tokio::test]
async fn a_form_token_cookie_the_site_did_not_sign_is_refused() {
    let app = spawn_app().await;
    let forger = app.browser_with_cookies("million_session_csrf=chosen-by-the-attacker");

    let page = forger
        .post_raw(
            "/register",
            &[
                ("csrf_token", "chosen-by-the-attacker"),
                ("username", "forged"),
                ("email", "forged@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;

    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn signing_out_ends_the_session_even_for_a_copy_of_its_cookie() {
    for store in session_stores() {
        let app = spawn_app_with(|settings| settings.session.store = store).await;
        let laptop = app.browser();
        laptop.sign_up("jake").await;
        let phone = app.browser();
        phone.sign_in("jake").await;
        let copy = app.browser_with_cookies(&laptop.cookies());
        assert_eq!(
            copy.signed_in_as().await.as_deref(),
            Some("jake"),
            "{store:?}"
        );

        let out = laptop.submit("/logout", &[]).await;

        assert_eq!(out.status, StatusCode::SEE_OTHER, "{store:?}");
        assert_eq!(laptop.signed_in_as().await, None, "{store:?}");
        assert_eq!(
            copy.signed_in_as().await,
            None,
            "{store:?}: the copy is dead too"
        );
        assert_eq!(
            copy.get("/settings").await.status,
            StatusCode::SEE_OTHER,
            "{store:?}"
        );
        assert_eq!(
            phone.signed_in_as().await.as_deref(),
            Some("jake"),
            "{store:?}: other sessions live on"
        );
        assert_eq!(
            app.db.count("SELECT count(*) FROM revoked_sessions").await,
            1,
            "{store:?}"
        );
    }
}

#[tokio::test]
async fn with_memory_sessions_another_server_says_why_it_does_not_know_you() {
    let memory = |name: &'static str| {
        move |settings: &mut million::settings::Settings| {
            settings.session.store = SessionStoreKind::Memory;
            settings.application.instance_name = name.to_string();
        }
    };
    let app_1 = spawn_app_with(memory("app-1")).await;
    let app_2 = spawn_app_on(app_1.db.clone(), memory("app-2")).await;
    app_1.register("jake").await;
    let on_1 = app_1.browser();
    on_1.sign_in("jake").await;

    let on_2 = on_1.at(&app_2);
    let elsewhere = on_2.get("/").await;
    let back_home = on_1.get("/").await;

    assert_eq!(
        elsewhere.text_of(".nav-user"),
        "",
        "app-2 does not know jake"
    );
    let warning = elsewhere.text_of(".flash-warning");
    assert!(
        warning.starts_with("You signed in on app-1 , but this page was served by app-2 ,"),
        "{warning}"
    );
    assert!(warning.contains("own memory"), "{warning}");
    assert_eq!(
        elsewhere.attr(".flash-warning a", "href").as_deref(),
        Some("/architecture")
    );
    assert_eq!(back_home.text_of(".nav-user"), "jake");
    assert_eq!(back_home.text_of(".flash-warning"), "");
}
