//! # auth-core
//!
//! The engine of towerauth: one tower layer that authenticates a request with any method
//! (API keys, JWT, sessions, your own closure), hands the handler a typed identity, and
//! answers refusals in the standard's words (RFC 6750 for HTTP, status codes for gRPC).
//!
//! ```
//! use auth_core::{require_scopes, AuthError, AuthLayer, AuthMethod, Credentials, Principal};
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A custom method in a few lines: a static token table.
//! let bearer = Credentials::bearer();
//! let auth = move |req: &Request<()>| match bearer.find(req)?.value() {
//!     "t-alice" => Ok(Principal::new("alice", AuthMethod::Custom("static".into())).with_scopes(["read"])),
//!     _ => Err(AuthError::invalid_credential("unknown token")),
//! };
//! let svc = ServiceBuilder::new()
//!     .layer(AuthLayer::new(auth))
//!     .layer(require_scopes(["read"]))
//!     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) }));
//!
//! let req = Request::builder().header("authorization", "Bearer t-alice").body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
//! let req = Request::builder().header("authorization", "Bearer t-mallory").body(()).unwrap();
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
//!
//! ## What you meet
//!
//! | you want to… | use |
//! |---|---|
//! | authenticate requests | [`AuthLayer`] over an [`Authenticate`] (a method crate's authenticator, [`first_of`] several, or a closure) |
//! | read the caller in a handler | [`Principal`], [`Authenticated<I>`] for a method's typed identity, [`RequireScope<S>`] (axum) |
//! | read the caller in plain tower | `request.extensions().get::<Principal>()` (and the typed identity) |
//! | require scopes or roles | [`require_scopes`], [`require_roles`], [`require_scopes_per_path`] (gRPC), [`require`] |
//! | write a method | [`Authenticate`] returning an [`Outcome`]; [`Credentials`] to read the credential; [`CheckFuture`] when it must wait |
//! | shape refusals | [`Rejection`] (realm, problem+json) or any [`OnRejection`] closure; [`AuthError::with_challenges`] for another scheme's [`Challenge`] (DPoP), [`AuthError::with_header`] for a header beside it |
//! | add a header to admitted responses | [`Identity::take_response_headers`] on the method's identity |
//! | tell clients where to get a token | [`ResourceMetadata`] (RFC 9728), named in challenges by [`Rejection::resource_metadata`] |
//!
//! Refusals are [`AuthError`]s: 400 for an ambiguous request, 401 for a missing or bad
//! credential, 403 for missing scopes or roles, 429 when a rate limit or quota is exceeded
//! (tower-ratelimit), 503 when a store or key set cannot be reached, 500 for a
//! misconfiguration (its cause is logged, never sent). Warnings and
//! configuration causes go to [`tracing`](https://docs.rs/tracing): install a subscriber to
//! see them.
//!
//! ## Naming, across the towerauth crates
//!
//! | thing | rule | examples |
//! |---|---|---|
//! | a layer | `layer()` on the method's handle, or `AuthLayer::new(authenticator)` | `keys.layer()`, `jwt.layer()`, `sessions.layer()` |
//! | an authenticator | `authenticator()` on the handle | `keys.authenticator()`, `client.authenticator()` |
//! | configuration | `Type::builder(…)` → setters named after the field → `build()` returning [`ConfigError`] | `ApiKeys::builder(store).cache_ttl(…).build()?` |
//! | a value's copy with a field set | `with_field` | [`Principal::with_scopes`] |
//! | an option that weakens security | `insecure_…` | [`Credentials::insecure_query`] |
//! | storage | a `…Store` trait per crate, written with `#[async_trait]`; implementations named backend first | `ApiKeyStore` → `MemoryApiKeyStore`, `SqlApiKeyStore`; `SessionStore` → `MemorySessionStore`, `RedisSessionStore` |
//! | a store failure | one [`StoreError`] for every store, with a `#[non_exhaustive]` [`StoreErrorKind`], keeping the cause as `source()`; on the request path it becomes a 503 | `StoreError::unavailable(redis_error)` |
//! | a typed identity | one name per method | `ApiKeyIdentity`, `Claims<C>`, `OAuthSession<U>` |
//!
//! ## Features
//! * `axum`: the extractors ([`Authenticated`], [`Principal`], [`RequireScope`]) and axum's
//!   body as a [`RejectionBody`].
//! * `tonic`: tonic's body as a [`RejectionBody`], so the layers stack in a tonic server.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticate;
mod authorize;
mod body;
mod combinator;
mod credential;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod future;
mod layer;
mod metadata;
mod principal;
mod rejection;
mod store;

pub use authenticate::{Authenticate, CheckFuture, Outcome};
pub use authorize::{
    AuthorizeLayer, require, require_roles, require_scopes, require_scopes_per_path,
};
pub use body::RejectionBody;
pub use combinator::{FirstOf, first_of};
pub use credential::{Credential, Credentials, read_cookie};
pub use error::{AuthError, AuthErrorKind, Challenge, ConfigError, ConfigErrorKind};
#[cfg(feature = "axum")]
pub use extract::{Authenticated, RequireScope, ScopeName};
pub use layer::AuthLayer;
pub use metadata::{ResourceMetadata, ResourceMetadataBuilder};
pub use principal::{AuthMethod, Identity, Principal};
pub use rejection::{OnRejection, Rejection};
pub use store::{StoreError, StoreErrorKind};

/// The README's examples, compiled as doc tests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
