//! The JWT layer end to end: identity and typed claims inserted, refusals answered with the
//! exact status and challenge, the inner service untouched on refusal, readiness, the
//! verified-token cache, revocation on every request, several issuers.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::Principal;
use common::*;
use http::{Request, Response, StatusCode};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt::{CacheConfig, Claims, IssuerConfig, JwtAuthenticator, JwtLayer, JwtVerifier};

#[derive(Debug, Deserialize)]
struct MyClaims {
    org: String,
    #[serde(default)]
    level: u8,
}

#[tokio::test]
async fn typed_claims_and_principal_are_inserted() {
    let v = verifier(
        issuer(verification_key(Algorithm::ES256))
            .roles_claim("realm_access.roles")
            .tenant_claim("tid"),
    );
    let layer: JwtLayer<MyClaims> = JwtAuthenticator::new(v).claims().layer();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let out = seen.clone();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |req: Request<()>| {
            let claims = req.extensions().get::<Claims<MyClaims>>().unwrap().clone();
            let principal = req.extensions().get::<Principal>().unwrap().clone();
            *out.lock().unwrap() = Some((claims, principal));
            async { Ok::<_, Infallible>(Response::new(String::new())) }
        }));
    let mut c = claims();
    c["org"] = json!("acme");
    c["level"] = json!(3);
    c["realm_access"] = json!({"roles": ["admin", "ops"]});
    c["tid"] = json!("tenant-7");
    let exp = c["exp"].as_i64().unwrap();
    let token = sign(&header(Algorithm::ES256), &c);
    let request = Request::builder()
        .header("authorization", format!("bearer {token}"))
        .body(())
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (claims, principal) = seen.lock().unwrap().take().unwrap();
    assert_eq!(
        (claims.claims().org.as_str(), claims.claims().level),
        ("acme", 3)
    );
    assert_eq!((claims.issuer(), claims.jti()), (ISS, Some("jti-1")));
    assert_eq!(
        claims.expires_at(),
        UNIX_EPOCH + Duration::from_secs(u64::try_from(exp).unwrap())
    );
    assert_eq!(principal.subject(), "alice");
    assert_eq!(principal.method(), &auth_core::AuthMethod::Jwt);
    assert_eq!(principal.scopes(), ["read", "write"]);
    assert_eq!(principal.roles(), ["admin", "ops"]);
    assert_eq!(principal.tenant(), Some("tenant-7"));
    assert_eq!(principal.expires_at(), Some(claims.expires_at()));
}

#[tokio::test]
async fn claims_of_the_wrong_shape_are_refused() {
    let layer: JwtLayer<MyClaims> = JwtAuthenticator::new(hs_verifier()).claims().layer();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = Request::builder()
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        invalid_token("the token's claims are not of the expected shape").unwrap()
    );
}

#[tokio::test]
async fn scp_array_gives_scopes() {
    let mut c = claims();
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["a", "b"]);
    let outcome = call(
        layer(hs_verifier()),
        Some(&sign(&header(Algorithm::HS256), &c)),
    )
    .await;
    assert_eq!(
        (outcome.status, outcome.body.as_str()),
        (StatusCode::OK, "alice a,b")
    );
}

#[tokio::test]
async fn missing_and_duplicate_credentials() {
    let outcome = call(layer(hs_verifier()), None).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome.challenge.as_deref(), Some(r#"Bearer realm="api""#));

    let svc = ServiceBuilder::new()
        .layer(layer(hs_verifier()))
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = Request::builder()
        .header("authorization", format!("Bearer {}", token()))
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_request""#)
    );
}

#[tokio::test]
async fn the_inner_service_is_not_called_on_refusal() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let svc = ServiceBuilder::new()
        .layer(layer(hs_verifier()))
        .service(service_fn(move |_: Request<()>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(String::new())) }
        }));
    for value in ["Bearer nope", "Bearer a.b.c", "Basic YTpi"] {
        let request = Request::builder()
            .header("authorization", value)
            .body(())
            .unwrap();
        let status = svc.clone().oneshot(request).await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let request = Request::builder()
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    assert_eq!(svc.oneshot(request).await.unwrap().status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn optional_layer_passes_anonymous_but_not_bad_tokens() {
    let svc = ServiceBuilder::new()
        .layer(layer(hs_verifier()).optional())
        .service(service_fn(|req: Request<()>| async move {
            let status = if req.extensions().get::<Principal>().is_some() {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            };
            Ok::<_, Infallible>(
                Response::builder()
                    .status(status)
                    .body(String::new())
                    .unwrap(),
            )
        }));
    let response = svc.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let request = Request::builder()
        .header("authorization", "Bearer x.y.z")
        .body(())
        .unwrap();
    assert_eq!(
        svc.oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn readiness_is_respected() {
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<Request<()>, Response<String>, _>(layer(hs_verifier()));
    handle.allow(0);
    assert!(service.poll_ready().is_pending());
    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let request = Request::builder()
        .header("authorization", format!("Bearer {}", token()))
        .body(())
        .unwrap();
    let response = service.call(request);
    let inner = async {
        let (request, send) = handle.next_request().await.unwrap();
        assert_eq!(
            request.extensions().get::<Principal>().unwrap().subject(),
            "alice"
        );
        send.send_response(Response::new(String::new()));
    };
    let (response, ()) = tokio::join!(response, inner);
    assert_eq!(response.unwrap().status(), StatusCode::OK);
}

/// The identities two requests with the same token saw (kept alive, so equal addresses
/// mean one shared cached entry).
async fn two_identities(layer: JwtLayer, token: &str) -> (Claims, Claims) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let out = seen.clone();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |req: Request<()>| {
            out.lock()
                .unwrap()
                .push(req.extensions().get::<Claims>().unwrap().clone());
            async { Ok::<_, Infallible>(Response::new(String::new())) }
        }));
    for _ in 0..2 {
        let request = Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        assert_eq!(
            svc.clone().oneshot(request).await.unwrap().status(),
            StatusCode::OK
        );
    }
    let mut seen = seen.lock().unwrap();
    let second = seen.pop().unwrap();
    (seen.pop().unwrap(), second)
}

#[tokio::test]
async fn a_repeated_token_is_served_from_the_cache() {
    let t = token();
    let (a, b) = two_identities(layer(hs_verifier()), &t).await;
    assert!(
        std::ptr::eq(a.claims(), b.claims()),
        "the second request reused the verified entry"
    );
    let uncached = JwtAuthenticator::new(hs_verifier()).without_cache().layer();
    let (a, b) = two_identities(uncached, &t).await;
    assert!(
        !std::ptr::eq(a.claims(), b.claims()),
        "without a cache every request verifies"
    );
}

#[tokio::test]
async fn a_cached_token_still_expires() {
    let v = verifier(issuer(verification_key(Algorithm::HS256)).leeway(Duration::ZERO));
    let layer = JwtAuthenticator::new(v)
        .cache(
            CacheConfig::default()
                .capacity(10)
                .time_to_live(Duration::from_secs(60)),
        )
        .layer();
    let mut c = claims();
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    c["exp"] = json!(exp);
    let t = sign(&header(Algorithm::HS256), &c);
    assert_eq!(call(layer.clone(), Some(&t)).await.status, StatusCode::OK);
    assert_eq!(call(layer.clone(), Some(&t)).await.status, StatusCode::OK);
    while SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        < exp
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outcome = call(layer, Some(&t)).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(outcome.challenge, invalid_token("the token has expired"));
}

fn with_store(store: Arc<TestRevocations>) -> JwtLayer {
    layer(
        JwtVerifier::builder()
            .issuer(issuer(verification_key(Algorithm::HS256)).build().unwrap())
            .revocation(store)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn revocation_is_checked_on_every_request_cached_or_not() {
    let store = Arc::new(TestRevocations::default());
    let layer = with_store(store.clone());
    let t = token();
    assert_eq!(call(layer.clone(), Some(&t)).await.status, StatusCode::OK);
    assert_eq!(call(layer.clone(), Some(&t)).await.status, StatusCode::OK);
    assert_eq!(store.checks.load(Ordering::SeqCst), 2);
    store.revoke("jti-1");
    let outcome = call(layer.clone(), Some(&t)).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        outcome.challenge,
        invalid_token("the token has been revoked")
    );
    // A fresh token with another jti still passes.
    let mut c = claims();
    c["jti"] = json!("jti-2");
    assert_eq!(
        call(layer, Some(&sign(&header(Algorithm::HS256), &c)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unavailable_revocation_store_answers_503() {
    let store = Arc::new(TestRevocations::default());
    let layer = with_store(store.clone());
    let t = token();
    assert_eq!(call(layer.clone(), Some(&t)).await.status, StatusCode::OK);
    store.set_unavailable(true);
    let outcome = call(layer.clone(), Some(&t)).await;
    assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(outcome.challenge, None);
    store.set_unavailable(false);
    assert_eq!(call(layer, Some(&t)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn several_issuers_each_with_their_own_keys_and_audiences() {
    const OTHER: &str = "https://other.test";
    let v = JwtVerifier::builder()
        .issuer(issuer(verification_key(Algorithm::RS256)).build().unwrap())
        .issuer(
            IssuerConfig::builder(OTHER)
                .audience("other-api")
                .key(verification_key(Algorithm::EdDSA).with_kid("k1"))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_accepted(v.clone(), &sign(&header(Algorithm::RS256), &claims())).await;
    let mut other = claims();
    other["iss"] = json!(OTHER);
    other["aud"] = json!("other-api");
    assert_accepted(v.clone(), &sign(&header(Algorithm::EdDSA), &other)).await;
    // The other issuer's claims signed with the first issuer's key: refused.
    assert_refused(
        v.clone(),
        &sign(&header(Algorithm::RS256), &other),
        "the token's algorithm is not accepted",
    )
    .await;
    // The first issuer's audience in the other issuer's token: refused.
    other["aud"] = json!(AUD);
    assert_refused(
        v.clone(),
        &sign(&header(Algorithm::EdDSA), &other),
        "the token is not meant for this audience",
    )
    .await;
    // An issuer configured twice is a configuration error.
    let twice = JwtVerifier::builder()
        .issuer(issuer(verification_key(Algorithm::HS256)).build().unwrap())
        .issuer(issuer(verification_key(Algorithm::HS256)).build().unwrap())
        .build();
    assert_eq!(
        twice.unwrap_err().kind(),
        auth_core::ConfigErrorKind::InvalidValue
    );
}

#[tokio::test]
async fn every_key_format_verifies() {
    use tower_jwt::Key;
    let der = |name: &str| {
        std::fs::read(format!(
            "{}/tests/data/keys/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let cases = [
        (
            Algorithm::HS256,
            Key::hmac(Algorithm::HS256, SECRET).unwrap(),
        ),
        (
            Algorithm::HS384,
            Key::hmac(Algorithm::HS384, &[SECRET, SECRET].concat()).unwrap(),
        ),
        (
            Algorithm::RS256,
            Key::rsa_der(Algorithm::RS256, &der("rsa2048.pub.der")).unwrap(),
        ),
        (
            Algorithm::PS384,
            Key::rsa_pem(Algorithm::PS384, RSA_PUB).unwrap(),
        ),
        (
            Algorithm::ES256,
            Key::ec_der(Algorithm::ES256, &der("p256.pub.der")).unwrap(),
        ),
        (
            Algorithm::ES384,
            Key::ec_pem(Algorithm::ES384, P384_PUB).unwrap(),
        ),
        (
            Algorithm::EdDSA,
            Key::ed_der(&der("ed25519.pub.der")).unwrap(),
        ),
    ];
    for (alg, key) in cases {
        let token = if alg == Algorithm::HS384 {
            jsonwebtoken::encode(
                &header(alg),
                &claims(),
                &jsonwebtoken::EncodingKey::from_secret(&[SECRET, SECRET].concat()).unwrap(),
            )
            .unwrap()
        } else {
            sign(&header(alg), &claims())
        };
        assert_accepted(
            verifier(
                IssuerConfig::builder(ISS)
                    .audience(AUD)
                    .key(key.with_kid("k1")),
            ),
            &token,
        )
        .await;
    }
    // A P-384 key offered for ES256 is refused at construction.
    assert!(Key::ec_pem(Algorithm::ES256, P384_PUB).is_err());
    // A JWK set from JSON, symmetric keys allowed locally.
    let set = tower_jwt::KeySet::from_jwks(&format!(
        r#"{{"keys":[{{"kty":"oct","alg":"HS256","kid":"k1","k":"{}"}},{{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}}]}}"#,
        b64(SECRET)
    ))
    .unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_accepted(
        verifier(IssuerConfig::builder(ISS).audience(AUD).key_set(set)),
        &token(),
    )
    .await;
}

#[tokio::test]
async fn outcomes_are_decided_without_waiting() {
    use auth_core::{Authenticate, Outcome};

    /// "missing", "accepted", "refused" or "pending".
    fn outcome(auth: &mut JwtAuthenticator, authorization: Option<&str>) -> &'static str {
        let mut request = Request::builder();
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        match auth.authenticate(&request.body(()).unwrap()) {
            Outcome::Missing => "missing",
            Outcome::Decided(Ok(_)) => "accepted",
            Outcome::Decided(Err(_)) => "refused",
            Outcome::Pending(_) => "pending",
        }
    }
    let mut auth = JwtAuthenticator::new(hs_verifier());
    assert_eq!(outcome(&mut auth, None), "missing");
    assert_eq!(outcome(&mut auth, Some("Basic dXNlcjpwYXNz")), "missing");
    // Malformed, or verified on the spot: a static key never makes a request wait.
    assert_eq!(outcome(&mut auth, Some("Bearer not-a-jwt")), "refused");
    let bearer = format!("Bearer {}", token());
    assert_eq!(outcome(&mut auth, Some(&bearer)), "accepted");
    assert_eq!(outcome(&mut auth, Some(&bearer)), "accepted"); // the cache
}

/// Where scopes are read from: `scope`, else `scp`, unless `scopes_claim` names another.
#[tokio::test]
async fn scopes_come_from_scope_scp_or_the_configured_claim() {
    async fn scopes_of(verifier: JwtVerifier, claims: serde_json::Value) -> Vec<String> {
        let token = sign(&header(Algorithm::ES256), &claims);
        verifier
            .verify::<serde_json::Value>(&token)
            .await
            .unwrap()
            .principal()
            .scopes()
            .to_vec()
    }
    let key = || verification_key(Algorithm::ES256);
    let mut c = claims();
    c["scope"] = json!("read write");
    c["scp"] = json!(["other"]);
    c["permissions"] = json!(["notes:read", "notes:write"]);
    assert_eq!(
        scopes_of(verifier(issuer(key())), c.clone()).await,
        ["read", "write"]
    );
    let mut scp_only = c.clone();
    scp_only.as_object_mut().unwrap().remove("scope");
    assert_eq!(
        scopes_of(verifier(issuer(key())), scp_only).await,
        ["other"]
    );
    let auth0 = verifier(issuer(key()).scopes_claim("permissions"));
    assert_eq!(
        scopes_of(auth0, c.clone()).await,
        ["notes:read", "notes:write"]
    );
    // A token without the configured claim has no scopes (never the standard ones).
    let nested = verifier(issuer(key()).scopes_claim("authz.perms"));
    assert!(scopes_of(nested, c).await.is_empty());
    for standard in ["scope", "scp"] {
        let err = issuer(key()).scopes_claim(standard).build().unwrap_err();
        assert_eq!(err.field(), "scopes_claim");
    }
}
