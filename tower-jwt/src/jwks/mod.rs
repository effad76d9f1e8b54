//! The remote key cache: a JWKS URL (or OpenID Connect discovery) behind lock-free reads.
//!
//! * Reads are an [`arc_swap`] load: no lock, and no reader ever waits for a fetch.
//! * A background task refreshes the keys at the interval the server's `Cache-Control:
//!   max-age` asks for (clamped to [`JwksOptions::min_refresh_interval`] ..
//!   [`JwksOptions::max_refresh_interval`]), and retries with backoff after a failure.
//! * A token with an unknown `kid` triggers a refresh: at most one fetch in flight (others
//!   wait for it), none within [`JwksOptions::cooldown`] of the previous one, and a bounded
//!   negative cache of `kid`s that were still unknown after a refresh. A storm of random
//!   `kid`s costs at most one fetch per cooldown.
//! * A failed fetch, junk, `{"keys":[]}`, a body over [`JwksOptions::max_body`] or a server
//!   that stalls past [`JwksOptions::fetch_timeout`] leave the last good keys in place.
//! * Provider down at start: the service starts; tokens that need the keys get 503 until a
//!   retry succeeds.
//! * Redirects are never followed: the default client ([`default_client`]) does not follow
//!   them, and an answer any client reached through a redirect is refused (a fetch that
//!   fails like the others). URLs must be `https`, or `http` on a loopback host only: the
//!   configured ones are checked when the configuration is built, a discovered `jwks_uri`
//!   when it is discovered.

pub(crate) mod fetch;

pub use fetch::default_client;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use url::Url;

use crate::key::KeySet;

/// Timing and size limits of the JWKS cache. Setters take and return `self`.
#[derive(Debug, Clone)]
#[must_use]
pub struct JwksOptions {
    pub(crate) refresh_interval: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) max_refresh_interval: Duration,
    pub(crate) retry_interval: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_body: usize,
    pub(crate) negative_cache_capacity: u64,
    pub(crate) negative_cache_ttl: Duration,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(600),
            min_refresh_interval: Duration::from_secs(60),
            max_refresh_interval: Duration::from_secs(86_400),
            retry_interval: Duration::from_secs(2),
            cooldown: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(5),
            max_body: 256 * 1024,
            negative_cache_capacity: 1024,
            negative_cache_ttl: Duration::from_secs(300),
        }
    }
}

impl JwksOptions {
    /// Refresh interval when the server sends no `Cache-Control: max-age` (default 10 min).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Lower bound on the refresh interval, whatever `max-age` says (default 60 s).
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Upper bound on the refresh interval, whatever `max-age` says (default 24 h).
    pub fn max_refresh_interval(mut self, interval: Duration) -> Self {
        self.max_refresh_interval = interval;
        self
    }

    /// First retry delay after a failed fetch, doubled per failure up to the refresh
    /// interval (default 2 s).
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Least time between two fetches triggered by unknown `kid`s (default 10 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Longest a fetch may take, body included (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest JWKS or metadata body accepted (default 256 KiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How many unknown `kid`s are remembered (default 1024) and for how long (default
    /// 5 min).
    pub fn negative_cache(mut self, capacity: u64, ttl: Duration) -> Self {
        self.negative_cache_capacity = capacity;
        self.negative_cache_ttl = ttl;
        self
    }
}

/// Where a remote key set is found.
#[derive(Debug, Clone)]
pub(crate) enum RemoteSource {
    Jwks(Url),
    Discovery,
}

/// The result of the last fetch, for waiters and the background loop.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Never,
    Ok(Option<Duration>),
    Failed,
}

/// One issuer's remote keys. See the [module docs](self).
pub(crate) struct RemoteKeys {
    issuer: String,
    source: RemoteSource,
    client: reqwest::Client,
    options: JwksOptions,
    keys: ArcSwapOption<KeySet>,
    jwks_url: ArcSwapOption<Url>,
    in_flight: AtomicBool,
    done: tokio::sync::Notify,
    outcome: Mutex<Outcome>,
    epoch: Instant,
    /// Milliseconds after `epoch` at which the last fetch started, plus one (0: never).
    last_fetch: AtomicU64,
    negative: moka::sync::Cache<Box<str>, ()>,
    background: AtomicBool,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("issuer", &self.issuer)
            .field("source", &self.source)
            .field("loaded", &self.keys.load().is_some())
            .finish_non_exhaustive()
    }
}

/// Resets the in-flight flag and wakes waiters, even if the fetching future is dropped.
struct FlightGuard<'a>(&'a RemoteKeys);

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.store(false, Ordering::Release);
        self.0.done.notify_waiters();
    }
}

impl RemoteKeys {
    pub(crate) fn new(
        issuer: String,
        source: RemoteSource,
        client: reqwest::Client,
        options: JwksOptions,
    ) -> Self {
        let jwks_url = match &source {
            RemoteSource::Jwks(url) => Some(Arc::new(url.clone())),
            RemoteSource::Discovery => None,
        };
        Self {
            negative: moka::sync::Cache::builder()
                .max_capacity(options.negative_cache_capacity)
                .time_to_live(options.negative_cache_ttl)
                .build(),
            issuer,
            source,
            client,
            options,
            keys: ArcSwapOption::empty(),
            jwks_url: ArcSwapOption::new(jwks_url),
            in_flight: AtomicBool::new(false),
            done: tokio::sync::Notify::new(),
            outcome: Mutex::new(Outcome::Never),
            epoch: Instant::now(),
            last_fetch: AtomicU64::new(0),
            background: AtomicBool::new(false),
        }
    }

    /// The current keys (`None` until a first fetch succeeded). Lock-free.
    pub(crate) fn keys(&self) -> arc_swap::Guard<Option<Arc<KeySet>>> {
        self.keys.load()
    }

    /// Starts the background refresh task once, if a tokio runtime is running.
    pub(crate) fn start(self: &Arc<Self>) {
        if self.background.load(Ordering::Relaxed) || self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(background(Arc::downgrade(self)));
            }
            Err(_) => self.background.store(false, Ordering::Release),
        }
    }

    fn since_last_fetch(&self) -> Option<Duration> {
        match self.last_fetch.load(Ordering::Acquire) {
            0 => None,
            started => {
                let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                Some(Duration::from_millis(now.saturating_sub(started - 1)))
            }
        }
    }

    /// Whether a fetch is running (a token may wait for it instead of failing).
    pub(crate) fn fetching(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether a token with this unknown `kid` may trigger a fetch now.
    pub(crate) fn may_fetch_for(&self, kid: Option<&str>) -> bool {
        if kid.is_some_and(|kid| self.negative.contains_key(kid)) {
            return false;
        }
        self.since_last_fetch()
            .is_none_or(|since| since >= self.options.cooldown)
    }

    /// Refreshes because a token's `kid` is unknown, within the cooldown and negative-cache
    /// limits; remembers the `kid` if it is still unknown afterwards.
    pub(crate) async fn refresh_for(&self, kid: Option<&str>) {
        if !self.may_fetch_for(kid) && !self.in_flight.load(Ordering::Acquire) {
            return;
        }
        self.refresh().await;
        if let (Some(kid), Some(keys)) = (kid, self.keys.load_full())
            && !keys.keys().iter().any(|k| k.kid() == Some(kid))
        {
            self.negative.insert(kid.into(), ());
        }
    }

    /// Fetches the keys, or waits for the fetch already in flight. Never holds a lock
    /// across the fetch; readers keep reading the previous keys meanwhile.
    async fn refresh(&self) -> Outcome {
        let notified = self.done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self
            .in_flight
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Someone else is fetching: wait for it (bounded), then report its outcome.
            let _ =
                tokio::time::timeout(self.options.fetch_timeout.saturating_mul(2), notified).await;
            return *self
                .outcome
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let _guard = FlightGuard(self);
        let started = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_fetch.store(started + 1, Ordering::Release);
        let outcome = match self.fetch().await {
            Ok(fetched) => {
                self.keys.store(Some(Arc::new(fetched.keys)));
                Outcome::Ok(fetched.max_age)
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "JWKS fetch failed; keeping the last good keys");
                Outcome::Failed
            }
        };
        *self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = outcome;
        outcome
    }

    async fn fetch(&self) -> Result<fetch::Fetched, fetch::FetchError> {
        let url = match self.jwks_url.load_full() {
            Some(url) => url,
            None => {
                let url =
                    Arc::new(fetch::discover(&self.client, &self.issuer, &self.options).await?);
                self.jwks_url.store(Some(url.clone()));
                url
            }
        };
        fetch::fetch_jwks(&self.client, &url, &self.options).await
    }

    fn next_delay(&self, outcome: Outcome, failures: u32) -> Duration {
        let o = &self.options;
        match outcome {
            Outcome::Ok(max_age) => max_age.unwrap_or(o.refresh_interval).clamp(
                o.min_refresh_interval,
                o.max_refresh_interval.max(o.min_refresh_interval),
            ),
            Outcome::Failed | Outcome::Never => o
                .retry_interval
                .saturating_mul(1 << failures.min(16))
                .min(o.refresh_interval.max(o.retry_interval)),
        }
    }
}

async fn background(weak: Weak<RemoteKeys>) {
    let mut failures = 0u32;
    loop {
        let Some(keys) = weak.upgrade() else { return };
        let outcome = keys.refresh().await;
        failures = match outcome {
            Outcome::Ok(_) => 0,
            Outcome::Failed | Outcome::Never => failures.saturating_add(1),
        };
        let delay = keys.next_delay(outcome, failures.saturating_sub(1));
        drop(keys);
        tokio::time::sleep(delay).await;
    }
}
