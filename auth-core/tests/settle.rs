//! `Authenticate::settle`: an outcome known without waiting goes straight to the inner
//! service (which is then not cloned) or straight to the rejection; one that is not is
//! polled as before. Either way the response is the same.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use auth_core::combinator::first_of;
use auth_core::{AuthError, AuthLayer, AuthMethod, Authenticate, Principal};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tower::{Layer, Service, ServiceExt};

/// Accepts header `x-token: good`, refuses any other value, finds nothing without it.
/// When `settles`, its outcomes may be taken without polling. Counts polls.
#[derive(Clone, Default)]
struct Token {
    settles: bool,
    polls: Arc<AtomicUsize>,
}

/// The outcome, ready at once.
struct Outcome {
    result: Option<Result<Principal, AuthError>>,
    settles: bool,
    polls: Arc<AtomicUsize>,
}

impl Future for Outcome {
    type Output = Result<Principal, AuthError>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(self.result.take().expect("polled after completion"))
    }
}

impl Authenticate<()> for Token {
    type Identity = Principal;
    type Future = Outcome;

    fn authenticate(&mut self, request: &Request<()>) -> Outcome {
        let result = match request.headers().get("x-token") {
            None => Err(AuthError::missing()),
            Some(v) if v == "good" => Ok(Principal::new("robot", AuthMethod::Custom("t".into()))),
            Some(_) => Err(AuthError::invalid_credential("bad token").with_reason("bad")),
        };
        Outcome {
            result: Some(result),
            settles: self.settles,
            polls: Arc::clone(&self.polls),
        }
    }

    fn settle(future: &mut Outcome) -> Option<Result<Principal, AuthError>> {
        if future.settles {
            future.result.take()
        } else {
            None
        }
    }
}

/// The inner service: answers 200 with the subject it was handed; counts its clones.
#[derive(Default)]
struct Inner {
    clones: Arc<AtomicUsize>,
}

impl Clone for Inner {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
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
        let subject = request
            .extensions()
            .get::<Principal>()
            .map_or("anonymous", |p| p.subject())
            .to_owned();
        ready(Ok(Response::new(subject)))
    }
}

fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::builder();
    if let Some(token) = token {
        builder = builder.header("x-token", token);
    }
    builder.body(()).unwrap()
}

async fn text<B>(response: Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Status, `WWW-Authenticate` (or else the body: the subject the inner service saw) and
/// the inner service's clone count, after one request.
async fn run<A>(layer: AuthLayer<A>, token: Option<&str>) -> (StatusCode, String, usize)
where
    A: Authenticate<()> + Clone,
{
    let inner = Inner::default();
    let clones = Arc::clone(&inner.clones);
    let mut service = layer.layer(inner);
    let response = service
        .ready()
        .await
        .unwrap()
        .call(request(token))
        .await
        .unwrap();
    let status = response.status();
    let detail = match response.headers().get("www-authenticate") {
        Some(challenge) => challenge.to_str().unwrap().to_owned(),
        None => text(response).await,
    };
    (status, detail, clones.load(Ordering::SeqCst))
}

#[tokio::test]
async fn settled_and_polled_outcomes_answer_alike() {
    for settles in [true, false] {
        let token = Token {
            settles,
            ..Token::default()
        };
        let layer = AuthLayer::new(token.clone());
        // A settled request never clones the inner service and is never polled.
        let clones = usize::from(!settles);
        let polls = |n: usize| if settles { 0 } else { n };

        let (status, subject, cloned) = run(layer.clone(), Some("good")).await;
        assert_eq!((status, subject.as_str()), (StatusCode::OK, "robot"));
        assert_eq!(cloned, clones, "settles: {settles}");
        assert_eq!(token.polls.load(Ordering::SeqCst), polls(1));

        let (status, challenge, cloned) = run(layer.clone(), Some("forged")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge.contains(r#"error="invalid_token""#),
            "{challenge}"
        );
        assert_eq!(cloned, clones);

        let (status, challenge, _) = run(layer.clone(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge, r#"Bearer realm="api""#);

        // Optional: no credential is anonymous, a bad one still 401.
        let optional = layer.clone().optional();
        let (status, subject, _) = run(optional.clone(), None).await;
        assert_eq!((status, subject.as_str()), (StatusCode::OK, "anonymous"));
        let (status, _, _) = run(optional, Some("forged")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(token.polls.load(Ordering::SeqCst), polls(5));
    }
}

#[tokio::test]
async fn first_of_settles_through_a_spent_first_branch() {
    let first = Token {
        settles: true,
        ..Token::default()
    };
    let second = |request: &Request<()>| -> Ready<Result<Principal, AuthError>> {
        ready(match request.headers().get("x-other") {
            None => Err(AuthError::missing()),
            Some(_) => Ok(Principal::new("other", AuthMethod::Session)),
        })
    };
    let layer = AuthLayer::new(first_of(first.clone(), second));
    // The first branch settles; the closure cannot: the chain is polled, and the first
    // branch (settled as "missing", so spent) is not polled again.
    let mut service = layer.layer(Inner::default());
    let request = Request::builder().header("x-other", "1").body(()).unwrap();
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "other");
    assert_eq!(first.polls.load(Ordering::SeqCst), 0);

    // The first branch's own credential settles the whole chain.
    let (status, subject, cloned) = run(layer, Some("good")).await;
    assert_eq!(
        (status, subject.as_str(), cloned),
        (StatusCode::OK, "robot", 0)
    );
}
