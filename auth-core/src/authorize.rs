//! Authorization layers, separate from authentication: require scopes, roles, per-path
//! scopes, or any async predicate over the request and its [`Principal`].

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, Ready};
use std::mem;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::RejectionBody;
use crate::error::AuthError;
use crate::future::{Anonymous, ResponseFuture, Verdict};
use crate::principal::Principal;
use crate::rejection::{OnRejection, Rejection};

/// The [`Principal`] an authentication layer inserted into `request`: 401 when an optional
/// layer let the request through anonymously, a 500 misconfiguration when none ran.
fn principal_of<B>(request: &Request<B>) -> Result<&Principal, AuthError> {
    let extensions = request.extensions();
    if let Some(principal) = extensions.get::<Principal>() {
        return Ok(principal);
    }
    if extensions.get::<Anonymous>().is_some() {
        return Err(AuthError::missing());
    }
    Err(AuthError::misconfigured(
        "an authorization layer runs with no AuthLayer in front of it: add the AuthLayer \
         outside it (in axum, the `route_layer` or `layer` call after it)",
    )
    .with_reason("no_auth_layer"))
}

/// The verdict of an authorization check: now, or from a future.
#[derive(Debug)]
pub enum Check<F> {
    /// Decided now.
    Done(Result<(), AuthError>),
    /// Decided by this future.
    Wait(F),
}

/// An authorization check over an authenticated request.
pub trait Authorize<B> {
    /// The future of a check that must wait.
    type Future: Future<Output = Result<(), AuthError>>;

    /// Checks `principal`, the caller of `request`.
    fn authorize(&mut self, request: &Request<B>, principal: &Principal) -> Check<Self::Future>;
}

impl<B, F, Fut> Authorize<B> for F
where
    F: FnMut(&Request<B>, &Principal) -> Fut,
    Fut: Future<Output = Result<(), AuthError>>,
{
    type Future = Fut;

    fn authorize(&mut self, request: &Request<B>, principal: &Principal) -> Check<Fut> {
        Check::Wait(self(request, principal))
    }
}

/// Names (scopes or roles) of which all, or any one, must be held.
#[derive(Debug, Clone)]
pub struct Requirement {
    names: Arc<[String]>,
    any: bool,
    roles: bool,
    /// The names space-separated, for the refusal.
    joined: Arc<str>,
}

impl Requirement {
    fn new<I, S>(names: I, roles: bool) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Arc<[String]> = names.into_iter().map(Into::into).collect();
        let joined = names.join(" ").into();
        Self {
            names,
            any: false,
            roles,
            joined,
        }
    }

    fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        let held = |name: &String| {
            if self.roles {
                principal.has_role(name)
            } else {
                principal.has_scope(name)
            }
        };
        let met = if self.any {
            self.names.iter().any(held)
        } else {
            self.names.iter().all(held)
        };
        match (met, self.roles, self.any) {
            (true, _, _) => Ok(()),
            (false, false, _) => Err(AuthError::insufficient_scope(Arc::clone(&self.joined))),
            (false, true, false) => Err(AuthError::forbidden(format!(
                "the caller lacks a required role: {}",
                self.joined
            ))
            .with_reason("role")),
            (false, true, true) => Err(AuthError::forbidden(format!(
                "the caller has none of the roles: {}",
                self.joined
            ))
            .with_reason("role")),
        }
    }
}

/// The built-in rules: scopes or roles, or scopes per path.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Scopes or roles.
    Names(Requirement),
    /// Scopes per request path; unlisted paths refused.
    Paths(Arc<HashMap<String, Requirement>>),
}

impl<B> Authorize<B> for Rule {
    type Future = Ready<Result<(), AuthError>>;

    fn authorize(&mut self, request: &Request<B>, principal: &Principal) -> Check<Self::Future> {
        Check::Done(match self {
            Self::Names(requirement) => requirement.check(principal),
            Self::Paths(paths) => match paths.get(request.uri().path()) {
                Some(requirement) => requirement.check(principal),
                None => Err(
                    AuthError::forbidden("no access rule allows this method or path")
                        .with_reason("unlisted_path"),
                ),
            },
        })
    }
}

/// Requires every scope in `scopes`: 403 `insufficient_scope` naming them otherwise.
///
/// It reads the [`Principal`] an [`AuthLayer`](crate::AuthLayer) inserted, so it goes
/// *inside* that layer (in axum, `route_layer(require_scopes(…))` before the auth layer's
/// `route_layer`/`layer` call; in a `ServiceBuilder`, after it). An anonymous request behind an
/// optional auth layer gets 401; no auth layer at all is a misconfiguration (500).
///
/// ```
/// use auth_core::{require_scopes, AuthError, AuthLayer, AuthMethod, Principal};
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let reader = |_: &Request<()>| Ok::<_, AuthError>(Principal::new("bob", AuthMethod::Jwt).with_scopes(["read"]));
/// let svc = ServiceBuilder::new()
///     .layer(AuthLayer::new(reader))
///     .layer(require_scopes(["read", "admin"]))
///     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
///
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// assert!(res.headers()["www-authenticate"].to_str().unwrap().ends_with(r#"scope="read admin""#));
/// # }
/// ```
pub fn require_scopes<I, S>(scopes: I) -> AuthorizeLayer
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(Rule::Names(Requirement::new(scopes, false)))
}

/// Requires every role in `roles`: a plain 403 naming them otherwise. Placed as
/// [`require_scopes`] is.
pub fn require_roles<I, S>(roles: I) -> AuthorizeLayer
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    AuthorizeLayer::new(Rule::Names(Requirement::new(roles, true)))
}

/// Requires, for each listed request path, the scopes listed with it (none: any
/// authenticated caller), and refuses every path not listed with a plain 403.
///
/// Made for gRPC, whose method is the path (`/package.Service/Method`): an RPC added to the
/// `.proto` stays closed until someone decides who may call it. A refusal answers
/// `PERMISSION_DENIED` to a gRPC call. Placed as [`require_scopes`] is.
///
/// ```
/// use auth_core::{require_scopes_per_path, AuthError, AuthLayer, AuthMethod, Principal};
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let reader = |_: &Request<()>| Ok::<_, AuthError>(Principal::new("bob", AuthMethod::ApiKey).with_scopes(["read"]));
/// let svc = ServiceBuilder::new()
///     .layer(AuthLayer::new(reader))
///     .layer(require_scopes_per_path([
///         ("/shop.Orders/WhoAmI", vec![]),
///         ("/shop.Orders/List", vec!["read"]),
///         ("/shop.Orders/Cancel", vec!["write"]),
///     ]))
///     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
///
/// let call = |path: &str| svc.clone().oneshot(Request::builder().uri(path).body(()).unwrap());
/// assert_eq!(call("/shop.Orders/WhoAmI").await.unwrap().status(), StatusCode::OK);
/// assert_eq!(call("/shop.Orders/List").await.unwrap().status(), StatusCode::OK);
/// assert_eq!(call("/shop.Orders/Cancel").await.unwrap().status(), StatusCode::FORBIDDEN);
/// assert_eq!(call("/shop.Orders/Refund").await.unwrap().status(), StatusCode::FORBIDDEN); // unlisted
/// # }
/// ```
pub fn require_scopes_per_path<I, P, L, S>(paths: I) -> AuthorizeLayer
where
    I: IntoIterator<Item = (P, L)>,
    P: Into<String>,
    L: IntoIterator<Item = S>,
    S: Into<String>,
{
    let paths = paths
        .into_iter()
        .map(|(path, scopes)| (path.into(), Requirement::new(scopes, false)))
        .collect();
    AuthorizeLayer::new(Rule::Paths(Arc::new(paths)))
}

/// Requires an async predicate over the request and its [`Principal`] to return `Ok(())`;
/// its error is the answer (a plain 403 from [`AuthError::forbidden`], typically). Placed as
/// [`require_scopes`] is.
///
/// The predicate is called with borrowed values and returns a future that owns what it
/// needs (clone the parts you use).
///
/// ```
/// use auth_core::{require, AuthError, Principal};
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
pub fn require<F>(predicate: F) -> AuthorizeLayer<F> {
    AuthorizeLayer::new(predicate)
}

/// An authorization layer: built by [`require_scopes`], [`require_roles`] and
/// [`require_scopes_per_path`] (the type `AuthorizeLayer`), or [`require`] (an
/// `AuthorizeLayer<F>` over its predicate).
#[derive(Clone)]
pub struct AuthorizeLayer<Z = Rule, R = Rejection> {
    check: Z,
    rejection: R,
}

impl<Z> AuthorizeLayer<Z> {
    fn new(check: Z) -> Self {
        Self {
            check,
            rejection: Rejection::new(),
        }
    }
}

impl<R> AuthorizeLayer<Rule, R> {
    /// Any one of the scopes (or roles) is enough, instead of all of them:
    /// `require_scopes(["admin", "ops"]).any()`. Per path, any one of each path's scopes.
    #[must_use]
    pub fn any(mut self) -> Self {
        match &mut self.check {
            Rule::Names(requirement) => requirement.any = true,
            Rule::Paths(paths) => {
                for requirement in Arc::make_mut(paths).values_mut() {
                    requirement.any = true;
                }
            }
        }
        self
    }
}

impl<Z, R> AuthorizeLayer<Z, R> {
    /// Answer refusals with `rejection` instead of the standard [`Rejection`].
    pub fn on_rejection<R2>(self, rejection: R2) -> AuthorizeLayer<Z, R2> {
        AuthorizeLayer {
            check: self.check,
            rejection,
        }
    }
}

impl<Z, R: fmt::Debug> fmt::Debug for AuthorizeLayer<Z, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeLayer")
            .field("check", &std::any::type_name::<Z>())
            .field("rejection", &self.rejection)
            .finish()
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
#[derive(Clone)]
pub struct Authorized<S, Z, R = Rejection> {
    inner: S,
    check: Z,
    rejection: R,
}

impl<S: fmt::Debug, Z, R: fmt::Debug> fmt::Debug for Authorized<S, Z, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorized")
            .field("inner", &self.inner)
            .field("check", &std::any::type_name::<Z>())
            .field("rejection", &self.rejection)
            .finish()
    }
}

impl<S, Z, R, B, ResBody> Service<Request<B>> for Authorized<S, Z, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    Z: Authorize<B>,
    R: OnRejection<B> + Clone,
    ResBody: RejectionBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Z::Future, S, B, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let span = tracing::debug_span!(
            target: "auth_core",
            "authorize",
            outcome = tracing::field::Empty,
            reason = tracing::field::Empty,
        );
        let check = match principal_of(&request) {
            Ok(principal) => self.check.authorize(&request, principal),
            Err(error) => Check::Done(Err(error)),
        };
        match check {
            Check::Done(outcome) => ResponseFuture::decided(
                Verdict::of(outcome, false),
                &mut self.inner,
                request,
                self.rejection.clone(),
                span,
            ),
            Check::Wait(future) => {
                let clone = self.inner.clone();
                let inner = mem::replace(&mut self.inner, clone);
                ResponseFuture::checking(
                    future,
                    inner,
                    request,
                    self.rejection.clone(),
                    span,
                    false,
                )
            }
        }
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
        assert!(Requirement::new(["read", "write"], false).check(&p).is_ok());
        let err = Requirement::new(["read", "admin"], false)
            .check(&p)
            .unwrap_err();
        assert_eq!(err.scope(), Some("read admin"));
        let mut any = Requirement::new(["admin", "write"], false);
        any.any = true;
        assert!(any.check(&p).is_ok());
        any.names = Arc::new(["admin".to_owned()]);
        assert!(any.check(&p).is_err());
    }

    #[test]
    fn roles_all_and_any_are_plain_403s_naming_the_roles() {
        let p = Principal::new("u", AuthMethod::Jwt).with_roles(["ops"]);
        assert!(Requirement::new(["ops"], true).check(&p).is_ok());
        let err = Requirement::new(["ops", "admin"], true)
            .check(&p)
            .unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(err.scope(), None);
        assert_eq!(
            err.description(),
            "the caller lacks a required role: ops admin"
        );
        let mut any = Requirement::new(["admin", "ops"], true);
        any.any = true;
        assert!(any.check(&p).is_ok());
    }

    #[test]
    fn principal_lookup_outcomes() {
        let p = Principal::new("u", AuthMethod::Jwt);
        assert_eq!(principal_of(&with(Some(p), false)).unwrap().subject(), "u");
        assert!(principal_of(&with(None, true)).unwrap_err().is_missing());
        assert_eq!(principal_of(&with(None, false)).unwrap_err().status(), 500);
    }
}
