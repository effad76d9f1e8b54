//! The axum extractors in a real axum router.
#![cfg(feature = "axum")]

use std::future::{Ready, ready};

use auth_core::{AuthError, AuthLayer, AuthMethod, Authenticated, Principal};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A typed identity of the application's own, beside the shared `Principal`.
#[derive(Clone)]
struct Robot {
    serial: u32,
    principal: Principal,
}

impl auth_core::Identity for Robot {
    fn principal(&self) -> &Principal {
        &self.principal
    }
}

fn robots(req: &Request<Body>) -> Ready<Result<Robot, AuthError>> {
    ready(match req.headers().get("x-robot") {
        None => Err(AuthError::missing()),
        Some(v) => match v.to_str().ok().and_then(|s| s.parse::<u32>().ok()) {
            Some(serial) => Ok(Robot {
                serial,
                principal: Principal::new(
                    format!("robot-{serial}"),
                    AuthMethod::Custom("robot".into()),
                )
                .with_scopes(["read"]),
            }),
            None => Err(AuthError::invalid_credential("unknown robot")),
        },
    })
}

async fn serial(Authenticated(robot): Authenticated<Robot>) -> String {
    robot.serial.to_string()
}

async fn whoami(principal: Principal) -> String {
    format!("{} via {}", principal.subject(), principal.method())
}

async fn greet(robot: Option<Authenticated<Robot>>, principal: Option<Principal>) -> String {
    match (robot, principal) {
        (Some(Authenticated(r)), Some(p)) => format!("hello {} ({})", r.serial, p.subject()),
        (None, None) => "hello stranger".to_owned(),
        _ => "inconsistent".to_owned(),
    }
}

fn app() -> Router {
    let protected = Router::new()
        .route("/serial", get(serial))
        .route("/whoami", get(whoami))
        .route_layer(AuthLayer::new(robots));
    let optional = Router::new()
        .route("/greet", get(greet))
        .route("/strict", get(serial))
        .route_layer(AuthLayer::new(robots).optional());
    let unprotected = Router::new().route("/forgot-the-layer", get(whoami));
    protected.merge(optional).merge(unprotected)
}

async fn call(path: &str, robot: Option<&str>) -> (StatusCode, String) {
    let mut builder = Request::builder().uri(path);
    if let Some(serial) = robot {
        builder = builder.header("x-robot", serial);
    }
    let res = app()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn typed_identity_and_principal_extractors() {
    assert_eq!(
        call("/serial", Some("7")).await,
        (StatusCode::OK, "7".to_owned())
    );
    assert_eq!(
        call("/whoami", Some("7")).await,
        (StatusCode::OK, "robot-7 via robot".to_owned())
    );
    let (status, _) = call("/whoami", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call("/whoami", Some("x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("invalid_token"), "{body}");
}

#[tokio::test]
async fn optional_extractors_behind_an_optional_layer() {
    assert_eq!(
        call("/greet", None).await,
        (StatusCode::OK, "hello stranger".to_owned())
    );
    assert_eq!(
        call("/greet", Some("9")).await,
        (StatusCode::OK, "hello 9 (robot-9)".to_owned())
    );
    // A bad credential is still refused by the optional layer.
    assert_eq!(call("/greet", Some("x")).await.0, StatusCode::UNAUTHORIZED);
    // A required extractor behind an optional layer asks the anonymous caller to authenticate.
    let res = app()
        .oneshot(
            Request::builder()
                .uri("/strict")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="api""#);
}

#[tokio::test]
async fn a_missing_layer_is_a_500_naming_the_layer() {
    let (status, body) = call("/forgot-the-layer", Some("7")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "server_error");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("AuthLayer"), "{description}");
    assert!(description.contains("Principal"), "{description}");
}
