//! Verification keys, each pinned to one algorithm.
//!
//! A [`Key`] is a public key (or an HMAC secret) together with the one [`Algorithm`] it may
//! verify and, optionally, its `kid`. The algorithm is fixed when the key is built; the
//! token's `alg` header only has to *match* it, it never chooses it (RFC 8725 §3.1). A
//! [`KeySet`] is an ordered list of keys, looked up by `kid` and algorithm.
//!
//! Constructors refuse weak material with a [`ConfigError`]: HMAC secrets shorter than the
//! hash output, RSA moduli under 2048 bits, an EC point of the wrong size for the curve.

use std::fmt;

use auth_core::{ConfigError, ConfigErrorKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use crate::backend;

mod mac;
mod set;

use mac::HmacKey;

pub use set::KeySet;
pub(crate) use set::Lookup;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (a bigger one only costs verification time).
pub const MAX_RSA_BITS: usize = 16384;

/// A verification key pinned to one algorithm. See the [module docs](self).
#[derive(Clone)]
pub struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    verifier: Verifier,
}

/// How a [`Key`] checks a signature.
#[derive(Clone)]
enum Verifier {
    Hmac(HmacKey),
    /// A public key, checked by jsonwebtoken's crypto provider.
    Public(DecodingKey),
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, message: &'static str) -> ConfigError {
    ConfigError::new(ConfigErrorKind::InvalidValue, field, message)
}

fn weak(field: &'static str, message: &'static str) -> ConfigError {
    ConfigError::new(ConfigErrorKind::WeakKey, field, message)
}

/// The minimum HMAC secret length for `alg`: its hash output (RFC 7518 §3.2).
#[must_use]
pub fn min_hmac_secret_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 => Some(64),
        _ => None,
    }
}

/// Strips leading zero octets from a big-endian unsigned integer (RFC 7518 §6.3.1 forbids
/// them, some providers send them anyway, and aws-lc then rejects every signature).
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

impl Key {
    /// An HMAC secret for `HS256`, `HS384` or `HS512`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::WeakKey`] when `secret` is shorter than the hash output (32, 48,
    /// 64 bytes); [`ConfigErrorKind::InvalidValue`] when `alg` is not an HMAC algorithm.
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        let Some(min) = min_hmac_secret_len(alg) else {
            return Err(invalid(
                "algorithm",
                "an HMAC secret needs HS256, HS384 or HS512",
            ));
        };
        if secret.len() < min {
            return Err(weak(
                "secret",
                "the HMAC secret is shorter than the algorithm's hash output (32/48/64 bytes)",
            ));
        }
        let mac =
            HmacKey::new(alg, secret).ok_or_else(|| invalid("secret", "unusable HMAC secret"))?;
        Ok(Self {
            kid: None,
            alg,
            verifier: Verifier::Hmac(mac),
        })
    }

    /// An RSA public key from its big-endian modulus and exponent, for `RS*` or `PS*`.
    ///
    /// Leading zero octets are removed; moduli under [`MIN_RSA_BITS`] are refused.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::WeakKey`] for a short modulus or a bad exponent;
    /// [`ConfigErrorKind::InvalidValue`] when `alg` is not an RSA algorithm.
    pub fn rsa_components(alg: Algorithm, n: &[u8], e: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        if alg.family() != AlgorithmFamily::Rsa {
            return Err(invalid(
                "algorithm",
                "an RSA key needs RS256/384/512 or PS256/384/512",
            ));
        }
        let (n, e) = (strip_leading_zeros(n), strip_leading_zeros(e));
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(weak("rsa key", "the RSA modulus is shorter than 2048 bits"));
        }
        if bits > MAX_RSA_BITS {
            return Err(invalid(
                "rsa key",
                "the RSA modulus is longer than 16384 bits",
            ));
        }
        // The exponent must be odd and at least 3; more than 4 bytes is not a real key.
        if e.is_empty() || e.len() > 4 || e[e.len() - 1] & 1 == 0 || (e.len() == 1 && e[0] < 3) {
            return Err(weak("rsa key", "the RSA public exponent is not acceptable"));
        }
        if has_roca_fingerprint(n) {
            return Err(weak(
                "rsa key",
                "the RSA key was generated by a library vulnerable to ROCA (CVE-2017-15361)",
            ));
        }
        Ok(Self {
            kid: None,
            alg,
            verifier: Verifier::Public(DecodingKey::from_rsa_raw_components(n, e)),
        })
    }

    /// An RSA public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), for `RS*` or `PS*`.
    ///
    /// # Errors
    ///
    /// As [`Key::rsa_components`], plus [`ConfigErrorKind::InvalidValue`] for unparseable PEM.
    pub fn rsa_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        let key = DecodingKey::from_rsa_pem(pem)
            .map_err(|_| invalid("rsa key", "not an RSA public key in PEM"))?;
        let der = key
            .try_get_as_bytes()
            .map_err(|_| invalid("rsa key", "not an RSA public key in PEM"))?;
        let provider = CryptoProvider::try_get_default().ok_or_else(|| {
            ConfigError::new(ConfigErrorKind::Unsupported, "crypto backend", "no backend")
        })?;
        let (n, e) = (provider.key_utils.rsa_pub_components_from_public_key)(der)
            .map_err(|_| invalid("rsa key", "not an RSA public key"))?;
        Self::rsa_components(alg, &n, &e)
    }

    /// An RSA public key in DER (SubjectPublicKeyInfo or PKCS#1), for `RS*` or `PS*`.
    ///
    /// # Errors
    ///
    /// As [`Key::rsa_pem`].
    pub fn rsa_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        Self::rsa_pem(alg, der_to_pem("PUBLIC KEY", der).as_bytes())
            .or_else(|_| Self::rsa_pem(alg, der_to_pem("RSA PUBLIC KEY", der).as_bytes()))
    }

    /// An EC public key in PEM (`PUBLIC KEY`): P-256 for `ES256`, P-384 for `ES384`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for unparseable PEM, a curve that does not match
    /// `alg`, or a non-EC algorithm.
    pub fn ec_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        let decoding = DecodingKey::from_ec_pem(pem)
            .map_err(|_| invalid("ec key", "not an EC public key in PEM"))?;
        let point = decoding
            .try_get_as_bytes()
            .map_err(|_| invalid("ec key", "not an EC public key in PEM"))?;
        check_ec_point(alg, point)?;
        Ok(Self {
            kid: None,
            alg,
            verifier: Verifier::Public(decoding),
        })
    }

    /// An EC public key in DER (SubjectPublicKeyInfo).
    ///
    /// # Errors
    ///
    /// As [`Key::ec_pem`].
    pub fn ec_der(alg: Algorithm, der: &[u8]) -> Result<Self, ConfigError> {
        Self::ec_pem(alg, der_to_pem("PUBLIC KEY", der).as_bytes())
    }

    /// An EC public key from its affine coordinates (big-endian, curve-sized).
    ///
    /// # Errors
    ///
    /// As [`Key::ec_pem`].
    pub fn ec_components(alg: Algorithm, x: &[u8], y: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        if x.len() != y.len() {
            return Err(invalid("ec key", "EC coordinates of different sizes"));
        }
        check_ec_point(alg, &point)?;
        Ok(Self {
            kid: None,
            alg,
            verifier: Verifier::Public(DecodingKey::from_ec_der(&point)),
        })
    }

    /// An Ed25519 public key in PEM (`PUBLIC KEY`), for `EdDSA`.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for unparseable PEM or a key that is not Ed25519.
    pub fn ed_pem(pem: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        let decoding = DecodingKey::from_ed_pem(pem)
            .map_err(|_| invalid("ed25519 key", "not an Ed25519 public key in PEM"))?;
        Self::ed_components(
            decoding
                .try_get_as_bytes()
                .map_err(|_| invalid("ed25519 key", "not an Ed25519 public key"))?,
        )
    }

    /// An Ed25519 public key in DER (SubjectPublicKeyInfo).
    ///
    /// # Errors
    ///
    /// As [`Key::ed_pem`].
    pub fn ed_der(der: &[u8]) -> Result<Self, ConfigError> {
        Self::ed_pem(der_to_pem("PUBLIC KEY", der).as_bytes())
    }

    /// An Ed25519 public key from its 32 raw bytes.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] when `x` is not 32 bytes long.
    pub fn ed_components(x: &[u8]) -> Result<Self, ConfigError> {
        backend::ensure()?;
        if x.len() != 32 {
            return Err(invalid("ed25519 key", "an Ed25519 public key is 32 bytes"));
        }
        Ok(Self {
            kid: None,
            alg: Algorithm::EdDSA,
            verifier: Verifier::Public(DecodingKey::from_ed_der(x)),
        })
    }

    /// The same key with key id `kid`, matched against the token's `kid` header.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether the signature `signature_b64` over `signing_input` is valid for this key.
    pub(crate) fn verify(&self, signing_input: &str, signature_b64: &str) -> bool {
        match &self.verifier {
            Verifier::Hmac(mac) => mac.verify(signing_input, signature_b64),
            Verifier::Public(decoding) => matches!(
                jsonwebtoken::crypto::verify(
                    signature_b64,
                    signing_input.as_bytes(),
                    decoding,
                    self.alg
                ),
                Ok(true)
            ),
        }
    }
}

/// The ROCA fingerprint (Nemec et al., CCS 2017): moduli from the vulnerable Infineon
/// library are, modulo each of these small primes, in the subgroup generated by 65537.
/// A random modulus passes all 38 tests with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n.iter().fold(0u32, |r, &b| (r * 256 + u32::from(b)) % p);
        // Walk the subgroup generated by 65537 mod p.
        let generator = 65_537 % p;
        let mut element = 1;
        loop {
            if element == residue {
                return true;
            }
            element = element * generator % p;
            if element == 1 {
                return false;
            }
        }
    })
}

fn check_ec_point(alg: Algorithm, point: &[u8]) -> Result<(), ConfigError> {
    let expected = match alg {
        Algorithm::ES256 => 65,
        Algorithm::ES384 => 97,
        _ => return Err(invalid("algorithm", "an EC key needs ES256 or ES384")),
    };
    if point.len() != expected || point[0] != 0x04 {
        return Err(invalid(
            "ec key",
            "the EC key's curve does not match the algorithm",
        ));
    }
    Ok(())
}

fn der_to_pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

pub(crate) fn b64url(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}
