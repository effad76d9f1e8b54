//! `Outcome`: a verdict decided during `call` goes straight to the inner service (which is
//! then not cloned) or straight to the rejection, and nothing is polled; a `Pending` check is
//! polled first. Either way the response is the same. `first_of` keeps those paths.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use auth_core::{
    AuthError, AuthLayer, AuthMethod, Authenticate, CheckFuture, Outcome, Principal, first_of,
};
use http::{Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

use common::{Sessions, Table, Visitor};

/// The inner service: answers 200 with the subject it was handed; counts its clones and
/// calls.
#[derive(Default)]
struct Inner {
    clones: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Clone for Inner {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
            calls: Arc::clone(&self.calls),
        }
    }
}

impl Service<Request<()>> for Inner {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let subject = request
            .extensions()
            .get::<Principal>()
            .map_or("anonymous", |p| p.subject())
            .to_owned();
        ready(Ok(Response::new(subject)))
    }
}

fn request(headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder();
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// What one request through `layer` led to.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    status: StatusCode,
    /// `WWW-Authenticate`, or else the body: the subject the inner service saw.
    detail: String,
    clones: usize,
    calls: usize,
}

async fn run<A, R>(layer: AuthLayer<A, R>, headers: &[(&str, &str)]) -> Run
where
    AuthLayer<A, R>: Layer<Inner>,
    <AuthLayer<A, R> as Layer<Inner>>::Service:
        Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    let inner = Inner::default();
    let (clones, calls) = (Arc::clone(&inner.clones), Arc::clone(&inner.calls));
    let mut service = layer.layer(inner);
    let response = service
        .ready()
        .await
        .unwrap()
        .call(request(headers))
        .await
        .unwrap();
    let status = response.status();
    let detail = match response.headers().get("www-authenticate") {
        Some(challenge) => challenge.to_str().unwrap().to_owned(),
        None => response.into_body(),
    };
    Run {
        status,
        detail,
        clones: clones.load(Ordering::SeqCst),
        calls: calls.load(Ordering::SeqCst),
    }
}

const GOOD: &[(&str, &str)] = &[("authorization", "Bearer good")];
const FORGED: &[(&str, &str)] = &[("authorization", "Bearer forged")];

#[tokio::test]
async fn decided_and_pending_outcomes_answer_alike() {
    for table in [Table::decided(), Table::pending()] {
        let pending = table.pending;
        let layer = AuthLayer::new(table.clone());
        // A decided request never clones the inner service and polls nothing.
        let clones = usize::from(pending);
        let polls = |n: usize| if pending { n } else { 0 };

        let run_ok = run(layer.clone(), GOOD).await;
        assert_eq!(run_ok.status, StatusCode::OK, "pending: {pending}");
        assert_eq!(run_ok.detail, "alice");
        assert_eq!(
            (run_ok.clones, run_ok.calls),
            (clones, 1),
            "pending: {pending}"
        );
        // A pending check waits once, then resolves: two polls.
        assert_eq!(table.polls(), polls(2), "pending: {pending}");

        let refused = run(layer.clone(), FORGED).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(
            refused.detail.contains(r#"error="invalid_token""#),
            "{refused:?}"
        );
        assert_eq!(
            (refused.clones, refused.calls),
            (clones, 0),
            "pending: {pending}"
        );
        assert_eq!(table.polls(), polls(4));

        // No credential is decided at once whatever the method: nothing to wait for.
        let missing = run(layer.clone(), &[]).await;
        assert_eq!(
            missing,
            Run {
                status: StatusCode::UNAUTHORIZED,
                detail: r#"Bearer realm="api""#.to_owned(),
                clones: 0,
                calls: 0,
            }
        );

        // Optional: no credential is anonymous, a bad one still 401.
        let optional = layer.optional();
        let anonymous = run(optional.clone(), &[]).await;
        assert_eq!(
            (
                anonymous.status,
                anonymous.detail.as_str(),
                anonymous.clones
            ),
            (StatusCode::OK, "anonymous", 0)
        );
        let refused = run(optional, FORGED).await;
        assert_eq!(
            (refused.status, refused.calls),
            (StatusCode::UNAUTHORIZED, 0)
        );
        assert_eq!(table.polls(), polls(6), "pending: {pending}");
        assert_eq!(table.calls(), 5);
    }
}

#[tokio::test]
async fn a_check_future_is_polled_to_its_verdict() {
    /// Accepts `x-token: good` after a store lookup, modelled by a yield.
    #[derive(Clone)]
    struct Lookup;

    impl<B> Authenticate<B> for Lookup {
        type Identity = Principal;
        type Future = CheckFuture<Principal>;

        fn authenticate(&mut self, request: &Request<B>) -> Outcome<Principal, Self::Future> {
            let Some(token) = request.headers().get("x-token").cloned() else {
                return Outcome::Missing;
            };
            Outcome::Pending(CheckFuture::new(async move {
                tokio::task::yield_now().await;
                if token == "good" {
                    Ok(Principal::new(
                        "looked-up",
                        AuthMethod::Custom("lookup".into()),
                    ))
                } else {
                    Err(AuthError::invalid_credential("unknown token"))
                }
            }))
        }
    }

    let accepted = run(AuthLayer::new(Lookup), &[("x-token", "good")]).await;
    assert_eq!(
        (accepted.status, accepted.detail.as_str(), accepted.calls),
        (StatusCode::OK, "looked-up", 1)
    );
    let refused = run(AuthLayer::new(Lookup), &[("x-token", "bad")]).await;
    assert_eq!(
        (refused.status, refused.calls),
        (StatusCode::UNAUTHORIZED, 0)
    );
    assert_eq!(
        refused.detail,
        r#"Bearer realm="api", error="invalid_token", error_description="unknown token""#
    );
}

#[tokio::test]
async fn first_of_decides_through_a_branch_that_found_nothing() {
    let (first, second) = (Table::decided(), Sessions::default());
    let layer = AuthLayer::new(first_of(first.clone(), second.clone()));

    // The first branch's own credential decides the whole chain: the second is not asked.
    let decided = run(layer.clone(), GOOD).await;
    assert_eq!(
        (decided.status, decided.detail.as_str(), decided.clones),
        (StatusCode::OK, "alice", 0)
    );
    assert_eq!(second.calls.load(Ordering::SeqCst), 0);

    // The first finds nothing (decided, so spent); the second waits: polled, not the first.
    let waited = run(layer.clone(), &[("cookie", "sid=s-1")]).await;
    assert_eq!(
        (waited.status, waited.detail.as_str(), waited.clones),
        (StatusCode::OK, "carol", 1)
    );
    assert_eq!(second.polls.load(Ordering::SeqCst), 2);
    assert_eq!(first.polls(), 0);

    // A credential the first refuses stops the chain, even beside a good session.
    let refused = run(
        layer,
        &[("authorization", "Bearer forged"), ("cookie", "sid=s-1")],
    )
    .await;
    assert_eq!(
        (refused.status, refused.calls),
        (StatusCode::UNAUTHORIZED, 0)
    );
    assert!(
        refused.detail.contains("the token is invalid"),
        "{refused:?}"
    );
    assert_eq!(second.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pending_first_branch_that_finds_nothing_falls_through() {
    /// Reads the visitor's session in the inner service.
    #[derive(Clone)]
    struct Who;

    impl Service<Request<()>> for Who {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<()>) -> Self::Future {
            let who = match request.extensions().get::<Visitor>() {
                Some(visitor) => format!("visitor {}", visitor.session),
                None => format!(
                    "not a visitor: {}",
                    request.extensions().get::<Principal>().unwrap().subject()
                ),
            };
            ready(Ok(Response::new(who)))
        }
    }

    let (sessions, table) = (Sessions::default(), Table::decided());
    let svc = AuthLayer::new(first_of(sessions.clone(), table.clone())).layer(Who);
    let call = |headers: &[(&str, &str)]| svc.clone().oneshot(request(headers));

    // A session the store does not know resolves to "missing": the token decides.
    let res = call(&[("cookie", "sid=s-gone"), ("authorization", "Bearer good")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "not a visitor: alice");
    // The second branch was asked at once, while the request was at hand.
    assert_eq!(table.calls(), 1);

    // A known session wins; the second branch's verdict, asked at once, is not used.
    let res = call(&[("cookie", "sid=s-1"), ("authorization", "Bearer forged")])
        .await
        .unwrap();
    assert_eq!(
        (res.status(), res.body().as_str()),
        (StatusCode::OK, "visitor s-1")
    );
    assert_eq!(table.calls(), 2);

    // A session the store refuses stops the chain.
    let res = call(&[("cookie", "sid=s-bad"), ("authorization", "Bearer good")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.extensions().get::<AuthError>().unwrap().description(),
        "the session is invalid"
    );

    // An unknown session and nothing else: 401 with a bare challenge.
    let res = call(&[("cookie", "sid=s-gone")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="api""#);
    assert_eq!(sessions.calls.load(Ordering::SeqCst), 4);
}
