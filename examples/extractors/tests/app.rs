//! The extractors through the whole router: statuses, challenges and JSON bodies.

use auth_core::{AuthMethod, Principal, RequireScope, ScopeName};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use serde_json::{Value, json};
use tower::ServiceExt;
use towerauth_extractors_example::{CurrentUser, Read, StaticTokens, Write, app, demo_users};

fn principal(subject: &str, scopes: &[&str]) -> Principal {
    Principal::new(subject, AuthMethod::Custom("static".into())).with_scopes(scopes.iter().copied())
}

fn router() -> Router {
    let tokens = StaticTokens::new()
        .token("t-alice", principal("alice", &[Read::NAME, Write::NAME]))
        .token("t-bob", principal("bob", &[Read::NAME]))
        .token("t-carol", principal("carol", &[Read::NAME, Write::NAME]))
        .token("t-dave", principal("dave", &[Read::NAME, Write::NAME]));
    app(tokens, demo_users())
}

async fn send(app: &Router, request: Request<Body>) -> (Response<Body>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 * 1024).await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (Response::from_parts(parts, Body::empty()), json)
}

fn get_as(path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

fn post_note(token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post("/notes").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

fn challenge(response: &Response<Body>) -> &str {
    response.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn optional_current_user_greets_anyone_but_refuses_bad_tokens() {
    let app = router();
    let (res, body) = send(&app, get_as("/hello", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, json!({"greeting": "hello stranger"}));

    let (res, body) = send(&app, get_as("/hello", Some("t-alice"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, json!({"greeting": "hello Alice"}));

    // A presented but unknown token is never downgraded to anonymous.
    let (res, body) = send(&app, get_as("/hello", Some("t-mallory"))).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="api", error="invalid_token", error_description="the token is not valid""#
    );
    assert_eq!(body["error"], "invalid_token");

    // A known account that is disabled is refused even where anonymous callers are welcome.
    let (res, body) = send(&app, get_as("/hello", Some("t-carol"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "account_disabled");
}

#[tokio::test]
async fn current_user_loads_the_account() {
    let app = router();
    let (res, body) = send(&app, get_as("/me", Some("t-alice"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "id": "alice", "name": "Alice", "email": "alice@example.com",
            "method": "static", "scopes": ["notes:read", "notes:write"],
        })
    );
}

#[tokio::test]
async fn current_user_refusals() {
    let app = router();

    let (res, body) = send(&app, get_as("/me", None)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api""#);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(body["error"], "unauthorized");

    let (res, body) = send(&app, get_as("/me", Some("t-dave"))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body,
        json!({"error": "account_not_found", "error_description": "no account exists for this credential"})
    );

    let (res, body) = send(&app, get_as("/me", Some("t-carol"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body,
        json!({"error": "account_disabled", "error_description": "this account is disabled"})
    );

    // Two Authorization headers: refused by the credential reader before any lookup.
    let request = Request::get("/me")
        .header(header::AUTHORIZATION, "Bearer t-alice")
        .header(header::AUTHORIZATION, "Bearer t-bob")
        .body(Body::empty())
        .unwrap();
    let (res, body) = send(&app, request).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn scope_guard_answers_insufficient_scope() {
    let app = router();
    let (res, body) = send(&app, post_note(Some("t-bob"), r#"{"text":"hi"}"#)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&res),
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: notes:write", scope="notes:write""#
    );
    assert_eq!(
        body,
        json!({
            "error": "insufficient_scope",
            "error_description": "the credential lacks a required scope: notes:write",
            "scope": "notes:write",
        })
    );
    // Nothing was written.
    let (_, body) = send(&app, get_as("/notes", Some("t-bob"))).await;
    assert_eq!(body, json!([]));

    // Anonymous: 401 from the guard, before the scope check.
    let (res, _) = send(&app, post_note(None, r#"{"text":"hi"}"#)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api""#);
    let (res, _) = send(&app, get_as("/notes", None)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Scope held, account disabled: the guard passes, the account check refuses.
    let (res, body) = send(&app, post_note(Some("t-carol"), r#"{"text":"hi"}"#)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "account_disabled");
}

#[tokio::test]
async fn notes_are_written_and_listed_per_account() {
    let app = router();
    let (res, body) = send(&app, post_note(Some("t-alice"), r#"{"text":"first"}"#)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(body, json!({"id": 1, "author": "alice", "text": "first"}));

    let (res, body) = send(&app, get_as("/notes", Some("t-alice"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, json!([{"id": 1, "author": "alice", "text": "first"}]));

    let (res, body) = send(&app, get_as("/notes", Some("t-bob"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn bad_bodies_get_json_errors() {
    let app = router();
    let (res, body) = send(&app, post_note(Some("t-alice"), "{not json")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(body["error"], "invalid_body");

    let (res, body) = send(&app, post_note(Some("t-alice"), r#"{"text":"   "}"#)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "invalid_note");

    let long = json!({ "text": "x".repeat(towerauth_extractors_example::MAX_NOTE_LENGTH + 1) });
    let (res, body) = send(&app, post_note(Some("t-alice"), &long.to_string())).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "invalid_note");

    let request = Request::post("/notes")
        .header(header::AUTHORIZATION, "Bearer t-alice")
        .body(Body::from(r#"{"text":"hi"}"#))
        .unwrap();
    let (res, body) = send(&app, request).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"], "invalid_body");
}

#[tokio::test]
async fn extractors_without_an_auth_layer_are_a_500_not_a_pass() {
    async fn me(user: CurrentUser) -> String {
        user.user.id
    }
    async fn write(guard: RequireScope<Write>) -> String {
        guard.principal.subject().to_owned()
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/write", get(write))
        .with_state(demo_users());
    for path in ["/me", "/write"] {
        let (res, body) = send(&app, get_as(path, Some("t-alice"))).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(body["error"], "server_error", "{path}");
    }
}
