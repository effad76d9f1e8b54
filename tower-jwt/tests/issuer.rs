//! Issued tokens: exact header and claims, refresh rotation with reuse detection, logout,
//! key rotation, the refresh cookie.
#![cfg(feature = "issuing")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tower_jwt::issuer::{
    Grant, MemoryRefreshFamilyStore, RefreshError, SigningKey, TokenIssuer, TokenPair,
};
use tower_jwt::revocation::{RevocationStatus, TokenRef};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn es256(kid: &str) -> SigningKey {
    SigningKey::es256_pem(kid, include_bytes!("issuer_keys/ec.pem")).unwrap()
}

fn issuer_with(key: SigningKey) -> TokenIssuer {
    TokenIssuer::builder(ISS, AUD, key).build().unwrap()
}

/// jsonwebtoken's strict validation for an access token of this issuer.
fn access_validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation
}

fn jwks_key(issuer: &TokenIssuer, kid: &str) -> DecodingKey {
    let set: JwkSet = serde_json::from_value(issuer.jwks()).unwrap();
    let jwk = set.find(kid).expect("kid published in the JWKS");
    DecodingKey::from_jwk(jwk).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn access_token_header_and_claims_are_exactly_as_specified() {
    let issuer = issuer_with(es256("ec-1"));
    let grant = Grant::new("alice")
        .scope(["orders:read", "orders:write"])
        .claim("tenant", "acme")
        .unwrap();
    let before = unix_now();
    let token = issuer.issue_access(&grant).unwrap();

    let header = jsonwebtoken::decode_header(token.as_str()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some("ec-1"));

    let data = jsonwebtoken::decode::<Value>(
        token.as_str(),
        &jwks_key(&issuer, "ec-1"),
        &access_validation(Algorithm::ES256),
    )
    .unwrap();
    let claims = data.claims.as_object().unwrap();
    let names: BTreeSet<&str> = claims.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope", "tenant"
        ])
    );
    assert_eq!(claims["iss"], ISS);
    assert_eq!(claims["aud"], AUD);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "orders:read orders:write");
    assert_eq!(claims["tenant"], "acme");
    let iat = claims["iat"].as_u64().unwrap();
    assert!((before..=unix_now()).contains(&iat));
    assert_eq!(claims["nbf"].as_u64(), Some(iat));
    assert_eq!(
        claims["exp"].as_u64(),
        Some(iat + 15 * 60),
        "default lifetime 15 min"
    );
    let jti = uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
    assert_eq!(jti.get_version_num(), 4);
    assert_eq!(token.jti(), jti.to_string());
    assert!(token.expires_in() <= 900 && token.expires_in() >= 898);
    assert!(
        !format!("{token:?}").contains(token.as_str()),
        "Debug redacts the token"
    );

    // Two tokens never share a jti.
    let other = issuer.issue_access(&grant).unwrap();
    assert_ne!(other.jti(), token.jti());
}

#[tokio::test]
async fn a_refresh_token_never_passes_as_an_access_token() {
    let issuer = issuer_with(es256("ec-1"));
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();

    let header = jsonwebtoken::decode_header(pair.refresh.as_str()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("rt+jwt"));
    let err = jsonwebtoken::decode::<Value>(
        pair.refresh.as_str(),
        &jwks_key(&issuer, "ec-1"),
        &access_validation(Algorithm::ES256),
    )
    .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidAudience);

    // Its own audience and lifetime (7 days) and the family id.
    let mut validation = access_validation(Algorithm::ES256);
    validation.set_audience(&[issuer.refresh_audience()]);
    let data = jsonwebtoken::decode::<Value>(
        pair.refresh.as_str(),
        &jwks_key(&issuer, "ec-1"),
        &validation,
    )
    .unwrap();
    assert_eq!(data.claims["aud"], ISS);
    assert_eq!(data.claims["fid"], pair.family.as_str());
    let iat = data.claims["iat"].as_u64().unwrap();
    assert_eq!(data.claims["exp"].as_u64(), Some(iat + 7 * 24 * 3600));

    // And the issuer refuses an access token where a refresh token is meant.
    let err = issuer.refresh(pair.access.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Invalid));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let issuer = issuer_with(SigningKey::hs256("hs-1", SECRET).unwrap());
    let grant = Grant::new("alice")
        .scope(["read"])
        .claim("tenant", "acme")
        .unwrap();
    let first = issuer.issue(&grant).await.unwrap();

    let second = issuer.refresh(first.refresh.as_str()).await.unwrap();
    assert_eq!(second.family, first.family);
    assert_ne!(second.refresh.jti(), first.refresh.jti());
    // The renewed access token keeps the subject, scope and extra claims.
    let claims = decode_hs256(&second);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["scope"], "read");
    assert_eq!(claims["tenant"], "acme");

    let third = issuer.refresh(second.refresh.as_str()).await.unwrap();

    // Replaying the first (already used) token: refused, family revoked.
    let err = issuer.refresh(first.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Reused));
    // The current successor stops working too.
    let err = issuer.refresh(third.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked));
    let status = auth_core::AuthError::from(err).status();
    assert_eq!(status, http::StatusCode::UNAUTHORIZED);

    // Another login of the same user is a separate family and still works.
    let other = issuer.issue(&grant).await.unwrap();
    issuer.refresh(other.refresh.as_str()).await.unwrap();
}

fn decode_hs256(pair: &TokenPair) -> Value {
    let mut validation = access_validation(Algorithm::HS256);
    validation.leeway = 5;
    jsonwebtoken::decode::<Value>(
        pair.access.as_str(),
        &DecodingKey::from_secret(SECRET).unwrap(),
        &validation,
    )
    .unwrap()
    .claims
}

#[tokio::test]
async fn concurrent_use_of_one_refresh_token_succeeds_once() {
    let issuer = issuer_with(SigningKey::hs256("hs-1", SECRET).unwrap());
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    let token = pair.refresh.as_str().to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let issuer = issuer.clone();
            let token = token.clone();
            tokio::spawn(async move { issuer.refresh(&token).await.is_ok() })
        })
        .collect();
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.unwrap());
    }
    assert_eq!(successes, 1);
}

#[tokio::test]
async fn tampered_foreign_and_oversized_refresh_tokens_are_invalid() {
    let issuer = issuer_with(SigningKey::hs256("hs-1", SECRET).unwrap());
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    let token = pair.refresh.as_str();

    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);
    let foreign = TokenIssuer::builder(
        ISS,
        AUD,
        SigningKey::hs256("hs-1", b"another secret, also 32 bytes long").unwrap(),
    )
    .build()
    .unwrap()
    .issue(&Grant::new("alice"))
    .await
    .unwrap();
    let oversized = "a".repeat(9000);
    for bad in [
        tampered.as_str(),
        foreign.refresh.as_str(),
        oversized.as_str(),
        "",
        "a.b.c",
    ] {
        let err = issuer.refresh(bad).await.unwrap_err();
        assert!(matches!(err, RefreshError::Invalid), "{err:?}");
        assert_eq!(
            auth_core::AuthError::from(err).status(),
            http::StatusCode::UNAUTHORIZED
        );
    }
    // The genuine token was not consumed by those attempts.
    issuer.refresh(token).await.unwrap();
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let issuer = TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
        .refresh_lifetime(Duration::from_secs(1))
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = issuer.refresh(pair.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Invalid));
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_family() {
    let issuer = issuer_with(es256("ec-1"));
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    let store = issuer.revocation_store();
    let access = TokenRef {
        issuer: ISS,
        jti: Some(pair.access.jti()),
        subject: "alice",
        issued_at: SystemTime::now(),
    };
    assert_eq!(store.check(&access), RevocationStatus::Active);

    issuer
        .logout(Some(pair.access.as_str()), Some(pair.refresh.as_str()))
        .await
        .unwrap();
    assert_eq!(store.check(&access), RevocationStatus::Revoked);
    let err = issuer.refresh(pair.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked));

    // A token that is not ours is refused at logout, not silently ignored.
    let err = issuer.logout(Some("a.b.c"), None).await.unwrap_err();
    assert!(matches!(err, RefreshError::Invalid));
    // A refresh token offered as the access token is refused (wrong typ and aud).
    let fresh = issuer.issue(&Grant::new("alice")).await.unwrap();
    let err = issuer
        .logout(Some(fresh.refresh.as_str()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Invalid));
}

#[tokio::test]
async fn logout_everywhere_revokes_every_earlier_token_of_the_subject() {
    let issuer = issuer_with(SigningKey::hs256("hs-1", SECRET).unwrap());
    let first = issuer.issue(&Grant::new("alice")).await.unwrap();
    let second = issuer.issue(&Grant::new("alice")).await.unwrap();
    let bob = issuer.issue(&Grant::new("bob")).await.unwrap();
    // iat has one-second granularity: tokens of the same second as the logout are revoked too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    issuer.logout_everywhere("alice").await.unwrap();

    for pair in [&first, &second] {
        let err = issuer.refresh(pair.refresh.as_str()).await.unwrap_err();
        assert!(matches!(err, RefreshError::Revoked));
    }
    issuer.refresh(bob.refresh.as_str()).await.unwrap();
    let store = issuer.revocation_store();
    let earlier = TokenRef {
        issuer: ISS,
        jti: Some(first.access.jti()),
        subject: "alice",
        issued_at: first.access.expires_at() - Duration::from_secs(900),
    };
    assert_eq!(store.check(&earlier), RevocationStatus::Revoked);

    // A login after the logout works.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = issuer.issue(&Grant::new("alice")).await.unwrap();
    issuer.refresh(again.refresh.as_str()).await.unwrap();
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifiable() {
    let rsa = SigningKey::rs256_pem("rsa-1", include_bytes!("issuer_keys/rsa.pem")).unwrap();
    let issuer = TokenIssuer::builder(ISS, AUD, rsa)
        .family_store(Arc::new(MemoryRefreshFamilyStore::new()))
        .build()
        .unwrap();
    let old = issuer.issue(&Grant::new("alice")).await.unwrap();

    let ed = SigningKey::eddsa_pem("ed-2", include_bytes!("issuer_keys/ed25519.pem")).unwrap();
    issuer.rotate_key(ed).unwrap();
    let new = issuer.issue_access(&Grant::new("alice")).unwrap();
    let header = jsonwebtoken::decode_header(new.as_str()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("ed-2"));
    assert_eq!(header.alg, Algorithm::EdDSA);

    // Both public keys are published, with kid, alg and use; no private member.
    let jwks = issuer.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "no private part");
    }
    assert_eq!(keys[0]["kid"], "ed-2");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[1]["kid"], "rsa-1");
    assert_eq!(keys[1]["alg"], "RS256");

    // The old access token still verifies with the published old key, the new with the new.
    jsonwebtoken::decode::<Value>(
        old.access.as_str(),
        &jwks_key(&issuer, "rsa-1"),
        &access_validation(Algorithm::RS256),
    )
    .unwrap();
    jsonwebtoken::decode::<Value>(
        new.as_str(),
        &jwks_key(&issuer, "ed-2"),
        &access_validation(Algorithm::EdDSA),
    )
    .unwrap();
    // The old refresh token (signed by rsa-1) still refreshes; the new pair is signed by ed-2.
    let renewed = issuer.refresh(old.refresh.as_str()).await.unwrap();
    let header = jsonwebtoken::decode_header(renewed.refresh.as_str()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("ed-2"));

    // Reusing a live kid is refused.
    let dup = SigningKey::hs256("rsa-1", SECRET).unwrap();
    assert!(issuer.rotate_key(dup).is_err());
}

#[tokio::test]
async fn a_retired_key_past_its_deadline_is_dropped() {
    let old_key = SigningKey::hs256("hs-old", SECRET).unwrap();
    let old_issuer = issuer_with(old_key.clone());
    let old = old_issuer.issue(&Grant::new("alice")).await.unwrap();

    let past = SystemTime::now() - Duration::from_secs(1);
    let issuer = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
        .retired_key(old_key, past)
        .build()
        .unwrap();
    let err = issuer
        .logout(Some(old.access.as_str()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Invalid));
    // HMAC secrets are never published; the expired key is gone anyway.
    assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 1);
    assert!(old_issuer.jwks()["keys"].as_array().unwrap().is_empty());
}

#[test]
fn weak_or_clashing_configuration_is_refused() {
    let weak = SigningKey::rs256_pem("rsa", include_bytes!("issuer_keys/rsa1024.pem")).unwrap_err();
    assert_eq!(weak.kind(), auth_core::ConfigErrorKind::WeakKey);
    let short = SigningKey::hs256("hs", b"too short").unwrap_err();
    assert_eq!(short.kind(), auth_core::ConfigErrorKind::WeakKey);

    let err = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
        .refresh_audience(AUD)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "refresh_audience");
    let err = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
        .leeway(Duration::from_secs(301))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "leeway");
    let err = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
        .retired_key(es256("ec-1"), SystemTime::now() + Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "kid");
    for (access, refresh) in [
        (Duration::MAX, Duration::from_secs(60)),
        (
            Duration::from_secs(60),
            tower_jwt::issuer::MAX_LIFETIME + Duration::from_secs(1),
        ),
    ] {
        let err = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
            .access_lifetime(access)
            .refresh_lifetime(refresh)
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "lifetime");
    }
    assert!(Grant::new("alice").claim("aud", "x").is_err());
    assert!(Grant::new("alice").claim("jti", "x").is_err());
}

#[tokio::test]
async fn the_refresh_cookie_is_locked_down() {
    let issuer = issuer_with(es256("ec-1"));
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    let cookie = issuer.refresh_cookie(&pair.refresh);
    let header = cookie.to_string();
    assert!(header.starts_with(&format!("__Host-refresh_token={}", pair.refresh.as_str())));
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/;",
        "Max-Age=604800",
    ] {
        assert!(header.contains(attribute), "{attribute} missing");
    }
    assert!(!header.contains("Domain"));
    // Browsers refuse a __Host- cookie with another path: so does the builder.
    let err = TokenIssuer::builder(ISS, AUD, es256("ec-1"))
        .refresh_cookie(tower_jwt::issuer::RefreshCookie::new().path("/auth"))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "refresh_cookie");
}
