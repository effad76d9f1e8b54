//! On PostgreSQL the server listens for the store's NOTIFY: a key revoked by the CLI is
//! refused at once even with a one-hour key cache. Needs PostgreSQL at
//! `postgres://postgres@127.0.0.1:5432/test` (`TEST_POSTGRES_URL` overrides); the test
//! works in its own schema.

mod common;

use std::time::{Duration, Instant};

use common::{Server, assert_rejected, http};
use serde_json::Value;

#[tokio::test]
async fn cli_revocation_is_pushed_to_the_server() {
    let base = testkit::require_postgres();
    let pool = sqlx::PgPool::connect(&base).await.unwrap_or_else(|e| {
        panic!("this test needs PostgreSQL at {base} (TEST_POSTGRES_URL): {e}")
    });
    let schema = format!("towerauth_demo_{}", std::process::id());
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let url = format!("{base}?options=-csearch_path%3D{schema}");

    let server = Server::start(&[("DEMO_DATABASE_URL", &url), ("DEMO_KEY_CACHE_TTL", "1h")]);
    let created: Value = serde_json::from_str(&server.cli(&[
        "keys",
        "create",
        "--account",
        "pg",
        "--scopes",
        "read",
    ]))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let client = http();
    let whoami = || {
        client
            .get(format!("{}/api/whoami", server.url))
            .header("x-api-key", &key)
            .send()
    };
    assert_eq!(whoami().await.unwrap().status(), 200);
    server.cli(&["keys", "revoke", created["id"].as_str().unwrap()]);
    let start = Instant::now();
    loop {
        let res = whoami().await.unwrap();
        if res.status() == 401 {
            assert_rejected(res, 401, "invalid_token", &key).await;
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the NOTIFY did not reach the server (cache TTL is 1 h)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
