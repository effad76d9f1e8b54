//! [`Introspection`] and its builder.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, AuthLayer, ConfigError, ConfigErrorKind, Credentials};
use base64::Engine;
use http::HeaderValue;
use tower_jwt::Algorithm;
use tower_jwt::revocation::RevocationStore;
use url::Url;

use crate::authenticator::{IntrospectionAuthenticator, IntrospectionLayer};
use crate::cache::AnswerCache;
use crate::client_auth::{Assertion, ClientAuth};
use crate::identity::Introspected;
use crate::jwt_response::ResponseKeys;
use crate::response::Rules;
use crate::revocation;

/// A token introspection client: the endpoint, the client credentials it authenticates
/// with, the checks every answer must pass, and the cache of answers. Cheap to clone (the
/// cache is shared).
///
/// ```no_run
/// use std::time::Duration;
/// use tower_introspect::Introspection;
///
/// # async fn run() -> Result<(), auth_core::ConfigError> {
/// let introspection = Introspection::builder("https://auth.example.com")
///     .endpoint("https://auth.example.com/oauth2/introspect")
///     .client_id("orders-api")
///     .client_secret(std::env::var("INTROSPECTION_SECRET").unwrap_or_default())
///     .audience("orders-api")
///     .cache_ttl(Duration::from_secs(30))
///     .build()?;
/// let layer = introspection.layer();
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Introspection {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) endpoint: Url,
    pub(crate) client_id: String,
    pub(crate) client_auth: ClientAuth,
    /// The issuer's keys, when answers are asked for as JWTs (RFC 9701).
    pub(crate) jwt_responses: Option<ResponseKeys>,
    pub(crate) client: reqwest::Client,
    pub(crate) rules: Rules,
    pub(crate) max_response_bytes: usize,
    pub(crate) credentials: Credentials,
    pub(crate) cache: AnswerCache,
    revocation: Option<Arc<dyn RevocationStore>>,
}

impl Inner {
    /// `identity`, unless the revocation store refuses it: called on every cache hit and
    /// every fresh answer.
    pub(crate) fn admit(&self, identity: Introspected) -> Result<Introspected, AuthError> {
        if let Some(store) = &self.revocation {
            revocation::check(store.as_ref(), &self.rules.issuer, &identity)?;
        }
        Ok(identity)
    }
}

impl Introspection {
    /// Starts a configuration for the tokens of `issuer` (an answer naming another `iss`
    /// is refused).
    pub fn builder(issuer: impl Into<String>) -> IntrospectionBuilder {
        IntrospectionBuilder {
            issuer: issuer.into(),
            endpoint: None,
            client_id: None,
            client_secret: None,
            private_key: None,
            key_id: None,
            jwt_responses: false,
            jwks_url: None,
            audiences: Vec::new(),
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
            inactive_ttl: Duration::from_secs(5),
            inactive_capacity: 10_000,
            timeout: Duration::from_secs(5),
            max_response_bytes: 16 * 1024,
            credentials: Credentials::bearer(),
            insecure_http_loopback: false,
            revocation: None,
        }
    }

    /// The authenticator, for [`first_of`](auth_core::first_of) or an
    /// [`AuthLayer`] of your own.
    #[must_use]
    pub fn authenticator(&self) -> IntrospectionAuthenticator {
        IntrospectionAuthenticator::new(Arc::clone(&self.inner))
    }

    /// The layer: [`AuthLayer`] over [`authenticator`](Self::authenticator).
    #[must_use]
    pub fn layer(&self) -> IntrospectionLayer {
        AuthLayer::new(self.authenticator())
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("issuer", &self.inner.rules.issuer)
            .field("audiences", &self.inner.rules.audiences)
            .field("client_id", &self.inner.client_id)
            .field("client_auth", &self.inner.client_auth.method())
            .field("jwt_responses", &self.inner.jwt_responses.is_some())
            .field("cache", &self.inner.cache)
            .field("revocation", &self.inner.revocation.is_some())
            .finish_non_exhaustive()
    }
}

/// Configures an [`Introspection`]; see [`Introspection::builder`].
#[must_use]
pub struct IntrospectionBuilder {
    issuer: String,
    endpoint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    private_key: Option<(Algorithm, Vec<u8>)>,
    key_id: Option<String>,
    jwt_responses: bool,
    jwks_url: Option<String>,
    audiences: Vec<String>,
    cache_ttl: Duration,
    cache_capacity: usize,
    inactive_ttl: Duration,
    inactive_capacity: usize,
    timeout: Duration,
    max_response_bytes: usize,
    credentials: Credentials,
    insecure_http_loopback: bool,
    revocation: Option<Arc<dyn RevocationStore>>,
}

impl IntrospectionBuilder {
    /// The introspection endpoint (`https`). Without it, [`discover`](Self::discover) reads
    /// it from the issuer's metadata.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The client id this resource server authenticates with.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret this resource server authenticates with (`client_secret_basic`).
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(client_secret.into());
        self
    }

    /// Authenticates with `private_key_jwt` instead of a secret: every request carries a
    /// fresh client assertion (RFC 7523 §2.2) signed with `private_key_pem` for `algorithm`
    /// (`RS256`… `PS512` with an RSA key, `ES256` / `ES384` with an EC key, `EdDSA` with an
    /// Ed25519 key, PKCS#8 or traditional PEM): `iss` and `sub` the client id, `aud` the
    /// issuer identifier (the one audience that cannot be confused with another server's
    /// endpoint; oidc-provider and the current OAuth guidance expect it), a random `jti`,
    /// `iat` now, `exp` a minute later. Register the public key with the issuer. The key is
    /// never printed.
    pub fn private_key_jwt(
        mut self,
        algorithm: Algorithm,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.private_key = Some((algorithm, private_key_pem.into()));
        self
    }

    /// The `kid` header of the client assertions, when the issuer holds several keys of
    /// this client.
    pub fn key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// Asks for RFC 9701 JWT answers (`Accept: application/token-introspection+jwt`) and
    /// accepts nothing else: the answer must be signed by a key of the issuer's JWKS
    /// ([`jwks_url`](Self::jwks_url), or `jwks_uri` with [`discover`](Self::discover)), with
    /// `typ` `token-introspection+jwt`, `iss` the issuer, `aud` the client id, and an `iat`
    /// at most 5 minutes old (30 s of leeway); its `token_introspection` member is then read
    /// as any answer. A plain JSON answer, a forged or unsigned one, is a malformed answer
    /// (503). The keys are fetched at first use, and again when an answer names an unknown
    /// key (at most every 30 s).
    pub fn jwt_responses(mut self) -> Self {
        self.jwt_responses = true;
        self
    }

    /// The issuer's JWKS, for [`jwt_responses`](Self::jwt_responses) (`https`, or loopback
    /// `http` with [`insecure_http_loopback`](Self::insecure_http_loopback)).
    pub fn jwks_url(mut self, jwks_url: impl Into<String>) -> Self {
        self.jwks_url = Some(jwks_url.into());
        self
    }

    /// An accepted audience: once one is set, an answer must carry `aud` naming one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// How long an active answer is reused (default 60 s; never past the token's `exp`).
    /// A token revoked at the issuer is refused at the latest this long after. Zero turns
    /// the cache off.
    pub fn cache_ttl(mut self, cache_ttl: Duration) -> Self {
        self.cache_ttl = cache_ttl;
        self
    }

    /// How many active answers are kept (default 10 000).
    pub fn cache_capacity(mut self, cache_capacity: usize) -> Self {
        self.cache_capacity = cache_capacity;
        self
    }

    /// How long an `active: false` answer is reused (default 5 s, at most 60 s; zero: not
    /// cached).
    pub fn inactive_ttl(mut self, inactive_ttl: Duration) -> Self {
        self.inactive_ttl = inactive_ttl;
        self
    }

    /// How many `active: false` answers are kept (default 10 000), apart from the active
    /// ones.
    pub fn inactive_capacity(mut self, inactive_capacity: usize) -> Self {
        self.inactive_capacity = inactive_capacity;
        self
    }

    /// The longest an introspection request may take, connecting included (default 5 s);
    /// past it the request is answered 503.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer read (default 16 KiB); a larger one is a failed introspection.
    pub fn max_response_bytes(mut self, max_response_bytes: usize) -> Self {
        self.max_response_bytes = max_response_bytes;
        self
    }

    /// Where the token is read from (default `Authorization: Bearer`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Checks every request against `store`, cached answer or fresh: a token revoked there
    /// by its `jti` ([`Revocation::token`](tower_jwt::revocation::Revocation::token)), or by
    /// its subject ([`Revocation::subject`](tower_jwt::revocation::Revocation::subject), "log
    /// out everywhere"; `sub`, else `client_id`, with the answer's `iat`) is refused with 401
    /// at once, without waiting for its cached answer to expire; a store that cannot answer
    /// gives 503. An answer without `iat` counts as issued at the epoch, so any revocation
    /// of its subject covers it.
    pub fn revocation(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocation = Some(store);
        self
    }

    /// Accepts a plain `http` endpoint on a loopback host (tests, a sidecar). Any other
    /// `http` endpoint is refused whatever this says.
    pub fn insecure_http_loopback(mut self) -> Self {
        self.insecure_http_loopback = true;
        self
    }

    /// Reads what is not configured from the issuer's OpenID Connect metadata
    /// (`{issuer}/.well-known/openid-configuration`, whose `issuer` must be the configured
    /// one, exactly): the `introspection_endpoint`, and the `jwks_uri` for
    /// [`jwt_responses`](Self::jwt_responses); then [`build`](Self::build)s. The configured
    /// client authentication must be among `introspection_endpoint_auth_methods_supported`
    /// (else `token_endpoint_auth_methods_supported`, which providers that share one client
    /// authentication publish alone), and a `private_key_jwt` algorithm among the matching
    /// `…_auth_signing_alg_values_supported`, when the metadata lists them. With everything
    /// configured, nothing is fetched.
    ///
    /// # Errors
    ///
    /// What [`build`](Self::build) refuses, and [`ConfigErrorKind::Setup`] when the metadata
    /// cannot be fetched, names no `introspection_endpoint` (or `jwks_uri` when needed), or
    /// does not offer the configured client authentication.
    pub async fn discover(mut self) -> Result<Introspection, ConfigError> {
        let needs_jwks = self.jwt_responses && self.jwks_url.is_none();
        if self.endpoint.is_none() || needs_jwks {
            let metadata = self.metadata().await?;
            let setup = |field, message| ConfigError::new(ConfigErrorKind::Setup, field, message);
            let text = |name: &str| {
                metadata
                    .get(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let list = |name: &str| {
                metadata.get(name).and_then(|v| v.as_array()).map(|values| {
                    values
                        .iter()
                        .filter_map(|v| v.as_str())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
            };
            let methods = list("introspection_endpoint_auth_methods_supported")
                .or_else(|| list("token_endpoint_auth_methods_supported"));
            let method = if self.private_key.is_some() {
                "private_key_jwt"
            } else {
                "client_secret_basic"
            };
            if methods.is_some_and(|methods| !methods.iter().any(|m| m == method)) {
                return Err(setup(
                    if self.private_key.is_some() {
                        "private_key_jwt"
                    } else {
                        "client_secret"
                    },
                    "the issuer does not accept this client authentication at its introspection endpoint",
                ));
            }
            if let Some((algorithm, _)) = &self.private_key {
                let algs = list("introspection_endpoint_auth_signing_alg_values_supported")
                    .or_else(|| list("token_endpoint_auth_signing_alg_values_supported"));
                let name = format!("{algorithm:?}");
                if algs.is_some_and(|algs| !algs.contains(&name)) {
                    return Err(setup(
                        "private_key_jwt",
                        "the issuer does not accept client assertions signed with this algorithm",
                    ));
                }
            }
            if self.endpoint.is_none() {
                self.endpoint = Some(text("introspection_endpoint").ok_or_else(|| {
                    setup(
                        "endpoint",
                        "the issuer's metadata names no introspection_endpoint",
                    )
                })?);
            }
            if needs_jwks {
                self.jwks_url =
                    Some(text("jwks_uri").ok_or_else(|| {
                        setup("jwks_url", "the issuer's metadata names no jwks_uri")
                    })?);
            }
        }
        self.build()
    }

    /// The issuer's metadata, checked to name the configured issuer.
    async fn metadata(&self) -> Result<serde_json::Value, ConfigError> {
        let setup =
            |message: &'static str| ConfigError::new(ConfigErrorKind::Setup, "endpoint", message);
        let metadata_url = checked_url(
            &format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            ),
            self.insecure_http_loopback,
            "issuer",
        )?;
        let response = http_client(self.timeout)?
            .get(metadata_url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| setup("the issuer's metadata cannot be fetched"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(setup("the issuer's metadata cannot be fetched"));
        }
        let metadata: serde_json::Value = response
            .json()
            .await
            .map_err(|_| setup("the issuer's metadata is not JSON"))?;
        if metadata.get("issuer").and_then(|i| i.as_str()) != Some(self.issuer.as_str()) {
            return Err(setup("the metadata names another issuer"));
        }
        Ok(metadata)
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::Missing`] without an endpoint, a client id, a client secret or
    /// private key, or a JWKS URL for [`jwt_responses`](Self::jwt_responses);
    /// [`ConfigErrorKind::InvalidValue`] for an endpoint or JWKS URL that is not `https` (or
    /// loopback `http` with [`insecure_http_loopback`](Self::insecure_http_loopback)), both
    /// a client secret and a private key, a private key that does not fit its algorithm, an
    /// empty issuer, a zero timeout or response cap, an inactive bound over 60 s;
    /// [`ConfigErrorKind::Setup`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<Introspection, ConfigError> {
        let missing = |field, message| ConfigError::new(ConfigErrorKind::Missing, field, message);
        let invalid =
            |field, message| ConfigError::new(ConfigErrorKind::InvalidValue, field, message);
        if self.issuer.is_empty() {
            return Err(invalid("issuer", "must not be empty"));
        }
        let endpoint = self
            .endpoint
            .ok_or_else(|| missing("endpoint", "the introspection endpoint is required"))?;
        let endpoint = checked_url(&endpoint, self.insecure_http_loopback, "endpoint")?;
        let client_id = self
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("client_id", "the client id is required"))?;
        let client_auth =
            match (
                self.client_secret.filter(|c| !c.is_empty()),
                self.private_key,
            ) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        "private_key_jwt",
                        "one client authentication: a client secret or a private key, not both",
                    ));
                }
                (None, None) => {
                    return Err(missing(
                        "client_secret",
                        "a client secret (or a private key for private_key_jwt) is required",
                    ));
                }
                (Some(secret), None) => ClientAuth::Basic(basic(&client_id, &secret)?),
                (None, Some((algorithm, pem))) => ClientAuth::PrivateKeyJwt(Box::new(
                    Assertion::new(&client_id, &self.issuer, algorithm, &pem, self.key_id)?,
                )),
            };
        let jwt_responses = if self.jwt_responses {
            let jwks_url = self.jwks_url.ok_or_else(|| {
                missing(
                    "jwks_url",
                    "JWT answers are verified with the issuer's JWKS",
                )
            })?;
            Some(ResponseKeys::new(checked_url(
                &jwks_url,
                self.insecure_http_loopback,
                "jwks_url",
            )?))
        } else {
            None
        };
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be more than zero"));
        }
        if self.max_response_bytes == 0 {
            return Err(invalid("max_response_bytes", "must be more than zero"));
        }
        if self.inactive_ttl > Duration::from_secs(60) {
            return Err(invalid("inactive_ttl", "must be at most 60 s"));
        }
        Ok(Introspection {
            inner: Arc::new(Inner {
                endpoint,
                client_id,
                client_auth,
                jwt_responses,
                client: http_client(self.timeout)?,
                rules: Rules {
                    issuer: self.issuer,
                    audiences: self.audiences,
                },
                max_response_bytes: self.max_response_bytes,
                credentials: self.credentials,
                cache: AnswerCache::new(
                    self.cache_ttl,
                    self.cache_capacity,
                    self.inactive_ttl,
                    self.inactive_capacity,
                ),
                revocation: self.revocation,
            }),
        })
    }
}

impl fmt::Debug for IntrospectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionBuilder")
            .field("issuer", &self.issuer)
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field(
                "private_key_jwt",
                &self.private_key.as_ref().map(|(alg, _)| alg),
            )
            .field("jwt_responses", &self.jwt_responses)
            .field("audiences", &self.audiences)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

/// `Authorization: Basic …` for `client_secret_basic`, marked sensitive. RFC 6749 §2.3.1:
/// both parts form-urlencoded before the Basic encoding.
fn basic(client_id: &str, client_secret: &str) -> Result<HeaderValue, ConfigError> {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(client_id),
        encode(client_secret)
    ));
    let mut authorization = HeaderValue::try_from(format!("Basic {basic}")).map_err(|_| {
        ConfigError::new(
            ConfigErrorKind::InvalidValue,
            "client_secret",
            "cannot be sent in a header",
        )
    })?;
    authorization.set_sensitive(true);
    Ok(authorization)
}

/// No redirects (an answer from wherever a redirect leads is not the endpoint's), bounded
/// in time, rustls.
fn http_client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::Setup,
                "http_client",
                "the HTTP client cannot be built",
            )
        })
}

/// `https`, or `http` on a loopback host when allowed.
fn checked_url(url: &str, loopback_http: bool, field: &'static str) -> Result<Url, ConfigError> {
    let invalid = |message| ConfigError::new(ConfigErrorKind::InvalidValue, field, message);
    let parsed = Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback && loopback_http => Ok(parsed),
        "http" if loopback => Err(invalid(
            "plain http is only allowed on loopback with insecure_http_loopback()",
        )),
        _ => Err(invalid("must be https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> IntrospectionBuilder {
        Introspection::builder("https://as.example")
            .endpoint("https://as.example/introspect")
            .client_id("api")
            .client_secret("s3cret")
    }

    #[test]
    fn the_endpoint_is_https_or_loopback_http_when_asked() {
        assert!(base().build().is_ok());
        let field = |b: IntrospectionBuilder| b.build().unwrap_err().field();
        assert_eq!(field(base().endpoint("http://as.example/i")), "endpoint");
        assert_eq!(field(base().endpoint("http://127.0.0.1:9/i")), "endpoint");
        assert!(
            base()
                .endpoint("http://127.0.0.1:9/i")
                .insecure_http_loopback()
                .build()
                .is_ok()
        );
        assert_eq!(
            field(
                base()
                    .endpoint("http://as.example/i")
                    .insecure_http_loopback()
            ),
            "endpoint"
        );
        assert_eq!(field(base().endpoint("ftp://as.example/i")), "endpoint");
    }

    #[test]
    fn client_credentials_are_required_and_never_printed() {
        let no_secret = Introspection::builder("https://as.example")
            .endpoint("https://as.example/introspect")
            .client_id("api")
            .build()
            .unwrap_err();
        assert_eq!(no_secret.kind(), ConfigErrorKind::Missing);
        assert_eq!(no_secret.field(), "client_secret");
        assert_eq!(
            base().client_id("").build().unwrap_err().field(),
            "client_id"
        );
        assert_eq!(
            base()
                .inactive_ttl(Duration::from_secs(61))
                .build()
                .unwrap_err()
                .field(),
            "inactive_ttl"
        );

        let built = base().build().unwrap();
        let ClientAuth::Basic(authorization) = &built.inner.client_auth else {
            panic!("not client_secret_basic")
        };
        // `api:s3cret`, Basic-encoded.
        assert_eq!(authorization, "Basic YXBpOnMzY3JldA==");
        assert!(authorization.is_sensitive());
        let printed = format!("{built:?} {:?}", base());
        assert!(
            !printed.contains("s3cret") && !printed.contains("YXBp"),
            "{printed}"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded_before_basic() {
        let built = base()
            .client_id("a b")
            .client_secret("p:w")
            .build()
            .unwrap();
        let ClientAuth::Basic(authorization) = &built.inner.client_auth else {
            panic!("not client_secret_basic")
        };
        // `a+b:p%3Aw`
        assert_eq!(authorization, "Basic YStiOnAlM0F3");
    }

    const P256: &[u8] = include_bytes!("../tests/data/client-p256.pem");

    #[test]
    fn private_key_jwt_replaces_the_secret_and_is_never_printed() {
        let key_only = || {
            Introspection::builder("https://as.example")
                .endpoint("https://as.example/introspect")
                .client_id("api")
                .private_key_jwt(Algorithm::ES256, P256)
        };
        let built = key_only().key_id("k1").build().unwrap();
        assert_eq!(built.inner.client_auth.method(), "private_key_jwt");
        let both = base()
            .private_key_jwt(Algorithm::ES256, P256)
            .build()
            .unwrap_err();
        assert_eq!(
            (both.kind(), both.field()),
            (ConfigErrorKind::InvalidValue, "private_key_jwt")
        );
        let wrong = key_only()
            .private_key_jwt(Algorithm::RS256, P256)
            .build()
            .unwrap_err();
        assert_eq!(wrong.field(), "private_key_jwt");
        let pem = std::str::from_utf8(P256).unwrap();
        let secret_line = pem.lines().nth(1).unwrap();
        let printed = format!("{built:?} {:?}", key_only());
        assert!(!printed.contains(secret_line), "{printed}");
    }

    #[test]
    fn jwt_responses_need_a_jwks_url_of_their_own_kind() {
        let error = base().jwt_responses().build().unwrap_err();
        assert_eq!(
            (error.kind(), error.field()),
            (ConfigErrorKind::Missing, "jwks_url")
        );
        let error = base()
            .jwt_responses()
            .jwks_url("http://as.example/jwks")
            .build()
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.field()),
            (ConfigErrorKind::InvalidValue, "jwks_url")
        );
        let built = base()
            .jwt_responses()
            .jwks_url("https://as.example/jwks")
            .build()
            .unwrap();
        assert!(built.inner.jwt_responses.is_some());
    }
}
