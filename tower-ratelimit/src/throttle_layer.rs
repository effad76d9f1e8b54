//! [`ThrottleLayer`]: the [`Throttle`] in front of an authentication layer.

use std::future::Future;
use std::mem;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use auth_core::{AuthError, OnRejection, Rejection, RejectionBody};
use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::limiter::{Check, CheckFuture};
use crate::throttle::{Throttle, is_failure};

/// Refuses (429) requests from an address or for a claimed identity that failed
/// authentication too often, and counts the failures (401) of the others. Place it
/// outside the [`AuthLayer`](auth_core::AuthLayer).
#[derive(Debug, Clone)]
pub struct ThrottleLayer<R = Rejection> {
    throttle: Throttle,
    rejection: R,
}

impl ThrottleLayer {
    pub(crate) fn new(throttle: Throttle) -> Self {
        Self {
            throttle,
            rejection: Rejection::new(),
        }
    }
}

impl<R> ThrottleLayer<R> {
    /// Answer refusals with `rejection` instead of the standard one.
    pub fn on_rejection<R2>(self, rejection: R2) -> ThrottleLayer<R2> {
        ThrottleLayer {
            throttle: self.throttle,
            rejection,
        }
    }
}

impl<S, R: Clone> Layer<S> for ThrottleLayer<R> {
    type Service = ThrottleService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        ThrottleService {
            inner,
            throttle: self.throttle.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

/// The service of [`ThrottleLayer`].
#[derive(Debug, Clone)]
pub struct ThrottleService<S, R = Rejection> {
    inner: S,
    throttle: Throttle,
    rejection: R,
}

impl<S, R, B, ResBody> Service<Request<B>> for ThrottleService<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    R: OnRejection<B> + Clone,
    ResBody: RejectionBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ThrottleFuture<S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let address = self
            .throttle
            .inner
            .address
            .of(request.headers(), request.extensions());
        // The claimed identity is read only by a throttle that counts per identity.
        let identity = if self.throttle.inner.has_identity() {
            let (parts, body) = request.into_parts();
            let identity = self.throttle.claimed_identity(&parts);
            request = Request::from_parts(parts, body);
            identity
        } else {
            None
        };
        let state = match self.throttle.start_check(address, identity.as_deref()) {
            Check::Ready(outcome) => decide(
                outcome,
                Attempt { address, identity },
                &mut self.inner,
                request,
                &self.rejection,
            ),
            Check::Pending(check) => {
                let clone = self.inner.clone();
                let inner = mem::replace(&mut self.inner, clone);
                State::Checking {
                    check,
                    pending: Some((
                        inner,
                        request,
                        Attempt { address, identity },
                        self.rejection.clone(),
                    )),
                }
            }
        };
        ThrottleFuture {
            state,
            // Kept to count a failure once the inner service has answered.
            throttle: self.throttle.clone(),
        }
    }
}

/// Who made an attempt, to count it if it fails.
struct Attempt {
    address: Option<IpAddr>,
    identity: Option<String>,
}

fn decide<S, B, R>(
    outcome: Result<(), AuthError>,
    attempt: Attempt,
    inner: &mut S,
    request: Request<B>,
    rejection: &R,
) -> State<S, B, R>
where
    S: Service<Request<B>>,
    R: OnRejection<B>,
{
    match outcome {
        Ok(()) => State::Calling {
            call: inner.call(request),
            attempt: Some(attempt),
        },
        Err(error) => {
            let mut response = rejection.reject(&error, &request);
            response.extensions_mut().insert(error);
            State::Refused {
                response: Some(response),
            }
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B, R>
    where
        S: Service<Request<B>>,
    {
        Checking {
            #[pin]
            check: CheckFuture<Result<(), AuthError>>,
            pending: Option<(S, Request<B>, Attempt, R)>,
        },
        Calling {
            #[pin]
            call: S::Future,
            attempt: Option<Attempt>,
        },
        Recording {
            #[pin]
            recording: CheckFuture<()>,
            response: Option<S::Response>,
        },
        Refused { response: Option<Response<Bytes>> },
        Done,
    }
}

pin_project! {
    /// Response future of [`ThrottleService`]: the check (waiting for Redis if it is
    /// shared), the inner call, and the failure counted before the 401 is returned; or the
    /// 429.
    pub struct ThrottleFuture<S, B, R>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B, R>,
        throttle: Throttle,
    }
}

impl<S, B, R> std::fmt::Debug for ThrottleFuture<S, B, R>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleFuture").finish_non_exhaustive()
    }
}

impl<S, B, R, ResBody> Future for ThrottleFuture<S, B, R>
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
                    let (mut inner, request, attempt, rejection) = pending
                        .take()
                        .expect("ThrottleFuture polled after completion");
                    let next = decide(outcome, attempt, &mut inner, request, &rejection);
                    this.state.set(next);
                }
                StateProj::Calling { call, attempt } => {
                    let response = ready!(call.poll(cx))?;
                    let recording = attempt
                        .take()
                        .filter(|_| {
                            is_failure(response.status(), response.extensions().get::<AuthError>())
                        })
                        .and_then(|a| this.throttle.start_record(a.address, a.identity.as_deref()));
                    match recording {
                        Some(recording) => this.state.set(State::Recording {
                            recording,
                            response: Some(response),
                        }),
                        None => {
                            this.state.set(State::Done);
                            return Poll::Ready(Ok(response));
                        }
                    }
                }
                StateProj::Recording {
                    recording,
                    response,
                } => {
                    ready!(recording.poll(cx));
                    let response = response
                        .take()
                        .expect("ThrottleFuture polled after completion");
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response));
                }
                StateProj::Refused { response } => {
                    let response = response
                        .take()
                        .expect("ThrottleFuture polled after completion");
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response.map(ResBody::from_rejection)));
                }
                StateProj::Done => panic!("ThrottleFuture polled after completion"),
            }
        }
    }
}
