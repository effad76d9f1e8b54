//! Checking one DPoP proof JWT (RFC 9449 §4.3), without the nonce and replay checks.

use auth_core::AuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use url::Url;

use super::{Inner, refused};
use crate::jws;

/// The JWK members that make a key private or symmetric (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2): the proof key must be public (RFC 9449 §4.3 check 7).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The fewest bits an RSA proof key's modulus may have.
const MIN_RSA_BITS: usize = 2048;

/// The protected header members read. Serde refuses a duplicate of any member named here.
#[derive(Deserialize)]
struct RawHeader {
    typ: Option<String>,
    alg: String,
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
    crit: Option<IgnoredAny>,
    b64: Option<IgnoredAny>,
}

/// The proof's claims (RFC 9449 §4.2). Serde refuses a duplicate of any claim named here.
#[derive(Deserialize)]
struct RawClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<serde_json::Number>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// The public members of the proof key that its RFC 7638 thumbprint covers.
#[derive(Deserialize)]
struct RawKey {
    kty: String,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// What a proof that passed every check yields.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The proof key's RFC 7638 SHA-256 thumbprint, base64url.
    pub(crate) jkt: String,
    /// SHA-256 over the thumbprint and `jti`: what the replay store records.
    pub(crate) replay_key: [u8; 32],
    /// The `nonce` claim, judged by the caller when nonces are configured.
    pub(crate) nonce: Option<String>,
}

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) method: &'a str,
    /// The request's path, as the layer sees it (no query).
    pub(crate) path: &'a str,
}

/// Checks `proof` (already within the length cap) for a request to `target` carrying
/// `access_token`, at `now` (seconds).
pub(crate) fn check(
    config: &Inner,
    proof: &str,
    target: Target<'_>,
    access_token: &str,
    now: i64,
) -> Result<Checked, AuthError> {
    let malformed = || refused("the DPoP proof is malformed", "dpop_malformed");
    let parts = jws::split(proof).map_err(|_| malformed())?;
    let header_bytes = URL_SAFE_NO_PAD
        .decode(parts.header)
        .map_err(|_| malformed())?;
    let header: RawHeader = serde_json::from_slice(&header_bytes).map_err(|_| malformed())?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(refused(
            "the DPoP proof's `typ` is not `dpop+jwt`",
            "dpop_typ",
        ));
    }
    if header.crit.is_some() || header.b64.is_some() {
        return Err(refused(
            "the DPoP proof uses an unsupported JWS extension",
            "dpop_crit",
        ));
    }
    let alg = header
        .alg
        .parse::<Algorithm>()
        .ok()
        .filter(|alg| config.algorithms.contains(alg))
        .ok_or_else(|| {
            refused(
                "the DPoP proof's algorithm is not accepted",
                "dpop_algorithm",
            )
        })?;
    let jwk = header
        .jwk
        .ok_or_else(|| refused("the DPoP proof has no `jwk` header", "dpop_jwk"))?;
    if PRIVATE_MEMBERS.iter().any(|name| jwk.contains_key(*name)) {
        return Err(refused(
            "the DPoP proof's `jwk` carries private or symmetric key members",
            "dpop_private_key",
        ));
    }
    let (key, jkt) = public_key(alg, jwk)?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts.signature)
        .map_err(|_| malformed())?;
    if signature.is_empty() || !verify(&key, alg, parts.signing_input, parts.signature) {
        return Err(refused(
            "the DPoP proof's signature is invalid",
            "dpop_signature",
        ));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(parts.payload)
        .map_err(|_| malformed())?;
    let claims: RawClaims = serde_json::from_slice(&payload).map_err(|_| malformed())?;
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty())
        .ok_or_else(|| refused("the DPoP proof lacks the `jti` claim", "dpop_jti"))?;
    if claims.htm.as_deref() != Some(target.method) {
        return Err(refused(
            "the DPoP proof's `htm` does not match the request method",
            "dpop_htm",
        ));
    }
    let htu_ok = claims
        .htu
        .as_deref()
        .is_some_and(|htu| htu_matches(&config.origin, htu, target.path));
    if !htu_ok {
        return Err(refused(
            "the DPoP proof's `htu` does not match the request URI",
            "dpop_htu",
        ));
    }
    let iat = claims
        .iat
        .as_ref()
        .and_then(numeric_date)
        .ok_or_else(|| refused("the DPoP proof lacks a valid `iat` claim", "dpop_iat"))?;
    if iat < now.saturating_sub(config.max_age) || iat > now.saturating_add(config.leeway) {
        return Err(refused(
            "the DPoP proof's `iat` is outside the accepted window",
            "dpop_iat",
        ));
    }
    if claims.ath.as_deref() != Some(token_hash(access_token).as_str()) {
        return Err(refused(
            "the DPoP proof's `ath` does not match the access token",
            "dpop_ath",
        ));
    }
    let mut replay = Sha256::new();
    replay.update(jkt.as_bytes());
    replay.update([0]);
    replay.update(jti.as_bytes());
    Ok(Checked {
        jkt,
        replay_key: replay.finalize().into(),
        nonce: claims.nonce,
    })
}

/// `base64url(SHA-256(token))`, the `ath` claim (RFC 9449 §4.2).
pub(crate) fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn verify(key: &DecodingKey, alg: Algorithm, signing_input: &str, signature: &str) -> bool {
    jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), key, alg).unwrap_or(false)
}

/// A `NumericDate` as whole seconds (a fraction is floored); `None` when out of range.
fn numeric_date(number: &serde_json::Number) -> Option<i64> {
    if let Some(seconds) = number.as_i64() {
        return Some(seconds);
    }
    let seconds = number.as_f64()?;
    // JSON has no NaN or infinities; the bounds keep the cast exact.
    #[allow(clippy::cast_possible_truncation)]
    (0.0..1e12)
        .contains(&seconds)
        .then(|| seconds.floor() as i64)
}

/// The proof key, checked against `alg`, and its RFC 7638 thumbprint: SHA-256 over the
/// required members in lexicographic order, no whitespace.
fn public_key(
    alg: Algorithm,
    jwk: serde_json::Map<String, serde_json::Value>,
) -> Result<(DecodingKey, String), AuthError> {
    let bad_key = || {
        refused(
            "the DPoP proof's `jwk` is not a valid key for its algorithm",
            "dpop_jwk",
        )
    };
    let raw: RawKey =
        serde_json::from_value(serde_json::Value::Object(jwk)).map_err(|_| bad_key())?;
    let member = |value: &Option<String>| -> Result<(String, Vec<u8>), AuthError> {
        let text = value.as_deref().ok_or_else(bad_key)?;
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad_key())?;
        Ok((text.to_owned(), bytes))
    };
    let (key, canonical) = match alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            let (crv, size) = if alg == Algorithm::ES256 {
                ("P-256", 32)
            } else {
                ("P-384", 48)
            };
            let ((x, xb), (y, yb)) = (member(&raw.x)?, member(&raw.y)?);
            if raw.kty != "EC"
                || raw.crv.as_deref() != Some(crv)
                || xb.len() != size
                || yb.len() != size
            {
                return Err(bad_key());
            }
            let key = DecodingKey::from_ec_components(&x, &y).map_err(|_| bad_key())?;
            (
                key,
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#),
            )
        }
        Algorithm::EdDSA => {
            let (x, xb) = member(&raw.x)?;
            if raw.kty != "OKP" || raw.crv.as_deref() != Some("Ed25519") || xb.len() != 32 {
                return Err(bad_key());
            }
            let key = DecodingKey::from_ed_components(&x).map_err(|_| bad_key())?;
            (key, format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#))
        }
        _ => {
            let ((n, nb), (e, eb)) = (member(&raw.n)?, member(&raw.e)?);
            let modulus = nb.iter().skip_while(|b| **b == 0).count();
            if raw.kty != "RSA" || modulus * 8 < MIN_RSA_BITS || eb.is_empty() {
                return Err(bad_key());
            }
            let key = DecodingKey::from_rsa_components(&n, &e).map_err(|_| bad_key())?;
            (key, format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
        }
    };
    Ok((
        key,
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
    ))
}

/// The configured public origin: scheme, host, port and an optional base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Without a trailing `/`: empty, or `/v1`.
    pub(crate) base_path: String,
}

impl Origin {
    pub(crate) fn parse(url: &str) -> Option<Self> {
        let url = Url::parse(url).ok()?;
        if !matches!(url.scheme(), "https" | "http")
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return None;
        }
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
            base_path: normalise_path(url.path()).trim_end_matches('/').to_owned(),
        })
    }

    /// `scheme://host:port/base`, the same for every spelling of one origin.
    pub(crate) fn canonical(&self) -> String {
        format!(
            "{}://{}:{}{}",
            self.scheme, self.host, self.port, self.base_path
        )
    }

    pub(crate) fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }
}

/// RFC 9449 §4.3 check 9: `htu` equals the request's URI, query and fragment ignored, after
/// RFC 3986 §6.2.2 (case, percent-encoding, dot segments) and §6.2.3 (default port, empty
/// path) normalisation. The URI is the configured public origin and the request's path,
/// never the `Host` header.
fn htu_matches(origin: &Origin, htu: &str, request_path: &str) -> bool {
    let Ok(url) = Url::parse(htu) else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    let request_path = if request_path.is_empty() {
        "/"
    } else {
        request_path
    };
    let Ok(expected) = Url::parse(&format!(
        "{}://{}{}{request_path}",
        origin.scheme, origin.host, origin.base_path
    )) else {
        return false;
    };
    url.scheme() == origin.scheme
        && url.host_str() == Some(origin.host.as_str())
        && url.port_or_known_default() == Some(origin.port)
        && normalise_path(url.path()) == normalise_path(expected.path())
}

/// Percent-encodings in upper case, and unreserved characters (RFC 3986 §2.3) decoded.
fn normalise_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
            continue;
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::parse(url).unwrap()
    }

    #[test]
    fn htu_is_compared_normalised_without_query_or_fragment() {
        let api = origin("https://api.example.com");
        for htu in [
            "https://api.example.com/orders",
            "HTTPS://API.Example.COM/orders",
            "https://api.example.com:443/orders",
            "https://api.example.com/orders?page=2",
            "https://api.example.com/orders#top",
            "https://api.example.com/a/../orders",
            "https://api.example.com/%6Frders",
        ] {
            assert!(htu_matches(&api, htu, "/orders"), "{htu}");
        }
        for htu in [
            "http://api.example.com/orders",
            "https://api.example.com:8443/orders",
            "https://evil.example.com/orders",
            "https://api.example.com/orders/",
            "https://api.example.com/Orders",
            "https://user@api.example.com/orders",
            "/orders",
            "not a url",
        ] {
            assert!(!htu_matches(&api, htu, "/orders"), "{htu}");
        }
        assert!(htu_matches(&api, "https://api.example.com", ""));
        assert!(htu_matches(&api, "https://api.example.com/a%2fb", "/a%2Fb"));
    }

    #[test]
    fn a_base_path_is_prefixed_to_the_request_path() {
        let api = origin("https://example.com/api/");
        assert_eq!(api.base_path, "/api");
        assert!(htu_matches(
            &api,
            "https://example.com/api/orders",
            "/orders"
        ));
        assert!(!htu_matches(&api, "https://example.com/orders", "/orders"));
    }

    #[test]
    fn origins_with_a_query_fragment_or_credentials_are_refused() {
        for url in [
            "https://a.example/?x=1",
            "https://a.example/#f",
            "https://u:p@a.example/",
            "ftp://a.example/",
            "a.example",
        ] {
            assert!(Origin::parse(url).is_none(), "{url}");
        }
        assert!(origin("http://127.0.0.1:8080").is_loopback());
        assert!(!origin("http://api.example").is_loopback());
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let serde_json::Value::Object(map) = jwk else {
            unreachable!()
        };
        crate::backend::ensure().unwrap();
        let (_, jkt) = public_key(Algorithm::RS256, map).unwrap();
        assert_eq!(jkt, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn keys_must_fit_the_algorithm() {
        crate::backend::ensure().unwrap();
        let ec = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32]),
        });
        let serde_json::Value::Object(map) = ec else {
            unreachable!()
        };
        // A P-256 key cannot sign ES384, nor EdDSA, nor RS256.
        for alg in [Algorithm::ES384, Algorithm::EdDSA, Algorithm::RS256] {
            let err = public_key(alg, map.clone()).unwrap_err();
            assert_eq!(err.reason(), "dpop_jwk", "{alg:?}");
        }
        let short_rsa = serde_json::json!({
            "kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB",
        });
        let serde_json::Value::Object(map) = short_rsa else {
            unreachable!()
        };
        assert_eq!(
            public_key(Algorithm::RS256, map).unwrap_err().reason(),
            "dpop_jwk"
        );
    }

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example access token and its `ath`.
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
