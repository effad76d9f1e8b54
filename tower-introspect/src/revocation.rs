//! The optional revocation store, checked on every request: a cached answer is refused at
//! once when its token (by `jti`) or its subject ("log out everywhere") is revoked.

use std::time::SystemTime;

use auth_core::{AuthError, Identity};
use tower_jwt::revocation::{RevocationStatus, RevocationStore, TokenRef};

use crate::identity::Introspected;

/// Refuses `identity` when `store` says its token is revoked. The token is named by
/// `issuer` (the answer's `iss` equals it when present), its `jti` and `iat` when the answer
/// carried them, and the [`Principal`](auth_core::Principal)'s subject (`sub`, else
/// `client_id`). Without `iat` the token counts as issued at the epoch: any subject
/// revocation covers it.
pub(crate) fn check(
    store: &dyn RevocationStore,
    issuer: &str,
    identity: &Introspected,
) -> Result<(), AuthError> {
    let token = TokenRef {
        issuer,
        jti: identity.jti(),
        subject: identity.principal().subject(),
        issued_at: identity.issued_at().unwrap_or(SystemTime::UNIX_EPOCH),
    };
    match store.check(&token) {
        RevocationStatus::Active => Ok(()),
        RevocationStatus::Revoked => {
            Err(AuthError::invalid_credential("the token has been revoked").with_reason("revoked"))
        }
        _ => Err(
            AuthError::unavailable("the revocation list cannot be checked")
                .with_reason("revocation"),
        ),
    }
}
