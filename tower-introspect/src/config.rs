//! [`Introspection`] and its builder.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthLayer, ConfigError, ConfigErrorKind, Credentials};
use base64::Engine;
use http::HeaderValue;
use url::Url;

use crate::authenticator::{IntrospectionAuthenticator, IntrospectionLayer};
use crate::cache::AnswerCache;
use crate::response::Rules;

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
    /// `Authorization: Basic …` (client_secret_basic), marked sensitive.
    pub(crate) authorization: HeaderValue,
    pub(crate) client: reqwest::Client,
    pub(crate) rules: Rules,
    pub(crate) max_response_bytes: usize,
    pub(crate) credentials: Credentials,
    pub(crate) cache: AnswerCache,
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
            audiences: Vec::new(),
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
            inactive_ttl: Duration::from_secs(5),
            inactive_capacity: 10_000,
            timeout: Duration::from_secs(5),
            max_response_bytes: 16 * 1024,
            credentials: Credentials::bearer(),
            insecure_http_loopback: false,
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
            .field("cache", &self.inner.cache)
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
    audiences: Vec<String>,
    cache_ttl: Duration,
    cache_capacity: usize,
    inactive_ttl: Duration,
    inactive_capacity: usize,
    timeout: Duration,
    max_response_bytes: usize,
    credentials: Credentials,
    insecure_http_loopback: bool,
}

impl IntrospectionBuilder {
    /// The introspection endpoint (`https`). Without it, [`discover`](Self::discover) reads
    /// it from the issuer's metadata.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The client id this resource server authenticates with (`client_secret_basic`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret this resource server authenticates with.
    pub fn client_secret(mut self, client_secret: impl Into<String>) -> Self {
        self.client_secret = Some(client_secret.into());
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

    /// Accepts a plain `http` endpoint on a loopback host (tests, a sidecar). Any other
    /// `http` endpoint is refused whatever this says.
    pub fn insecure_http_loopback(mut self) -> Self {
        self.insecure_http_loopback = true;
        self
    }

    /// Reads the endpoint from the issuer's OpenID Connect metadata
    /// (`{issuer}/.well-known/openid-configuration`, whose `issuer` must be the configured
    /// one, exactly), then [`build`](Self::build)s. An endpoint set with
    /// [`endpoint`](Self::endpoint) is kept and nothing is fetched.
    ///
    /// # Errors
    ///
    /// What [`build`](Self::build) refuses, and [`ConfigErrorKind::Setup`] when the metadata
    /// cannot be fetched or names no `introspection_endpoint`.
    pub async fn discover(mut self) -> Result<Introspection, ConfigError> {
        if self.endpoint.is_none() {
            let setup = |message: &'static str| {
                ConfigError::new(ConfigErrorKind::Setup, "endpoint", message)
            };
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
            let endpoint = metadata
                .get("introspection_endpoint")
                .and_then(|e| e.as_str())
                .ok_or_else(|| setup("the issuer's metadata names no introspection_endpoint"))?;
            self.endpoint = Some(endpoint.to_owned());
        }
        self.build()
    }

    /// Checks the configuration and builds the client.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::Missing`] without an endpoint, a client id or a client secret;
    /// [`ConfigErrorKind::InvalidValue`] for an endpoint that is not `https` (or loopback
    /// `http` with [`insecure_http_loopback`](Self::insecure_http_loopback)), an empty
    /// issuer, a zero timeout or response cap, an inactive bound over 60 s;
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
        let client_secret = self
            .client_secret
            .filter(|c| !c.is_empty())
            .ok_or_else(|| missing("client_secret", "the client secret is required"))?;
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "must be more than zero"));
        }
        if self.max_response_bytes == 0 {
            return Err(invalid("max_response_bytes", "must be more than zero"));
        }
        if self.inactive_ttl > Duration::from_secs(60) {
            return Err(invalid("inactive_ttl", "must be at most 60 s"));
        }
        // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(&client_id),
            encode(&client_secret)
        ));
        let mut authorization = HeaderValue::try_from(format!("Basic {basic}"))
            .map_err(|_| invalid("client_secret", "cannot be sent in a header"))?;
        authorization.set_sensitive(true);
        Ok(Introspection {
            inner: Arc::new(Inner {
                endpoint,
                client_id,
                authorization,
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
            .field("audiences", &self.audiences)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
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
        // `api:s3cret`, Basic-encoded.
        assert_eq!(built.inner.authorization, "Basic YXBpOnMzY3JldA==");
        assert!(built.inner.authorization.is_sensitive());
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
        // `a+b:p%3Aw`
        assert_eq!(built.inner.authorization, "Basic YStiOnAlM0F3");
    }
}
