//! Configuration rules, the development mode, and a session store that is down.

mod common;

use std::time::Duration;

use async_trait::async_trait;
use auth_core::StoreError;
use axum::body::Body;
use common::*;
use http::header::SET_COOKIE;
use http::{Request, StatusCode};
use tower_oauth::store::SessionStore;
use tower_oauth::{OAuthClient, Provider};

fn github() -> Provider {
    Provider::github("id", "secret")
}

#[test]
fn builders_refuse_weak_or_incomplete_configuration() {
    let users = Users::default();
    let err = |b: tower_oauth::OAuthClientBuilder<User>| b.build().unwrap_err();

    assert_eq!(
        err(builder(&users).cookie_key(&[1; 32]).provider(github())).field(),
        "cookie_key"
    );
    assert_eq!(
        err(OAuthClient::<User>::builder(APP).provider(github())).field(),
        "cookie_key"
    );
    // Without providers the client serves the application's own sessions only.
    assert!(builder(&users).build().is_ok());
    assert!(
        OAuthClient::<User>::builder(APP)
            .cookie_key(&rand_key())
            .build()
            .is_ok(),
        "no provider, no mapping hook needed"
    );
    assert_eq!(
        err(builder(&users).provider(
            Provider::oidc("op", "https://op.example", "id", "secret")
                .post_logout_redirect_uri("/relative")
        ))
        .field(),
        "post_logout_redirect_uri"
    );
    assert_eq!(
        err(OAuthClient::<User>::builder(APP)
            .cookie_key(&rand_key())
            .provider(github()))
        .field(),
        "map_user"
    );
    assert_eq!(
        err(builder(&users).provider(github()).provider(github())).field(),
        "provider"
    );
    assert_eq!(
        err(builder(&users).provider(github().with_name("a/b"))).field(),
        "provider"
    );
    assert_eq!(
        err(builder(&users).provider(Provider::github("", "s"))).field(),
        "client_id"
    );
    // Providers over plain http elsewhere than loopback.
    let plain = Provider::oidc("op", "http://op.example", "c", "s");
    assert_eq!(err(builder(&users).provider(plain)).field(), "endpoint");
    assert_eq!(
        err(builder(&users)
            .provider(github())
            .transaction_ttl(Duration::ZERO))
        .field(),
        "transaction_ttl"
    );
    assert_eq!(
        err(builder(&users)
            .provider(github())
            .after_logout("//evil.example"))
        .field(),
        "after_logout"
    );
    // A plain-http public URL needs the opt-in, and only on loopback.
    let dev = |url: &str| {
        OAuthClient::<User>::builder(url)
            .cookie_key(&rand_key())
            .provider(github())
            .map_user(|_| async { Err(tower_oauth::MapUserError::denied("unused")) })
    };
    assert_eq!(err(dev("http://127.0.0.1:3000")).field(), "public_url");
    assert_eq!(
        err(dev("http://app.example.com").insecure_http_loopback()).field(),
        "public_url"
    );
    assert!(
        dev("http://127.0.0.1:3000")
            .insecure_http_loopback()
            .build()
            .is_ok()
    );
    assert!(
        dev("http://[::1]:3000")
            .insecure_http_loopback()
            .build()
            .is_ok()
    );
    assert!(
        dev("http://localhost:3000")
            .insecure_http_loopback()
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn development_mode_drops_secure_and_the_host_prefix() {
    let client = OAuthClient::<User>::builder("http://127.0.0.1:3000")
        .insecure_http_loopback()
        .cookie_key(&rand_key())
        .provider(github())
        .map_user(|_| async { Err(tower_oauth::MapUserError::denied("unused")) })
        .build()
        .unwrap();
    assert_eq!(client.session_cookie_name(), "session");
    let app = TestApp::new(client);
    let res = app.get("/oauth/github/login", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        param(&location(&res), "redirect_uri").as_deref(),
        Some("http://127.0.0.1:3000/oauth/github/callback")
    );
    let cookie = res.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("oauth-tx-"), "{cookie}");
    assert!(!cookie.contains("Secure"));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
}

#[tokio::test]
async fn api_routes_answer_401_json_and_pages_redirect() {
    let app = TestApp::new(
        builder(&Users::default())
            .provider(github())
            .build()
            .unwrap(),
    );
    let res = app.get("/api/whoami", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(res.headers()["content-type"], "application/json");
    let res = app.get("/dashboard", &Jar::new()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/?return_to=%2Fdashboard");
    // Unknown routes under the login prefix and wrong methods.
    assert_eq!(
        app.get("/oauth/github", &Jar::new()).await.status(),
        StatusCode::NOT_FOUND
    );
    let post_login = Request::post("/oauth/github/login")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.send(post_login).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

/// A store whose backend is down.
#[derive(Debug)]
struct DownStore;

fn down() -> StoreError {
    StoreError::unavailable("connection refused")
}

#[async_trait]
impl SessionStore for DownStore {
    async fn load(&self, _: &str, _: Duration) -> Result<Option<String>, StoreError> {
        Err(down())
    }
    async fn save(&self, _: &str, _: String, _: Duration, _: Duration) -> Result<(), StoreError> {
        Err(down())
    }
    async fn replace(
        &self,
        _: &str,
        _: &str,
        _: String,
        _: Duration,
        _: Duration,
    ) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Err(down())
    }
    async fn claim(&self, _: &str, _: Duration) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn link(&self, _: &str, _: &[String], _: Duration) -> Result<(), StoreError> {
        Err(down())
    }
    async fn delete_linked(&self, _: &str) -> Result<u64, StoreError> {
        Err(down())
    }
}

#[tokio::test]
async fn a_store_that_is_down_answers_503_never_anonymous_or_500() {
    let app = TestApp::new(
        builder(&Users::default())
            .provider(github())
            .store(DownStore)
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    jar.set("__Host-session", &"A".repeat(43));
    let res = app.get("/api/whoami", &jar).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body_json(res).await["error"], "temporarily_unavailable");
    // The callback cannot consume its state: 503, no session.
    let mut jar = Jar::new();
    let authorize = app.start_login("github", "", &mut jar).await;
    let state = param(&authorize, "state").unwrap();
    let res = app
        .get(
            &format!("/oauth/github/callback?code=c&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(set_cookies(&res, "__Host-session=").is_empty());
    assert!(body_text(res).await.contains("store_unavailable"));
}

#[tokio::test]
async fn pending_login_attempts_are_bounded_oldest_first() {
    let app = TestApp::new(
        builder(&Users::default())
            .provider(github())
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    let mut names = Vec::new();
    for i in 0..8 {
        let before: std::collections::HashSet<String> = jar.transactions().into_iter().collect();
        app.start_login("github", &format!("?return_to=/tab{i}"), &mut jar)
            .await;
        let added: Vec<String> = jar
            .transactions()
            .into_iter()
            .filter(|n| !before.contains(n))
            .collect();
        assert_eq!(added.len(), 1);
        names.push(added[0].clone());
        assert!(jar.transactions().len() <= 5, "at most 5 pending attempts");
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut kept = jar.transactions();
    kept.sort();
    let mut newest: Vec<String> = names[3..].to_vec();
    newest.sort();
    assert_eq!(kept, newest, "the five newest attempts are kept");
    // A garbage transaction cookie is cleared at the next login.
    jar.set("__Host-oauth-tx-0000000000000000", "garbage");
    let res = app.get("/oauth/github/login", &jar).await;
    assert!(
        set_cookies(&res, "__Host-oauth-tx-0000000000000000=")
            .iter()
            .any(|c| c.contains("Max-Age=0"))
    );
}
