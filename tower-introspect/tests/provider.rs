//! Against the real provider (oidc-provider 9, `tower-oauth/tests/oidc-provider`): opaque
//! client-credentials tokens introspected at its RFC 7662 endpoint, revoked through its RFC
//! 7009 endpoint, and its process stopped to take the endpoint down. Introspection requests
//! are counted by a loopback proxy in front of it.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::first_of;
use axum::http::StatusCode;
use common::{CountingProxy, Provider, app, builder, get_with};
use tower_introspect::{Introspection, IntrospectionBuilder};
use tower_jwt::revocation::{MemoryRevocationStore, Revocation, RevocationStore};
use tower_jwt::{Algorithm, IssuerConfig, JwtVerifier};

#[tokio::test]
async fn an_opaque_token_is_accepted_with_its_scopes_and_client() {
    let op = Provider::start();
    let introspection = builder(&op.issuer, &op.issuer).build().unwrap();
    let app = app(introspection.authenticator());
    let token = op.opaque_token("intro-app", "read write").await;

    let (status, body, _) = get_with(&app, "/write", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "intro-app");
    assert_eq!(body["method"], "introspection");
    assert_eq!(body["scopes"], serde_json::json!(["read", "write"]));
    assert!(body["expires_at"].as_u64().is_some(), "{body}");
    let (status, body, _) = get_with(&app, "/client", &token).await;
    assert_eq!((status, body), (StatusCode::OK, "intro-app".into()));

    let (status, _, challenge) = get_with(&app, "/read", "not-a-token-of-this-provider").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn a_token_with_fewer_scopes_gets_403_where_more_are_needed() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    let app = app(builder(&op.issuer, &proxy.url)
        .build()
        .unwrap()
        .authenticator());
    let narrow = op.opaque_token("intro-app", "read").await;
    let wide = op.opaque_token("intro-app", "read write").await;

    assert_eq!(get_with(&app, "/read", &narrow).await.0, StatusCode::OK);
    let (status, _, challenge) = get_with(&app, "/write", &narrow).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("scope=\"write\""),
        "{challenge}"
    );
    // The cached answer of the narrow token is checked again on every request.
    assert_eq!(
        get_with(&app, "/write", &narrow).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get_with(&app, "/read", &narrow).await.0, StatusCode::OK);
    assert_eq!(
        proxy.count(),
        1,
        "the narrow token's answer came from the cache"
    );
    assert_eq!(get_with(&app, "/write", &wide).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_subject_revoked_in_the_store_is_refused_at_once_from_the_cache() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    let store = Arc::new(MemoryRevocationStore::new());
    let app = app(builder(&op.issuer, &proxy.url)
        .revocation(store.clone())
        .build()
        .unwrap()
        .authenticator());
    let token = op.opaque_token("intro-app", "read").await;

    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    assert_eq!(proxy.count(), 1);

    // Log out everywhere: every token of intro-app issued before now (`iat` of the answer).
    let now = SystemTime::now() + Duration::from_secs(1);
    store
        .revoke(Revocation::subject(
            op.issuer.as_str(),
            "intro-app",
            now,
            now + Duration::from_secs(600),
        ))
        .await
        .unwrap();
    let (status, body, challenge) = get_with(&app, "/read", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        challenge.contains(r#"error_description="the token has been revoked""#),
        "{challenge}"
    );
    assert_eq!(proxy.count(), 1, "refused without asking the endpoint");
}

#[tokio::test]
async fn a_revoked_token_is_refused_within_the_cache_bound() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    let bound = Duration::from_millis(1500);
    let app = app(builder(&op.issuer, &proxy.url)
        .cache_ttl(bound)
        .build()
        .unwrap()
        .authenticator());
    let token = op.opaque_token("intro-app", "read").await;

    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    op.revoke("intro-app", &token).await;
    // Within the bound the cached answer stands…
    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    assert_eq!(proxy.count(), 1);
    // …past it the endpoint is asked again and says `active: false`.
    tokio::time::sleep(bound + Duration::from_millis(100)).await;
    let (status, _, challenge) = get_with(&app, "/read", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(proxy.count(), 2);
    // `active: false` is cached too (briefly): no third request.
    assert_eq!(
        get_with(&app, "/read", &token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(proxy.count(), 2);
}

#[tokio::test]
async fn a_stopped_endpoint_is_503_unless_the_cache_answers_and_recovers() {
    let op = Provider::start();
    let bound = Duration::from_secs(2);
    let app = app(builder(&op.issuer, &op.issuer)
        .cache_ttl(bound)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
        .authenticator());
    let cached = op.opaque_token("intro-app", "read").await;
    let uncached = op.opaque_token("intro-app", "read").await;
    assert_eq!(get_with(&app, "/read", &cached).await.0, StatusCode::OK);

    op.pause();
    let (status, _, challenge) = get_with(&app, "/read", &uncached).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !challenge.contains("invalid_token"),
        "a 503 is no refusal of the token: {challenge}"
    );
    // The answer cached before the outage still answers, within its bound.
    assert_eq!(get_with(&app, "/read", &cached).await.0, StatusCode::OK);
    tokio::time::sleep(bound).await;
    assert_eq!(
        get_with(&app, "/read", &cached).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    op.resume();
    assert_eq!(get_with(&app, "/read", &uncached).await.0, StatusCode::OK);
    assert_eq!(get_with(&app, "/read", &cached).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_cached_answer_never_answers_past_exp() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    // The bound (60 s) is far beyond the token's life (3 s).
    let app = app(builder(&op.issuer, &proxy.url)
        .build()
        .unwrap()
        .authenticator());
    let token = op.opaque_token("intro-short", "read").await;

    let (status, body, _) = get_with(&app, "/read", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    assert_eq!(proxy.count(), 1);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, _, challenge) = get_with(&app, "/read", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("expired"), "{challenge}");
    // Refused on the cached `exp`, without asking.
    assert_eq!(proxy.count(), 1);
}

#[tokio::test]
async fn first_of_introspection_and_jwt_keeps_jwts_away_from_the_endpoint() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    let jwt = JwtVerifier::new(
        IssuerConfig::discover(op.issuer.as_str(), reqwest::Client::new())
            .await
            .expect("OpenID Connect discovery")
            .audience("urn:towerauth:api")
            .allow_missing_nbf()
            .build()
            .unwrap(),
    )
    .unwrap();
    let introspection = builder(&op.issuer, &proxy.url).build().unwrap();
    // Introspection first: it leaves JWT-shaped tokens to the next method, while the JWT
    // authenticator refuses any other token (401) instead of passing it on.
    let app = app(first_of(introspection.authenticator(), jwt.authenticator()));

    let opaque = op.opaque_token("intro-app", "read").await;
    let (status, body, _) = get_with(&app, "/read", &opaque).await;
    assert_eq!(
        (status, body["method"].clone()),
        (StatusCode::OK, "introspection".into())
    );
    assert_eq!(proxy.count(), 1);

    // The JWT carries `api:read`, not `read`: 403 from the JWT branch proves it was verified there.
    let jwt_token = op.jwt_token().await;
    let (status, _, challenge) = get_with(&app, "/read", &jwt_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{challenge}");
    // A forged JWT is refused by the JWT branch, never retried by introspection.
    let forged = format!("{jwt_token}x");
    let (status, _, challenge) = get_with(&app, "/read", &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(proxy.count(), 1, "a JWT reached the introspection endpoint");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_token_make_one_introspection() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    let app = app(builder(&op.issuer, &proxy.url)
        .build()
        .unwrap()
        .authenticator());
    let token = op.opaque_token("intro-app", "read").await;

    let requests = (0..32).map(|_| {
        let (app, token) = (app.clone(), token.clone());
        tokio::spawn(async move { get_with(&app, "/read", &token).await.0 })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(proxy.count(), 1);

    // 1,000 requests with one token, within one cache period: still one introspection.
    for _ in 0..1000 {
        assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);
    }
    assert_eq!(proxy.count(), 1);
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_the_issuer_metadata() {
    let op = Provider::start();
    let discover = |issuer: String| {
        Introspection::builder(issuer)
            .client_id("intro-rs")
            .client_secret("intro-rs-secret")
            .insecure_http_loopback()
            .discover()
    };
    let introspection = discover(op.issuer.clone()).await.unwrap();
    assert!(
        format!("{introspection:?}").contains("/token/introspection"),
        "{introspection:?}"
    );
    let app = app(introspection.authenticator());
    let token = op.opaque_token("intro-app", "read").await;
    assert_eq!(get_with(&app, "/read", &token).await.0, StatusCode::OK);

    // The metadata must name exactly the configured issuer.
    let error = discover(format!("{}/", op.issuer)).await.unwrap_err();
    assert_eq!(error.kind(), auth_core::ConfigErrorKind::Setup);
    assert_eq!(error.field(), "endpoint");
}

/// The private key of `intro-pkjwt`, whose public key the provider holds.
const CLIENT_KEY: &[u8] = include_bytes!("data/client-p256.pem");

/// A P-256 key the provider does not know.
const STRANGER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgG2CXGkdoQULBTJ8d
t1QAl47bqT9zKA/Bb9SQO9+HtlihRANCAASHWSnemhbXdmIO6JSHYTyu1T1mg5SO
25TIv0gC/qqgnfyUcCXM7g2HYuM03j01ZayEthkCrA5WV/0lSU4Geeuw
-----END PRIVATE KEY-----
";

/// `intro-pkjwt`, authenticating with `private_key_jwt`, at the issuer's discovered endpoint.
fn private_key_jwt(issuer: &str, key: &[u8]) -> IntrospectionBuilder {
    Introspection::builder(issuer)
        .client_id("intro-pkjwt")
        .private_key_jwt(Algorithm::ES256, key)
        .insecure_http_loopback()
}

#[tokio::test]
async fn private_key_jwt_authenticates_the_resource_server() {
    let op = Provider::start();
    let introspection = private_key_jwt(&op.issuer, CLIENT_KEY)
        .discover()
        .await
        .unwrap();
    let app = app(introspection.authenticator());
    let token = op.opaque_token("intro-app", "read").await;
    let (status, body, _) = get_with(&app, "/read", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "intro-app");
    // Each request signs a fresh assertion (the provider refuses a replayed `jti`).
    let other = op.opaque_token("intro-app", "read").await;
    assert_eq!(get_with(&app, "/read", &other).await.0, StatusCode::OK);

    // A key the provider does not hold: the endpoint refuses the client, so the token can
    // be neither accepted nor refused.
    let stranger = private_key_jwt(&op.issuer, STRANGER_KEY.as_bytes())
        .discover()
        .await
        .unwrap();
    let (status, _, challenge) = get_with(&app_of(&stranger), "/read", &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!challenge.contains("invalid_token"), "{challenge}");
}

fn app_of(introspection: &Introspection) -> axum::Router {
    app(introspection.authenticator())
}

#[tokio::test]
async fn jwt_answers_of_the_provider_are_verified_with_its_jwks() {
    let op = Provider::start();
    let proxy = CountingProxy::start(&op.issuer).await;
    // The endpoint through the proxy, the keys from the metadata's `jwks_uri`.
    let introspection = private_key_jwt(&op.issuer, CLIENT_KEY)
        .endpoint(format!("{}/token/introspection", proxy.url))
        .jwt_responses()
        .discover()
        .await
        .unwrap();
    let app = app_of(&introspection);
    let token = op.opaque_token("intro-app", "read write").await;
    let (status, body, _) = get_with(&app, "/write", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], "intro-app");
    assert_eq!(body["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(proxy.count(), 1);

    // Revoked at the provider: its signed answer says `active: false`.
    let revoked = op.opaque_token("intro-app", "read").await;
    op.revoke("intro-app", &revoked).await;
    let (status, _, challenge) = get_with(&app, "/read", &revoked).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("not active"), "{challenge}");
}
