//! Back-channel `logout_token` validation (OpenID Connect Back-Channel Logout 1.0 §2.6).
//!
//! The signature (the provider's JWKS), `iss`, `aud` (our client id), `iat` (at most
//! [`MAX_AGE`] old, not in the future), `exp` and `typ` (`logout+jwt` or absent) are checked
//! by `tower-jwt`'s [`JwtVerifier`], which also requires `jti`. What is specific to logout
//! tokens is checked here: the `events` member holding the back-channel logout event as a
//! JSON object, no `nonce`, and the `sid` or `sub` it names (§2.4: at least one of them; a
//! token naming only a session has no `sub`). Single use of the `jti` is the route's
//! business (the session store's `claim`).

use std::fmt;
use std::time::Duration;

use auth_core::{AuthErrorKind, ConfigError};
use serde_json::Value;
use tower_jwt::{IssuerConfig, JwtVerifier};

use crate::http_client::CappedClient;

/// A logout token older than this (by `iat`) is refused, whatever its `exp`; its `jti` is
/// remembered at least this long.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(300);

/// The event a logout token must carry.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a logout token was refused. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LogoutTokenError {
    /// Signature, issuer, audience, times, type or `jti` (from tower-jwt), with its reason
    /// code.
    Invalid(&'static str),
    /// The provider's keys could not be fetched.
    Unavailable,
    /// No `events` object with the back-channel logout event as an object.
    Events,
    /// A `nonce` member: an ID token, not a logout token.
    Nonce,
    /// A `sid` that is not a non-empty string.
    Sid,
    /// A `sub` that is not a non-empty string.
    Sub,
    /// Neither `sid` nor `sub`: the token names nothing to end.
    NoSidOrSub,
}

impl LogoutTokenError {
    /// The reason code for logs and the `error_description`.
    pub(crate) fn description(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "the logout token is not valid",
            Self::Unavailable => "the provider's keys could not be fetched",
            Self::Events => "the logout token has no back-channel logout event",
            Self::Nonce => "a logout token must not carry a nonce",
            Self::Sid => "the logout token's sid is not a string",
            Self::Sub => "the logout token's sub is not a string",
            Self::NoSidOrSub => "the logout token names neither a sid nor a sub",
        }
    }
}

impl fmt::Display for LogoutTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(reason) => write!(f, "{} ({reason})", self.description()),
            _ => f.write_str(self.description()),
        }
    }
}

/// What a valid logout token ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogoutClaims {
    pub(crate) jti: String,
    pub(crate) ends: Ends,
}

/// The sessions a logout token ends: those of its `sid` when it has one, else every session
/// of its `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ends {
    /// The provider session `sid`.
    Session(String),
    /// Every session of the user `sub`.
    User(String),
}

/// Validates one provider's logout tokens for one client.
pub(crate) struct LogoutTokenValidator {
    verifier: JwtVerifier,
}

impl fmt::Debug for LogoutTokenValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutTokenValidator")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl LogoutTokenValidator {
    /// A validator for `issuer`'s logout tokens addressed to `client_id`, keys from
    /// `jwks_uri` (from the checked discovery document).
    pub(crate) fn new(
        issuer: &str,
        jwks_uri: &str,
        client_id: &str,
        http: &CappedClient,
    ) -> Result<Self, ConfigError> {
        let config = IssuerConfig::builder(issuer)
            .audience(client_id)
            .typ("logout+jwt")
            .allow_missing_typ()
            .allow_missing_nbf()
            .allow_missing_sub()
            .max_age(MAX_AGE)
            .jwks_url(jwks_uri)
            .http_client(http.inner().clone())
            .build()?;
        Ok(Self {
            verifier: JwtVerifier::new(config)?,
        })
    }

    /// What the logout token names, if it is valid.
    pub(crate) async fn validate(&self, token: &str) -> Result<LogoutClaims, LogoutTokenError> {
        let identity = self
            .verifier
            .verify::<Value>(token)
            .await
            .map_err(|error| match error.kind() {
                AuthErrorKind::Unavailable => LogoutTokenError::Unavailable,
                _ => LogoutTokenError::Invalid(error.reason()),
            })?;
        check_claims(identity.claims())
    }
}

/// The logout-token rules beyond a generic JWT's.
fn check_claims(claims: &Value) -> Result<LogoutClaims, LogoutTokenError> {
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err(LogoutTokenError::Events);
    }
    if claims.get("nonce").is_some() {
        return Err(LogoutTokenError::Nonce);
    }
    let optional = |name: &str, wrong: LogoutTokenError| match claims.get(name) {
        None => Ok(None),
        Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.clone())),
        Some(_) => Err(wrong),
    };
    let sid = optional("sid", LogoutTokenError::Sid)?;
    let sub = optional("sub", LogoutTokenError::Sub)?;
    let ends = match (sid, sub) {
        (Some(sid), _) => Ends::Session(sid),
        (None, Some(sub)) => Ends::User(sub),
        (None, None) => return Err(LogoutTokenError::NoSidOrSub),
    };
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(LogoutTokenError::Invalid("missing_claim"))?;
    Ok(LogoutClaims {
        jti: jti.to_owned(),
        ends,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({
            "iss": "https://op.example", "aud": "rp", "iat": 1, "exp": 2, "jti": "j1",
            "sub": "alice", "sid": "s1", "events": { EVENT: {} }
        })
    }

    #[test]
    fn a_logout_token_names_its_session_and_user() {
        let claims = check_claims(&valid()).unwrap();
        assert_eq!(claims.jti, "j1");
        assert_eq!(claims.ends, Ends::Session("s1".into()));
        let mut no_sid = valid();
        no_sid.as_object_mut().unwrap().remove("sid");
        assert_eq!(
            check_claims(&no_sid).unwrap().ends,
            Ends::User("alice".into())
        );
        let mut no_sub = valid();
        no_sub.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            check_claims(&no_sub).unwrap().ends,
            Ends::Session("s1".into())
        );
        no_sub.as_object_mut().unwrap().remove("sid");
        assert_eq!(check_claims(&no_sub), Err(LogoutTokenError::NoSidOrSub));
    }

    #[test]
    fn the_event_must_be_an_object_and_nonce_absent() {
        let with = |member: &str, value: Value| {
            let mut c = valid();
            c[member] = value;
            check_claims(&c)
        };
        let without = |member: &str| {
            let mut c = valid();
            c.as_object_mut().unwrap().remove(member);
            check_claims(&c)
        };
        assert_eq!(without("events"), Err(LogoutTokenError::Events));
        assert_eq!(with("events", json!({})), Err(LogoutTokenError::Events));
        assert_eq!(
            with("events", json!({ EVENT: "yes" })),
            Err(LogoutTokenError::Events)
        );
        assert_eq!(
            with("events", json!([EVENT])),
            Err(LogoutTokenError::Events)
        );
        assert_eq!(with("nonce", json!("n")), Err(LogoutTokenError::Nonce));
        assert_eq!(with("sid", json!(7)), Err(LogoutTokenError::Sid));
        assert_eq!(with("sid", json!("")), Err(LogoutTokenError::Sid));
        assert_eq!(with("sub", json!(7)), Err(LogoutTokenError::Sub));
        assert_eq!(with("sub", json!("")), Err(LogoutTokenError::Sub));
        assert!(matches!(without("jti"), Err(LogoutTokenError::Invalid(_))));
    }

    mod signed {
        use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
        use serde_json::json;

        use super::super::*;

        use crate::test_jwks::{ISSUER, PEM, now};

        async fn validator() -> LogoutTokenValidator {
            let (url, http) = crate::test_jwks::serve().await;
            LogoutTokenValidator::new(ISSUER, &url, "rp", &http).unwrap()
        }

        fn claims() -> Value {
            json!({
                "iss": ISSUER, "aud": "rp", "sub": "alice", "sid": "s1", "jti": "j1",
                "iat": now(), "exp": now() + 120, "events": { EVENT: {} }
            })
        }

        fn sign(claims: &Value, typ: Option<&str>) -> String {
            tower_jwt::ensure_crypto_backend().unwrap();
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some("k1".to_owned());
            header.typ = typ.map(str::to_owned);
            let key = EncodingKey::from_ec_pem(PEM.as_bytes()).unwrap();
            encode(&header, claims, &key).unwrap()
        }

        fn with(member: &str, value: Value) -> Value {
            let mut c = claims();
            c[member] = value;
            c
        }

        fn without(member: &str) -> Value {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(member);
            c
        }

        #[tokio::test]
        async fn every_logout_token_rule_is_enforced() {
            let v = validator().await;
            let ok = v.validate(&sign(&claims(), Some("logout+jwt"))).await;
            assert_eq!(ok.unwrap().ends, Ends::Session("s1".into()));
            assert!(
                v.validate(&sign(&claims(), None)).await.is_ok(),
                "typ may be absent"
            );
            let typ = "application/logout+jwt";
            assert!(v.validate(&sign(&claims(), Some(typ))).await.is_ok());

            let refused = [
                ("another audience", sign(&with("aud", json!("other")), None)),
                (
                    "another issuer",
                    sign(&with("iss", json!("https://evil.example")), None),
                ),
                ("an ID token's type", sign(&claims(), Some("JWT"))),
                ("an access token's type", sign(&claims(), Some("at+jwt"))),
                (
                    "issued in the future",
                    sign(&with("iat", json!(now() + 3600)), None),
                ),
                ("too old", sign(&with("iat", json!(now() - 600)), None)),
                ("expired", sign(&with("exp", json!(now() - 120)), None)),
                ("no jti", sign(&without("jti"), None)),
            ];
            for (label, token) in refused {
                assert!(
                    matches!(v.validate(&token).await, Err(LogoutTokenError::Invalid(_))),
                    "{label} accepted"
                );
            }
            assert_eq!(
                v.validate(&sign(&with("nonce", json!("n")), None)).await,
                Err(LogoutTokenError::Nonce)
            );
            assert_eq!(
                v.validate(&sign(&without("events"), None)).await,
                Err(LogoutTokenError::Events)
            );
            let sid_only = v.validate(&sign(&without("sub"), None)).await.unwrap();
            assert_eq!(sid_only.ends, Ends::Session("s1".into()));
            let mut neither = without("sub");
            neither.as_object_mut().unwrap().remove("sid");
            assert_eq!(
                v.validate(&sign(&neither, None)).await,
                Err(LogoutTokenError::NoSidOrSub)
            );
            let mut tampered = sign(&claims(), None);
            tampered.pop();
            assert!(matches!(
                v.validate(&tampered).await,
                Err(LogoutTokenError::Invalid(_))
            ));
        }
    }
}
