//! JSON Web Keys (RFC 7517) and key sets, parsed strictly into pinned [`Key`]s.
//!
//! jsonwebtoken's `DecodingKey::from_jwk` ignores `alg`, `use` and `key_ops`; this parser
//! does not. A JWK becomes a [`Key`] only when:
//! * `use`, if present, is `sig`, and `key_ops`, if present, contains `verify`;
//! * `alg`, if present, is a supported algorithm of the key's type (EC: of its curve). An RSA
//!   key without `alg` is pinned to `RS256`, EC keys to their curve's algorithm, OKP keys to
//!   `EdDSA`; a symmetric (`oct`) key must name its `alg`;
//! * RSA: `n` and `e` are normalised (leading zero octets removed), the modulus has at least
//!   2048 bits, the exponent is odd and >= 3;
//! * EC: P-256 or P-384 with coordinates of the curve's size; OKP: Ed25519 with a 32-byte `x`;
//! * `oct`: at least as long as the HMAC's hash output.
//!
//! Private members (`d`, `p`, `q`, …) are never read: only the public half is kept.

use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;

use crate::key::{Key, KeySet, b64url};

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    k: Option<String>,
}

#[derive(Deserialize)]
struct RawJwkSet {
    keys: Vec<serde_json::Value>,
}

fn refused(message: &'static str) -> ConfigError {
    ConfigError::new(ConfigErrorKind::InvalidValue, "jwk", message)
}

fn member(value: Option<&String>) -> Result<Vec<u8>, ConfigError> {
    value
        .and_then(|v| b64url(v))
        .ok_or_else(|| refused("a required key member is missing or not base64url"))
}

impl Key {
    /// A key from one JWK (JSON text). See the [module docs](crate::jwk) for what is refused.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] or [`ConfigErrorKind::WeakKey`] naming why the JWK
    /// cannot verify signatures.
    pub fn from_jwk(jwk: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(jwk).map_err(|_| refused("not a JSON object"))?;
        Self::from_jwk_value(&value)
    }

    /// A key from one JWK already parsed as JSON.
    ///
    /// # Errors
    ///
    /// As [`Key::from_jwk`].
    pub fn from_jwk_value(jwk: &serde_json::Value) -> Result<Self, ConfigError> {
        let raw = RawJwk::deserialize(jwk).map_err(|_| refused("not a well-formed JWK"))?;
        if raw.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(refused("the key's `use` is not `sig`"));
        }
        if raw
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            return Err(refused("the key's `key_ops` do not allow `verify`"));
        }
        let alg = match raw.alg.as_deref() {
            None => None,
            Some(name) => Some(
                name.parse::<Algorithm>()
                    .map_err(|_| refused("the key's `alg` is not supported"))?,
            ),
        };
        let key = match raw.kty.as_str() {
            "RSA" => {
                let alg = alg.unwrap_or(Algorithm::RS256);
                if alg.family() != AlgorithmFamily::Rsa {
                    return Err(refused("the key's `alg` does not fit an RSA key"));
                }
                let n = member(raw.n.as_ref())?;
                let e = member(raw.e.as_ref())?;
                Self::rsa_components(alg, &n, &e)?
            }
            "EC" => {
                let curve_alg = match raw.crv.as_deref() {
                    Some("P-256") => Algorithm::ES256,
                    Some("P-384") => Algorithm::ES384,
                    _ => return Err(refused("the EC curve is not supported")),
                };
                if alg.is_some_and(|alg| alg != curve_alg) {
                    return Err(refused("the key's `alg` does not match its curve"));
                }
                let x = member(raw.x.as_ref())?;
                let y = member(raw.y.as_ref())?;
                Self::ec_components(curve_alg, &x, &y)?
            }
            "OKP" => {
                if raw.crv.as_deref() != Some("Ed25519") {
                    return Err(refused("the OKP curve is not supported"));
                }
                if alg.is_some_and(|alg| alg != Algorithm::EdDSA) {
                    return Err(refused("the key's `alg` does not fit an Ed25519 key"));
                }
                Self::ed_components(&member(raw.x.as_ref())?)?
            }
            "oct" => {
                let Some(alg) = alg else {
                    return Err(refused("a symmetric key must name its `alg`"));
                };
                Self::hmac(alg, &member(raw.k.as_ref())?)?
            }
            _ => return Err(refused("the key type is not supported")),
        };
        Ok(match raw.kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }
}

/// A parsed JWK set: the usable keys, and how many were dropped.
#[derive(Debug)]
pub(crate) struct ParsedSet {
    pub(crate) keys: KeySet,
    pub(crate) dropped: usize,
    /// Entries dropped because their `kid` is not unique.
    pub(crate) ambiguous: usize,
}

/// Parses `{"keys": [...]}`, keeping the usable keys (keys sharing a `kid` are dropped). Symmetric keys are kept only when
/// `allow_symmetric` (never from a remote JWKS: a published secret is no secret).
pub(crate) fn parse_set(json: &[u8], allow_symmetric: bool) -> Result<ParsedSet, ConfigError> {
    let raw: RawJwkSet =
        serde_json::from_slice(json).map_err(|_| refused("not a JWK set (`{\"keys\": [...]}`)"))?;
    let kid =
        |value: &serde_json::Value| value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
    let mut keys = Vec::with_capacity(raw.keys.len());
    let (mut dropped, mut ambiguous) = (0, 0);
    for value in &raw.keys {
        let symmetric = value.get("kty").and_then(|k| k.as_str()) == Some("oct");
        // Several entries under one `kid` (usable or not) make that `kid` ambiguous: none of
        // them is used (Wycheproof "DuplicateKid").
        if let Some(id) = kid(value)
            && raw
                .keys
                .iter()
                .filter(|other| kid(other).as_deref() == Some(&id))
                .count()
                > 1
        {
            ambiguous += 1;
            continue;
        }
        match Key::from_jwk_value(value) {
            Ok(key) if allow_symmetric || !symmetric => keys.push(key),
            Ok(_) | Err(_) => dropped += 1,
        }
    }
    Ok(ParsedSet {
        keys: KeySet::new(keys),
        dropped,
        ambiguous,
    })
}

impl KeySet {
    /// The usable keys of a JWK set (JSON text), silently dropping keys that may not verify
    /// (see the [`jwk` module docs](crate::jwk)). Symmetric keys are accepted here, where the
    /// set is local configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] when the text is not a JWK set, when no key in it
    /// is usable, when two keys share a `kid`, or when it mixes symmetric and asymmetric
    /// keys.
    pub fn from_jwks(json: &str) -> Result<Self, ConfigError> {
        let parsed = parse_set(json.as_bytes(), true)?;
        if parsed.ambiguous > 0 {
            return Err(refused("the JWK set has several keys with one `kid`"));
        }
        if parsed.keys.is_empty() {
            return Err(refused("the JWK set holds no usable key"));
        }
        let symmetric = parsed
            .keys
            .keys()
            .iter()
            .filter(|k| k.alg.family() == AlgorithmFamily::Hmac)
            .count();
        if symmetric != 0 && symmetric != parsed.keys.keys().len() {
            // Wycheproof "MixedKeySet": a set holding secrets beside public keys is a
            // confused configuration, refused rather than guessed at.
            return Err(refused("the JWK set mixes symmetric and asymmetric keys"));
        }
        Ok(parsed.keys)
    }
}
