//! [`AuthLayer`] and its service [`Auth`]: authenticate, then call the inner service.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::authenticate::Authenticate;
use crate::body::AuthBody;
use crate::error::AuthError;
use crate::future::{Admission, ResponseFuture};
use crate::rejection::{OnRejection, Rejection};

/// Authenticates every request with `A` before the inner service sees it.
///
/// On success the typed identity and a clone of its [`Principal`](crate::Principal) are
/// inserted into the request's extensions. On failure the inner service is not called and
/// the rejection answers (RFC 6750 by default, gRPC for gRPC requests); the [`AuthError`] is
/// inserted into that response's extensions.
///
/// The layer is *required* by default: a request without a credential is refused with 401.
/// [`optional`](AuthLayer::optional) lets such requests through anonymously, but a bad
/// credential is still refused.
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use std::future::{ready, Ready};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auth = |req: &Request<String>| -> Ready<Result<Principal, AuthError>> {
///     ready(match req.headers().get("authorization") {
///         None => Err(AuthError::missing()),
///         Some(v) if v == "Bearer letmein" => Ok(Principal::new("alice", AuthMethod::Custom("demo".into()))),
///         Some(_) => Err(AuthError::invalid_credential("unknown token")),
///     })
/// };
/// let svc = ServiceBuilder::new().layer(AuthLayer::new(auth)).service(service_fn(
///     |req: Request<String>| async move {
///         let who = req.extensions().get::<Principal>().unwrap().subject().to_owned();
///         Ok::<_, Infallible>(Response::new(who))
///     },
/// ));
///
/// let ok = svc.clone().oneshot(
///     Request::builder().header("authorization", "Bearer letmein").body(String::new()).unwrap(),
/// ).await.unwrap();
/// assert_eq!(ok.status(), StatusCode::OK);
///
/// let refused = svc.oneshot(Request::new(String::new())).await.unwrap();
/// assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(refused.headers()["www-authenticate"], r#"Bearer realm="api""#);
/// # }
/// ```
#[derive(Clone)]
pub struct AuthLayer<A, R = Rejection> {
    authenticator: A,
    rejection: R,
    optional: bool,
}

impl<A> AuthLayer<A> {
    /// A required layer authenticating with `authenticator`, answering refusals with the
    /// standard [`Rejection`].
    pub fn new(authenticator: A) -> Self {
        Self {
            authenticator,
            rejection: Rejection::new(),
            optional: false,
        }
    }
}

impl<A, R> AuthLayer<A, R> {
    /// Let requests with no credential through with no identity. A presented but bad
    /// credential is still refused: it is never downgraded to anonymous.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Answer refusals with `rejection` instead of the standard one.
    pub fn on_rejection<R2>(self, rejection: R2) -> AuthLayer<A, R2> {
        AuthLayer {
            authenticator: self.authenticator,
            rejection,
            optional: self.optional,
        }
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &A {
        &self.authenticator
    }
}

impl<A, R: fmt::Debug> fmt::Debug for AuthLayer<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("authenticator", &std::any::type_name::<A>())
            .field("rejection", &self.rejection)
            .field("optional", &self.optional)
            .finish()
    }
}

impl<S, A: Clone, R: Clone> Layer<S> for AuthLayer<A, R> {
    type Service = Auth<S, A, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            authenticator: self.authenticator.clone(),
            rejection: self.rejection.clone(),
            optional: self.optional,
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub struct Auth<S, A, R = Rejection> {
    inner: S,
    authenticator: A,
    rejection: R,
    optional: bool,
}

impl<S: fmt::Debug, A, R: fmt::Debug> fmt::Debug for Auth<S, A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("authenticator", &std::any::type_name::<A>())
            .field("rejection", &self.rejection)
            .field("optional", &self.optional)
            .finish()
    }
}

impl<S, A, R, B, ResBody> Service<Request<B>> for Auth<S, A, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    A: Authenticate<B>,
    R: OnRejection + Clone,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<AuthCheck<A::Future>, S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut future = self.authenticator.authenticate(&request);
        let span = tracing::debug_span!(
            target: "auth_core",
            "auth",
            method = tracing::field::Empty,
            outcome = tracing::field::Empty,
            reason = tracing::field::Empty,
        );
        if let Some(outcome) = A::settle(&mut future) {
            let outcome = admission(outcome, self.optional);
            return ResponseFuture::settled(
                outcome,
                &mut self.inner,
                request,
                self.rejection.clone(),
                span,
            );
        }
        let check = AuthCheck {
            future,
            optional: self.optional,
        };
        // The clone has not been readied: keep it, hand the readied one to the future.
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        ResponseFuture::new(check, inner, request, self.rejection.clone(), span)
    }
}

/// An authenticator's outcome as the layer admits it: "no credential" is an anonymous
/// admission when the layer is optional.
fn admission<I>(outcome: Result<I, AuthError>, optional: bool) -> Result<Admission<I>, AuthError> {
    match outcome {
        Ok(identity) => Ok(Admission::Authenticated(identity)),
        Err(error) if optional && error.is_missing() => Ok(Admission::Anonymous),
        Err(error) => Err(error),
    }
}

pin_project! {
    /// An authenticator's future, with "no credential" turned into an anonymous admission
    /// when the layer is optional.
    pub struct AuthCheck<F> {
        #[pin]
        future: F,
        optional: bool,
    }
}

impl<F> fmt::Debug for AuthCheck<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCheck")
            .field("optional", &self.optional)
            .finish_non_exhaustive()
    }
}

impl<F, I> Future for AuthCheck<F>
where
    F: Future<Output = Result<I, AuthError>>,
{
    type Output = Result<Admission<I>, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(admission(ready!(this.future.poll(cx)), *this.optional))
    }
}
