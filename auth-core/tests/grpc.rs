//! gRPC rejections through a real tonic server and client over loopback.

use std::future::{Ready, ready};
use std::time::Duration;

use auth_core::authorize::require_scopes;
use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
use http::Request;
use tonic::Code;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn tokens(req: &Request<tonic::body::Body>) -> Ready<Result<Principal, AuthError>> {
    let cred = match auth_core::credential::Credentials::bearer().extract(req) {
        Ok(cred) => cred,
        Err(err) => return ready(Err(err)),
    };
    ready(match cred.value() {
        "reader" => Ok(Principal::new("r", AuthMethod::Jwt).with_scopes(["health:read"])),
        "nobody" => Ok(Principal::new("n", AuthMethod::Jwt)),
        "down" => Err(AuthError::unavailable("key set unreachable")),
        _ => Err(AuthError::invalid_credential("the token is invalid")),
    })
}

async fn serve() -> Channel {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .layer(AuthLayer::new(tokens))
            .layer(require_scopes(["health:read"]))
            .add_service(health)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
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
    assert!(check(&channel, Some("reader")).await.is_ok());

    let status = check(&channel, None).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "authentication is required");

    let status = check(&channel, Some("forged")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the token is invalid");

    let status = check(&channel, Some("nobody")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let status = check(&channel, Some("down")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(status.message(), "key set unreachable");
}
