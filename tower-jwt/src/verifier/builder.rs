//! [`JwtVerifierBuilder`]: issuers, revocation store, length cap.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ConfigError, ConfigErrorKind};

use super::{DEFAULT_MAX_TOKEN_LENGTH, ExtraSlots, Inner, JwtVerifier};
use crate::config::IssuerConfig;
#[cfg(feature = "remote-keys")]
use crate::config::KeySource;
use crate::revocation::RevocationStore;

/// Builds a [`JwtVerifier`].
#[derive(Default)]
#[must_use]
pub struct JwtVerifierBuilder {
    issuers: Vec<IssuerConfig>,
    revocation: Option<Arc<dyn RevocationStore>>,
    max_token_length: Option<usize>,
}

impl std::fmt::Debug for JwtVerifierBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifierBuilder")
            .field("issuers", &self.issuers)
            .field("revocation", &self.revocation.is_some())
            .finish_non_exhaustive()
    }
}

impl JwtVerifierBuilder {
    /// Trust `issuer` (call again for several; each `iss` at most once).
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Check every verified token, cached or not, against `store`: revoked -> 401,
    /// store unavailable -> 503. The store's [`leeway`](RevocationStore::leeway) must be at
    /// least every issuer's, checked by [`build`](Self::build).
    pub fn revocation(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Refuse tokens longer than `bytes` before decoding anything (default 8 KiB).
    pub fn max_token_length(mut self, bytes: usize) -> Self {
        self.max_token_length = Some(bytes);
        self
    }

    /// Checks the configuration and starts the background JWKS refresh (when a tokio
    /// runtime is running; otherwise at first use).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::Missing`] with no issuer, [`ConfigErrorKind::InvalidValue`] for an
    /// issuer configured twice or a revocation store whose leeway is shorter than an
    /// issuer's (it would forget a revocation while the token is still accepted),
    /// [`ConfigErrorKind::Unsupported`] with no crypto backend.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        crate::backend::ensure()?;
        if self.issuers.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "issuer",
                "no trusted issuer",
            ));
        }
        for (i, a) in self.issuers.iter().enumerate() {
            if self.issuers[..i].iter().any(|b| b.issuer == a.issuer) {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "issuer",
                    "an issuer is configured twice",
                ));
            }
        }
        if let Some(store) = &self.revocation {
            let longest = self.issuers.iter().map(|cfg| cfg.leeway).max().unwrap_or(0);
            if store.leeway() < Duration::from_secs(longest.unsigned_abs()) {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "revocation",
                    format!(
                        "the revocation store's leeway ({} s) is shorter than an issuer's \
                         ({longest} s): a revoked token would be accepted again in between; \
                         build the store with a leeway of at least {longest} s",
                        store.leeway().as_secs()
                    ),
                ));
            }
        }
        let mut extra_names: Vec<Box<str>> = Vec::new();
        let mut slot = |path: &Option<Vec<String>>| {
            path.as_ref().map(|path| {
                let top = path[0].as_str();
                extra_names
                    .iter()
                    .position(|n| &**n == top)
                    .unwrap_or_else(|| {
                        extra_names.push(top.into());
                        extra_names.len() - 1
                    })
            })
        };
        let extra_slots = self
            .issuers
            .iter()
            .map(|cfg| ExtraSlots {
                roles: slot(&cfg.roles_claim),
                tenant: slot(&cfg.tenant_claim),
                scopes: slot(&cfg.scopes_claim),
            })
            .collect();
        #[cfg(feature = "remote-keys")]
        for cfg in &self.issuers {
            if let KeySource::Remote(remote) = &cfg.keys {
                remote.start();
            }
        }
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                issuers: self.issuers,
                extra_slots,
                extra_names,
                revocation: self.revocation,
                max_token_length: self.max_token_length.unwrap_or(DEFAULT_MAX_TOKEN_LENGTH),
            }),
        })
    }
}
