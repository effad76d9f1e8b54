//! OpenID Connect Back-Channel Logout and RP-Initiated Logout against the real
//! oidc-provider, with sessions in the real Redis (`TEST_REDIS_URL`) shared by two
//! instances (feature `redis`).
//!
//! The tests register their own client at the provider (dynamic registration) with a
//! `backchannel_logout_uri` on a listener of instance A: ending the provider's session makes
//! the provider post a logout token there, which ends the session on A and on B.
#![cfg(feature = "redis")]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;
use tower_oauth::store::RedisSessionStore;
use tower_oauth::{OAuthClient, Provider};

const AFTER_LOGOUT: &str = "https://app.example.test/logged-out";

/// A client registered at `op` for these tests: `(client_id, client_secret)`.
async fn register(op: &OidcProvider, backchannel_logout_uri: &str) -> (String, String) {
    register_with(op, backchannel_logout_uri, json!({})).await
}

/// As [`register`], with the members of `extra` added to (or replacing) the metadata.
async fn register_with(
    op: &OidcProvider,
    backchannel_logout_uri: &str,
    extra: Value,
) -> (String, String) {
    let mut metadata = json!({
        "redirect_uris": [format!("{APP}/oauth/op/callback")],
        "post_logout_redirect_uris": [AFTER_LOGOUT],
        "backchannel_logout_uri": backchannel_logout_uri,
        "backchannel_logout_session_required": true,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    for (name, value) in extra.as_object().unwrap() {
        metadata[name] = value.clone();
    }
    let res = reqwest::Client::new()
        .post(format!("{}/reg", op.issuer))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "registration refused: {body}");
    (
        body["client_id"].as_str().unwrap().to_owned(),
        body["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn redis_store(prefix: &str) -> RedisSessionStore {
    RedisSessionStore::connect(&testkit::require_redis())
        .await
        .unwrap_or_else(|e| panic!("these tests need Redis (TEST_REDIS_URL): {e}"))
        .key_prefix(prefix)
}

/// What a back-channel listener received, and the status it answered.
type Received = Arc<Mutex<Vec<(String, StatusCode)>>>;

/// A loopback listener for a back-channel route: its URI now (to register it at the
/// provider), and the client it serves, recording each body, once sent on the channel.
async fn listen(received: Received) -> (String, tokio::sync::oneshot::Sender<OAuthClient<User>>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<OAuthClient<User>>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://{}/oauth/backchannel-logout",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let client = rx.await.unwrap();
        let route = post(move |headers: HeaderMap, body: String| {
            let client = client.clone();
            let received = Arc::clone(&received);
            async move {
                let mut request = Request::post("/oauth/backchannel-logout");
                if let Some(kind) = headers.get(CONTENT_TYPE) {
                    request = request.header(CONTENT_TYPE, kind);
                }
                let request = request.body(Body::from(body.clone())).unwrap();
                let response = client.routes().oneshot(request).await.unwrap();
                received.lock().unwrap().push((body, response.status()));
                response.map(Body::new)
            }
        });
        let app = Router::new().route("/oauth/backchannel-logout", route);
        axum::serve(listener, app).await.unwrap();
    });
    (uri, tx)
}

/// An app that `op` knows as a client registered with `metadata` and the app's
/// back-channel logout URI, its provider set up by `provider`: the app, where its
/// deliveries are recorded, and its client id.
async fn app_with(
    op: &OidcProvider,
    metadata: Value,
    provider: impl FnOnce(Provider) -> Provider,
) -> (TestApp, Received, String) {
    let received = Received::default();
    let (uri, serve) = listen(Arc::clone(&received)).await;
    let (id, secret) = register_with(op, &uri, metadata).await;
    let app = TestApp::new(
        builder(&Users::default())
            .provider(provider(Provider::oidc("op", &op.issuer, &id, &secret)))
            .build()
            .unwrap(),
    );
    serve.send(app.client.clone()).unwrap();
    (app, received, id)
}

/// `POST /oauth/backchannel-logout` with `body` (a form) at `app`.
async fn deliver(app: &TestApp, body: String) -> (StatusCode, HeaderMap, Value) {
    let res = app
        .send(
            Request::post("/oauth/backchannel-logout")
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, body_json(res).await)
}

fn form(token: &str) -> String {
    format!("logout_token={}", urlencode(token))
}

/// The claims of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A P-256 key that is not the provider's.
const FOREIGN_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxXE0dL6fb4iiqCmc
2rkBBq8YTtZjzA+KxalpKvbgNn6hRANCAAT1+Xai0Zc0ENEff9BjgZoARD4fRAYs
Xtdno8zQE9bc/tC81Y5y4czA1cSkbISPg4FoPUFy3mw1mTfWcnf6zVCo
-----END PRIVATE KEY-----
";

/// `claims` signed ES256 by a key that is not the provider's, under the provider's key id.
fn forge(claims: &Value) -> String {
    tower_jwt::ensure_crypto_backend().unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("ec-1".to_owned());
    header.typ = Some("logout+jwt".to_owned());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(FOREIGN_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test]
async fn a_provider_logout_ends_the_session_on_both_instances_once() {
    let op = OidcProvider::start();
    let prefix = format!("towerauth-test:bcl:{}:", rand::random::<u64>());
    let key = rand_key();
    let users = Users::default();
    let received = Received::default();
    // A's listener exists before the client is registered; A is built after.
    let (uri, serve_a) = listen(Arc::clone(&received)).await;
    let (id, secret) = register(&op, &uri).await;
    let instance = |store: RedisSessionStore| {
        TestApp::new(
            builder(&users)
                .cookie_key(&key)
                .store(store)
                .provider(Provider::oidc("op", &op.issuer, &id, &secret))
                .build()
                .unwrap(),
        )
    };
    let a = instance(redis_store(&prefix).await);
    let b = instance(redis_store(&prefix).await);
    serve_a.send(a.client.clone()).unwrap();

    // alice logs in on A; a second login of hers (another browser) and bob's stay apart.
    let mut alice_browser = ProviderBrowser::new();
    let mut alice = Jar::new();
    assert_eq!(
        a.login("op", "alice", &mut alice, &mut alice_browser)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let mut bob = Jar::new();
    a.login("op", "bob", &mut bob, &mut ProviderBrowser::new())
        .await;
    for (app, jar) in [(&a, &alice), (&b, &alice), (&b, &bob)] {
        assert_eq!(app.whoami(jar).await.0, StatusCode::OK);
    }

    // alice ends her session at the provider: it posts a logout token to A.
    let after = alice_browser
        .end_session(&format!("{}/session/end?client_id={id}", op.issuer))
        .await;
    assert!(!after.as_str().starts_with(APP), "{after}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no logout token arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (body, status) = received.lock().unwrap()[0].clone();
    assert_eq!(
        status,
        StatusCode::OK,
        "the provider's logout token was accepted"
    );
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned())
        .expect("a logout_token field");
    let claims = claims_of(&token);
    assert!(claims["sid"].is_string(), "{claims}");

    // Ended on A and on B; bob's session lives on.
    assert_eq!(a.whoami(&alice).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.whoami(&alice).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(b.whoami(&bob).await.0, StatusCode::OK);

    // The same token again (same jti), on either instance: refused.
    for app in [&a, &b] {
        let (status, headers, error) = deliver(app, form(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(error["error"], "invalid_request");
        assert_eq!(
            error["error_description"],
            "the logout token was already used"
        );
    }

    // Forged for bob: signed by another key, alone or with every other defect.
    let mut for_bob = claims.clone();
    for_bob["sub"] = json!("bob");
    for_bob["jti"] = json!("forged-1");
    for_bob.as_object_mut().unwrap().remove("sid");
    let mut wrong_aud = for_bob.clone();
    wrong_aud["aud"] = json!("another-client");
    let mut with_nonce = for_bob.clone();
    with_nonce["nonce"] = json!("n");
    let mut without_events = for_bob.clone();
    without_events.as_object_mut().unwrap().remove("events");
    for forged in [&for_bob, &wrong_aud, &with_nonce, &without_events] {
        let (status, headers, error) = deliver(&a, form(&forge(forged))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{forged}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(error["error"], "invalid_request");
    }
    // The provider's own signature over altered claims: refused too.
    let parts: Vec<&str> = token.split('.').collect();
    let altered = URL_SAFE_NO_PAD.encode(for_bob.to_string());
    let spliced = format!("{}.{altered}.{}", parts[0], parts[2]);
    assert_eq!(deliver(&a, form(&spliced)).await.0, StatusCode::BAD_REQUEST);
    // Not a form, two tokens, none, a GET: refused.
    let res = a
        .send(
            Request::post("/oauth/backchannel-logout")
                .header(CONTENT_TYPE, "application/json")
                .body(Body::from(json!({ "logout_token": token }).to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let twice = format!("{}&{}", form(&token), form(&token));
    assert_eq!(deliver(&a, twice).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(deliver(&a, String::new()).await.0, StatusCode::BAD_REQUEST);
    let res = a.get("/oauth/backchannel-logout", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        b.whoami(&bob).await.0,
        StatusCode::OK,
        "bob was never logged out"
    );
}

#[tokio::test]
async fn logout_redirects_to_the_providers_end_session_endpoint() {
    let op = OidcProvider::start();
    let (app, received, id) =
        app_with(&op, json!({}), |p| p.post_logout_redirect_uri(AFTER_LOGOUT)).await;
    let mut browser = ProviderBrowser::new();
    let mut jar = Jar::new();
    let res = app.login("op", "alice", &mut jar, &mut browser).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let csrf = app.whoami(&jar).await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let res = app.logout(&jar, Some(&csrf)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookies(&res, "__Host-session=");
    assert!(cleared[0].contains("Max-Age=0"), "{cleared:?}");
    let end_session = location(&res);
    assert!(
        end_session.starts_with(&format!("{}/session/end?", op.issuer)),
        "{end_session}"
    );
    assert_eq!(
        param(&end_session, "client_id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        param(&end_session, "post_logout_redirect_uri").as_deref(),
        Some(AFTER_LOGOUT)
    );
    let state = param(&end_session, "state").unwrap();
    assert_eq!(state.len(), 43);
    let hint = claims_of(&param(&end_session, "id_token_hint").unwrap());
    assert_eq!(hint["aud"], id.as_str());
    assert_eq!(hint["sub"], "alice");
    // The local session ended first.
    assert_eq!(app.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);

    // The provider accepts the request and sends the browser back with the state.
    let back = browser.end_session(&end_session).await;
    assert!(back.as_str().starts_with(AFTER_LOGOUT), "{back}");
    assert_eq!(
        param(back.as_str(), "state").as_deref(),
        Some(state.as_str())
    );
    // It also posted a logout token for the session it ended (the local one was already
    // gone): accepted all the same.
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no logout token arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(received.lock().unwrap()[0].1, StatusCode::OK);
}

/// Waits for the first logout token the listener received: the token and the status the
/// route answered.
async fn first_delivery(received: &Received) -> (String, StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no logout token arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (body, status) = received.lock().unwrap()[0].clone();
    let token = url::form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "logout_token")
        .map(|(_, value)| value.into_owned())
        .expect("a logout_token field");
    (token, status)
}

// Back-Channel Logout §2.4: a logout token names a `sid`, a `sub` or both. The provider's
// client `no-sub` gets tokens without `sub`.
#[tokio::test]
async fn a_logout_token_naming_only_its_session_ends_that_session() {
    let op = OidcProvider::start();
    let (app, received, id) = app_with(&op, json!({ "client_name": "no-sub" }), |p| p).await;
    // Two sessions of alice, in two browsers: only the one whose provider session ends goes.
    let mut ending_browser = ProviderBrowser::new();
    let (mut ending, mut other) = (Jar::new(), Jar::new());
    app.login("op", "alice", &mut ending, &mut ending_browser)
        .await;
    app.login("op", "alice", &mut other, &mut ProviderBrowser::new())
        .await;
    assert_eq!(app.whoami(&ending).await.0, StatusCode::OK);

    ending_browser
        .end_session(&format!("{}/session/end?client_id={id}", op.issuer))
        .await;
    let (token, status) = first_delivery(&received).await;
    let claims = claims_of(&token);
    assert!(claims["sid"].is_string(), "{claims}");
    assert!(claims.get("sub").is_none(), "{claims}");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.whoami(&ending).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.whoami(&other).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_logout_token_naming_neither_session_nor_user_is_refused() {
    let op = OidcProvider::start();
    let metadata = json!({ "client_name": "no-sub", "backchannel_logout_session_required": false });
    let (app, received, id) = app_with(&op, metadata, |p| p).await;
    let mut browser = ProviderBrowser::new();
    let mut jar = Jar::new();
    app.login("op", "alice", &mut jar, &mut browser).await;

    browser
        .end_session(&format!("{}/session/end?client_id={id}", op.issuer))
        .await;
    let (token, status) = first_delivery(&received).await;
    let claims = claims_of(&token);
    assert!(
        claims.get("sid").is_none() && claims.get("sub").is_none(),
        "{claims}"
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, headers, error) = deliver(&app, form(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(error["error"], "invalid_request");
    assert_eq!(
        error["error_description"],
        "the logout token names neither a sid nor a sub"
    );
    assert_eq!(
        app.whoami(&jar).await.0,
        StatusCode::OK,
        "nothing was named to end"
    );
}
