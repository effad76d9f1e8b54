//! Refresh rotation across two instances sharing Redis (127.0.0.1:6379): a refresh token
//! used on A and replayed on B is caught; logout on one instance holds on the other.
#![cfg(all(feature = "redis", feature = "issuing"))]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tower_jwt::issuer::{Grant, RedisRefreshFamilyStore, RefreshError, SigningKey, TokenIssuer};
use tower_jwt::revocation::{RedisRevocationStore, RevocationStatus, TokenRef};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

async fn require_redis() {
    let _ = testkit::require_redis();
}

/// One "instance": its own connections to Redis, the shared key and prefix.
async fn instance(prefix: &str) -> TokenIssuer {
    let key = SigningKey::hs256("hs-1", b"0123456789abcdef0123456789abcdef").unwrap();
    let families = RedisRefreshFamilyStore::connect(&testkit::redis_url(), prefix)
        .await
        .unwrap();
    let revocations = RedisRevocationStore::builder(testkit::redis_url())
        .key_prefix(prefix)
        .connect()
        .await
        .unwrap();
    TokenIssuer::builder(ISS, AUD, key)
        .family_store(Arc::new(families))
        .revocation_store(Arc::new(revocations))
        .build()
        .unwrap()
}

async fn two_instances(test: &str) -> (TokenIssuer, TokenIssuer) {
    require_redis().await;
    let prefix = format!("test:{test}:{}:", uuid::Uuid::new_v4());
    (instance(&prefix).await, instance(&prefix).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_used_on_a_and_replayed_on_b_revokes_the_family() {
    let (a, b) = two_instances("replay").await;
    let login = a.issue(&Grant::new("alice")).await.unwrap();
    let renewed = a.refresh(login.refresh.as_str()).await.unwrap();

    let err = b.refresh(login.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Reused));
    // The successor held by the legitimate client stops working on both instances.
    let err = a.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked));
    let err = b.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_continues_across_instances() {
    let (a, b) = two_instances("continue").await;
    let login = a.issue(&Grant::new("alice").scope(["read"])).await.unwrap();
    let on_b = b.refresh(login.refresh.as_str()).await.unwrap();
    let on_a = a.refresh(on_b.refresh.as_str()).await.unwrap();
    assert_eq!(on_a.family, login.family);
    b.refresh(on_a.refresh.as_str()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_presented_to_both_instances_at_once_succeeds_once() {
    let (a, b) = two_instances("race").await;
    for _ in 0..20 {
        let login = a.issue(&Grant::new("alice")).await.unwrap();
        let token = login.refresh.as_str();
        let (on_a, on_b) = tokio::join!(a.refresh(token), b.refresh(token));
        assert_eq!(
            usize::from(on_a.is_ok()) + usize::from(on_b.is_ok()),
            1,
            "exactly one instance may rotate a refresh token"
        );
        let loser = if on_a.is_ok() { on_b } else { on_a };
        assert!(matches!(loser, Err(RefreshError::Reused)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_b_holds_on_a() {
    let (a, b) = two_instances("logout").await;
    let login = a.issue(&Grant::new("alice")).await.unwrap();
    b.logout(Some(login.access.as_str()), Some(login.refresh.as_str()))
        .await
        .unwrap();

    let err = a.refresh(login.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked));
    // The access token's jti reaches A's revocation store (what A's verifier checks).
    let store = a.revocation_store();
    let access = TokenRef {
        issuer: ISS,
        jti: Some(login.access.jti()),
        subject: "alice",
        issued_at: SystemTime::now(),
    };
    let deadline = Instant::now() + Duration::from_secs(1);
    while store.check(&access) != RevocationStatus::Revoked {
        assert!(
            Instant::now() < deadline,
            "logout on B did not reach A within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn unreachable_redis_fails_at_connect() {
    let err = RedisRefreshFamilyStore::connect("redis://127.0.0.1:1", "x:")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::ConfigErrorKind::Setup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_expires_from_redis_with_its_lifetime() {
    require_redis().await;
    let prefix = format!("test:family-ttl:{}:", uuid::Uuid::new_v4());
    let families = RedisRefreshFamilyStore::connect(&testkit::redis_url(), &prefix)
        .await
        .unwrap();
    let issuer = TokenIssuer::builder(
        ISS,
        AUD,
        SigningKey::hs256("hs-1", b"0123456789abcdef0123456789abcdef").unwrap(),
    )
    .family_store(Arc::new(families))
    .family_lifetime(Duration::from_secs(600))
    .build()
    .unwrap();
    let login = issuer.issue(&Grant::new("alice")).await.unwrap();
    let renewed = issuer.refresh(login.refresh.as_str()).await.unwrap();
    let client = redis::Client::open(testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}family:{}", renewed.family))
        .query_async(&mut connection)
        .await
        .unwrap();
    // The family's end plus the 30 s leeway, not the 7-day refresh lifetime, nor forever.
    assert!((600_000..=631_000).contains(&ttl), "{ttl} ms");
}
