//! # tower-introspect
//!
//! Opaque access tokens for tower, on the `auth-core` engine: the token is checked at its
//! issuer's RFC 7662 introspection endpoint and the answer becomes a typed
//! [`Introspected`] identity (with the shared [`Principal`](auth_core::Principal): subject,
//! scopes, expiry), cached so a repeated token costs a hash and a map lookup.
//!
//! ```no_run
//! use auth_core::{Authenticated, first_of, require_scopes};
//! use axum::{Router, routing::get};
//! use tower_introspect::{Introspected, Introspection};
//! use tower_jwt::{IssuerConfig, JwtVerifier};
//!
//! async fn whoami(Authenticated(token): Authenticated<Introspected>) -> String {
//!     format!("{:?} via {:?}", token.sub(), token.client_id())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let introspection = Introspection::builder("https://auth.example.com")
//!     .client_id("orders-api")
//!     .client_secret(std::env::var("INTROSPECTION_SECRET")?)
//!     .discover() // `introspection_endpoint` from the issuer's metadata
//!     .await?;
//! let jwt = JwtVerifier::new(
//!     IssuerConfig::builder("https://auth.example.com").audience("orders-api").oidc_discovery().build()?,
//! )?;
//! let app: Router = Router::new()
//!     .route("/orders", get(whoami))
//!     .layer(require_scopes(["orders:read"]))
//!     // A JWT is verified locally; any other bearer token is introspected.
//!     .layer(auth_core::AuthLayer::new(first_of(introspection.authenticator(), jwt.authenticator())));
//! # let _ = app; Ok(()) }
//! ```
//!
//! ## Why a crate of its own
//! Introspection verifies no signature (the issuer vouches for the token over TLS), needs
//! an HTTP client and a cache of answers, and is of no use to an API that only takes JWTs:
//! tower-jwt users do not pay for it.
//!
//! ## What an answer must say
//! * `active: true` (a boolean; anything else is a malformed answer, 503).
//! * `exp` in the future and `nbf` in the past when present (`NumericDate`s: a number
//!   beyond 9999 or of another type is malformed), even when `active` is `true`.
//! * `iss`, when present, exactly the configured issuer.
//! * `aud` naming a configured [`audience`](IntrospectionBuilder::audience), once one is
//!   configured.
//! * `token_type`, when present, `Bearer`.
//! * `sub` or `client_id`: the [`Principal`](auth_core::Principal)'s subject is `sub`, else
//!   `client_id`. `scope` (space-separated) becomes its scopes, `exp` its expiry.
//! * `iat` (a `NumericDate`) and `jti` (a string), when present, name the token for a
//!   [`revocation`](IntrospectionBuilder::revocation) store.
//!
//! A refused token is 401 `invalid_token`. An endpoint that cannot be reached, answers
//! late, answers anything but 200 `application/json`, more than
//! [`max_response_bytes`](IntrospectionBuilder::max_response_bytes), or a malformed answer,
//! is 503: the token can be neither accepted nor refused (the cause is logged, the token
//! never).
//!
//! ## Requests to the endpoint
//! `POST` with the token in the form body (`token`, `token_type_hint=access_token`),
//! authenticated with `client_secret_basic` or
//! [`private_key_jwt`](IntrospectionBuilder::private_key_jwt) (a fresh RFC 7523 client
//! assertion per request); `https` only (plain `http` on a loopback host with
//! [`insecure_http_loopback`](IntrospectionBuilder::insecure_http_loopback)), redirects
//! never followed, every request bounded by [`timeout`](IntrospectionBuilder::timeout).
//! The answer is `application/json`, or with
//! [`jwt_responses`](IntrospectionBuilder::jwt_responses) an RFC 9701 JWT verified against
//! the issuer's JWKS before it is read.
//!
//! ## The cache
//! Answers are kept under `SipHash-1-3-128(secret, token)`, the secret a random 128-bit key
//! drawn when the [`Introspection`] is built, never under the token itself. SipHash is a PRF
//! made for keying maps on attacker input; its output never leaves the process, so without
//! the secret no token can be made to land on another's entry (a 2^-128 chance per cached
//! token), and a 43-byte token costs about 200 instructions.
//! * An active answer is reused until the token's `exp` or
//!   [`cache_ttl`](IntrospectionBuilder::cache_ttl) (default 60 s), whichever comes first:
//!   a token revoked at the issuer is refused at most `cache_ttl` later. A cached answer is
//!   the identity the layer hands on, so the scope and role layers check it on every
//!   request; a cached answer past `exp` is refused without asking.
//! * `active: false` is reused for [`inactive_ttl`](IntrospectionBuilder::inactive_ttl)
//!   (default 5 s), in a bounded cache of its own: a flood of bad tokens evicts no good one.
//! * Concurrent requests with one uncached token make one introspection request; the
//!   others wait for its answer.
//! * A failed introspection is not cached: the next request asks again.
//! * With a [`revocation`](IntrospectionBuilder::revocation) store, every request, cached
//!   or not, is checked against it: a token revoked there by `jti`, or a subject logged
//!   out everywhere, is refused at once.
//!
//! ## With JWTs
//! A token shaped like a JWT (three dot-separated base64url parts) is not this method's:
//! [`IntrospectionAuthenticator`] answers [`Outcome::Missing`](auth_core::Outcome::Missing),
//! so in `first_of(introspection, jwt)` it is verified as a JWT and never reaches the
//! introspection endpoint, while any other token is introspected. Put the introspection
//! authenticator first: the JWT authenticator refuses a token that is not a JWT (401)
//! rather than passing it on.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod cache;
mod client_auth;
mod config;
mod identity;
mod jwt_response;
mod response;
mod revocation;

pub use authenticator::{IntrospectionAuthenticator, IntrospectionLayer};
pub use config::{Introspection, IntrospectionBuilder};
pub use identity::Introspected;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
