//! The axum extractors in a real axum router, behind one method and behind `first_of`.
#![cfg(feature = "axum")]

mod common;

use auth_core::{
    AuthError, AuthLayer, Authenticated, Principal, RequireScope, ScopeName, first_of,
};
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use tower::ServiceExt;

use common::{Robot, Sessions, Visitor, body_json, body_text, robots};

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

struct Read;
impl ScopeName for Read {
    const NAME: &'static str = "read";
}

struct Admin;
impl ScopeName for Admin {
    const NAME: &'static str = "admin";
}

async fn read(caller: RequireScope<Read>) -> String {
    caller.principal.subject().to_owned()
}

async fn admin(caller: RequireScope<Admin>) -> String {
    caller.principal.subject().to_owned()
}

fn app() -> Router {
    let protected = Router::new()
        .route("/serial", get(serial))
        .route("/whoami", get(whoami))
        .route("/read", get(read))
        .route("/admin", get(admin))
        .route_layer(AuthLayer::new(robots::<Body>));
    let optional = Router::new()
        .route("/greet", get(greet))
        .route("/strict", get(serial))
        .route_layer(AuthLayer::new(robots::<Body>).optional());
    let unprotected = Router::new().route("/forgot-the-layer", get(whoami));
    protected.merge(optional).merge(unprotected)
}

async fn send(app: Router, path: &str, headers: &[(&str, &str)]) -> Response<Body> {
    let mut builder = Request::builder().uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    app.oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn call(path: &str, robot: Option<&str>) -> (StatusCode, String) {
    let headers: Vec<(&str, &str)> = robot.map(|r| ("x-robot", r)).into_iter().collect();
    let res = send(app(), path, &headers).await;
    (res.status(), body_text(res).await)
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
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"],
        "invalid_token"
    );
}

#[tokio::test]
async fn require_scope_extractor() {
    assert_eq!(
        call("/read", Some("7")).await,
        (StatusCode::OK, "robot-7".to_owned())
    );
    let res = send(app(), "/admin", &[("x-robot", "7")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: admin", scope="admin""#
    );
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(body_json(res).await["scope"], "admin");
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
    let res = send(app(), "/strict", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_missing_layer_is_a_500_that_keeps_its_cause_from_the_client() {
    let res = send(app(), "/forgot-the-layer", &[("x-robot", "7")]).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    let cause = res.extensions().get::<AuthError>().unwrap().clone();
    assert_eq!(cause.reason(), "no_auth_layer");
    assert!(cause.description().contains("AuthLayer"), "{cause:?}");
    assert!(cause.description().contains("Principal"), "{cause:?}");
    assert_eq!(
        body_json(res).await,
        serde_json::json!({"error": "server_error", "error_description": "internal server error"})
    );
}

/// `first_of(sessions, robots)`: handlers name the branch they want.
fn chain() -> Router {
    async fn robot_only(
        Authenticated(robot): Authenticated<Robot>,
        visitor: Option<Authenticated<Visitor>>,
        principal: Principal,
    ) -> String {
        let also = if visitor.is_some() { ", visitor" } else { "" };
        format!("robot {} ({}){also}", robot.serial, principal.subject())
    }
    async fn visitor_only(
        Authenticated(visitor): Authenticated<Visitor>,
        robot: Option<Authenticated<Robot>>,
        principal: Principal,
    ) -> String {
        let also = if robot.is_some() { ", robot" } else { "" };
        format!(
            "visitor {} ({}){also}",
            visitor.session,
            principal.subject()
        )
    }
    async fn anyone(principal: Principal) -> String {
        principal.subject().to_owned()
    }
    Router::new()
        .route("/robot", get(robot_only))
        .route("/visitor", get(visitor_only))
        .route("/anyone", get(anyone))
        .route_layer(AuthLayer::new(first_of(
            Sessions::default(),
            robots::<Body>,
        )))
}

#[tokio::test]
async fn first_of_branch_identities_are_extractable() {
    let robot = [("x-robot", "7")];
    let visitor = [("cookie", "sid=s-1")];

    let res = send(chain(), "/robot", &robot).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "robot 7 (robot-7)");
    let res = send(chain(), "/visitor", &visitor).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "visitor s-1 (carol)");
    for (headers, subject) in [(&robot, "robot-7"), (&visitor, "carol")] {
        let res = send(chain(), "/anyone", headers).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_text(res).await, subject);
    }

    // A route wanting the other branch's identity refuses: 401, reason `other_method`.
    for (path, headers) in [("/visitor", &robot), ("/robot", &visitor)] {
        let res = send(chain(), path, headers).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            res.extensions().get::<AuthError>().unwrap().reason(),
            "other_method"
        );
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_token", error_description="this resource does not accept this kind of credential""#
        );
        assert_eq!(body_json(res).await["error"], "invalid_token");
    }
}

#[tokio::test]
async fn a_session_the_store_does_not_know_falls_through_to_the_robot() {
    let res = send(
        chain(),
        "/robot",
        &[("cookie", "sid=s-expired"), ("x-robot", "8")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "robot 8 (robot-8)");

    // A known session wins over a robot header sent beside it.
    let res = send(
        chain(),
        "/visitor",
        &[("cookie", "sid=s-1"), ("x-robot", "8")],
    )
    .await;
    assert_eq!(body_text(res).await, "visitor s-1 (carol)");

    // An unknown session alone is no credential.
    let res = send(chain(), "/anyone", &[("cookie", "sid=s-expired")]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
}
