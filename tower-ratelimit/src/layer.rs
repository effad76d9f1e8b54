//! [`RateLimitLayer`] and its service: count the request, then call the inner service or
//! answer 429.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use auth_core::{AuthError, OnRejection, Rejection, RejectionBody};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::decision::Decision;
use crate::limiter::{Check, CheckFuture, RateLimiter};
use crate::policy::Policy;

/// Counts every request against its identity's policy; place it inside an
/// [`AuthLayer`](auth_core::AuthLayer), which puts the [`Principal`](auth_core::Principal)
/// it keys on into the request.
///
/// Refusals are [`AuthError::rate_limited`] answered by the [`Rejection`] (429 with
/// `Retry-After`, `RateLimit-Policy` and `RateLimit`; gRPC `RESOURCE_EXHAUSTED` for gRPC
/// calls); a shared store that cannot be reached answers 503 unless the policy fails open.
/// Requests without a principal (an optional `AuthLayer` let them through) are counted by
/// client address (`anon:<ip>`), or all together as `anon` when the address is unknown.
#[derive(Debug, Clone)]
pub struct RateLimitLayer<R = Rejection> {
    limiter: RateLimiter,
    rejection: R,
}

impl RateLimitLayer {
    pub(crate) fn new(limiter: RateLimiter) -> Self {
        Self {
            limiter,
            rejection: Rejection::new(),
        }
    }
}

impl<R> RateLimitLayer<R> {
    /// Answer refusals with `rejection` instead of the standard one.
    pub fn on_rejection<R2>(self, rejection: R2) -> RateLimitLayer<R2> {
        RateLimitLayer {
            limiter: self.limiter,
            rejection,
        }
    }
}

impl<S, R: Clone> Layer<S> for RateLimitLayer<R> {
    type Service = RateLimitService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimitService<S, R = Rejection> {
    inner: S,
    limiter: RateLimiter,
    rejection: R,
}

/// The `RateLimit-Policy` and `RateLimit` values an admitted response gets.
type Headers = Option<(HeaderValue, HeaderValue)>;

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

fn admitted_headers(limiter: &RateLimiter, decision: &Decision, policy: &Policy) -> Headers {
    if !limiter.inner.headers {
        return None;
    }
    let state = match &policy.inner.whole {
        // The caller was under its rates: the value built with the policy.
        Some(whole) if decision.is_whole() => whole.value.clone(),
        _ => {
            let state = decision.header(policy);
            if state.is_empty() {
                return None;
            }
            // The String's bytes become the value as they are: no copy, and, sized
            // exactly, no second allocation.
            HeaderValue::try_from(state).ok()?
        }
    };
    Some((policy.inner.header.clone(), state))
}

fn add_headers(headers: &mut HeaderMap, values: Headers) {
    if let Some((policy, state)) = values {
        headers.insert(RATELIMIT, state);
        headers.insert(RATELIMIT_POLICY, policy);
    }
}

fn refuse<B, R: OnRejection<B>>(
    error: AuthError,
    request: &Request<B>,
    rejection: &R,
) -> Response<Bytes> {
    tracing::debug!(
        target: "tower_ratelimit",
        reason = error.reason(),
        retry_after = error.retry_after(),
        "rate limited"
    );
    let mut response = rejection.reject(&error, request);
    response.extensions_mut().insert(error);
    response
}

impl<S, R, B, ResBody> Service<Request<B>> for RateLimitService<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    R: OnRejection<B> + Clone,
    ResBody: RejectionBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let identified = self.limiter.identify(&parts);
        let request = Request::from_parts(parts, body);
        let Some((key, policy)) = identified else {
            // No policy applies to this caller: not limited, not counted.
            return ResponseFuture {
                state: State::Calling {
                    call: self.inner.call(request),
                    headers: None,
                },
            };
        };
        let state = match self.limiter.start(&key, &policy) {
            // The common case, built in place: admitted without waiting.
            Check::Ready(Ok(decision)) if decision.is_allowed() => State::Calling {
                headers: admitted_headers(&self.limiter, &decision, &policy),
                call: self.inner.call(request),
            },
            Check::Ready(outcome) => decide(
                outcome,
                &self.limiter,
                &policy,
                &mut self.inner,
                request,
                &self.rejection,
            ),
            Check::Pending(check) => {
                let clone = self.inner.clone();
                let inner = mem::replace(&mut self.inner, clone);
                State::Checking {
                    check,
                    pending: Some(Pending {
                        inner,
                        request,
                        policy,
                        limiter: self.limiter.clone(),
                        rejection: self.rejection.clone(),
                    }),
                }
            }
        };
        ResponseFuture { state }
    }
}

fn decide<S, B, R>(
    outcome: Result<Decision, AuthError>,
    limiter: &RateLimiter,
    policy: &Policy,
    inner: &mut S,
    request: Request<B>,
    rejection: &R,
) -> State<S, B, R>
where
    S: Service<Request<B>>,
    R: OnRejection<B>,
{
    let error = match outcome {
        Ok(decision) if decision.is_allowed() => {
            return State::Calling {
                call: inner.call(request),
                headers: admitted_headers(limiter, &decision, policy),
            };
        }
        Ok(decision) => decision.error(policy),
        Err(error) => error,
    };
    State::Rejected {
        response: Some(refuse(error, &request, rejection)),
    }
}

/// What a check waiting for the shared store needs once it is answered.
struct Pending<S, B, R> {
    inner: S,
    request: Request<B>,
    policy: Policy,
    limiter: RateLimiter,
    rejection: R,
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, R>
    where
        S: Service<Request<B>>,
    {
        Checking {
            #[pin]
            check: CheckFuture,
            pending: Option<Pending<S, B, R>>,
        },
        Calling {
            #[pin]
            call: S::Future,
            headers: Headers,
        },
        Rejected { response: Option<Response<Bytes>> },
        Done,
    }
}

pin_project! {
    /// Response future of [`RateLimitService`].
    pub struct ResponseFuture<S, B, R>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B, R>,
    }
}

impl<S, B, R> fmt::Debug for ResponseFuture<S, B, R>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, R, ResBody> Future for ResponseFuture<S, B, R>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    R: OnRejection<B>,
    ResBody: RejectionBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, pending } => {
                    let outcome = ready!(check.poll(cx));
                    let mut pending = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let next = decide(
                        outcome,
                        &pending.limiter,
                        &pending.policy,
                        &mut pending.inner,
                        pending.request,
                        &pending.rejection,
                    );
                    this.state.set(next);
                }
                StateProj::Calling { call, headers } => {
                    let mut response = ready!(call.poll(cx))?;
                    add_headers(response.headers_mut(), headers.take());
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response.map(ResBody::from_rejection)));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}
