//! The GCRA arithmetic, and the [`Decision`] a check returns with its header values.

use std::time::Duration;

use auth_core::AuthError;

use crate::clock::NANOS_PER_SEC;
use crate::policy::{MAX_LIMITS, Policy};

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

/// The answer of a check: admitted or not, with what each limit of the policy has left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    retry_after: Option<u64>,
    len: u8,
    states: [LimitState; MAX_LIMITS],
}

impl Decision {
    pub(crate) fn new(allowed: bool, retry_after: Option<u64>) -> Self {
        Self {
            allowed,
            retry_after,
            len: 0,
            states: [LimitState::default(); MAX_LIMITS],
        }
    }

    pub(crate) fn push(&mut self, state: LimitState) {
        if let Some(slot) = self.states.get_mut(usize::from(self.len)) {
            *slot = state;
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
        self.states().iter().map(|s| s.remaining)
    }

    pub(crate) fn states(&self) -> &[LimitState] {
        &self.states[..usize::from(self.len)]
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
        render(names, self.states())
    }

    /// Whether every state renders as `whole` (remaining requests and whole seconds to
    /// reset, per limit): then the `RateLimit` value is the one built for it.
    pub(crate) fn renders_as(&self, whole: &[(u64, u64)]) -> bool {
        self.states().len() == whole.len()
            && self
                .states()
                .iter()
                .zip(whole)
                .all(|(state, &(remaining, reset))| {
                    state.remaining == remaining && state.reset.map(ceil_secs) == Some(reset)
                })
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

/// The `RateLimit` value of `states` under `names`: `"name";r=remaining;t=seconds` each,
/// sized exactly, so the bytes become a `HeaderValue` without a second allocation.
pub(crate) fn render<'a>(
    names: impl Iterator<Item = &'a str> + Clone,
    states: &[LimitState],
) -> String {
    let fields = names.zip(states);
    let (count, len) = fields.clone().fold((0, 0), |(count, len), (name, state)| {
        let reset = state
            .reset
            .map_or(0, |n| ";t=".len() + decimal_len(ceil_secs(n)));
        let field = "\"\";r=".len() + name.len() + decimal_len(state.remaining) + reset;
        (count + 1, len + field)
    });
    let len = len + ", ".len() * usize::saturating_sub(count, 1);
    let mut out = String::with_capacity(len);
    let mut digits = itoa::Buffer::new();
    for (name, state) in fields {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\";r=");
        out.push_str(digits.format(state.remaining));
        if let Some(reset) = state.reset {
            out.push_str(";t=");
            out.push_str(digits.format(ceil_secs(reset)));
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
