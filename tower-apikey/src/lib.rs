//! # tower-apikey
//!
//! Production API keys for tower, on the [`auth_core`] engine: the method for
//! server-to-server and developer integrations, done the way Stripe and GitHub do it.
//!
//! * **Format** ([`key`]): `sk_live_` + 12-character id + 256-bit secret + CRC32, letters
//!   and digits only, fixed length, a published [`KEY_REGEX`] for secret scanners. A
//!   mistyped or forged key fails its checksum and is refused before any store lookup.
//! * **At rest** ([`record`]): a SHA-256 digest (or HMAC-SHA-256 with a server-side
//!   pepper), the display prefix and the last four characters; digests are compared in
//!   constant time. The plaintext is returned once, by [`ApiKeys::create`].
//! * **Stores** ([`store`]): [`MemoryApiKeyStore`]; [`SqlApiKeyStore`] for SQLite (file created and
//!   migrated on first use) and PostgreSQL, one schema, migrations embedded.
//! * **Cache**: a bounded in-process cache (quick_cache) in front of the store, each entry
//!   checked against its own time to live on every read. Positive entries live
//!   [`DEFAULT_CACHE_TTL`] (30 s), unknown ids are remembered in a bounded negative cache,
//!   and [`ApiKeys::revoke`] invalidates through the same handle. **Staleness bound**: a
//!   key revoked or rotated on another instance stops working here within the cache TTL,
//!   or within milliseconds with PostgreSQL and [`SqlApiKeyStore::listen`].
//! * **Last use** is written in the background, at most once per key per interval, never
//!   awaited by a request; with it, each key's accepted and refused requests per UTC hour
//!   ([`ApiKeys::usage`], [`HourlyUsage`]), counted in the key's cache entry, and those a
//!   rate limiter refused ([`ApiKeys::record_limited`]). A store outage fails no request the cache can answer, and
//!   answers the others with 503, never 401 or 500.
//! * **Outcomes**: unknown, malformed, revoked, expired and not-yet-valid keys, and keys of
//!   the other environment ([`ApiKeysBuilder::environment`]), all get the same 401
//!   `invalid_token`; the reason code (`malformed`, `not_found`, `revoked`, `expired`,
//!   `not_yet_valid`, `wrong_environment`) goes to tracing and the response's
//!   [`AuthError`](auth_core::AuthError) extension only; a store that cannot answer is 503
//!   (`store_unavailable`).
//! * **Sources**: `Authorization: Bearer` and `X-API-Key`; the query string only through
//!   [`ApiKeysBuilder::insecure_allow_query`]. A Bearer value not shaped like a key of this
//!   prefix is "no credential", so `first_of(api_key, jwt)` hands JWTs on.
//! * **CLI** (feature `cli`): `cli::KeysCommand` and the `apikey` binary.
//!
//! ```
//! use auth_core::require_scopes;
//! use http_body_util::BodyExt;
//! use http::{Request, Response, StatusCode};
//! use std::convert::Infallible;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_apikey::{ApiKeyIdentity, ApiKeys, MemoryApiKeyStore, NewKey};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
//! let created = keys.create(NewKey::new("acme").scopes(["read"])).await.unwrap();
//!
//! let api = ServiceBuilder::new()
//!     .layer(keys.layer())
//!     .layer(require_scopes(["read"]))
//!     .service(service_fn(|req: Request<()>| async move {
//!         let key = req.extensions().get::<ApiKeyIdentity>().unwrap();
//!         Ok::<_, Infallible>(Response::new(key.account().to_owned()))
//!     }));
//!
//! let call = |key: String| {
//!     let req = Request::builder().header("x-api-key", key).body(()).unwrap();
//!     api.clone().oneshot(req)
//! };
//! let ok = call(created.key.expose().to_owned()).await.unwrap();
//! assert_eq!(ok.status(), StatusCode::OK);
//! let body = ok.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(&body[..], b"acme");
//!
//! keys.revoke(&created.info.id).await.unwrap();
//! let refused = call(created.key.expose().to_owned()).await.unwrap();
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod cache;
#[cfg(feature = "cli")]
pub mod cli;
mod identity;
pub mod key;
mod keys;
mod limit;
pub mod record;
pub mod store;

pub use authenticator::{ApiKeyAuthenticator, ApiKeyLayer};
pub use identity::ApiKeyIdentity;
pub use key::{ApiKey, Env, KEY_REGEX, KeyFormat, ParseError, ParsedKey, RandomError};
pub use keys::{
    ApiKeys, ApiKeysBuilder, CreatedKey, DEFAULT_CACHE_TTL, DEFAULT_TOUCH_INTERVAL, KeyError,
    MAX_METADATA_BYTES, NewKey,
};
pub use limit::{KeyLimit, Per};
pub use record::{ApiKeyRecord, Hasher, HourlyUsage, KeyDigest, KeyInfo};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use store::SqlApiKeyStore;
pub use store::{ApiKeyStore, MemoryApiKeyStore};

/// The README's examples, compiled as doc tests.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
