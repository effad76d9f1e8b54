//! Issuing access and refresh tokens: the access + refresh token pattern.
//!
//! - Access tokens (RFC 9068): `typ` `at+jwt`, `kid` of the active key, claims `iss`, `aud`,
//!   `sub`, `iat`, `nbf`, `exp` (default 15 minutes), `jti` (UUID v4), `scope`
//!   (space-separated) and extra claims.
//! - Refresh tokens: `typ` `rt+jwt` and their own audience (default: the issuer), so they can
//!   never pass as access tokens; default 7 days; a family id `fid` shared by every refresh
//!   token of one login, and the login's `auth_time`. Each [`TokenIssuer::refresh`] returns a
//!   new refresh token; presenting an already-used one revokes the whole family and is
//!   refused (RFC 9700 §4.14). They are verified by the crate's own [`JwtVerifier`] rules
//!   (header, time claims, `jti`, audience, revocation), like access tokens.
//! - A family lives at most its lifetime from the login (default 30 days,
//!   [`TokenIssuerBuilder::family_lifetime`]), however often it is refreshed; no refresh
//!   token outlives it. A [`regrant`](TokenIssuerBuilder::regrant) hook re-checks the user's
//!   grant at every refresh (the scopes to grant now, or a refusal that revokes the family).
//! - Families live in a [`RefreshFamilyStore`]: [`MemoryRefreshFamilyStore`] for one process
//!   (forgotten at the family's end, capped in number), `RedisRefreshFamilyStore` (feature
//!   `redis`) for several, so a token used on one instance and replayed on another is
//!   caught.
//! - [`TokenIssuer::logout`] revokes the access token's `jti` (in the [`RevocationStore`]
//!   the verifier checks) and the refresh family; [`TokenIssuer::logout_everywhere`] revokes
//!   every token of a subject.
//! - Key rotation: one active signer, retired keys kept for verification until the tokens
//!   they signed have expired, and [`TokenIssuer::jwks`] publishing the public halves.
//! - The refresh cookie: [`RefreshCookie`], `__Host-refresh_token` (no sibling subdomain can
//!   plant one), `HttpOnly`, `Secure`, `SameSite=Strict`, `Path=/`; read back with
//!   [`RefreshCookie::read`], which skips unrelated cookies whatever they hold and refuses a
//!   second copy with 400.
//!
//! ```
//! use tower_jwt::issuer::{Grant, RefreshError, SigningKey, TokenIssuer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SigningKey::hs256("2026-01", b"an HS256 secret of at least 32 bytes!")?;
//! let issuer = TokenIssuer::builder("https://auth.example.com", "https://api.example.com", key)
//!     .build()?;
//!
//! let login = issuer.issue(&Grant::new("alice").scope(["orders:read"])).await?;
//! let cookie = issuer.refresh_cookie(&login.refresh);
//! assert_eq!(cookie.http_only(), Some(true));
//!
//! // The refresh token is exchanged once...
//! let renewed = issuer.refresh(login.refresh.as_str()).await?;
//! assert_ne!(renewed.refresh.as_str(), login.refresh.as_str());
//! // ...and replaying it revokes the family: the new one stops working too.
//! let replay = issuer.refresh(login.refresh.as_str()).await;
//! assert!(matches!(replay, Err(RefreshError::Reused)));
//! assert!(matches!(issuer.refresh(renewed.refresh.as_str()).await, Err(RefreshError::Revoked)));
//!
//! // An access token is never accepted as a refresh token.
//! assert!(matches!(issuer.refresh(renewed.access.as_str()).await, Err(RefreshError::Invalid)));
//! # Ok(())
//! # }
//! ```
//!
//! [`RevocationStore`]: crate::revocation::RevocationStore
//! [`JwtVerifier`]: crate::JwtVerifier

mod claims;
mod cookie;
mod family;
mod keys;
#[cfg(feature = "redis")]
mod redis;
mod regrant;
mod tokens;

pub use claims::{Grant, IssueError, IssuedToken, RefreshError, TokenPair};
pub use cookie::{DEFAULT_REFRESH_COOKIE_NAME, DEFAULT_REFRESH_COOKIE_PATH, RefreshCookie};
pub use family::{
    DEFAULT_MAX_FAMILIES, MemoryRefreshFamilyStore, MemoryRefreshFamilyStoreBuilder,
    RefreshFamilyStore, Rotation,
};
pub use keys::SigningKey;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisRefreshFamilyStore;
pub use regrant::Regrant;
pub use tokens::{
    ACCESS_TOKEN_TYPE, DEFAULT_ACCESS_LIFETIME, DEFAULT_FAMILY_LIFETIME, DEFAULT_REFRESH_LIFETIME,
    MAX_LIFETIME, REFRESH_TOKEN_TYPE, TokenIssuer, TokenIssuerBuilder,
};
