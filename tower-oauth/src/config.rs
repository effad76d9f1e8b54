//! [`OAuthClientBuilder`]: providers, cookie key, store, timeouts and the user-mapping hook.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{ConfigError, ConfigErrorKind};
use oauth2::RedirectUrl;
use url::Url;

use crate::client::{Inner, MapUserError, Mapper, OAuthClient};
use crate::cookies::CookiePolicy;
use crate::http_client::{CappedClient, DEFAULT_MAX_BODY, default_client};
use crate::keys::{CookieKeys, MAX_KEYS};
use crate::provider::{Provider, ProviderIdentity, ProviderState};
use crate::session::SessionUser;
use crate::session::decoded::{self, DecodedSessions};
use crate::session::sessions::Sessions;
use crate::store::{MemorySessionStore, SessionStore};
use crate::tokens::RefreshFlights;

/// Builds an [`OAuthClient`]. Start with [`OAuthClient::builder`].
#[must_use]
pub struct OAuthClientBuilder<U> {
    public_url: String,
    cookie_keys: Vec<Vec<u8>>,
    providers: Vec<Provider>,
    store: Option<Arc<dyn SessionStore>>,
    mapper: Option<Mapper<U>>,
    http: Option<reqwest::Client>,
    max_response_bytes: usize,
    idle_timeout: Duration,
    absolute_timeout: Duration,
    transaction_ttl: Duration,
    route_prefix: String,
    after_logout: String,
    insecure_http: bool,
}

impl<U> std::fmt::Debug for OAuthClientBuilder<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClientBuilder")
            .field("public_url", &self.public_url)
            .field("cookie_keys", &self.cookie_keys.len())
            .field("providers", &self.providers)
            .field("store", &self.store)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("transaction_ttl", &self.transaction_ttl)
            .field("insecure_http", &self.insecure_http)
            .finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, message: &'static str) -> ConfigError {
    ConfigError::new(ConfigErrorKind::InvalidValue, field, message)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The cookie keys: one to [`MAX_KEYS`], each at least 64 bytes.
fn cookie_keys(keys: &[Vec<u8>]) -> Result<CookieKeys, ConfigError> {
    if keys.len() > MAX_KEYS {
        return Err(invalid("cookie_key", "at most 8 cookie keys"));
    }
    let keys = keys
        .iter()
        .map(|key| {
            cookie::Key::try_from(key.as_slice()).map_err(|_| {
                ConfigError::new(
                    ConfigErrorKind::WeakKey,
                    "cookie_key",
                    "needs at least 64 bytes",
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    CookieKeys::new(keys).ok_or_else(|| {
        ConfigError::new(
            ConfigErrorKind::Missing,
            "cookie_key",
            "a cookie key is required",
        )
    })
}

/// A provider endpoint must be `https`, or `http` on a loopback address (a local provider).
pub(crate) fn check_endpoint(endpoint: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(endpoint).map_err(|_| invalid("endpoint", "not a URL"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(invalid("endpoint", "must be https (http only on loopback)")),
    }
}

impl<U: SessionUser> OAuthClientBuilder<U> {
    pub(crate) fn new(public_url: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            cookie_keys: Vec::new(),
            providers: Vec::new(),
            store: None,
            mapper: None,
            http: None,
            max_response_bytes: DEFAULT_MAX_BODY,
            idle_timeout: Duration::from_secs(2 * 3600),
            absolute_timeout: Duration::from_secs(24 * 3600),
            transaction_ttl: Duration::from_secs(600),
            route_prefix: "/oauth".to_owned(),
            after_logout: "/".to_owned(),
            insecure_http: false,
        }
    }

    /// The key encrypting transaction cookies and the provider tokens kept in sessions:
    /// 64 bytes or more from a CSPRNG (required). Same as `cookie_keys([key])`.
    pub fn cookie_key(self, key: &[u8]) -> Self {
        self.cookie_keys([key])
    }

    /// Several cookie keys, newest first, for rotating a key without ending the sessions
    /// and logins in progress: everything is sealed with the first key and opened with any
    /// (at most 8 keys, each 64 bytes or more). Replaces the keys set before.
    ///
    /// To rotate: put the new key first and keep the old one second until what it sealed
    /// has expired (the transaction TTL for logins in progress, the absolute session
    /// timeout for the provider tokens of sessions), then remove it. After an exposure,
    /// put a new key first at once: nothing more is sealed with the exposed key while what
    /// it sealed still opens, and a provider token is sealed again under the new key when
    /// it is refreshed. Removing the exposed key ends what only it can open: logins in
    /// progress fail, and sessions can no longer hand out their provider tokens.
    pub fn cookie_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        self.cookie_keys = keys.into_iter().map(|k| k.as_ref().to_vec()).collect();
        self
    }

    /// Adds a provider; its name must be unique. A client without providers serves the
    /// sessions the application starts itself
    /// ([`start_session`](OAuthClient::start_session)).
    pub fn provider(mut self, provider: Provider) -> Self {
        self.providers.push(provider);
        self
    }

    /// The session store (default: [`MemorySessionStore`]).
    pub fn store(mut self, store: impl SessionStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The hook turning a provider identity into the application's user: look the user up
    /// by (provider or issuer, subject), create it at first login. An error refuses the
    /// login with a generic 403 (denied) or 503 (failed) page. Required with a provider.
    pub fn map_user<F, Fut>(mut self, map: F) -> Self
    where
        F: Fn(ProviderIdentity) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<U, MapUserError>> + Send + 'static,
    {
        self.mapper = Some(Arc::new(move |identity| Box::pin(map(identity))));
        self
    }

    /// The `reqwest` client for provider calls. Default: 10 s timeout, 5 s connect timeout,
    /// no redirects. A client of yours should also refuse redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The largest provider response read (default 256 KiB).
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Sessions end after this long without a request (default 2 h).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sessions end this long after login, used or not (default 24 h).
    pub fn absolute_timeout(mut self, timeout: Duration) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// How long a login attempt may take between the login route and the callback
    /// (default 10 min, at most 1 h).
    pub fn transaction_ttl(mut self, ttl: Duration) -> Self {
        self.transaction_ttl = ttl;
        self
    }

    /// The path the routes live under, used for default redirect URIs (default `/oauth`).
    pub fn route_prefix(mut self, prefix: &str) -> Self {
        prefix
            .trim_end_matches('/')
            .clone_into(&mut self.route_prefix);
        self
    }

    /// Where logout redirects (a same-origin path, default `/`).
    pub fn after_logout(mut self, path: &str) -> Self {
        path.clone_into(&mut self.after_logout);
        self
    }

    /// Development only: allow a plain `http://` public URL on a loopback address. Cookies
    /// then lose `Secure` and the `__Host-` prefix (browsers refuse both over http). Refused
    /// for any non-loopback host.
    pub fn insecure_http_loopback(mut self) -> Self {
        self.insecure_http = true;
        self
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    /// A missing or short cookie key (or more than 8), a duplicate or malformed provider
    /// name, a provider without a mapping hook, an `http` public URL without the loopback opt-in, an invalid
    /// issuer or redirect URI, or out-of-range timeouts.
    pub fn build(mut self) -> Result<OAuthClient<U>, ConfigError> {
        let public = Url::parse(&self.public_url)
            .map_err(|_| invalid("public_url", "not an absolute URL"))?;
        let secure = match public.scheme() {
            "https" => true,
            "http" if self.insecure_http && is_loopback(&public) => {
                tracing::warn!(
                    public_url = %self.public_url,
                    "tower-oauth: insecure development mode, cookies without Secure and __Host-"
                );
                false
            }
            "http" => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    "public_url",
                    "plain http is only allowed on loopback with insecure_http_loopback()",
                ));
            }
            _ => return Err(invalid("public_url", "must be https")),
        };
        let keys = cookie_keys(&self.cookie_keys)?;
        let mapper = self.mapper.take();
        if mapper.is_none() && !self.providers.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "map_user",
                "a user-mapping hook is required with a provider",
            ));
        }
        if self.transaction_ttl.is_zero() || self.transaction_ttl > Duration::from_secs(3600) {
            return Err(invalid("transaction_ttl", "must be between 1 s and 1 h"));
        }
        if self.idle_timeout.is_zero() || self.absolute_timeout.is_zero() {
            return Err(invalid("idle_timeout", "session timeouts must not be zero"));
        }
        if crate::return_to::validate(&self.after_logout).is_none() {
            return Err(invalid("after_logout", "must be a same-origin path"));
        }
        let origin = public.origin().ascii_serialization();
        let mut providers = HashMap::new();
        let providers_config = std::mem::take(&mut self.providers);
        for provider in providers_config {
            let state = self.provider_state(provider)?;
            let name = state.config.name.clone();
            if providers.insert(name, Arc::new(state)).is_some() {
                return Err(invalid("provider", "two providers have the same name"));
            }
        }
        let http = match self.http {
            Some(client) => client,
            None => default_client()
                .map_err(|_| invalid("http_client", "the HTTP client could not be built"))?,
        };
        let policy = CookiePolicy::new(secure);
        let sessions = Sessions {
            store: self
                .store
                .unwrap_or_else(|| Arc::new(MemorySessionStore::new())),
            cookie_name: policy.name("session"),
            policy: policy.clone(),
            idle: self.idle_timeout,
            absolute: self.absolute_timeout,
        };
        Ok(OAuthClient::from_inner(Inner {
            providers,
            sessions: Arc::new(sessions),
            decoded: Arc::new(DecodedSessions::new(decoded::CAPACITY)),
            keys,
            policy,
            origin,
            http: CappedClient::new(http, self.max_response_bytes),
            transaction_ttl: self.transaction_ttl,
            mapper,
            after_logout: self.after_logout,
            refreshes: RefreshFlights::default(),
        }))
    }

    fn provider_state(&self, provider: Provider) -> Result<ProviderState, ConfigError> {
        let name_ok = !provider.name.is_empty()
            && provider.name.len() <= 64
            && provider
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(invalid(
                "provider",
                "names are 1-64 letters, digits, - or _",
            ));
        }
        if provider.client_id.is_empty() || provider.client_secret.is_empty() {
            return Err(invalid("client_id", "client id and secret are required"));
        }
        match &provider.kind {
            crate::provider::ProviderKind::Oidc { issuer } => {
                check_endpoint(issuer)?;
            }
            crate::provider::ProviderKind::GitHub { web, api } => {
                check_endpoint(web)?;
                check_endpoint(api)?;
            }
        }
        let redirect = provider.redirect_uri.clone().unwrap_or_else(|| {
            format!(
                "{}{}/{}/callback",
                self.public_url, self.route_prefix, provider.name
            )
        });
        let parsed =
            Url::parse(&redirect).map_err(|_| invalid("redirect_uri", "not an absolute URL"))?;
        if parsed.fragment().is_some() || !matches!(parsed.scheme(), "https" | "http") {
            return Err(invalid(
                "redirect_uri",
                "must be an http(s) URL without fragment",
            ));
        }
        if let Some(uri) = &provider.post_logout_redirect_uri {
            let ok = Url::parse(uri).is_ok_and(|url| {
                url.fragment().is_none() && matches!(url.scheme(), "https" | "http")
            });
            if !ok {
                return Err(invalid(
                    "post_logout_redirect_uri",
                    "must be an absolute http(s) URL without fragment",
                ));
            }
        }
        Ok(ProviderState::new(provider, RedirectUrl::from_url(parsed)))
    }
}
