//! Wiring: stores, authenticators, the token issuer, the OAuth client and the router.

use std::fmt;
use std::sync::Arc;

use auth_core::ResourceMetadata;
use axum::Router;
use serde::Deserialize;
use tower_apikey::ApiKeys;
use tower_apikey::store::InvalidationListener;
use tower_introspect::{Introspected, Introspection, IntrospectionAuthenticator};
use tower_jwt::dpop::{DpopConfig, DpopReplayStore, MemoryDpopReplayStore, RedisDpopReplayStore};
use tower_jwt::issuer::{
    MemoryRefreshFamilyStore, RedisRefreshFamilyStore, RefreshCookie, RefreshError,
    RefreshFamilyStore, Regrant, SigningKey, TokenIssuer,
};
use tower_jwt::revocation::{MemoryRevocationStore, RedisRevocationStore, RevocationStore};
use tower_jwt::{Algorithm, IssuerConfig, JwtAuthenticator, JwtVerifier, Key};
use tower_oauth::{OAuthClient, Provider, ProviderIdentity, SessionAuthenticator};
use tower_ratelimit::{Limit, Throttle};

use crate::config::{Config, DEMO_AUDIENCE, random_bytes};
use crate::session::Account;
use crate::templates::Templates;
use crate::users::Users;

/// Shared by every handler: one pointer, so the clone axum makes for every request is one
/// reference count.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub(crate) struct Shared {
    pub(crate) keys: ApiKeys,
    pub(crate) tokens: TokenIssuer,
    pub(crate) families: Arc<dyn RefreshFamilyStore>,
    pub(crate) jwt: JwtAuthenticator<DemoClaims>,
    /// The dashboard's sessions (password and provider logins) and the OAuth routes.
    pub(crate) oauth: OAuthClient<Account>,
    pub(crate) sessions: SessionAuthenticator<Account>,
    /// `DEMO_OIDC_INTROSPECTION=on`: the issuer's opaque access tokens.
    pub(crate) introspection: MaybeIntrospection,
    pub(crate) users: Arc<Users>,
    pub(crate) templates: Templates,
    /// Failed password logins, per client address and per user name.
    pub(crate) login_throttle: Throttle,
    /// Refused credentials on `/api`, per client address.
    pub(crate) api_throttle: Throttle,
    /// The API's RFC 9728 metadata, served and named in every challenge (none when the
    /// public URL is plain http off loopback, which RFC 9728 does not allow).
    pub(crate) resource_metadata: Option<ResourceMetadata>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

/// Password guessing slows down: 10 failed logins per client address and 5 per user name
/// go through at once, then one every 6 s (address) or 12 s (user); over that, 429 with
/// `Retry-After`, never a hint whether the password was right. The counters drain by
/// themselves, so the real user's password works again once the wrong ones stop.
fn login_throttle() -> Result<Throttle, String> {
    Throttle::builder()
        .per_address(Limit::per_minute("login-address", 10))
        .per_identity(Limit::per_minute("login-user", 5), |_| None)
        .build()
        .map_err(|e| format!("login throttle: {e}"))
}

/// Key and token guessing on `/api` slows down the same way: 10 refused credentials per
/// client address go through at once, then one every 6 s; over that, every request from
/// the address gets 429 with `Retry-After` (a valid key too) until the bucket drains, while
/// other addresses are not affected. A request without a credential is not counted.
fn api_throttle() -> Result<Throttle, String> {
    Throttle::builder()
        .per_address(Limit::per_minute("api-address", 10))
        .build()
        .map_err(|e| format!("API throttle: {e}"))
}

/// The API's protected resource metadata (RFC 9728): the resource is the public URL; the
/// authorization servers are the OpenID issuer and the demo's own issuer when they are
/// URLs; the scopes are the ones the demo grants; the DPoP proof algorithms it takes, and
/// certificate-bound tokens when the HTTPS listener asks for client certificates.
fn resource_metadata(config: &Config, dpop: Option<&DpopConfig>) -> Option<ResourceMetadata> {
    let mut metadata = ResourceMetadata::builder(config.public_url.trim_end_matches('/'))
        .scopes_supported(["read", "write", "admin"])
        .resource_name("towerauth demo API");
    if let Some(dpop) = dpop {
        // `Algorithm`'s names are the JWS ones (`ES256`, `EdDSA`, …).
        metadata = metadata
            .dpop_signing_alg_values_supported(dpop.algorithms().iter().map(|a| format!("{a:?}")));
    }
    if config
        .tls
        .as_ref()
        .is_some_and(|tls| tls.client_ca.is_some())
    {
        metadata = metadata.tls_client_certificate_bound_access_tokens();
    }
    let issuers = [Some(&config.jwt_issuer), config.oidc_issuer.as_ref()];
    for issuer in issuers.into_iter().flatten() {
        if issuer.starts_with("https://") || issuer.starts_with("http://") {
            metadata = metadata.authorization_server(issuer.as_str());
        }
    }
    match metadata.build() {
        Ok(metadata) => Some(metadata),
        Err(error) => {
            tracing::warn!(
                %error,
                "DEMO_PUBLIC_URL cannot be an RFC 9728 resource: no protected resource metadata"
            );
            None
        }
    }
}

/// The assembled application: the router, and what must live as long as it serves.
pub struct Demo {
    /// Every route of the demo.
    pub router: Router,
    /// The API-key handle (its cache TTL is the revocation bound for other processes).
    pub keys: ApiKeys,
    /// The PostgreSQL invalidation listener, when the store is PostgreSQL.
    pub listener: Option<InvalidationListener>,
}

impl fmt::Debug for Demo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Demo")
            .field("key_cache_ttl", &self.keys.cache_ttl())
            .field("push_invalidation", &self.listener.is_some())
            .finish_non_exhaustive()
    }
}

/// Connects the API-key store named by `DEMO_DATABASE_URL` and builds the key handle.
///
/// # Errors
///
/// A message when the store cannot be opened.
pub async fn api_keys(config: &Config) -> Result<(ApiKeys, tower_apikey::SqlApiKeyStore), String> {
    let store = tower_apikey::store::connect(&config.database_url)
        .await
        .map_err(|e| format!("DEMO_DATABASE_URL: {e}"))?;
    let keys = ApiKeys::builder(store.clone())
        .cache_ttl(config.key_cache_ttl)
        .touch_interval(Some(config.usage_flush))
        .build()
        .map_err(|e| format!("API keys: {e}"))?;
    Ok((keys, store))
}

/// The demo's token issuer (HS256, `iss` = `DEMO_JWT_ISSUER`, `aud` = `demo-api`) and
/// its refresh family store.
///
/// # Errors
///
/// A message when a key or store is invalid.
pub async fn token_issuer(
    config: &Config,
    secrets: &[Vec<u8>],
    users: Arc<Users>,
) -> Result<(TokenIssuer, Arc<dyn RefreshFamilyStore>), String> {
    // The oldest secret first, then each newer one rotated in: the newest signs, the older
    // ones stay as retired keys until the tokens they could have signed have expired.
    let mut keys = secrets.iter().rev().map(|secret| {
        SigningKey::hs256(signing_kid(secret), secret).map_err(|e| format!("DEMO_JWT_SECRET: {e}"))
    });
    let key = keys
        .next()
        .ok_or_else(|| "DEMO_JWT_SECRET: no secret".to_owned())??;
    let (revocations, families): (Arc<dyn RevocationStore>, Arc<dyn RefreshFamilyStore>) =
        match &config.redis_url {
            Some(url) => (
                Arc::new(
                    RedisRevocationStore::builder(url.clone())
                        .key_prefix("towerauth-demo:revocation:")
                        .connect()
                        .await
                        .map_err(|e| format!("DEMO_REDIS_URL: {e}"))?,
                ),
                Arc::new(
                    RedisRefreshFamilyStore::connect(url, "towerauth-demo:family:")
                        .await
                        .map_err(|e| format!("DEMO_REDIS_URL: {e}"))?,
                ),
            ),
            None => (
                Arc::new(MemoryRevocationStore::new()),
                Arc::new(MemoryRefreshFamilyStore::new()),
            ),
        };
    // The demo's contract keeps the refresh cookie on `Path=/auth`, so it cannot be a
    // `__Host-` cookie: a second copy a sibling domain plants is refused with 400.
    let cookie = RefreshCookie::new()
        .name("__Secure-refresh_token")
        .path("/auth");
    let cookie = if config.insecure_loopback() {
        cookie.insecure_http()
    } else {
        cookie
    };
    let issuer = TokenIssuer::builder(&config.jwt_issuer, DEMO_AUDIENCE, key)
        .revocation_store(revocations)
        .family_store(Arc::clone(&families))
        .refresh_cookie(cookie)
        // Every refresh grants the user's scopes of now: a user removed from DEMO_USERS is
        // refused (and the login's family revoked), a narrowed one gets the new scopes.
        .regrant(move |request: Regrant| {
            let scopes = users.scopes_of(&request.subject);
            async move { scopes.ok_or(RefreshError::Denied) }
        })
        .build()
        .map_err(|e| format!("token issuer: {e}"))?;
    for key in keys {
        issuer
            .rotate_key(key?)
            .map_err(|e| format!("DEMO_JWT_SECRET: {e}"))?;
    }
    Ok((issuer, families))
}

/// The `kid` of an HS256 secret: the first 12 hex digits of its SHA-256, the same on every
/// instance and across restarts, and telling nothing about the secret.
pub(crate) fn signing_kid(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("hs-{hex}")
}

/// The one claim the demo reads from an access token besides the registered ones. Naming it
/// spares decoding every token's claims into a JSON tree (`serde_json::Value`, the default),
/// about a quarter of the work of verifying an HS256 token that misses the cache.
#[derive(Debug, Deserialize)]
pub(crate) struct DemoClaims {
    /// The refresh family of a password login (`sid`); absent from the OpenID issuer's
    /// tokens.
    pub(crate) sid: Option<String>,
}

/// DPoP (RFC 9449) for the OpenID issuer's sender-constrained access tokens: proofs name
/// the public URL; used proofs are recorded in Redis with `DEMO_REDIS_URL` (one record for
/// every instance), else in memory. None without `DEMO_OIDC_ISSUER` (the demo's own tokens
/// are not bound), or when the public URL is plain http off loopback (proofs must name an
/// https URL).
async fn dpop(config: &Config) -> Result<Option<DpopConfig>, String> {
    if config.oidc_issuer.is_none() {
        return Ok(None);
    }
    let origin = config.public_url.trim_end_matches('/');
    if let Err(error) = DpopConfig::builder(origin).build() {
        tracing::warn!(
            %error,
            "DEMO_PUBLIC_URL cannot be named by DPoP proofs: DPoP-bound tokens are refused"
        );
        return Ok(None);
    }
    let replay: Arc<dyn DpopReplayStore> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisDpopReplayStore::builder(url.clone())
                .prefix("towerauth-demo:dpop:")
                .connect()
                .await
                .map_err(|e| format!("DEMO_REDIS_URL: {e}"))?,
        ),
        None => Arc::new(MemoryDpopReplayStore::default()),
    };
    DpopConfig::builder(origin)
        .replay_store(replay)
        .build()
        .map(Some)
        .map_err(|e| format!("DPoP: {e}"))
}

fn jwt_authenticator(
    config: &Config,
    secrets: &[Vec<u8>],
    tokens: &TokenIssuer,
    dpop: Option<DpopConfig>,
) -> Result<JwtAuthenticator<DemoClaims>, String> {
    // DEMO.md: access tokens carry `nbf` optionally. Every secret verifies, chosen by `kid`.
    let mut own = IssuerConfig::builder(&config.jwt_issuer)
        .audience(DEMO_AUDIENCE)
        .allow_missing_nbf();
    for secret in secrets {
        let key = Key::hmac(Algorithm::HS256, secret)
            .map_err(|e| format!("DEMO_JWT_SECRET: {e}"))?
            .with_kid(signing_kid(secret));
        own = own.key(key);
    }
    let own = own.build().map_err(|e| format!("DEMO_JWT_SECRET: {e}"))?;
    let mut verifier = JwtVerifier::builder()
        .issuer(own)
        .revocation(tokens.revocation_store());
    if let Some(issuer) = &config.oidc_issuer {
        let oidc = IssuerConfig::builder(issuer)
            .audience(&config.oidc_audience)
            .allow_missing_nbf()
            .oidc_discovery()
            .build()
            .map_err(|e| format!("DEMO_OIDC_ISSUER: {e}"))?;
        verifier = verifier.issuer(oidc);
    }
    let verifier = verifier.build().map_err(|e| format!("JWT verifier: {e}"))?;
    let mut authenticator = JwtAuthenticator::new(verifier).claims();
    if let Some(dpop) = dpop {
        authenticator = authenticator.dpop(dpop);
    }
    Ok(if config.jwt_cache {
        authenticator
    } else {
        authenticator.without_cache()
    })
}

/// The sessions of the dashboard: password logins always, provider logins when one is
/// configured.
async fn oauth_client(config: &Config) -> Result<OAuthClient<Account>, String> {
    let mut providers = Vec::new();
    if let (Some(client), Some(issuer)) = (&config.oidc_client, &config.oidc_issuer) {
        let mut provider = Provider::oidc("oidc", issuer, &client.id, &client.secret);
        if let Some(uri) = &config.oidc_redirect_uri {
            provider = provider.redirect_uri(uri);
        }
        if let Some(uri) = &config.oidc_post_logout_redirect_uri {
            provider = provider.post_logout_redirect_uri(uri);
        }
        providers.push(provider);
    }
    if let Some(client) = &config.github_client {
        providers.push(Provider::github(&client.id, &client.secret));
    }
    // Plain http off the loopback development mode (a server bound to every interface):
    // sessions keep `Secure` cookies, as if served over https, like the refresh cookie.
    let public_url = match config.public_url.strip_prefix("http://") {
        Some(rest) if !config.insecure_loopback() => format!("https://{rest}"),
        _ => config.public_url.clone(),
    };
    let mut builder = OAuthClient::<Account>::builder(&public_url)
        .cookie_keys(&config.cookie_keys)
        .map_user(|who: ProviderIdentity| async move {
            let display_name = who
                .name
                .clone()
                .or(who.username.clone())
                .or(who.email.clone())
                .unwrap_or_else(|| who.subject.clone());
            Ok(Account {
                id: format!("{}:{}", who.provider, who.subject),
                display_name,
                provider: who.provider,
            })
        });
    for provider in providers {
        builder = builder.provider(provider);
    }
    if config.insecure_loopback() {
        builder = builder.insecure_http_loopback();
    }
    if let Some(url) = &config.redis_url {
        let store = tower_oauth::store::RedisSessionStore::connect(url)
            .await
            .map_err(|e| format!("DEMO_REDIS_URL: {e}"))?
            .key_prefix("towerauth-demo:session:");
        builder = builder.store(store);
    }
    builder.build().map_err(|e| format!("OAuth login: {e}"))
}

/// The introspection authenticator for `DEMO_OIDC_INTROSPECTION=on`, or "no credential"
/// for every request (so the API's `first_of` chain has the same type either way). It
/// leaves JWT-shaped tokens to the JWT authenticator after it.
#[derive(Debug, Clone)]
pub(crate) struct MaybeIntrospection(Option<IntrospectionAuthenticator>);

impl<B> auth_core::Authenticate<B> for MaybeIntrospection {
    type Identity = Introspected;
    type Future = auth_core::CheckFuture<Introspected>;

    fn authenticate(
        &mut self,
        request: &http::Request<B>,
    ) -> auth_core::Outcome<Introspected, Self::Future> {
        match &mut self.0 {
            Some(introspection) => introspection.authenticate(request),
            None => auth_core::Outcome::Missing,
        }
    }
}

/// `DEMO_OIDC_INTROSPECTION=on`: the endpoint from `DEMO_OIDC_ISSUER`'s metadata, asked with
/// the `DEMO_OIDC_CLIENT_*` credentials (plain http only for a loopback issuer).
async fn introspection(config: &Config) -> Result<MaybeIntrospection, String> {
    let (true, Some(issuer), Some(client)) = (
        config.oidc_introspection,
        &config.oidc_issuer,
        &config.oidc_client,
    ) else {
        return Ok(MaybeIntrospection(None));
    };
    let mut builder = Introspection::builder(issuer)
        .client_id(&client.id)
        .client_secret(&client.secret);
    if issuer.starts_with("http://") {
        builder = builder.insecure_http_loopback();
    }
    let introspection = builder
        .discover()
        .await
        .map_err(|e| format!("DEMO_OIDC_INTROSPECTION: {e}"))?;
    Ok(MaybeIntrospection(Some(introspection.authenticator())))
}

/// Builds the whole application from `config`.
///
/// # Errors
///
/// A message naming what could not be set up (store, Redis, keys, providers).
pub async fn build(config: &Config) -> Result<Demo, String> {
    let users = Arc::new(config.users()?);
    if config.insecure_loopback() {
        tracing::warn!(
            public_url = %config.public_url,
            "plain http on loopback: cookies are set without Secure and without the __Host-/__Secure- prefixes (development only)"
        );
    }
    let secrets = if config.jwt_secrets.is_empty() {
        tracing::warn!(
            "DEMO_JWT_SECRET is not set: using a random secret; tokens die with this process"
        );
        vec![random_bytes(32)]
    } else {
        config.jwt_secrets.clone()
    };
    let (keys, store) = api_keys(config).await?;
    let listener = if store.pg_pool().is_some() {
        Some(
            store
                .listen(&keys)
                .await
                .map_err(|e| format!("LISTEN: {e}"))?,
        )
    } else {
        None
    };
    let (tokens, families) = token_issuer(config, &secrets, Arc::clone(&users)).await?;
    let dpop = dpop(config).await?;
    let resource_metadata = resource_metadata(config, dpop.as_ref());
    let jwt = jwt_authenticator(config, &secrets, &tokens, dpop)?;
    let oauth = oauth_client(config).await?;
    let sessions = oauth.authenticator();
    let introspection = introspection(config).await?;
    let state = AppState(Arc::new(Shared {
        keys: keys.clone(),
        tokens,
        families,
        jwt,
        oauth,
        sessions,
        introspection,
        users,
        templates: Templates::new(),
        login_throttle: login_throttle()?,
        api_throttle: api_throttle()?,
        resource_metadata,
    }));
    Ok(Demo {
        router: crate::routes::router(state, config.bench_floors),
        keys,
        listener,
    })
}
