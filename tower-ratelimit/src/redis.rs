//! Counters shared across instances through Redis, with a leased local budget per identity.
//!
//! Each instance leases up to `lease` requests of an identity at once, in one atomic Lua
//! script that checks every limit and the quota against Redis's clock and takes the lease
//! from all of them together. Requests are then
//! admitted from the local budget without waiting for Redis; when the budget runs low a
//! background task leases more. When Redis says "nothing before t", the instance refuses
//! locally until t. Keys carry their identity in a hash tag (`prefix{identity}:…`) so one
//! script's keys share a cluster slot, and expire by themselves (a limit's when its bucket
//! is full again, a quota's at the end of its period).
//!
//! **Accuracy.** Redis never grants more than GCRA allows, so across all instances the
//! admitted count over any time `T` is at most `rate × T + burst`. It can fall short by
//! what is leased but unused: at most `lease` per instance and identity per `lease_ttl`
//! (an expired lease is credited back on the instance's next lease for that identity). The
//! `RateLimit` values of a request admitted from a lease are those of the last lease plus
//! the local budget.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth_core::{AuthError, ConfigError, ConfigErrorKind};
use dashmap::DashMap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, OnceCell};

use crate::decision::{Decision, LimitState};
use crate::limiter::Check;
use crate::policy::Policy;

mod retry;
pub(crate) mod throttle;

const MICRO: u64 = 1_000;

/// Where and how a [`RateLimiter`](crate::RateLimiter) or a [`Throttle`](crate::Throttle)
/// shares its counters (a throttle uses the `prefix` and the `timeout`: it leases nothing,
/// and asks Redis once per check and once per failure).
///
/// **Outages.** While Redis is down, an identity keeps spending the budget this instance
/// already leased (until it runs out or its `lease_ttl` ends); past that a check answers
/// 503 (`ratelimit_store`), or admits with a warning when every part of the policy is
/// [`Limit::insecure_fail_open`](crate::Limit::insecure_fail_open). Each attempt waits at
/// most [`timeout`](Self::timeout) (500 ms by default). A Redis that comes back empty has
/// forgotten every counter: each identity starts a fresh window (at most one extra burst,
/// and a quota period counted again from zero). The first check after the return is
/// answered: a command that failed on the dead connection is resent once on a fresh one,
/// within the same timeout.
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    prefix: String,
    lease: Option<u64>,
    lease_ttl: Duration,
    timeout: Duration,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: left out.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("lease_ttl", &self.lease_ttl)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    /// Redis at `url` (`redis://127.0.0.1:6379`), keys prefixed `ratelimit:`.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: "ratelimit:".to_owned(),
            lease: None,
            lease_ttl: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
        }
    }

    /// The prefix of every key (default `ratelimit:`).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// Requests leased at once per identity (default: a tenth of the smallest burst, 1 to
    /// 100). 1 sends every request to Redis.
    #[must_use]
    pub fn lease(mut self, lease: u64) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How long a lease may be spent (default 1 s).
    #[must_use]
    pub fn lease_ttl(mut self, lease_ttl: Duration) -> Self {
        self.lease_ttl = lease_ttl;
        self
    }

    /// How long to wait for Redis, connecting or answering (default 500 ms).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[derive(Debug, Default)]
struct LeaseState {
    budget: u64,
    expires: u64,
    next_at: u64,
    fetching: bool,
    last: Vec<LimitState>,
}

#[derive(Debug, Default)]
struct Lease {
    state: Mutex<LeaseState>,
    done: Notify,
}

/// One lazily opened connection to the Redis of a [`RedisConfig`], and its scripts' calls.
pub(crate) struct Connection {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
    pub(crate) config: RedisConfig,
}

impl Connection {
    /// Checks the configuration; connects at the first call.
    pub(crate) fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        let client = redis::Client::open(config.url.as_str()).map_err(|_| {
            ConfigError::new(ConfigErrorKind::InvalidValue, "redis", "not a Redis URL")
        })?;
        if config.lease == Some(0) || config.lease_ttl.is_zero() || config.timeout.is_zero() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "redis",
                "lease, lease_ttl and timeout must be positive",
            ));
        }
        Ok(Self {
            client,
            conn: OnceCell::new(),
            config,
        })
    }

    /// The key prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// Runs a script call within the timeout (see [`retry::invoke`]).
    pub(crate) async fn invoke(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<Vec<i64>, redis::RedisError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.config.timeout))
                    .set_response_timeout(Some(self.config.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        retry::invoke(call, conn, self.config.timeout).await
    }
}

struct Shared {
    redis: Connection,
    script: redis::Script,
    leases: DashMap<Box<str>, Arc<Lease>, foldhash::fast::RandomState>,
}

pub(crate) struct RedisStore {
    shared: Arc<Shared>,
}

/// A Redis reply: `granted`, then nanoseconds until a lease can be had (`None`: the quota
/// is spent), then each limit's state.
struct Granted {
    granted: u64,
    wait: Option<u64>,
    states: Vec<LimitState>,
}

impl RedisStore {
    pub(crate) fn new(config: RedisConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            shared: Arc::new(Shared {
                redis: Connection::new(config)?,
                script: redis::Script::new(include_str!("redis/script.lua")),
                leases: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            }),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.shared.leases.len()
    }

    pub(crate) fn check(&self, key: &str, policy: &Policy, now: u64) -> Check {
        let lease = match self.shared.leases.get(key) {
            Some(lease) => Arc::clone(&lease),
            None => Arc::clone(&self.shared.leases.entry(key.into()).or_default()),
        };
        let mut state = lease.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(decision) = self.local(&mut state, &lease, key, policy, now) {
            return Check::Ready(Ok(decision));
        }
        drop(state);
        let store = Self {
            shared: Arc::clone(&self.shared),
        };
        let (key, policy) = (key.to_owned(), policy.clone());
        Check::Pending(Box::pin(async move {
            store.slow_path(lease, &key, &policy, now).await
        }))
    }

    /// Leases from Redis, or waits for the lease another request of this identity is
    /// taking and then uses it.
    async fn slow_path(
        &self,
        lease: Arc<Lease>,
        key: &str,
        policy: &Policy,
        now: u64,
    ) -> Result<Decision, AuthError> {
        let returned = loop {
            let notified = lease.done.notified();
            {
                let mut state = lease.state.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(decision) = self.local(&mut state, &lease, key, policy, now) {
                    return Ok(decision);
                }
                if !state.fetching {
                    state.fetching = true;
                    break if now >= state.expires {
                        std::mem::take(&mut state.budget)
                    } else {
                        0
                    };
                }
            }
            if tokio::time::timeout(self.shared.redis.config.timeout, notified)
                .await
                .is_err()
            {
                return fail(&"timed out waiting for a lease", policy.fails_open());
            }
        };
        let result = self.shared.lease(key, policy, returned, now).await;
        let mut state = lease.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.fetching = false;
        let decision = match result {
            Ok(granted) => {
                self.shared.apply(&mut state, granted, now);
                Ok(take_one(&mut state, now, policy))
            }
            Err(err) => fail(&err, policy.fails_open()),
        };
        drop(state);
        lease.done.notify_waiters();
        decision
    }

    /// Admits from the local budget, or refuses until Redis's `next_at`; `None` when Redis
    /// must be asked. Starts a background lease when the budget runs low.
    fn local(
        &self,
        state: &mut LeaseState,
        lease: &Arc<Lease>,
        key: &str,
        policy: &Policy,
        now: u64,
    ) -> Option<Decision> {
        if state.budget > 0 && now < state.expires {
            let decision = take_one(state, now, policy);
            if state.budget <= self.shared.lease_size(policy) / 2
                && !state.fetching
                && now >= state.next_at
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                {
                    state.fetching = true;
                    let (shared, lease) = (Arc::clone(&self.shared), Arc::clone(lease));
                    let (key, policy) = (key.to_owned(), policy.clone());
                    runtime.spawn(async move {
                        let result = shared.lease(&key, &policy, 0, now).await;
                        let mut state = lease.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.fetching = false;
                        match result {
                            Ok(granted) => shared.apply(&mut state, granted, now),
                            Err(err) => {
                                tracing::warn!(target: "tower_ratelimit", error = %err, "Redis lease failed");
                            }
                        }
                        drop(state);
                        lease.done.notify_waiters();
                    });
                }
            }
            return Some(decision);
        }
        (now < state.next_at).then(|| refused(state, now, policy))
    }
}

impl Shared {
    fn lease_size(&self, policy: &Policy) -> u64 {
        self.redis.config.lease.unwrap_or_else(|| {
            let smallest = policy.limits().iter().map(crate::Limit::burst).min();
            (smallest.unwrap_or(1000) / 10).clamp(1, 100)
        })
    }

    async fn lease(
        &self,
        key: &str,
        policy: &Policy,
        returned: u64,
        now: u64,
    ) -> Result<Granted, redis::RedisError> {
        let want = self.lease_size(policy).min(
            policy
                .limits()
                .iter()
                .map(crate::Limit::burst)
                .min()
                .unwrap_or(u64::MAX),
        );
        let prefix = self.redis.prefix();
        let mut call = self.script.prepare_invoke();
        call.arg(want)
            .arg(want.div_ceil(2))
            .arg(returned)
            .arg(policy.limits().len());
        for limit in policy.limits() {
            call.key(format!("{prefix}{{{key}}}:l:{}", limit.name()));
            call.arg(limit.interval() / MICRO)
                .arg(limit.tolerance() / MICRO);
        }
        let mut quota_reset = None;
        if let Some(quota) = policy.quota() {
            let (period, end) = quota.period(now);
            quota_reset = end.map(|end| end * 1_000_000_000);
            call.key(format!("{prefix}{{{key}}}:q:{}:{period}", quota.name()));
            call.arg(quota.credits()).arg(end.map_or(0, |e| e + 86_400));
        }
        let reply = self.redis.invoke(&call).await?;
        let number = |i: usize| reply.get(i).copied().unwrap_or(0);
        let mut states = Vec::with_capacity(policy.limits().len() + 1);
        for i in 0..policy.limits().len() {
            states.push(LimitState {
                remaining: u64::try_from(number(2 + 2 * i)).unwrap_or(0),
                reset: Some(u64::try_from(number(3 + 2 * i)).unwrap_or(0) * MICRO),
            });
        }
        if policy.quota().is_some() {
            states.push(LimitState {
                remaining: u64::try_from(number(2 + 2 * policy.limits().len())).unwrap_or(0),
                reset: quota_reset.map(|end| end.saturating_sub(now)),
            });
        }
        let wait = match number(1) {
            -1 => quota_reset.map(|end| end.saturating_sub(now)),
            w => Some(u64::try_from(w).unwrap_or(0) * MICRO),
        };
        Ok(Granted {
            granted: u64::try_from(number(0)).unwrap_or(0),
            wait,
            states,
        })
    }

    fn apply(&self, state: &mut LeaseState, granted: Granted, now: u64) {
        state.last = granted.states;
        if granted.granted > 0 {
            state.budget += granted.granted;
            state.expires =
                now.saturating_add(crate::clock::saturating_nanos(self.redis.config.lease_ttl));
            state.next_at = 0;
        } else {
            // `None`: a one-off quota is spent; ask again only after a lease time.
            let ttl = crate::clock::saturating_nanos(self.redis.config.lease_ttl);
            state.next_at = now.saturating_add(granted.wait.unwrap_or(ttl).max(1));
            state.expires = 0;
        }
    }
}

/// Admits one request from the budget, or refuses until `next_at`.
fn take_one(state: &mut LeaseState, now: u64, policy: &Policy) -> Decision {
    if state.budget == 0 {
        return refused(state, now, policy);
    }
    state.budget -= 1;
    let mut decision = Decision::new(true, None);
    for last in &state.last {
        decision.push(LimitState {
            remaining: last.remaining + state.budget,
            reset: last.reset,
        });
    }
    decision
}

fn refused(state: &LeaseState, now: u64, policy: &Policy) -> Decision {
    let one_off_spent = policy
        .quota()
        .is_some_and(|q| q.refill() == crate::Refill::Never)
        && state.last.last().is_some_and(|q| q.remaining == 0);
    let wait = (!one_off_spent).then(|| state.next_at.saturating_sub(now).max(1));
    let mut decision = Decision::new(false, wait);
    for last in &state.last {
        decision.push(LimitState {
            remaining: 0,
            reset: last.reset,
        });
    }
    decision
}

/// Redis could not answer: admit with a warning if every limit involved fails open
/// (`open`), else 503.
pub(crate) fn fail(err: &dyn fmt::Display, open: bool) -> Result<Decision, AuthError> {
    if open {
        tracing::warn!(target: "tower_ratelimit", error = %err, "Redis unreachable: request admitted without a rate limit");
        Ok(Decision::blind(true))
    } else {
        tracing::warn!(target: "tower_ratelimit", error = %err, "Redis unreachable: request refused");
        Err(
            AuthError::unavailable("the rate-limit store cannot be reached")
                .with_reason("ratelimit_store"),
        )
    }
}
