//! Two instances sharing `DEMO_REDIS_URL` (and `DEMO_JWT_SECRET`): a logout on one is
//! refused on the other, and a refresh token replayed on the other instance is caught.
//! Needs Redis (`TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).

mod common;

use std::time::{Duration, Instant};

use common::{Server, assert_rejected, http, set_cookie};
use serde_json::{Value, json};

fn redis_url() -> String {
    testkit::require_redis()
}

async fn login(client: &reqwest::Client, server: &Server) -> (String, String) {
    let res = client
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": "alice", "password": "alice-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "refresh_token").unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    (body["access_token"].as_str().unwrap().to_owned(), cookie)
}

#[tokio::test]
async fn revocations_and_refresh_families_are_shared() {
    let redis = redis_url();
    let a = Server::start(&[("DEMO_REDIS_URL", &redis)]);
    let b = Server::start(&[("DEMO_REDIS_URL", &redis)]);
    let client = http();

    // Logout on A; B refuses the token once the revocation arrives (pub/sub).
    let (token, _) = login(&client, &a).await;
    let on_b = || {
        client
            .get(format!("{}/api/whoami", b.url))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(on_b().await.unwrap().status(), 200);
    let res = client
        .post(format!("{}/auth/logout", a.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let start = Instant::now();
    loop {
        let res = on_b().await.unwrap();
        if res.status() == 401 {
            assert_rejected(res, 401, "invalid_token", &token).await;
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "B still accepts a logged-out token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Rotate on A, replay the old refresh token on B: reuse detected, family revoked.
    let (_, cookie) = login(&client, &a).await;
    let refresh = |server: &Server, cookie: String| {
        client
            .post(format!("{}/auth/refresh", server.url))
            .header("cookie", cookie)
            .send()
    };
    let res = refresh(&a, cookie.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let rotated = set_cookie(&res, "refresh_token").unwrap();
    let rotated = rotated.split(';').next().unwrap().to_owned();
    let res = refresh(&b, cookie.clone()).await.unwrap();
    assert_rejected(res, 401, "invalid_token", cookie.split_once('=').unwrap().1).await;
    let res = refresh(&a, rotated.clone()).await.unwrap();
    assert_rejected(
        res,
        401,
        "invalid_token",
        rotated.split_once('=').unwrap().1,
    )
    .await;
}
