//! The response future shared by the engine's layers: `Checking -> Calling` (or a
//! rejection), with no boxing. A check decided during `call` starts at `Calling` or at its
//! rejection.
//!
//! Each request gets a `DEBUG` span (target `auth_core`, named `auth` or `authorize`) with the
//! fields `method` (`api_key`, `jwt`, `session`, or a custom name), `outcome`
//! (`authenticated`, `anonymous`, `authorized`, `rejected`) and `reason` (the
//! [`AuthError::reason`] code of a refusal). No field ever holds a credential. When no
//! subscriber listens at `DEBUG`, the span costs one disabled-callsite check.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use crate::body::RejectionBody;
use crate::error::{AuthError, AuthErrorKind};
use crate::principal::Identity;
use crate::rejection::OnRejection;

/// Marker inserted into a request that an optional [`AuthLayer`](crate::AuthLayer) let
/// through without a credential, so extractors can tell "anonymous" from "no layer".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anonymous;

/// What a passed check adds to the request before the inner service sees it, and to the
/// inner service's response.
pub trait Admit {
    /// Inserts what the check established into `request`'s extensions, and records the
    /// outcome on the request's span. Returns the headers to append to the response.
    fn admit<B>(self, request: &mut Request<B>, span: &Span) -> Extra;
}

impl<I: Identity> Admit for I {
    fn admit<B>(mut self, request: &mut Request<B>, span: &Span) -> Extra {
        if !span.is_disabled() {
            span.record("method", self.principal().method().as_str());
            span.record("outcome", "authenticated");
        }
        let headers = self.take_response_headers().map(Box::new);
        self.insert_into(request.extensions_mut());
        headers
    }
}

/// An authorization check adds nothing.
impl Admit for () {
    fn admit<B>(self, _request: &mut Request<B>, span: &Span) -> Extra {
        span.record("outcome", "authorized");
        None
    }
}

/// Headers to append to the inner service's response: boxed, so that the futures that carry
/// them stay one pointer larger (the common case has none and allocates nothing).
type Extra = Option<Box<HeaderMap>>;

/// Appends `extra` to `headers`.
fn append(headers: &mut HeaderMap, extra: &HeaderMap) {
    for (name, value) in extra {
        headers.append(name.clone(), value.clone());
    }
}

/// The outcome of a check as the layer acts on it.
pub(crate) enum Verdict<T> {
    Admit(T),
    Anonymous,
    Reject(AuthError),
}

impl<T> Verdict<T> {
    /// `outcome`, where "no credential" is an anonymous admission when `optional`.
    pub(crate) fn of(outcome: Result<T, AuthError>, optional: bool) -> Self {
        match outcome {
            Ok(admitted) => Self::Admit(admitted),
            Err(error) if optional && error.is_missing() => Self::Anonymous,
            Err(error) => Self::Reject(error),
        }
    }
}

pin_project! {
    /// The request and the readied inner service live only while the check runs: a
    /// decided check (the common case) carries neither.
    #[project = StateProj]
    enum State<C, S, B, F> {
        Checking {
            #[pin]
            check: C,
            pending: Option<(S, Request<B>)>,
        },
        Calling {
            #[pin]
            call: F,
            // Appended to the inner service's response.
            headers: Extra,
        },
        Rejected { response: Option<Response<Bytes>> },
        Done,
    }
}

/// The rejection of `error`, recorded on `span`, with the error's own headers and the error
/// in the response's extensions.
fn reject<B, R: OnRejection<B>>(
    error: AuthError,
    request: &Request<B>,
    rejection: &R,
    span: &Span,
) -> Response<Bytes> {
    span.record("outcome", "rejected");
    span.record("reason", error.reason());
    if error.kind() == AuthErrorKind::Misconfigured {
        tracing::error!(target: "auth_core", parent: span, cause = error.description(), "the server is misconfigured");
    } else {
        tracing::debug!(target: "auth_core", parent: span, status = error.status().as_u16(), "rejected");
    }
    let mut response = rejection.reject(&error, request);
    if let Some(headers) = error.headers() {
        append(response.headers_mut(), headers);
    }
    response.extensions_mut().insert(error);
    response
}

/// What a verdict leads to: the inner service's call, or the rejection.
enum Step<F> {
    Call(F, Extra),
    Reject(Response<Bytes>),
}

/// Applies `verdict` to `request`. Inlined so the request is not copied on its way to the
/// inner service.
#[inline]
fn decide<T: Admit, S, B, R>(
    verdict: Verdict<T>,
    inner: &mut S,
    mut request: Request<B>,
    rejection: &R,
    span: &Span,
) -> Step<S::Future>
where
    S: Service<Request<B>>,
    R: OnRejection<B>,
{
    let headers = match verdict {
        Verdict::Admit(admitted) => admitted.admit(&mut request, span),
        Verdict::Anonymous => {
            span.record("outcome", "anonymous");
            request.extensions_mut().insert(Anonymous);
            None
        }
        Verdict::Reject(error) => return Step::Reject(reject(error, &request, rejection, span)),
    };
    Step::Call(inner.call(request), headers)
}

pin_project! {
    /// Response future of the engine's layers.
    ///
    /// First polls the check; on success inserts what it established into the request and
    /// calls the inner service (which was readied by `poll_ready` and moved in here); on
    /// failure answers with the rejection, never calling the inner service. A check decided
    /// in `call` did that already: the future then only drives the inner call or hands
    /// back the rejection.
    pub struct ResponseFuture<C, S, B, R>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<C, S, B, S::Future>,
        rejection: R,
        span: Span,
        optional: bool,
    }
}

impl<C, S, B, R> ResponseFuture<C, S, B, R>
where
    S: Service<Request<B>>,
{
    /// A check still to be polled, with the readied `inner` and the request kept for it.
    pub(crate) fn checking(
        check: C,
        inner: S,
        request: Request<B>,
        rejection: R,
        span: Span,
        optional: bool,
    ) -> Self {
        Self {
            state: State::Checking {
                check,
                pending: Some((inner, request)),
            },
            rejection,
            span,
            optional,
        }
    }

    /// A check decided already: the readied `inner` is called right away (no clone of it,
    /// no request kept), or the rejection is ready.
    #[inline]
    pub(crate) fn decided<T: Admit>(
        verdict: Verdict<T>,
        inner: &mut S,
        request: Request<B>,
        rejection: R,
        span: Span,
    ) -> Self
    where
        R: OnRejection<B>,
    {
        let state = match decide(verdict, inner, request, &rejection, &span) {
            Step::Call(call, headers) => State::Calling { call, headers },
            Step::Reject(response) => State::Rejected {
                response: Some(response),
            },
        };
        Self {
            state,
            rejection,
            span,
            optional: false,
        }
    }
}

impl<C, S, B, R> fmt::Debug for ResponseFuture<C, S, B, R>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Checking { .. } => "checking",
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<C, T, S, B, R, ResBody> Future for ResponseFuture<C, S, B, R>
where
    C: Future<Output = Result<T, AuthError>>,
    T: Admit,
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
                    let (mut inner, request) = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    let verdict = Verdict::of(outcome, *this.optional);
                    match decide(verdict, &mut inner, request, &*this.rejection, this.span) {
                        Step::Call(call, headers) => {
                            this.state.set(State::Calling { call, headers });
                        }
                        Step::Reject(response) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Ok(response.map(ResBody::from_rejection)));
                        }
                    }
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response.map(ResBody::from_rejection)));
                }
                StateProj::Calling { call, headers } => {
                    let mut result = ready!(call.poll(cx));
                    if let (Some(headers), Ok(response)) = (headers.take(), result.as_mut()) {
                        append(response.headers_mut(), &headers);
                    }
                    this.state.set(State::Done);
                    return Poll::Ready(result);
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}
