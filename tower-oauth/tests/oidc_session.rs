//! Sessions against a real OpenID provider: fixation, tampered cookies, `return_to`,
//! logout and concurrent tabs.

mod common;

use axum::body::Body;
use common::*;
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, StatusCode};

#[tokio::test]
async fn session_fixation_is_prevented() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut op_browser = ProviderBrowser::new();

    // A cookie planted by an attacker is never adopted.
    let planted = "A".repeat(43);
    let mut jar = Jar::new();
    jar.set("__Host-session", &planted);
    assert_eq!(
        app.login("op", "alice", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    let first = jar.get("__Host-session").unwrap().to_owned();
    assert_ne!(first, planted);
    let mut attacker = Jar::new();
    attacker.set("__Host-session", &planted);
    assert_eq!(app.whoami(&attacker).await.0, StatusCode::UNAUTHORIZED);

    // Logging in again rotates the id; the old one is destroyed.
    let old = jar.clone();
    assert_eq!(
        app.login("op", "alice", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    let second = jar.get("__Host-session").unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(app.whoami(&old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.whoami(&jar).await.0, StatusCode::OK);
}

#[tokio::test]
async fn tampered_truncated_and_foreign_cookies_are_no_session() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    assert_eq!(
        app.login("op", "alice", &mut jar, &mut ProviderBrowser::new())
            .await
            .status(),
        303
    );
    let id = jar.get("__Host-session").unwrap().to_owned();
    let mut flipped = id.clone().into_bytes();
    flipped[5] = if flipped[5] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_app = app_with_own_store(&op);
    for (label, cookie) in [
        ("flipped", format!("__Host-session={flipped}")),
        ("truncated", format!("__Host-session={}", &id[..30])),
        ("extended", format!("__Host-session={id}x")),
        ("empty", "__Host-session=".to_owned()),
        ("garbage", "__Host-session=%00%ff<script>".to_owned()),
        (
            "duplicated",
            format!("__Host-session={id}; __Host-session={id}"),
        ),
        ("unprefixed", format!("session={id}")),
    ] {
        let res = app
            .send(
                Request::get("/api/whoami")
                    .header(COOKIE, cookie.as_str())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{label}");
        let res = app
            .send(
                Request::get("/dashboard")
                    .header(COOKIE, cookie.as_str())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "{label}: browser pages redirect"
        );
        assert_eq!(location(&res), "/?return_to=%2Fdashboard");
    }
    // A cookie header that is not even text.
    let res = app
        .send(
            Request::get("/api/whoami")
                .header(
                    COOKIE,
                    http::HeaderValue::from_bytes(b"__Host-session=\xff\xfe").unwrap(),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The real cookie on an application with another store: foreign, no session.
    assert_eq!(other_app.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
    // The real one still works.
    assert_eq!(app.whoami(&jar).await.0, StatusCode::OK);

    // Tampered transaction cookies fail the callback with 400, never 500.
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let name = jar.transactions().pop().unwrap();
    let sealed = jar.get(&name).unwrap().to_owned();
    for bad in [&sealed[..sealed.len() / 2], "x", &format!("{sealed}A")] {
        let mut tampered = jar.clone();
        tampered.set(&name, bad);
        assert_refused(
            &app,
            &path_and_query(&callback),
            &tampered,
            StatusCode::BAD_REQUEST,
            "invalid_transaction",
        )
        .await;
    }
    // A transaction cookie sealed by another application (another key): refused.
    let mut foreign = Jar::new();
    let other_authorize = other_app
        .start_login("op", "?login_hint=alice", &mut foreign)
        .await;
    let other_name = foreign.transactions().pop().unwrap();
    let mut moved = jar.clone();
    moved.set(&name, foreign.get(&other_name).unwrap());
    assert_refused(
        &app,
        &path_and_query(&callback),
        &moved,
        StatusCode::BAD_REQUEST,
        "invalid_transaction",
    )
    .await;
    assert!(other_authorize.contains("state="));
    // The untampered one still works (nothing was consumed by the failures).
    assert_eq!(
        app.get(&path_and_query(&callback), &jar).await.status(),
        StatusCode::SEE_OTHER
    );
}

fn app_with_own_store(op: &OidcProvider) -> TestApp {
    app(op)
}

#[tokio::test]
async fn return_to_accepts_only_same_origin_paths() {
    let op = OidcProvider::start();
    let app = app(&op);
    for payload in [
        "//evil.example",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "/%252F%252Fevil.example",
        "/ok%0D%0ALocation:%20https://evil.example",
        "/ok%0aX",
        "%09/evil.example",
        "javascript:alert(1)",
        "JAVASCRIPT%3Aalert(1)",
        "https://evil.example/",
        "https:evil.example",
        "evil.example",
        "",
    ] {
        let res = app
            .get(&format!("/oauth/op/login?return_to={payload}"), &Jar::new())
            .await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{payload:?} must be refused"
        );
        assert!(
            res.headers().get(SET_COOKIE).is_none(),
            "{payload:?}: no transaction"
        );
    }
    // An accepted path comes back exactly after login.
    let mut jar = Jar::new();
    let authorize = app
        .start_login(
            "op",
            "?login_hint=alice&return_to=%2Freports%3Fyear%3D2026",
            &mut jar,
        )
        .await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let res = app.get(&path_and_query(&callback), &jar).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/reports?year=2026");
    // No return_to: home.
    let mut jar = Jar::new();
    let authorize = app.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    assert_eq!(
        location(&app.get(&path_and_query(&callback), &jar).await),
        "/"
    );
}

#[tokio::test]
async fn logout_destroys_the_session_and_replays_are_anonymous() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    assert_eq!(
        app.login("op", "alice", &mut jar, &mut ProviderBrowser::new())
            .await
            .status(),
        303
    );
    let (status, me) = app.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();

    // GET is not a logout.
    assert_eq!(
        app.get("/oauth/logout", &jar).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // Without, or with a wrong, CSRF token: 403, session intact.
    assert_eq!(app.logout(&jar, None).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.logout(&jar, Some("wrong")).await.status(),
        StatusCode::FORBIDDEN
    );
    // Cross-origin form post: 403 even with the token.
    let res = app
        .send(
            Request::post("/oauth/logout")
                .header(COOKIE, jar.header())
                .header("origin", "https://evil.example")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf_token={csrf}")))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.whoami(&jar).await.0, StatusCode::OK);

    // The real logout.
    let old = jar.clone();
    let res = app.logout(&jar, Some(&csrf)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cleared = set_cookies(&res, "__Host-session=");
    assert_eq!(cleared.len(), 1);
    assert!(cleared[0].contains("Max-Age=0"));
    // The old cookie replayed: anonymous everywhere.
    assert_eq!(app.whoami(&old).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/dashboard", &old).await.status(),
        StatusCode::SEE_OTHER
    );
    // Logout replayed: harmless.
    assert_eq!(
        app.logout(&old, Some(&csrf)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.whoami(&old).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_tabs_log_in_at_once() {
    let op = OidcProvider::start();
    let app = app(&op);
    let mut jar = Jar::new();
    let tab_a = app
        .start_login("op", "?login_hint=alice&return_to=/a", &mut jar)
        .await;
    let tab_b = app
        .start_login("op", "?login_hint=alice&return_to=/b", &mut jar)
        .await;
    assert_eq!(jar.transactions().len(), 2, "one cookie per attempt");
    let mut op_browser = ProviderBrowser::new();
    let cb_a = op_browser.authorize(&tab_a).await;
    let cb_b = op_browser.authorize(&tab_b).await;
    // B finishes first, then A: both succeed and land where they started.
    let res_b = app.get(&path_and_query(&cb_b), &jar).await;
    assert_eq!(res_b.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res_b), "/b");
    jar.store(&res_b);
    assert_eq!(
        jar.transactions().len(),
        1,
        "only B's transaction is cleared"
    );
    let res_a = app.get(&path_and_query(&cb_a), &jar).await;
    assert_eq!(res_a.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res_a), "/a");
    jar.store(&res_a);
    assert!(jar.transactions().is_empty());
    assert_eq!(app.whoami(&jar).await.0, StatusCode::OK);
}

#[tokio::test]
async fn stale_sessions_are_anonymous() {
    use std::time::Duration;
    let op = OidcProvider::start();
    let mut op_browser = ProviderBrowser::new();

    // Absolute timeout: gone after it, used or not.
    let short = TestApp::new(
        builder(&Users::default())
            .provider(oidc("op", &op, "rp-rs256"))
            .absolute_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    assert_eq!(
        short
            .login("op", "alice", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    assert_eq!(short.whoami(&jar).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(short.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        short.get("/dashboard", &jar).await.status(),
        StatusCode::SEE_OTHER
    );

    // Idle timeout: renewed by use, gone after a quiet period.
    let idle = TestApp::new(
        builder(&Users::default())
            .provider(oidc("op", &op, "rp-rs256"))
            .idle_timeout(Duration::from_millis(800))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    assert_eq!(
        idle.login("op", "alice", &mut jar, &mut op_browser)
            .await
            .status(),
        303
    );
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(idle.whoami(&jar).await.0, StatusCode::OK, "renewed by use");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(idle.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
}
