//! [`ResourceMetadata`]: OAuth 2.0 Protected Resource Metadata (RFC 9728), so a client (an
//! MCP client, say) that meets a 401 can find out which authorization server to ask.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use tower_service::Service;

use crate::error::{ConfigError, ConfigErrorKind};

/// The well-known path prefix of RFC 9728 §3.
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// An API's protected resource metadata (RFC 9728): its resource identifier, the
/// authorization servers whose tokens it takes, the scopes it knows, how it takes bearer
/// tokens. Serve it with [`service`](ResourceMetadata::service) at
/// [`path`](ResourceMetadata::path), and name it in every challenge with
/// [`Rejection::resource_metadata`](crate::Rejection::resource_metadata).
///
/// ```
/// use auth_core::{AuthLayer, Rejection, ResourceMetadata};
/// use http::Request;
/// use http_body_util::BodyExt;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metadata = ResourceMetadata::builder("https://api.example.com")
///     .authorization_server("https://auth.example.com")
///     .scopes_supported(["notes:read", "notes:write"])
///     .build()?;
/// assert_eq!(metadata.path(), "/.well-known/oauth-protected-resource");
/// assert_eq!(metadata.url(), "https://api.example.com/.well-known/oauth-protected-resource");
///
/// // axum: `Router::new().route_service(metadata.path(), metadata.service())`
/// let request = Request::get(metadata.path()).body(()).unwrap();
/// let response = metadata.service().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// let json: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await?.to_bytes())?;
/// assert_eq!(json["resource"], "https://api.example.com");
/// assert_eq!(json["authorization_servers"][0], "https://auth.example.com");
/// assert_eq!(json["bearer_methods_supported"][0], "header");
///
/// // Every challenge names the document: WWW-Authenticate: Bearer …, resource_metadata="…"
/// let rejection = Rejection::new().resource_metadata(&metadata);
/// # let _ = rejection;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ResourceMetadata {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    url: String,
    document: Bytes,
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}

impl ResourceMetadata {
    /// Starts the metadata of the resource identified by `resource`: an `https` URL (or
    /// `http` on a loopback host), without query or fragment.
    pub fn builder(resource: impl Into<String>) -> ResourceMetadataBuilder {
        ResourceMetadataBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods: vec!["header".to_owned()],
            jwks_uri: None,
            documentation: None,
            resource_name: None,
            tls_bound_tokens: false,
            dpop_algorithms: Vec::new(),
            dpop_required: false,
        }
    }

    /// The path the document is served at: `/.well-known/oauth-protected-resource`, followed
    /// by the resource's own path when it has one (RFC 9728 §3.1).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The document's absolute URL, as challenges name it.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// A tower service answering `GET` and `HEAD` of [`path`](ResourceMetadata::path) with
    /// the JSON document (`application/json`, cacheable for an hour), 404 for any other path
    /// and 405 for other methods. Mount it at that path.
    #[must_use]
    pub fn service(&self) -> MetadataService {
        MetadataService {
            metadata: self.clone(),
        }
    }
}

/// Configures a [`ResourceMetadata`]; built by [`ResourceMetadata::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceMetadataBuilder {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    bearer_methods: Vec<String>,
    jwks_uri: Option<String>,
    documentation: Option<String>,
    resource_name: Option<String>,
    tls_bound_tokens: bool,
    dpop_algorithms: Vec<String>,
    dpop_required: bool,
}

impl ResourceMetadataBuilder {
    /// An authorization server (its issuer identifier) whose access tokens the resource
    /// accepts; call once per server.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The scopes the resource uses in authorization decisions.
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How bearer tokens may be sent (RFC 6750: `header`, `body`, `query`); `header` by
    /// default, as the credential sources read it.
    pub fn bearer_methods_supported<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bearer_methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// The JWK set of the keys the resource itself signs with (only if it signs anything).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// A page of human-readable documentation for developers.
    pub fn resource_documentation(mut self, uri: impl Into<String>) -> Self {
        self.documentation = Some(uri.into());
        self
    }

    /// A human-readable name of the resource.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// States that the resource takes certificate-bound access tokens over mutual TLS
    /// (RFC 8705): `"tls_client_certificate_bound_access_tokens": true`.
    pub fn tls_client_certificate_bound_access_tokens(mut self) -> Self {
        self.tls_bound_tokens = true;
        self
    }

    /// The JWS algorithms the resource accepts for DPoP proofs (RFC 9449), e.g. `ES256`:
    /// `dpop_signing_alg_values_supported`. Asymmetric algorithms only.
    pub fn dpop_signing_alg_values_supported<I, S>(mut self, algorithms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.dpop_algorithms = algorithms.into_iter().map(Into::into).collect();
        self
    }

    /// States that the resource takes DPoP-bound access tokens only:
    /// `"dpop_bound_access_tokens_required": true`.
    pub fn dpop_bound_access_tokens_required(mut self) -> Self {
        self.dpop_required = true;
        self
    }

    /// Checks every URL and builds the document.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for a URL that is not `https` (or `http` on a
    /// loopback host), a resource with a query, a bearer method RFC 6750 does not name, a
    /// DPoP algorithm that is `none` or symmetric (`HS*`), or DPoP required without an
    /// algorithm.
    pub fn build(self) -> Result<ResourceMetadata, ConfigError> {
        let resource = checked_url("resource", &self.resource)?;
        if resource.query().is_some() {
            return Err(invalid("resource", "must not have a query"));
        }
        for server in &self.authorization_servers {
            checked_url("authorization_server", server)?;
        }
        for (field, uri) in [
            ("jwks_uri", &self.jwks_uri),
            ("resource_documentation", &self.documentation),
        ] {
            if let Some(uri) = uri {
                checked_url(field, uri)?;
            }
        }
        if let Some(method) = self
            .bearer_methods
            .iter()
            .find(|m| !matches!(m.as_str(), "header" | "body" | "query"))
        {
            return Err(invalid(
                "bearer_methods_supported",
                format!("`{method}` is not header, body or query"),
            ));
        }
        if let Some(alg) = self
            .dpop_algorithms
            .iter()
            .find(|a| a.is_empty() || a.eq_ignore_ascii_case("none") || a.starts_with("HS"))
        {
            return Err(invalid(
                "dpop_signing_alg_values_supported",
                format!("`{alg}` is not an asymmetric JWS algorithm"),
            ));
        }
        if self.dpop_required && self.dpop_algorithms.is_empty() {
            return Err(invalid(
                "dpop_bound_access_tokens_required",
                "needs dpop_signing_alg_values_supported",
            ));
        }
        let suffix = resource.path().trim_end_matches('/');
        let path = format!("{WELL_KNOWN}{suffix}");
        let origin = self.resource.trim_end_matches('/');
        let origin = origin.strip_suffix(suffix).unwrap_or(origin);
        let url = format!("{origin}{path}");
        let mut document = serde_json::json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": self.bearer_methods,
        });
        if !self.scopes_supported.is_empty() {
            document["scopes_supported"] = self.scopes_supported.into();
        }
        if let Some(uri) = self.jwks_uri {
            document["jwks_uri"] = uri.into();
        }
        if let Some(uri) = self.documentation {
            document["resource_documentation"] = uri.into();
        }
        if let Some(name) = self.resource_name {
            document["resource_name"] = name.into();
        }
        if self.tls_bound_tokens {
            document["tls_client_certificate_bound_access_tokens"] = true.into();
        }
        if !self.dpop_algorithms.is_empty() {
            document["dpop_signing_alg_values_supported"] = self.dpop_algorithms.into();
        }
        if self.dpop_required {
            document["dpop_bound_access_tokens_required"] = true.into();
        }
        Ok(ResourceMetadata {
            inner: Arc::new(Inner {
                path,
                url,
                document: Bytes::from(document.to_string()),
            }),
        })
    }
}

fn invalid(field: &'static str, message: impl Into<std::borrow::Cow<'static, str>>) -> ConfigError {
    ConfigError::new(ConfigErrorKind::InvalidValue, field, message)
}

/// `url` as an absolute `https` URL, or `http` on a loopback host.
fn checked_url(field: &'static str, url: &str) -> Result<Uri, ConfigError> {
    if url.contains('#') {
        return Err(invalid(field, "must not have a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| invalid(field, "must be an absolute URL without a fragment"))?;
    let host = uri
        .host()
        .ok_or_else(|| invalid(field, "must be an absolute URL"))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if loopback => Ok(uri),
        _ => Err(invalid(
            field,
            "must be https (http only on a loopback host)",
        )),
    }
}

/// The service of [`ResourceMetadata::service`].
#[derive(Debug, Clone)]
pub struct MetadataService {
    metadata: ResourceMetadata,
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let inner = &self.metadata.inner;
        let mut response = Response::new(Full::new(Bytes::new()));
        if request.uri().path() != inner.path {
            *response.status_mut() = StatusCode::NOT_FOUND;
        } else if !matches!(*request.method(), Method::GET | Method::HEAD) {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        } else {
            if request.method() == Method::GET {
                *response.body_mut() = Full::new(inner.document.clone());
            }
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
        }
        ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_with_a_path_is_served_under_the_suffixed_well_known_path() {
        let metadata = ResourceMetadata::builder("https://example.com/api/v1/")
            .build()
            .unwrap();
        assert_eq!(
            metadata.path(),
            "/.well-known/oauth-protected-resource/api/v1"
        );
        assert_eq!(
            metadata.url(),
            "https://example.com/.well-known/oauth-protected-resource/api/v1"
        );
        let local = ResourceMetadata::builder("http://127.0.0.1:3000")
            .build()
            .unwrap();
        assert_eq!(
            local.url(),
            "http://127.0.0.1:3000/.well-known/oauth-protected-resource"
        );
    }

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        for (resource, server) in [
            ("http://api.example.com", "https://auth.example.com"),
            ("https://api.example.com", "http://auth.example.com"),
            ("https://api.example.com/#x", "https://auth.example.com"),
            ("https://api.example.com/?a=1", "https://auth.example.com"),
            ("/relative", "https://auth.example.com"),
        ] {
            let err = ResourceMetadata::builder(resource)
                .authorization_server(server)
                .build()
                .unwrap_err();
            assert_eq!(
                err.kind(),
                ConfigErrorKind::InvalidValue,
                "{resource} {server}"
            );
        }
        let err = ResourceMetadata::builder("https://api.example.com")
            .bearer_methods_supported(["cookie"])
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "bearer_methods_supported");
        assert!(
            ResourceMetadata::builder("http://localhost:8080")
                .authorization_server("http://[::1]:9000")
                .build()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn sender_constrained_token_support_is_stated_and_checked() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let document = |metadata: &ResourceMetadata| {
            let metadata = metadata.clone();
            async move {
                let request = Request::get(metadata.path()).body(()).unwrap();
                let response = metadata.service().oneshot(request).await.unwrap();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                serde_json::from_slice::<serde_json::Value>(&body).unwrap()
            }
        };
        let plain = ResourceMetadata::builder("https://api.example.com")
            .build()
            .unwrap();
        let json = document(&plain).await;
        for field in [
            "tls_client_certificate_bound_access_tokens",
            "dpop_signing_alg_values_supported",
            "dpop_bound_access_tokens_required",
        ] {
            assert!(json.get(field).is_none(), "{field} stated by default");
        }

        let bound = ResourceMetadata::builder("https://api.example.com")
            .tls_client_certificate_bound_access_tokens()
            .dpop_signing_alg_values_supported(["ES256", "EdDSA"])
            .dpop_bound_access_tokens_required()
            .build()
            .unwrap();
        let json = document(&bound).await;
        assert_eq!(json["tls_client_certificate_bound_access_tokens"], true);
        assert_eq!(
            json["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "EdDSA"])
        );
        assert_eq!(json["dpop_bound_access_tokens_required"], true);

        for alg in ["none", "HS256", ""] {
            let err = ResourceMetadata::builder("https://api.example.com")
                .dpop_signing_alg_values_supported([alg])
                .build()
                .unwrap_err();
            assert_eq!(err.field(), "dpop_signing_alg_values_supported", "{alg}");
        }
        let err = ResourceMetadata::builder("https://api.example.com")
            .dpop_bound_access_tokens_required()
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "dpop_bound_access_tokens_required");
    }

    #[tokio::test]
    async fn other_paths_and_methods_are_refused() {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let metadata = ResourceMetadata::builder("https://api.example.com")
            .resource_documentation("https://docs.example.com")
            .jwks_uri("https://api.example.com/jwks.json")
            .resource_name("Notes")
            .build()
            .unwrap();
        let call = |method: Method, path: &str| {
            metadata.service().oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .body(())
                    .unwrap(),
            )
        };
        let ok = call(Method::GET, metadata.path()).await.unwrap();
        assert_eq!(ok.headers()[CONTENT_TYPE], "application/json");
        let json: serde_json::Value =
            serde_json::from_slice(&ok.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(json["resource_documentation"], "https://docs.example.com");
        assert_eq!(json["jwks_uri"], "https://api.example.com/jwks.json");
        assert_eq!(json["resource_name"], "Notes");
        assert!(json.get("scopes_supported").is_none());
        let head = call(Method::HEAD, metadata.path()).await.unwrap();
        assert_eq!(head.status(), 200);
        assert!(
            head.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        let post = call(Method::POST, metadata.path()).await.unwrap();
        assert_eq!(post.status(), 405);
        assert_eq!(post.headers()[ALLOW], "GET, HEAD");
        assert_eq!(call(Method::GET, "/other").await.unwrap().status(), 404);
    }
}
