//! [`ThrottleLayer`]: the [`Throttle`] in front of an authentication layer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use auth_core::{AuthError, OnRejection, Rejection, RejectionBody};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

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
    S: Service<Request<B>, Response = Response<ResBody>>,
    R: OnRejection<B>,
    ResBody: RejectionBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ThrottleFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let address = self.throttle.client_address(&parts);
        let identity = self.throttle.claimed_identity(&parts);
        let request = Request::from_parts(parts, body);
        if let Err(error) = self.throttle.check(address, identity.as_deref()) {
            let mut response = self.rejection.reject(&error, &request);
            response.extensions_mut().insert(error);
            return ThrottleFuture {
                state: State::Refused {
                    response: Some(response.map(ResBody::from_rejection)),
                },
            };
        }
        ThrottleFuture {
            state: State::Calling {
                call: self.inner.call(request),
                failure: Some((self.throttle.clone(), address, identity)),
            },
        }
    }
}

type Failure = Option<(Throttle, Option<std::net::IpAddr>, Option<String>)>;

pin_project! {
    #[project = ThrottleProj]
    enum State<F, ResBody> {
        Calling { #[pin] call: F, failure: Failure },
        Refused { response: Option<Response<ResBody>> },
    }
}

pin_project! {
    /// Response future of [`ThrottleService`]: the inner call, whose failure is counted when
    /// it answers, or the 429.
    pub struct ThrottleFuture<F, ResBody> {
        #[pin]
        state: State<F, ResBody>,
    }
}

impl<F, ResBody> std::fmt::Debug for ThrottleFuture<F, ResBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleFuture").finish_non_exhaustive()
    }
}

impl<F, E, ResBody> Future for ThrottleFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            ThrottleProj::Calling { call, failure } => {
                let response = ready!(call.poll(cx))?;
                if is_failure(response.status(), response.extensions().get::<AuthError>())
                    && let Some((throttle, address, identity)) = failure.take()
                {
                    throttle.record_failure(address, identity.as_deref());
                }
                Poll::Ready(Ok(response))
            }
            ThrottleProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("ThrottleFuture polled after completion"))),
        }
    }
}
