//! End-to-end behaviour of `AuthLayer` through real tower services: the identity handed on,
//! every refusal's exact response, the readiness contract and the optional mode.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::{AuthError, AuthErrorKind, AuthLayer, AuthMethod, Principal};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

use common::{Body, Table, bearer, body_json, body_text, echo, request, tokens};

#[tokio::test]
async fn the_identity_is_inserted_on_success() {
    for table in [Table::decided(), Table::pending()] {
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(table.clone()))
            .service(service_fn(|req: Request<Body>| async move {
                let p = req
                    .extensions()
                    .get::<Principal>()
                    .expect("principal inserted")
                    .clone();
                assert_eq!(p.method(), &AuthMethod::Jwt);
                assert!(p.has_scope("read"));
                assert!(p.has_role("ops"));
                Ok::<_, Infallible>(Response::new(Body::from(p.subject().to_owned())))
            }));
        let res = svc.oneshot(bearer("good")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "pending: {}", table.pending);
        assert!(res.extensions().get::<AuthError>().is_none());
        assert_eq!(body_text(res).await, "alice");
    }
}

/// One refusal: request headers, status, `WWW-Authenticate`, JSON `error` and
/// `error_description`.
type Case = (
    &'static [(&'static str, &'static str)],
    StatusCode,
    Option<&'static str>,
    &'static str,
    &'static str,
);

const REFUSALS: [Case; 9] = [
    (
        &[],
        StatusCode::UNAUTHORIZED,
        Some(r#"Bearer realm="api""#),
        "unauthorized",
        "authentication is required",
    ),
    (
        &[("authorization", "Basic YTpi")],
        StatusCode::UNAUTHORIZED,
        Some(r#"Bearer realm="api""#),
        "unauthorized",
        "authentication is required",
    ),
    (
        &[("authorization", "Bearer expired")],
        StatusCode::UNAUTHORIZED,
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#,
        ),
        "invalid_token",
        "the token has expired",
    ),
    (
        &[("authorization", "Bearer ")],
        StatusCode::UNAUTHORIZED,
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the credential is empty""#,
        ),
        "invalid_token",
        "the credential is empty",
    ),
    (
        &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
        StatusCode::BAD_REQUEST,
        Some(
            r#"Bearer realm="api", error="invalid_request", error_description="the request has more than one authorization header""#,
        ),
        "invalid_request",
        "the request has more than one authorization header",
    ),
    (
        &[("authorization", "Bearer banned")],
        StatusCode::FORBIDDEN,
        None,
        "forbidden",
        "the account is suspended",
    ),
    (
        &[("authorization", "Bearer down")],
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "temporarily_unavailable",
        "the key set cannot be fetched",
    ),
    (
        &[("authorization", "Bearer broken")],
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        "server_error",
        "internal server error",
    ),
    (
        &[("authorization", "Bearer bogus")],
        StatusCode::UNAUTHORIZED,
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the token is invalid""#,
        ),
        "invalid_token",
        "the token is invalid",
    ),
];

#[tokio::test]
async fn every_refusal_has_its_exact_response_and_the_inner_service_is_not_called() {
    for table in [Table::decided(), Table::pending()] {
        let calls = Arc::new(AtomicUsize::new(0));
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(table.clone()))
            .service(echo(calls.clone()));
        for (headers, status, challenge, code, description) in REFUSALS {
            let what = format!("{headers:?}, pending: {}", table.pending);
            let res = svc.clone().oneshot(request(headers)).await.unwrap();
            assert_eq!(res.status(), status, "{what}");
            assert_eq!(
                res.headers()
                    .get(WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap()),
                challenge,
                "{what}"
            );
            assert_eq!(res.headers()[CONTENT_TYPE], "application/json", "{what}");
            assert_eq!(res.headers()[CACHE_CONTROL], "no-store", "{what}");
            let err = res
                .extensions()
                .get::<AuthError>()
                .expect("error in extensions")
                .clone();
            assert_eq!(err.status(), status, "{what}");
            let body = body_json(res).await;
            assert_eq!(
                body,
                serde_json::json!({"error": code, "error_description": description}),
                "{what}"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0, "inner service called");
    }
}

#[tokio::test]
async fn a_misconfiguration_keeps_its_cause_for_the_log() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .service(echo(Arc::default()));
    let res = svc.oneshot(bearer("broken")).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let err = res.extensions().get::<AuthError>().unwrap().clone();
    assert_eq!(err.kind(), AuthErrorKind::Misconfigured);
    assert_eq!(
        err.description(),
        "the key set holds no key for algorithm RS256"
    );
    assert!(!body_text(res).await.contains("RS256"));
}

#[tokio::test]
async fn the_refusal_never_echoes_the_credential() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .service(echo(Arc::default()));
    let res = svc.oneshot(bearer("s3cr3t-t0ken-value")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    let body = body_text(res).await;
    assert!(!challenge.contains("s3cr3t"), "{challenge}");
    assert!(!body.contains("s3cr3t"), "{body}");
}

/// `spawn_layer` panics if a clone that was not driven to ready is called, so these prove
/// that the readied inner service is the one called, with checks decided at once or not.
#[tokio::test]
async fn the_readied_inner_service_is_the_one_called() {
    for table in [Table::decided(), Table::pending()] {
        let pending = table.pending;
        let (mut svc, mut handle) =
            mock::spawn_layer::<Request<Body>, Response<Body>, _>(AuthLayer::new(table));
        handle.allow(0);
        assert!(svc.poll_ready().is_pending());
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(bearer("good"));
        let serve = async {
            let (req, send) = handle.next_request().await.expect("inner service called");
            assert_eq!(
                req.extensions().get::<Principal>().unwrap().subject(),
                "alice"
            );
            send.send_response(Response::new(Full::from("hi")));
        };
        let (res, ()) = tokio::join!(fut, serve);
        let res = res.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "pending: {pending}");
        assert_eq!(body_text(res).await, "hi");

        // Two calls in flight, each on the service readied for it.
        handle.allow(2);
        assert!(svc.poll_ready().is_ready());
        let first = svc.call(bearer("good"));
        assert!(svc.poll_ready().is_ready());
        let second = svc.call(bearer("admin"));
        let serve = async {
            for _ in 0..2 {
                let (req, send) = handle.next_request().await.expect("inner service called");
                let who = req.extensions().get::<Principal>().unwrap().subject();
                send.send_response(Response::new(Full::from(who.to_owned())));
            }
        };
        let (first, second, ()) = tokio::join!(first, second, serve);
        assert_eq!(body_text(first.unwrap()).await, "alice");
        assert_eq!(body_text(second.unwrap()).await, "root");

        // A refused call answers without reaching the inner service.
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let res = svc.call(request(&[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "pending: {pending}");
        assert!(handle.poll_request().is_pending(), "pending: {pending}");
    }
}

#[tokio::test]
async fn optional_lets_anonymous_through_but_not_a_bad_credential() {
    for table in [Table::decided(), Table::pending()] {
        let calls = Arc::new(AtomicUsize::new(0));
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(table.clone()).optional())
            .service(echo(calls.clone()));
        let res = svc.clone().oneshot(request(&[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(body_text(res).await, "anonymous");
        let res = svc.clone().oneshot(bearer("good")).await.unwrap();
        assert_eq!(body_text(res).await, "alice");
        let res = svc.clone().oneshot(bearer("bogus")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_token", error_description="the token is invalid""#
        );
        // An ambiguous request is no more anonymous than a bad credential.
        let res = svc
            .oneshot(request(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b"),
            ]))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "pending: {}",
            table.pending
        );
    }
}
