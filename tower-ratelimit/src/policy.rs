//! What is limited: named rate [`Limit`]s, a usage [`Quota`], and the [`Policy`] of an identity.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{ConfigError, ConfigErrorKind};
use http::HeaderValue;

use crate::clock::{NANOS_PER_SEC, saturating_nanos};
use crate::decision::Whole;

/// Most limits (quota included) one policy may hold.
pub const MAX_LIMITS: usize = 8;

/// A named rate limit: `count` requests per `period`, with bursts of up to `burst` at once
/// (GCRA: one request every `period / count`, `burst` of them ahead of time at most).
///
/// ```
/// use tower_ratelimit::Limit;
///
/// let burst = Limit::per_second("burst", 100).with_burst(200);
/// let daily = Limit::per_day("daily", 10_000);
/// assert_eq!((burst.count(), burst.burst()), (100, 200));
/// assert_eq!(daily.burst(), 10_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub(crate) name: Arc<str>,
    count: u64,
    period: Duration,
    burst: u64,
    pub(crate) fail_open: bool,
    /// GCRA's emission interval and tolerance (nanoseconds), computed once: every check
    /// reads them.
    interval: u64,
    tolerance: u64,
}

impl Limit {
    /// `count` requests per `period` under the policy name `name`; the burst is `count`.
    ///
    /// The name appears in the `RateLimit-Policy` and `RateLimit` headers: lowercase ASCII
    /// letters, digits, `_` and `-`. `period` is a whole number of seconds. Both are
    /// checked when the limiter or [`Policy`] is built.
    #[must_use]
    pub fn new(name: &str, count: u64, period: Duration) -> Self {
        let interval = (saturating_nanos(period) / count.max(1)).max(1);
        Self {
            name: name.into(),
            count,
            period,
            burst: count,
            fail_open: false,
            interval,
            tolerance: interval.saturating_mul(count),
        }
    }

    /// `count` per second.
    #[must_use]
    pub fn per_second(name: &str, count: u64) -> Self {
        Self::new(name, count, Duration::from_secs(1))
    }

    /// `count` per minute.
    #[must_use]
    pub fn per_minute(name: &str, count: u64) -> Self {
        Self::new(name, count, Duration::from_secs(60))
    }

    /// `count` per hour.
    #[must_use]
    pub fn per_hour(name: &str, count: u64) -> Self {
        Self::new(name, count, Duration::from_secs(3600))
    }

    /// `count` per day (a sliding day, not the calendar's: see [`Quota`] for calendar days).
    #[must_use]
    pub fn per_day(name: &str, count: u64) -> Self {
        Self::new(name, count, Duration::from_secs(86_400))
    }

    /// A copy that lets up to `burst` requests come at once (default: `count`).
    #[must_use]
    pub fn with_burst(mut self, burst: u64) -> Self {
        self.burst = burst;
        self.tolerance = self.interval.saturating_mul(burst);
        self
    }

    /// A copy that, when the shared store (Redis) cannot be reached, admits the request with
    /// a `tracing` warning instead of answering 503 (the default). The limit is then not
    /// enforced.
    #[must_use]
    pub fn insecure_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// The policy name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests per period.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The period.
    #[must_use]
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The burst (the GCRA bucket's capacity).
    #[must_use]
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// Nanoseconds between two requests at the sustained rate.
    pub(crate) fn interval(&self) -> u64 {
        self.interval
    }

    /// Nanoseconds of credit a full bucket holds (`burst` intervals).
    pub(crate) fn tolerance(&self) -> u64 {
        self.tolerance
    }

    fn validate(&self) -> Result<(), ConfigError> {
        validate_name(&self.name)?;
        if self.count == 0 || self.burst == 0 {
            return Err(invalid("limit", "count and burst must be at least 1"));
        }
        let nanos = saturating_nanos(self.period);
        if nanos == 0 || !nanos.is_multiple_of(NANOS_PER_SEC) {
            return Err(invalid(
                "limit",
                "the period must be a whole number of seconds, at least 1",
            ));
        }
        if nanos / self.count < 1_000 {
            return Err(invalid("limit", "at most one request per microsecond"));
        }
        Ok(())
    }
}

/// When a [`Quota`]'s credits come back: at the start of each UTC calendar day or month,
/// or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refill {
    /// Every day at 00:00:00 UTC.
    Daily,
    /// On the first of every month at 00:00:00 UTC.
    Monthly,
    /// Never: the credits are spent once.
    Never,
}

/// Usage credits: `credits` requests per calendar period, each request spending one.
///
/// ```
/// use tower_ratelimit::{Quota, Refill};
///
/// let quota = Quota::monthly("monthly", 50_000);
/// assert_eq!(quota.refill(), Refill::Monthly);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub(crate) name: Arc<str>,
    credits: u64,
    refill: Refill,
    pub(crate) fail_open: bool,
}

impl Quota {
    /// `credits` per period of `refill`, named `name` in the headers.
    #[must_use]
    pub fn new(name: &str, credits: u64, refill: Refill) -> Self {
        Self {
            name: name.into(),
            credits,
            refill,
            fail_open: false,
        }
    }

    /// `credits` per UTC day.
    #[must_use]
    pub fn daily(name: &str, credits: u64) -> Self {
        Self::new(name, credits, Refill::Daily)
    }

    /// `credits` per UTC calendar month.
    #[must_use]
    pub fn monthly(name: &str, credits: u64) -> Self {
        Self::new(name, credits, Refill::Monthly)
    }

    /// `credits` once, never refilled.
    #[must_use]
    pub fn total(name: &str, credits: u64) -> Self {
        Self::new(name, credits, Refill::Never)
    }

    /// Admit (with a warning) instead of answering 503 when Redis cannot be reached.
    #[must_use]
    pub fn insecure_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// The policy name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Credits per period.
    #[must_use]
    pub fn credits(&self) -> u64 {
        self.credits
    }

    /// When the credits come back.
    #[must_use]
    pub fn refill(&self) -> Refill {
        self.refill
    }

    /// The current period of `now` (nanoseconds): its number and the second it ends
    /// (`None`: never).
    pub(crate) fn period(&self, now: u64) -> (u64, Option<u64>) {
        match self.refill {
            Refill::Daily => {
                let (id, end) = crate::clock::day_period(now);
                (id, Some(end))
            }
            Refill::Monthly => {
                let (id, end) = crate::clock::month_period(now);
                (id, Some(end))
            }
            Refill::Never => (0, None),
        }
    }
}

/// The limits of one identity: up to [`MAX_LIMITS`] named rate limits and a quota.
///
/// A request passes only if every limit and the quota admit it, and then it is counted by
/// all of them at once (a request refused by one limit spends nothing from the others).
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) inner: Arc<PolicyInner>,
}

#[derive(Debug)]
pub(crate) struct PolicyInner {
    pub(crate) limits: Vec<Limit>,
    pub(crate) quota: Option<Quota>,
    pub(crate) header: HeaderValue,
    /// The `RateLimit` value of a request admitted with every limit whole (its caller was
    /// slower than its rates, as most callers are), built once. `None` with a quota, whose
    /// count changes with every request.
    pub(crate) whole: Option<Whole>,
}

impl Policy {
    /// A policy of `limits` and an optional `quota`, checked: names unique and well-formed,
    /// counts at least 1, periods whole seconds, at most [`MAX_LIMITS`] in all.
    ///
    /// ```
    /// use tower_ratelimit::{Limit, Policy, Quota};
    ///
    /// let policy = Policy::new(
    ///     [Limit::per_second("burst", 100).with_burst(200), Limit::per_day("daily", 10_000)],
    ///     Some(Quota::monthly("monthly", 100_000)),
    /// )?;
    /// assert_eq!(
    ///     policy.header(),
    ///     r#""burst";q=100;w=1, "daily";q=10000;w=86400, "monthly";q=100000"#
    /// );
    /// assert!(Policy::new([Limit::per_second("Bad Name", 1)], None).is_err());
    /// # Ok::<_, auth_core::ConfigError>(())
    /// ```
    pub fn new(
        limits: impl IntoIterator<Item = Limit>,
        quota: Option<Quota>,
    ) -> Result<Self, ConfigError> {
        let limits: Vec<Limit> = limits.into_iter().collect();
        if limits.is_empty() && quota.is_none() {
            return Err(ConfigError::new(
                ConfigErrorKind::Missing,
                "limit",
                "a policy needs at least one limit or a quota",
            ));
        }
        if limits.len() + usize::from(quota.is_some()) > MAX_LIMITS {
            return Err(invalid("limit", "at most 8 limits, quota included"));
        }
        let mut names: Vec<&str> = Vec::new();
        let mut header = String::new();
        for limit in &limits {
            limit.validate()?;
            names.push(&limit.name);
            let _ = write!(
                header,
                "{}\"{}\";q={};w={}",
                if header.is_empty() { "" } else { ", " },
                limit.name,
                limit.count,
                limit.period.as_secs()
            );
        }
        if let Some(quota) = &quota {
            validate_name(&quota.name)?;
            names.push(&quota.name);
            if quota.credits == 0 {
                return Err(invalid("quota", "at least 1 credit"));
            }
            let window = match quota.refill {
                Refill::Daily => ";w=86400",
                Refill::Monthly | Refill::Never => "",
            };
            let _ = write!(
                header,
                "{}\"{}\";q={}{window}",
                if header.is_empty() { "" } else { ", " },
                quota.name,
                quota.credits
            );
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != names.len() {
            return Err(invalid("limit", "policy names must be unique"));
        }
        let header = HeaderValue::from_str(&header)
            .map_err(|_| invalid("limit", "the policy is not a valid header value"))?;
        let whole = match quota {
            Some(_) => None,
            None => Whole::of(&limits),
        };
        Ok(Self {
            inner: Arc::new(PolicyInner {
                limits,
                quota,
                header,
                whole,
            }),
        })
    }

    /// The rate limits.
    #[must_use]
    pub fn limits(&self) -> &[Limit] {
        &self.inner.limits
    }

    /// The quota.
    #[must_use]
    pub fn quota(&self) -> Option<&Quota> {
        self.inner.quota.as_ref()
    }

    /// The `RateLimit-Policy` header value (draft-ietf-httpapi-ratelimit-headers-10):
    /// `"name";q=count;w=seconds` per limit, `w` left out for monthly and one-off quotas.
    #[must_use]
    pub fn header(&self) -> &str {
        self.inner.header.to_str().unwrap_or_default()
    }

    /// Whether every limit and the quota fail open when the shared store is down.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn fails_open(&self) -> bool {
        self.inner.limits.iter().all(|l| l.fail_open)
            && self.inner.quota.as_ref().is_none_or(|q| q.fail_open)
    }
}

fn invalid(field: &'static str, message: &'static str) -> ConfigError {
    ConfigError::new(ConfigErrorKind::InvalidValue, field, message)
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "limit",
            "a policy name is 1 to 64 of a-z, 0-9, `_` and `-`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_parameters() {
        let limit = Limit::per_second("s", 100).with_burst(200);
        assert_eq!(limit.interval(), 10_000_000);
        assert_eq!(limit.tolerance(), 2_000_000_000);
    }

    #[test]
    fn bad_policies_are_refused() {
        let cases = [
            Policy::new([Limit::per_second("a", 0)], None),
            Policy::new([Limit::per_second("a", 1).with_burst(0)], None),
            Policy::new([Limit::new("a", 1, Duration::from_millis(1500))], None),
            Policy::new([Limit::per_second("a", 2_000_000)], None),
            Policy::new([Limit::per_second("a\"", 1)], None),
            Policy::new([Limit::per_second("", 1)], None),
            Policy::new([Limit::per_second("a", 1), Limit::per_day("a", 1)], None),
            Policy::new([Limit::per_second("a", 1)], Some(Quota::daily("a", 1))),
            Policy::new([], Some(Quota::daily("q", 0))),
            Policy::new([], None),
            Policy::new((0..9).map(|i| Limit::per_second(&format!("l{i}"), 1)), None),
        ];
        for case in cases {
            assert!(case.is_err(), "{case:?}");
        }
    }

    #[test]
    fn fail_open_only_when_every_part_does() {
        let open = Limit::per_second("a", 1).insecure_fail_open();
        let closed = Limit::per_second("b", 1);
        assert!(Policy::new([open.clone()], None).unwrap().fails_open());
        assert!(
            !Policy::new([open.clone(), closed], None)
                .unwrap()
                .fails_open()
        );
        let quota = Some(Quota::daily("q", 1));
        assert!(!Policy::new([open], quota).unwrap().fails_open());
    }
}
