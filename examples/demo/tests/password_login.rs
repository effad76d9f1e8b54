//! Password login -> access token -> `/api/whoami` (jwt) -> `/api/admin` 403 / 200 ->
//! refresh rotation -> reuse detection revokes the family -> logout revokes the token;
//! `demo token` output accepted by a server sharing `DEMO_JWT_SECRET`.

mod common;

use common::{SECRET, Server, assert_rejected, http, run_cli, set_cookie};
use serde_json::{Value, json};

/// Logs `user` in; returns the access token and the refresh cookie (`name=value`).
async fn login(
    client: &reqwest::Client,
    server: &Server,
    user: &str,
    password: &str,
) -> (String, String) {
    let res = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "refresh_token").expect("a refresh cookie");
    // Plain http on loopback: no Secure, no prefix; otherwise the strict attributes.
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/auth"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_u64().unwrap();
    assert!((800..=900).contains(&expires_in), "{expires_in}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    (body["access_token"].as_str().unwrap().to_owned(), pair)
}

async fn refresh(client: &reqwest::Client, server: &Server, cookie: &str) -> reqwest::Response {
    client
        .post(format!("{}/auth/refresh", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn whoami(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    token: &str,
) -> reqwest::Response {
    client
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_refresh_reuse_and_logout() {
    let server = Server::start(&[]);
    let client = http();

    let (alice, alice_cookie) = login(&client, &server, "alice", "alice-password").await;
    let res = whoami(&client, &server, "/api/whoami", &alice).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "subject": "alice", "method": "jwt", "scopes": ["read", "write"] })
    );
    let res = whoami(&client, &server, "/api/admin", &alice).await;
    assert_rejected(res, 403, "insufficient_scope", &alice).await;

    let (admin, _) = login(&client, &server, "admin", "admin-password").await;
    let res = whoami(&client, &server, "/api/admin", &admin).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["subject"], "admin");

    // Rotation: a new access token and a new refresh cookie. An unrelated cookie the
    // browser holds for the host, even one that is not UTF-8, is no reason to refuse.
    let res = client
        .post(format!("{}/auth/refresh", server.url))
        .header(
            "cookie",
            reqwest::header::HeaderValue::from_bytes(
                &[b"theme=\xff\xfe; ", alice_cookie.as_bytes(), b"; lang=fr"].concat(),
            )
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rotated = set_cookie(&res, "refresh_token").unwrap();
    let rotated = rotated.split(';').next().unwrap().to_owned();
    assert_ne!(rotated, alice_cookie);
    let renewed = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        whoami(&client, &server, "/api/whoami", &renewed)
            .await
            .status(),
        200
    );

    // Two refresh cookies (a planted copy beside the real one): 400, neither is tried.
    let res = refresh(&client, &server, &format!("{rotated}; {alice_cookie}")).await;
    assert_rejected(res, 400, "invalid_request", "").await;

    // Reuse of the old refresh token: 401, and the whole family is revoked.
    let old_secret = alice_cookie.split_once('=').unwrap().1;
    let res = refresh(&client, &server, &alice_cookie).await;
    assert_rejected(res, 401, "invalid_token", old_secret).await;
    let res = refresh(&client, &server, &rotated).await;
    assert_rejected(
        res,
        401,
        "invalid_token",
        rotated.split_once('=').unwrap().1,
    )
    .await;

    // Logout with the access token alone revokes it and its refresh family.
    let (token, cookie) = login(&client, &server, "alice", "alice-password").await;
    assert_eq!(
        whoami(&client, &server, "/api/whoami", &token)
            .await
            .status(),
        200
    );
    let res = client
        .post(format!("{}/auth/logout", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = whoami(&client, &server, "/api/whoami", &token).await;
    assert_rejected(res, 401, "invalid_token", &token).await;
    let res = refresh(&client, &server, &cookie).await;
    assert_rejected(res, 401, "invalid_token", cookie.split_once('=').unwrap().1).await;
    // Logging out again with the revoked token: refused.
    let res = client
        .post(format!("{}/auth/logout", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_rejected(res, 401, "invalid_token", &token).await;
}

#[tokio::test]
async fn bad_logins_are_refused() {
    let server = Server::start(&[("DEMO_USERS", "carol:carol-pw:read")]);
    let client = http();
    for (user, password) in [
        ("carol", "not-carols-pw-7"),
        ("mallory", "carol-pw"),
        ("alice", "alice-password"),
    ] {
        let res = client
            .post(format!("{}/auth/login", server.url))
            .json(&json!({ "username": user, "password": password }))
            .send()
            .await
            .unwrap();
        assert_rejected(res, 401, "invalid_token", password).await;
    }
    let res = client
        .post(format!("{}/auth/login", server.url))
        .body("username=carol")
        .send()
        .await
        .unwrap();
    assert_rejected(res, 400, "invalid_request", "").await;
    // JSON sent as a cross-site form could (text/plain): refused, no login CSRF.
    let res = client
        .post(format!("{}/auth/login", server.url))
        .header("content-type", "text/plain")
        .body(r#"{"username":"carol","password":"carol-pw"}"#)
        .send()
        .await
        .unwrap();
    assert_rejected(res, 400, "invalid_request", "carol-pw").await;
    let res = client
        .post(format!("{}/auth/login", server.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_rejected(res, 400, "invalid_request", "").await;
    let res = client
        .post(format!("{}/auth/refresh", server.url))
        .send()
        .await
        .unwrap();
    assert_rejected(res, 401, "invalid_token", "").await;
    let res = client
        .post(format!("{}/auth/logout", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let (token, _) = login(&client, &server, "carol", "carol-pw").await;
    let me: Value = whoami(&client, &server, "/api/whoami", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["scopes"], json!(["read"]));
}

#[tokio::test]
async fn demo_token_is_accepted_with_the_same_secret_only() {
    let server = Server::start(&[]);
    let client = http();
    let token = server.cli(&["token", "--sub", "x", "--scopes", "a b", "--ttl", "5m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a compact JWS: {token}");
    let res = whoami(&client, &server, "/api/whoami", token).await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "subject": "x", "method": "jwt", "scopes": ["a", "b"] })
    );

    // Another secret: refused.
    let mut env = server.env.clone();
    env.retain(|(k, _)| k != "DEMO_JWT_SECRET");
    env.push((
        "DEMO_JWT_SECRET".into(),
        format!("{SECRET}-but-another-one"),
    ));
    let foreign = run_cli(&env, &["token", "--sub", "x"]);
    let res = whoami(&client, &server, "/api/whoami", foreign.trim()).await;
    assert_rejected(res, 401, "invalid_token", foreign.trim()).await;

    // Without DEMO_JWT_SECRET the command refuses to mint a token nobody accepts.
    env.retain(|(k, _)| k != "DEMO_JWT_SECRET");
    let out = common::command(&env)
        .args(["token", "--sub", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEMO_JWT_SECRET"));
}
