//! # tower-jwt
//!
//! Strict JWT verification for tower, on the `auth-core` engine: a [`JwtLayer`] that turns a
//! bearer token into a typed [`Claims`] (your claims type `C` plus the shared
//! [`Principal`](auth_core::Principal)), and a [`JwtVerifier`] usable without HTTP (an
//! OpenID Connect login verifying an ID token).
//!
//! ```
//! use auth_core::Principal;
//! use http::{Request, Response, StatusCode};
//! use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
//! use serde::Deserialize;
//! use std::convert::Infallible;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt::{Claims, IssuerConfig, JwtAuthenticator, JwtLayer, JwtVerifier};
//!
//! #[derive(Deserialize)]
//! struct MyClaims {
//!     org: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = b"a 32-byte or longer HS256 secret!";
//! let verifier = JwtVerifier::new(
//!     IssuerConfig::builder("https://auth.example.com")
//!         .audience("orders-api")
//!         .hmac_secret(secret)
//!         .build()
//!         .unwrap(),
//! )
//! .unwrap();
//! let layer: JwtLayer<MyClaims> = JwtAuthenticator::new(verifier).claims().layer();
//! let svc = ServiceBuilder::new().layer(layer).service(service_fn(|req: Request<()>| async move {
//!     let claims = req.extensions().get::<Claims<MyClaims>>().unwrap();
//!     let principal = req.extensions().get::<Principal>().unwrap();
//!     Ok::<_, Infallible>(Response::new(format!("{}@{}", principal.subject(), claims.claims().org)))
//! }));
//!
//! let now = jsonwebtoken::get_current_timestamp();
//! let mut header = Header::new(Algorithm::HS256);
//! header.typ = Some("at+jwt".into());
//! let token = encode(&header, &serde_json::json!({
//!     "iss": "https://auth.example.com", "aud": "orders-api", "sub": "alice", "org": "acme",
//!     "iat": now, "nbf": now, "exp": now + 900, "jti": "7f3c9a10",
//! }), &EncodingKey::from_secret(secret).unwrap()).unwrap();
//!
//! let ok = svc.clone().oneshot(
//!     Request::builder().header("authorization", format!("Bearer {token}")).body(()).unwrap(),
//! ).await.unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//!
//! let refused = svc.oneshot(
//!     Request::builder().header("authorization", "Bearer e30.e30.e30").body(()).unwrap(),
//! ).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
//! # }
//! ```
//!
//! ## Strict by default
//! * The algorithm is pinned per [`Key`], never read from the token; `alg: none`, `crit`,
//!   keys named by the token (`jwk`, `jku`, `x5u`) are refused or ignored ([`jws`]).
//! * `exp`, `nbf`, `iat` (not in the future), `iss` (a string, equal to a configured
//!   issuer), `aud` (one of the configured audiences), `sub` and `jti` (RFC 9068 §2.2;
//!   [`IssuerConfigBuilder::allow_missing_jti`]) are required; leeway 30 s by
//!   default, at most 300 s; an optional maximum age (`now - iat`) and maximum lifetime
//!   (`exp - iat`, [`IssuerConfigBuilder::max_lifetime`]).
//! * A `NumericDate` before 1970 or after 9999 is malformed: an `exp` of `2^70` or `1e300`
//!   is refused, not saturated into a token that never expires.
//! * `typ` must be `at+jwt` (RFC 9068): refresh and ID tokens are refused where access
//!   tokens are meant. [`IssuerConfig::id_tokens`] accepts `JWT` or no `typ` instead.
//! * The token's length is capped (8 KiB) before anything is decoded; HMAC secrets shorter
//!   than the hash output, RSA keys under 2048 bits and a build without a crypto backend
//!   fail at construction with a [`ConfigError`](auth_core::ConfigError).
//!
//! ## Keys
//! An HMAC secret, PEM / DER (RSA, EC P-256 / P-384, Ed25519), a JWK set ([`KeySet::from_jwks`]),
//! and with the `remote-keys` feature (default) a JWKS URL, or an issuer URL with OpenID
//! Connect / RFC 8414 discovery. Several issuers at once ([`JwtVerifierBuilder::issuer`]),
//! each with its own keys, audiences and rules; the unverified `iss` only selects the
//! configuration. Remote keys live in a lock-free cache
//! refreshed in the background ([`jwks`]), fetched without following redirects, over
//! `https` (or `http` on loopback). A JWK carrying private members is refused, and a JWK
//! set holds at most 100 keys ([`jwk`]).
//!
//! ## Verifying an ID token (no HTTP request)
//! ```no_run
//! use tower_jwt::{IssuerConfig, JwtVerifier};
//!
//! # #[cfg(feature = "remote-keys")]
//! # async fn login(id_token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let client = tower_jwt::jwks::default_client()?;     // no redirects, timeouts
//! let issuer = IssuerConfig::discover("https://accounts.example.com", client)
//!     .await?                              // metadata `issuer` must match exactly
//!     .audience("my-client-id")
//!     .typ("JWT")
//!     .allow_missing_typ()
//!     .allow_missing_nbf()
//!     .allow_missing_jti()
//!     .build()?;
//! let verifier = JwtVerifier::new(issuer)?;
//! let verified = verifier.verify::<serde_json::Value>(id_token).await?;
//! println!("{} {:?}", verified.subject(), verified.claims().get("nonce"));
//! # Ok(()) }
//! ```
//! [`IssuerConfig::id_tokens`] is the same preset without the eager discovery
//! (add `.oidc_discovery()` or a JWKS URL).
//!
//! ## Caching and revocation
//! [`JwtAuthenticator`] keeps a verified-token cache ([`CacheConfig`]) keyed on the whole
//! token, compared byte for byte (a re-encoded or malleated signature is another key, verified
//! on its own): a repeated token skips signature verification, while `exp`, the maximum age
//! and the revocation store ([`JwtVerifierBuilder::revocation`]) are checked on every
//! request, cached or not. The store must keep a revocation at least as long past
//! `exp` as the issuers' leeway accepts the token ([`revocation`]): the verifier refuses to
//! build otherwise.
//!
//! ## DPoP
//! [`JwtAuthenticator::dpop`] also accepts RFC 9449 sender-constrained tokens:
//! `Authorization: DPoP <token>` with a per-request proof, checked and replay-protected as
//! the [`dpop`] module says. A token bound to a key (`cnf.jkt`,
//! [`Claims::dpop_thumbprint`]) is refused as `Bearer`.
//!
//! ## Certificate-bound tokens
//! A token bound to a client certificate (RFC 8705, `cnf.x5t#S256`,
//! [`Claims::certificate_thumbprint`]) is accepted only from a client that presented that
//! certificate over mutual TLS: the server puts a [`ClientCertificate`](mtls::ClientCertificate)
//! into each request's extensions, or a trusted proxy forwards it in RFC 9440's
//! `Client-Cert` header ([`JwtAuthenticator::mtls`], the [`mtls`] module).
//!
//! ## Features
//! * `aws_lc_rs` (default): jsonwebtoken's aws-lc-rs backend (fastest here).
//! * `rust_crypto`: the pure-Rust backend. With both enabled, aws-lc-rs is installed.
//! * `remote-keys` (default): keys from a JWKS URL or discovery, refreshed in the background
//!   ([`jwks`], [`IssuerConfigBuilder::jwks_url`], [`IssuerConfigBuilder::oidc_discovery`],
//!   [`IssuerConfig::discover`]; reqwest over rustls). Without it a verifier takes static
//!   keys and secrets only, and the build has no HTTP client.
//! * `issuing`: the token issuer ([`issuer`]): access and refresh tokens, the refresh
//!   cookie, refresh families and their stores, the regrant hook, key rotation.
//! * `redis`: share revocations and used DPoP proofs through Redis
//!   ([`RedisRevocationStore`](revocation::RedisRevocationStore),
//!   [`RedisDpopReplayStore`](dpop::RedisDpopReplayStore)) and, with `issuing`,
//!   refresh families ([`RedisRefreshFamilyStore`](issuer::RedisRefreshFamilyStore)).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod backend;
mod cache;
mod claims;
mod config;
pub mod dpop;
mod error;
mod identity;
#[cfg(feature = "issuing")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuing")))]
pub mod issuer;
pub mod jwk;
#[cfg(feature = "remote-keys")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
pub mod jwks;
pub mod jws;
pub mod key;
pub mod mtls;
pub mod revocation;
mod rules;
mod time;
mod verifier;

pub use authenticator::{JwtAuthenticator, JwtLayer};
pub use backend::ensure as ensure_crypto_backend;
pub use cache::CacheConfig;
pub use config::{DEFAULT_LEEWAY, IssuerConfig, IssuerConfigBuilder, MAX_LEEWAY};
pub use dpop::DpopConfig;
pub use identity::Claims;
pub use jsonwebtoken::Algorithm;
#[cfg(feature = "remote-keys")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
pub use jwks::JwksOptions;
pub use key::{Key, KeySet};
pub use mtls::MtlsConfig;
pub use verifier::{DEFAULT_MAX_TOKEN_LENGTH, JwtVerifier, JwtVerifierBuilder};

/// The README's examples, compiled as doc tests (they issue tokens too).
#[cfg(all(doctest, feature = "issuing"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
