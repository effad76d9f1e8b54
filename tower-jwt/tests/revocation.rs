//! The in-memory revocation store: nothing live is forgotten, expiry, watermarks, issuers.

use std::time::{Duration, SystemTime};

mod common;

use std::sync::Arc;

use auth_core::{ConfigErrorKind, StoreErrorKind};
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower_jwt::revocation::{
    MemoryRevocationStore, Revocation, RevocationStatus, RevocationStore, TokenRef,
};
use tower_jwt::{IssuerConfig, JwtVerifier};

const ISS: &str = "https://auth.example.com";

fn token<'a>(
    issuer: &'a str,
    jti: &'a str,
    subject: &'a str,
    issued_at: SystemTime,
) -> TokenRef<'a> {
    TokenRef {
        issuer,
        jti: Some(jti),
        subject,
        issued_at,
    }
}

#[tokio::test]
async fn ten_thousand_revocations_are_all_kept() {
    let store = MemoryRevocationStore::new();
    let now = SystemTime::now();
    let exp = now + Duration::from_secs(900);
    for i in 0..12_000 {
        store
            .revoke(Revocation::token(ISS, format!("jti-{i}"), exp))
            .await
            .unwrap();
    }
    // Let moka do all its housekeeping: an LFU-bounded cache would evict here.
    store.purge_expired();
    assert_eq!(store.len(), 12_000);
    let kept = (0..12_000)
        .filter(|i| {
            let jti = format!("jti-{i}");
            store.check(&token(ISS, &jti, "alice", now)) == RevocationStatus::Revoked
        })
        .count();
    assert_eq!(kept, 12_000);
    assert_eq!(
        store.check(&token(ISS, "jti-not-revoked", "alice", now)),
        RevocationStatus::Active
    );
}

#[tokio::test]
async fn expired_revocations_are_eventually_dropped() {
    let store = MemoryRevocationStore::builder()
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let now = SystemTime::now();
    let soon = now + Duration::from_millis(300);
    let later = now + Duration::from_secs(3600);
    store
        .revoke(Revocation::token(ISS, "short", soon))
        .await
        .unwrap();
    store
        .revoke(Revocation::token(ISS, "long", later))
        .await
        .unwrap();
    store
        .revoke(Revocation::subject(ISS, "bob", now, soon))
        .await
        .unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(
        store.check(&token(ISS, "short", "x", now)),
        RevocationStatus::Revoked
    );

    // Expired entries are swept by the next revocation or an explicit purge.
    tokio::time::sleep(Duration::from_millis(400)).await;
    store.purge_expired();
    assert_eq!(store.len(), 1, "only the long-lived revocation remains");
    assert_eq!(
        store.check(&token(ISS, "long", "x", now)),
        RevocationStatus::Revoked
    );
    assert_eq!(
        store.check(&token(ISS, "short", "x", now)),
        RevocationStatus::Active
    );

    // A revocation of an already expired token is accepted and not stored.
    let past = now - Duration::from_secs(10);
    store
        .revoke(Revocation::token(ISS, "old", past))
        .await
        .unwrap();
    assert_eq!(store.len(), 1);

    // A revocation sweeps what expired before it, with no explicit purge.
    let brief = SystemTime::now() + Duration::from_millis(200);
    store
        .revoke(Revocation::token(ISS, "brief", brief))
        .await
        .unwrap();
    assert_eq!(store.len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    store
        .revoke(Revocation::token(ISS, "next", later))
        .await
        .unwrap();
    assert_eq!(store.len(), 2, "brief was swept, next added");
    assert_eq!(
        store.check(&token(ISS, "brief", "x", now)),
        RevocationStatus::Active
    );

    // The counters stay right after expiry: a new revocation is enforced.
    store
        .revoke(Revocation::token(ISS, "again", later))
        .await
        .unwrap();
    assert_eq!(
        store.check(&token(ISS, "again", "x", now)),
        RevocationStatus::Revoked
    );
}

#[tokio::test]
async fn leeway_keeps_a_revocation_past_exp() {
    let store = MemoryRevocationStore::builder()
        .leeway(Duration::from_secs(30))
        .build()
        .unwrap();
    let now = SystemTime::now();
    // exp already passed 5 s ago, but within the 30 s leeway the verifier may still accept it.
    let exp = now - Duration::from_secs(5);
    store
        .revoke(Revocation::token(ISS, "late", exp))
        .await
        .unwrap();
    assert_eq!(
        store.check(&token(ISS, "late", "x", now)),
        RevocationStatus::Revoked
    );
}

#[tokio::test]
async fn subject_watermark_revokes_only_older_tokens() {
    let store = MemoryRevocationStore::new();
    let now = SystemTime::now();
    let until = now + Duration::from_secs(3600);
    store
        .revoke(Revocation::subject(ISS, "alice", now, until))
        .await
        .unwrap();

    let before = now - Duration::from_secs(1);
    let after = now + Duration::from_secs(1);
    assert_eq!(
        store.check(&token(ISS, "a", "alice", before)),
        RevocationStatus::Revoked
    );
    assert_eq!(
        store.check(&token(ISS, "b", "alice", after)),
        RevocationStatus::Active
    );
    let no_jti = TokenRef {
        jti: None,
        ..token(ISS, "", "alice", before)
    };
    assert_eq!(store.check(&no_jti), RevocationStatus::Revoked);
    // Another subject is unaffected.
    assert_eq!(
        store.check(&token(ISS, "c", "bob", before)),
        RevocationStatus::Active
    );

    // Watermarks only move forward: an older "log out" does not undo a newer one.
    let older = now - Duration::from_secs(60);
    store
        .revoke(Revocation::subject(ISS, "alice", older, until))
        .await
        .unwrap();
    assert_eq!(
        store.check(&token(ISS, "a", "alice", before)),
        RevocationStatus::Revoked
    );
    store
        .revoke(Revocation::subject(
            ISS,
            "alice",
            after + Duration::from_secs(1),
            until,
        ))
        .await
        .unwrap();
    assert_eq!(
        store.check(&token(ISS, "b", "alice", after)),
        RevocationStatus::Revoked
    );
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn issuers_are_separate() {
    let store = MemoryRevocationStore::new();
    let now = SystemTime::now();
    let exp = now + Duration::from_secs(900);
    store
        .revoke(Revocation::token(ISS, "shared-jti", exp))
        .await
        .unwrap();
    store
        .revoke(Revocation::subject(ISS, "alice", now, exp))
        .await
        .unwrap();

    let other = "https://other.example.com";
    let earlier = now - Duration::from_secs(1);
    assert_eq!(
        store.check(&token(ISS, "shared-jti", "x", now)),
        RevocationStatus::Revoked
    );
    assert_eq!(
        store.check(&token(other, "shared-jti", "x", now)),
        RevocationStatus::Active
    );
    assert_eq!(
        store.check(&token(other, "j", "alice", earlier)),
        RevocationStatus::Active
    );
    // A crafted issuer/jti split cannot alias another issuer's revocation.
    let prefix = &ISS[..ISS.len() - 4];
    let jti = format!("{}shared-jti", &ISS[ISS.len() - 4..]);
    assert_eq!(
        store.check(&token(prefix, &jti, "x", now)),
        RevocationStatus::Active
    );
}

#[tokio::test]
async fn a_full_store_refuses_loudly_instead_of_forgetting() {
    let store = MemoryRevocationStore::builder()
        .max_entries(3)
        .build()
        .unwrap();
    let now = SystemTime::now();
    let exp = now + Duration::from_secs(900);
    for jti in ["a", "b", "c"] {
        store
            .revoke(Revocation::token(ISS, jti, exp))
            .await
            .unwrap();
    }
    let err = store
        .revoke(Revocation::token(ISS, "d", exp))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
    assert_eq!(err.to_string(), "the store is full: 3 live revocations");
    // Extending a live revocation is not a new entry.
    store
        .revoke(Revocation::token(ISS, "a", exp + Duration::from_secs(60)))
        .await
        .unwrap();
    for jti in ["a", "b", "c"] {
        assert_eq!(
            store.check(&token(ISS, jti, "x", now)),
            RevocationStatus::Revoked
        );
    }
    assert_eq!(
        store.check(&token(ISS, "d", "x", now)),
        RevocationStatus::Active
    );
}

#[test]
fn usable_as_a_trait_object() {
    let store: std::sync::Arc<dyn RevocationStore> =
        std::sync::Arc::new(MemoryRevocationStore::new());
    let now = SystemTime::now();
    assert_eq!(
        store.check(&token(ISS, "x", "y", now)),
        RevocationStatus::Active
    );
}

#[tokio::test]
async fn a_deadline_beyond_any_clock_saturates_instead_of_overflowing() {
    let store = MemoryRevocationStore::builder()
        .leeway(Duration::from_secs(300))
        .build()
        .unwrap();
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX.unsigned_abs());
    store
        .revoke(Revocation::token(ISS, "forever", far))
        .await
        .unwrap();
    store
        .revoke(Revocation::subject(ISS, "alice", SystemTime::now(), far))
        .await
        .unwrap();
    let now = SystemTime::now();
    assert_eq!(
        store.check(&token(ISS, "forever", "x", now)),
        RevocationStatus::Revoked
    );
    store.purge_expired();
    assert_eq!(store.len(), 2);
}

/// An issuer of the common test tokens accepting them up to `leeway` past their `exp`.
fn lenient(leeway: u64) -> IssuerConfig {
    common::issuer(common::verification_key(Algorithm::HS256))
        .leeway(Duration::from_secs(leeway))
        .build()
        .unwrap()
}

#[test]
fn a_verifier_refuses_a_store_that_forgets_before_its_leeway_ends() {
    // The store forgets a revocation 30 s past `exp`; the issuer accepts the token for
    // 300 s past it: between the two a logged-out token would pass again.
    let err = JwtVerifier::builder()
        .issuer(lenient(300))
        .revocation(Arc::new(MemoryRevocationStore::new()))
        .build()
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ConfigErrorKind::InvalidValue, "revocation")
    );
    assert!(err.to_string().contains("300 s"), "{err}");
    // The largest leeway of several issuers counts.
    let other = IssuerConfig::builder("https://other.test")
        .audience("api")
        .leeway(Duration::from_secs(60))
        .hmac_secret(common::SECRET)
        .build()
        .unwrap();
    let store = |leeway| {
        Arc::new(
            MemoryRevocationStore::builder()
                .leeway(Duration::from_secs(leeway))
                .build()
                .unwrap(),
        )
    };
    let two = |store| {
        JwtVerifier::builder()
            .issuer(lenient(0))
            .issuer(other.clone())
            .revocation(store)
            .build()
    };
    assert_eq!(two(store(59)).unwrap_err().field(), "revocation");
    assert!(two(store(60)).is_ok());
    // The default leeways agree.
    assert!(
        JwtVerifier::builder()
            .issuer(lenient(30))
            .revocation(Arc::new(MemoryRevocationStore::new()))
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn a_revoked_token_stays_refused_for_the_whole_leeway() {
    let store = Arc::new(
        MemoryRevocationStore::builder()
            .leeway(Duration::from_secs(300))
            .build()
            .unwrap(),
    );
    let verifier = JwtVerifier::builder()
        .issuer(lenient(300))
        .revocation(store.clone())
        .build()
        .unwrap();
    // Expired a minute ago, still within the issuer's 300 s leeway.
    let now = common::now();
    let mut claims = common::claims();
    claims["iat"] = json!(now - 120);
    claims["nbf"] = json!(now - 120);
    claims["exp"] = json!(now - 60);
    let token = common::sign(&common::header(Algorithm::HS256), &claims);
    let identity = verifier.verify::<serde_json::Value>(&token).await.unwrap();
    store
        .revoke(Revocation::token(
            identity.issuer(),
            identity.jti().unwrap(),
            identity.expires_at(),
        ))
        .await
        .unwrap();
    let err = verifier
        .verify::<serde_json::Value>(&token)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "revoked");
}
