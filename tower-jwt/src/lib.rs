//! # tower-jwt
//!
//! Strict JWT verification for tower, on the `auth-core` engine.
//!
//! (Crate docs below.)

mod authenticator;
mod backend;
mod cache;
mod claims;
mod config;
mod error;
mod identity;
pub mod issuer;
pub mod jwk;
pub mod jwks;
pub mod jws;
pub mod key;
pub mod revocation;
mod verifier;

pub use authenticator::{JwtAuthenticator, JwtFuture, JwtLayer};
pub use cache::CacheConfig;
pub use config::{DEFAULT_LEEWAY, IssuerConfig, IssuerConfigBuilder, MAX_LEEWAY};
pub use identity::{Claims, JwtIdentity};
pub use jsonwebtoken::Algorithm;
pub use jwks::JwksOptions;
pub use key::{Key, KeySet};
pub use verifier::{DEFAULT_MAX_TOKEN_LENGTH, JwtVerifier, JwtVerifierBuilder};
