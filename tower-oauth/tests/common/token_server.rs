//! A loopback OAuth 2.0 provider in GitHub's shape whose token endpoint also grants
//! refreshes, rotating refresh tokens and refusing a reused one, and can hold a refresh
//! until the test lets it go.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};
use tower_oauth::Provider;
use tower_oauth::store::SessionStore;

/// What the provider issued and saw.
pub struct TokenServer {
    pub base: String,
    pub state: Arc<ServerState>,
}

pub struct ServerState {
    /// Refresh requests granted.
    pub refreshes: AtomicUsize,
    /// Every token issued, access and refresh, in order.
    pub issued: Mutex<Vec<String>>,
    /// The refresh tokens not yet used (each is used once: rotation).
    valid_refresh: Mutex<HashSet<String>>,
    /// Notified when a refresh request arrives.
    pub arrived: Notify,
    /// While set, a refresh request waits for a permit of `gate` before it is answered.
    pub hold: AtomicBool,
    pub gate: Semaphore,
}

fn issue(state: &ServerState, kind: &str) -> String {
    let mut issued = state.issued.lock().unwrap();
    let token = format!("{kind}-{}-{:016x}", issued.len(), rand::random::<u64>());
    issued.push(token.clone());
    token
}

async fn token(
    State(state): State<Arc<ServerState>>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    let refused = || {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response()
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") if form.get("code").map(String::as_str) == Some("good-code") => {
            let access = issue(&state, "access");
            let refresh = issue(&state, "refresh");
            state.valid_refresh.lock().unwrap().insert(refresh.clone());
            // Expired at once: the first `access_token` call refreshes it.
            Json(json!({"access_token": access, "refresh_token": refresh,
                        "token_type": "bearer", "expires_in": 1}))
            .into_response()
        }
        Some("refresh_token") => {
            state.arrived.notify_one();
            if state.hold.load(Ordering::SeqCst) {
                state.gate.acquire().await.unwrap().forget();
            }
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let mut valid = state.valid_refresh.lock().unwrap();
            if !valid.remove(&presented) {
                return refused();
            }
            state.refreshes.fetch_add(1, Ordering::SeqCst);
            let access = issue(&state, "access");
            let refresh = issue(&state, "refresh");
            valid.insert(refresh.clone());
            Json(json!({"access_token": access, "refresh_token": refresh,
                        "token_type": "bearer", "expires_in": 3600}))
            .into_response()
        }
        _ => refused(),
    }
}

async fn user() -> Json<serde_json::Value> {
    Json(json!({"login": "rita", "id": 4242, "name": "Rita Refresh"}))
}

async fn emails() -> Json<serde_json::Value> {
    Json(json!([{"email": "rita@example.test", "verified": true, "primary": true}]))
}

impl TokenServer {
    pub async fn start() -> Self {
        let state = Arc::new(ServerState {
            refreshes: AtomicUsize::new(0),
            issued: Mutex::new(Vec::new()),
            valid_refresh: Mutex::new(HashSet::new()),
            arrived: Notify::new(),
            hold: AtomicBool::new(false),
            gate: Semaphore::new(0),
        });
        let app = Router::new()
            .route("/login/oauth/access_token", post(token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    /// The provider `rt` (GitHub-shaped) served here.
    pub fn provider(&self) -> Provider {
        Provider::github("rt-client", "rt-secret")
            .with_name("rt")
            .github_urls(&self.base, &format!("{}/api", self.base))
    }

    /// The tokens issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.issued.lock().unwrap().clone()
    }
}

/// Logs in at `app` with the provider `rt`; returns the jar holding the session cookie.
pub async fn log_in(app: &super::TestApp) -> super::Jar {
    let mut jar = super::Jar::new();
    let authorize = app.start_login("rt", "", &mut jar).await;
    let state = super::param(&authorize, "state").unwrap();
    let res = app
        .get(
            &format!("/oauth/rt/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "login must succeed");
    jar.store(&res);
    jar
}

/// The typed session of `jar` at `app`, through the authenticator.
pub async fn session_of(
    app: &super::TestApp,
    jar: &super::Jar,
) -> tower_oauth::OAuthSession<super::User> {
    use auth_core::Authenticate;
    let req = http::Request::get("/")
        .header("cookie", jar.header())
        .body(())
        .unwrap();
    app.client.authenticator().authenticate(&req).await.unwrap()
}

/// A logout lands while the provider is answering a refresh: the session stays ended.
pub async fn logout_during_refresh_stays_logged_out(store: impl SessionStore) {
    let provider = TokenServer::start().await;
    let client = super::builder(&super::Users::default())
        .provider(provider.provider())
        .store(store)
        .build()
        .unwrap();
    let app = super::TestApp::new(client.clone());
    let jar = log_in(&app).await;
    let session = session_of(&app, &jar).await;
    let csrf = app.whoami(&jar).await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();

    provider.state.hold.store(true, Ordering::SeqCst);
    let refreshing = tokio::spawn({
        let client = client.clone();
        let session = session.clone();
        async move { client.access_token(&session).await }
    });
    provider.state.arrived.notified().await;
    // The refresh is at the provider: the user logs out.
    assert_eq!(app.logout(&jar, Some(&csrf)).await.status(), 303);
    assert_eq!(app.whoami(&jar).await.0, StatusCode::UNAUTHORIZED);
    provider.state.gate.add_permits(1);

    let answer = refreshing.await.unwrap();
    assert_eq!(provider.state.refreshes.load(Ordering::SeqCst), 1);
    let error = answer.expect_err("the session ended during the refresh");
    assert_eq!(error.status(), 401);
    assert_eq!(
        app.whoami(&jar).await.0,
        StatusCode::UNAUTHORIZED,
        "the refresh must not bring the session back"
    );
    assert_eq!(
        client.access_token(&session).await.unwrap_err().status(),
        401
    );
}
