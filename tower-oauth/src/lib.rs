//! # tower-oauth
//!
//! "Log in with GitHub / Google / any OpenID provider" for tower, and the sessions it
//! creates, following RFC 9700 (OAuth 2.0 Security BCP), RFC 7636 (PKCE), RFC 9207 (`iss`
//! in authorization responses) and OpenID Connect Core.
//!
//! * [`OAuthClient`] holds several [`Provider`]s (OpenID discovery, GitHub, Google) and
//!   serves the login routes as one tower service, [`OAuthRoutes`]:
//!   `GET /oauth/{provider}/login?return_to=/path`, `GET /oauth/{provider}/callback`,
//!   `POST /oauth/logout`, `POST /oauth/backchannel-logout` (OpenID Back-Channel Logout).
//! * [`OAuthClient::start_session`] starts the same session for a user the application
//!   authenticated itself (a password login); a client may have no provider at all.
//! * Each login attempt has its own `state`, PKCE S256 verifier and `nonce`, sealed in its
//!   own short-lived encrypted cookie: several tabs log in at once, and a callback that is
//!   forged, foreign, expired or replayed is refused before any token request.
//! * The callback exchanges the code server-to-server (`client_secret_basic`, through the
//!   `oauth2` crate and a `reqwest` client with timeouts, no redirects and capped bodies),
//!   validates the ID token with `tower-jwt`, asks your [`map_user`](OAuthClientBuilder::map_user)
//!   hook for the application user, and answers 303 with a fresh session id.
//! * [`SessionAuthenticator`] (an `auth_core::Authenticate`) turns the session cookie into
//!   an [`OAuthSession<U>`]: your user, a `Principal` with method `session`, a CSRF token
//!   for forms. Provider tokens stay server-side, sealed with AES-256-GCM in the session
//!   record; [`OAuthClient::access_token`] refreshes them when asked, one refresh per session
//!   at a time, and never writes them over a session that ended meanwhile.
//! * Sessions live in a [`SessionStore`](store::SessionStore):
//!   [`MemorySessionStore`](store::MemorySessionStore) (idle and absolute timeouts) or
//!   `RedisSessionStore` (feature `redis`) shared by instances.
//!
//! The cookie key seals the transaction cookies and the provider tokens. Several keys,
//! newest first ([`cookie_keys`](OAuthClientBuilder::cookie_keys)), let a key be rotated:
//! sealed with the first, opened with any.
//!
//! OpenID providers must advertise PKCE `S256` in their metadata and use `https`
//! endpoints; [`OAuthClient::discover`] checks them at start-up if asked, otherwise the
//! first login does.
//!
//! Cookies are `__Host-` prefixed, `Secure`, `HttpOnly`, `Path=/`, `SameSite=Lax`, without
//! `Domain`. For local development over `http://127.0.0.1`,
//! [`insecure_http_loopback`](OAuthClientBuilder::insecure_http_loopback) drops `Secure` and
//! the prefix (and logs a warning); it is refused for any other host.
//!
//! ```
//! use http::Request;
//! use serde::{Deserialize, Serialize};
//! use tower::ServiceExt;
//! use tower_oauth::{MapUserError, OAuthClient, Provider, ProviderIdentity, SessionUser};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! struct User { id: String, login: Option<String> }
//!
//! impl SessionUser for User {
//!     fn subject(&self) -> String { self.id.clone() }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let client = OAuthClient::<User>::builder("https://app.example.com")
//!     .cookie_key(&[7; 64]) // 64+ random bytes in real life
//!     .provider(Provider::github("client-id", "client-secret"))
//!     .map_user(|who: ProviderIdentity| async move {
//!         // Look the user up by (provider, subject); create it at first login.
//!         Ok::<_, MapUserError>(User { id: format!("{}:{}", who.provider, who.subject), login: who.username })
//!     })
//!     .build()
//!     .unwrap();
//!
//! let login = Request::get("/oauth/github/login?return_to=/dashboard").body(String::new()).unwrap();
//! let res = client.routes().oneshot(login).await.unwrap();
//! assert_eq!(res.status(), 303);
//! let location = res.headers()["location"].to_str().unwrap();
//! assert!(location.starts_with("https://github.com/login/oauth/authorize?"));
//! assert!(location.contains("code_challenge_method=S256"));
//! let cookie = res.headers()["set-cookie"].to_str().unwrap();
//! assert!(cookie.starts_with("__Host-oauth-tx-"));
//! assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Lax"));
//!
//! let evil = Request::get("/oauth/github/login?return_to=//evil.example").body(String::new()).unwrap();
//! assert_eq!(client.routes().oneshot(evil).await.unwrap().status(), 400);
//! # });
//! ```
//!
//! Protecting routes (axum shown; any tower stack works):
//!
//! ```
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Clone, Debug, Serialize, Deserialize)] struct User { id: String }
//! # impl tower_oauth::SessionUser for User { fn subject(&self) -> String { self.id.clone() } }
//! use auth_core::Authenticated;
//! use axum::{routing::get, Router};
//! use tower_oauth::{LoginRedirect, OAuthClient, OAuthSession};
//!
//! async fn whoami(Authenticated(session): Authenticated<OAuthSession<User>>) -> String {
//!     session.user().id.clone()
//! }
//!
//! fn app(client: &OAuthClient<User>) -> Router {
//!     Router::new()
//!         // API: 401 JSON without a session.
//!         .route("/api/whoami", get(whoami).route_layer(client.layer()))
//!         // Pages: 303 to the home page without a session.
//!         .route(
//!             "/settings",
//!             get(whoami).route_layer(
//!                 client.layer().on_rejection(LoginRedirect::to("/").unwrap()),
//!             ),
//!         )
//!         .nest_service("/oauth", client.routes())
//! }
//! # let _ = app;
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod cookies;
mod flow;
mod http_client;
mod id_token;
mod keys;
mod logout_token;
mod provider;
mod random;
mod rejection;
mod return_to;
mod session;
pub mod store;
#[cfg(test)]
mod test_jwks;
mod tokens;

pub use client::{MapUserError, OAuthClient, SessionLayer};
pub use config::OAuthClientBuilder;
pub use flow::{OAuthResponse, OAuthRoutes, RoutesFuture};
pub use provider::{Provider, ProviderIdentity};
pub use rejection::LoginRedirect;
pub use session::{OAuthSession, SessionAuthenticator, SessionUser};
pub use tokens::ProviderAccessToken;

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
