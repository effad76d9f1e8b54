//! SECURITY.md, sections 'JWT verification', 'JWT keys and algorithms' and
//! 'Verified-token cache': each rule as a hostile token, asserting status + challenge.

mod common;

use std::time::Duration;

use auth_core::ConfigErrorKind;
use common::*;
use http::StatusCode;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower_jwt::{IssuerConfig, JwtVerifier, Key};

fn with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut c = claims();
    edit(&mut c);
    sign(&header(Algorithm::HS256), &c)
}

#[tokio::test]
async fn a_valid_token_passes() {
    assert_accepted(hs_verifier(), &token()).await;
}

// SECURITY.md, 'JWT verification': exp is required and checked with a bounded leeway (30 s by
// default, not 60).
#[tokio::test]
async fn expired_and_missing_exp_are_refused() {
    let expired = with(|c| c["exp"] = json!(now() - 31));
    assert_refused(hs_verifier(), &expired, "the token has expired").await;
    let within_leeway = with(|c| c["exp"] = json!(now() - 20));
    assert_accepted(hs_verifier(), &within_leeway).await;
    let no_exp = with(|c| c.as_object_mut().unwrap().remove("exp").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_exp, "the token lacks the `exp` claim").await;
    let strict = verifier(issuer(verification_key(Algorithm::HS256)).leeway(Duration::ZERO));
    assert_refused(strict, &within_leeway, "the token has expired").await;
}

// SECURITY.md, 'JWT verification': nbf is checked (and required by default).
#[tokio::test]
async fn nbf_in_the_future_or_missing_is_refused() {
    let future = with(|c| c["nbf"] = json!(now() + 3600));
    assert_refused(hs_verifier(), &future, "the token is not valid yet").await;
    let no_nbf = with(|c| c.as_object_mut().unwrap().remove("nbf").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_nbf, "the token lacks the `nbf` claim").await;
    let lax = verifier(issuer(verification_key(Algorithm::HS256)).allow_missing_nbf());
    assert_accepted(lax.clone(), &no_nbf).await;
    assert_refused(lax, &future, "the token is not valid yet").await;
}

// SECURITY.md, 'JWT verification': iat is required, not in the future, and bounded by an
// optional maximum age.
#[tokio::test]
async fn iat_in_the_future_missing_or_too_old_is_refused() {
    let future = with(|c| c["iat"] = json!(now() + 3600));
    assert_refused(hs_verifier(), &future, "the token was issued in the future").await;
    let no_iat = with(|c| c.as_object_mut().unwrap().remove("iat").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_iat, "the token lacks the `iat` claim").await;
    let old = with(|c| c["iat"] = json!(now() - 7200));
    assert_accepted(hs_verifier(), &old).await;
    let max_age =
        verifier(issuer(verification_key(Algorithm::HS256)).max_age(Duration::from_secs(3600)));
    assert_refused(max_age, &old, "the token is too old").await;
}

// SECURITY.md, 'JWT verification': aud and iss absent from the token are refused, as is a
// foreign audience.
#[tokio::test]
async fn absent_or_wrong_aud_and_iss_are_refused() {
    let no_aud = with(|c| c.as_object_mut().unwrap().remove("aud").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_aud, "the token lacks the `aud` claim").await;
    let no_iss = with(|c| c.as_object_mut().unwrap().remove("iss").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_iss, "the token lacks the `iss` claim").await;
    let no_sub = with(|c| c.as_object_mut().unwrap().remove("sub").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_sub, "the token lacks the `sub` claim").await;
    let empty_sub = with(|c| c["sub"] = json!(""));
    assert_refused(hs_verifier(), &empty_sub, "the token lacks the `sub` claim").await;
    let other_aud = with(|c| c["aud"] = json!(["other-api"]));
    assert_refused(
        hs_verifier(),
        &other_aud,
        "the token is not meant for this audience",
    )
    .await;
    let many_aud = with(|c| c["aud"] = json!(["other-api", AUD]));
    assert_accepted(hs_verifier(), &many_aud).await;
    let other_iss = with(|c| c["iss"] = json!("https://evil.test"));
    assert_refused(
        hs_verifier(),
        &other_iss,
        "the token's issuer is not trusted",
    )
    .await;
    let prefix_iss = with(|c| c["iss"] = json!("https://issuer.test/"));
    assert_refused(
        hs_verifier(),
        &prefix_iss,
        "the token's issuer is not trusted",
    )
    .await;
}

// A token naming a session rather than a user (an OpenID Connect logout token) may leave out
// `sub` only where that is configured, and never where access tokens are verified.
#[tokio::test]
async fn sub_may_be_left_out_only_by_a_non_access_token_configuration() {
    let mut logout = header(Algorithm::HS256);
    logout.typ = Some("logout+jwt".into());
    let sign_logout = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut c = claims();
        edit(&mut c);
        sign(&logout, &c)
    };
    let no_sub = sign_logout(&|c| {
        c.as_object_mut().unwrap().remove("sub");
    });
    let empty_sub = sign_logout(&|c| c["sub"] = json!(""));
    let strict = verifier(issuer(verification_key(Algorithm::HS256)).typ("logout+jwt"));
    assert_refused(strict, &no_sub, "the token lacks the `sub` claim").await;

    let lax = verifier(
        issuer(verification_key(Algorithm::HS256))
            .typ("logout+jwt")
            .allow_missing_sub(),
    );
    for token in [&no_sub, &empty_sub] {
        let verified = lax.verify::<serde_json::Value>(token).await.unwrap();
        assert_eq!(verified.subject(), "");
    }
    // Every other rule still holds.
    let expired = sign_logout(&|c| {
        c.as_object_mut().unwrap().remove("sub");
        c["exp"] = json!(now() - 60);
    });
    assert_eq!(
        lax.verify::<serde_json::Value>(&expired)
            .await
            .unwrap_err()
            .description(),
        "the token has expired"
    );

    for builder in [
        issuer(verification_key(Algorithm::HS256)).allow_missing_sub(),
        issuer(verification_key(Algorithm::HS256))
            .typ("logout+jwt")
            .accept_typ("at+jwt")
            .allow_missing_sub(),
    ] {
        let err = builder.build().unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidValue);
        assert_eq!(err.field(), "allow_missing_sub");
    }
}

#[test]
fn an_audience_is_required_at_construction() {
    let err = IssuerConfig::builder(ISS)
        .key(verification_key(Algorithm::HS256))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::Missing);
    assert_eq!(err.field(), "audience");
}

// SECURITY.md, 'JWT verification': iss must be a string: an array containing the issuer is
// refused.
#[tokio::test]
async fn iss_as_an_array_is_refused() {
    let array = with(|c| c["iss"] = json!([ISS]));
    assert_refused(hs_verifier(), &array, "the token is malformed").await;
}

// SECURITY.md, 'JWT verification': typ: refresh and ID tokens are refused where access tokens
// are meant.
#[tokio::test]
async fn typ_is_checked() {
    for typ in [Some("refresh+jwt"), Some("JWT"), Some("id+jwt"), None] {
        let mut h = header(Algorithm::HS256);
        h.typ = typ.map(str::to_owned);
        assert_refused(
            hs_verifier(),
            &sign(&h, &claims()),
            "the token's type (`typ` header) is not accepted here: expected `at+jwt`",
        )
        .await;
    }
    let mut h = header(Algorithm::HS256);
    h.typ = Some("application/AT+JWT".to_owned());
    assert_accepted(hs_verifier(), &sign(&h, &claims())).await;

    // ID-token preset: `JWT` or no typ.
    let id = verifier(
        IssuerConfig::id_tokens(ISS, AUD).key(verification_key(Algorithm::HS256).with_kid("k1")),
    );
    h.typ = None;
    assert_accepted(id.clone(), &sign(&h, &claims())).await;
    h.typ = Some("JWT".to_owned());
    assert_accepted(id.clone(), &sign(&h, &claims())).await;
    h.typ = Some("at+jwt".to_owned());
    assert_refused(
        id,
        &sign(&h, &claims()),
        "the token's type (`typ` header) is not accepted here: expected `jwt`",
    )
    .await;
}

// SECURITY.md, 'JWT keys and algorithms': one key, one algorithm: a PS256 token does not pass
// an RS256 key.
#[tokio::test]
async fn the_algorithm_is_pinned_per_key() {
    let rs256 = verifier(issuer(verification_key(Algorithm::RS256)));
    assert_accepted(rs256.clone(), &sign(&header(Algorithm::RS256), &claims())).await;
    let ps256 = sign(&header(Algorithm::PS256), &claims());
    assert_refused(
        rs256.clone(),
        &ps256,
        "the token's algorithm is not accepted",
    )
    .await;
    let rs512 = sign(&header(Algorithm::RS512), &claims());
    assert_refused(rs256, &rs512, "the token's algorithm is not accepted").await;
    // ES384 token against an ES256 key.
    let es = verifier(issuer(verification_key(Algorithm::ES256)));
    assert_refused(
        es,
        &sign(&header(Algorithm::ES384), &claims()),
        "the token's algorithm is not accepted",
    )
    .await;
}

#[test]
fn jwk_alg_use_and_key_ops_are_honoured() {
    let pem_key = Key::rsa_pem(Algorithm::RS256, RSA_PUB).unwrap();
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &encoding_key(Algorithm::RS256),
        Algorithm::RS256,
    )
    .unwrap();
    let mut value = serde_json::to_value(&jwk).unwrap();
    assert_eq!(
        Key::from_jwk_value(&value).unwrap().algorithm(),
        pem_key.algorithm()
    );
    value["use"] = json!("enc");
    assert!(Key::from_jwk_value(&value).is_err());
    value.as_object_mut().unwrap().remove("use");
    value["key_ops"] = json!(["encrypt"]);
    assert!(Key::from_jwk_value(&value).is_err());
    value["key_ops"] = json!(["verify"]);
    value["alg"] = json!("ES256");
    assert!(Key::from_jwk_value(&value).is_err());
    value["alg"] = json!("PS256");
    assert_eq!(
        Key::from_jwk_value(&value).unwrap().algorithm(),
        Algorithm::PS256
    );
}

// SECURITY.md, 'JWT verification': size: the credential length is capped before any decoding.
#[tokio::test]
async fn huge_tokens_and_huge_kids_are_refused() {
    let huge = with(|c| c["pad"] = json!("x".repeat(11 * 1024 * 1024)));
    let err = hs_verifier()
        .verify::<serde_json::Value>(&huge)
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.reason()),
        (StatusCode::UNAUTHORIZED, "too_long")
    );
    let mut h = header(Algorithm::HS256);
    h.kid = Some("k".repeat(1024 * 1024));
    let big_kid = sign(&h, &claims());
    let err = hs_verifier()
        .verify::<serde_json::Value>(&big_kid)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "too_long");
    // Through the layer: a 9 KiB token is refused at extraction.
    let padded = with(|c| c["pad"] = json!("x".repeat(9 * 1024)));
    let outcome = call(layer(hs_verifier()), Some(&padded)).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert!(
        outcome
            .challenge
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
    // A smaller cap is honoured.
    let small = JwtVerifier::builder()
        .issuer(issuer(verification_key(Algorithm::HS256)).build().unwrap())
        .max_token_length(100)
        .build()
        .unwrap();
    assert_refused(small, &token(), "the token is too long").await;
}

// SECURITY.md, 'JWT keys and algorithms': HMAC secrets shorter than the hash output are refused
// at construction.
#[test]
fn short_hmac_secrets_are_refused() {
    for (alg, len) in [
        (Algorithm::HS256, 32),
        (Algorithm::HS384, 48),
        (Algorithm::HS512, 64),
    ] {
        let err = Key::hmac(alg, &vec![7u8; len - 1]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
        assert!(Key::hmac(alg, &vec![7u8; len]).is_ok());
    }
    let err = IssuerConfig::builder(ISS)
        .audience(AUD)
        .hmac_secret(&[7u8; 31])
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
    assert_eq!(
        Key::hmac(Algorithm::RS256, &[7u8; 64]).unwrap_err().kind(),
        ConfigErrorKind::InvalidValue
    );
}

/// The identity a request with `token` produced (kept alive: equal claim addresses mean a
/// shared cache entry).
async fn identity(layer: tower_jwt::JwtLayer, token: &str) -> tower_jwt::Claims {
    use tower::{ServiceBuilder, ServiceExt, service_fn};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = seen.clone();
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(move |req: http::Request<()>| {
                *out.lock().unwrap() = req.extensions().get::<tower_jwt::Claims>().cloned();
                async { Ok::<_, std::convert::Infallible>(http::Response::new(String::new())) }
            }));
    let request = http::Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let status = svc.oneshot(request).await.unwrap().status();
    assert_eq!(status, StatusCode::OK);
    seen.lock().unwrap().take().unwrap()
}

/// The order n of P-256.
const P256_N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// `n - s` for a 32-byte big-endian `s`: the other valid ECDSA signature.
fn negate(s: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut v = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(v < 0);
        if v < 0 {
            v += 256;
        }
        out[i] = u8::try_from(v).unwrap();
    }
    out
}

// SECURITY.md, 'Verified-token cache' and 'Revocation': ECDSA malleability. The cache never
// answers for other bytes than it verified, and revocation keys on iss + jti, so a malleated
// twin is revoked with its original.
#[tokio::test]
async fn malleated_signatures_neither_hit_the_cache_nor_escape_revocation() {
    let store = std::sync::Arc::new(TestRevocations::default());
    let v = JwtVerifier::builder()
        .issuer(issuer(verification_key(Algorithm::ES256)).build().unwrap())
        .revocation(store.clone())
        .build()
        .unwrap();
    let layer = layer(v);
    let original = sign(&header(Algorithm::ES256), &claims());
    let (input, sig) = original.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let twin_sig = [&sig[..32], &negate(&sig[32..])[..]].concat();
    let twin = format!("{input}.{}", b64(&twin_sig));
    assert_ne!(twin, original);

    let first = identity(layer.clone(), &original).await;
    let again = identity(layer.clone(), &original).await;
    assert!(
        std::ptr::eq(first.claims(), again.claims()),
        "the original is a cache hit"
    );
    // The twin is a different cache key: it is verified on its own (high-S is a valid ECDSA
    // signature for both backends), never answered from the original's entry.
    let twin_identity = identity(layer.clone(), &twin).await;
    assert!(
        !std::ptr::eq(first.claims(), twin_identity.claims()),
        "the twin was verified anew"
    );
    // A re-encoding of the cached token's signature (non-canonical trailing bits) is not
    // a cache hit: it is decoded strictly and refused.
    let last = original.chars().last().unwrap();
    let bumped = match last {
        'A' => 'B',
        'E' => 'F',
        _ => char::from(u8::try_from(u32::from(last) ^ 1).unwrap()),
    };
    let reencoded = format!("{}{bumped}", &original[..original.len() - 1]);
    let outcome = call(layer.clone(), Some(&reencoded)).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED, "{outcome:?}");

    store.revoke("jti-1");
    for t in [&original, &twin] {
        let outcome = call(layer.clone(), Some(t)).await;
        assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            outcome.challenge,
            invalid_token("the token has been revoked")
        );
    }
}

// SECURITY.md, 'JWT verification': leeway is bounded at configuration time (no overflow).
#[test]
fn leeway_is_bounded() {
    for leeway in [Duration::from_secs(301), Duration::from_secs(u64::MAX)] {
        let err = issuer(verification_key(Algorithm::HS256))
            .leeway(leeway)
            .build()
            .unwrap_err();
        assert_eq!(
            (err.kind(), err.field()),
            (ConfigErrorKind::InvalidValue, "leeway")
        );
    }
    assert!(
        issuer(verification_key(Algorithm::HS256))
            .leeway(Duration::from_secs(300))
            .build()
            .is_ok()
    );
}

// SECURITY.md, 'JWT keys and algorithms': a crypto backend is ensured at construction (this
// build has one; without any backend feature the builders return
// `ConfigErrorKind::Unsupported`).
#[test]
fn the_crypto_backend_is_ready_after_construction() {
    let _ = hs_verifier();
    assert!(jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some());
}

// SECURITY.md, 'JWT keys and algorithms': the header only routes (kid): a forged signature
// under a known kid is refused.
#[tokio::test]
async fn kid_routes_but_does_not_verify() {
    let good = token();
    let (input, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{input}.{}", b64(&[0u8; 32]));
    assert_refused(hs_verifier(), &forged, "the token's signature is invalid").await;
    let mut h = header(Algorithm::HS256);
    h.kid = Some("unknown".to_owned());
    assert_refused(
        hs_verifier(),
        &sign(&h, &claims()),
        "the token's signing key is unknown",
    )
    .await;
}

// SECURITY.md, 'JWT keys and algorithms': an RSA JWK whose n has a leading zero octet still
// verifies (normalised).
#[tokio::test]
async fn rsa_leading_zero_is_normalised() {
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &encoding_key(Algorithm::RS256),
        Algorithm::RS256,
    )
    .unwrap();
    let mut value = serde_json::to_value(&jwk).unwrap();
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        value["n"].as_str().unwrap(),
    )
    .unwrap();
    value["n"] = json!(b64(&[&[0u8][..], &n].concat()));
    value["e"] = json!(b64(&[0, 1, 0, 1]));
    value["kid"] = json!("k1");
    let key = Key::from_jwk_value(&value).unwrap();
    assert_accepted(
        verifier(IssuerConfig::builder(ISS).audience(AUD).key(key)),
        &sign(&header(Algorithm::RS256), &claims()),
    )
    .await;
}

// SECURITY.md, 'JWT keys and algorithms': weak RSA keys are refused at construction.
#[test]
fn weak_rsa_keys_are_refused() {
    assert_eq!(
        Key::rsa_pem(Algorithm::RS256, RSA1024_PUB)
            .unwrap_err()
            .kind(),
        ConfigErrorKind::WeakKey
    );
    // A 1024-bit modulus in a JWK, and a 2048-bit one with exponent 1.
    let mut n = vec![0xC3u8; 128];
    n[127] = 0x01;
    let jwk = json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"});
    assert_eq!(
        Key::from_jwk_value(&jwk).unwrap_err().kind(),
        ConfigErrorKind::WeakKey
    );
    let n = vec![0xC3u8; 256];
    let jwk = json!({"kty": "RSA", "n": b64(&n), "e": "AQ"});
    assert_eq!(
        Key::from_jwk_value(&jwk).unwrap_err().kind(),
        ConfigErrorKind::WeakKey
    );
    let jwk = json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"});
    assert!(Key::from_jwk_value(&jwk).is_ok());
}

// SECURITY.md, 'JWT keys and algorithms': refusals jsonwebtoken also makes, kept as tests.
#[tokio::test]
async fn alg_none_and_unknown_algorithms_are_refused() {
    let payload = claims().to_string();
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"at+jwt"}"#),
        b64(payload.as_bytes())
    );
    assert_refused(hs_verifier(), &none, "the token is malformed").await;
    let none_sig = format!("{none}{}", b64(b"x"));
    assert_refused(
        hs_verifier(),
        &none_sig,
        "the token's algorithm is not accepted",
    )
    .await;
    let es512 = raw_hs256(r#"{"alg":"ES512","typ":"at+jwt"}"#, &payload);
    assert_refused(
        hs_verifier(),
        &es512,
        "the token's algorithm is not accepted",
    )
    .await;
}

#[tokio::test]
async fn an_rs256_public_key_is_never_an_hs256_secret() {
    let rs = verifier(issuer(verification_key(Algorithm::RS256)));
    let mut h = header(Algorithm::HS256);
    h.kid = Some("k1".to_owned());
    let forged = jsonwebtoken::encode(
        &h,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(RSA_PUB).unwrap(),
    )
    .unwrap();
    assert_refused(rs, &forged, "the token's algorithm is not accepted").await;
}

#[tokio::test]
async fn empty_stripped_and_zero_signatures_are_refused() {
    let good = sign(&header(Algorithm::ES256), &claims());
    let (input, _) = good.rsplit_once('.').unwrap();
    let es = || verifier(issuer(verification_key(Algorithm::ES256)));
    assert_refused(es(), &format!("{input}."), "the token is malformed").await;
    assert_refused(es(), input, "the token is malformed").await;
    assert_refused(
        es(),
        &format!("{input}.{}", b64(&[0u8; 64])),
        "the token's signature is invalid",
    )
    .await;
    assert_refused(es(), &format!("{good}.x"), "the token is malformed").await;
}

#[tokio::test]
async fn keys_named_by_the_token_are_ignored() {
    // The attacker's own key embedded as `jwk`, or pointed at by `jku` / `x5u`.
    let attacker = b"attacker-chosen-secret-of-32-bytes!!";
    for extra in [
        format!(r#""jwk":{{"kty":"oct","k":"{}"}}"#, b64(attacker)),
        r#""jku":"https://evil.test/jwks""#.to_owned(),
        r#""x5u":"https://evil.test/cert""#.to_owned(),
    ] {
        let header_json = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"k1",{extra}}}"#);
        let input = format!(
            "{}.{}",
            b64(header_json.as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(attacker).unwrap(),
            Algorithm::HS256,
        )
        .unwrap();
        assert_refused(
            hs_verifier(),
            &format!("{input}.{sig}"),
            "the token's signature is invalid",
        )
        .await;
    }
}

// SECURITY.md, 'JWT verification' (duplicates, claim types, strict base64url) and 'JWT keys
// and algorithms' (`crit`, `b64`).
#[tokio::test]
async fn crit_duplicates_types_base64_and_nesting_are_refused() {
    let payload = claims().to_string();
    let crit = raw_hs256(
        r#"{"alg":"HS256","typ":"at+jwt","kid":"k1","crit":["exp"],"exp":1}"#,
        &payload,
    );
    assert_refused(
        hs_verifier(),
        &crit,
        "the token uses an unsupported JWS extension",
    )
    .await;
    let b64_false = raw_hs256(
        r#"{"alg":"HS256","typ":"at+jwt","kid":"k1","b64":false,"crit":["b64"]}"#,
        &payload,
    );
    assert_refused(
        hs_verifier(),
        &b64_false,
        "the token uses an unsupported JWS extension",
    )
    .await;
    let dup_header = raw_hs256(
        r#"{"alg":"HS256","alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
        &payload,
    );
    assert_refused(hs_verifier(), &dup_header, "the token is malformed").await;
    let dup_claim = raw_hs256(
        r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
        &payload.replacen('{', r#"{"sub":"mallory","#, 1),
    );
    assert_refused(hs_verifier(), &dup_claim, "the token is malformed").await;
    let string_exp = with(|c| c["exp"] = json!((now() + 300).to_string()));
    assert_refused(hs_verifier(), &string_exp, "the token is malformed").await;
    let good = token();
    let padded = format!("{}=", good.split('.').take(2).collect::<Vec<_>>().join("."));
    assert_refused(
        hs_verifier(),
        &format!("{padded}.{}", good.rsplit('.').next().unwrap()),
        "the token is malformed",
    )
    .await;
    // Non-canonical base64url: the payload's last character with non-zero trailing bits.
    let header_json = r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#;
    let mut body = payload.clone();
    while b64(body.as_bytes()).len() % 4 != 2 {
        body.push(' ');
    }
    let encoded = b64(body.as_bytes());
    let last = encoded.chars().last().unwrap();
    let odd = match last {
        'A' => 'B',
        'Q' => 'R',
        'g' => 'h',
        _ => 'x',
    };
    let tampered = format!("{}{odd}", &encoded[..encoded.len() - 1]);
    let input = format!("{}.{tampered}", b64(header_json.as_bytes()));
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap(),
        Algorithm::HS256,
    )
    .unwrap();
    assert_refused(
        hs_verifier(),
        &format!("{input}.{sig}"),
        "the token is malformed",
    )
    .await;
    // Deep nesting in a claim the application reads.
    let deep = with(|c| {
        c["deep"] =
            serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap()
    });
    assert_accepted(hs_verifier(), &deep).await;
    let deeper = raw_hs256(
        header_json,
        &payload.replacen(
            '{',
            &format!(r#"{{"deep":{}{},"#, "[".repeat(5000), "]".repeat(5000)),
            1,
        ),
    );
    let v = verifier(issuer(verification_key(Algorithm::HS256)));
    let err = JwtVerifier::builder()
        .issuer(issuer(verification_key(Algorithm::HS256)).build().unwrap())
        .max_token_length(64 * 1024)
        .build()
        .unwrap()
        .verify::<serde_json::Value>(&deeper)
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED);
    drop(v);
}

// SECURITY.md, 'JWT keys and algorithms': a key configured without a `kid` still verifies
// tokens that carry one (the `kid` only routes); a key with a `kid` only matches that `kid`.
#[tokio::test]
async fn kid_less_keys_match_any_kid() {
    let v = verifier(
        IssuerConfig::builder(ISS)
            .audience(AUD)
            .key(verification_key(Algorithm::HS256)),
    );
    let mut h = header(Algorithm::HS256);
    h.kid = Some("rotated-7".to_owned());
    assert_accepted(v.clone(), &sign(&h, &claims())).await;
    h.kid = None;
    assert_accepted(v, &sign(&h, &claims())).await;
}
