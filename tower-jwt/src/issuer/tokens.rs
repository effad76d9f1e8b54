//! The token issuer: signing, refresh rotation, logout, key rotation.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::Header;
use uuid::Uuid;

use super::claims::{
    AccessClaims, Grant, IssueError, IssuedToken, RefreshClaims, TokenPair, from_unix, unix,
};
use super::cookie::RefreshCookie;
use super::family::RefreshFamilyStore;
use super::keys::{KeyRing, SigningKey};
use super::regrant::RegrantHook;
use crate::revocation::RevocationStore;
use crate::time;
use verify::Keys;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The `typ` header of refresh tokens: never accepted where an access token is meant.
pub const REFRESH_TOKEN_TYPE: &str = "rt+jwt";
/// Default access token lifetime: 15 minutes.
pub const DEFAULT_ACCESS_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Default refresh token lifetime: 7 days.
pub const DEFAULT_REFRESH_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default refresh family lifetime: 30 days from the login, however often it is refreshed.
pub const DEFAULT_FAMILY_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Longest access token, refresh token or family lifetime a [`TokenIssuer`] accepts: 10
/// years.
pub const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Longest token accepted by [`TokenIssuer::refresh`] and [`TokenIssuer::logout`], checked
/// before any decoding.
const MAX_TOKEN_LENGTH: usize = 8 * 1024;
const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Issues access and refresh tokens, rotates refresh tokens with reuse detection, logs out,
/// and rotates its signing keys. Cheap to clone (an `Arc` inside). See the
/// [module docs](super).
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    refresh_audience: String,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    family_lifetime: Duration,
    leeway: Duration,
    keys: ArcSwap<Keys>,
    families: Arc<dyn RefreshFamilyStore>,
    regrant: Option<RegrantHook>,
    revocations: Arc<dyn RevocationStore>,
    cookie: RefreshCookie,
}

impl TokenIssuer {
    /// A builder for tokens with `iss` = `issuer` and access-token `aud` = `audience`, signed
    /// by `signing_key`.
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        signing_key: SigningKey,
    ) -> TokenIssuerBuilder {
        let issuer = issuer.into();
        TokenIssuerBuilder {
            refresh_audience: None,
            audience: audience.into(),
            issuer,
            signing_key,
            retired: Vec::new(),
            access_lifetime: DEFAULT_ACCESS_LIFETIME,
            refresh_lifetime: DEFAULT_REFRESH_LIFETIME,
            family_lifetime: DEFAULT_FAMILY_LIFETIME,
            leeway: DEFAULT_LEEWAY,
            families: None,
            regrant: None,
            revocations: None,
            cookie: RefreshCookie::new(),
        }
    }

    /// An access token for `grant` (`typ` `at+jwt`, `kid` of the active key): `iss`, `aud`,
    /// `sub`, `iat`, `nbf`, `exp`, `jti` (UUID v4), `scope` (space-separated, when any) and
    /// the grant's extra claims.
    ///
    /// # Errors
    ///
    /// [`IssueError::Signing`] when the key cannot sign.
    pub fn issue_access(&self, grant: &Grant) -> Result<IssuedToken, IssueError> {
        let inner = &self.inner;
        let now = SystemTime::now();
        let expires_at = time::add(now, inner.access_lifetime);
        let jti = Uuid::new_v4().to_string();
        let claims = AccessClaims {
            iss: &inner.issuer,
            aud: &inner.audience,
            sub: &grant.subject,
            iat: unix(now),
            nbf: unix(now),
            exp: unix(expires_at),
            jti: &jti,
            scope: grant.scope_claim(),
            extra: &grant.extra,
        };
        let token = self.sign(ACCESS_TOKEN_TYPE, &claims)?;
        Ok(IssuedToken {
            token,
            jti,
            expires_at: from_unix(unix(expires_at)),
        })
    }

    /// A new login: an access token and the first refresh token of a new family, which
    /// lives at most the family lifetime from now (its `auth_time`).
    ///
    /// # Errors
    ///
    /// [`IssueError`] when signing or the family store fails.
    pub async fn issue(&self, grant: &Grant) -> Result<TokenPair, IssueError> {
        let family = Uuid::new_v4().to_string();
        let now = SystemTime::now();
        // Whole seconds, as `auth_time` carries it.
        let (refresh, _) = self.issue_refresh(grant, &family, from_unix(unix(now)))?;
        // The store's deadline from the precise instant: a full memory store then drops
        // the oldest of the logins of one second first.
        let until = time::add(self.family_end(now), self.inner.leeway);
        self.inner
            .families
            .start(&family, &refresh.jti, until)
            .await?;
        let access = self.issue_access(grant)?;
        Ok(TokenPair {
            access,
            refresh,
            family,
        })
    }

    /// Makes `key` the signer. The previous signer is kept for verification (and in
    /// [`jwks`](Self::jwks)) for a refresh lifetime plus leeway, until every token it signed
    /// has expired; older retired keys past that are dropped.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] when a live key already has this `kid`.
    pub fn rotate_key(&self, key: SigningKey) -> Result<(), ConfigError> {
        let now = SystemTime::now();
        let current = self.inner.keys.load_full();
        let current = &current.ring;
        if current.contains(key.kid(), now) {
            return Err(duplicate_kid());
        }
        let mut retired: Vec<_> = current
            .retired
            .iter()
            .filter(|(_, until)| *until > now)
            .cloned()
            .collect();
        let keep_until = time::add(
            now,
            self.inner
                .refresh_lifetime
                .saturating_add(self.inner.leeway),
        );
        retired.push((Arc::clone(&current.active), keep_until));
        let ring = KeyRing {
            active: Arc::new(key),
            retired,
        };
        let keys = Keys::new(ring, &self.rules(), now)?;
        self.inner.keys.store(Arc::new(keys));
        Ok(())
    }

    /// The JWK set of the public halves of every live asymmetric key (`{"keys": [...]}`), to
    /// publish at the JWKS URL verifiers fetch. HMAC secrets are never included.
    #[must_use]
    pub fn jwks(&self) -> serde_json::Value {
        let keys = self.inner.keys.load();
        let keys: Vec<serde_json::Value> = keys
            .ring
            .live(SystemTime::now())
            .filter_map(SigningKey::public_jwk)
            .filter_map(|jwk| serde_json::to_value(jwk).ok())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The refresh cookie for `refresh` (see [`RefreshCookie`]), `Max-Age` = the refresh
    /// lifetime.
    #[must_use]
    pub fn refresh_cookie(&self, refresh: &IssuedToken) -> cookie::Cookie<'static> {
        self.inner
            .cookie
            .build(refresh.as_str(), self.inner.refresh_lifetime)
    }

    /// The cookie settings: [`RefreshCookie::read`] to read it back, its removal cookie at
    /// logout.
    pub fn cookie_config(&self) -> &RefreshCookie {
        &self.inner.cookie
    }

    /// The revocation store logout writes to; give the same store to the verifier.
    #[must_use]
    pub fn revocation_store(&self) -> Arc<dyn RevocationStore> {
        Arc::clone(&self.inner.revocations)
    }

    /// The `iss` of issued tokens.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `aud` of access tokens.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The `aud` of refresh tokens.
    #[must_use]
    pub fn refresh_audience(&self) -> &str {
        &self.inner.refresh_audience
    }

    /// A refresh token of `family`, whose login happened at `authenticated_at`, and until
    /// when the family store must remember the family: its end plus the leeway. The token
    /// never outlives its family.
    fn issue_refresh(
        &self,
        grant: &Grant,
        family: &str,
        authenticated_at: SystemTime,
    ) -> Result<(IssuedToken, SystemTime), IssueError> {
        let inner = &self.inner;
        let now = SystemTime::now();
        let family_end = self.family_end(authenticated_at);
        let expires_at = time::add(now, inner.refresh_lifetime).min(family_end);
        let claims = RefreshClaims {
            iss: inner.issuer.clone(),
            aud: inner.refresh_audience.clone(),
            sub: grant.subject.clone(),
            iat: unix(now),
            nbf: unix(now),
            exp: unix(expires_at),
            jti: Uuid::new_v4().to_string(),
            fid: family.to_owned(),
            auth_time: unix(authenticated_at),
            scope: grant.scope_claim(),
            ext: grant.extra.clone(),
        };
        let token = self.sign(REFRESH_TOKEN_TYPE, &claims)?;
        let issued = IssuedToken {
            token,
            jti: claims.jti,
            expires_at: from_unix(claims.exp),
        };
        Ok((issued, time::add(family_end, inner.leeway)))
    }

    fn sign(&self, typ: &str, claims: &impl serde::Serialize) -> Result<String, IssueError> {
        let keys = self.inner.keys.load();
        let key = &keys.ring.active;
        let mut header = Header::new(key.algorithm());
        header.typ = Some(typ.to_owned());
        header.kid = Some(key.kid().to_owned());
        Ok(jsonwebtoken::encode(&header, claims, key.encoding())?)
    }
}

fn duplicate_kid() -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::InvalidValue,
        "kid",
        "a live signing key already has this `kid`",
    )
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("TokenIssuer")
            .field("issuer", &inner.issuer)
            .field("audience", &inner.audience)
            .field("refresh_audience", &inner.refresh_audience)
            .field("access_lifetime", &inner.access_lifetime)
            .field("refresh_lifetime", &inner.refresh_lifetime)
            .field("active_kid", &inner.keys.load().ring.active.kid())
            .finish_non_exhaustive()
    }
}

mod builder;
mod session;
mod verify;
pub use builder::TokenIssuerBuilder;
