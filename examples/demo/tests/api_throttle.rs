//! Invalid API keys are throttled per client address the same way as `/auth/login`: after
//! 10 refused keys an address gets 429 with `Retry-After`, `RateLimit-Policy`, `RateLimit`
//! and `{"error":"rate_limited"}`, a valid key included, while a valid key from another
//! address still works.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{Server, assert_rejected};
use serde_json::Value;

/// A client whose connections come from the loopback address `from`.
fn client_from(from: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn whoami(server: &Server, client: &reqwest::Client, key: &str) -> reqwest::Response {
    client
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forged_keys_are_throttled_per_address_and_other_addresses_keep_working() {
    let server = Server::start(&[]);
    let created: Value = serde_json::from_str(&server.cli(&[
        "keys",
        "create",
        "--account",
        "acme",
        "--scopes",
        "read",
    ]))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    // The same key with its last character changed: a forgery the checksum catches.
    let mut forged = key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });

    let guesser = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let other = client_from(Ipv4Addr::new(127, 0, 0, 2));
    // Requests without a credential are not guesses.
    for _ in 0..12 {
        let res = guesser
            .get(format!("{}/api/whoami", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    for n in 0..10 {
        let res = whoami(&server, &guesser, &forged).await;
        assert_eq!(res.status(), 401, "forged key {n}");
        if n == 0 {
            assert_rejected(res, 401, "invalid_token", &forged).await;
        }
    }
    let throttled = whoami(&server, &guesser, &forged).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry_after), "{retry_after}");
    assert_eq!(
        throttled.headers()["ratelimit-policy"],
        r#""api-address";q=10;w=60"#
    );
    let state = throttled.headers()["ratelimit"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(state.starts_with(r#""api-address";r=0;t="#), "{state}");
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Over the limit, the guessing address gets 429 even with the valid key: no oracle.
    assert_eq!(whoami(&server, &guesser, &key).await.status(), 429);
    // Another address is not affected.
    let res = whoami(&server, &other, &key).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["subject"], "acme");
}
