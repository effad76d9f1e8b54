//! Refresh tokens go through the crate's one strict verification path: every rule an access
//! token gets (header, time claims and their bounds, `jti`, audience, revocation) holds for
//! a refresh token too, with its own `typ` and audience.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tower_jwt::issuer::{Grant, RefreshError, SigningKey, TokenIssuer};

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
