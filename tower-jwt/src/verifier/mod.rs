//! [`JwtVerifier`]: verifies a token string, independent of HTTP.
//!
//! Used by [`JwtAuthenticator`](crate::JwtAuthenticator) for requests, and directly by
//! anything else that holds a token (an OpenID Connect login verifying an ID token).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use auth_core::{AuthError, AuthMethod, ConfigError, Principal};
use serde::de::DeserializeOwned;

use crate::cache::VerifiedCache;
use crate::claims::{self, Registered};
use crate::config::{IssuerConfig, KeySource};
use crate::error;
use crate::identity::{self, Claims};
use crate::jws;
use crate::revocation::{RevocationStatus, RevocationStore, TokenRef};
use crate::rules::{check_claims, check_typ};

mod builder;

pub use builder::JwtVerifierBuilder;

/// Default cap on a token's length, checked before anything is decoded.
pub const DEFAULT_MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// Verifies JWTs from one or several trusted issuers. Cheap to clone (one `Arc`).
///
/// ```
/// use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
/// use tower_jwt::{IssuerConfig, JwtVerifier};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let secret = b"an HS256 secret of at least 32 bytes!!";
/// let verifier = JwtVerifier::new(
///     IssuerConfig::builder("https://issuer.example")
///         .audience("my-api")
///         .hmac_secret(secret)
///         .build()
///         .unwrap(),
/// )
/// .unwrap();
///
/// let now = jsonwebtoken::get_current_timestamp();
/// let mut header = Header::new(Algorithm::HS256);
/// header.typ = Some("at+jwt".into());
/// let claims = serde_json::json!({
///     "iss": "https://issuer.example", "aud": "my-api", "sub": "alice",
///     "iat": now, "nbf": now, "exp": now + 60, "jti": "4b1d", "scope": "read",
/// });
/// let token = encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap()).unwrap();
///
/// let verified = verifier.verify::<serde_json::Value>(&token).await.unwrap();
/// assert_eq!(verified.subject(), "alice");
/// assert!(verified.principal().has_scope("read"));
///
/// let refused = verifier.verify::<serde_json::Value>("not.a.token").await.unwrap_err();
/// assert_eq!(refused.status(), http::StatusCode::UNAUTHORIZED);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

/// Where an issuer's configured claims land among the registered claims' extras.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExtraSlots {
    pub(crate) roles: Option<usize>,
    pub(crate) tenant: Option<usize>,
    pub(crate) scopes: Option<usize>,
}

struct Inner {
    issuers: Vec<IssuerConfig>,
    /// Per issuer: the index in `extra_names` of its roles and tenant claims.
    extra_slots: Vec<ExtraSlots>,
    extra_names: Vec<Box<str>>,
    revocation: Option<Arc<dyn RevocationStore>>,
    max_token_length: usize,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuers", &self.issuers)
            .field("revocation", &self.revocation.is_some())
            .field("max_token_length", &self.max_token_length)
            .finish()
    }
}

/// What [`JwtVerifier::quick`] settled.
pub(crate) enum Quick<C> {
    /// Refused, or a verified-token cache hit.
    Decided(Result<Claims<C>, AuthError>),
    /// The signature must be verified.
    Verify,
}

/// One verification attempt: done, or blocked on a remote key refresh.
pub(crate) enum Step<C> {
    Done(Result<Claims<C>, AuthError>),
    Fetch { issuer: usize, kid: Option<String> },
}

/// Why [`JwtVerifier::verify_parts`] stopped.
pub(crate) enum Fail {
    Refused(AuthError),
    /// Only remote keys ask for a fetch.
    #[cfg_attr(not(feature = "remote-keys"), allow(dead_code))]
    Fetch(usize, Option<String>),
}

impl From<AuthError> for Fail {
    fn from(e: AuthError) -> Self {
        Self::Refused(e)
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl JwtVerifier {
    /// A [`JwtAuthenticator`](crate::JwtAuthenticator) over this verifier: `Authorization:
    /// Bearer` tokens, the default verified-token cache, claims as JSON (see
    /// [`JwtAuthenticator`](crate::JwtAuthenticator) for the options).
    #[must_use]
    pub fn authenticator(&self) -> crate::JwtAuthenticator {
        crate::JwtAuthenticator::new(self.clone())
    }
    /// A verifier trusting one issuer.
    ///
    /// # Errors
    ///
    /// As [`JwtVerifierBuilder::build`].
    pub fn new(issuer: IssuerConfig) -> Result<Self, ConfigError> {
        Self::builder().issuer(issuer).build()
    }

    /// A builder, for several issuers or a revocation store.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// The trusted issuers.
    #[must_use]
    pub fn issuers(&self) -> &[IssuerConfig] {
        &self.inner.issuers
    }

    /// Verifies `token` completely: length, header, issuer, `typ`, key and signature,
    /// time claims, audience, subject, then deserializes the claims as `C` and checks
    /// revocation. Fetches the issuer's keys if needed (within the JWKS cache's limits).
    ///
    /// # Errors
    ///
    /// 401 (`invalid_token`) for any bad token, 503 when its keys or the revocation store
    /// cannot be reached.
    pub async fn verify<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
    ) -> Result<Claims<C>, AuthError> {
        self.verify_with(token, None).await
    }

    pub(crate) async fn verify_with<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        cache: Option<&VerifiedCache<C>>,
    ) -> Result<Claims<C>, AuthError> {
        match self.step(token, cache, true) {
            Step::Done(result) => result,
            Step::Fetch { issuer, kid } => {
                self.refresh(issuer, kid.as_deref()).await;
                match self.step(token, cache, false) {
                    Step::Done(result) => result,
                    Step::Fetch { .. } => Err(error::unknown_key()),
                }
            }
        }
    }

    /// Refreshes the remote keys of `issuer` for `kid` (static keys have nothing to fetch).
    pub(crate) async fn refresh(&self, issuer: usize, kid: Option<&str>) {
        match &self.inner.issuers[issuer].keys {
            KeySource::Static(_) => {}
            #[cfg(feature = "remote-keys")]
            KeySource::Remote(remote) => remote.refresh_for(kid).await,
        }
        #[cfg(not(feature = "remote-keys"))]
        let _ = kid;
    }

    /// What can be decided without verifying a signature: a token too long or not shaped
    /// like a compact JWS (refused), or a verified-token cache hit (rechecked). Otherwise
    /// [`Quick::Verify`], for [`verify_uncached`](Self::verify_uncached).
    pub(crate) fn quick<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        cache: Option<&VerifiedCache<C>>,
    ) -> Quick<C> {
        if token.len() > self.inner.max_token_length {
            return Quick::Decided(Err(error::too_long()));
        }
        // A compact JWS has dots (an API key has none): refuse such a value before hashing
        // it. `verify_uncached` checks the whole shape on a miss; a hit was verified whole.
        if !token.contains('.') {
            return Quick::Decided(Err(error::malformed()));
        }
        match cache.and_then(|cache| cache.get(token)) {
            Some(hit) => Quick::Decided(self.recheck(hit, now_secs())),
            None => Quick::Verify,
        }
    }

    /// Verifies without waiting: `Fetch` when the issuer's remote keys must be refreshed
    /// first (only when `may_fetch`).
    pub(crate) fn step<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        cache: Option<&VerifiedCache<C>>,
        may_fetch: bool,
    ) -> Step<C> {
        match self.quick(token, cache) {
            Quick::Decided(result) => Step::Done(result),
            Quick::Verify => self.verify_uncached(token, cache, may_fetch),
        }
    }

    /// Verifies a token the cache did not answer for and caches the result.
    pub(crate) fn verify_uncached<C: DeserializeOwned + Send + Sync + 'static>(
        &self,
        token: &str,
        cache: Option<&VerifiedCache<C>>,
        may_fetch: bool,
    ) -> Step<C> {
        let parts = match jws::split(token) {
            Ok(parts) => parts,
            Err(e) => return Step::Done(Err(e)),
        };
        let identity = match self.verify_parts(parts, now_secs(), may_fetch) {
            Ok(identity) => identity,
            Err(Fail::Refused(e)) => return Step::Done(Err(e)),
            Err(Fail::Fetch(issuer, kid)) => return Step::Fetch { issuer, kid },
        };
        if let Some(cache) = cache {
            cache.insert(token, identity.clone());
        }
        Step::Done(self.check_revocation(&identity).map(|()| identity))
    }

    #[cfg_attr(
        not(feature = "remote-keys"),
        allow(unused_variables, reason = "only remote keys are fetched")
    )]
    fn verify_parts<C: DeserializeOwned>(
        &self,
        parts: jws::Parts<'_>,
        now: i64,
        may_fetch: bool,
    ) -> Result<Claims<C>, Fail> {
        let inner = &*self.inner;
        let header = jws::parse_header(parts.header)?;
        let payload = jws::b64_decode(parts.payload)?;
        let registered = claims::parse(&payload, &inner.extra_names)?;
        let iss = registered
            .iss
            .as_deref()
            .ok_or_else(|| error::missing_claim("iss"))?;
        let index = inner
            .issuers
            .iter()
            .position(|cfg| *cfg.issuer == *iss)
            .ok_or_else(error::issuer)?;
        let cfg = &inner.issuers[index];
        check_typ(cfg, header.typ.as_deref())?;
        match &cfg.keys {
            KeySource::Static(keys) => {
                jws::verify_signature(keys, &header, parts)
                    .map_err(|e| e.unwrap_or_else(error::unknown_key))?;
            }
            #[cfg(feature = "remote-keys")]
            KeySource::Remote(remote) => {
                let kid = header.kid.as_deref();
                remote.start();
                let outcome = match &*remote.keys() {
                    Some(keys) => jws::verify_signature(keys, &header, parts),
                    None => Err(None),
                };
                match outcome {
                    Ok(()) => {}
                    Err(Some(e)) => return Err(e.into()),
                    Err(None) if may_fetch && (remote.fetching() || remote.may_fetch_for(kid)) => {
                        return Err(Fail::Fetch(index, header.kid));
                    }
                    Err(None) if remote.keys().is_none() => {
                        return Err(error::keys_unavailable().into());
                    }
                    Err(None) => return Err(error::unknown_key().into()),
                }
            }
        }
        check_claims(cfg, &registered, now)?;
        let claims: C = serde_json::from_slice(&payload).map_err(|_| error::claims_shape())?;
        Ok(self.identity(index, registered, claims))
    }

    fn identity<C>(&self, index: usize, registered: Registered, claims: C) -> Claims<C> {
        let cfg = &self.inner.issuers[index];
        let ExtraSlots {
            roles: roles_slot,
            tenant: tenant_slot,
            scopes: scopes_slot,
        } = self.inner.extra_slots[index];
        let Registered {
            sub,
            exp,
            iat,
            jti,
            scopes,
            jkt,
            x5t,
            extras,
            ..
        } = registered;
        let (exp, iat) = (exp.unwrap_or_default(), iat.unwrap_or_default());
        let scopes = match (scopes_slot, &cfg.scopes_claim) {
            (Some(slot), Some(path)) => extras[slot].as_ref().map_or_else(Vec::new, |value| {
                let rest: Vec<&str> = path[1..].iter().map(String::as_str).collect();
                claims::strings_at(value, &rest)
            }),
            _ => scopes,
        };
        let mut principal = Principal::new(sub.unwrap_or_default(), AuthMethod::Jwt)
            .with_scopes(scopes)
            .with_expires_at(identity::to_system_time(exp));
        if let (Some(slot), Some(path)) = (roles_slot, &cfg.roles_claim)
            && let Some(value) = &extras[slot]
        {
            let rest: Vec<&str> = path[1..].iter().map(String::as_str).collect();
            principal = principal.with_roles(claims::strings_at(value, &rest));
        }
        if let (Some(slot), Some(path)) = (tenant_slot, &cfg.tenant_claim)
            && let Some(value) = &extras[slot]
        {
            let mut value = value;
            for segment in &path[1..] {
                value = value.get(segment).unwrap_or(&serde_json::Value::Null);
            }
            if let Some(tenant) = value.as_str() {
                principal = principal.with_tenant(tenant);
            }
        }
        Claims::new(identity::Parts {
            principal,
            claims,
            issuer: cfg.issuer.clone(),
            jti,
            jkt,
            x5t,
            issued_at: iat,
            expires_at: exp,
            issuer_index: index,
        })
    }

    /// What a cache hit still checks: expiry, maximum age, revocation.
    fn recheck<C>(&self, hit: Claims<C>, now: i64) -> Result<Claims<C>, AuthError> {
        let cfg = &self.inner.issuers[hit.issuer_index()];
        if now.saturating_sub(cfg.leeway) >= hit.exp_secs() {
            return Err(error::expired());
        }
        if let Some(max_age) = cfg.max_age
            && now.saturating_sub(hit.iat_secs()) > max_age.saturating_add(cfg.leeway)
        {
            return Err(error::too_old());
        }
        self.check_revocation(&hit)?;
        Ok(hit)
    }

    fn check_revocation<C>(&self, identity: &Claims<C>) -> Result<(), AuthError> {
        let Some(store) = &self.inner.revocation else {
            return Ok(());
        };
        let token = TokenRef {
            issuer: identity.issuer(),
            jti: identity.jti(),
            subject: identity.subject(),
            issued_at: identity.issued_at(),
        };
        match store.check(&token) {
            RevocationStatus::Active => Ok(()),
            RevocationStatus::Revoked => Err(error::revoked()),
            _ => Err(error::revocation_unavailable()),
        }
    }
}
