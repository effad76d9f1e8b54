//! gRPC refusals: through a real tonic server and client over loopback (the layers stack in
//! `Server::builder().layer(..)` and keep tonic's body), and the rule that only a real gRPC
//! call (HTTP/2, `application/grpc…`, `te: trailers`) gets the gRPC form.
#![cfg(feature = "tonic")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthLayer, require_scopes, require_scopes_per_path};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, StatusCode, Version};
use tonic::Code;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::{ServiceBuilder, ServiceExt};

use common::{Body, body_json, echo, tokens};

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

/// The health service behind `AuthLayer` and `require_scopes(["read"])`.
async fn serve() -> Channel {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(tokens::<tonic::body::Body>))
            .layer(require_scopes(["read"]))
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    connect(addr).await
}

async fn check(channel: &Channel, token: Option<&str>) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    HealthClient::new(channel.clone())
        .check(request)
        .await
        .map(drop)
}

#[tokio::test]
async fn grpc_statuses_through_a_tonic_service() {
    let channel = serve().await;
    assert!(check(&channel, Some("good")).await.is_ok());

    // (token, code, message)
    let cases = [
        (None, Code::Unauthenticated, "authentication is required"),
        (
            Some("forged"),
            Code::Unauthenticated,
            "the token is invalid",
        ),
        (
            Some("expired"),
            Code::Unauthenticated,
            "the token has expired",
        ),
        (
            Some("banned"),
            Code::PermissionDenied,
            "the account is suspended",
        ),
        (
            Some("down"),
            Code::Unavailable,
            "the key set cannot be fetched",
        ),
        (Some("broken"), Code::Internal, "internal server error"),
    ];
    for (token, code, message) in cases {
        let status = check(&channel, token).await.unwrap_err();
        assert_eq!(status.code(), code, "{token:?}");
        assert_eq!(status.message(), message, "{token:?}");
    }
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied_naming_the_scope() {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(tokens::<tonic::body::Body>))
            .layer(require_scopes(["admin"]))
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let channel = connect(addr).await;
    let status = check(&channel, Some("good")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "the credential lacks a required scope: admin"
    );
    assert!(check(&channel, Some("admin")).await.is_ok());
}

#[tokio::test]
async fn per_method_scopes_keep_unlisted_rpcs_closed() {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(tokens::<tonic::body::Body>))
            .layer(require_scopes_per_path([(
                "/grpc.health.v1.Health/Check",
                vec!["read"],
            )]))
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    let channel = connect(addr).await;
    assert!(check(&channel, Some("good")).await.is_ok());

    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", "Bearer good".parse().unwrap());
    let status = HealthClient::new(channel).watch(request).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "no access rule allows this method or path"
    );
}

/// A request with gRPC's content type, in `version`, with or without `te: trailers`.
fn grpc_like(version: Version, te: bool) -> Request<Body> {
    let mut builder = Request::builder()
        .version(version)
        .uri("/grpc.health.v1.Health/Check")
        .header(CONTENT_TYPE, "application/grpc")
        .header("authorization", "Bearer expired");
    if te {
        builder = builder.header("te", "trailers");
    }
    builder.body(Body::default()).unwrap()
}

#[tokio::test]
async fn only_a_real_grpc_call_gets_the_grpc_form() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .service(echo(Arc::default()));

    // HTTP/1.1 with gRPC's content type (and even `te: trailers`) is a plain HTTP request.
    for (version, te) in [
        (Version::HTTP_11, false),
        (Version::HTTP_11, true),
        (Version::HTTP_2, false),
    ] {
        let what = format!("{version:?}, te: {te}");
        let res = svc.clone().oneshot(grpc_like(version, te)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert!(res.headers().get("grpc-status").is_none(), "{what}");
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json", "{what}");
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#,
            "{what}"
        );
        assert_eq!(body_json(res).await["error"], "invalid_token", "{what}");
    }

    let res = svc.oneshot(grpc_like(Version::HTTP_2, true)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "the token has expired");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/grpc");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
}
