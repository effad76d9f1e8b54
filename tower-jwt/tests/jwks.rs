//! The JWKS cache and discovery against a real identity-provider stand-in: an axum server
//! on 127.0.0.1 that counts its fetches and can fail in every way SECURITY.md, section
//! 'JWKS and discovery', lists.
#![cfg(feature = "remote-keys")]

mod common;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::*;
use http::StatusCode;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Value, json};
use tower_jwt::{IssuerConfig, IssuerConfigBuilder, JwksOptions, JwtVerifier};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    Error,
    Junk,
    Empty,
    Huge,
    Stall,
}

#[derive(Debug)]
struct Idp {
    keys: Mutex<Value>,
    mode: Mutex<Mode>,
    cache_control: Mutex<&'static str>,
    metadata_issuer: Mutex<Option<String>>,
    fetches: AtomicUsize,
    from_custom_client: AtomicUsize,
    discoveries: AtomicUsize,
    redirects: AtomicUsize,
    base: String,
}

impl Idp {
    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
    fn url(&self) -> String {
        format!("{}/jwks", self.base)
    }
}

async fn jwks(State(idp): State<Arc<Idp>>, headers: HeaderMap) -> Response {
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    if headers.get("x-test-client").is_some() {
        idp.from_custom_client.fetch_add(1, Ordering::SeqCst);
    }
    let mode = *idp.mode.lock().unwrap();
    let cache_control = *idp.cache_control.lock().unwrap();
    match mode {
        Mode::Ok => (
            [(header::CACHE_CONTROL, cache_control)],
            idp.keys.lock().unwrap().to_string(),
        )
            .into_response(),
        Mode::Error => AxumStatus::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Junk => "<html>maintenance</html>".into_response(),
        Mode::Empty => r#"{"keys":[]}"#.into_response(),
        Mode::Huge => {
            format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(2 * 1024 * 1024)).into_response()
        }
        Mode::Stall => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            AxumStatus::OK.into_response()
        }
    }
}

async fn metadata(State(idp): State<Arc<Idp>>) -> Response {
    idp.discoveries.fetch_add(1, Ordering::SeqCst);
    if *idp.mode.lock().unwrap() == Mode::Error {
        return AxumStatus::SERVICE_UNAVAILABLE.into_response();
    }
    let issuer = idp
        .metadata_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| idp.base.clone());
    axum::Json(json!({"issuer": issuer, "jwks_uri": idp.url()})).into_response()
}

/// A 302 to the real JWKS (or metadata) on the same server.
async fn moved(State(idp): State<Arc<Idp>>, uri: axum::http::Uri) -> Response {
    idp.redirects.fetch_add(1, Ordering::SeqCst);
    let target = if uri.path().ends_with("openid-configuration") {
        "/.well-known/openid-configuration"
    } else {
        "/jwks"
    };
    (AxumStatus::FOUND, [(header::LOCATION, target)]).into_response()
}

async fn metadata_8414(State(idp): State<Arc<Idp>>) -> Response {
    idp.discoveries.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({"issuer": format!("{}/tenant", idp.base), "jwks_uri": idp.url()}))
        .into_response()
}

/// Starts the stand-in provider serving `keys`.
async fn idp(keys: Value) -> Arc<Idp> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let idp = Arc::new(Idp {
        keys: Mutex::new(keys),
        mode: Mutex::new(Mode::Ok),
        cache_control: Mutex::new("max-age=3600"),
        metadata_issuer: Mutex::new(None),
        fetches: AtomicUsize::new(0),
        from_custom_client: AtomicUsize::new(0),
        discoveries: AtomicUsize::new(0),
        redirects: AtomicUsize::new(0),
        base,
    });
    let app = Router::new()
        .route("/jwks", get(jwks))
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/moved", get(moved))
        .route("/moved/.well-known/openid-configuration", get(moved))
        .route(
            "/.well-known/oauth-authorization-server/tenant",
            get(metadata_8414),
        )
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

/// The public JWK of this test suite's key for `alg`, with `kid`.
fn jwk(alg: Algorithm, kid: &str) -> Value {
    let mut value =
        serde_json::to_value(Jwk::from_encoding_key(&encoding_key(alg), alg).unwrap()).unwrap();
    value["kid"] = json!(kid);
    value
}

fn rsa_b_jwk(kid: &str) -> Value {
    tower_jwt::ensure_crypto_backend().unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(RSA_B_PRIV).unwrap();
    let mut value =
        serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
    value["kid"] = json!(kid);
    value
}

fn rsa_b_token(kid: &str) -> String {
    tower_jwt::ensure_crypto_backend().unwrap();
    let mut h = header(Algorithm::RS256);
    h.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &h,
        &claims(),
        &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_B_PRIV).unwrap(),
    )
    .unwrap()
}

fn fast() -> JwksOptions {
    JwksOptions::default()
        .retry_interval(Duration::from_millis(50))
        .cooldown(Duration::from_millis(300))
        .fetch_timeout(Duration::from_millis(500))
        .min_refresh_interval(Duration::from_millis(50))
        .max_body(64 * 1024)
}

fn remote(idp: &Idp, options: JwksOptions) -> IssuerConfigBuilder {
    IssuerConfig::builder(ISS)
        .audience(AUD)
        .jwks_url(idp.url())
        .jwks_options(options)
}

async fn verify(v: &JwtVerifier, token: &str) -> Result<(), (StatusCode, &'static str)> {
    v.verify::<Value>(token)
        .await
        .map(drop)
        .map_err(|e| (e.status(), e.reason()))
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn keys_from_a_jwks_url_verify_through_the_layer() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1"), jwk(Algorithm::ES256, "k2"), jwk(Algorithm::EdDSA, "k3")]})).await;
    let v = verifier(remote(&idp, fast()));
    assert_accepted(v.clone(), &sign(&header(Algorithm::RS256), &claims())).await;
    let mut h = header(Algorithm::ES256);
    h.kid = Some("k2".into());
    assert_accepted(v.clone(), &sign(&h, &claims())).await;
    h = header(Algorithm::EdDSA);
    h.kid = Some("k3".into());
    assert_accepted(v.clone(), &sign(&h, &claims())).await;
    // An ES256 token naming the RS256 key: refused.
    h = header(Algorithm::ES256);
    assert_refused(
        v,
        &sign(&h, &claims()),
        "the token's algorithm is not accepted",
    )
    .await;
    assert_eq!(idp.fetches(), 1, "one fetch served every request");
}

#[tokio::test]
async fn an_unknown_kid_storm_costs_at_most_one_fetch_per_cooldown() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let options = fast().cooldown(Duration::from_secs(2));
    let v = verifier(remote(&idp, options));
    assert_accepted(v.clone(), &sign(&header(Algorithm::RS256), &claims())).await;
    // Sign the storm's tokens first: signing inside the tasks would keep this single-threaded
    // runtime too busy (pure-Rust RSA in a debug build) to let the IdP answer the fetch.
    let tokens: Vec<String> = (0..200)
        .map(|i| rsa_b_token(&format!("random-{i}")))
        .collect();
    // Past the cooldown, so the storm's first unknown kid may fetch; the rest must share
    // that one fetch or be refused by the cooldown.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = idp.fetches();
    let storm: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let v = v.clone();
            tokio::spawn(async move { verify(&v, &token).await })
        })
        .collect();
    for task in storm {
        assert_eq!(
            task.await.unwrap(),
            Err((StatusCode::UNAUTHORIZED, "unknown_key"))
        );
    }
    assert_eq!(idp.fetches() - before, 1, "one fetch for 200 unknown kids");
    let outcome = call(layer(v), Some(&rsa_b_token("random-x"))).await;
    assert_eq!(
        outcome.challenge,
        invalid_token("the token's signing key is unknown")
    );
}

#[tokio::test]
async fn rotation_is_picked_up_on_unknown_kid_and_negative_cache_is_bounded() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let v = verifier(remote(&idp, fast()));
    assert_accepted(v.clone(), &sign(&header(Algorithm::RS256), &claims())).await;
    // A kid the provider does not publish: one fetch, then remembered as unknown.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let before = idp.fetches();
    assert_eq!(
        verify(&v, &rsa_b_token("ghost")).await,
        Err((StatusCode::UNAUTHORIZED, "unknown_key"))
    );
    assert_eq!(idp.fetches(), before + 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        verify(&v, &rsa_b_token("ghost")).await,
        Err((StatusCode::UNAUTHORIZED, "unknown_key"))
    );
    assert_eq!(
        idp.fetches(),
        before + 1,
        "the negative cache spared a fetch"
    );
    // The provider rotates to a new key: the first token naming it triggers the refresh.
    *idp.keys.lock().unwrap() = json!({"keys": [jwk(Algorithm::RS256, "k1"), rsa_b_jwk("k2")]});
    assert_eq!(verify(&v, &rsa_b_token("k2")).await, Ok(()));
    assert_eq!(idp.fetches(), before + 2);
}

#[tokio::test]
async fn provider_down_at_start_answers_503_then_recovers_by_itself() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    idp.set_mode(Mode::Error);
    let v = verifier(remote(&idp, fast()));
    let token = sign(&header(Algorithm::RS256), &claims());
    let outcome = call(layer(v.clone()), Some(&token)).await;
    assert_eq!(
        outcome.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{outcome:?}"
    );
    assert_eq!(outcome.challenge, None);
    // A bad token is still refused for what it is when it cannot even name a known issuer.
    let mut foreign = claims();
    foreign["iss"] = json!("https://evil.test");
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &foreign)).await,
        Err((StatusCode::UNAUTHORIZED, "issuer"))
    );
    idp.set_mode(Mode::Ok);
    eventually("the background retry fetched the keys", async || {
        verify(&v, &token).await.is_ok()
    })
    .await;
    assert_accepted(v, &token).await;
}

#[tokio::test]
async fn last_known_good_keys_survive_every_kind_of_bad_refresh() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    *idp.cache_control.lock().unwrap() = "no-cache";
    let options = fast()
        .fetch_timeout(Duration::from_millis(200))
        .refresh_interval(Duration::from_millis(200));
    let v = verifier(remote(&idp, options));
    let token = sign(&header(Algorithm::RS256), &claims());
    assert_eq!(verify(&v, &token).await, Ok(()));
    for mode in [
        Mode::Error,
        Mode::Junk,
        Mode::Empty,
        Mode::Huge,
        Mode::Stall,
    ] {
        idp.set_mode(mode);
        let before = idp.fetches();
        eventually("two refreshes with the bad answer", async || {
            idp.fetches() >= before + 2
        })
        .await;
        assert_eq!(verify(&v, &token).await, Ok(()), "{mode:?}");
    }
}

#[tokio::test]
async fn cache_control_max_age_sets_the_refresh_interval() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let v = verifier(remote(&idp, fast()));
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &claims())).await,
        Ok(())
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(idp.fetches(), 1, "max-age=3600: no refresh within the test");

    let short = idp_with_cache_control("max-age=0").await;
    let v = verifier(remote(
        &short,
        fast().min_refresh_interval(Duration::from_millis(100)),
    ));
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &claims())).await,
        Ok(())
    );
    eventually("refreshes every ~100 ms", async || short.fetches() >= 4).await;
}

async fn idp_with_cache_control(value: &'static str) -> Arc<Idp> {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    *idp.cache_control.lock().unwrap() = value;
    idp
}

#[tokio::test]
async fn the_custom_http_client_is_used_for_every_fetch() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-test-client", "yes".parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let v = verifier(remote(&idp, fast()).http_client(client));
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &claims())).await,
        Ok(())
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let _ = verify(&v, &rsa_b_token("unknown")).await;
    assert_eq!(idp.fetches(), 2);
    assert_eq!(idp.from_custom_client.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn unusable_keys_are_dropped_from_the_set() {
    let mut private = jwk(Algorithm::ES256, "with-private");
    private["d"] = json!("c2VjcmV0");
    let mut enc = jwk(Algorithm::RS256, "enc");
    enc["use"] = json!("enc");
    let keys = json!({"keys": [
        enc,
        {"kty": "RSA", "kid": "weak", "n": b64(&[0xC3u8; 128]), "e": "AQAB"},
        {"kty": "oct", "kid": "secret", "alg": "HS256", "k": b64(SECRET)},
        private,
        jwk(Algorithm::RS256, "k1"),
    ]});
    let idp = idp(keys).await;
    let v = verifier(remote(&idp, fast()));
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &claims())).await,
        Ok(())
    );
    let mut h = header(Algorithm::ES256);
    h.kid = Some("with-private".into());
    assert_eq!(
        verify(&v, &sign(&h, &claims())).await,
        Err((StatusCode::UNAUTHORIZED, "unknown_key")),
        "a published private key is never trusted"
    );
    let mut h = header(Algorithm::RS256);
    h.kid = Some("enc".into());
    assert_eq!(
        verify(&v, &sign(&h, &claims())).await,
        Err((StatusCode::UNAUTHORIZED, "unknown_key"))
    );
    let mut h = header(Algorithm::HS256);
    h.kid = Some("secret".into());
    assert_eq!(
        verify(&v, &sign(&h, &claims())).await,
        Err((StatusCode::UNAUTHORIZED, "unknown_key")),
        "no symmetric keys from a URL"
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_checks_the_issuer_exactly() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let mut c = claims();
    c["iss"] = json!(idp.base);
    let token = sign(&header(Algorithm::RS256), &c);
    let eager = IssuerConfig::discover(&idp.base, reqwest::Client::new())
        .await
        .unwrap();
    let v = verifier(eager.audience(AUD).jwks_options(fast()));
    assert_eq!(verify(&v, &token).await, Ok(()));

    let lazy = verifier(
        IssuerConfig::builder(&idp.base)
            .audience(AUD)
            .oidc_discovery()
            .jwks_options(fast()),
    );
    assert_eq!(verify(&lazy, &token).await, Ok(()));

    *idp.metadata_issuer.lock().unwrap() = Some(format!("{}/", idp.base));
    let err = IssuerConfig::discover(&idp.base, reqwest::Client::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::ConfigErrorKind::Setup);
    let lazy = verifier(
        IssuerConfig::builder(&idp.base)
            .audience(AUD)
            .oidc_discovery()
            .jwks_options(fast()),
    );
    assert_eq!(
        verify(&lazy, &token).await,
        Err((StatusCode::SERVICE_UNAVAILABLE, "jwks"))
    );
}

#[tokio::test]
async fn rfc8414_metadata_is_the_fallback() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let issuer = format!("{}/tenant", idp.base);
    let mut c = claims();
    c["iss"] = json!(issuer);
    let v = verifier(
        IssuerConfig::discover(&issuer, reqwest::Client::new())
            .await
            .unwrap()
            .audience(AUD),
    );
    assert_eq!(
        verify(&v, &sign(&header(Algorithm::RS256), &c)).await,
        Ok(())
    );
}

#[test]
fn remote_urls_must_be_https_or_loopback() {
    let err = IssuerConfig::builder(ISS)
        .audience(AUD)
        .jwks_url("http://idp.example/jwks")
        .build()
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (auth_core::ConfigErrorKind::InvalidValue, "jwks_url")
    );
    let both = IssuerConfig::builder(ISS)
        .audience(AUD)
        .jwks_url("https://idp.example/jwks")
        .key(verification_key(Algorithm::HS256))
        .build()
        .unwrap_err();
    assert_eq!(both.kind(), auth_core::ConfigErrorKind::InvalidValue);
}

#[tokio::test]
async fn lazy_discovery_survives_a_provider_down_at_start() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    idp.set_mode(Mode::Error);
    let mut c = claims();
    c["iss"] = json!(idp.base);
    let token = sign(&header(Algorithm::RS256), &c);
    let v = verifier(
        IssuerConfig::builder(&idp.base)
            .audience(AUD)
            .oidc_discovery()
            .jwks_options(fast()),
    );
    assert_eq!(
        verify(&v, &token).await,
        Err((StatusCode::SERVICE_UNAVAILABLE, "jwks"))
    );
    idp.set_mode(Mode::Ok);
    eventually("discovery and keys retried in the background", async || {
        verify(&v, &token).await.is_ok()
    })
    .await;
    assert!(idp.discoveries.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn keys_are_fetched_at_construction_before_any_request() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let _v = verifier(remote(&idp, fast()));
    eventually("the background task fetched the keys", async || {
        idp.fetches() == 1
    })
    .await;
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let idp = idp(json!({"keys": [jwk(Algorithm::RS256, "k1")]})).await;
    let token = sign(&header(Algorithm::RS256), &claims());
    let moved = |builder: IssuerConfigBuilder| {
        verifier(
            builder
                .jwks_url(format!("{}/moved", idp.base))
                .jwks_options(fast()),
        )
    };
    // The default client: the 302 is an answer like any other failure, its target is never
    // requested, and the keys stay unknown.
    let v = moved(IssuerConfig::builder(ISS).audience(AUD));
    assert_eq!(
        verify(&v, &token).await,
        Err((StatusCode::SERVICE_UNAVAILABLE, "jwks"))
    );
    assert!(idp.redirects.load(Ordering::SeqCst) >= 1);
    assert_eq!(idp.fetches(), 0, "the redirect's target was never fetched");

    // A custom client that follows redirects: the keys it reached that way are not used.
    let following = reqwest::Client::new();
    let v = moved(
        IssuerConfig::builder(ISS)
            .audience(AUD)
            .http_client(following.clone()),
    );
    assert_eq!(
        verify(&v, &token).await,
        Err((StatusCode::SERVICE_UNAVAILABLE, "jwks"))
    );
    assert!(idp.fetches() >= 1, "this client did follow the redirect");

    // Discovery behind a redirect fails, with either client.
    for client in [tower_jwt::jwks::default_client().unwrap(), following] {
        let err = IssuerConfig::discover(format!("{}/moved", idp.base), client)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), auth_core::ConfigErrorKind::Setup);
        assert!(err.to_string().contains("redirect"), "{err}");
    }
}
