//! # auth-core
//!
//! The engine of towerauth: one tower layer that authenticates a request with any method
//! (API keys, JWT, sessions, your own closure), hands the handler a typed identity, and
//! answers refusals in the standard's words (RFC 6750 for HTTP, status codes for gRPC).
//!
//! * [`Authenticate`]: what a method implements (closures do too); its
//!   [`settle`](Authenticate::settle) and [`presence`](Authenticate::presence) let the layer
//!   and `first_of` skip work, with [`Decided`] for checks done on the spot.
//! * [`AuthLayer`] / [`Auth`]: the layer and service; generic over request and response
//!   bodies, no boxing on the hot path, `Error = S::Error` (a refusal is a response).
//! * [`credential`]: where credentials come from (`Bearer`, a header, a cookie, the query
//!   string only by `insecure_` opt-in), with duplicate and length checks.
//! * [`Principal`] and [`Identity`]: the shared view of the caller beside each method's own
//!   typed identity.
//! * [`AuthError`], [`Rejection`], [`OnRejection`]: errors and how they are answered.
//! * [`combinator`]: accept one of several methods ([`first_of`](combinator::first_of)).
//! * [`authorize`]: scope, role and predicate layers (403).
//! * [`Authenticated`] and the [`Principal`] extractor for axum (feature `axum`).
//!
//! ```
//! use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
//! use auth_core::authorize::require_scopes;
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use std::future::{ready, Ready};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A custom method in a few lines: a static token table.
//! let auth = |req: &Request<()>| -> Ready<Result<Principal, AuthError>> {
//!     let cred = match auth_core::credential::Credentials::bearer().extract(req) {
//!         Ok(cred) => cred,
//!         Err(e) => return ready(Err(e)),
//!     };
//!     ready(match cred.value() {
//!         "t-alice" => Ok(Principal::new("alice", AuthMethod::Custom("static".into())).with_scopes(["read"])),
//!         _ => Err(AuthError::invalid_credential("unknown token")),
//!     })
//! };
//! let svc = ServiceBuilder::new()
//!     .layer(AuthLayer::new(auth))
//!     .layer(require_scopes(["read"]))
//!     .service(service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }));
//!
//! let req = Request::builder().header("authorization", "Bearer t-alice").body(()).unwrap();
//! assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
//! let req = Request::builder().header("authorization", "Bearer t-mallory").body(()).unwrap();
//! assert_eq!(svc.oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticate;
pub mod authorize;
mod body;
pub mod combinator;
pub mod credential;
mod error;
#[cfg(feature = "axum")]
mod extract;
pub mod future;
mod layer;
mod principal;
pub mod rejection;

pub use authenticate::{Authenticate, Decided, Presence};
pub use body::AuthBody;
pub use error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
#[cfg(feature = "axum")]
pub use extract::{Authenticated, ExtractRejection};
pub use layer::{Auth, AuthCheck, AuthLayer};
pub use principal::{AuthMethod, Identity, Principal};
pub use rejection::{OnRejection, Rejection};
