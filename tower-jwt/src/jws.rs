//! The JWS compact serialisation: splitting, the protected header, the signature.
//!
//! The header is parsed by this crate, not by jsonwebtoken's `decode_header` (which checks
//! nothing): duplicate members are refused, `crit` is refused (no extension is understood,
//! RFC 7515 §4.1.11), `b64` is refused, `alg: none` and unknown algorithms are refused, and
//! `jku` / `jwk` / `x5u` / `x5c` are never used to find a key.

use auth_core::AuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error;
use crate::key::{KeySet, Lookup};

/// The three parts of a compact JWS, still encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'a> {
    /// `header.payload`, the signing input.
    pub(crate) signing_input: &'a str,
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
}

pub(crate) fn split(token: &str) -> Result<Parts<'_>, AuthError> {
    let mut dots = token.match_indices('.').map(|(i, _)| i);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(error::malformed());
    };
    let parts = Parts {
        signing_input: &token[..second],
        header: &token[..first],
        payload: &token[first + 1..second],
        signature: &token[second + 1..],
    };
    if parts.header.is_empty() || parts.signature.is_empty() {
        return Err(error::malformed());
    }
    Ok(parts)
}

pub(crate) fn b64_decode(part: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| error::malformed())
}

/// The members of the protected header this crate looks at. Members listed only to make
/// serde refuse their duplicates are `IgnoredAny`.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<IgnoredAny>,
    b64: Option<IgnoredAny>,
    #[allow(dead_code)]
    cty: Option<IgnoredAny>,
    #[allow(dead_code)]
    jku: Option<IgnoredAny>,
    #[allow(dead_code)]
    jwk: Option<IgnoredAny>,
    #[allow(dead_code)]
    x5u: Option<IgnoredAny>,
    #[allow(dead_code)]
    x5c: Option<IgnoredAny>,
}

/// A parsed, checked protected header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

pub(crate) fn parse_header(encoded: &str) -> Result<Header, AuthError> {
    let bytes = b64_decode(encoded)?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| error::malformed())?;
    if raw.crit.is_some() || raw.b64.is_some() {
        return Err(
            AuthError::invalid_credential("the token uses an unsupported JWS extension")
                .with_reason("crit"),
        );
    }
    let alg = raw
        .alg
        .parse::<Algorithm>()
        .map_err(|_| error::algorithm())?;
    Ok(Header {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// Verifies the signature of `parts` with the one key of `keys` matching `header`.
///
/// `Err(None)` means no key matched (the caller may refresh a remote key set).
pub(crate) fn verify_signature(
    keys: &KeySet,
    header: &Header,
    parts: Parts<'_>,
) -> Result<(), Option<AuthError>> {
    match keys.lookup(header.kid.as_deref(), header.alg) {
        Lookup::Found(key) => {
            if key.verify(parts.signing_input, parts.signature) {
                Ok(())
            } else {
                Err(Some(error::signature()))
            }
        }
        Lookup::WrongAlgorithm => Err(Some(error::algorithm())),
        Lookup::Ambiguous => Err(Some(error::unknown_key())),
        Lookup::NotFound => Err(None),
    }
}

impl KeySet {
    /// Verifies a compact JWS against this set and returns its decoded payload.
    ///
    /// Only the signature is checked (header rules included, see the
    /// [`jws` module docs](self)); no claim is looked at. Use
    /// [`JwtVerifier`](crate::JwtVerifier) for tokens.
    ///
    /// # Errors
    ///
    /// A 401 [`AuthError`] when the JWS is malformed, its key is unknown or its signature
    /// is invalid.
    pub fn verify_jws(&self, jws: &str) -> Result<Vec<u8>, AuthError> {
        let parts = split(jws)?;
        let header = parse_header(parts.header)?;
        verify_signature(self, &header, parts).map_err(|e| e.unwrap_or_else(error::unknown_key))?;
        b64_decode(parts.payload)
    }
}
