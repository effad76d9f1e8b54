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
//! * `oct`: at least as long as the HMAC's hash output;
//! * an RSA, EC or OKP key carries no private member (`d`, `p`, `q`, `dp`, `dq`, `qi`,
//!   `oth`): a private key that was published is known to anyone, who can sign with it.
//!
//! A set holds at most [`MAX_JWKS_KEYS`] entries; a larger one is refused as a whole (no key
//! of it is used), so a hostile set costs at most that many key parses. Entries sharing a
//! `kid` are found in one pass.

use std::collections::HashMap;
use std::fmt;

use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;
use serde::de::{IgnoredAny, SeqAccess, Visitor};

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

/// Most entries a JWK set may hold; a set with more is refused as a whole.
pub const MAX_JWKS_KEYS: usize = 100;

/// The private members of RSA (RFC 7518 §6.3.2), EC (§6.2.2) and OKP (RFC 8037 §2) keys.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

#[derive(Deserialize)]
struct RawJwkSet {
    keys: CappedKeys,
}

/// The `keys` array: its first [`MAX_JWKS_KEYS`] entries parsed, the rest only counted
/// (skipped without building them).
struct CappedKeys {
    keys: Vec<serde_json::Value>,
    total: usize,
}

impl<'de> Deserialize<'de> for CappedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CappedKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of JWKs")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CappedKeys, A::Error> {
                let mut keys = Vec::new();
                let mut total = 0usize;
                while total < MAX_JWKS_KEYS {
                    match seq.next_element::<serde_json::Value>()? {
                        Some(key) => keys.push(key),
                        None => return Ok(CappedKeys { keys, total }),
                    }
                    total += 1;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(CappedKeys { keys, total })
            }
        }
        deserializer.deserialize_seq(V)
    }
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
        if raw.kty != "oct" && PRIVATE_MEMBERS.iter().any(|name| jwk.get(name).is_some()) {
            return Err(refused(
                "the JWK carries private key members: a published private key lets anyone sign",
            ));
        }
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
    /// Entries unusable for verification (logged by a JWKS fetch).
    #[cfg_attr(not(feature = "remote-keys"), allow(dead_code))]
    pub(crate) dropped: usize,
    /// Entries dropped because their `kid` is not unique.
    pub(crate) ambiguous: usize,
}

/// The `kid`s held by more than one entry of `keys` (usable or not), found in one pass.
fn shared_kids(keys: &[serde_json::Value]) -> HashMap<&str, usize> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
    for id in keys.iter().filter_map(kid) {
        *seen.entry(id).or_default() += 1;
    }
    seen.retain(|_, count| *count > 1);
    seen
}

fn kid(value: &serde_json::Value) -> Option<&str> {
    value.get("kid").and_then(serde_json::Value::as_str)
}

/// Parses `{"keys": [...]}`, keeping the usable keys (keys sharing a `kid` are dropped and
/// counted apart). Symmetric keys are kept only when `allow_symmetric` (never from a remote
/// JWKS: a published secret is no secret). A set of more than [`MAX_JWKS_KEYS`] entries is
/// refused.
pub(crate) fn parse_set(json: &[u8], allow_symmetric: bool) -> Result<ParsedSet, ConfigError> {
    let raw: RawJwkSet =
        serde_json::from_slice(json).map_err(|_| refused("not a JWK set (`{\"keys\": [...]}`)"))?;
    if raw.keys.total > MAX_JWKS_KEYS {
        return Err(refused("the JWK set holds more than 100 keys"));
    }
    let raw = raw.keys.keys;
    // Several entries under one `kid` (usable or not) make that `kid` ambiguous: none of
    // them is used (Wycheproof "DuplicateKid").
    let shared = shared_kids(&raw);
    let mut keys = Vec::with_capacity(raw.len());
    let (mut dropped, mut ambiguous) = (0, 0);
    for value in &raw {
        if kid(value).is_some_and(|id| shared.contains_key(id)) {
            ambiguous += 1;
            continue;
        }
        let symmetric = value.get("kty").and_then(|k| k.as_str()) == Some("oct");
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
    /// [`ConfigErrorKind::InvalidValue`] when the text is not a JWK set, when it holds more
    /// than [`MAX_JWKS_KEYS`] entries, when no key in it is usable, when two keys share a
    /// `kid`, or when it mixes symmetric and asymmetric keys.
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;

    /// A P-256 public JWK (the Wycheproof `jws_mixedSymmetryKeyset` key).
    fn ec_jwk(kid: &str) -> serde_json::Value {
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": "04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY",
            "y": "UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw",
        })
    }

    #[test]
    fn keys_with_private_members_are_refused_and_counted_as_dropped() {
        assert!(Key::from_jwk_value(&ec_jwk("pub")).is_ok());
        for member in PRIVATE_MEMBERS {
            let mut private = ec_jwk("priv");
            private[member] = json!("c2VjcmV0");
            let err = Key::from_jwk_value(&private).unwrap_err();
            assert_eq!(err.kind(), ConfigErrorKind::InvalidValue, "{member}");
            assert!(err.to_string().contains("private"), "{err}");
        }
        let mut private = ec_jwk("priv");
        private["d"] = json!("c2VjcmV0");
        let set = json!({"keys": [ec_jwk("pub"), private]}).to_string();
        let parsed = parse_set(set.as_bytes(), false).unwrap();
        assert_eq!((parsed.keys.keys().len(), parsed.dropped), (1, 1));
        assert_eq!(parsed.keys.keys()[0].kid(), Some("pub"));
        // A symmetric key is its secret: `k` is not a "private member" there.
        let oct = json!({"kty": "oct", "alg": "HS256", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2Vj"});
        assert!(Key::from_jwk_value(&oct).is_ok());
    }

    #[test]
    fn a_set_of_more_than_the_cap_is_refused_as_a_whole() {
        let set = |n: usize| {
            let keys: Vec<_> = (0..n).map(|i| ec_jwk(&format!("k{i}"))).collect();
            json!({ "keys": keys }).to_string()
        };
        let parsed = parse_set(set(MAX_JWKS_KEYS).as_bytes(), false).unwrap();
        assert_eq!(parsed.keys.keys().len(), MAX_JWKS_KEYS);
        let err = parse_set(set(MAX_JWKS_KEYS + 1).as_bytes(), false).unwrap_err();
        assert!(err.to_string().contains("more than 100 keys"), "{err}");
        assert!(KeySet::from_jwks(&set(MAX_JWKS_KEYS + 1)).is_err());
    }

    #[test]
    fn a_hostile_256_kib_set_is_refused_quickly() {
        // 256 KiB of tiny entries sharing a few `kid`s: rescanning the set for every entry
        // (and copying each `kid`) took tens of seconds here.
        let mut body = String::from(r#"{"keys":["#);
        let mut i = 0usize;
        while body.len() < 256 * 1024 - 32 {
            body.push_str(&format!(r#"{{"kid":"k{}"}},"#, i % 7));
            i += 1;
        }
        body.push_str(r#"{}]}"#);
        let started = Instant::now();
        assert!(parse_set(body.as_bytes(), false).is_err());
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn shared_kids_are_found_in_one_pass_and_all_dropped() {
        let set =
            json!({"keys": [ec_jwk("a"), ec_jwk("b"), ec_jwk("a"), ec_jwk("c"), {"kid": "c"}]});
        let parsed = parse_set(set.to_string().as_bytes(), false).unwrap();
        assert_eq!(
            (parsed.keys.keys().len(), parsed.ambiguous, parsed.dropped),
            (1, 4, 0)
        );
        assert_eq!(parsed.keys.keys()[0].kid(), Some("b"));
        let many: Vec<_> = (0..10_000)
            .map(|i| json!({"kid": format!("k{}", i % 5_000)}))
            .collect();
        let shared = shared_kids(&many);
        assert_eq!(shared.len(), 5_000);
        assert!(shared.values().all(|count| *count == 2));
    }
}
