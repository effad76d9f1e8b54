//! Signing keys and the key ring (one active signer, retired keys kept for verification).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::key::Key;

/// Smallest accepted RSA modulus, in bytes (2048 bits).
const MIN_RSA_MODULUS_BYTES: usize = 256;
/// Smallest accepted HS256 secret, in bytes (the SHA-256 output size, RFC 7518 §3.2).
const MIN_HS256_SECRET: usize = 32;

/// A key that signs tokens, with its `kid`. Its `Debug` shows the `kid` and algorithm only.
///
/// Asymmetric keys (RS256, ES256, EdDSA) publish their public half in
/// [`TokenIssuer::jwks`](super::TokenIssuer::jwks); an HS256 secret is never published (the
/// verifier is configured with the same secret).
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    /// What verifies its tokens: the public half, or the HMAC secret, with the `kid`.
    verifying: Key,
    public_jwk: Option<Jwk>,
}

impl SigningKey {
    /// An HS256 key from a secret of at least 32 bytes (refused below: RFC 7518 §3.2).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::WeakKey`] for a shorter secret, [`ConfigErrorKind::InvalidValue`]
    /// for an empty `kid`.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_HS256_SECRET {
            return Err(ConfigError::new(
                ConfigErrorKind::WeakKey,
                "signing_key",
                "an HS256 secret must be at least 32 bytes",
            ));
        }
        crate::backend::ensure()?;
        let unusable = |_| {
            ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "signing_key",
                "the HMAC secret is unusable",
            )
        };
        let encoding = EncodingKey::from_secret(secret).map_err(unusable)?;
        let verifying = Key::hmac(Algorithm::HS256, secret)?;
        Self::new(kid.into(), Algorithm::HS256, encoding, verifying, None)
    }

    /// An RS256 key from a PKCS#1 or PKCS#8 PEM private key of at least 2048 bits.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an unparsable or weak key.
    pub fn rs256_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(|_| bad_pem("RSA"))?;
        Self::asymmetric(kid.into(), Algorithm::RS256, encoding)
    }

    /// An ES256 key from a PKCS#8 PEM P-256 private key.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an unparsable key or another curve.
    pub fn es256_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_ec_pem(pem).map_err(|_| bad_pem("EC P-256"))?;
        Self::asymmetric(kid.into(), Algorithm::ES256, encoding)
    }

    /// An EdDSA (Ed25519) key from a PKCS#8 PEM private key.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an unparsable key.
    pub fn eddsa_pem(kid: impl Into<String>, pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_ed_pem(pem).map_err(|_| bad_pem("Ed25519"))?;
        Self::asymmetric(kid.into(), Algorithm::EdDSA, encoding)
    }

    fn asymmetric(
        kid: String,
        algorithm: Algorithm,
        encoding: EncodingKey,
    ) -> Result<Self, ConfigError> {
        crate::backend::ensure()?;
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).map_err(|_| {
            if algorithm == Algorithm::RS256 {
                // The backends refuse to load RSA keys under 2048 bits.
                ConfigError::new(
                    ConfigErrorKind::WeakKey,
                    "signing_key",
                    "the RSA key is unusable; keys under 2048 bits are refused",
                )
            } else {
                ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "signing_key",
                    "the private key does not match its algorithm",
                )
            }
        })?;
        if let AlgorithmParameters::RSA(rsa) = &jwk.algorithm {
            let modulus =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &rsa.n)
                    .unwrap_or_default();
            let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(ConfigError::new(
                    ConfigErrorKind::WeakKey,
                    "signing_key",
                    "an RSA key must be at least 2048 bits",
                ));
            }
        }
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        // The public half goes through the same checks as any JWK a verifier is given.
        let verifying = serde_json::to_value(&jwk)
            .ok()
            .and_then(|value| Key::from_jwk_value(&value).ok())
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "signing_key",
                    "the public half of the key is unusable",
                )
            })?;
        Self::new(kid, algorithm, encoding, verifying, Some(jwk))
    }

    fn new(
        kid: String,
        algorithm: Algorithm,
        encoding: EncodingKey,
        verifying: Key,
        public_jwk: Option<Jwk>,
    ) -> Result<Self, ConfigError> {
        if kid.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "kid",
                "a signing key needs a non-empty `kid`",
            ));
        }
        Ok(Self {
            verifying: verifying.with_kid(kid.clone()),
            kid,
            algorithm,
            encoding,
            public_jwk,
        })
    }

    /// The key's `kid`.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs and verifies with.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public half as a JWK (`kid`, `use: sig`, `alg`), `None` for an HMAC secret.
    #[must_use]
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.public_jwk.as_ref()
    }

    pub(super) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The key that verifies this key's tokens, pinned to its algorithm, with its `kid`.
    pub(super) fn verifying(&self) -> &Key {
        &self.verifying
    }
}

fn bad_pem(kind: &str) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidValue,
        "signing_key",
        format!("not a PEM {kind} private key"),
    )
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The active signer and the retired keys still accepted until their deadline.
#[derive(Debug, Clone)]
pub(super) struct KeyRing {
    pub(super) active: Arc<SigningKey>,
    pub(super) retired: Vec<(Arc<SigningKey>, SystemTime)>,
}

impl KeyRing {
    /// The key named `kid`, active or retired and not yet past its deadline.
    pub(super) fn find(&self, kid: &str, now: SystemTime) -> Option<&SigningKey> {
        if self.active.kid == kid {
            return Some(&self.active);
        }
        self.retired
            .iter()
            .find(|(key, until)| key.kid == kid && *until > now)
            .map(|(key, _)| key.as_ref())
    }

    /// Every key still accepted, the active one first.
    pub(super) fn live(&self, now: SystemTime) -> impl Iterator<Item = &SigningKey> {
        std::iter::once(self.active.as_ref()).chain(
            self.retired
                .iter()
                .filter(move |(_, until)| *until > now)
                .map(|(key, _)| key.as_ref()),
        )
    }

    /// Whether `kid` is already used by a live key.
    pub(super) fn contains(&self, kid: &str, now: SystemTime) -> bool {
        self.find(kid, now).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_hmac_secrets_and_empty_kids_are_refused() {
        let err = SigningKey::hs256("k", &[7; 31]).unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::WeakKey);
        let err = SigningKey::hs256("", &[7; 32]).unwrap_err();
        assert_eq!(err.field(), "kid");
        let key = SigningKey::hs256("k", &[7; 32]).unwrap();
        assert!(key.public_jwk().is_none());
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { kid: "k", algorithm: HS256, .. }"#
        );
    }

    #[test]
    fn garbage_pem_is_refused() {
        let err = SigningKey::es256_pem("k", b"-----BEGIN NOTHING-----").unwrap_err();
        assert_eq!(err.kind(), ConfigErrorKind::InvalidValue);
    }
}
