//! [`Throttle`]: slows down credential guessing before authentication, per client address
//! and per claimed identity, without locking the real user out for longer than the limit's
//! burst takes to drain.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use auth_core::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};
use http::request::Parts;

use crate::address::ClientAddress;
use crate::clock::{Clock, SystemClock};
use crate::decision::{Decision, LimitState};
use crate::limiter::{Check, CheckFuture};
use crate::memory::MemoryStore;
use crate::policy::{Limit, Policy};

type ClaimedIdentity = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

struct Dimension {
    limit: Limit,
    policy: Policy,
}

impl Dimension {
    fn new(limit: Limit) -> Result<Self, ConfigError> {
        Ok(Self {
            policy: Policy::new([limit.clone()], None)?,
            limit,
        })
    }
}

enum Backend {
    /// The counters in process: addresses kept as they are, claimed identities as strings,
    /// each in its own map (so neither needs a prefix).
    Memory {
        addresses: MemoryStore<IpAddr>,
        identities: MemoryStore,
    },
    #[cfg(feature = "redis")]
    Redis(Box<crate::redis::throttle::RedisThrottle>),
}

impl Inner {
    /// Whether the throttle counts per claimed identity.
    pub(crate) fn has_identity(&self) -> bool {
        self.per_identity.is_some()
    }
}

impl Backend {
    fn memory() -> Self {
        Self::Memory {
            addresses: MemoryStore::default(),
            identities: MemoryStore::default(),
        }
    }
}

pub(crate) struct Inner {
    per_address: Option<Dimension>,
    per_identity: Option<(Dimension, ClaimedIdentity)>,
    pub(crate) address: ClientAddress,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

/// Counts failed authentications (401) per client address and per claimed identity, and
/// answers 429 (never 401) once either is over its limit, before the credential is even
/// checked; cheap to clone.
///
/// The counters are GCRA buckets that drain by themselves: `Limit::per_minute("login-ip",
/// 10).with_burst(5)` lets 5 failures through at once, then one every 6 s, and forgets a
/// flood 30 s after it stops, so the real user's right password works again then. Successes
/// are not counted. Use [`Throttle::layer`] outside an [`AuthLayer`](auth_core::AuthLayer),
/// or [`check`](Throttle::check) and [`record_failure`](Throttle::record_failure) in a login
/// handler. Counters are kept in process, or in Redis to be shared by every instance
/// ([`redis`](ThrottleBuilder::redis)).
#[derive(Clone)]
pub struct Throttle {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.inner.backend {
            Backend::Memory { .. } => "memory",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("Throttle")
            .field(
                "per_address",
                &self.inner.per_address.as_ref().map(|d| &d.limit),
            )
            .field(
                "per_identity",
                &self.inner.per_identity.as_ref().map(|d| &d.0.limit),
            )
            .field("address", &self.inner.address)
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// A builder; set at least one of `per_address` and `per_identity`.
    pub fn builder() -> ThrottleBuilder {
        ThrottleBuilder {
            per_address: None,
            per_identity: None,
            client_address: ClientAddress::Peer,
            clock: Arc::new(SystemClock::new()),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The layer: place it outside the [`AuthLayer`](auth_core::AuthLayer).
    #[must_use]
    pub fn layer(&self) -> crate::throttle_layer::ThrottleLayer {
        crate::throttle_layer::ThrottleLayer::new(self.clone())
    }

    /// The client address of a request, as configured (see [`ClientAddress`]).
    #[must_use]
    pub fn client_address(&self, parts: &Parts) -> Option<IpAddr> {
        self.inner.address.of(&parts.headers, &parts.extensions)
    }

    /// The claimed identity of a request, by the closure given to
    /// [`per_identity`](ThrottleBuilder::per_identity).
    #[must_use]
    pub fn claimed_identity(&self, parts: &Parts) -> Option<String> {
        self.inner.per_identity.as_ref().and_then(|(_, f)| f(parts))
    }

    /// Whether an attempt from `address` for `identity` may be made now; counts nothing.
    /// In process it answers at once; with Redis it waits at most the configured timeout.
    ///
    /// # Errors
    /// 429 ([`AuthError::rate_limited`]) if the address or the identity has failed too often;
    /// 500 if a per-address limit is set and `address` is `None` (the server cannot see
    /// client addresses: serve with `ConnectInfo`, or configure a trusted proxy header);
    /// with Redis, 503 when it cannot be reached, unless every limit is
    /// [`insecure_fail_open`](Limit::insecure_fail_open).
    pub async fn check(
        &self,
        address: Option<IpAddr>,
        identity: Option<&str>,
    ) -> Result<(), AuthError> {
        match self.start_check(address, identity) {
            Check::Ready(outcome) => outcome,
            Check::Pending(outcome) => outcome.await,
        }
    }

    /// Counts one failed authentication from `address` for `identity`. In process it is
    /// counted at once; with Redis this waits for it (at most the configured timeout), and a
    /// Redis that cannot be reached counts nothing (with a warning).
    pub async fn record_failure(&self, address: Option<IpAddr>, identity: Option<&str>) {
        if let Some(recording) = self.start_record(address, identity) {
            recording.await;
        }
    }

    #[cfg(feature = "redis")]
    fn dimension(&self, side: Side) -> &Dimension {
        let dim = match side {
            Side::Address => self.inner.per_address.as_ref(),
            Side::Identity => self.inner.per_identity.as_ref().map(|(dim, _)| dim),
        };
        dim.expect("a counter exists only for a configured dimension")
    }

    /// The counters of an attempt in Redis: the address's, then the claimed identity's.
    #[cfg(feature = "redis")]
    fn counters(&self, address: Option<IpAddr>, identity: Option<&str>) -> Vec<(String, Side)> {
        let mut counters = Vec::with_capacity(2);
        if let (Some(_), Some(ip)) = (&self.inner.per_address, address) {
            counters.push((format!("a:{ip}"), Side::Address));
        }
        if let (Some(_), Some(identity)) = (&self.inner.per_identity, identity) {
            counters.push((format!("i:{identity}"), Side::Identity));
        }
        counters
    }

    /// [`check`](Self::check), answered at once when the counters are in process.
    pub(crate) fn start_check(
        &self,
        address: Option<IpAddr>,
        identity: Option<&str>,
    ) -> Check<Result<(), AuthError>> {
        if self.inner.per_address.is_some() && address.is_none() {
            return Check::Ready(Err(AuthError::misconfigured(
                "the throttle has a per-address limit but the request has no client address",
            )));
        }
        match &self.inner.backend {
            Backend::Memory {
                addresses,
                identities,
            } => {
                // One lookup per counter, nothing formatted or allocated; the clock is read
                // only for a counter that exists.
                let clock = &*self.inner.clock;
                let over = |dim: &Dimension, wait: u64| {
                    // Denied: tat + interval - now - tolerance = wait.
                    refusal(
                        dim,
                        wait,
                        wait + dim.limit.tolerance() - dim.limit.interval(),
                    )
                };
                let by_address = match (&self.inner.per_address, address) {
                    (Some(dim), Some(ip)) => addresses
                        .peek(&ip, &dim.limit, || clock.now())
                        .map_err(|wait| over(dim, wait)),
                    _ => Ok(()),
                };
                Check::Ready(by_address.and_then(|()| {
                    match (&self.inner.per_identity, identity) {
                        (Some((dim, _)), Some(identity)) => identities
                            .peek(identity, &dim.limit, || clock.now())
                            .map_err(|wait| over(dim, wait)),
                        _ => Ok(()),
                    }
                }))
            }
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {
                let counters = self.counters(address, identity);
                let throttle = self.clone();
                Check::Pending(Box::pin(async move {
                    let Backend::Redis(redis) = &throttle.inner.backend else {
                        unreachable!("the backend does not change")
                    };
                    match redis.run(&throttle.limits(&counters), false).await {
                        Ok(states) => {
                            counters
                                .iter()
                                .zip(states)
                                .try_for_each(|((_, side), state)| {
                                    if state.wait == 0 {
                                        Ok(())
                                    } else {
                                        Err(refusal(
                                            throttle.dimension(*side),
                                            state.wait,
                                            state.reset,
                                        ))
                                    }
                                })
                        }
                        Err(error) => crate::redis::fail(&error, throttle.fails_open()).map(drop),
                    }
                }))
            }
        }
    }

    /// [`record_failure`](Self::record_failure): done at once in process, else the
    /// recording to wait for.
    pub(crate) fn start_record(
        &self,
        address: Option<IpAddr>,
        identity: Option<&str>,
    ) -> Option<CheckFuture<()>> {
        match &self.inner.backend {
            Backend::Memory {
                addresses,
                identities,
            } => {
                let now = self.inner.clock.now();
                if let (Some(dim), Some(ip)) = (&self.inner.per_address, address) {
                    addresses.record(&ip, &dim.limit, now);
                }
                if let (Some((dim, _)), Some(identity)) = (&self.inner.per_identity, identity) {
                    identities.record(identity, &dim.limit, now);
                }
                None
            }
            #[cfg(feature = "redis")]
            Backend::Redis(_) => {
                let counters = self.counters(address, identity);
                if counters.is_empty() {
                    return None;
                }
                let throttle = self.clone();
                Some(Box::pin(async move {
                    let Backend::Redis(redis) = &throttle.inner.backend else {
                        unreachable!("the backend does not change")
                    };
                    if let Err(error) = redis.run(&throttle.limits(&counters), true).await {
                        tracing::warn!(target: "tower_ratelimit", %error, "Redis unreachable: a failed authentication was not counted");
                    }
                }))
            }
        }
    }

    /// Each counter's key and limit.
    #[cfg(feature = "redis")]
    fn limits<'a>(&'a self, counters: &'a [(String, Side)]) -> Vec<(&'a str, &'a Limit)> {
        counters
            .iter()
            .map(|(key, side)| (key.as_str(), &self.dimension(*side).limit))
            .collect()
    }

    /// Whether every limit of the throttle fails open while Redis is down.
    #[cfg(feature = "redis")]
    fn fails_open(&self) -> bool {
        self.inner.per_address.iter().all(|d| d.limit.fail_open)
            && self
                .inner
                .per_identity
                .iter()
                .all(|(d, _)| d.limit.fail_open)
    }
}

/// Which of an attempt's counters in Redis: the client address's or the claimed identity's.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy)]
enum Side {
    Address,
    Identity,
}

/// The 429 of a counter over its limit: `wait` until one more attempt conforms, `reset`
/// until the counter is empty (nanoseconds).
fn refusal(dim: &Dimension, wait: u64, reset: u64) -> AuthError {
    tracing::info!(
        target: "tower_ratelimit",
        limit = dim.limit.name(),
        "too many failed authentications"
    );
    let mut decision = Decision::new(false, Some(wait));
    decision.push(LimitState {
        remaining: 0,
        reset: Some(reset),
    });
    decision.error(&dim.policy)
}

/// Whether a response is a failed authentication: a refused credential from the engine
/// (HTTP 401 or gRPC 16), or a 401 from anything else. "No credential" is not a guess.
pub(crate) fn is_failure(status: http::StatusCode, error: Option<&AuthError>) -> bool {
    match error {
        Some(error) => error.kind() == AuthErrorKind::InvalidCredential,
        None => status == http::StatusCode::UNAUTHORIZED,
    }
}

/// Builds a [`Throttle`].
#[must_use]
pub struct ThrottleBuilder {
    per_address: Option<Limit>,
    per_identity: Option<(Limit, ClaimedIdentity)>,
    client_address: ClientAddress,
    clock: Arc<dyn Clock>,
    #[cfg(feature = "redis")]
    redis: Option<crate::redis::RedisConfig>,
}

impl fmt::Debug for ThrottleBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThrottleBuilder")
            .field("per_address", &self.per_address)
            .field("client_address", &self.client_address)
            .finish_non_exhaustive()
    }
}

impl ThrottleBuilder {
    /// The failures allowed per client address.
    pub fn per_address(mut self, limit: Limit) -> Self {
        self.per_address = Some(limit);
        self
    }

    /// The failures allowed per claimed identity, read by `claimed` from the request without
    /// verifying it: an API key's public id, a username. Return the public part only,
    /// never the secret: the value is kept as a counter key.
    pub fn per_identity(
        mut self,
        limit: Limit,
        claimed: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.per_identity = Some((limit, Arc::new(claimed)));
        self
    }

    /// Where the client address is read (default: the TCP peer; see [`ClientAddress`]).
    pub fn client_address(mut self, client_address: ClientAddress) -> Self {
        self.client_address = client_address;
        self
    }

    /// Where time is read (default: [`SystemClock`]); with Redis, Redis's clock is read
    /// instead.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Share the counters across instances through Redis: failures counted by one
    /// instance throttle the address on every other. Of the [`RedisConfig`](crate::RedisConfig), the `prefix`
    /// and the `timeout` apply (a throttle leases nothing). While Redis cannot be reached,
    /// checks answer 503, or admit with a warning when every limit is
    /// [`insecure_fail_open`](Limit::insecure_fail_open); failures are then not counted.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn redis(mut self, redis: crate::redis::RedisConfig) -> Self {
        self.redis = Some(redis);
        self
    }

    /// The throttle.
    ///
    /// # Errors
    /// [`ConfigError`] if no limit is set, or one is malformed.
    pub fn build(self) -> Result<Throttle, ConfigError> {
        if self.per_address.is_none() && self.per_identity.is_none() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "per_address",
                "set per_address, per_identity or both",
            ));
        }
        if let ClientAddress::TrustedProxyHeader { hop: 0, .. } = self.client_address {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "client_address",
                "hops are counted from 1",
            ));
        }
        Ok(Throttle {
            inner: Arc::new(Inner {
                per_address: self.per_address.map(Dimension::new).transpose()?,
                per_identity: match self.per_identity {
                    Some((limit, f)) => Some((Dimension::new(limit)?, f)),
                    None => None,
                },
                address: self.client_address,
                #[cfg(feature = "redis")]
                backend: match self.redis {
                    Some(config) => Backend::Redis(Box::new(
                        crate::redis::throttle::RedisThrottle::new(config)?,
                    )),
                    None => Backend::memory(),
                },
                #[cfg(not(feature = "redis"))]
                backend: Backend::memory(),
                clock: self.clock,
            }),
        })
    }
}
