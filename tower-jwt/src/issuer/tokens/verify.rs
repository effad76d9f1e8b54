//! Verifying our own tokens (refresh tokens, and access tokens at logout) through the
//! crate's one strict path: a [`JwtVerifier`] per token type over the live signing keys,
//! so refresh tokens get every rule access tokens get (header, `typ`, time claims with the
//! same bounds, `jti`, audience, revocation).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::{AuthError, ConfigError, StoreError};
use serde::de::DeserializeOwned;

use super::{ACCESS_TOKEN_TYPE, MAX_TOKEN_LENGTH, REFRESH_TOKEN_TYPE, TokenIssuer};
use crate::identity::Claims;
use crate::issuer::RefreshError;
use crate::issuer::keys::KeyRing;
use crate::key::KeySet;
use crate::revocation::RevocationStore;
use crate::{IssuerConfig, JwtVerifier};

/// What the verifiers of a key ring are built from.
pub(in crate::issuer) struct Rules<'a> {
    pub(in crate::issuer) issuer: &'a str,
    pub(in crate::issuer) audience: &'a str,
    pub(in crate::issuer) refresh_audience: &'a str,
    pub(in crate::issuer) leeway: Duration,
    pub(in crate::issuer) revocations: &'a Arc<dyn RevocationStore>,
}

/// The signing keys and the verifiers of their live keys. Replaced whole on a key
/// rotation, and when a retired key reaches its deadline.
pub(in crate::issuer) struct Keys {
    pub(in crate::issuer) ring: KeyRing,
    access: JwtVerifier,
    refresh: JwtVerifier,
    /// The earliest deadline of a retired key: the verifiers must be rebuilt then.
    rebuild_at: Option<SystemTime>,
}

impl Keys {
    /// `ring` without its retired keys past their deadline, and its verifiers.
    pub(in crate::issuer) fn new(
        mut ring: KeyRing,
        rules: &Rules<'_>,
        now: SystemTime,
    ) -> Result<Self, ConfigError> {
        ring.retired.retain(|(_, until)| *until > now);
        let keys = KeySet::new(ring.live(now).map(|key| key.verifying().clone()));
        let verifier = |audience: &str, typ: &str| {
            let config = IssuerConfig::builder(rules.issuer)
                .audience(audience)
                .typ(typ)
                .leeway(rules.leeway)
                .key_set(keys.clone())
                .build()?;
            JwtVerifier::builder()
                .issuer(config)
                .revocation(Arc::clone(rules.revocations))
                .max_token_length(MAX_TOKEN_LENGTH)
                .build()
        };
        Ok(Self {
            access: verifier(rules.audience, ACCESS_TOKEN_TYPE)?,
            refresh: verifier(rules.refresh_audience, REFRESH_TOKEN_TYPE)?,
            rebuild_at: ring.retired.iter().map(|(_, until)| *until).min(),
            ring,
        })
    }
}

/// A refusal as a [`RefreshError`]: revoked, unavailable (503) or invalid.
fn refused(error: &AuthError) -> RefreshError {
    if error.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        RefreshError::Unavailable(StoreError::unavailable(error.description().to_owned()))
    } else if error.reason() == "revoked" {
        RefreshError::Revoked
    } else {
        RefreshError::Invalid
    }
}

impl TokenIssuer {
    pub(super) fn rules(&self) -> Rules<'_> {
        let inner = &self.inner;
        Rules {
            issuer: &inner.issuer,
            audience: &inner.audience,
            refresh_audience: &inner.refresh_audience,
            leeway: inner.leeway,
            revocations: &inner.revocations,
        }
    }

    /// The current keys, rebuilt first when a retired key has reached its deadline.
    pub(super) fn keys(&self) -> Result<Arc<Keys>, RefreshError> {
        let current = self.inner.keys.load_full();
        let now = SystemTime::now();
        if current.rebuild_at.is_none_or(|at| at > now) {
            return Ok(current);
        }
        let fresh = Keys::new(current.ring.clone(), &self.rules(), now).map_err(|error| {
            tracing::error!(%error, "rebuilding the token verifiers failed");
            RefreshError::Unavailable(StoreError::unavailable(error))
        })?;
        let fresh = Arc::new(fresh);
        // A rotation meanwhile wins: its keys are newer.
        self.inner
            .keys
            .compare_and_swap(&current, Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Verifies one of our refresh tokens.
    pub(super) async fn verify_refresh<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, RefreshError> {
        let keys = self.keys()?;
        keys.refresh
            .verify(token)
            .await
            .map_err(|error| refused(&error))
    }

    /// Verifies a token at logout: `None` for one that needs no revoking (expired, or
    /// already revoked).
    pub(super) async fn verify_for_logout<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        typ: &str,
    ) -> Result<Option<Claims<C>>, RefreshError> {
        let keys = self.keys()?;
        let verifier = if typ == ACCESS_TOKEN_TYPE {
            &keys.access
        } else {
            &keys.refresh
        };
        match verifier.verify(token).await {
            Ok(identity) => Ok(Some(identity)),
            Err(error) if matches!(error.reason(), "expired" | "revoked") => Ok(None),
            Err(error) => Err(refused(&error)),
        }
    }
}
