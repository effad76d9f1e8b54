//! axum extractors (feature `axum`): [`Authenticated<I>`], `Option<Authenticated<I>>`,
//! [`Principal`] and `Option<Principal>`.
//!
//! They read what an [`AuthLayer`](crate::AuthLayer) inserted. An extractor on a route
//! with no such layer is a programming error: it answers 500 and says which layer to add,
//! rather than letting the request through unauthenticated.
//!
//! ```
//! use auth_core::{AuthError, AuthLayer, AuthMethod, Authenticated, Principal};
//! use axum::{body::Body, routing::get, Router};
//! use http::Request;
//! use std::future::{ready, Ready};
//!
//! async fn whoami(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! async fn greet(user: Option<Authenticated<Principal>>) -> String {
//!     match user {
//!         Some(Authenticated(p)) => format!("hello {}", p.subject()),
//!         None => "hello stranger".to_owned(),
//!     }
//! }
//!
//! let auth = |req: &Request<Body>| -> Ready<Result<Principal, AuthError>> {
//!     ready(match req.headers().get("x-user") {
//!         None => Err(AuthError::missing()),
//!         Some(v) => Ok(Principal::new(v.to_str().unwrap_or("?"), AuthMethod::Custom("header".into()))),
//!     })
//! };
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route_layer(AuthLayer::new(auth))
//!     .merge(Router::new().route("/greet", get(greet)).route_layer(AuthLayer::new(auth).optional()));
//! # let _ = app;
//! ```

use std::any::type_name;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;

use crate::error::AuthError;
use crate::future::Anonymous;
use crate::principal::Principal;
use crate::rejection::{BodyFormat, http_response};

/// Extracts the typed identity `I` an authentication layer inserted.
///
/// Behind an optional layer, use `Option<Authenticated<I>>`: `None` for an anonymous
/// request. `Authenticated<I>` itself answers 401 for an anonymous request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated<I>(pub I);

/// Why an extractor refused: 401 for an anonymous request, 500 when the route lacks the
/// layer (or the layer inserts another identity type).
#[derive(Debug, Clone)]
pub struct ExtractRejection {
    error: AuthError,
}

impl ExtractRejection {
    /// The error behind the rejection.
    #[must_use]
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        let mut response =
            http_response(&self.error, "api", BodyFormat::Json).map(axum_core::body::Body::from);
        response.extensions_mut().insert(self.error);
        response
    }
}

fn no_layer<T>() -> ExtractRejection {
    let description = format!(
        "the `{}` extractor found no identity of that type: add an `AuthLayer` for this route \
         (`route_layer(AuthLayer::new(..))`), or extract the identity type the layer inserts",
        type_name::<T>()
    );
    tracing::error!(target: "auth_core", "{description}");
    ExtractRejection {
        error: AuthError::misconfigured(description).with_reason("no_auth_layer"),
    }
}

fn lookup<T: Clone + Send + Sync + 'static>(parts: &Parts) -> Result<Option<T>, ExtractRejection> {
    if let Some(value) = parts.extensions.get::<T>() {
        return Ok(Some(value.clone()));
    }
    if parts.extensions.get::<Anonymous>().is_some() {
        return Ok(None);
    }
    Err(no_layer::<T>())
}

fn required<T>(found: Option<T>) -> Result<T, ExtractRejection> {
    found.ok_or_else(|| ExtractRejection {
        error: AuthError::missing(),
    })
}

impl<S, I> FromRequestParts<S> for Authenticated<I>
where
    S: Send + Sync,
    I: Clone + Send + Sync + 'static,
{
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(lookup::<I>(parts)?).map(Authenticated)
    }
}

impl<S, I> OptionalFromRequestParts<S> for Authenticated<I>
where
    S: Send + Sync,
    I: Clone + Send + Sync + 'static,
{
    type Rejection = ExtractRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(lookup::<I>(parts)?.map(Authenticated))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        required(lookup::<Self>(parts)?)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = ExtractRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        lookup::<Self>(parts)
    }
}

// Keep `Bytes` in scope for the body conversion above on every axum-core version.
const _: fn(Bytes) -> axum_core::body::Body = axum_core::body::Body::from;
