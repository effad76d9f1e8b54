//! Failed password logins are throttled per client address and per user name: 429 with
//! `Retry-After` and the `RateLimit` headers once over, whatever the password, while
//! another user from a fresh budget still logs in.

mod common;

use common::{Server, http};
use serde_json::{Value, json};

async fn login(server: &Server, username: &str, password: &str) -> reqwest::Response {
    http()
        .post(format!("{}/auth/login", server.url))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn guessing_one_users_password_is_throttled_without_locking_out_others() {
    let server = Server::start(&[(
        "DEMO_USERS",
        "bob:bob-password:read;carol:carol-password:read",
    )]);
    // Five wrong guesses for bob are refused as wrong passwords...
    for _ in 0..5 {
        assert_eq!(login(&server, "bob", "guess").await.status(), 401);
    }
    // ...then bob is throttled: even the right password gets 429, never a hint.
    let throttled = login(&server, "bob", "bob-password").await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry_after), "{retry_after}");
    assert!(
        throttled.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("login-user"),
        "{:?}",
        throttled.headers()
    );
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Another user from the same address still has the address's budget.
    assert_eq!(
        login(&server, "carol", "carol-password").await.status(),
        200
    );
}

#[tokio::test]
async fn guessing_many_users_from_one_address_is_throttled() {
    let server = Server::start(&[("DEMO_USERS", "dave:dave-password:read")]);
    for n in 0..10 {
        let status = login(&server, &format!("nobody-{n}"), "guess")
            .await
            .status();
        assert_eq!(status, 401, "attempt {n}");
    }
    let throttled = login(&server, "dave", "dave-password").await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    assert!(
        throttled.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("login-address")
    );
}
