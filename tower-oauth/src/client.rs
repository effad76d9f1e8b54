//! [`OAuthClient`]: the providers, the login routes and the sessions.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, AuthLayer, ConfigError, ConfigErrorKind, StoreError, StoreErrorKind};
use cookie::Cookie;
use http::HeaderMap;

use crate::config::OAuthClientBuilder;
use crate::cookies::CookiePolicy;
use crate::flow::response::{OAuthResponse, see_other};
use crate::http_client::CappedClient;
use crate::keys::CookieKeys;
use crate::provider::{DiscoveryError, ProviderIdentity, ProviderState};
use crate::random;
use crate::session::decoded::DecodedSessions;
use crate::session::record::{ProviderTokens, RECORD_VERSION, SessionRecord, unix_now};
use crate::session::sessions::{self, Sessions};
use crate::session::{OAuthSession, SessionAuthenticator, SessionUser};
use crate::tokens::RefreshFlights;

/// The user-mapping hook, boxed.
pub(crate) type Mapper<U> = Arc<
    dyn Fn(ProviderIdentity) -> Pin<Box<dyn Future<Output = Result<U, MapUserError>> + Send>>
        + Send
        + Sync,
>;

/// [`AuthLayer`] over a [`SessionAuthenticator`].
pub type SessionLayer<U> = AuthLayer<SessionAuthenticator<U>>;

/// Why the user-mapping hook refused a login. The message goes to logs, never to the
/// browser.
#[derive(Debug, Clone)]
pub struct MapUserError {
    denied: bool,
    message: String,
}

impl MapUserError {
    /// This identity may not log in (403).
    pub fn denied(message: impl Into<String>) -> Self {
        Self {
            denied: true,
            message: message.into(),
        }
    }

    /// The user could not be looked up or created (503).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            denied: false,
            message: message.into(),
        }
    }

    pub(crate) fn is_denied(&self) -> bool {
        self.denied
    }
}

impl fmt::Display for MapUserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MapUserError {}

pub(crate) struct Inner<U> {
    pub(crate) providers: HashMap<String, Arc<ProviderState>>,
    pub(crate) sessions: Arc<Sessions>,
    /// Session records decoded for this client's user type (see `session/decoded.rs`).
    pub(crate) decoded: Arc<DecodedSessions<U>>,
    pub(crate) keys: CookieKeys,
    pub(crate) policy: CookiePolicy,
    pub(crate) origin: String,
    pub(crate) http: CappedClient,
    pub(crate) transaction_ttl: Duration,
    /// Required when there is a provider.
    pub(crate) mapper: Option<Mapper<U>>,
    pub(crate) after_logout: String,
    /// The provider-token refreshes in flight, one per session.
    pub(crate) refreshes: RefreshFlights,
}

/// "Log in with ...": several providers, the login routes, and the sessions they create.
/// Cheap to clone.
///
/// Routes (see [`routes`](Self::routes)): `GET {prefix}/{provider}/login?return_to=/path`,
/// `GET {prefix}/{provider}/callback`, `POST {prefix}/logout`. Sessions:
/// [`layer`](Self::layer).
pub struct OAuthClient<U> {
    pub(crate) inner: Arc<Inner<U>>,
}

impl<U> Clone for OAuthClient<U> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U> fmt::Debug for OAuthClient<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.inner.providers.keys().collect();
        names.sort();
        f.debug_struct("OAuthClient")
            .field("providers", &names)
            .field("origin", &self.inner.origin)
            .field("store", &self.inner.sessions.store)
            .finish_non_exhaustive()
    }
}

impl<U: SessionUser> OAuthClient<U> {
    /// Starts a builder. `public_url` is the application's external origin
    /// (`https://app.example.com`); redirect URIs default to
    /// `{public_url}/oauth/{provider}/callback`.
    pub fn builder(public_url: &str) -> OAuthClientBuilder<U> {
        OAuthClientBuilder::new(public_url)
    }

    pub(crate) fn from_inner(inner: Inner<U>) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The names of the configured providers, sorted.
    #[must_use]
    pub fn provider_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.inner.providers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The session cookie's name (`__Host-session`, or `session` in development mode).
    #[must_use]
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.sessions.cookie_name
    }

    /// The authenticator reading session cookies.
    #[must_use]
    pub fn authenticator(&self) -> SessionAuthenticator<U> {
        SessionAuthenticator::new(
            Arc::clone(&self.inner.sessions),
            Arc::clone(&self.inner.decoded),
        )
    }

    /// `AuthLayer::new(self.authenticator())`: 401 JSON when anonymous (API
    /// routes). For browser routes, add `.on_rejection(LoginRedirect::to("/"))`; for pages
    /// serving anonymous users too, `.optional()`.
    #[must_use]
    pub fn layer(&self) -> SessionLayer<U> {
        AuthLayer::new(self.authenticator())
    }

    /// Resolves every provider now instead of at its first login: fetches and checks each
    /// OpenID provider's discovery document, so an application can refuse to start with a
    /// provider it would refuse at login. Providers resolved once stay resolved.
    ///
    /// # Errors
    /// [`ConfigErrorKind::InvalidValue`] for a provider whose metadata is refused (issuer
    /// not exactly the configured one, no PKCE `S256` in `code_challenge_methods_supported`,
    /// an endpoint that is not `https`), [`ConfigErrorKind::Setup`] for one that cannot be
    /// reached or answers no usable document. The message names the provider.
    pub async fn discover(&self) -> Result<(), ConfigError> {
        let mut names: Vec<&String> = self.inner.providers.keys().collect();
        names.sort_unstable();
        for name in names {
            let provider = &self.inner.providers[name];
            if let Err(error) = provider.resolve(&self.inner.http).await {
                let kind = match error {
                    DiscoveryError::Fetch(_) => ConfigErrorKind::Setup,
                    _ => ConfigErrorKind::InvalidValue,
                };
                return Err(ConfigError::new(
                    kind,
                    "provider",
                    format!("{name}: {error}"),
                ));
            }
        }
        Ok(())
    }

    /// Ends `session` server-side (the application checked its CSRF token).
    ///
    /// # Errors
    /// 503 when the store cannot be reached.
    pub async fn destroy(&self, session: &OAuthSession<U>) -> Result<(), AuthError> {
        Ok(self.inner.sessions.destroy(session.key()).await?)
    }

    /// Starts a session for `user`, whom the application authenticated itself (a password
    /// login, say), and answers 303 to `return_to` with its cookie.
    ///
    /// It is the same session an OAuth login creates, without provider tokens: a fresh id
    /// (the session the request's cookie names, if any, is destroyed first: no fixation),
    /// a new CSRF token, the same cookie attributes and timeouts, and the same logout. Call
    /// it only once the user is authenticated, from a `POST` your application checked.
    ///
    /// ```
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Clone, Debug, Serialize, Deserialize)] struct User { id: String }
    /// # impl tower_oauth::SessionUser for User { fn subject(&self) -> String { self.id.clone() } }
    /// use tower_oauth::OAuthClient;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // No provider: sessions for the application's own logins only.
    /// let client = OAuthClient::<User>::builder("https://app.example.com")
    ///     .cookie_key(&[7; 64])
    ///     .build()
    ///     .unwrap();
    /// let request = http::HeaderMap::new();
    /// let res = client
    ///     .start_session(&request, User { id: "alice".into() }, "/dashboard")
    ///     .await
    ///     .unwrap();
    /// assert_eq!(res.status(), 303);
    /// assert_eq!(res.headers()["location"], "/dashboard");
    /// assert!(res.headers()["set-cookie"].to_str().unwrap().starts_with("__Host-session="));
    /// # });
    /// ```
    ///
    /// # Errors
    /// 403 for a cross-origin request (see [`check_origin`](Self::check_origin): a login
    /// CSRF); 400 when `return_to` is not a same-origin path; 503 when the store cannot be
    /// reached.
    pub async fn start_session(
        &self,
        request: &HeaderMap,
        user: U,
        return_to: &str,
    ) -> Result<OAuthResponse, AuthError> {
        self.check_origin(request)?;
        let return_to = crate::return_to::validate(return_to)
            .ok_or_else(|| AuthError::invalid_request("return_to must be a same-origin path"))?;
        let cookie = self.begin(request, user, None).await?;
        Ok(see_other(&return_to, &[cookie]))
    }

    /// Refuses a cross-origin form post: an `Origin` other than the public URL's, or
    /// `Sec-Fetch-Site: cross-site`, is 403 (the check logout and
    /// [`start_session`](Self::start_session) make). Call it before checking a password, so
    /// a cross-site login attempt costs nothing and learns nothing.
    ///
    /// # Errors
    /// 403 for a cross-origin request.
    pub fn check_origin(&self, request: &HeaderMap) -> Result<(), AuthError> {
        if crate::cookies::cross_origin(request, &self.inner.origin) {
            return Err(AuthError::forbidden("cross-origin request").with_reason("cross_origin"));
        }
        Ok(())
    }

    /// Starts a session for `user` (logged in by `login`, or by the application), after
    /// destroying the one the request's cookie names; returns its cookie.
    pub(crate) async fn begin(
        &self,
        request: &HeaderMap,
        user: U,
        login: Option<ProviderLogin>,
    ) -> Result<Cookie<'static>, StoreError> {
        let sessions = &self.inner.sessions;
        // No fixation: whatever session this browser had is destroyed, the new one gets a
        // fresh id.
        if let Some(previous) = sessions.read_id(request) {
            sessions.destroy(&Sessions::key(previous)).await?;
        }
        let (id, key) = Sessions::new_id();
        let mut record = SessionRecord {
            v: RECORD_VERSION,
            subject: user.subject(),
            scopes: user.scopes(),
            roles: user.roles(),
            user,
            provider: None,
            csrf: random::token(),
            created_at: unix_now(),
            expires_at: sessions.expiry_from_now(),
            tokens: None,
            sid: None,
        };
        let mut tags = Vec::new();
        if let Some(login) = login {
            let sealed = login.tokens.seal(&self.inner.keys, &key).ok_or_else(|| {
                StoreError::new(
                    StoreErrorKind::Corrupt,
                    "the provider tokens could not be sealed",
                )
            })?;
            record.tokens = Some(sealed);
            if let Some(oidc) = login.oidc {
                if let Some(sid) = &oidc.sid {
                    tags.push(sessions::sid_tag(&login.provider, sid));
                }
                tags.push(sessions::sub_tag(&login.provider, &oidc.sub));
                record.sid = oidc.sid;
            }
            record.provider = Some(login.provider);
        }
        sessions.create(id, &record, &tags).await
    }
}

/// What a provider login adds to the session it starts.
pub(crate) struct ProviderLogin {
    pub(crate) provider: String,
    pub(crate) tokens: ProviderTokens,
    /// The OpenID identity a back-channel logout names; `None` for GitHub.
    pub(crate) oidc: Option<OidcSession>,
}

/// The OpenID provider's session (`sid`, when it sends one) and user (`sub`).
pub(crate) struct OidcSession {
    pub(crate) sid: Option<String>,
    pub(crate) sub: String,
}
