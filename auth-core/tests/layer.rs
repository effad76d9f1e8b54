//! End-to-end behaviour of `AuthLayer`, the combinators and the authorization layers, through
//! real tower services.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::authorize::{require, require_any_role, require_roles, require_scopes};
use auth_core::combinator::{Either, first_of};
use auth_core::credential::Credentials;
use auth_core::{AuthError, AuthErrorKind, AuthLayer, AuthMethod, Principal};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_test::mock;

type Body = Full<bytes::Bytes>;
type Check = Ready<Result<Principal, AuthError>>;

/// A bearer-token table: `good` -> alice (scopes read, roles ops), `expired` -> refused.
fn tokens(req: &Request<Body>) -> Check {
    let cred = match Credentials::bearer().extract(req) {
        Ok(cred) => cred,
        Err(err) => return ready(Err(err)),
    };
    ready(match cred.value() {
        "good" => Ok(Principal::new("alice", AuthMethod::Jwt)
            .with_scopes(["read"])
            .with_roles(["ops"])),
        "expired" => {
            Err(AuthError::invalid_credential("the token has expired").with_reason("expired"))
        }
        "down" => Err(AuthError::unavailable("the key set cannot be fetched")),
        _ => Err(AuthError::invalid_credential("the token is invalid")),
    })
}

/// An `X-API-Key` table.
fn api_keys(req: &Request<Body>) -> Check {
    let cred = match Credentials::header(http::HeaderName::from_static("x-api-key")).extract(req) {
        Ok(cred) => cred,
        Err(err) => return ready(Err(err)),
    };
    ready(match cred.value() {
        "key-1" => Ok(Principal::new("acct_1", AuthMethod::ApiKey).with_scopes(["read", "admin"])),
        _ => Err(AuthError::invalid_credential("the API key is invalid")),
    })
}

/// An inner service that echoes the principal's subject and counts its calls.
fn echo(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(move |req: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let who = req
            .extensions()
            .get::<Principal>()
            .map_or_else(|| "anonymous".to_owned(), |p| p.subject().to_owned());
        async move { Ok::<_, Infallible>(Response::new(Full::from(who))) }
    })
}

fn request(headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().uri("/");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::default()).unwrap()
}

async fn body_text<B: http_body::Body>(res: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn identity_is_inserted_on_success() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .service(service_fn(|req: Request<Body>| async move {
            let p = req
                .extensions()
                .get::<Principal>()
                .expect("principal inserted")
                .clone();
            assert_eq!(p.method(), &AuthMethod::Jwt);
            assert!(p.has_scope("read"));
            Ok::<_, Infallible>(Response::new(Body::from(p.subject().to_owned())))
        }));
    let res = svc
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "alice");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn every_failure_kind_has_its_exact_response_and_the_inner_service_is_not_called() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .service(echo(calls.clone()));
    // (request headers, status, WWW-Authenticate, JSON `error`)
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        StatusCode,
        Option<&'a str>,
        &'a str,
    );
    let cases: [Case<'_>; 6] = [
        (
            &[],
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer realm="api""#),
            "unauthorized",
        ),
        (
            &[("authorization", "Bearer expired")],
            StatusCode::UNAUTHORIZED,
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#,
            ),
            "invalid_token",
        ),
        (
            &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
            StatusCode::BAD_REQUEST,
            Some(
                r#"Bearer realm="api", error="invalid_request", error_description="the request has more than one authorization header""#,
            ),
            "invalid_request",
        ),
        (
            &[("authorization", "Bearer ")],
            StatusCode::UNAUTHORIZED,
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the credential is empty""#,
            ),
            "invalid_token",
        ),
        (
            &[("authorization", "Bearer down")],
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "temporarily_unavailable",
        ),
        (
            &[("authorization", "Basic YTpi")],
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer realm="api""#),
            "unauthorized",
        ),
    ];
    for (headers, status, challenge, code) in cases {
        let res = svc.clone().oneshot(request(headers)).await.unwrap();
        assert_eq!(res.status(), status, "{headers:?}");
        assert_eq!(
            res.headers()
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap()),
            challenge,
            "{headers:?}"
        );
        assert_eq!(res.headers()["content-type"], "application/json");
        let err = res
            .extensions()
            .get::<AuthError>()
            .expect("error in extensions")
            .clone();
        assert_eq!(err.status(), status);
        let body: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        assert_eq!(body["error"], code, "{headers:?}");
        assert!(body["error_description"].is_string());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "inner service called on a rejection"
    );
}

#[tokio::test]
async fn the_description_never_echoes_the_credential() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .service(echo(Arc::default()));
    let res = svc
        .oneshot(request(&[("authorization", "Bearer s3cr3t-t0ken-value")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    let body = body_text(res).await;
    assert!(!challenge.contains("s3cr3t"), "{challenge}");
    assert!(!body.contains("s3cr3t"), "{body}");
}

#[tokio::test]
async fn readiness_contract_the_readied_service_is_the_one_called() {
    // `spawn_layer` panics if a clone that was not driven to ready is called.
    let (mut svc, mut handle) =
        mock::spawn_layer::<Request<Body>, Response<Body>, _>(AuthLayer::new(tokens));
    handle.allow(0);
    assert!(svc.poll_ready().is_pending());
    handle.allow(1);
    assert!(svc.poll_ready().is_ready());
    // The inner service is called when the future is polled, after authentication.
    let fut = svc.call(request(&[("authorization", "Bearer good")]));
    let serve = async {
        let (req, send) = handle.next_request().await.expect("inner service called");
        assert_eq!(
            req.extensions().get::<Principal>().unwrap().subject(),
            "alice"
        );
        send.send_response(Response::new(Full::from("hi")));
    };
    let (res, ()) = tokio::join!(fut, serve);
    assert_eq!(res.unwrap().status(), StatusCode::OK);

    // A rejected call consumes the readiness without reaching the inner service.
    handle.allow(1);
    assert!(svc.poll_ready().is_ready());
    let res = svc.call(request(&[])).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_through_but_not_bad_credentials() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens).optional())
        .service(echo(calls.clone()));
    let res = svc.clone().oneshot(request(&[])).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "anonymous");
    let res = svc
        .clone()
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(body_text(res).await, "alice");
    let res = svc
        .oneshot(request(&[("authorization", "Bearer bogus")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn first_of_falls_through_on_missing_and_stops_on_bad() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(first_of(api_keys, tokens)))
        .service(service_fn(|req: Request<Body>| async move {
            let id = req
                .extensions()
                .get::<Either<Principal, Principal>>()
                .expect("either identity")
                .clone();
            let branch = if id.left().is_some() {
                "api_key"
            } else {
                "token"
            };
            Ok::<_, Infallible>(Response::new(Body::from(branch)))
        }));
    let res = svc
        .clone()
        .oneshot(request(&[("x-api-key", "key-1")]))
        .await
        .unwrap();
    assert_eq!(body_text(res).await, "api_key");
    let res = svc
        .clone()
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(body_text(res).await, "token");
    // A bad API key is not retried as a token, even with a good token present.
    let res = svc
        .clone()
        .oneshot(request(&[
            ("x-api-key", "nope"),
            ("authorization", "Bearer good"),
        ]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="invalid_token", error_description="the API key is invalid""#
    );
    let res = svc.oneshot(request(&[])).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn scope_and_role_layers_answer_403_with_the_scope() {
    let calls = Arc::new(AtomicUsize::new(0));
    let scoped = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .layer(require_scopes(["read", "admin"]))
        .service(echo(calls.clone()));
    let res = scoped
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope", scope="read admin""#
    );
    let body: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["scope"], "read admin");

    let roles = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .layer(require_roles(["admin"]))
        .service(echo(calls.clone()));
    let res = roles
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="insufficient_scope""#)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let any_role = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .layer(require_any_role(["admin", "ops"]))
        .service(echo(calls.clone()));
    let res = any_role
        .oneshot(request(&[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn predicate_layer_sees_request_and_principal() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .layer(require(|req: &Request<Body>, p: &Principal| {
            let own = req
                .uri()
                .path()
                .starts_with(&format!("/users/{}/", p.subject()));
            async move {
                if own {
                    Ok(())
                } else {
                    Err(AuthError::forbidden("not your resource"))
                }
            }
        }))
        .service(echo(Arc::default()));
    let get = |path: &str| {
        Request::builder()
            .uri(path)
            .header("authorization", "Bearer good")
            .body(Body::default())
            .unwrap()
    };
    let res = svc
        .clone()
        .oneshot(get("/users/alice/notes"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = svc.oneshot(get("/users/bob/notes")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="not your resource""#
    );
}

#[tokio::test]
async fn authorization_without_authentication_is_a_configuration_error() {
    let svc = ServiceBuilder::new()
        .layer(require_scopes(["read"]))
        .service(echo(Arc::default()));
    let res = svc.oneshot(request(&[])).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        res.extensions().get::<AuthError>().unwrap().kind(),
        AuthErrorKind::Misconfigured
    );

    // Behind an optional layer, an anonymous request is asked to authenticate.
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens).optional())
        .layer(require_scopes(["read"]))
        .service(echo(Arc::default()));
    let res = svc.oneshot(request(&[])).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
}

#[tokio::test]
async fn custom_and_problem_json_rejections() {
    let problem = ServiceBuilder::new()
        .layer(
            AuthLayer::new(tokens)
                .on_rejection(auth_core::Rejection::new().realm("shop").problem_json()),
        )
        .service(echo(Arc::default()));
    let res = problem
        .oneshot(request(&[("authorization", "Bearer expired")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with(r#"Bearer realm="shop""#)
    );
    let body: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(body["status"], 401);
    assert_eq!(body["detail"], "the token has expired");

    let custom = ServiceBuilder::new()
        .layer(
            AuthLayer::new(tokens).on_rejection(|err: &AuthError, _: &HeaderMap| {
                let mut res =
                    Response::new(bytes::Bytes::from(format!("denied: {}", err.reason())));
                *res.status_mut() = err.status();
                res
            }),
        )
        .service(echo(Arc::default()));
    let res = custom
        .oneshot(request(&[("authorization", "Bearer expired")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_text(res).await, "denied: expired");
}

#[tokio::test]
async fn gzip_like_grpc_content_type_gets_grpc_status_in_http_service() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .service(echo(Arc::default()));
    let res = svc
        .oneshot(request(&[
            ("content-type", "application/grpc"),
            ("authorization", "Bearer expired"),
        ]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "the token has expired");
}
