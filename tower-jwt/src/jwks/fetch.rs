//! HTTP for the JWKS cache: discovery, JWKS documents, capped in size and time.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use auth_core::{ConfigError, ConfigErrorKind};
use http::header::{ACCEPT, CACHE_CONTROL};
use url::Url;

use super::JwksOptions;
use crate::jwk::parse_set;
use crate::key::KeySet;

/// Why a fetch failed. The cache keeps its last good keys on every one of these.
#[derive(Debug)]
pub(crate) enum FetchError {
    InsecureUrl,
    Http,
    /// The server answered with a redirect (never followed), or the client followed one.
    Redirect,
    Status(u16),
    TooLarge,
    Timeout,
    Junk,
    /// A JWK set refused as a whole (e.g. more than [`MAX_JWKS_KEYS`](crate::jwk::MAX_JWKS_KEYS) keys).
    KeySet(auth_core::ConfigError),
    NoUsableKey,
    IssuerMismatch,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsecureUrl => f.write_str("the URL must be https (http only on loopback)"),
            Self::Http => f.write_str("the request failed"),
            Self::Redirect => {
                f.write_str("the server answered with a redirect, which is not followed")
            }
            Self::Status(status) => write!(f, "the server answered {status}"),
            Self::TooLarge => f.write_str("the response is too large"),
            Self::Timeout => f.write_str("the server did not answer in time"),
            Self::Junk => f.write_str("the response is not the expected JSON"),
            Self::KeySet(error) => write!(f, "the key set is refused: {error}"),
            Self::NoUsableKey => f.write_str("the key set holds no usable key"),
            Self::IssuerMismatch => {
                f.write_str("the metadata's issuer differs from the configured one")
            }
        }
    }
}

/// Time to establish a connection, for the default client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole request, body included, for the default client (each fetch is also
/// bounded by [`JwksOptions::fetch_timeout`]).
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client discovery and JWKS fetches use unless given another: it follows **no
/// redirects**, connects within 5 s and gives up on a request after 10 s. Pass it to
/// [`IssuerConfig::discover`](crate::IssuerConfig::discover), or build your own client with
/// the same policy (a redirected answer is refused whatever the client, see the
/// [module docs](super)).
///
/// # Errors
///
/// [`ConfigErrorKind::Setup`] when the client cannot be built (no TLS backend or roots).
pub fn default_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .build()
        .map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::Setup,
                "http_client",
                "the default HTTP client cannot be built",
            )
        })
}

/// Parses `url`, accepting `https`, and `http` only for loopback hosts.
pub(crate) fn checked_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url).map_err(|_| FetchError::InsecureUrl)?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(FetchError::InsecureUrl),
    }
}

/// A body and its `Cache-Control: max-age`.
struct Body {
    bytes: Vec<u8>,
    max_age: Option<Duration>,
}

async fn get_capped(
    client: &reqwest::Client,
    url: Url,
    options: &JwksOptions,
) -> Result<Body, FetchError> {
    let request = async {
        let mut response = client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .timeout(options.fetch_timeout)
            .send()
            .await
            .map_err(|_| FetchError::Http)?;
        // A redirect could lead anywhere (another host, plain http): the default client
        // does not follow them, and an answer a custom client reached through one is
        // refused all the same.
        if response.status().is_redirection() || *response.url() != url {
            return Err(FetchError::Redirect);
        }
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max_age = response
            .headers()
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_max_age);
        if response
            .content_length()
            .is_some_and(|len| len > options.max_body as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|_| FetchError::Http)? {
            if bytes.len() + chunk.len() > options.max_body {
                return Err(FetchError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body { bytes, max_age })
    };
    tokio::time::timeout(options.fetch_timeout, request)
        .await
        .map_err(|_| FetchError::Timeout)?
}

/// `max-age` of one `Cache-Control` value; `no-cache` / `no-store` count as 0.
fn parse_max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|directive| {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        lower
            .strip_prefix("max-age=")
            .and_then(|secs| secs.trim_matches('"').parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}

/// A fetched key set and how long it may be cached.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) keys: KeySet,
    pub(crate) max_age: Option<Duration>,
}

pub(crate) async fn fetch_jwks(
    client: &reqwest::Client,
    url: &Url,
    options: &JwksOptions,
) -> Result<Fetched, FetchError> {
    let body = get_capped(client, url.clone(), options).await?;
    let parsed = parse_set(&body.bytes, false).map_err(FetchError::KeySet)?;
    if parsed.dropped > 0 {
        tracing::debug!(
            dropped = parsed.dropped,
            "JWKS: keys unusable for verification dropped"
        );
    }
    if parsed.keys.is_empty() {
        return Err(FetchError::NoUsableKey);
    }
    Ok(Fetched {
        keys: parsed.keys,
        max_age: body.max_age,
    })
}

#[derive(serde::Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// OpenID Connect discovery, then RFC 8414, for `issuer`: returns the checked `jwks_uri`.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    options: &JwksOptions,
) -> Result<Url, FetchError> {
    let base = checked_url(issuer)?;
    let trimmed = issuer.trim_end_matches('/');
    let oidc = checked_url(&format!("{trimmed}/.well-known/openid-configuration"))?;
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    let mut rfc8414 = base.clone();
    let path = base.path().trim_end_matches('/');
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    let body = match get_capped(client, oidc, options).await {
        Ok(body) => body,
        Err(FetchError::Status(404)) => get_capped(client, rfc8414, options).await?,
        Err(e) => return Err(e),
    };
    let metadata: Metadata = serde_json::from_slice(&body.bytes).map_err(|_| FetchError::Junk)?;
    if metadata.issuer != issuer {
        return Err(FetchError::IssuerMismatch);
    }
    checked_url(&metadata.jwks_uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=x"), None);
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(checked_url("https://idp.example/jwks").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://[::1]/jwks").is_ok());
        assert!(checked_url("http://localhost/jwks").is_ok());
        assert!(checked_url("http://idp.example/jwks").is_err());
        assert!(checked_url("file:///etc/passwd").is_err());
        assert!(checked_url("not a url").is_err());
    }
}
