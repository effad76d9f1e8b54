//! The GCRA arithmetic, and the [`Decision`] a check returns with its header values.

use std::time::Duration;

use auth_core::AuthError;

use crate::clock::NANOS_PER_SEC;
use crate::policy::{Limit, MAX_LIMITS, Policy};

/// GCRA: a request conforms if the theoretical arrival time `tat` after it stays within
/// `tolerance` of `now`. `Ok(new tat)` or `Err(nanoseconds until it would conform)`.
pub(crate) fn take(tat: u64, now: u64, interval: u64, tolerance: u64, n: u64) -> Result<u64, u64> {
    let new_tat = tat.max(now).saturating_add(interval.saturating_mul(n));
    let ahead = new_tat - now;
    if ahead <= tolerance {
        Ok(new_tat)
    } else {
        Err(ahead - tolerance)
    }
}

/// Requests that would conform right now after `tat`.
pub(crate) fn remaining(tat: u64, now: u64, interval: u64, tolerance: u64) -> u64 {
    tolerance.saturating_sub(tat.saturating_sub(now)) / interval
}

/// What one limit (or the quota) says after a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LimitState {
    /// Requests left right now.
    pub(crate) remaining: u64,
    /// Nanoseconds until the limit is whole again (`None`: never, a one-off quota).
    pub(crate) reset: Option<u64>,
}

/// A reset time that never comes: a quota that does not refill.
const NEVER: u32 = u32::MAX;

/// The answer of a check: admitted or not, with what each limit of the policy has left.
///
/// Laid out in parallel arrays (at most 120 bytes), so that the check hands it back by a
/// few register moves rather than a memory copy.
#[derive(Debug, Clone)]
pub struct Decision {
    allowed: bool,
    /// Made from the policy's [`Whole`]: its `RateLimit` value is the prebuilt one.
    whole: bool,
    len: u8,
    retry_after: Option<u64>,
    /// Requests left per limit, in the policy's order (the quota last).
    remaining: [u64; MAX_LIMITS],
    /// Whole seconds until each limit is whole again ([`NEVER`]: never).
    reset: [u32; MAX_LIMITS],
}

impl Decision {
    pub(crate) fn new(allowed: bool, retry_after: Option<u64>) -> Self {
        Self {
            allowed,
            whole: false,
            len: 0,
            retry_after,
            remaining: [0; MAX_LIMITS],
            reset: [NEVER; MAX_LIMITS],
        }
    }

    pub(crate) fn push(&mut self, state: LimitState) {
        let i = usize::from(self.len);
        if let (Some(remaining), Some(reset)) = (self.remaining.get_mut(i), self.reset.get_mut(i)) {
            *remaining = state.remaining;
            *reset = reset_secs(state.reset);
            self.len += 1;
        }
    }

    /// A decision that says nothing of the limits (a store that could not be reached).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn blind(allowed: bool) -> Self {
        Self::new(allowed, None)
    }

    /// Whether the request may pass.
    #[must_use]
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// How long to wait before a retry can pass; `None` if admitted, or if no wait will
    /// help (a quota that never refills).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after.map(Duration::from_nanos)
    }

    /// Requests left per limit, in the policy's order (the quota last).
    pub fn remaining(&self) -> impl Iterator<Item = u64> + '_ {
        self.remaining[..usize::from(self.len)].iter().copied()
    }

    /// Requests left and whole seconds to reset, per limit.
    fn fields(&self) -> (&[u64], &[u32]) {
        let len = usize::from(self.len);
        (&self.remaining[..len], &self.reset[..len])
    }

    /// The `RateLimit` header value (draft-ietf-httpapi-ratelimit-headers-10):
    /// `"name";r=remaining;t=seconds` per limit of `policy`; empty if the decision carries no
    /// state (the store could not be reached).
    #[must_use]
    pub fn header(&self, policy: &Policy) -> String {
        let names = policy
            .limits()
            .iter()
            .map(|l| &*l.name)
            .chain(policy.quota().map(|q| &*q.name));
        let (remaining, reset) = self.fields();
        render(names, remaining, reset)
    }

    /// Whether this is the admission of a caller with every limit whole (see [`Whole`]),
    /// whose `RateLimit` value is prebuilt.
    pub(crate) fn is_whole(&self) -> bool {
        self.whole
    }

    /// The 429 for this refusal under `policy`.
    #[must_use]
    pub fn error(&self, policy: &Policy) -> AuthError {
        AuthError::rate_limited(
            self.retry_after.map(|n| ceil_secs(n).max(1)),
            policy.header(),
            self.header(policy),
        )
    }
}

/// What a decision says: admitted or not, the wait, and each limit's state (not how it was
/// made).
impl PartialEq for Decision {
    fn eq(&self, other: &Self) -> bool {
        self.allowed == other.allowed
            && self.retry_after == other.retry_after
            && self.fields() == other.fields()
    }
}

impl Eq for Decision {}

/// The admission of a caller slower than every rate of a quota-less policy (as most
/// callers are): each limit was whole and is left one request short. The same whatever the
/// time, so its [`Decision`] and `RateLimit` value are built once per policy (see
/// [`Whole::of`]).
#[derive(Debug)]
pub(crate) struct Whole {
    pub(crate) decision: Decision,
    pub(crate) value: http::HeaderValue,
}

impl Whole {
    /// For `limits` (GCRA): one interval spent of each, from a bucket whole at time 0.
    pub(crate) fn of(limits: &[Limit]) -> Option<Self> {
        let mut decision = Decision::new(true, None);
        for limit in limits {
            let (interval, tolerance) = (limit.interval(), limit.tolerance());
            let tat = take(0, 0, interval, tolerance, 1).ok()?;
            decision.push(LimitState {
                remaining: remaining(tat, 0, interval, tolerance),
                reset: Some(tat),
            });
        }
        let (remaining, reset) = decision.fields();
        let value = render(limits.iter().map(|l| &*l.name), remaining, reset);
        decision.whole = true;
        Some(Self {
            value: http::HeaderValue::try_from(value).ok()?,
            decision,
        })
    }
}

/// Whole seconds of `nanos`, rounded up ([`NEVER`] for `None`).
fn reset_secs(nanos: Option<u64>) -> u32 {
    nanos.map_or(NEVER, |n| {
        u32::try_from(ceil_secs(n)).map_or(NEVER - 1, |secs| secs.min(NEVER - 1))
    })
}

/// The `RateLimit` value: `"name";r=remaining;t=seconds` per field (no `t` for [`NEVER`]),
/// sized exactly, so the bytes become a `HeaderValue` without a second allocation.
fn render<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    remaining: &[u64],
    reset: &[u32],
) -> String {
    let fields = names.zip(remaining.iter().zip(reset));
    let (count, len) = fields
        .clone()
        .fold((0, 0), |(count, len), (name, (&remaining, &reset))| {
            let reset = if reset == NEVER {
                0
            } else {
                ";t=".len() + decimal_len(reset.into())
            };
            let field = "\"\";r=".len() + name.len() + decimal_len(remaining) + reset;
            (count + 1, len + field)
        });
    let len = len + ", ".len() * usize::saturating_sub(count, 1);
    let mut out = String::with_capacity(len);
    let mut digits = itoa::Buffer::new();
    for (name, (&remaining, &reset)) in fields {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\";r=");
        out.push_str(digits.format(remaining));
        if reset != NEVER {
            out.push_str(";t=");
            out.push_str(digits.format(reset));
        }
    }
    debug_assert_eq!(out.len(), len);
    out
}

/// The number of decimal digits of `n`.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Whole seconds, rounded up.
pub(crate) fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Limit, Quota};

    const MS: u64 = 1_000_000;

    #[test]
    fn a_full_bucket_takes_burst_requests_then_one_per_interval() {
        let (interval, tolerance) = (100 * MS, 300 * MS);
        let now = 1_000 * MS;
        let mut tat = 0;
        for _ in 0..3 {
            tat = take(tat, now, interval, tolerance, 1).unwrap();
        }
        assert_eq!(remaining(tat, now, interval, tolerance), 0);
        assert_eq!(take(tat, now, interval, tolerance, 1), Err(100 * MS));
        assert_eq!(
            take(tat, now + 40 * MS, interval, tolerance, 1),
            Err(60 * MS)
        );
        assert!(take(tat, now + 100 * MS, interval, tolerance, 1).is_ok());
        assert_eq!(remaining(tat, now + 300 * MS, interval, tolerance), 3);
        assert_eq!(take(0, now, interval, tolerance, 4), Err(100 * MS));
    }

    #[test]
    fn header_values_are_structured_field_lists() {
        let policy = Policy::new(
            [
                Limit::per_second("burst", 10),
                Limit::per_day("daily", 1000),
            ],
            Some(Quota::total("credits", 5)),
        )
        .unwrap();
        let mut decision = Decision::new(false, Some(1_500 * MS));
        decision.push(LimitState {
            remaining: 0,
            reset: Some(1_500 * MS),
        });
        decision.push(LimitState {
            remaining: 990,
            reset: Some(864 * 1_000 * MS),
        });
        decision.push(LimitState {
            remaining: 5,
            reset: None,
        });
        let header = decision.header(&policy);
        assert_eq!(
            header,
            r#""burst";r=0;t=2, "daily";r=990;t=864, "credits";r=5"#
        );
        // Small enough to be moved by registers, not a call to `memcpy`.
        assert!(std::mem::size_of::<Decision>() <= 128);
        // Sized exactly: the bytes become a `HeaderValue` without a second allocation.
        assert_eq!(header.capacity(), header.len());
        for (n, len) in [(0, 1), (9, 1), (10, 2), (999, 3), (1000, 4), (u64::MAX, 20)] {
            assert_eq!(decimal_len(n), len, "{n}");
        }
        let err = decision.error(&policy);
        assert_eq!(err.retry_after(), Some(2));
        assert_eq!(
            err.ratelimit_policy(),
            Some(r#""burst";q=10;w=1, "daily";q=1000;w=86400, "credits";q=5"#)
        );
        assert_eq!(decision.remaining().collect::<Vec<_>>(), [0, 990, 5]);
        assert_eq!(decision.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(Decision::blind(true).header(&policy), "");
    }
}
