//! [`RateLimiter`]: the per-identity limits and quota, its builder and what it keys on.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use auth_core::{AuthError, ConfigError, Principal};
use compact_str::CompactString;
use http::request::Parts;

use crate::clock::{Clock, SystemClock};
use crate::decision::Decision;
use crate::layer::RateLimitLayer;
use crate::memory::MemoryStore;
use crate::policy::{Limit, Policy, Quota};

/// A key of your own: `f(request, principal)`, borrowed from them where it can be.
pub type CustomKey = Arc<dyn for<'a> Fn(&'a Parts, &'a Principal) -> Cow<'a, str> + Send + Sync>;

/// What identities are counted by.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyBy {
    /// The [`Principal`]'s subject (default).
    Subject,
    /// The principal's tenant; a principal without one is counted by its subject.
    Tenant,
    /// The authentication method: every API-key caller shares one budget, every JWT
    /// caller another.
    Method,
    /// A key of your own from the request and its principal (see [`KeyBy::custom`]).
    Custom(CustomKey),
}

impl KeyBy {
    /// Counts by `f(request, principal)`, e.g. subject and route together. A key borrowed
    /// from the request or principal (`Cow::Borrowed`) costs no allocation.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use tower_ratelimit::KeyBy;
    ///
    /// // One budget per subject and path.
    /// let by_route = KeyBy::custom(|parts, principal| {
    ///     Cow::Owned(format!("{}|{}", principal.subject(), parts.uri.path()))
    /// });
    /// // One budget per client id that the authenticator put in the request, borrowed.
    /// #[derive(Clone)]
    /// struct ClientId(String);
    /// let by_client = KeyBy::custom(|parts, principal| {
    ///     match parts.extensions.get::<ClientId>() {
    ///         Some(ClientId(id)) => Cow::Borrowed(id.as_str()),
    ///         None => Cow::Borrowed(principal.subject()),
    ///     }
    /// });
    /// # let _ = (by_route, by_client);
    /// ```
    pub fn custom(
        f: impl for<'a> Fn(&'a Parts, &'a Principal) -> Cow<'a, str> + Send + Sync + 'static,
    ) -> Self {
        Self::Custom(Arc::new(f))
    }

    /// The counter key: a one-letter namespace and the value, held inline (no allocation)
    /// up to 24 bytes.
    fn key(&self, parts: &Parts, principal: &Principal) -> CompactString {
        let (namespace, value) = match self {
            Self::Subject => ("s:", principal.subject()),
            Self::Tenant => match principal.tenant() {
                Some(tenant) => ("t:", tenant),
                None => ("s:", principal.subject()),
            },
            Self::Method => ("m:", principal.method().as_str()),
            Self::Custom(f) => return prefixed("c:", &f(parts, principal)),
        };
        prefixed(namespace, value)
    }
}

fn prefixed(namespace: &'static str, value: &str) -> CompactString {
    let mut key = CompactString::new(namespace);
    key.push_str(value);
    key
}

impl fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Subject => "Subject",
            Self::Tenant => "Tenant",
            Self::Method => "Method",
            Self::Custom(_) => "Custom",
        })
    }
}

type Overrides = Arc<dyn Fn(&Parts, &Principal) -> Option<Policy> + Send + Sync>;

/// A check that may wait for the shared store.
pub(crate) type CheckFuture<T = Result<Decision, AuthError>> =
    Pin<Box<dyn Future<Output = T> + Send>>;

/// A check's outcome: known now (in process, or from the local lease), or pending on Redis.
pub(crate) enum Check<T = Result<Decision, AuthError>> {
    Ready(T),
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Pending(CheckFuture<T>),
}

pub(crate) enum Backend {
    Memory(MemoryStore),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisStore),
}

pub(crate) struct Inner {
    /// `None`: only identities with a policy of their own (from `overrides`) are limited.
    pub(crate) policy: Option<Policy>,
    pub(crate) key_by: KeyBy,
    pub(crate) overrides: Option<Overrides>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) backend: Backend,
    pub(crate) headers: bool,
}

/// Rate limits and a usage quota per authenticated identity, placed inside an
/// [`AuthLayer`](auth_core::AuthLayer) (see [`RateLimiter::layer`]); cheap to clone.
///
/// Every request of an identity is counted against its [`Policy`]: the limiter's own, or
/// the one [`overrides`](RateLimiterBuilder::overrides) returns for it. In process by
/// default; shared across instances with [`redis`](RateLimiterBuilder::redis).
#[derive(Clone)]
pub struct RateLimiter {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("RateLimiter")
            .field("policy", &self.inner.policy.as_ref().map(Policy::header))
            .field("key_by", &self.inner.key_by)
            .field("overrides", &self.inner.overrides.is_some())
            .field("backend", &backend)
            .finish()
    }
}

impl RateLimiter {
    /// A builder; add at least one limit or a quota, or [`overrides`](RateLimiterBuilder::overrides)
    /// alone to limit only the identities that have a policy of their own.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder {
            limits: Vec::new(),
            quota: None,
            key_by: KeyBy::Subject,
            overrides: None,
            clock: Arc::new(SystemClock::new()),
            headers: true,
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The layer: place it inside an [`AuthLayer`](auth_core::AuthLayer).
    #[must_use]
    pub fn layer(&self) -> RateLimitLayer {
        RateLimitLayer::new(self.clone())
    }

    /// The default policy; `None` when the builder had no limit and no quota, so that only
    /// identities with a policy of their own are limited.
    #[must_use]
    pub fn policy(&self) -> Option<&Policy> {
        self.inner.policy.as_ref()
    }

    /// Checks one request of `key` under `policy` and counts it if admitted. For use
    /// outside the layer (a job queue, a WebSocket message loop).
    ///
    /// # Errors
    /// [`AuthError`] 503 when the shared store cannot be reached and the policy does not
    /// fail open.
    pub async fn check(&self, key: &str, policy: &Policy) -> Result<Decision, AuthError> {
        match self.start(key, policy) {
            Check::Ready(decision) => decision,
            Check::Pending(future) => future.await,
        }
    }

    /// How many identities the limiter holds state for (in process: entries not yet swept;
    /// with Redis: local leases).
    #[must_use]
    pub fn tracked_identities(&self) -> usize {
        match &self.inner.backend {
            Backend::Memory(store) => store.len(),
            #[cfg(feature = "redis")]
            Backend::Redis(store) => store.len(),
        }
    }

    /// The key and policy `parts` is counted under; `None` when no policy applies (no
    /// default policy and none of its own): the request is not limited.
    pub(crate) fn identify(&self, parts: &Parts) -> Option<(CompactString, Policy)> {
        match parts.extensions.get::<Principal>() {
            Some(principal) => {
                let own = self
                    .inner
                    .overrides
                    .as_ref()
                    .and_then(|f| f(parts, principal));
                let policy = own.or_else(|| self.inner.policy.clone())?;
                Some((self.inner.key_by.key(parts, principal), policy))
            }
            None => {
                let policy = self.inner.policy.clone()?;
                let key = match crate::address::peer(&parts.extensions) {
                    Some(ip) => compact_str::format_compact!("anon:{ip}"),
                    None => CompactString::const_new("anon"),
                };
                Some((key, policy))
            }
        }
    }

    #[inline]
    pub(crate) fn start(&self, key: &str, policy: &Policy) -> Check {
        let now = self.inner.clock.now();
        match &self.inner.backend {
            Backend::Memory(store) => Check::Ready(Ok(store.check(key, policy, now))),
            #[cfg(feature = "redis")]
            Backend::Redis(store) => store.check(key, policy, now),
        }
    }
}

/// Builds a [`RateLimiter`].
#[must_use]
pub struct RateLimiterBuilder {
    limits: Vec<Limit>,
    quota: Option<Quota>,
    key_by: KeyBy,
    overrides: Option<Overrides>,
    clock: Arc<dyn Clock>,
    headers: bool,
    #[cfg(feature = "redis")]
    redis: Option<crate::redis::RedisConfig>,
}

impl fmt::Debug for RateLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiterBuilder")
            .field("limits", &self.limits)
            .field("quota", &self.quota)
            .field("key_by", &self.key_by)
            .finish_non_exhaustive()
    }
}

impl RateLimiterBuilder {
    /// Adds a named rate limit to the default policy.
    pub fn limit(mut self, limit: Limit) -> Self {
        self.limits.push(limit);
        self
    }

    /// Sets the default policy's usage quota.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// What identities are counted by (default: [`KeyBy::Subject`]).
    pub fn key_by(mut self, key_by: KeyBy) -> Self {
        self.key_by = key_by;
        self
    }

    /// An identity's own policy, read from the request and its principal (an API key's
    /// stored limit, a JWT claim); `None` keeps the default. Called once per request: keep
    /// it cheap (clone a [`Policy`] built ahead, a `Policy` is an `Arc`).
    ///
    /// With no default limit and no quota, identities without a policy of their own pass
    /// unlimited and uncounted (nothing is kept for them), and admitted responses carry no
    /// rate-limit headers for them.
    pub fn overrides(
        mut self,
        overrides: impl Fn(&Parts, &Principal) -> Option<Policy> + Send + Sync + 'static,
    ) -> Self {
        self.overrides = Some(Arc::new(overrides));
        self
    }

    /// Where time is read (default: [`SystemClock`]); a [`ManualClock`](crate::ManualClock)
    /// in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Whether admitted responses carry `RateLimit-Policy` and `RateLimit` too (default:
    /// yes; refusals always do).
    pub fn headers(mut self, headers: bool) -> Self {
        self.headers = headers;
        self
    }

    /// Share the counters across instances through Redis.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, redis: crate::redis::RedisConfig) -> Self {
        self.redis = Some(redis);
        self
    }

    /// The limiter.
    ///
    /// # Errors
    /// [`ConfigError`] if the policy is empty and there are no
    /// [`overrides`](Self::overrides), or a limit is malformed (see [`Policy::new`]).
    pub fn build(self) -> Result<RateLimiter, ConfigError> {
        let policy = if self.limits.is_empty() && self.quota.is_none() && self.overrides.is_some() {
            None
        } else {
            Some(Policy::new(self.limits, self.quota)?)
        };
        #[cfg(feature = "redis")]
        let backend = match self.redis {
            Some(config) => Backend::Redis(crate::redis::RedisStore::new(config)?),
            None => Backend::Memory(MemoryStore::default()),
        };
        #[cfg(not(feature = "redis"))]
        let backend = Backend::Memory(MemoryStore::default());
        Ok(RateLimiter {
            inner: Arc::new(Inner {
                policy,
                key_by: self.key_by,
                overrides: self.overrides,
                clock: self.clock,
                backend,
                headers: self.headers,
            }),
        })
    }
}
