//! Shared test helpers: a bearer-token table (deciding at once or waiting), a session method
//! that waits, a typed robot identity, a counting inner service, requests and bodies.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use auth_core::{AuthError, AuthMethod, Authenticate, Credentials, Identity, Outcome, Principal};
use axum::body::HttpBody;
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Service, service_fn};

/// The body type of the plain tower tests.
pub type Body = Full<Bytes>;

/// A bearer-token table, deciding at once:
/// `good` -> alice (scope `read`, role `ops`), `admin` -> root (scopes `read write admin`,
/// role `admin`), `expired` -> 401, `banned` -> plain 403, `down` -> 503, `broken` -> 500,
/// anything else -> 401.
pub fn tokens<B>(request: &Request<B>) -> Result<Principal, AuthError> {
    let sources = Credentials::bearer();
    let credential = sources.find(request)?;
    match credential.value() {
        "good" => Ok(Principal::new("alice", AuthMethod::Jwt)
            .with_scopes(["read"])
            .with_roles(["ops"])),
        "admin" => Ok(Principal::new("root", AuthMethod::Jwt)
            .with_scopes(["read", "write", "admin"])
            .with_roles(["admin"])),
        "expired" => {
            Err(AuthError::invalid_credential("the token has expired").with_reason("expired"))
        }
        "banned" => Err(AuthError::forbidden("the account is suspended").with_reason("suspended")),
        "down" => Err(AuthError::unavailable("the key set cannot be fetched")),
        "broken" => Err(AuthError::misconfigured(
            "the key set holds no key for algorithm RS256",
        )),
        _ => Err(AuthError::invalid_credential("the token is invalid")),
    }
}

/// A verdict handed out after one `Pending` poll; counts its polls.
#[derive(Debug)]
pub struct Counted<I> {
    result: Option<Result<I, AuthError>>,
    waited: bool,
    polls: Arc<AtomicUsize>,
}

impl<I> Counted<I> {
    pub fn new(result: Result<I, AuthError>, polls: &Arc<AtomicUsize>) -> Self {
        Self {
            result: Some(result),
            waited: false,
            polls: Arc::clone(polls),
        }
    }
}

impl<I: Unpin> Future for Counted<I> {
    type Output = Result<I, AuthError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if !self.waited {
            self.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.result.take().expect("polled after completion"))
    }
}

/// The [`tokens`] table as a method that decides at once (`pending: false`) or waits
/// (`pending: true`); counts its `authenticate` calls and the polls of its futures.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub pending: bool,
    pub calls: Arc<AtomicUsize>,
    pub polls: Arc<AtomicUsize>,
}

impl Table {
    pub fn decided() -> Self {
        Self::default()
    }

    pub fn pending() -> Self {
        Self {
            pending: true,
            ..Self::default()
        }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
}

impl<B> Authenticate<B> for Table {
    type Identity = Principal;
    type Future = Counted<Principal>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Principal, Self::Future> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match tokens(request) {
            Err(error) if error.is_missing() => Outcome::Missing,
            result if self.pending => Outcome::Pending(Counted::new(result, &self.polls)),
            result => Outcome::Decided(result),
        }
    }
}

/// A browser session's typed identity.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: String,
    pub principal: Principal,
}

impl Identity for Visitor {
    fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// Sessions in cookie `sid`, looked up in a store, so always `Pending`: `s-1` -> visitor
/// `carol`, `s-bad` -> 401, any other id resolves to "missing" (a session the store does
/// not know). Counts calls and polls.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub calls: Arc<AtomicUsize>,
    pub polls: Arc<AtomicUsize>,
}

impl<B> Authenticate<B> for Sessions {
    type Identity = Visitor;
    type Future = Counted<Visitor>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Visitor, Self::Future> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let sources = Credentials::cookie("sid");
        let session = match sources.find(request) {
            Ok(credential) => credential.into_value(),
            Err(error) => return Outcome::from(Err(error)),
        };
        let result = match session.as_str() {
            "s-1" => Ok(Visitor {
                principal: Principal::new("carol", AuthMethod::Session).with_scopes(["read"]),
                session,
            }),
            "s-bad" => Err(AuthError::invalid_credential("the session is invalid")),
            _ => Err(AuthError::missing()),
        };
        Outcome::Pending(Counted::new(result, &self.polls))
    }
}

/// A robot's typed identity, beside the shared `Principal`.
#[derive(Debug, Clone)]
pub struct Robot {
    pub serial: u32,
    pub principal: Principal,
}

impl Identity for Robot {
    fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// Robots by serial number in header `x-robot`, decided at once; a non-number is refused.
pub fn robots<B>(request: &Request<B>) -> Result<Robot, AuthError> {
    let value = request
        .headers()
        .get("x-robot")
        .ok_or_else(AuthError::missing)?;
    match value.to_str().ok().and_then(|s| s.parse::<u32>().ok()) {
        Some(serial) => Ok(Robot {
            serial,
            principal: Principal::new(
                format!("robot-{serial}"),
                AuthMethod::Custom("robot".into()),
            )
            .with_scopes(["read"]),
        }),
        None => Err(AuthError::invalid_credential("unknown robot")),
    }
}

/// An inner service answering 200 with the subject it was handed (or `anonymous`); counts
/// its calls.
pub fn echo(
    calls: Arc<AtomicUsize>,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = impl Send>
+ Clone
+ Send {
    service_fn(move |req: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let who = req
            .extensions()
            .get::<Principal>()
            .map_or_else(|| "anonymous".to_owned(), |p| p.subject().to_owned());
        async move { Ok::<_, Infallible>(Response::new(Full::from(who))) }
    })
}

/// A `GET` of `uri` with `headers` (values as bytes, so tests can send opaque ones).
pub fn request_to(uri: &str, headers: &[(&str, &[u8])]) -> Request<Body> {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    builder.body(Body::default()).unwrap()
}

/// A `GET /` with `headers`.
pub fn request(headers: &[(&str, &str)]) -> Request<Body> {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
    request_to("/", &headers)
}

/// A `GET /` with `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> Request<Body> {
    request(&[("authorization", &format!("Bearer {token}"))])
}

/// The whole body as text.
pub async fn body_text<B>(response: Response<B>) -> String
where
    B: HttpBody,
    B::Error: std::fmt::Debug,
{
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The whole body as JSON.
pub async fn body_json<B>(response: Response<B>) -> serde_json::Value
where
    B: HttpBody,
    B::Error: std::fmt::Debug,
{
    serde_json::from_str(&body_text(response).await).unwrap()
}
