//! Every refresh grants the user's scopes of now, read from `DEMO_USERS`: two instances
//! share the refresh families through Redis but not their user lists, so a login on one and
//! a refresh on the other shows the other's grant. Needs Redis (`TEST_REDIS_URL`).

mod common;

use common::{Server, http, set_cookie};
use serde_json::{Value, json};

const USERS_BEFORE: &str = "erin:erin-password:read write admin;frank:frank-password:read";
const USERS_AFTER: &str = "erin:erin-password:read;frank:other-password:read";
const USERS_GONE: &str = "frank:frank-password:read";

/// Logs `user` in on `server`; the refresh cookie (`name=value`).
async fn login(server: &Server, user: &str, password: &str) -> String {
    let res = http()
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = set_cookie(&res, "refresh_token").unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

async fn refresh(server: &Server, cookie: &str) -> reqwest::Response {
    http()
        .post(format!("{}/auth/refresh", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

async fn scopes(server: &Server, token: &str) -> Value {
    let res = http()
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["scopes"].clone()
}

#[tokio::test]
async fn a_refresh_grants_the_users_scopes_of_now() {
    let redis = testkit::require_redis();
    let before = Server::start(&[("DEMO_REDIS_URL", &redis), ("DEMO_USERS", USERS_BEFORE)]);
    let after = Server::start(&[("DEMO_REDIS_URL", &redis), ("DEMO_USERS", USERS_AFTER)]);
    let gone = Server::start(&[("DEMO_REDIS_URL", &redis), ("DEMO_USERS", USERS_GONE)]);

    // Narrowed: erin logged in with `admin`; the refresh on the other list has `read` only.
    let cookie = login(&before, "erin", "erin-password").await;
    let res = refresh(&after, &cookie).await;
    assert_eq!(res.status(), 200);
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(scopes(&after, &token).await, json!(["read"]));

    // Removed: erin is not a user of `gone`: the refresh is refused, and the login's family
    // is revoked, so the same cookie fails back on the first instance too.
    let cookie = login(&before, "erin", "erin-password").await;
    assert_eq!(refresh(&gone, &cookie).await.status(), 401);
    assert_eq!(refresh(&before, &cookie).await.status(), 401);
}
