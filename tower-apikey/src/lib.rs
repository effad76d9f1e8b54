//! placeholder
mod authenticator;
mod cache;
mod identity;
pub mod key;
mod keys;
pub mod record;
pub mod store;

pub use authenticator::{ApiKeyAuthenticator, ApiKeyFuture, ApiKeyLayer};
pub use identity::ApiKeyIdentity;
pub use key::{ApiKey, Env, KEY_REGEX, KeyFormat, ParseError, ParsedKey, RandomError};
pub use keys::{
    ApiKeys, ApiKeysBuilder, CreatedKey, DEFAULT_CACHE_TTL, DEFAULT_TOUCH_INTERVAL, KeyError,
    NewKey,
};
pub use record::{ApiKeyRecord, Hasher, KeyDigest, KeyInfo};
pub use store::{KeyStore, MemoryStore, SqlStore, StoreError};
#[cfg(feature = "cli")]
pub mod cli;
