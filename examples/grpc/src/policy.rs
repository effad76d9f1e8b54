//! [`MethodScopes`]: which scopes each gRPC method needs, checked after authentication.

use std::collections::HashMap;
use std::future::{Ready, ready};
use std::sync::Arc;

use auth_core::AuthError;
use auth_core::authorize::{Authorize, AuthorizeLayer, RequireScopes, principal_of};
use http::Request;

/// A per-method access table for a gRPC server, keyed by the method's path
/// (`/package.Service/Method`).
///
/// Each listed method either needs only an authenticated caller or the scopes of a
/// [`RequireScopes`] check (the check behind [`require_scopes`](auth_core::authorize::require_scopes)).
/// A method **not** listed is refused with `PERMISSION_DENIED`: an RPC added to the
/// `.proto` stays closed until someone decides who may call it.
///
/// It goes inside the authentication layer; a caller missing a scope gets
/// `PERMISSION_DENIED` (HTTP 403 for a plain HTTP request).
///
/// ```
/// use auth_core::{AuthLayer, AuthMethod, AuthError, Principal};
/// use http::{Request, Response, StatusCode};
/// use std::convert::Infallible;
/// use std::future::{ready, Ready};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
/// use towerauth_grpc_example::MethodScopes;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let reader = |_: &Request<()>| -> Ready<Result<Principal, AuthError>> {
///     ready(Ok(Principal::new("bob", AuthMethod::ApiKey).with_scopes(["read"])))
/// };
/// let svc = ServiceBuilder::new()
///     .layer(AuthLayer::new(reader))
///     .layer(MethodScopes::new().scopes("/shop.Orders/List", ["read"]).scopes("/shop.Orders/Cancel", ["write"]).into_layer())
///     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
///
/// let call = |path: &str| svc.clone().oneshot(Request::builder().uri(path).body(()).unwrap());
/// assert_eq!(call("/shop.Orders/List").await.unwrap().status(), StatusCode::OK);
/// assert_eq!(call("/shop.Orders/Cancel").await.unwrap().status(), StatusCode::FORBIDDEN);
/// assert_eq!(call("/shop.Orders/Refund").await.unwrap().status(), StatusCode::FORBIDDEN); // unlisted
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MethodScopes {
    methods: Arc<HashMap<String, Option<RequireScopes>>>,
}

impl MethodScopes {
    /// An empty table: every method refused.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// `path` is open to any authenticated caller.
    #[must_use]
    pub fn authenticated(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.methods).insert(path.into(), None);
        self
    }

    /// `path` needs every scope in `scopes`.
    #[must_use]
    pub fn scopes<I, S>(mut self, path: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Arc::make_mut(&mut self.methods).insert(path.into(), Some(RequireScopes::all(scopes)));
        self
    }

    /// This table as a tower layer.
    #[must_use]
    pub fn into_layer(self) -> AuthorizeLayer<Self> {
        AuthorizeLayer::new(self)
    }

    /// Whether the caller of `request` may call its method.
    ///
    /// # Errors
    ///
    /// `insufficient_scope` (gRPC `PERMISSION_DENIED`) for a missing scope, `forbidden` for an
    /// unlisted method, and the errors of [`principal_of`] when no caller was authenticated.
    pub fn check<B>(&self, request: &Request<B>) -> Result<(), AuthError> {
        let principal = principal_of(request)?;
        match self.methods.get(request.uri().path()) {
            Some(None) => Ok(()),
            Some(Some(scopes)) => scopes.check(principal),
            None => Err(AuthError::forbidden("no access rule allows this method")
                .with_reason("unlisted_method")),
        }
    }
}

impl<B> Authorize<B> for MethodScopes {
    type Future = Ready<Result<(), AuthError>>;

    fn authorize(&mut self, request: &Request<B>) -> Self::Future {
        ready(self.check(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{AuthMethod, Principal};

    fn call(path: &str, scopes: &[&str]) -> Result<(), AuthError> {
        let mut request = Request::builder().uri(path).body(()).unwrap();
        request
            .extensions_mut()
            .insert(Principal::new("u", AuthMethod::Jwt).with_scopes(scopes.iter().copied()));
        MethodScopes::new()
            .authenticated("/p.S/Open")
            .scopes("/p.S/Write", ["w"])
            .check(&request)
    }

    #[test]
    fn listed_unlisted_and_scoped_methods() {
        assert!(call("/p.S/Open", &[]).is_ok());
        assert!(call("/p.S/Write", &["w"]).is_ok());
        let err = call("/p.S/Write", &["r"]).unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(err.scope(), Some("w"));
        let err = call("/p.S/New", &["w"]).unwrap_err();
        assert_eq!(err.status(), 403);
        assert_eq!(err.reason(), "unlisted_method");
    }

    #[test]
    fn no_principal_is_a_configuration_error() {
        let request = Request::builder().uri("/p.S/Open").body(()).unwrap();
        let err = MethodScopes::new()
            .authenticated("/p.S/Open")
            .check(&request)
            .unwrap_err();
        assert_eq!(err.status(), 500);
    }
}
