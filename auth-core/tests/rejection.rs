//! Shaping refusals through `AuthLayer`: the problem+json form and its realm, a custom
//! `OnRejection` closure that redirects, and credentials read from cookies.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::{
    AuthError, AuthErrorKind, AuthLayer, AuthMethod, Credentials, Principal, Rejection,
};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt};

use common::{Body, bearer, body_json, body_text, echo, request_to, tokens};

#[tokio::test]
async fn problem_json_in_its_own_realm() {
    let svc = ServiceBuilder::new()
        .layer(
            AuthLayer::new(tokens::<Body>)
                .on_rejection(Rejection::new().realm("shop").problem_json()),
        )
        .service(echo(Arc::default()));
    let res = svc.clone().oneshot(bearer("expired")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="shop", error="invalid_token", error_description="the token has expired""#
    );
    assert_eq!(
        body_json(res).await,
        serde_json::json!({
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": "the token has expired",
            "error": "invalid_token",
        })
    );
    let res = svc.oneshot(bearer("admin")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Browsers without a credential go to the login page, which sends them back afterwards;
/// other refusals keep their status.
fn to_login(error: &AuthError, request: &Request<Body>) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    if error.is_missing() {
        *response.status_mut() = StatusCode::SEE_OTHER;
        let back = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let location = format!(
            "/login?next={}",
            back.replace('?', "%3F").replace('&', "%26")
        );
        response
            .headers_mut()
            .insert(LOCATION, location.parse().unwrap());
    } else {
        *response.status_mut() = error.status();
        *response.body_mut() = Bytes::from(format!("refused: {}", error.reason()));
    }
    response
}

#[tokio::test]
async fn a_custom_rejection_redirects_with_the_request_uri() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>).on_rejection(to_login))
        .service(echo(calls.clone()));

    let res = svc
        .clone()
        .oneshot(request_to("/orders/7?tab=items", &[]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?next=/orders/7%3Ftab=items");
    assert!(res.extensions().get::<AuthError>().unwrap().is_missing());
    assert_eq!(body_text(res).await, "");

    let res = svc
        .clone()
        .oneshot(request_to(
            "/orders/7",
            &[("authorization", b"Bearer expired")],
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get(LOCATION).is_none());
    assert_eq!(body_text(res).await, "refused: expired");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let res = svc
        .oneshot(request_to(
            "/orders/7",
            &[("authorization", b"Bearer good")],
        ))
        .await
        .unwrap();
    assert_eq!(
        (res.status(), body_text(res).await.as_str()),
        (StatusCode::OK, "alice")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Sessions in cookie `sid`: `abc` is alice's.
fn cookie_sessions(request: &Request<Body>) -> Result<Principal, AuthError> {
    let sources = Credentials::cookie("sid");
    match sources.find(request)?.value() {
        "abc" => Ok(Principal::new("alice", AuthMethod::Session)),
        _ => Err(AuthError::invalid_credential("the session is invalid")),
    }
}

#[tokio::test]
async fn an_unrelated_undecodable_cookie_does_not_lock_anyone_out() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(cookie_sessions))
        .service(echo(Arc::default()));
    let cookies: [&[u8]; 4] = [
        b"junk=\xff\xfe; sid=abc",
        b"sid=abc; caf\xc3\xa9=cr\xe8me",
        b"tracker=\x80\x81; theme=dark; sid=\"abc\"",
        b"=; ;;sid=abc",
    ];
    for cookie in cookies {
        let res = svc
            .clone()
            .oneshot(request_to("/", &[("cookie", cookie)]))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{cookie:?}");
        assert_eq!(body_text(res).await, "alice", "{cookie:?}");
    }
    // The opaque cookie in a header of its own is no obstacle either.
    let res = svc
        .clone()
        .oneshot(request_to(
            "/",
            &[("cookie", b"junk=\xff"), ("cookie", b"sid=abc")],
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Without the target cookie, the opaque one is still no credential: a bare challenge.
    let res = svc
        .oneshot(request_to("/", &[("cookie", b"junk=\xff")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
}

#[tokio::test]
async fn a_malformed_target_cookie_is_refused() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(cookie_sessions))
        .service(echo(Arc::default()));
    let cases: [(&[u8], StatusCode, AuthErrorKind); 5] = [
        (
            b"sid=ab\xffc",
            StatusCode::UNAUTHORIZED,
            AuthErrorKind::InvalidCredential,
        ),
        (
            b"sid=a b",
            StatusCode::UNAUTHORIZED,
            AuthErrorKind::InvalidCredential,
        ),
        (
            b"sid=",
            StatusCode::UNAUTHORIZED,
            AuthErrorKind::InvalidCredential,
        ),
        (
            b"sid=xyz",
            StatusCode::UNAUTHORIZED,
            AuthErrorKind::InvalidCredential,
        ),
        (
            b"sid=abc; sid=abc",
            StatusCode::BAD_REQUEST,
            AuthErrorKind::InvalidRequest,
        ),
    ];
    for (cookie, status, kind) in cases {
        let res = svc
            .clone()
            .oneshot(request_to("/", &[("cookie", cookie)]))
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{cookie:?}");
        assert_eq!(
            res.extensions().get::<AuthError>().unwrap().kind(),
            kind,
            "{cookie:?}"
        );
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        let code = if status == StatusCode::BAD_REQUEST {
            "invalid_request"
        } else {
            "invalid_token"
        };
        assert!(
            challenge.contains(&format!(r#"error="{code}""#)),
            "{challenge}"
        );
    }
}
