//! Providers: any OpenID Connect provider through discovery, and presets for GitHub (plain
//! OAuth 2.0) and Google (OpenID Connect).
//!
//! A [`Provider`] is configuration only. Its endpoints are resolved at the first login
//! (discovery for OpenID providers), so an application starts while its identity provider
//! is down and answers 503 on the login route until the provider is back.

mod discovery;
pub(crate) mod github;
mod resolved;

use std::fmt;

use serde_json::Value;

pub(crate) use discovery::DiscoveryError;
pub(crate) use resolved::{ProviderState, Resolved};

/// GitHub's web origin (authorize and token endpoints).
const GITHUB_WEB: &str = "https://github.com";
/// GitHub's REST API origin.
const GITHUB_API: &str = "https://api.github.com";
/// Google's issuer.
const GOOGLE_ISSUER: &str = "https://accounts.google.com";

#[derive(Clone)]
pub(crate) enum ProviderKind {
    /// OpenID Connect: discovery, ID token.
    Oidc { issuer: String },
    /// GitHub: OAuth 2.0, user from the REST API.
    GitHub { web: String, api: String },
}

/// One identity provider an [`OAuthClient`](crate::OAuthClient) can log users in with.
///
/// ```
/// use tower_oauth::Provider;
///
/// let github = Provider::github("client-id", "client-secret");
/// assert_eq!(github.name(), "github");
/// let corp = Provider::oidc("corp", "https://login.example.com", "client-id", "client-secret")
///     .scopes(["openid", "email", "groups"]);
/// assert_eq!(corp.name(), "corp");
/// ```
#[derive(Clone)]
pub struct Provider {
    pub(crate) name: String,
    pub(crate) kind: ProviderKind,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) userinfo: bool,
    pub(crate) insecure_allow_unadvertised_pkce: bool,
    pub(crate) post_logout_redirect_uri: Option<String>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Provider");
        s.field("name", &self.name);
        match &self.kind {
            ProviderKind::Oidc { issuer } => s.field("issuer", issuer),
            ProviderKind::GitHub { web, api } => {
                s.field("github_web", web).field("github_api", api)
            }
        };
        s.field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field(
                "insecure_allow_unadvertised_pkce",
                &self.insecure_allow_unadvertised_pkce,
            )
            .finish()
    }
}

impl Provider {
    fn new(name: &str, kind: ProviderKind, client_id: &str, client_secret: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: Vec::new(),
            redirect_uri: None,
            userinfo: false,
            insecure_allow_unadvertised_pkce: false,
            post_logout_redirect_uri: None,
        }
    }

    /// Any OpenID Connect provider: endpoints from `{issuer}/.well-known/openid-configuration`,
    /// whose `issuer` must equal `issuer` exactly, whose `code_challenge_methods_supported`
    /// must list `S256`, and whose endpoints must be `https` (`http` only on a loopback
    /// address). A provider refused on these grounds answers 503 on its login route, and
    /// [`OAuthClient::discover`](crate::OAuthClient::discover) reports why. Scopes default to `openid email profile`;
    /// the `userinfo` endpoint is read at login (many providers put `email` and `name` only
    /// there).
    #[must_use]
    pub fn oidc(name: &str, issuer: &str, client_id: &str, client_secret: &str) -> Self {
        Self::new(
            name,
            ProviderKind::Oidc {
                issuer: issuer.to_owned(),
            },
            client_id,
            client_secret,
        )
        .scopes(["openid", "email", "profile"])
        .fetch_userinfo(true)
    }

    /// Google (OpenID Connect, issuer `https://accounts.google.com`), named `google`. Its ID
    /// tokens carry `email` and `name`, so `userinfo` is not read.
    #[must_use]
    pub fn google(client_id: &str, client_secret: &str) -> Self {
        Self::oidc("google", GOOGLE_ISSUER, client_id, client_secret).fetch_userinfo(false)
    }

    /// GitHub (OAuth 2.0 without OpenID), named `github`: the user comes from the REST
    /// `user` and `user/emails` endpoints. Scopes default to `read:user user:email`.
    #[must_use]
    pub fn github(client_id: &str, client_secret: &str) -> Self {
        Self::new(
            "github",
            ProviderKind::GitHub {
                web: GITHUB_WEB.to_owned(),
                api: GITHUB_API.to_owned(),
            },
            client_id,
            client_secret,
        )
        .scopes(["read:user", "user:email"])
    }

    /// The name in the routes (`/oauth/{name}/login`); letters, digits, `-` and `_`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the provider.
    #[must_use]
    pub fn with_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.name);
        self
    }

    /// The scopes requested (replaces the defaults).
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The registered redirect URI. Default: `{public_url}/oauth/{name}/callback`. Static
    /// configuration, never derived from a request's `Host`.
    #[must_use]
    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uri = Some(uri.to_owned());
        self
    }

    /// OpenID RP-Initiated Logout 1.0: where the provider sends the browser back after it
    /// has ended its own session (registered with the provider, an absolute `http(s)` URL).
    /// With it, and an `end_session_endpoint` in the provider's metadata, logging out of a
    /// session this provider started ends the local session, then answers 303 to the
    /// provider's end-session endpoint with `id_token_hint`, this URI as
    /// `post_logout_redirect_uri`, `client_id` and a random `state`. Without it, logout
    /// stays local. Ignored for GitHub.
    #[must_use]
    pub fn post_logout_redirect_uri(mut self, uri: &str) -> Self {
        self.post_logout_redirect_uri = Some(uri.to_owned());
        self
    }

    /// Whether to read the OpenID `userinfo` endpoint at login (its `sub` must equal the ID
    /// token's; its claims are added to [`ProviderIdentity::claims`], the ID token's win).
    /// On for [`oidc`](Self::oidc), off for [`google`](Self::google).
    #[must_use]
    pub fn fetch_userinfo(mut self, enabled: bool) -> Self {
        self.userinfo = enabled;
        self
    }

    /// Development and legacy providers only: accept this OpenID provider even though its
    /// metadata does not list `S256` in `code_challenge_methods_supported` (omits the member,
    /// as some providers enforcing PKCE do, or lists other methods only). The login still
    /// sends an S256 challenge and its verifier, but nothing then shows that the provider
    /// checks them: if it does not, a stolen or injected authorization code is redeemed
    /// without them, and only `state`, `nonce` and the client secret protect the login.
    /// Logs a warning when the provider is resolved. No effect on GitHub.
    #[must_use]
    pub fn insecure_allow_unadvertised_pkce(mut self) -> Self {
        self.insecure_allow_unadvertised_pkce = true;
        self
    }

    /// GitHub only: the web and API base URLs (GitHub Enterprise Server, or a test server).
    /// Defaults: `https://github.com`, `https://api.github.com`. Ignored for OpenID providers.
    #[must_use]
    pub fn github_urls(mut self, web: &str, api: &str) -> Self {
        if let ProviderKind::GitHub { web: w, api: a } = &mut self.kind {
            *w = web.trim_end_matches('/').to_owned();
            *a = api.trim_end_matches('/').to_owned();
        }
        self
    }
}

/// Who the provider says logged in: the input of the user-mapping hook.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProviderIdentity {
    /// The provider's name (`github`, `google`, ...).
    pub provider: String,
    /// The issuer for OpenID providers; `None` for GitHub.
    pub issuer: Option<String>,
    /// The provider's stable user id (`sub`, or GitHub's numeric id). Key users on
    /// (`issuer` or `provider`, `subject`), never on the e-mail address.
    pub subject: String,
    /// The e-mail address, if the provider shared one.
    pub email: Option<String>,
    /// Whether the provider verified that address.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Login name (`preferred_username`, GitHub `login`).
    pub username: Option<String>,
    /// All claims: the ID token's (plus userinfo's), or GitHub's `user` object.
    pub claims: Value,
}
