//! `/health`, RFC 6750 rejections on every refused API request, the anonymous dashboard,
//! and a clean exit on SIGTERM.

mod common;

use common::{Server, assert_rejected, http};

#[tokio::test]
async fn health_rejections_and_sigterm() {
    let mut server = Server::start(&[]);
    let client = http();
    let res = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");

    let whoami = format!("{}/api/whoami", server.url);
    // No credential: 401 with a bare challenge.
    let res = client.get(&whoami).send().await.unwrap();
    assert_rejected(res, 401, "unauthorized", "").await;

    let forged_key = format!("sk_live_{}", "A".repeat(61));
    let cases = [
        (
            "authorization",
            format!("Bearer {forged_key}"),
            forged_key.clone(),
        ),
        ("x-api-key", forged_key.clone(), forged_key.clone()),
        (
            "x-api-key",
            "sk_live_short".to_owned(),
            "sk_live_short".to_owned(),
        ),
        (
            "authorization",
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned(),
            "eyJzdWIiOiJ4In0".to_owned(),
        ),
        (
            "authorization",
            "Bearer not-a-jwt-secret-42".to_owned(),
            "not-a-jwt-secret-42".to_owned(),
        ),
        (
            "cookie",
            "session=forged-session-id-123".to_owned(),
            String::new(),
        ),
    ];
    for (header, value, secret) in cases {
        let res = client
            .get(&whoami)
            .header(header, &value)
            .send()
            .await
            .unwrap();
        let expected = if header == "cookie" {
            "unauthorized"
        } else {
            "invalid_token"
        };
        assert_rejected(res, 401, expected, &secret).await;
    }
    // Two credentials of one kind: 400 invalid_request.
    let res = client
        .get(&whoami)
        .header("x-api-key", &forged_key)
        .header("x-api-key", &forged_key)
        .send()
        .await
        .unwrap();
    assert_rejected(res, 400, "invalid_request", &forged_key).await;
    let res = client
        .get(format!("{}/api/admin", server.url))
        .send()
        .await
        .unwrap();
    assert_rejected(res, 401, "unauthorized", "").await;

    // Anonymous dashboard without provider: the password login form.
    let res = client.get(format!("{}/", server.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(r#"action="/dashboard/login""#), "{page}");
    // The dashboard forms need a session: back to the home page.
    let res = client
        .post(format!("{}/dashboard/keys", server.url))
        .form(&[("csrf_token", "x"), ("name", "n"), ("scopes", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let css = client
        .get(format!("{}/static/style.css", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM must end the server with status 0, got {status}"
    );
    assert!(
        client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn ctrl_c_shuts_down_cleanly_too() {
    let mut server = Server::start(&[]);
    let res = http()
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status = server.signal("-INT");
    assert!(
        status.success(),
        "SIGINT must end the server with status 0, got {status}"
    );
}

/// `POST /auth/login` as `username`; the response.
async fn password_login(server: &Server, username: &str, password: &str) -> reqwest::Response {
    http()
        .post(format!("{}/auth/login", server.url))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

/// Asserts the login set a `__Secure-` refresh cookie with every attribute.
fn assert_secure_refresh_cookie(res: &reqwest::Response) {
    let cookie = common::set_cookie(res, "__Secure-refresh_token").expect("a __Secure- cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/auth"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
}

#[tokio::test]
async fn cookies_are_secure_off_loopback() {
    // Not plain http on loopback: the refresh cookie keeps `Secure` and its prefix.
    let server = Server::start(&[
        ("DEMO_PUBLIC_URL", "https://demo.example.test"),
        ("DEMO_USERS", "carol:carol-pw:read"),
    ]);
    let res = password_login(&server, "carol", "carol-pw").await;
    assert_eq!(res.status(), 200);
    assert_secure_refresh_cookie(&res);
}

#[test]
fn a_server_bound_to_every_interface_is_refused_plain_http() {
    // The public URL says loopback, but 0.0.0.0 serves the network: not over plain http.
    let stderr = common::refused_start(&[
        ("DEMO_ADDR", "0.0.0.0:0"),
        ("DEMO_PUBLIC_URL", "http://127.0.0.1:3000"),
        ("DEMO_USERS", "carol:carol-pw:read"),
    ]);
    assert!(stderr.contains("refusing to serve plain http"), "{stderr}");
}

#[tokio::test]
async fn the_default_accounts_exist_on_loopback_only() {
    // Loopback address and URL: the zero-setup accounts work.
    let local = Server::start(&[]);
    assert_eq!(
        password_login(&local, "alice", "alice-password")
            .await
            .status(),
        200
    );

    // Reachable from elsewhere: no start without DEMO_USERS.
    for env in [
        [
            ("DEMO_ADDR", "0.0.0.0:0"),
            ("DEMO_PUBLIC_URL", "https://127.0.0.1:3000"),
        ],
        [
            ("DEMO_ADDR", "127.0.0.1:0"),
            ("DEMO_PUBLIC_URL", "https://demo.example.test"),
        ],
    ] {
        let stderr = common::refused_start(&env);
        assert!(stderr.contains("DEMO_USERS must be set"), "{stderr}");
        assert!(!stderr.contains("listening on"), "{stderr}");
    }

    // With DEMO_USERS, only those users log in.
    let public = Server::start(&[
        ("DEMO_ADDR", "0.0.0.0:0"),
        ("DEMO_PUBLIC_URL", "https://demo.example.test"),
        ("DEMO_USERS", "carol:carol-pw:read"),
    ]);
    let res = password_login(&public, "alice", "alice-password").await;
    assert_rejected(res, 401, "invalid_token", "alice-password").await;
    assert_eq!(
        password_login(&public, "carol", "carol-pw").await.status(),
        200
    );
}

#[tokio::test]
async fn bench_floor_routes_exist_only_when_asked_for() {
    const FLOORS: [&str; 3] = [
        "/bench/whoami",
        "/bench/whoami/layered",
        "/bench/whoami/engine",
    ];
    let client = http();
    let get = |url: String| client.get(url).send();
    let default = Server::start(&[]);
    let floors = Server::start(&[("DEMO_BENCH_FLOORS", "on")]);
    for path in FLOORS {
        let res = get(format!("{}{path}", default.url)).await.unwrap();
        assert_eq!(res.status(), 404, "{path} without DEMO_BENCH_FLOORS");

        let res = get(format!("{}{path}", floors.url)).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(
            res.text().await.unwrap(),
            r#"{"subject":"bench-floor","method":"bench_floor","scopes":[]}"#,
            "{path}"
        );
    }
    // The floors open nothing else: the API still wants a credential.
    let res = get(format!("{}/api/whoami", floors.url)).await.unwrap();
    assert_rejected(res, 401, "unauthorized", "").await;
}

#[test]
fn bad_configuration_is_refused_with_a_message() {
    for (name, value, says) in [
        ("DEMO_JWT_SECRET", "short", "DEMO_JWT_SECRET"),
        ("DEMO_ADDR", "nowhere", "DEMO_ADDR"),
        ("DEMO_USERS", "nopassword", "DEMO_USERS"),
        ("DEMO_COOKIE_KEY", "too-short", "DEMO_COOKIE_KEY"),
        (
            "DEMO_COOKIE_KEY",
            format!("{},short", "k".repeat(64)).as_str(),
            "key 2 of 2",
        ),
        ("DEMO_JWT_CACHE", "maybe", "DEMO_JWT_CACHE"),
        ("DEMO_BENCH_FLOORS", "yes", "DEMO_BENCH_FLOORS"),
    ] {
        let out = common::command(&[(name.to_owned(), value.to_owned())])
            .args(["keys", "list"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}
