//! A local axum server playing a broken or hostile introspection endpoint: every malformed
//! answer is a 503 (the token can be neither accepted nor refused), never a 200, a 401 or
//! a panic, and it is not cached.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use common::{app, read_verdict};
use tower::ServiceExt;
use tower_introspect::Introspection;

const ISSUER: &str = "https://as.example";

fn json(body: impl Into<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// The endpoint's routes, and how many requests reached it.
async fn endpoint() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/not-json",
            post(|| async {
                ([(header::CONTENT_TYPE, "text/html")], "<h1>hi</h1>").into_response()
            }),
        )
        .route("/json-garbage", post(|| async { json("{\"active\": tru") }))
        .route(
            "/huge",
            post(|| async {
                json(format!(
                    "{{\"active\":true,\"sub\":\"a\",\"pad\":\"{}\"}}",
                    "x".repeat(1 << 20)
                ))
            }),
        )
        .route(
            "/no-active",
            post(|| async { json(r#"{"sub":"a","scope":"read"}"#) }),
        )
        .route(
            "/active-string",
            post(|| async { json(r#"{"active":"true","sub":"a"}"#) }),
        )
        .route(
            "/exp-string",
            post(|| async { json(r#"{"active":true,"sub":"a","exp":"tomorrow"}"#) }),
        )
        .route(
            "/exp-huge",
            post(|| async { json(r#"{"active":true,"sub":"a","exp":1e300}"#) }),
        )
        .route(
            "/exp-past",
            post(|| async { json(r#"{"active":true,"sub":"a","exp":1000}"#) }),
        )
        .route(
            "/status-500",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/redirect",
            post(|| async { Redirect::temporary("/client-auth") }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                json(r#"{"active":true,"sub":"a"}"#)
            }),
        )
        .route(
            "/inactive",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { json(r#"{"active":false}"#) }
            }),
        )
        // Active only for `intro-rs:intro-rs-secret` (Basic) and the token in the form body.
        .route(
            "/client-auth",
            post(|headers: HeaderMap, request: Request<Body>| async move {
                let basic = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                let form = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let query = request.uri().query().map(str::to_owned);
                let body = axum::body::to_bytes(request.into_body(), 4096)
                    .await
                    .unwrap();
                let ok = basic == Some("Basic aW50cm8tcnM6aW50cm8tcnMtc2VjcmV0")
                    && form == Some("application/x-www-form-urlencoded")
                    && query.is_none()
                    && body == "token=opaque-token&token_type_hint=access_token";
                json(format!(r#"{{"active":{ok},"sub":"alice","scope":"read"}}"#))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn introspection(url: &str, path: &str) -> Introspection {
    Introspection::builder(ISSUER)
        .endpoint(format!("{url}{path}"))
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .insecure_http_loopback()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test]
async fn hostile_answers_are_503_and_never_cached() {
    let (url, _) = endpoint().await;
    for (path, reason) in [
        ("/not-json", "introspection_unavailable"),
        ("/json-garbage", "invalid_introspection_response"),
        ("/huge", "introspection_unavailable"),
        ("/no-active", "invalid_introspection_response"),
        ("/active-string", "invalid_introspection_response"),
        ("/exp-string", "invalid_introspection_response"),
        ("/exp-huge", "invalid_introspection_response"),
        ("/status-500", "introspection_unavailable"),
        ("/redirect", "introspection_unavailable"),
        ("/slow", "introspection_unavailable"),
        ("/nowhere", "introspection_unavailable"),
    ] {
        let introspection = introspection(&url, path);
        assert_eq!(
            read_verdict(&introspection).await,
            (StatusCode::SERVICE_UNAVAILABLE, Some(reason)),
            "{path}"
        );
        // Not cached: the second request fails the same way, asking again.
        assert_eq!(
            read_verdict(&introspection).await.0,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}"
        );
    }
}

#[tokio::test]
async fn active_with_an_exp_in_the_past_is_refused() {
    let (url, _) = endpoint().await;
    assert_eq!(
        read_verdict(&introspection(&url, "/exp-past")).await,
        (StatusCode::UNAUTHORIZED, Some("expired"))
    );
}

#[tokio::test]
async fn the_token_goes_in_the_form_body_with_client_secret_basic() {
    let (url, _) = endpoint().await;
    assert_eq!(
        read_verdict(&introspection(&url, "/client-auth")).await,
        (StatusCode::OK, None)
    );
}

#[tokio::test]
async fn inactive_answers_are_cached_briefly() {
    let (url, hits) = endpoint().await;
    let introspection = Introspection::builder(ISSUER)
        .endpoint(format!("{url}/inactive"))
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .insecure_http_loopback()
        .inactive_ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            read_verdict(&introspection).await,
            (StatusCode::UNAUTHORIZED, Some("inactive"))
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        read_verdict(&introspection).await,
        (StatusCode::UNAUTHORIZED, Some("inactive"))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_without_a_token_is_missing_and_never_asks() {
    let (url, hits) = endpoint().await;
    let request = Request::builder().uri("/read").body(Body::empty()).unwrap();
    let response = app(introspection(&url, "/inactive").authenticator())
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

/// An issuer at a loopback URL whose metadata is `metadata` plus its own `issuer`.
async fn issuer_with(metadata: serde_json::Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut metadata = metadata;
    metadata["issuer"] = issuer.clone().into();
    metadata["introspection_endpoint"] = format!("{issuer}/introspect").into();
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let body = metadata.to_string();
            async move { json(body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

#[tokio::test]
async fn discovery_refuses_a_client_authentication_the_issuer_does_not_offer() {
    use serde_json::json;
    use tower_jwt::Algorithm;
    const KEY: &[u8] = include_bytes!("data/client-p256.pem");
    let discover = |issuer: String, private_key: bool| {
        let builder = Introspection::builder(issuer)
            .client_id("intro-rs")
            .insecure_http_loopback();
        let builder = if private_key {
            builder.private_key_jwt(Algorithm::ES256, KEY)
        } else {
            builder.client_secret("intro-rs-secret")
        };
        builder.discover()
    };
    let refused = |result: Result<Introspection, auth_core::ConfigError>| {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), auth_core::ConfigErrorKind::Setup, "{error}");
        error.field()
    };

    let basic_only = issuer_with(json!({
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
    .await;
    assert_eq!(
        refused(discover(basic_only.clone(), true).await),
        "private_key_jwt"
    );
    assert!(discover(basic_only, false).await.is_ok());

    // Without the introspection list, the token endpoint's speaks for it.
    let key_only = issuer_with(json!({
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
    }))
    .await;
    assert_eq!(
        refused(discover(key_only.clone(), false).await),
        "client_secret"
    );
    assert!(discover(key_only, true).await.is_ok());

    let rsa_only = issuer_with(json!({
        "introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
    }))
    .await;
    assert_eq!(refused(discover(rsa_only, true).await), "private_key_jwt");

    // Nothing listed: nothing to check against.
    assert!(discover(issuer_with(json!({})).await, true).await.is_ok());

    // JWT answers need the issuer's `jwks_uri`.
    let no_jwks = Introspection::builder(issuer_with(json!({})).await)
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .insecure_http_loopback()
        .jwt_responses()
        .discover()
        .await;
    assert_eq!(refused(no_jwks), "jwks_url");
}
