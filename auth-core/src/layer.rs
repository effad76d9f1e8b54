//! [`AuthLayer`] and its service [`Auth`]: authenticate, then call the inner service.

use std::fmt;
use std::mem;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::authenticate::{Authenticate, Outcome};
use crate::body::RejectionBody;
use crate::error::AuthError;
use crate::future::{ResponseFuture, Verdict};
use crate::rejection::{OnRejection, Rejection};

/// Authenticates every request with `A` before the inner service sees it.
///
/// On success the typed identity and a clone of its [`Principal`](crate::Principal) are
/// inserted into the request's extensions (see
/// [`Identity::insert_into`](crate::Identity::insert_into)). On failure the inner service is
/// not called and the [`Rejection`] answers (RFC 6750, or gRPC's form for gRPC calls); the
/// [`AuthError`] is inserted into that response's extensions. The response body keeps the
/// inner service's type (see [`RejectionBody`]).
///
/// The layer is *required* by default: a request without a credential is refused with 401.
/// [`optional`](AuthLayer::optional) lets such requests through anonymously, but a bad
/// credential is still refused.
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auth = |req: &Request<String>| match req.headers().get("authorization") {
///     None => Err(AuthError::missing()),
///     Some(v) if v == "Bearer letmein" => Ok(Principal::new("alice", AuthMethod::Custom("demo".into()))),
///     Some(_) => Err(AuthError::invalid_credential("unknown token")),
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
/// assert_eq!(refused.body(), r#"{"error":"unauthorized","error_description":"authentication is required"}"#);
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
    R: OnRejection<B> + Clone,
    ResBody: RejectionBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<A::Future, S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let span = tracing::debug_span!(
            target: "auth_core",
            "auth",
            method = tracing::field::Empty,
            outcome = tracing::field::Empty,
            reason = tracing::field::Empty,
        );
        let outcome = match self.authenticator.authenticate(&request) {
            Outcome::Missing => Err(AuthError::missing()),
            Outcome::Decided(outcome) => outcome,
            Outcome::Pending(check) => {
                // The clone has not been readied: keep it, hand the readied one to the future.
                let clone = self.inner.clone();
                let inner = mem::replace(&mut self.inner, clone);
                return ResponseFuture::checking(
                    check,
                    inner,
                    request,
                    self.rejection.clone(),
                    span,
                    self.optional,
                );
            }
        };
        ResponseFuture::decided(
            Verdict::of(outcome, self.optional),
            &mut self.inner,
            request,
            self.rejection.clone(),
            span,
        )
    }
}
