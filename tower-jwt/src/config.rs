//! [`IssuerConfig`]: everything needed to trust one issuer's tokens.
//!
//! One configuration per issuer: its exact `iss`, the audiences it may address, the token
//! types (`typ`) accepted, time rules, where roles and the tenant are read, and its keys. A
//! [`JwtVerifier`](crate::JwtVerifier) holds one or several; the token's unverified `iss`
//! only *selects* a configuration, which then checks everything, the signature first.
//!
//! Defaults are strict: `typ` must be `at+jwt` (RFC 9068); `exp`, `nbf`, `iat`, `iss`, `aud`,
//! `sub` and `jti` are required; 30 s of leeway (at most 300 s); every `NumericDate` between 1970
//! and 9999. Optional: a maximum age (`now - iat`) and a maximum lifetime (`exp - iat`).

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ConfigError, ConfigErrorKind};
use jsonwebtoken::Algorithm;

use crate::backend;
#[cfg(feature = "remote-keys")]
use crate::jwks::{JwksOptions, RemoteKeys, RemoteSource};
use crate::key::{Key, KeySet};

/// Default clock leeway.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Largest clock leeway accepted.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub(crate) enum KeySource {
    Static(Arc<KeySet>),
    #[cfg(feature = "remote-keys")]
    Remote(Arc<RemoteKeys>),
}

/// The checked configuration of one trusted issuer. Build it with
/// [`IssuerConfig::builder`] (access tokens), [`IssuerConfig::id_tokens`] or
/// `IssuerConfig::discover` (feature `remote-keys`).
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub(crate) issuer: Arc<str>,
    pub(crate) audiences: Vec<String>,
    pub(crate) typ: Vec<String>,
    pub(crate) allow_missing_typ: bool,
    pub(crate) require_nbf: bool,
    pub(crate) require_jti: bool,
    pub(crate) require_sub: bool,
    pub(crate) leeway: i64,
    pub(crate) max_age: Option<i64>,
    pub(crate) max_lifetime: Option<i64>,
    pub(crate) roles_claim: Option<Vec<String>>,
    pub(crate) tenant_claim: Option<Vec<String>>,
    pub(crate) scopes_claim: Option<Vec<String>>,
    pub(crate) keys: KeySource,
}

impl IssuerConfig {
    /// A builder for access tokens (`typ` `at+jwt`) from `issuer` (its exact `iss`).
    pub fn builder(issuer: impl Into<String>) -> IssuerConfigBuilder {
        IssuerConfigBuilder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            typ: vec!["at+jwt".to_owned()],
            allow_missing_typ: false,
            require_nbf: true,
            require_jti: true,
            require_sub: true,
            leeway: DEFAULT_LEEWAY,
            max_age: None,
            max_lifetime: None,
            roles_claim: None,
            tenant_claim: None,
            scopes_claim: None,
            keys: Vec::new(),
            #[cfg(feature = "remote-keys")]
            remote: None,
            #[cfg(feature = "remote-keys")]
            client: None,
            #[cfg(feature = "remote-keys")]
            jwks_options: JwksOptions::default(),
            error: None,
        }
    }

    /// A builder preset for OpenID Connect ID tokens from `issuer` for `client_id`: the
    /// audience is the client id, `typ` may be `JWT` or absent, `nbf` and `jti` are optional
    /// (ID tokens rarely carry them). Add keys (or, with the `remote-keys` feature,
    /// `oidc_discovery`).
    pub fn id_tokens(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
    ) -> IssuerConfigBuilder {
        Self::builder(issuer)
            .audience(client_id)
            .typ("JWT")
            .allow_missing_typ()
            .allow_missing_nbf()
            .allow_missing_jti()
    }

    /// Runs OpenID Connect discovery (falling back to RFC 8414) for `issuer` now, through
    /// `client`, and returns a builder whose keys come from the discovered `jwks_uri`.
    ///
    /// The metadata's `issuer` must equal `issuer` exactly; a redirect is refused. Pass
    /// [`jwks::default_client`](crate::jwks::default_client) unless you need your own
    /// client. To start even when the provider is down, use
    /// [`IssuerConfigBuilder::oidc_discovery`] instead (lazy, retried).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::Setup`] when the metadata cannot be fetched or does not match.
    #[cfg(feature = "remote-keys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
    pub async fn discover(
        issuer: impl Into<String>,
        client: reqwest::Client,
    ) -> Result<IssuerConfigBuilder, ConfigError> {
        let issuer = issuer.into();
        let options = JwksOptions::default();
        let jwks_uri = crate::jwks::fetch::discover(&client, &issuer, &options)
            .await
            .map_err(|e| ConfigError::new(ConfigErrorKind::Setup, "issuer", e.to_string()))?;
        Ok(Self::builder(issuer)
            .http_client(client)
            .jwks_url(jwks_uri.as_str()))
    }

    /// The issuer (`iss`) this configuration trusts.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences a token must address (one of).
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
}

/// Builds an [`IssuerConfig`]. Setters are named after the setting; the first invalid
/// setting is reported by [`build`](IssuerConfigBuilder::build).
#[derive(Debug)]
#[must_use]
pub struct IssuerConfigBuilder {
    issuer: String,
    audiences: Vec<String>,
    typ: Vec<String>,
    allow_missing_typ: bool,
    require_nbf: bool,
    require_jti: bool,
    require_sub: bool,
    leeway: Duration,
    max_age: Option<Duration>,
    max_lifetime: Option<Duration>,
    roles_claim: Option<String>,
    tenant_claim: Option<String>,
    scopes_claim: Option<String>,
    keys: Vec<Key>,
    #[cfg(feature = "remote-keys")]
    remote: Option<RemoteSpec>,
    #[cfg(feature = "remote-keys")]
    client: Option<reqwest::Client>,
    #[cfg(feature = "remote-keys")]
    jwks_options: JwksOptions,
    error: Option<ConfigError>,
}

#[cfg(feature = "remote-keys")]
#[derive(Debug)]
enum RemoteSpec {
    Url(String),
    Discovery,
}

fn normalise_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

impl IssuerConfigBuilder {
    fn fail(mut self, error: ConfigError) -> Self {
        self.error.get_or_insert(error);
        self
    }

    /// Accept tokens whose `aud` contains `audience` (call again to accept several).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The one `typ` header value accepted (compared case-insensitively, an
    /// `application/` prefix ignored). Default `at+jwt`.
    pub fn typ(mut self, typ: &str) -> Self {
        self.typ = vec![normalise_typ(typ)];
        self
    }

    /// Also accept `typ` (e.g. `JWT` beside `at+jwt`).
    pub fn accept_typ(mut self, typ: &str) -> Self {
        self.typ.push(normalise_typ(typ));
        self
    }

    /// Accept tokens with no `typ` header (ID tokens often have none).
    pub fn allow_missing_typ(mut self) -> Self {
        self.allow_missing_typ = true;
        self
    }

    /// Accept tokens without `nbf` (it is still checked when present).
    pub fn allow_missing_nbf(mut self) -> Self {
        self.require_nbf = false;
        self
    }

    /// Accept tokens without `jti` (or with an empty one). By default a `jti` is required,
    /// as RFC 9068 §2.2 does for access tokens: without one a single token cannot be
    /// revoked, only every token of its subject. ID tokens carry none.
    pub fn allow_missing_jti(mut self) -> Self {
        self.require_jti = false;
        self
    }

    /// Accept tokens without `sub` (or with an empty one), for tokens that may name a
    /// session instead of a user: an OpenID Connect logout token carries `sid`, `sub` or
    /// both (Back-Channel Logout §2.4). The [`Principal`](auth_core::Principal)'s subject is
    /// then empty, so the caller must check what the token names instead. Refused for access
    /// tokens (`typ` `at+jwt`) by [`build`](Self::build).
    pub fn allow_missing_sub(mut self) -> Self {
        self.require_sub = false;
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s, at most 300 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        if leeway > MAX_LEEWAY {
            return self.fail(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "leeway",
                "must be at most 300 s",
            ));
        }
        self.leeway = leeway;
        self
    }

    /// Refuse tokens issued (`iat`) longer than `max_age` ago, whatever their `exp`.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Refuse tokens meant to live longer than `max_lifetime` (`exp - iat`), however
    /// recent: an issuer's mistake or a stolen signing key minting near-eternal tokens is
    /// caught. Default: no limit beyond the year 9999 every `NumericDate` is held to.
    pub fn max_lifetime(mut self, max_lifetime: Duration) -> Self {
        if max_lifetime.is_zero() {
            return self.fail(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "max_lifetime",
                "must be positive",
            ));
        }
        self.max_lifetime = Some(max_lifetime);
        self
    }

    /// Read the principal's roles from this claim: an array of strings or a space-separated
    /// string, top-level or below a dotted path (`realm_access.roles`).
    pub fn roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.roles_claim = Some(claim.into());
        self
    }

    /// Read the principal's tenant from this string claim (dotted paths allowed).
    pub fn tenant_claim(mut self, claim: impl Into<String>) -> Self {
        self.tenant_claim = Some(claim.into());
        self
    }

    /// Read the principal's scopes from this claim instead of the standard ones: an array
    /// of strings or a space-separated string, top-level or below a dotted path. Auth0, for
    /// one, puts API permissions in `permissions`.
    ///
    /// By default scopes come from `scope` (RFC 9068 / RFC 8693: a space-separated string,
    /// an array also accepted) and, when a token has no `scope`, from `scp` (Azure AD, Okta).
    pub fn scopes_claim(mut self, claim: impl Into<String>) -> Self {
        self.scopes_claim = Some(claim.into());
        self
    }

    /// Verify with `key` (call again to add keys).
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Verify with the keys of `keys`.
    pub fn key_set(mut self, keys: KeySet) -> Self {
        self.keys.extend(keys.keys);
        self
    }

    /// Verify HS256 tokens with this secret (refused when shorter than 32 bytes). For HS384
    /// or HS512: `.key(Key::hmac(Algorithm::HS512, secret)?)`.
    pub fn hmac_secret(self, secret: &[u8]) -> Self {
        match Key::hmac(Algorithm::HS256, secret) {
            Ok(key) => self.key(key),
            Err(e) => self.fail(e),
        }
    }

    /// Verify with the keys published at this JWKS URL (https, or http on loopback only),
    /// fetched and refreshed in the background.
    #[cfg(feature = "remote-keys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.remote = Some(RemoteSpec::Url(url.into()));
        self
    }

    /// Find the JWKS URL by OpenID Connect discovery (`/.well-known/openid-configuration`,
    /// then RFC 8414), lazily and retried: the service starts even when the provider is
    /// down and answers 503 until the keys are known.
    #[cfg(feature = "remote-keys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
    pub fn oidc_discovery(mut self) -> Self {
        self.remote = Some(RemoteSpec::Discovery);
        self
    }

    /// The HTTP client used for every discovery and JWKS fetch (its TLS roots, proxy,
    /// user agent). Default: [`jwks::default_client`](crate::jwks::default_client), which
    /// follows no redirects and times out (5 s to connect, 10 s in all). Whatever the
    /// client, an answer reached through a redirect is refused.
    #[cfg(feature = "remote-keys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Timing and size limits of the JWKS cache.
    #[cfg(feature = "remote-keys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote-keys")))]
    pub fn jwks_options(mut self, options: JwksOptions) -> Self {
        self.jwks_options = options;
        self
    }

    /// Where the keys come from: the local keys, or (feature `remote-keys`) a JWKS URL or
    /// discovery, never both.
    fn key_source(&mut self) -> Result<KeySource, ConfigError> {
        #[cfg(feature = "remote-keys")]
        if let Some(spec) = self.remote.take() {
            if !self.keys.is_empty() {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "keys",
                    "use either local keys or a JWKS URL / discovery, not both",
                ));
            }
            return self.remote_keys(spec).map(KeySource::Remote);
        }
        if self.keys.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "keys",
                "no verification key",
            ));
        }
        let keys = std::mem::take(&mut self.keys);
        Ok(KeySource::Static(Arc::new(KeySet::new(keys))))
    }

    /// The remote key cache of `spec`, its URL checked.
    #[cfg(feature = "remote-keys")]
    fn remote_keys(&mut self, spec: RemoteSpec) -> Result<Arc<RemoteKeys>, ConfigError> {
        let source = match spec {
            RemoteSpec::Url(url) => {
                RemoteSource::Jwks(crate::jwks::fetch::checked_url(&url).map_err(|e| {
                    ConfigError::new(ConfigErrorKind::InvalidValue, "jwks_url", e.to_string())
                })?)
            }
            RemoteSpec::Discovery => {
                crate::jwks::fetch::checked_url(&self.issuer).map_err(|e| {
                    ConfigError::new(ConfigErrorKind::InvalidValue, "issuer", e.to_string())
                })?;
                RemoteSource::Discovery
            }
        };
        let client = match self.client.take() {
            Some(client) => client,
            None => crate::jwks::default_client()?,
        };
        Ok(Arc::new(RemoteKeys::new(
            self.issuer.clone(),
            source,
            client,
            std::mem::take(&mut self.jwks_options),
        )))
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// The first invalid setting; [`ConfigErrorKind::Missing`] without an audience or keys;
    /// [`ConfigErrorKind::Unsupported`] without a crypto backend.
    pub fn build(mut self) -> Result<IssuerConfig, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        backend::ensure()?;
        if self.issuer.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "issuer",
                "must not be empty",
            ));
        }
        if self.audiences.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "audience",
                "at least one audience is required",
            ));
        }
        if !self.require_sub && self.typ.iter().any(|typ| typ == "at+jwt") {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "allow_missing_sub",
                "an access token (`typ` `at+jwt`) must name its subject",
            ));
        }
        let keys = self.key_source()?;
        if let Some(claim) = self.scopes_claim.as_deref()
            && matches!(claim.split('.').next(), Some("scope" | "scp"))
        {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "scopes_claim",
                "`scope` and `scp` are read by default: name another claim",
            ));
        }
        let path = |claim: Option<String>| {
            claim.map(|c| c.split('.').map(str::to_owned).collect::<Vec<_>>())
        };
        Ok(IssuerConfig {
            issuer: self.issuer.into(),
            audiences: self.audiences,
            typ: self.typ,
            allow_missing_typ: self.allow_missing_typ,
            require_nbf: self.require_nbf,
            require_jti: self.require_jti,
            require_sub: self.require_sub,
            leeway: i64::try_from(self.leeway.as_secs()).unwrap_or(300),
            max_age: self
                .max_age
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            max_lifetime: self
                .max_lifetime
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            roles_claim: path(self.roles_claim),
            tenant_claim: path(self.tenant_claim),
            scopes_claim: path(self.scopes_claim),
            keys,
        })
    }
}
