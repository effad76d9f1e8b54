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

pub(crate) struct Inner {
    per_address: Option<Dimension>,
    per_identity: Option<(Dimension, ClaimedIdentity)>,
    address: ClientAddress,
    store: MemoryStore,
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
/// handler. Counters are kept in process.
#[derive(Clone)]
pub struct Throttle {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
        self.inner.address.of(parts)
    }

    /// The claimed identity of a request, by the closure given to
    /// [`per_identity`](ThrottleBuilder::per_identity).
    #[must_use]
    pub fn claimed_identity(&self, parts: &Parts) -> Option<String> {
        self.inner.per_identity.as_ref().and_then(|(_, f)| f(parts))
    }

    /// Whether an attempt from `address` for `identity` may be made now; counts nothing.
    ///
    /// # Errors
    /// 429 ([`AuthError::rate_limited`]) if the address or the identity has failed too often;
    /// 500 if a per-address limit is set and `address` is `None` (the server cannot see
    /// client addresses: serve with `ConnectInfo`, or configure a trusted proxy header).
    pub fn check(&self, address: Option<IpAddr>, identity: Option<&str>) -> Result<(), AuthError> {
        let now = self.inner.clock.now();
        if let Some(dim) = &self.inner.per_address {
            let Some(ip) = address else {
                return Err(AuthError::misconfigured(
                    "the throttle has a per-address limit but the request has no client address",
                ));
            };
            self.peek(dim, &format!("a:{ip}"), now)?;
        }
        if let (Some((dim, _)), Some(identity)) = (&self.inner.per_identity, identity) {
            self.peek(dim, &format!("i:{identity}"), now)?;
        }
        Ok(())
    }

    fn peek(&self, dim: &Dimension, key: &str, now: u64) -> Result<(), AuthError> {
        self.inner.store.peek(key, &dim.limit, now).map_err(|wait| {
            tracing::info!(
                target: "tower_ratelimit",
                limit = dim.limit.name(),
                "too many failed authentications"
            );
            let mut decision = Decision::new(false, Some(wait));
            decision.push(LimitState {
                remaining: 0,
                // Denied: tat + interval - now - tolerance = wait.
                reset: Some(wait + dim.limit.tolerance() - dim.limit.interval()),
            });
            decision.error(&dim.policy)
        })
    }

    /// Counts one failed authentication from `address` for `identity`.
    pub fn record_failure(&self, address: Option<IpAddr>, identity: Option<&str>) {
        let now = self.inner.clock.now();
        if let (Some(dim), Some(ip)) = (&self.inner.per_address, address) {
            self.inner.store.record(&format!("a:{ip}"), &dim.limit, now);
        }
        if let (Some((dim, _)), Some(identity)) = (&self.inner.per_identity, identity) {
            self.inner
                .store
                .record(&format!("i:{identity}"), &dim.limit, now);
        }
    }
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

    /// Where time is read (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
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
                store: MemoryStore::default(),
                clock: self.clock,
            }),
        })
    }
}
