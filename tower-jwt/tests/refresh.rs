//! Refresh tokens go through the crate's one strict verification path: every rule an access
//! token gets (header, time claims and their bounds, `jti`, audience, revocation) holds for
//! a refresh token too, with its own `typ` and audience. A refresh family lives at most its
//! lifetime from the login, a regrant hook decides the scopes of every refresh, and the
//! memory family store is bounded.
#![cfg(feature = "issuing")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use async_trait::async_trait;
use auth_core::{AuthError, StoreError, StoreErrorKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tower_jwt::issuer::{
    Grant, IssueError, MemoryRefreshFamilyStore, RefreshError, RefreshFamilyStore, Rotation,
    SigningKey, TokenIssuer,
};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn issuer() -> TokenIssuer {
    TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
        .build()
        .unwrap()
}

fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
}

/// The decoded header and payload of `token`, as JSON text.
fn parts(token: &str) -> (String, String) {
    let mut parts = token.split('.');
    let mut next = || String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap());
    (next().unwrap(), next().unwrap())
}

/// `header` and `payload` (JSON text) signed with the issuer's own secret.
fn signed(header: &str, payload: &str) -> String {
    tower_jwt::ensure_crypto_backend().unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET).unwrap(),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{signature}")
}

/// `token` with its claims edited, re-signed with the issuer's secret.
fn edited(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (header, payload) = parts(token);
    let mut claims: Value = serde_json::from_str(&payload).unwrap();
    edit(&mut claims);
    signed(&header, &claims.to_string())
}

#[tokio::test]
async fn refresh_tokens_get_every_rule_access_tokens_get() {
    let issuer = issuer();
    let login = issuer.issue(&Grant::new("alice")).await.unwrap();
    let genuine = login.refresh.as_str();
    let (header, payload) = parts(genuine);
    // A re-signed copy of the genuine token still refreshes: the edits below are what is
    // refused, not the re-signing.
    assert_eq!(signed(&header, &payload), genuine);

    let hostile = [
        // Issued a year in the future (jsonwebtoken's `Validation` never looks at `iat`).
        edited(genuine, |c| c["iat"] = json!(now() + 365 * 24 * 3600)),
        // A NumericDate beyond the year 9999.
        edited(genuine, |c| c["exp"] = json!(1e300)),
        // A duplicated claim: serde_json keeps the last one, this crate refuses the token.
        signed(&header, &payload.replacen('{', r#"{"sub":"mallory","#, 1)),
        // `iss` as an array holding the issuer.
        edited(genuine, |c| c["iss"] = json!([ISS])),
        // A critical header extension this crate does not understand.
        signed(
            &header.replacen('{', r#"{"crit":["exp"],"exp":1,"#, 1),
            &payload,
        ),
        // No `jti`, or an empty one.
        edited(genuine, |c| {
            c.as_object_mut().unwrap().remove("jti");
        }),
        edited(genuine, |c| c["jti"] = json!("")),
        // The access tokens' audience.
        edited(genuine, |c| c["aud"] = json!(AUD)),
    ];
    for token in &hostile {
        let err = issuer.refresh(token).await.unwrap_err();
        assert!(matches!(err, RefreshError::Invalid), "{err:?}: {token}");
        let err = issuer.logout(None, Some(token)).await.unwrap_err();
        assert!(matches!(err, RefreshError::Invalid), "{err:?}: {token}");
    }
    // None of those consumed or revoked the family.
    issuer.refresh(genuine).await.unwrap();
}

#[tokio::test]
async fn a_revoked_refresh_token_is_refused_by_the_verifier() {
    let issuer = issuer();
    let login = issuer.issue(&Grant::new("alice")).await.unwrap();
    let store = issuer.revocation_store();
    store
        .revoke(tower_jwt::revocation::Revocation::token(
            ISS,
            login.refresh.jti(),
            login.refresh.expires_at(),
        ))
        .await
        .unwrap();
    let err = issuer.refresh(login.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    // Logging out with a revoked token is not an error: there is nothing left to revoke.
    issuer
        .logout(None, Some(login.refresh.as_str()))
        .await
        .unwrap();
}

#[test]
fn the_revocation_store_must_keep_revocations_for_the_issuers_leeway() {
    let store = std::sync::Arc::new(tower_jwt::revocation::MemoryRevocationStore::new());
    let err = TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
        .leeway(std::time::Duration::from_secs(300))
        .revocation_store(store.clone())
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "revocation");
    assert!(
        TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
            .revocation_store(store)
            .build()
            .is_ok()
    );
}

/// The claims of `token`, unverified (the tokens come from the issuer under test).
fn claims_of(token: &str) -> Value {
    serde_json::from_str(&parts(token).1).unwrap()
}

#[tokio::test]
async fn a_family_lives_at_most_its_lifetime_from_the_login() {
    let builder = || TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap());
    let issuer = builder()
        .family_lifetime(std::time::Duration::from_secs(3600))
        .build()
        .unwrap();
    let login = issuer.issue(&Grant::new("alice")).await.unwrap();
    let first = claims_of(login.refresh.as_str());
    let auth_time = first["auth_time"].as_i64().unwrap();
    assert!((now() - 2..=now()).contains(&auth_time));
    // No refresh token outlives its family (the refresh lifetime is 7 days).
    assert_eq!(first["exp"].as_i64(), Some(auth_time + 3600));
    let renewed = issuer.refresh(login.refresh.as_str()).await.unwrap();
    let second = claims_of(renewed.refresh.as_str());
    assert_eq!(
        second["auth_time"].as_i64(),
        Some(auth_time),
        "kept across rotations"
    );
    assert_eq!(second["exp"].as_i64(), Some(auth_time + 3600));

    // An issuer now configured with a shorter family lifetime refuses older families.
    let strict = builder()
        .family_lifetime(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let err = strict.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::SessionExpired), "{err:?}");
    let refusal = auth_core::AuthError::from(err);
    assert_eq!(refusal.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(refusal.reason(), "session_expired");
    // The default is 30 days.
    let default = builder().build().unwrap();
    let login = default.issue(&Grant::new("alice")).await.unwrap();
    let claims = claims_of(login.refresh.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7 * 24 * 3600
    );
    let err = builder()
        .family_lifetime(std::time::Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "lifetime");
}

#[tokio::test]
async fn the_regrant_hook_decides_the_scopes_of_every_refresh() {
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Per subject: the scopes granted now, `None` for a disabled user; an "outage" switch.
    type Grants = Arc<Mutex<(HashMap<String, Option<Vec<String>>>, bool)>>;
    let grants: Grants = Arc::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let issuer = {
        let (grants, seen) = (grants.clone(), seen.clone());
        TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
            .regrant(move |request| {
                seen.lock().unwrap().push(request.clone());
                let (grants, outage) = &*grants.lock().unwrap();
                let answer = if *outage {
                    Err(RefreshError::Unavailable(StoreError::unavailable(
                        "user directory",
                    )))
                } else {
                    match grants.get(&request.subject) {
                        Some(Some(scopes)) => Ok(scopes.clone()),
                        _ => Err(RefreshError::Denied),
                    }
                };
                async move { answer }
            })
            .build()
            .unwrap()
    };
    let set = |subject: &str, scopes: Option<&[&str]>| {
        let scopes = scopes.map(|s| s.iter().map(|s| (*s).to_owned()).collect());
        grants.lock().unwrap().0.insert(subject.to_owned(), scopes);
    };
    set("alice", Some(&["read"]));
    let login = issuer
        .issue(&Grant::new("alice").scope(["read", "write"]))
        .await
        .unwrap();

    // The hook is asked with the token's scopes and answers what is granted now.
    let renewed = issuer.refresh(login.refresh.as_str()).await.unwrap();
    assert_eq!(claims_of(renewed.access.as_str())["scope"], "read");
    assert_eq!(claims_of(renewed.refresh.as_str())["scope"], "read");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].subject, "alice");
        assert_eq!(seen[0].scopes, ["read", "write"]);
        assert_eq!(seen[0].family, login.family);
    }

    // The directory is down: 503, nothing consumed, the same token works afterwards.
    grants.lock().unwrap().1 = true;
    let err = issuer.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Unavailable(_)), "{err:?}");
    grants.lock().unwrap().1 = false;
    let renewed = issuer.refresh(renewed.refresh.as_str()).await.unwrap();

    // Alice is disabled: refused, and the login is revoked for good.
    set("alice", None);
    let err = issuer.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Denied), "{err:?}");
    assert_eq!(
        auth_core::AuthError::from(err).status(),
        http::StatusCode::UNAUTHORIZED
    );
    set("alice", Some(&["read"]));
    let err = issuer.refresh(renewed.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
}

#[tokio::test]
async fn a_full_family_store_refuses_the_dropped_logins_refresh_tokens() {
    let families = MemoryRefreshFamilyStore::builder()
        .max_families(2)
        .build()
        .unwrap();
    let issuer = TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
        .family_store(Arc::new(families.clone()))
        .build()
        .unwrap();
    let first = issuer.issue(&Grant::new("alice")).await.unwrap();
    let second = issuer.issue(&Grant::new("bob")).await.unwrap();
    let third = issuer.issue(&Grant::new("carol")).await.unwrap();
    assert_eq!(families.len(), 2);
    // The first login was dropped to make room: its token is refused, never accepted.
    let err = issuer.refresh(first.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    issuer.refresh(second.refresh.as_str()).await.unwrap();
    issuer.refresh(third.refresh.as_str()).await.unwrap();
}

#[tokio::test]
async fn a_retired_key_stops_verifying_at_its_deadline() {
    let old_key = SigningKey::hs256("hs-old", SECRET).unwrap();
    let old = TokenIssuer::builder(ISS, AUD, old_key.clone())
        .build()
        .unwrap()
        .issue(&Grant::new("alice"))
        .await
        .unwrap();
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_millis(1500);
    let issuer = TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-new", SECRET).unwrap())
        .retired_key(old_key, deadline)
        .build()
        .unwrap();
    // Before its deadline the retired key still verifies (the family is unknown here).
    let err = issuer.refresh(old.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let err = issuer.refresh(old.refresh.as_str()).await.unwrap_err();
    assert!(matches!(err, RefreshError::Invalid), "{err:?}");
    let err = issuer
        .logout(Some(old.access.as_str()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Invalid), "{err:?}");
}

/// A memory family store whose backend can be switched off: every call then fails as a
/// store that cannot be reached.
struct SwitchedFamilies {
    inner: MemoryRefreshFamilyStore,
    down: AtomicBool,
}

impl SwitchedFamilies {
    fn reachable(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("connection refused by 10.0.0.7"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl RefreshFamilyStore for SwitchedFamilies {
    async fn start(&self, family: &str, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        self.reachable()?;
        self.inner.start(family, jti, until).await
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        until: SystemTime,
    ) -> Result<Rotation, StoreError> {
        self.reachable()?;
        self.inner.rotate(family, presented, next, until).await
    }

    async fn revoke(&self, family: &str, until: SystemTime) -> Result<(), StoreError> {
        self.reachable()?;
        self.inner.revoke(family, until).await
    }
}

#[tokio::test]
async fn a_family_store_failure_answers_503_and_consumes_nothing() {
    let families = Arc::new(SwitchedFamilies {
        inner: MemoryRefreshFamilyStore::new(),
        down: AtomicBool::new(true),
    });
    let issuer = TokenIssuer::builder(ISS, AUD, SigningKey::hs256("hs-1", SECRET).unwrap())
        .family_store(Arc::clone(&families) as Arc<dyn RefreshFamilyStore>)
        .build()
        .unwrap();

    // A login while the store is down: the store's error, kind and cause kept.
    let err = issuer.issue(&Grant::new("alice")).await.unwrap_err();
    let IssueError::Store(store) = err else {
        panic!("expected a store error, got {err:?}");
    };
    assert_eq!(store.kind(), StoreErrorKind::Unavailable);
    assert!(store.to_string().contains("connection refused"));

    families.down.store(false, Ordering::SeqCst);
    let login = issuer.issue(&Grant::new("alice")).await.unwrap();
    families.down.store(true, Ordering::SeqCst);

    // A refresh and a logout while it is down: 503 through `AuthError::from`, the cause
    // (which could name a host) never in the client's description.
    let err = issuer.refresh(login.refresh.as_str()).await.unwrap_err();
    assert!(
        matches!(&err, RefreshError::Unavailable(e) if e.kind() == StoreErrorKind::Unavailable),
        "{err:?}"
    );
    let refusal = AuthError::from(err);
    assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refusal.reason(), "store_unavailable");
    assert!(!refusal.description().contains("10.0.0.7"));
    let err = issuer
        .logout(None, Some(login.refresh.as_str()))
        .await
        .unwrap_err();
    assert_eq!(
        AuthError::from(err).status(),
        http::StatusCode::SERVICE_UNAVAILABLE
    );

    // Back up: the same refresh token was not consumed by the failed attempts.
    families.down.store(false, Ordering::SeqCst);
    let renewed = issuer.refresh(login.refresh.as_str()).await.unwrap();
    assert_ne!(renewed.refresh.as_str(), login.refresh.as_str());
}
