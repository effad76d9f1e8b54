//! The one view of "who is calling" that every authentication method shares.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

/// How a [`Principal`] was authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// An API key.
    ApiKey,
    /// A JSON Web Token.
    Jwt,
    /// A browser session (after an OAuth 2.0 / OpenID Connect login).
    Session,
    /// An opaque access token checked at its issuer's RFC 7662 introspection endpoint.
    Introspection,
    /// An application-defined method.
    Custom(Cow<'static, str>),
}

impl AuthMethod {
    /// The method's name: `api_key`, `jwt`, `session`, `introspection`, or the custom name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::ApiKey => "api_key",
            Self::Jwt => "jwt",
            Self::Session => "session",
            Self::Introspection => "introspection",
            Self::Custom(name) => name,
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuthMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Inner {
    subject: String,
    method: AuthMethod,
    scopes: Vec<String>,
    roles: Vec<String>,
    tenant: Option<String>,
    #[serde(serialize_with = "serialize_unix")]
    expires_at: Option<SystemTime>,
}

#[allow(clippy::ref_option)] // serde's `serialize_with` hands us `&Option<T>`.
fn serialize_unix<S: Serializer>(value: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match value.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

/// The authenticated caller, as every method sees it: subject, method, scopes, roles, tenant
/// and expiry.
///
/// Each method crate inserts its own typed identity into the request *and* a `Principal`, so
/// authorization layers and the [`Principal`] extractor work the same whatever authenticated
/// the request. Cloning is one reference-count increment.
///
/// ```
/// use auth_core::{AuthMethod, Principal};
///
/// let p = Principal::new("user-42", AuthMethod::Jwt)
///     .with_scopes(["read", "write"])
///     .with_roles(["admin"])
///     .with_tenant("acme");
/// assert_eq!(p.subject(), "user-42");
/// assert!(p.has_scope("write"));
/// assert!(p.has_role("admin"));
/// assert_eq!(p.tenant(), Some("acme"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    inner: Arc<Inner>,
}

impl Principal {
    /// A principal with a subject and a method, no scopes, roles, tenant or expiry.
    pub fn new(subject: impl Into<String>, method: AuthMethod) -> Self {
        Self {
            inner: Arc::new(Inner {
                subject: subject.into(),
                method,
                scopes: Vec::new(),
                roles: Vec::new(),
                tenant: None,
                expires_at: None,
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// Replaces the scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner_mut().scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner_mut().roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.inner_mut().tenant = Some(tenant.into());
        self
    }

    /// Sets the instant the credential stops being valid.
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: SystemTime) -> Self {
        self.inner_mut().expires_at = Some(expires_at);
        self
    }

    /// Who is calling: a user id, an account, a client id.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// How the caller was authenticated.
    #[must_use]
    pub fn method(&self) -> &AuthMethod {
        &self.inner.method
    }

    /// The granted scopes.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// The caller's roles.
    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.inner.roles
    }

    /// The tenant, for multi-tenant applications.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.inner.tenant.as_deref()
    }

    /// When the credential stops being valid, if it says.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.inner.expires_at
    }

    /// Whether `scope` was granted.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.iter().any(|s| s == scope)
    }

    /// Whether the caller has `role`.
    #[must_use]
    pub fn has_role(&self, role: &str) -> bool {
        self.inner.roles.iter().any(|r| r == role)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.inner.subject)
            .field("method", &self.inner.method)
            .field("scopes", &self.inner.scopes)
            .field("roles", &self.inner.roles)
            .field("tenant", &self.inner.tenant)
            .field("expires_at", &self.inner.expires_at)
            .finish()
    }
}

/// Serialises as `{"subject", "method", "scopes", "roles", "tenant", "expires_at"}` with
/// `expires_at` in Unix seconds.
impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.serialize(serializer)
    }
}

/// A method's typed identity: its own data plus the shared [`Principal`] view.
///
/// ```
/// use auth_core::{AuthMethod, Identity, Principal};
///
/// #[derive(Clone)]
/// struct Robot {
///     serial: u64,
///     principal: Principal,
/// }
///
/// impl Identity for Robot {
///     fn principal(&self) -> &Principal {
///         &self.principal
///     }
/// }
///
/// let r = Robot { serial: 7, principal: Principal::new("robot-7", AuthMethod::Custom("robot".into())) };
/// assert_eq!(r.principal().method().as_str(), "robot");
/// ```
pub trait Identity: Clone + Send + Sync + 'static {
    /// The shared view of this identity.
    fn principal(&self) -> &Principal;

    /// Puts what the layer hands on into the request's `extensions`: by default the
    /// identity itself and a clone of its [`Principal`], so handlers extract either
    /// (`Authenticated<Self>` or `Principal`).
    fn insert_into(self, extensions: &mut http::Extensions) {
        extensions.insert(self.principal().clone());
        extensions.insert(self);
    }

    /// Headers the layer appends to the response of a request it admits with this
    /// identity, taken before the identity is inserted into the request: e.g. a fresh
    /// `DPoP-Nonce` (RFC 9449 §8.2). `None` by default, which costs nothing.
    ///
    /// ```
    /// use auth_core::{AuthLayer, AuthMethod, Identity, Principal};
    /// use http::{HeaderMap, HeaderValue, Request, Response};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// #[derive(Clone)]
    /// struct Robot {
    ///     principal: Principal,
    ///     notice: Option<HeaderValue>,
    /// }
    ///
    /// impl Identity for Robot {
    ///     fn principal(&self) -> &Principal {
    ///         &self.principal
    ///     }
    ///
    ///     fn take_response_headers(&mut self) -> Option<HeaderMap> {
    ///         let value = self.notice.take()?;
    ///         Some(HeaderMap::from_iter([(http::header::WARNING, value)]))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let auth = |_: &Request<String>| {
    ///     Ok(Robot {
    ///         principal: Principal::new("r2", AuthMethod::Custom("robot".into())),
    ///         notice: Some(HeaderValue::from_static(r#"299 - "renew your certificate""#)),
    ///     })
    /// };
    /// let svc = ServiceBuilder::new().layer(AuthLayer::new(auth)).service(service_fn(
    ///     |_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) },
    /// ));
    /// let res = svc.oneshot(Request::new(String::new())).await.unwrap();
    /// assert_eq!(res.headers()["warning"], r#"299 - "renew your certificate""#);
    /// # }
    /// ```
    fn take_response_headers(&mut self) -> Option<http::HeaderMap> {
        None
    }
}

/// A `Principal` is its own principal: inserted once.
impl Identity for Principal {
    fn principal(&self) -> &Principal {
        self
    }

    fn insert_into(self, extensions: &mut http::Extensions) {
        extensions.insert(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn builder_and_accessors() {
        let exp = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let p = Principal::new("acct_1", AuthMethod::ApiKey)
            .with_scopes(["read"])
            .with_expires_at(exp);
        assert_eq!(p.method().as_str(), "api_key");
        assert!(p.has_scope("read"));
        assert!(!p.has_scope("write"));
        assert!(!p.has_role("admin"));
        assert_eq!(p.expires_at(), Some(exp));
        assert_eq!(p.tenant(), None);
    }

    #[test]
    fn serialises_with_unix_expiry() {
        let p = Principal::new("u", AuthMethod::Session)
            .with_scopes(["a", "b"])
            .with_expires_at(SystemTime::UNIX_EPOCH + Duration::from_secs(10));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "subject": "u", "method": "session", "scopes": ["a", "b"],
                "roles": [], "tenant": null, "expires_at": 10
            })
        );
    }

    #[test]
    fn clone_shares_and_with_copies_on_write() {
        let a = Principal::new("u", AuthMethod::Jwt);
        let b = a.clone().with_roles(["x"]);
        assert!(!a.has_role("x"));
        assert!(b.has_role("x"));
        assert_eq!(
            AuthMethod::Custom("mtls".into()).to_string(),
            "mtls".to_owned()
        );
    }
}
