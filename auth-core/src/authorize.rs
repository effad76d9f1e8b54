//! Authorization layers, separate from authentication: require scopes, roles, or any async
//! predicate over the request and its [`Principal`].
//!
//! They read the `Principal` an [`AuthLayer`](crate::AuthLayer) inserted, so they go
//! *inside* it (in axum, `route_layer` after the auth layer, or later in a `ServiceBuilder`).
//! A refused check answers 403 (`insufficient_scope`, with `scope="…"` when scopes are
//! missing); an anonymous request behind an optional auth layer answers 401; no auth layer at
//! all is a configuration error answered with 500.
//!
//! ```
//! use auth_core::authorize::require_scopes;
//! use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use std::future::{ready, Ready};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let reader = |_: &Request<()>| -> Ready<Result<Principal, AuthError>> {
//!     ready(Ok(Principal::new("bob", AuthMethod::Jwt).with_scopes(["read"])))
//! };
//! let svc = ServiceBuilder::new()
//!     .layer(AuthLayer::new(reader))
//!     .layer(require_scopes(["read", "admin"]))
//!     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
//!
//! let res = svc.oneshot(Request::new(())).await.unwrap();
//! assert_eq!(res.status(), StatusCode::FORBIDDEN);
//! assert!(res.headers()["www-authenticate"].to_str().unwrap().ends_with(r#"scope="read admin""#));
//! # }
//! ```

use std::fmt;
use std::future::{Future, Ready, ready};
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::AuthBody;
use crate::error::AuthError;
use crate::future::{Anonymous, ResponseFuture};
use crate::principal::Principal;
use crate::rejection::{OnRejection, Rejection};

/// The [`Principal`] an authentication layer inserted into `request`.
///
/// # Errors
///
/// 401 "missing credential" when an optional layer let the request through anonymously; a
/// 500 configuration error when no authentication layer ran.
pub fn principal_of<B>(request: &Request<B>) -> Result<&Principal, AuthError> {
    let extensions = request.extensions();
    if let Some(principal) = extensions.get::<Principal>() {
        return Ok(principal);
    }
    if extensions.get::<Anonymous>().is_some() {
        return Err(AuthError::missing());
    }
    Err(
        AuthError::misconfigured("no authentication layer ran before this authorization layer")
            .with_reason("no_auth_layer"),
    )
}

/// An authorization check.
pub trait Authorize<B> {
    /// The future that decides.
    type Future: Future<Output = Result<(), AuthError>>;

    /// Starts the check for `request`.
    fn authorize(&mut self, request: &Request<B>) -> Self::Future;
}

/// A list of names (scopes or roles) of which all, or any one, must be held.
#[derive(Debug, Clone)]
struct Requirement {
    names: Arc<[String]>,
    any: bool,
}

impl Requirement {
    fn new<I, S>(names: I, any: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            names: names.into_iter().map(Into::into).collect(),
            any,
        }
    }

    fn met(&self, held: impl Fn(&str) -> bool) -> bool {
        let mut names = self.names.iter();
        if self.any {
            names.any(|n| held(n))
        } else {
            names.all(|n| held(n))
        }
    }
}

/// Requires scopes: all of them, or any one.
#[derive(Debug, Clone)]
pub struct RequireScopes {
    requirement: Requirement,
    /// The `scope="…"` of the 403 challenge, built once.
    joined: Arc<str>,
}

impl RequireScopes {
    fn with(requirement: Requirement) -> Self {
        let joined = requirement.names.join(" ").into();
        Self {
            requirement,
            joined,
        }
    }

    /// Every scope in `scopes` is required.
    pub fn all<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with(Requirement::new(scopes, false))
    }

    /// Any one scope in `scopes` is enough.
    pub fn any<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with(Requirement::new(scopes, true))
    }

    /// Whether `principal` passes.
    ///
    /// # Errors
    ///
    /// The 403 the layer answers with.
    pub fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        if self.requirement.met(|s| principal.has_scope(s)) {
            Ok(())
        } else {
            Err(AuthError::insufficient_scope(Arc::clone(&self.joined)))
        }
    }
}

impl<B> Authorize<B> for RequireScopes {
    type Future = Ready<Result<(), AuthError>>;

    fn authorize(&mut self, request: &Request<B>) -> Self::Future {
        ready(principal_of(request).and_then(|p| self.check(p)))
    }
}

/// Requires roles: all of them, or any one.
#[derive(Debug, Clone)]
pub struct RequireRoles {
    requirement: Requirement,
}

impl RequireRoles {
    /// Every role in `roles` is required.
    pub fn all<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            requirement: Requirement::new(roles, false),
        }
    }

    /// Any one role in `roles` is enough.
    pub fn any<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            requirement: Requirement::new(roles, true),
        }
    }

    /// Whether `principal` passes.
    ///
    /// # Errors
    ///
    /// The 403 the layer answers with.
    pub fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        if self.requirement.met(|r| principal.has_role(r)) {
            Ok(())
        } else {
            Err(AuthError::forbidden("the caller lacks a required role").with_reason("role"))
        }
    }
}

impl<B> Authorize<B> for RequireRoles {
    type Future = Ready<Result<(), AuthError>>;

    fn authorize(&mut self, request: &Request<B>) -> Self::Future {
        ready(principal_of(request).and_then(|p| self.check(p)))
    }
}

/// An async predicate over the request and its [`Principal`]; see [`require`].
#[derive(Clone)]
pub struct RequirePredicate<F> {
    predicate: F,
}

impl<F> fmt::Debug for RequirePredicate<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequirePredicate")
            .field("predicate", &std::any::type_name::<F>())
            .finish()
    }
}

impl<B, F, Fut> Authorize<B> for RequirePredicate<F>
where
    F: FnMut(&Request<B>, &Principal) -> Fut,
    Fut: Future<Output = Result<(), AuthError>>,
{
    type Future = PredicateFuture<Fut>;

    fn authorize(&mut self, request: &Request<B>) -> Self::Future {
        match principal_of(request) {
            Ok(principal) => PredicateFuture {
                state: PredicateState::Checking {
                    future: (self.predicate)(request, principal),
                },
            },
            Err(error) => PredicateFuture {
                state: PredicateState::Refused { error: Some(error) },
            },
        }
    }
}

pin_project! {
    /// The future of [`RequirePredicate`]: the predicate's future, or an immediate refusal
    /// when the request has no [`Principal`].
    #[derive(Debug)]
    pub struct PredicateFuture<F> {
        #[pin]
        state: PredicateState<F>,
    }
}

pin_project! {
    #[project = PredicateProj]
    #[derive(Debug)]
    enum PredicateState<F> {
        Checking { #[pin] future: F },
        Refused { error: Option<AuthError> },
    }
}

impl<F> Future for PredicateFuture<F>
where
    F: Future<Output = Result<(), AuthError>>,
{
    type Output = Result<(), AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            PredicateProj::Checking { future } => future.poll(cx),
            PredicateProj::Refused { error } => Poll::Ready(Err(error
                .take()
                .expect("PredicateFuture polled after completion"))),
        }
    }
}

/// Requires every scope in `scopes`.
pub fn require_scopes<I, S>(scopes: I) -> AuthorizeLayer<RequireScopes>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(RequireScopes::all(scopes))
}

/// Requires any one scope in `scopes`.
pub fn require_any_scope<I, S>(scopes: I) -> AuthorizeLayer<RequireScopes>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(RequireScopes::any(scopes))
}

/// Requires every role in `roles`.
pub fn require_roles<I, S>(roles: I) -> AuthorizeLayer<RequireRoles>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(RequireRoles::all(roles))
}

/// Requires any one role in `roles`.
pub fn require_any_role<I, S>(roles: I) -> AuthorizeLayer<RequireRoles>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(RequireRoles::any(roles))
}

/// Requires an async predicate over the request and its [`Principal`] to return `Ok(())`.
///
/// The predicate is called with borrowed values and returns a future that owns what it
/// needs (clone the parts you use).
///
/// ```
/// use auth_core::authorize::require;
/// use auth_core::{AuthError, Principal};
/// use http::Request;
///
/// // Only the owner may touch /users/{subject}/…
/// let owner_only = require(|req: &Request<()>, p: &Principal| {
///     let allowed = req.uri().path().starts_with(&format!("/users/{}/", p.subject()));
///     async move {
///         if allowed { Ok(()) } else { Err(AuthError::forbidden("not your resource")) }
///     }
/// });
/// # let _ = owner_only;
/// ```
pub fn require<F>(predicate: F) -> AuthorizeLayer<RequirePredicate<F>> {
    AuthorizeLayer::new(RequirePredicate { predicate })
}

/// Applies an [`Authorize`] check before the inner service.
#[derive(Debug, Clone)]
pub struct AuthorizeLayer<Z, R = Rejection> {
    check: Z,
    rejection: R,
}

impl<Z> AuthorizeLayer<Z> {
    /// A layer applying `check`, answering refusals with the standard [`Rejection`].
    pub fn new(check: Z) -> Self {
        Self {
            check,
            rejection: Rejection::new(),
        }
    }
}

impl<Z, R> AuthorizeLayer<Z, R> {
    /// Answer refusals with `rejection` instead of the standard one.
    pub fn on_rejection<R2>(self, rejection: R2) -> AuthorizeLayer<Z, R2> {
        AuthorizeLayer {
            check: self.check,
            rejection,
        }
    }
}

impl<S, Z: Clone, R: Clone> Layer<S> for AuthorizeLayer<Z, R> {
    type Service = Authorized<S, Z, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorized {
            inner,
            check: self.check.clone(),
            rejection: self.rejection.clone(),
        }
    }
}

/// The service of [`AuthorizeLayer`].
#[derive(Debug, Clone)]
pub struct Authorized<S, Z, R = Rejection> {
    inner: S,
    check: Z,
    rejection: R,
}

impl<S, Z, R, B, ResBody> Service<Request<B>> for Authorized<S, Z, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    Z: Authorize<B>,
    R: OnRejection + Clone,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Z::Future, S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let check = self.check.authorize(&request);
        let clone = self.inner.clone();
        let inner = mem::replace(&mut self.inner, clone);
        let span = tracing::debug_span!(
            target: "auth_core",
            "authorize",
            outcome = tracing::field::Empty,
            reason = tracing::field::Empty,
        );
        ResponseFuture::new(check, inner, request, self.rejection.clone(), span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthMethod;

    fn with(principal: Option<Principal>, anonymous: bool) -> Request<()> {
        let mut request = Request::new(());
        if let Some(p) = principal {
            request.extensions_mut().insert(p);
        }
        if anonymous {
            request.extensions_mut().insert(Anonymous);
        }
        request
    }

    #[test]
    fn scopes_all_and_any() {
        let p = Principal::new("u", AuthMethod::Jwt).with_scopes(["read", "write"]);
        assert!(RequireScopes::all(["read", "write"]).check(&p).is_ok());
        let err = RequireScopes::all(["read", "admin"]).check(&p).unwrap_err();
        assert_eq!(err.scope(), Some("read admin"));
        assert!(RequireScopes::any(["admin", "write"]).check(&p).is_ok());
        assert!(RequireScopes::any(["admin"]).check(&p).is_err());
    }

    #[test]
    fn roles_all_and_any() {
        let p = Principal::new("u", AuthMethod::Jwt).with_roles(["ops"]);
        assert!(RequireRoles::all(["ops"]).check(&p).is_ok());
        assert_eq!(
            RequireRoles::all(["ops", "admin"])
                .check(&p)
                .unwrap_err()
                .status(),
            403
        );
        assert!(RequireRoles::any(["admin", "ops"]).check(&p).is_ok());
    }

    #[test]
    fn principal_lookup_outcomes() {
        let p = Principal::new("u", AuthMethod::Jwt);
        assert_eq!(principal_of(&with(Some(p), false)).unwrap().subject(), "u");
        assert!(principal_of(&with(None, true)).unwrap_err().is_missing());
        assert_eq!(principal_of(&with(None, false)).unwrap_err().status(), 500);
    }
}
