//! HMAC keys, keyed once when built (jsonwebtoken would re-key on every verification).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::Algorithm;
use sha2::{Sha256, Sha384, Sha512};

/// The longest HMAC tag, HS512's.
const MAX_TAG: usize = 64;

/// A keyed HMAC state for one algorithm. Boxed: a state is a few hundred bytes, and each
/// verification copies it onto the stack.
#[derive(Clone)]
pub(super) enum HmacKey {
    Hs256(Box<Hmac<Sha256>>),
    Hs384(Box<Hmac<Sha384>>),
    Hs512(Box<Hmac<Sha512>>),
}

impl HmacKey {
    /// The keyed state for `alg`, `None` when `alg` is not an HMAC algorithm.
    pub(super) fn new(alg: Algorithm, secret: &[u8]) -> Option<Self> {
        // `new_from_slice` accepts a key of any length; the caller checks the minimum.
        Some(match alg {
            Algorithm::HS256 => Self::Hs256(Box::new(Hmac::new_from_slice(secret).ok()?)),
            Algorithm::HS384 => Self::Hs384(Box::new(Hmac::new_from_slice(secret).ok()?)),
            Algorithm::HS512 => Self::Hs512(Box::new(Hmac::new_from_slice(secret).ok()?)),
            _ => return None,
        })
    }

    /// Whether `tag_b64` (base64url, no padding) is the HMAC of `signing_input`.
    pub(super) fn verify(&self, signing_input: &str, tag_b64: &str) -> bool {
        match self {
            Self::Hs256(mac) => check((**mac).clone(), signing_input, tag_b64),
            Self::Hs384(mac) => check((**mac).clone(), signing_input, tag_b64),
            Self::Hs512(mac) => check((**mac).clone(), signing_input, tag_b64),
        }
    }
}

fn check<M: Mac>(mut mac: M, signing_input: &str, tag_b64: &str) -> bool {
    let mut tag = [0u8; MAX_TAG];
    // A tag longer than any HMAC's does not fit the buffer and is refused here.
    let Ok(len) = URL_SAFE_NO_PAD.decode_slice(tag_b64, &mut tag) else {
        return false;
    };
    mac.update(signing_input.as_bytes());
    // Refuses a tag of the wrong length; compares in constant time.
    mac.verify_slice(&tag[..len]).is_ok()
}

#[cfg(all(test, any(feature = "aws_lc_rs", feature = "rust_crypto")))]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey};

    use super::HmacKey;

    const INPUT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";

    /// The tag jsonwebtoken's backend computes, as an independent reference.
    fn reference(alg: Algorithm, secret: &[u8]) -> String {
        crate::backend::ensure().unwrap();
        let key = EncodingKey::from_secret(secret).unwrap();
        jsonwebtoken::crypto::sign(INPUT.as_bytes(), &key, alg).unwrap()
    }

    #[test]
    fn accepts_exactly_the_reference_tag() {
        for (alg, len) in [
            (Algorithm::HS256, 43),
            (Algorithm::HS384, 64),
            (Algorithm::HS512, 86),
        ] {
            let secret = [0x5a; 64];
            let key = HmacKey::new(alg, &secret).unwrap();
            let tag = reference(alg, &secret);
            assert_eq!(tag.len(), len);
            assert!(key.verify(INPUT, &tag), "{alg:?}");
            assert!(!key.verify(&INPUT[1..], &tag), "{alg:?} other input");
            // Another key's tag, a truncated tag, an over-long tag, a padded tag.
            assert!(!key.verify(INPUT, &reference(alg, &[0x5b; 64])), "{alg:?}");
            assert!(!key.verify(INPUT, &tag[..len - 2]), "{alg:?} truncated");
            assert!(!key.verify(INPUT, &format!("{tag}AAAA")), "{alg:?} long");
            assert!(!key.verify(INPUT, &format!("{tag}=")), "{alg:?} padded");
            assert!(!key.verify(INPUT, ""), "{alg:?} empty");
        }
    }

    #[test]
    fn only_hmac_algorithms_get_a_key() {
        assert!(HmacKey::new(Algorithm::RS256, &[1; 64]).is_none());
        assert!(HmacKey::new(Algorithm::EdDSA, &[1; 64]).is_none());
    }
}
