//! Sessions the application starts itself (`OAuthClient::start_session`, a password login):
//! the same session as an OAuth login (fresh id, CSRF token, cookie attributes, logout),
//! with or without providers; the same browser may log in either way.

mod common;

use auth_core::AuthErrorKind;
use common::token_server::{TokenServer, log_in, session_of};
use common::*;
use http::StatusCode;
use http::header::COOKIE;

fn alice() -> User {
    User {
        id: "alice".to_owned(),
        email: Some("alice@example.test".to_owned()),
        name: Some("Alice".to_owned()),
    }
}

/// A client without providers: sessions for the application's own logins only.
fn password_only() -> TestApp {
    TestApp::new(
        tower_oauth::OAuthClient::<User>::builder(APP)
            .cookie_key(&rand_key())
            .build()
            .unwrap(),
    )
}

/// `start_session` for `user` with `jar`'s cookies; the jar then holds the new cookie.
async fn start(app: &TestApp, jar: &mut Jar, user: User) -> http::Response<axum::body::Body> {
    let mut headers = http::HeaderMap::new();
    if !jar.header().is_empty() {
        headers.insert(COOKIE, jar.header().parse().unwrap());
    }
    let res = app
        .client
        .start_session(&headers, user, "/dashboard")
        .await
        .unwrap();
    let res = res.map(axum::body::Body::new);
    jar.store(&res);
    res
}

#[tokio::test]
async fn a_started_session_is_an_ordinary_session_without_provider() {
    let app = password_only();
    let mut jar = Jar::new();
    let res = start(&app, &mut jar, alice()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/dashboard");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookies = set_cookies(&res, "__Host-session=");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookies[0].contains(attribute), "{}", cookies[0]);
    }
    assert!(!cookies[0].contains("Domain"), "{}", cookies[0]);

    let (status, me) = app.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["method"], "session");
    assert_eq!(me["scopes"], serde_json::json!(["read"]));
    assert_eq!(me["provider"], serde_json::Value::Null);
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 43);

    // No provider token to hand out.
    let session = session_of(&app, &jar).await;
    let err = app.client.access_token(&session).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
    assert_eq!(err.reason(), "no_provider_token");

    // Logout works as for an OAuth session: wrong CSRF refused, right one ends it.
    assert_eq!(
        app.logout(&jar, Some("wrong")).await.status(),
        StatusCode::FORBIDDEN
    );
    let res = app.logout(&jar, Some(&csrf)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    assert_eq!(app.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_start_rotates_the_id_and_ends_the_previous_session() {
    let app = password_only();
    let mut jar = Jar::new();
    start(&app, &mut jar, alice()).await;
    let old = jar.clone();
    let first = jar.get("__Host-session").unwrap().to_owned();
    let first_csrf = app.whoami(&jar).await.1["csrf_token"].clone();

    start(&app, &mut jar, alice()).await;
    let second = jar.get("__Host-session").unwrap().to_owned();
    assert_ne!(first, second, "a fresh id, never the request's");
    assert_eq!(app.whoami(&old).await.0, StatusCode::UNAUTHORIZED);
    let (status, me) = app.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(me["csrf_token"], first_csrf, "a fresh CSRF token");

    // A planted (fixated) id is never adopted: the session gets its own.
    let mut planted = Jar::new();
    planted.set("__Host-session", &"A".repeat(43));
    start(&app, &mut planted, alice()).await;
    assert_ne!(planted.get("__Host-session").unwrap(), "A".repeat(43));
    assert_eq!(app.whoami(&planted).await.0, StatusCode::OK);
}

#[tokio::test]
async fn only_a_same_origin_return_path_is_accepted() {
    let app = password_only();
    for evil in [
        "//evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
    ] {
        let err = app
            .client
            .start_session(&http::HeaderMap::new(), alice(), evil)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest, "{evil}");
    }
}

#[tokio::test]
async fn a_cross_origin_request_starts_no_session() {
    let app = password_only();
    let mut headers = http::HeaderMap::new();
    headers.insert("origin", "https://evil.example".parse().unwrap());
    let err = app
        .client
        .start_session(&headers, alice(), "/")
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.reason(), "cross_origin");
    let mut headers = http::HeaderMap::new();
    headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert!(app.client.check_origin(&headers).is_err());
    let mut headers = http::HeaderMap::new();
    headers.insert("origin", APP.parse().unwrap());
    headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
    assert!(app.client.check_origin(&headers).is_ok());
    assert!(
        app.client
            .start_session(&headers, alice(), "/")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_user_may_log_in_by_password_and_by_a_provider() {
    let provider = TokenServer::start().await;
    let app = TestApp::new(
        builder(&Users::default())
            .provider(provider.provider())
            .build()
            .unwrap(),
    );
    let by_provider = log_in(&app).await;
    let mut by_password = Jar::new();
    start(&app, &mut by_password, alice()).await;
    let (status, me) = app.whoami(&by_provider).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["provider"], "rt");
    let (status, me) = app.whoami(&by_password).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["provider"], serde_json::Value::Null);
    assert_eq!(me["subject"], "alice");

    // A provider login from the browser holding the password session replaces it.
    let mut jar = by_password.clone();
    let authorize = app.start_login("rt", "", &mut jar).await;
    let state = param(&authorize, "state").unwrap();
    let res = app
        .get(
            &format!("/oauth/rt/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    jar.store(&res);
    assert_eq!(app.whoami(&by_password).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.whoami(&jar).await.1["provider"], "rt");
}
