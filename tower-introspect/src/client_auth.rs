//! How this resource server authenticates to the introspection endpoint:
//! `client_secret_basic`, or `private_key_jwt` (a client assertion, RFC 7523 §2.2, signed
//! with the client's private key and sent in the form body).

use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::{ConfigError, ConfigErrorKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderValue;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a client assertion is valid: it is signed for one request.
const LIFETIME_SECS: u64 = 60;

/// The method, named as in `introspection_endpoint_auth_methods_supported`, and its material.
pub(crate) enum ClientAuth {
    /// `Authorization: Basic …`, marked sensitive.
    Basic(HeaderValue),
    /// A fresh assertion for every request.
    PrivateKeyJwt(Box<Assertion>),
}

impl ClientAuth {
    /// The method's registered name (RFC 8414, OpenID Connect Core §9).
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::Basic(_) => "client_secret_basic",
            Self::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }
}

/// Signs client assertions: `iss` = `sub` = the client id, `aud` the issuer identifier, a
/// random `jti`, `iat` now and `exp` a minute later.
pub(crate) struct Assertion {
    client_id: String,
    audience: String,
    header: Header,
    key: EncodingKey,
}

impl Assertion {
    /// An assertion signer for `client_id` with the PEM private key `pem`, for `algorithm`
    /// (RS*, PS*, ES256, ES384 or EdDSA), addressed to `audience`. Signs once to prove the
    /// key fits the algorithm.
    pub(crate) fn new(
        client_id: &str,
        audience: &str,
        algorithm: Algorithm,
        pem: &[u8],
        key_id: Option<String>,
    ) -> Result<Self, ConfigError> {
        let invalid =
            |message| ConfigError::new(ConfigErrorKind::InvalidValue, "private_key_jwt", message);
        tower_jwt::ensure_crypto_backend()?;
        let key = match algorithm {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem),
            _ => {
                return Err(invalid(
                    "takes an RSA, EC or Ed25519 private key (not an HMAC secret)",
                ));
            }
        }
        .map_err(|_| invalid("the key is not a PEM private key of this algorithm's type"))?;
        let mut header = Header::new(algorithm);
        header.kid = key_id;
        let assertion = Self {
            client_id: client_id.to_owned(),
            audience: audience.to_owned(),
            header,
            key,
        };
        assertion
            .sign(SystemTime::now())
            .map_err(|()| invalid("the key cannot sign with this algorithm"))?;
        Ok(assertion)
    }

    /// A fresh assertion, valid from `now` for a minute.
    pub(crate) fn sign(&self, now: SystemTime) -> Result<String, ()> {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let jti = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let claims = serde_json::json!({
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.audience,
            "jti": jti,
            "iat": iat,
            "exp": iat + LIFETIME_SECS,
        });
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_jwt::Key;

    const P256: &[u8] = include_bytes!("../tests/data/client-p256.pem");
    const P256_PUB: &[u8] = include_bytes!("../tests/data/client-p256.pub.pem");
    const RSA: &[u8] = include_bytes!("../tests/data/client-rsa2048.pem");
    const RSA_PUB: &[u8] = include_bytes!("../tests/data/client-rsa2048.pub.pem");
    const ED: &[u8] = include_bytes!("../tests/data/client-ed25519.pem");
    const ED_PUB: &[u8] = include_bytes!("../tests/data/client-ed25519.pub.pem");

    const AUD: &str = "https://as.example";

    #[test]
    fn assertions_are_signed_with_the_client_key_and_name_the_client() {
        let cases = [
            (
                Algorithm::ES256,
                P256,
                Key::ec_pem(Algorithm::ES256, P256_PUB),
            ),
            (
                Algorithm::RS256,
                RSA,
                Key::rsa_pem(Algorithm::RS256, RSA_PUB),
            ),
            (
                Algorithm::PS256,
                RSA,
                Key::rsa_pem(Algorithm::PS256, RSA_PUB),
            ),
            (Algorithm::EdDSA, ED, Key::ed_pem(ED_PUB)),
        ];
        for (algorithm, private, public) in cases {
            let signer =
                Assertion::new("intro-rs", AUD, algorithm, private, Some("k1".into())).unwrap();
            let now = SystemTime::now();
            let (first, second) = (signer.sign(now).unwrap(), signer.sign(now).unwrap());
            let keys = tower_jwt::KeySet::new([public.unwrap()]);
            let claims: serde_json::Value =
                serde_json::from_slice(&keys.verify_jws(&first).unwrap()).unwrap();
            let iat = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert_eq!(claims["iss"], "intro-rs", "{algorithm:?}");
            assert_eq!(claims["sub"], "intro-rs");
            assert_eq!(claims["aud"], AUD);
            assert_eq!(claims["iat"], iat);
            assert_eq!(claims["exp"], iat + LIFETIME_SECS);
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(first.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["kid"], "k1");
            // A fresh `jti` for every assertion.
            let other: serde_json::Value =
                serde_json::from_slice(&keys.verify_jws(&second).unwrap()).unwrap();
            assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
            assert_ne!(claims["jti"], other["jti"]);
        }
    }

    #[test]
    fn keys_that_do_not_fit_the_algorithm_are_refused() {
        for (algorithm, pem) in [
            (Algorithm::ES256, RSA),
            (Algorithm::RS256, P256),
            (Algorithm::EdDSA, P256),
            (Algorithm::ES384, P256),
            (
                Algorithm::HS256,
                b"a secret that is long enough for HS256!".as_slice(),
            ),
            (Algorithm::ES256, b"not a pem".as_slice()),
            (Algorithm::ES256, P256_PUB),
        ] {
            let error = Assertion::new("c", AUD, algorithm, pem, None)
                .err()
                .unwrap_or_else(|| panic!("{algorithm:?} accepted"));
            assert_eq!(error.kind(), ConfigErrorKind::InvalidValue, "{algorithm:?}");
            assert_eq!(error.field(), "private_key_jwt");
        }
    }
}
