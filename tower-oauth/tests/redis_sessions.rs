//! Sessions shared by two instances through the real Redis (`TEST_REDIS_URL`, default 127.0.0.1:6379)
//! (feature `redis`): a login on A is valid on B, a logout on B ends it on A.
#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use common::token_server::{
    TokenServer, log_in, logout_during_refresh_stays_logged_out, session_of,
};
use common::*;
use http::StatusCode;
use tower_oauth::store::{RedisSessionStore, SessionStore};

async fn store(prefix: &str) -> RedisSessionStore {
    RedisSessionStore::connect(&testkit::require_redis())
        .await
        .unwrap_or_else(|e| panic!("these tests need Redis (TEST_REDIS_URL): {e}"))
        .key_prefix(prefix)
}

fn unique_prefix() -> String {
    format!("towerauth-test:oauth:{}:", rand::random::<u64>())
}

/// Removes every key under `prefix`.
async fn cleanup(prefix: &str) {
    let client = redis::Client::open(testkit::require_redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn login_on_a_is_valid_on_b_and_logout_on_b_ends_it_on_a() {
    let op = OidcProvider::start();
    let prefix = unique_prefix();
    let key = rand_key();
    let users = Users::default();
    let instance = |store: RedisSessionStore| {
        TestApp::new(
            builder(&users)
                .cookie_key(&key)
                .store(store)
                .idle_timeout(Duration::from_secs(120))
                .provider(oidc("op", &op, "rp-rs256"))
                .build()
                .unwrap(),
        )
    };
    let a = instance(store(&prefix).await);
    let b = instance(store(&prefix).await);

    // Login starts on A, the callback lands on B (instances share the cookie key).
    let mut jar = Jar::new();
    let authorize = a.start_login("op", "?login_hint=alice", &mut jar).await;
    let callback = ProviderBrowser::new().authorize(&authorize).await;
    let res = b.get(&path_and_query(&callback), &jar).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        body_text(res).await
    );
    let replay_jar = jar.clone();
    jar.store(&res);

    let (status, on_a) = a.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    let (status, on_b) = b.whoami(&jar).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(on_a["subject"], on_b["subject"]);

    // The state was consumed for every instance: replaying the callback on A fails.
    let res = a.get(&path_and_query(&callback), &replay_jar).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(res).await.contains("replayed_state"));

    // Logout on B ends the session on A.
    let csrf = on_a["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(
        b.logout(&jar, Some(&csrf)).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(a.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
    cleanup(&prefix).await;
}

#[tokio::test]
async fn redis_store_idle_absolute_and_claims() {
    let prefix = unique_prefix();
    let s1 = store(&prefix).await;
    let s2 = store(&prefix).await;

    // Idle: renewed by each load, gone after a quiet period.
    let idle = Duration::from_millis(400);
    s1.save("idle", "r".to_owned(), idle, Duration::from_secs(60))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(s2.load("idle", idle).await.unwrap().as_deref(), Some("r"));
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        s1.load("idle", idle).await.unwrap().as_deref(),
        Some("r"),
        "renewed"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(s1.load("idle", idle).await.unwrap(), None);

    // The ttl (absolute remainder) bounds the first expiry.
    s1.save(
        "abs",
        "r".to_owned(),
        Duration::from_secs(60),
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s2.load("abs", Duration::from_secs(60)).await.unwrap(), None);

    // Delete on one instance is seen by the other.
    s1.save(
        "del",
        "r".to_owned(),
        Duration::from_secs(60),
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    s2.delete("del").await.unwrap();
    assert_eq!(s1.load("del", Duration::from_secs(60)).await.unwrap(), None);

    // A claim is won exactly once across instances, even when raced.
    let (x, y) = tokio::join!(
        s1.claim("state-1", Duration::from_secs(60)),
        s2.claim("state-1", Duration::from_secs(60))
    );
    assert!(x.unwrap() ^ y.unwrap(), "exactly one winner");
    assert!(!s1.claim("state-1", Duration::from_secs(60)).await.unwrap());
    cleanup(&prefix).await;
}

/// The raw values of the session records under `prefix` (login markers left out).
async fn raw_sessions(prefix: &str) -> Vec<String> {
    let client = redis::Client::open(testkit::require_redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut values = Vec::new();
    for key in keys
        .iter()
        .filter(|k| !k.starts_with(&format!("{prefix}claim:")))
    {
        let value: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        values.push(value);
    }
    values
}

#[tokio::test]
async fn provider_tokens_are_never_stored_in_clear() {
    let provider = TokenServer::start().await;
    let prefix = unique_prefix();
    let app = TestApp::new(
        builder(&Users::default())
            .store(store(&prefix).await)
            .provider(provider.provider())
            .build()
            .unwrap(),
    );
    let jar = log_in(&app).await;
    let session = session_of(&app, &jar).await;
    // The provider's access token, refreshed once: the login's tokens and the refreshed ones.
    let handed = app.client.access_token(&session).await.unwrap();
    let issued = provider.issued();
    assert_eq!(
        issued.len(),
        4,
        "access and refresh tokens, at login and refresh"
    );
    assert_eq!(handed.secret(), issued[2]);

    let records = raw_sessions(&prefix).await;
    assert_eq!(records.len(), 1, "one session");
    let record = &records[0];
    assert!(record.contains("\"csrf\""), "the record itself: {record}");
    for token in &issued {
        assert!(
            !record.contains(token.as_str()),
            "{token} in clear: {record}"
        );
    }
    cleanup(&prefix).await;
}

#[tokio::test]
async fn a_logout_during_a_refresh_is_not_undone_in_redis() {
    let prefix = unique_prefix();
    logout_during_refresh_stays_logged_out(store(&prefix).await).await;
    assert!(raw_sessions(&prefix).await.is_empty(), "no session record");
    cleanup(&prefix).await;
}

#[tokio::test]
async fn replace_writes_only_over_the_record_read() {
    let prefix = unique_prefix();
    let (s1, s2) = (store(&prefix).await, store(&prefix).await);
    let d = Duration::from_secs(60);
    s1.save("k", "r1".to_owned(), d, d).await.unwrap();
    assert!(s2.replace("k", "r1", "r2".to_owned(), d, d).await.unwrap());
    assert_eq!(s1.load("k", d).await.unwrap().as_deref(), Some("r2"));
    assert!(!s1.replace("k", "r1", "r3".to_owned(), d, d).await.unwrap());
    assert_eq!(s2.load("k", d).await.unwrap().as_deref(), Some("r2"));
    s2.delete("k").await.unwrap();
    assert!(!s1.replace("k", "r2", "r4".to_owned(), d, d).await.unwrap());
    assert_eq!(s1.load("k", d).await.unwrap(), None, "not brought back");
    // The write keeps the idle and absolute bounds.
    s1.save("t", "r".to_owned(), d, d).await.unwrap();
    assert!(
        s1.replace("t", "r", "r2".to_owned(), d, Duration::from_millis(200))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s2.load("t", d).await.unwrap(), None);
    cleanup(&prefix).await;
}

#[tokio::test]
async fn redis_unreachable_fails_at_connect_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = RedisSessionStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::StoreErrorKind::Unavailable);
    assert!(
        err.to_string()
            .starts_with("the store is unavailable: redis:"),
        "{err}"
    );
}

#[tokio::test]
async fn linked_sessions_end_together_on_every_instance_and_links_expire() {
    let prefix = unique_prefix();
    let (a, b) = (store(&prefix).await, store(&prefix).await);
    let d = Duration::from_secs(60);
    for key in ["a1", "a2", "b1"] {
        a.save(key, "r".to_owned(), d, d).await.unwrap();
    }
    a.link("a1", &["sid-a".to_owned(), "sub-a".to_owned()], d)
        .await
        .unwrap();
    b.link("a2", &["sub-a".to_owned()], d).await.unwrap();
    b.link("b1", &["sub-b".to_owned()], d).await.unwrap();

    assert_eq!(b.delete_linked("sid-a").await.unwrap(), 1);
    assert_eq!(a.load("a1", d).await.unwrap(), None);
    assert_eq!(
        a.delete_linked("sub-a").await.unwrap(),
        1,
        "a1 already gone"
    );
    assert_eq!(b.load("a2", d).await.unwrap(), None);
    assert!(b.load("b1", d).await.unwrap().is_some(), "another user's");

    // The set expires with the longest session linked to it, never before.
    let client = redis::Client::open(testkit::require_redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let set = format!("{prefix}link:sub-b");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((50_000..=60_000).contains(&ttl), "{ttl}");
    a.link("b2", &["sub-b".to_owned()], Duration::from_secs(5))
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        ttl > 50_000,
        "a shorter session does not shorten the link: {ttl}"
    );
    a.link("b3", &["sub-b".to_owned()], Duration::from_secs(120))
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&set)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 110_000, "a longer one extends it: {ttl}");
    cleanup(&prefix).await;
}
