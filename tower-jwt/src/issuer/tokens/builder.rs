//! Building a [`TokenIssuer`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use auth_core::{ConfigError, ConfigErrorKind};

use super::verify::{Keys, Rules};
use super::{Inner, KeyRing, MAX_LEEWAY, MAX_LIFETIME, TokenIssuer, duplicate_kid};
use crate::issuer::cookie::RefreshCookie;
use crate::issuer::family::{MemoryRefreshFamilyStore, RefreshFamilyStore};
use crate::issuer::keys::SigningKey;
use crate::issuer::regrant::{self, RegrantHook, Shown};
use crate::issuer::{RefreshError, Regrant};
use crate::revocation::{MemoryRevocationStore, RevocationStore};

/// Builds a [`TokenIssuer`]; see [`TokenIssuer::builder`].
#[must_use]
pub struct TokenIssuerBuilder {
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) refresh_audience: Option<String>,
    pub(super) signing_key: SigningKey,
    pub(super) retired: Vec<(SigningKey, SystemTime)>,
    pub(super) access_lifetime: Duration,
    pub(super) refresh_lifetime: Duration,
    pub(super) family_lifetime: Duration,
    pub(super) leeway: Duration,
    pub(super) families: Option<Arc<dyn RefreshFamilyStore>>,
    pub(super) regrant: Option<RegrantHook>,
    pub(super) revocations: Option<Arc<dyn RevocationStore>>,
    pub(super) cookie: RefreshCookie,
}

impl std::fmt::Debug for TokenIssuerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuerBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("signing_key", &self.signing_key)
            .field("family_lifetime", &self.family_lifetime)
            .field("regrant", &Shown(&self.regrant))
            .finish_non_exhaustive()
    }
}

impl TokenIssuerBuilder {
    /// The `aud` of refresh tokens. Default: the issuer itself (the refresh token is presented
    /// back to it). Must differ from the access-token audience.
    pub fn refresh_audience(mut self, audience: impl Into<String>) -> Self {
        self.refresh_audience = Some(audience.into());
        self
    }

    /// Keeps an older key for verification (and in the JWKS) until `until`, e.g. the key
    /// that signed before a restart with a new key: its refresh tokens still work.
    pub fn retired_key(mut self, key: SigningKey, until: SystemTime) -> Self {
        self.retired.push((key, until));
        self
    }

    /// Access token lifetime (default 15 minutes, at most [`MAX_LIFETIME`]).
    pub fn access_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_lifetime = lifetime;
        self
    }

    /// Refresh token lifetime (default 7 days, at most [`MAX_LIFETIME`]); each refresh
    /// starts a new one.
    pub fn refresh_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_lifetime = lifetime;
        self
    }

    /// How long one login's refresh family lives, from the login (its `auth_time`), however
    /// often it is refreshed (default 30 days, at most [`MAX_LIFETIME`]). No refresh token
    /// outlives it; past it [`TokenIssuer::refresh`] answers
    /// [`RefreshError::SessionExpired`](crate::issuer::RefreshError::SessionExpired) (401) and
    /// the user signs in again. The family stores forget a family at its end.
    pub fn family_lifetime(mut self, lifetime: Duration) -> Self {
        self.family_lifetime = lifetime;
        self
    }

    /// Re-checks the user's grant at every refresh: `hook` is given the subject, its current
    /// scopes and its login ([`Regrant`]) and answers the scopes to grant now (they replace
    /// the old ones in the new tokens), or refuses. A refusal other than
    /// [`RefreshError::Unavailable`](crate::issuer::RefreshError::Unavailable) (503, retried
    /// with the same token) revokes the family; answer
    /// [`RefreshError::Denied`](crate::issuer::RefreshError::Denied) for a user who lost
    /// access. Without a hook the new tokens copy the old one's scopes.
    ///
    /// ```
    /// use tower_jwt::issuer::{Grant, RefreshError, SigningKey, TokenIssuer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let key = SigningKey::hs256("k1", b"an HS256 secret of at least 32 bytes!")?;
    /// let issuer = TokenIssuer::builder("https://auth.example.com", "https://api.example.com", key)
    ///     .regrant(|request| async move {
    ///         match request.subject.as_str() {
    ///             "mallory" => Err(RefreshError::Denied),                  // disabled meanwhile
    ///             _ => Ok(vec!["orders:read".to_owned()]),                 // what is granted today
    ///         }
    ///     })
    ///     .build()?;
    /// let login = issuer.issue(&Grant::new("alice").scope(["orders:read", "orders:write"])).await?;
    /// let renewed = issuer.refresh(login.refresh.as_str()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn regrant<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Regrant) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, RefreshError>> + Send + 'static,
    {
        self.regrant = Some(regrant::boxed(hook));
        self
    }

    /// Clock skew tolerated when verifying refresh tokens, and added to what stores keep
    /// (default 30 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where refresh families live (default: [`MemoryRefreshFamilyStore`], one process).
    pub fn family_store(mut self, store: Arc<dyn RefreshFamilyStore>) -> Self {
        self.families = Some(store);
        self
    }

    /// Where logout records revoked access tokens, and what refresh tokens are checked
    /// against; give the verifier the same store. Its leeway must be at least this issuer's.
    /// Default: a new [`MemoryRevocationStore`] with this issuer's leeway, see
    /// [`TokenIssuer::revocation_store`].
    pub fn revocation_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = Some(store);
        self
    }

    /// How the refresh cookie is built and read (default: [`RefreshCookie::new`],
    /// `__Host-refresh_token` with `Path=/`).
    pub fn refresh_cookie(mut self, cookie: RefreshCookie) -> Self {
        self.cookie = cookie;
        self
    }

    /// Builds the issuer.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty issuer or audience, equal access and refresh audiences, a
    /// zero lifetime or one above [`MAX_LIFETIME`], a leeway above 300 s, two keys with one
    /// `kid`, a revocation store whose leeway is shorter than this issuer's, or a refresh
    /// cookie browsers would refuse (a `__Host-` name with a `Path` other than `/`).
    pub fn build(self) -> Result<TokenIssuer, ConfigError> {
        crate::backend::ensure()?;
        let invalid = |field, message| {
            Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                field,
                message,
            ))
        };
        if self.issuer.is_empty() {
            return invalid("issuer", "must not be empty");
        }
        if self.audience.is_empty() {
            return invalid("audience", "must not be empty");
        }
        let refresh_audience = self.refresh_audience.unwrap_or_else(|| self.issuer.clone());
        if refresh_audience == self.audience {
            return invalid(
                "refresh_audience",
                "must differ from the access token audience",
            );
        }
        let lifetimes = [
            self.access_lifetime,
            self.refresh_lifetime,
            self.family_lifetime,
        ];
        if lifetimes.iter().any(Duration::is_zero) {
            return invalid("lifetime", "token and family lifetimes must be positive");
        }
        if lifetimes.iter().any(|lifetime| *lifetime > MAX_LIFETIME) {
            return invalid(
                "lifetime",
                "token and family lifetimes must be at most 10 years",
            );
        }
        if self.leeway > MAX_LEEWAY {
            return invalid("leeway", "must be at most 300 s");
        }
        self.cookie.check()?;
        let now = SystemTime::now();
        let mut ring = KeyRing {
            active: Arc::new(self.signing_key),
            retired: Vec::new(),
        };
        for (key, until) in self.retired {
            if ring.contains(key.kid(), now) {
                return Err(duplicate_kid());
            }
            ring.retired.push((Arc::new(key), until));
        }
        let families = self
            .families
            .unwrap_or_else(|| Arc::new(MemoryRefreshFamilyStore::new()));
        let revocations = match self.revocations {
            Some(store) => store,
            None => Arc::new(
                MemoryRevocationStore::builder()
                    .leeway(self.leeway)
                    .build()?,
            ),
        };
        let keys = Keys::new(
            ring,
            &Rules {
                issuer: &self.issuer,
                audience: &self.audience,
                refresh_audience: &refresh_audience,
                leeway: self.leeway,
                revocations: &revocations,
            },
            now,
        )?;
        Ok(TokenIssuer {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audience: self.audience,
                refresh_audience,
                access_lifetime: self.access_lifetime,
                refresh_lifetime: self.refresh_lifetime,
                family_lifetime: self.family_lifetime,
                leeway: self.leeway,
                keys: ArcSwap::from_pointee(keys),
                families,
                regrant: self.regrant,
                revocations,
                cookie: self.cookie,
            }),
        })
    }
}
