//! The GitHub preset against a loopback server answering GitHub's documented token and
//! user responses.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use common::*;
use serde_json::json;
use tower_oauth::Provider;

const CLIENT_ID: &str = "Iv1.test-client";
const CLIENT_SECRET: &str = "s3cret/with+chars";

#[derive(Default)]
struct Seen {
    verifiers: Vec<String>,
    redirect_uris: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

async fn token(
    State(seen): State<Shared>,
    Path(variant): Path<String>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> Response {
    // client_secret_basic: RFC 6749 §2.3.1 form-encodes id and secret before base64.
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        form_encode(CLIENT_ID),
        form_encode(CLIENT_SECRET)
    ));
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Basic {expected}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    match variant.as_str() {
        "redirect" => return Redirect::temporary("/ok/login/oauth/access_token").into_response(),
        "huge" => {
            return Json(json!({"access_token": "x".repeat(1 << 20), "token_type": "bearer"}))
                .into_response();
        }
        _ => {}
    }
    {
        let mut seen = seen.lock().unwrap();
        seen.verifiers
            .push(form.get("code_verifier").cloned().unwrap_or_default());
        seen.redirect_uris
            .push(form.get("redirect_uri").cloned().unwrap_or_default());
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if form.get("code").map(String::as_str) == Some("good-code") {
        // GitHub's documented JSON answer (with `Accept: application/json`).
        Json(json!({"access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "scope": "read:user,user:email", "token_type": "bearer"})).into_response()
    } else {
        // GitHub answers a bad code with 200 and an error object.
        Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"
        }))
        .into_response()
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some("Bearer gho_16C7e42F292c6912E7710c838347Ae178B4a")
        && headers.get("accept").and_then(|v| v.to_str().ok())
            == Some("application/vnd.github+json")
        && headers.contains_key("user-agent")
}

async fn user(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    Json(json!({
        "login": "octocat", "id": 583_231, "node_id": "MDQ6VXNlcjE=", "type": "User",
        "name": "The Octocat", "email": "public@octocat.example", "site_admin": false
    }))
    .into_response()
}

async fn emails(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    Json(json!([
        {"email": "unverified@octocat.example", "verified": false, "primary": false, "visibility": null},
        {"email": "octocat@github.com", "verified": true, "primary": true, "visibility": "public"}
    ]))
    .into_response()
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn github_server() -> (String, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/{variant}/login/oauth/access_token", post(token))
        .route("/api/user", get(user))
        .route("/api/user/emails", get(emails))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn github(base: &str, variant: &str) -> Provider {
    Provider::github(CLIENT_ID, CLIENT_SECRET)
        .with_name(if variant == "ok" { "github" } else { variant })
        .github_urls(&format!("{base}/{variant}"), &format!("{base}/api"))
}

#[tokio::test]
async fn github_login_maps_the_rest_user_and_primary_verified_email() {
    let (base, seen) = github_server().await;
    let users = Users::default();
    let app = TestApp::new(
        builder(&users)
            .provider(github(&base, "ok"))
            .build()
            .unwrap(),
    );
    let mut jar = Jar::new();
    let authorize = app
        .start_login("github", "?return_to=/dashboard", &mut jar)
        .await;
    assert!(authorize.starts_with(&format!("{base}/ok/login/oauth/authorize?")));
    assert_eq!(param(&authorize, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        param(&authorize, "scope").as_deref(),
        Some("read:user user:email")
    );
    assert_eq!(
        param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&authorize, "nonce"), None, "GitHub is not OpenID");
    let state = param(&authorize, "state").unwrap();

    // GitHub redirects back with code and state (no `iss`).
    let res = app
        .get(
            &format!("/oauth/github/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/dashboard");
    jar.store(&res);
    let (status, me) = app.whoami(&jar).await;
    assert_eq!(status, 200);
    assert_eq!(me["provider"], "github");
    assert_eq!(
        me["email"], "octocat@github.com",
        "the primary verified address"
    );
    let key = ("github".to_owned(), "583231".to_owned());
    let stored = users
        .lock()
        .unwrap()
        .get(&key)
        .cloned()
        .expect("keyed on GitHub's numeric id");
    assert_eq!(stored.name.as_deref(), Some("The Octocat"));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.verifiers.len(), 1);
    assert_eq!(seen.verifiers[0].len(), 43, "PKCE verifier sent");
    assert_eq!(
        seen.redirect_uris[0],
        "https://app.example.test/oauth/github/callback"
    );
}

#[tokio::test]
async fn github_refusals() {
    let (base, _) = github_server().await;
    let app = TestApp::new(
        builder(&Users::default())
            .provider(github(&base, "ok"))
            .provider(github(&base, "redirect"))
            .provider(github(&base, "huge"))
            .build()
            .unwrap(),
    );
    let start = |provider: &'static str| {
        let app = &app;
        async move {
            let mut jar = Jar::new();
            let authorize = app.start_login(provider, "", &mut jar).await;
            (jar, param(&authorize, "state").unwrap())
        }
    };

    // A bad code: GitHub's 200-with-error answer is a refusal, 400, no session.
    let (jar, state) = start("github").await;
    let res = app
        .get(
            &format!("/oauth/github/callback?code=bad-code&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(set_cookies(&res, "__Host-session=").is_empty());
    assert!(body_text(res).await.contains("code_rejected"));

    // GitHub has no issuer: an `iss` parameter is a mix-up attempt.
    let (jar, state) = start("github").await;
    let res = app
        .get(
            &format!(
                "/oauth/github/callback?code=good-code&state={state}&iss=https%3A%2F%2Fevil.example"
            ),
            &jar,
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(body_text(res).await.contains("issuer_mismatch"));

    // A token endpoint redirecting is not followed.
    let (jar, state) = start("redirect").await;
    let res = app
        .get(
            &format!("/oauth/redirect/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    assert_eq!(res.status(), 502);
    assert!(set_cookies(&res, "__Host-session=").is_empty());

    // A 1 MiB token response is over the cap.
    let (jar, state) = start("huge").await;
    let res = app
        .get(
            &format!("/oauth/huge/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    let status = res.status();
    let body = body_text(res).await;
    assert_eq!(status, 502, "{body}");
}

/// The session layer as a tower layer: identity and principal inserted on success, the
/// inner service never called without a session, readiness respected.
#[tokio::test]
async fn session_layer_inserts_identity_and_guards_the_inner_service() {
    use auth_core::{AuthMethod, Principal};
    use tower_oauth::OAuthSession;
    use tower_test::mock;

    let (base, _) = github_server().await;
    let client = builder(&Users::default())
        .provider(github(&base, "ok"))
        .build()
        .unwrap();
    let app = TestApp::new(client.clone());
    let mut jar = Jar::new();
    let authorize = app.start_login("github", "", &mut jar).await;
    let state = param(&authorize, "state").unwrap();
    let res = app
        .get(
            &format!("/oauth/github/callback?code=good-code&state={state}"),
            &jar,
        )
        .await;
    jar.store(&res);

    let (mut service, mut handle) =
        mock::spawn_layer::<http::Request<()>, http::Response<String>, _>(client.layer());
    // Not ready while the inner service is not.
    handle.allow(0);
    assert!(service.poll_ready().is_pending());
    handle.allow(1);
    assert!(service.poll_ready().is_ready());

    // With the session: the inner service sees the typed session and its principal.
    let request = http::Request::get("/")
        .header("cookie", jar.header())
        .body(())
        .unwrap();
    let response = service.call(request);
    let inner = async {
        let (seen, send) = handle.next_request().await.unwrap();
        let session = seen.extensions().get::<OAuthSession<User>>().unwrap();
        assert_eq!(session.user().email.as_deref(), Some("octocat@github.com"));
        let principal = seen.extensions().get::<Principal>().unwrap();
        assert_eq!(principal.method(), &AuthMethod::Session);
        assert_eq!(principal.subject(), session.user().id);
        send.send_response(http::Response::new(String::new()));
    };
    let (response, ()) = tokio::join!(response, inner);
    assert_eq!(response.unwrap().status(), 200);

    // Without: 401, and the inner service is never called.
    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let response = service.call(http::Request::get("/").body(()).unwrap());
    assert_eq!(response.await.unwrap().status(), 401);
    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let stale = http::Request::get("/")
        .header("cookie", format!("__Host-session={}", "B".repeat(43)))
        .body(())
        .unwrap();
    assert_eq!(service.call(stale).await.unwrap().status(), 401);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), handle.next_request())
            .await
            .is_err(),
        "the inner service must not be called"
    );
}
