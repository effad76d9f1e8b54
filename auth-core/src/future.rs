//! The response future shared by every layer of this crate: `Checking -> Calling` (or a
//! rejection), with no boxing. A check the authenticator could
//! [settle](crate::Authenticate::settle) during `call` starts at `Calling` or at its
//! rejection.
//!
//! Each request gets a `DEBUG` span (target `auth_core`, named `auth` or `authorize`) with the
//! fields `method` (`api_key`, `jwt`, `session`, or a custom name), `outcome`
//! (`authenticated`, `anonymous`, `authorized`, `rejected`) and `reason` (the
//! [`AuthError::reason`] code of a refusal). No field ever holds a credential. When no
//! subscriber listens at `DEBUG`, the span costs one disabled-callsite check.

use std::any::TypeId;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use crate::body::AuthBody;
use crate::error::AuthError;
use crate::principal::{Identity, Principal};
use crate::rejection::OnRejection;

/// Marker inserted into a request that an optional [`AuthLayer`](crate::AuthLayer) let
/// through without a credential, so extractors can tell "anonymous" from "no layer".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anonymous;

/// What a passed check adds to the request before the inner service sees it.
pub trait Admit {
    /// Inserts what the check established into `request`'s extensions, and records the
    /// outcome on the request's `auth` span.
    fn admit<B>(self, request: &mut Request<B>, span: &Span);
}

/// Authorization checks add nothing.
impl Admit for () {
    fn admit<B>(self, _request: &mut Request<B>, span: &Span) {
        span.record("outcome", "authorized");
    }
}

/// The outcome of an authentication that let the request through.
#[derive(Debug, Clone)]
pub enum Admission<I> {
    /// A credential was verified.
    Authenticated(I),
    /// No credential, and the layer is optional.
    Anonymous,
}

impl<I> Admit for Admission<I>
where
    I: Identity + Clone + Send + Sync + 'static,
{
    fn admit<B>(self, request: &mut Request<B>, span: &Span) {
        match self {
            Self::Authenticated(identity) => {
                let principal = identity.principal().clone();
                span.record("method", principal.method().as_str());
                span.record("outcome", "authenticated");
                let extensions = request.extensions_mut();
                // A `Principal` identity is its own principal: inserting it twice would box
                // the same value twice and replace the first.
                if TypeId::of::<I>() != TypeId::of::<Principal>() {
                    extensions.insert(identity);
                }
                extensions.insert(principal);
            }
            Self::Anonymous => {
                span.record("outcome", "anonymous");
                request.extensions_mut().insert(Anonymous);
            }
        }
    }
}

pin_project! {
    /// The request and the readied inner service live only while the check runs: a
    /// settled future (the common case) carries neither.
    #[project = StateProj]
    enum State<C, S, B, F> {
        Checking {
            #[pin]
            check: C,
            pending: Option<(S, Request<B>)>,
        },
        Calling { #[pin] call: F },
        Rejected { response: Option<Response<Bytes>> },
        Done,
    }
}

/// The rejection of `error`, recorded on `span`, with the error in the response's extensions.
fn reject<R: OnRejection>(
    error: AuthError,
    headers: &HeaderMap,
    rejection: &R,
    span: &Span,
) -> Response<Bytes> {
    span.record("outcome", "rejected");
    span.record("reason", error.reason());
    tracing::debug!(
        target: "auth_core",
        parent: span,
        status = error.status().as_u16(),
        "rejected",
    );
    let mut response = rejection.reject(&error, headers);
    response.extensions_mut().insert(error);
    response
}

pin_project! {
    /// Response future of [`Auth`](crate::Auth) and [`Authorized`](crate::authorize::Authorized).
    ///
    /// First polls the check; on success inserts what it established into the request and
    /// calls the inner service (which was readied by `poll_ready` and moved in here); on
    /// failure answers with the rejection, never calling the inner service. A settled check
    /// did that already in `call`: the future then only drives the inner call or hands
    /// back the rejection.
    pub struct ResponseFuture<C, S, B, R>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<C, S, B, S::Future>,
        rejection: R,
        span: Span,
    }
}

impl<C, S, B, R> ResponseFuture<C, S, B, R>
where
    S: Service<Request<B>>,
{
    pub(crate) fn new(check: C, inner: S, request: Request<B>, rejection: R, span: Span) -> Self {
        Self {
            state: State::Checking {
                check,
                pending: Some((inner, request)),
            },
            rejection,
            span,
        }
    }

    /// A check that was decided without polling: the readied `inner` is called right away
    /// (no clone of it, no request kept), or the rejection is ready.
    pub(crate) fn settled<T: Admit>(
        outcome: Result<T, AuthError>,
        inner: &mut S,
        mut request: Request<B>,
        rejection: R,
        span: Span,
    ) -> Self
    where
        R: OnRejection,
    {
        let state = match outcome {
            Ok(admitted) => {
                admitted.admit(&mut request, &span);
                tracing::debug!(target: "auth_core", parent: &span, "admitted");
                State::Calling {
                    call: inner.call(request),
                }
            }
            Err(error) => State::Rejected {
                response: Some(reject(error, request.headers(), &rejection, &span)),
            },
        };
        Self {
            state,
            rejection,
            span,
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
    R: OnRejection,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, pending } => {
                    let outcome = ready!(check.poll(cx));
                    let (mut inner, mut request) = pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match outcome {
                        Ok(admitted) => {
                            admitted.admit(&mut request, this.span);
                            tracing::debug!(target: "auth_core", parent: &*this.span, "admitted");
                            this.state.set(State::Calling {
                                call: inner.call(request),
                            });
                        }
                        Err(error) => {
                            this.state.set(State::Done);
                            let response =
                                reject(error, request.headers(), &*this.rejection, this.span);
                            return Poll::Ready(Ok(response.map(AuthBody::rejection)));
                        }
                    }
                }
                StateProj::Rejected { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(response.map(AuthBody::rejection)));
                }
                StateProj::Calling { call } => {
                    let result = ready!(call.poll(cx));
                    this.state.set(State::Done);
                    return Poll::Ready(result.map(|response| response.map(AuthBody::inner)));
                }
                StateProj::Done => panic!("ResponseFuture polled after completion"),
            }
        }
    }
}
