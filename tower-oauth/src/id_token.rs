//! ID token validation (OpenID Connect Core §3.1.3.7).
//!
//! The signature, `iss`, `aud`, `exp`, `iat`, `sub` and `typ` (`JWT` or absent) are checked
//! by `tower-jwt`'s [`JwtVerifier`](tower_jwt::JwtVerifier) with the provider's JWKS behind
//! its key cache (one fetch in flight, cooldown, last-known-good keys). What is specific to
//! ID tokens is checked here: the `nonce` of this login attempt (constant time), `azp`
//! (required when there are several audiences, equal to our client id when present), and a
//! bounded age.

use std::fmt;
use std::time::Duration;

use auth_core::{AuthErrorKind, ConfigError};
use http::StatusCode;
use serde_json::Value;
use subtle::ConstantTimeEq;
use tower_jwt::{IssuerConfig, JwtVerifier};

use crate::flow::response::Failure;
use crate::http_client::CappedClient;

/// An ID token older than this (by `iat`) is refused, whatever its `exp`.
const MAX_AGE: Duration = Duration::from_secs(600);

/// Why an ID token was refused. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdTokenError {
    /// Signature, issuer, audience, times or type (from tower-jwt), with its reason code.
    Invalid(&'static str),
    /// The keys could not be fetched.
    Unavailable,
    /// The nonce differs from the login attempt's.
    Nonce,
    /// `azp` missing with several audiences, or not our client id.
    Azp,
}

impl fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(reason) => write!(f, "the ID token is invalid ({reason})"),
            Self::Unavailable => f.write_str("the provider's keys could not be fetched"),
            Self::Nonce => f.write_str("the ID token's nonce does not match the login attempt"),
            Self::Azp => f.write_str("the ID token's authorized party is not this client"),
        }
    }
}

impl IdTokenError {
    pub(crate) fn failure(&self) -> Failure {
        match self {
            Self::Invalid(_) => Failure::bad_request("id_token_invalid"),
            Self::Unavailable => Failure::new(StatusCode::SERVICE_UNAVAILABLE, "jwks_unavailable"),
            Self::Nonce => Failure::bad_request("nonce_mismatch"),
            Self::Azp => Failure::bad_request("azp_mismatch"),
        }
    }
}

/// Validates one provider's ID tokens for one client.
pub(crate) struct IdTokenValidator {
    verifier: JwtVerifier,
    client_id: String,
}

impl fmt::Debug for IdTokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenValidator")
            .field("verifier", &self.verifier)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl IdTokenValidator {
    /// A validator for `issuer`'s ID tokens addressed to `client_id`, keys from `jwks_uri`
    /// (taken from the checked discovery document, never from a token).
    pub(crate) fn new(
        issuer: &str,
        jwks_uri: &str,
        client_id: &str,
        http: &CappedClient,
    ) -> Result<Self, ConfigError> {
        let config = IssuerConfig::id_tokens(issuer, client_id)
            .jwks_url(jwks_uri)
            .http_client(http.inner().clone())
            .max_age(MAX_AGE)
            .build()?;
        Ok(Self {
            verifier: JwtVerifier::new(config)?,
            client_id: client_id.to_owned(),
        })
    }

    /// The ID token's claims, if it is valid for this login attempt's `nonce`.
    pub(crate) async fn validate(&self, token: &str, nonce: &str) -> Result<Value, IdTokenError> {
        let identity = self
            .verifier
            .verify::<Value>(token)
            .await
            .map_err(|error| match error.kind() {
                AuthErrorKind::Unavailable => IdTokenError::Unavailable,
                _ => IdTokenError::Invalid(error.reason()),
            })?;
        let claims = identity.claims().clone();
        check_claims(&claims, &self.client_id, nonce)?;
        Ok(claims)
    }
}

/// The ID-token rules beyond a generic JWT's: `nonce` and `azp`.
fn check_claims(claims: &Value, client_id: &str, nonce: &str) -> Result<(), IdTokenError> {
    let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if got.is_empty() || !bool::from(got.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err(IdTokenError::Nonce);
    }
    let several_audiences = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|aud| aud.len() > 1);
    match claims.get("azp") {
        None if several_audiences => Err(IdTokenError::Azp),
        None => Ok(()),
        Some(Value::String(azp)) if azp == client_id => Ok(()),
        Some(_) => Err(IdTokenError::Azp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nonce_must_match() {
        let claims = json!({"nonce": "n-1", "aud": "rp"});
        assert_eq!(check_claims(&claims, "rp", "n-1"), Ok(()));
        assert_eq!(check_claims(&claims, "rp", "n-2"), Err(IdTokenError::Nonce));
        assert_eq!(
            check_claims(&json!({"aud": "rp"}), "rp", "n-1"),
            Err(IdTokenError::Nonce)
        );
        assert_eq!(
            check_claims(&json!({"nonce": 1}), "rp", "1"),
            Err(IdTokenError::Nonce)
        );
        assert_eq!(
            check_claims(&json!({"nonce": ""}), "rp", ""),
            Err(IdTokenError::Nonce)
        );
    }

    #[test]
    fn azp_rules() {
        let several = json!({"nonce": "n", "aud": ["rp", "other"]});
        assert_eq!(check_claims(&several, "rp", "n"), Err(IdTokenError::Azp));
        let with_azp = json!({"nonce": "n", "aud": ["rp", "other"], "azp": "rp"});
        assert_eq!(check_claims(&with_azp, "rp", "n"), Ok(()));
        let foreign = json!({"nonce": "n", "aud": "rp", "azp": "other"});
        assert_eq!(check_claims(&foreign, "rp", "n"), Err(IdTokenError::Azp));
    }

    mod signed {
        use super::super::*;
        use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
        use serde_json::json;

        use crate::test_jwks::{ISSUER, PEM, now};

        async fn validator() -> IdTokenValidator {
            let (url, http) = crate::test_jwks::serve().await;
            IdTokenValidator::new(ISSUER, &url, "rp", &http).unwrap()
        }

        fn claims() -> Value {
            json!({
                "iss": ISSUER, "aud": "rp", "sub": "alice", "nonce": "n-1",
                "iat": now(), "exp": now() + 300, "auth_time": now()
            })
        }

        fn sign(claims: &Value, typ: Option<&str>) -> String {
            // With every feature on, jsonwebtoken has two backends and picks none itself.
            tower_jwt::ensure_crypto_backend().unwrap();
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("k1".to_owned());
            header.typ = typ.map(str::to_owned);
            encode(
                &header,
                claims,
                &EncodingKey::from_ec_pem(PEM.as_bytes()).unwrap(),
            )
            .unwrap()
        }

        fn with(member: &str, value: Value) -> Value {
            let mut c = claims();
            c[member] = value;
            c
        }

        #[tokio::test]
        async fn every_id_token_rule_is_enforced() {
            let v = validator().await;
            let ok = v
                .validate(&sign(&claims(), Some("JWT")), "n-1")
                .await
                .unwrap();
            assert_eq!(ok["sub"], "alice");
            assert!(
                v.validate(&sign(&claims(), None), "n-1").await.is_ok(),
                "typ may be absent"
            );

            let invalid =
                |r: Result<Value, IdTokenError>| matches!(r, Err(IdTokenError::Invalid(_)));
            let refused = [
                ("another audience", sign(&with("aud", json!("other")), None)),
                (
                    "another issuer",
                    sign(&with("iss", json!("https://evil.example")), None),
                ),
                ("expired", sign(&with("exp", json!(now() - 600)), None)),
                (
                    "no iat",
                    sign(
                        &{
                            let mut c = claims();
                            c.as_object_mut().unwrap().remove("iat");
                            c
                        },
                        None,
                    ),
                ),
                (
                    "issued in the future",
                    sign(&with("iat", json!(now() + 3600)), None),
                ),
                (
                    "too old",
                    sign(
                        &{
                            let mut c = with("iat", json!(now() - 1200));
                            c["exp"] = json!(now() + 3600);
                            c
                        },
                        None,
                    ),
                ),
                ("an access token", sign(&claims(), Some("at+jwt"))),
            ];
            for (label, token) in refused {
                assert!(invalid(v.validate(&token, "n-1").await), "{label} accepted");
            }
            let forged = {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some("k1".to_owned());
                encode(
                    &header,
                    &claims(),
                    &EncodingKey::from_secret(&[7; 32]).unwrap(),
                )
                .unwrap()
            };
            assert!(
                invalid(v.validate(&forged, "n-1").await),
                "HS256 with the key id"
            );
            let mut tampered = sign(&claims(), None);
            tampered.pop();
            assert!(invalid(v.validate(&tampered, "n-1").await), "bad signature");

            assert_eq!(
                v.validate(&sign(&claims(), None), "n-2").await,
                Err(IdTokenError::Nonce)
            );
            let foreign_azp = with("azp", json!("other"));
            assert_eq!(
                v.validate(&sign(&foreign_azp, None), "n-1").await,
                Err(IdTokenError::Azp)
            );
            let several = with("aud", json!(["rp", "other"]));
            assert_eq!(
                v.validate(&sign(&several, None), "n-1").await,
                Err(IdTokenError::Azp)
            );
        }
    }
}
