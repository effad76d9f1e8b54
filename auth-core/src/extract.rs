//! axum extractors (feature `axum`): [`Authenticated<I>`], [`Principal`], [`RequireScope<S>`],
//! each also as an `Option`.
//!
//! They read what an [`AuthLayer`](crate::AuthLayer) inserted. An extractor on a route with
//! no such layer is a programming error: it answers 500 (`server_error`) and logs which
//! layer to add, rather than letting the request through unauthenticated. Their rejection is
//! the [`AuthError`], answered as the layers answer it.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::{AuthError, AuthErrorKind};
use crate::future::Anonymous;
use crate::principal::Principal;
use crate::rejection::http_response;

/// Extracts the typed identity `I` an authentication layer inserted: `ApiKeyIdentity`,
/// `Claims<C>`, `OAuthSession<U>`, or your own method's.
///
/// Behind [`first_of`](crate::first_of) each method inserts its own identity, so
/// `Authenticated<ApiKeyIdentity>` finds the key whichever way the chain is built. A request
/// authenticated by another method gets 401 from `Authenticated<I>` and `None` from
/// `Option<Authenticated<I>>`, as does an anonymous one behind an optional layer.
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Authenticated, Principal};
/// use axum::{body::Body, routing::get, Router};
/// use http::Request;
///
/// async fn whoami(principal: Principal) -> String {
///     principal.subject().to_owned()
/// }
///
/// async fn greet(user: Option<Authenticated<Principal>>) -> String {
///     match user {
///         Some(Authenticated(p)) => format!("hello {}", p.subject()),
///         None => "hello stranger".to_owned(),
///     }
/// }
///
/// let auth = |req: &Request<Body>| match req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
///     None => Err(AuthError::missing()),
///     Some(user) => Ok(Principal::new(user, AuthMethod::Custom("header".into()))),
/// };
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .route_layer(AuthLayer::new(auth))
///     .merge(Router::new().route("/greet", get(greet)).route_layer(AuthLayer::new(auth).optional()));
/// # let _ = app;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated<I>(pub I);

/// Answered as the layers answer a refusal: RFC 6750 challenge, JSON body, the error in the
/// response's extensions.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if self.kind() == AuthErrorKind::Misconfigured {
            tracing::error!(target: "auth_core", cause = self.description(), "the server is misconfigured");
        }
        let rejection = crate::Rejection::new();
        let mut response =
            http_response(&self, rejection.config()).map(axum_core::body::Body::from);
        response.extensions_mut().insert(self);
        response
    }
}

fn no_layer<T>() -> AuthError {
    AuthError::misconfigured(format!(
        "the `{}` extractor found nothing an authentication layer inserted: add an \
         `AuthLayer` in front of this route (`route_layer(AuthLayer::new(..))`)",
        type_name::<T>()
    ))
    .with_reason("no_auth_layer")
}

/// What the layers left for an extractor of `T`.
enum Found<T> {
    /// `T` itself.
    Identity(T),
    /// An anonymous request, or one authenticated by a method that does not produce `T`.
    Not(AuthError),
}

fn lookup<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Result<Found<T>, AuthError> {
    let extensions = &parts.extensions;
    if let Some(value) = extensions.get::<T>() {
        return Ok(Found::Identity(value.clone()));
    }
    if extensions.get::<Anonymous>().is_some() {
        return Ok(Found::Not(AuthError::missing()));
    }
    if extensions.get::<Principal>().is_some() {
        return Ok(Found::Not(
            AuthError::invalid_credential("this resource does not accept this kind of credential")
                .with_reason("other_method"),
        ));
    }
    Err(no_layer::<T>())
}

impl<S, I> FromRequestParts<S> for Authenticated<I>
where
    S: Send + Sync,
    I: Clone + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
        match lookup::<I>(parts)? {
            Found::Identity(identity) => Ok(Self(identity)),
            Found::Not(error) => Err(error),
        }
    }
}

impl<S, I> OptionalFromRequestParts<S> for Authenticated<I>
where
    S: Send + Sync,
    I: Clone + Send + Sync + 'static,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, AuthError> {
        match lookup::<I>(parts)? {
            Found::Identity(identity) => Ok(Some(Self(identity))),
            Found::Not(_) => Ok(None),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AuthError> {
        match lookup::<Self>(parts)? {
            Found::Identity(principal) => Ok(principal),
            Found::Not(error) => Err(error),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, AuthError> {
        match lookup::<Self>(parts)? {
            Found::Identity(principal) => Ok(Some(principal)),
            Found::Not(_) => Ok(None),
        }
    }
}

/// A scope, named at the type level, for [`RequireScope`].
///
/// ```
/// use auth_core::ScopeName;
///
/// struct Billing;
/// impl ScopeName for Billing {
///     const NAME: &'static str = "billing";
/// }
/// ```
pub trait ScopeName {
    /// The scope as it appears in credentials.
    const NAME: &'static str;
}

/// Extracts the [`Principal`] only if it holds scope `S::NAME`: the handler's signature
/// states what it needs.
///
/// Anonymous: 401. Without the scope: 403 `insufficient_scope` with `scope="<S::NAME>"`
/// (RFC 6750 §3.1). The handler never runs.
///
/// ```
/// use auth_core::{RequireScope, ScopeName};
///
/// struct Write;
/// impl ScopeName for Write {
///     const NAME: &'static str = "notes:write";
/// }
///
/// async fn create_note(caller: RequireScope<Write>) -> String {
///     format!("created by {}", caller.principal.subject())
/// }
/// # let _ = create_note;
/// ```
pub struct RequireScope<S> {
    /// The caller, who holds the scope.
    pub principal: Principal,
    _scope: PhantomData<fn() -> S>,
}

impl<S: ScopeName> fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScope")
            .field("scope", &S::NAME)
            .field("principal", &self.principal)
            .finish()
    }
}

impl<St, S> FromRequestParts<St> for RequireScope<S>
where
    St: Send + Sync,
    S: ScopeName,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, AuthError> {
        let principal =
            <Principal as FromRequestParts<St>>::from_request_parts(parts, state).await?;
        if principal.has_scope(S::NAME) {
            Ok(Self {
                principal,
                _scope: PhantomData,
            })
        } else {
            Err(AuthError::insufficient_scope(S::NAME))
        }
    }
}
