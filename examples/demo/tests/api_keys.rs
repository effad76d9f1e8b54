//! A key created with `demo keys create` works at once on a running server sharing the
//! store; `demo keys revoke` makes it fail within the key cache TTL (`DEMO_KEY_CACHE_TTL`).

mod common;

use std::time::{Duration, Instant};

use common::{Server, assert_rejected, http};
use serde_json::Value;

#[tokio::test]
async fn cli_key_works_then_revocation_reaches_the_server_within_the_cache_ttl() {
    let server = Server::start(&[("DEMO_KEY_CACHE_TTL", "2s")]);
    let created: Value = serde_json::from_str(&server.cli(&[
        "keys",
        "create",
        "--account",
        "acme",
        "--scopes",
        "read write",
        "--expires-in",
        "30d",
    ]))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_live_"), "{key}");
    assert_eq!(created["account"], "acme");
    assert_eq!(created["scopes"], serde_json::json!(["read", "write"]));
    assert!(created["expires_at"].is_i64());

    let listed = server.cli(&["keys", "list", "--account", "acme"]);
    assert!(
        !listed.contains(&key[8..]),
        "list must never print the secret"
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["id"], id.as_str());

    let client = http();
    let whoami = format!("{}/api/whoami", server.url);
    for request in [
        client.get(&whoami).bearer_auth(&key),
        client.get(&whoami).header("x-api-key", &key),
    ] {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["method"], "api_key");
        assert_eq!(body["subject"], "acme");
        assert_eq!(body["scopes"], serde_json::json!(["read", "write"]));
    }
    // No `admin` scope: 403 on the admin route.
    let res = client
        .get(format!("{}/api/admin", server.url))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_rejected(res, 403, "insufficient_scope", &key).await;

    let revoked: Value = serde_json::from_str(&server.cli(&["keys", "revoke", &id])).unwrap();
    assert_eq!(revoked["revoked"], true);
    let revoked_at = Instant::now();
    loop {
        let res = client.get(&whoami).bearer_auth(&key).send().await.unwrap();
        if res.status() == 401 {
            assert_rejected(res, 401, "invalid_token", &key).await;
            break;
        }
        assert_eq!(res.status(), 200);
        assert!(
            revoked_at.elapsed() < Duration::from_secs(3),
            "a key revoked by the CLI still works after the 2 s cache TTL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn rotation_prints_a_new_key_and_the_old_one_keeps_its_grace() {
    let server = Server::start(&[]);
    let created: Value =
        serde_json::from_str(&server.cli(&["keys", "create", "--account", "ops", "--env", "test"]))
            .unwrap();
    let old = created["key"].as_str().unwrap().to_owned();
    assert!(old.starts_with("sk_test_"), "{old}");
    let rotated: Value = serde_json::from_str(&server.cli(&[
        "keys",
        "rotate",
        created["id"].as_str().unwrap(),
        "--grace",
        "1h",
    ]))
    .unwrap();
    let new = rotated["key"].as_str().unwrap();
    assert_ne!(new, old);
    let client = http();
    for key in [old.as_str(), new] {
        let res = client
            .get(format!("{}/api/whoami", server.url))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "both keys work during the grace period");
    }
}
