//! The authorization layers stacked inside `AuthLayer`: scopes (all or any), roles, per-path
//! scopes and async predicates; what they answer an anonymous caller or a route without
//! authentication; and that stacking keeps the inner service's body type.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_core::{
    AuthError, AuthErrorKind, AuthLayer, Principal, Rejection, require, require_roles,
    require_scopes, require_scopes_per_path,
};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_test::mock;

use common::{Body, Table, bearer, body_json, body_text, echo, request, request_to, tokens};

/// Compiles only if `service` answers with `Full<Bytes>`, the inner service's own body.
fn assert_body<S>(_: &S)
where
    S: Service<Request<Body>, Response = Response<Full<Bytes>>>,
{
}

/// An inner service of any type.
type Boxed = BoxCloneService<Request<Body>, Response<Body>, Infallible>;

/// `GET /` with `token` through `AuthLayer::new(tokens)` and `layer`, with the inner
/// service's call count.
async fn through<L>(layer: L, token: &str) -> (Response<Body>, usize)
where
    L: Layer<Boxed>,
    L::Service: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let calls = Arc::new(AtomicUsize::new(0));
    let inner = Boxed::new(echo(calls.clone()));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(layer)
        .service(inner);
    let res = svc.oneshot(bearer(token)).await.unwrap();
    (res, calls.load(Ordering::SeqCst))
}

#[tokio::test]
async fn stacking_keeps_the_body_type_and_the_scope_refusal_arrives_intact() {
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(require_scopes(["read", "admin"]))
        .service(echo(Arc::default()));
    assert_body(&svc);
    let res = svc.clone().oneshot(bearer("admin")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "root");

    let res = svc.oneshot(bearer("good")).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: read admin", scope="read admin""#
    );
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(
        body_text(res).await,
        r#"{"error":"insufficient_scope","error_description":"the credential lacks a required scope: read admin","scope":"read admin"}"#
    );
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_scope_refusal_reaches_an_http_client_intact() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = axum::Router::new()
        .route("/notes", axum::routing::get(|| async { "notes" }))
        .route_layer(require_scopes(["admin"]))
        .route_layer(AuthLayer::new(tokens::<axum::body::Body>));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /notes HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer good\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect(&raw);
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    let header = |name: &str| {
        head.lines()
            .find_map(|line| {
                let (n, v) = line.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
            .expect(name)
    };
    assert_eq!(header("content-length"), body.len().to_string());
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        body,
        r#"{"error":"insufficient_scope","error_description":"the credential lacks a required scope: admin","scope":"admin"}"#
    );
}

#[tokio::test]
async fn any_of_the_scopes_is_enough_with_any() {
    let (res, calls) = through(require_scopes(["admin", "read"]).any(), "good").await;
    assert_eq!((res.status(), calls), (StatusCode::OK, 1));
    let (res, calls) = through(require_scopes(["admin", "write"]).any(), "good").await;
    assert_eq!((res.status(), calls), (StatusCode::FORBIDDEN, 0));
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: admin write", scope="admin write""#
    );
    // Without `any`, every scope is needed.
    let (res, _) = through(require_scopes(["admin", "read"]), "good").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roles_are_refused_with_a_plain_403() {
    let (res, calls) = through(require_roles(["admin"]), "good").await;
    assert_eq!((res.status(), calls), (StatusCode::FORBIDDEN, 0));
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(
        body_json(res).await,
        serde_json::json!({
            "error": "forbidden",
            "error_description": "the caller lacks a required role: admin",
        })
    );
    let (res, _) = through(require_roles(["admin", "ops"]), "good").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, calls) = through(require_roles(["admin", "ops"]).any(), "good").await;
    assert_eq!((res.status(), calls), (StatusCode::OK, 1));
    let (res, _) = through(require_roles(["auditor", "billing"]).any(), "good").await;
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body_json(res).await["error_description"],
        "the caller has none of the roles: auditor billing"
    );
    let (res, _) = through(require_roles(["admin"]), "admin").await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn per_path_scopes_listed_unlisted_and_empty() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(require_scopes_per_path([
            ("/shop.Orders/WhoAmI", vec![]),
            ("/shop.Orders/List", vec!["read"]),
            ("/shop.Orders/Cancel", vec!["write"]),
        ]))
        .service(echo(calls.clone()));
    let call = |path: &str| {
        let req = request_to(path, &[("authorization", b"Bearer good")]);
        svc.clone().oneshot(req)
    };
    assert_eq!(
        call("/shop.Orders/WhoAmI").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        call("/shop.Orders/List").await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let res = call("/shop.Orders/Cancel").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: write", scope="write""#
    );

    // An unlisted path (an RPC added later) stays closed: a plain 403.
    let res = call("/shop.Orders/Refund").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(
        res.extensions().get::<AuthError>().unwrap().reason(),
        "unlisted_path"
    );
    assert_eq!(
        body_json(res).await,
        serde_json::json!({
            "error": "forbidden",
            "error_description": "no access rule allows this method or path",
        })
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Only the owner may read `/users/{subject}/…`; the check waits, as a database query would.
fn owner_only(
    req: &Request<Body>,
    p: &Principal,
) -> impl Future<Output = Result<(), AuthError>> + Send + use<> {
    let own = req
        .uri()
        .path()
        .starts_with(&format!("/users/{}/", p.subject()));
    async move {
        tokio::task::yield_now().await;
        if own {
            Ok(())
        } else {
            Err(AuthError::forbidden("not your resource"))
        }
    }
}

#[tokio::test]
async fn an_async_predicate_sees_the_request_and_the_principal() {
    let calls = Arc::new(AtomicUsize::new(0));
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(require(owner_only))
        .service(echo(calls.clone()));
    let get = |path: &str| {
        svc.clone()
            .oneshot(request_to(path, &[("authorization", b"Bearer good")]))
    };
    let res = get("/users/alice/notes").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "alice");
    let res = get("/users/bob/notes").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body_json(res).await,
        serde_json::json!({"error": "forbidden", "error_description": "not your resource"})
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stacked_waiting_checks_call_the_readied_inner_service() {
    // `spawn_layer` panics if a clone that was not driven to ready is called.
    let stack = ServiceBuilder::new()
        .layer(AuthLayer::new(Table::pending()))
        .layer(require(owner_only))
        .into_inner();
    let (mut svc, mut handle) = mock::spawn_layer::<Request<Body>, Response<Body>, _>(stack);
    handle.allow(2);
    assert!(svc.poll_ready().is_ready());
    let own = svc.call(request_to(
        "/users/alice/x",
        &[("authorization", b"Bearer good")],
    ));
    assert!(svc.poll_ready().is_ready());
    let other = svc.call(request_to(
        "/users/bob/x",
        &[("authorization", b"Bearer good")],
    ));
    let serve = async {
        let (req, send) = handle.next_request().await.expect("inner service called");
        assert_eq!(req.uri().path(), "/users/alice/x");
        send.send_response(Response::new(Full::from("mine")));
    };
    let (own, other, ()) = tokio::join!(own, other, serve);
    assert_eq!(body_text(own.unwrap()).await, "mine");
    assert_eq!(other.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn anonymous_is_401_and_no_auth_layer_is_500_for_every_layer() {
    let layers: [(&str, Boxed); 4] = {
        let inner = || Boxed::new(echo(Arc::default()));
        [
            (
                "scopes",
                Boxed::new(require_scopes(["read"]).layer(inner())),
            ),
            ("roles", Boxed::new(require_roles(["ops"]).layer(inner()))),
            (
                "per path",
                Boxed::new(require_scopes_per_path([("/", vec!["read"])]).layer(inner())),
            ),
            ("predicate", Boxed::new(require(owner_only).layer(inner()))),
        ]
    };
    for (name, authorized) in layers {
        // Behind an optional layer, an anonymous caller is asked to authenticate.
        let optional = AuthLayer::new(tokens::<Body>)
            .optional()
            .layer(authorized.clone());
        let res = optional.oneshot(request(&[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api""#,
            "{name}"
        );
        assert_eq!(body_json(res).await["error"], "unauthorized", "{name}");

        // With no authentication layer at all, the server is misconfigured.
        let res = authorized.oneshot(bearer("good")).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{name}");
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none(), "{name}");
        let err = res.extensions().get::<AuthError>().unwrap().clone();
        assert_eq!(
            (err.kind(), err.reason()),
            (AuthErrorKind::Misconfigured, "no_auth_layer")
        );
        assert_eq!(
            body_json(res).await,
            serde_json::json!({"error": "server_error", "error_description": "internal server error"}),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_authorization_layer_takes_its_own_rejection() {
    let layer =
        require_scopes(["admin"]).on_rejection(Rejection::new().realm("shop").problem_json());
    let (res, _) = through(layer, "good").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with(r#"Bearer realm="shop", error="insufficient_scope""#)
    );
    let body = body_json(res).await;
    assert_eq!(
        (body["status"].as_u64(), body["error"].as_str()),
        (Some(403), Some("insufficient_scope"))
    );
}
