//! Time arithmetic that never panics: deadlines saturate instead of overflowing.

use std::time::{Duration, SystemTime};

/// `at + span`, or `at` itself when the sum does not fit a `SystemTime`: `at` is then within
/// `span` of the largest representable instant, past any real deadline, so a deadline
/// computed this way is kept "forever" rather than panicking or wrapping into the past.
pub(crate) fn add(at: SystemTime, span: Duration) -> SystemTime {
    at.checked_add(span).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflowing_sum_saturates() {
        let now = SystemTime::now();
        assert_eq!(
            add(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert_eq!(add(now, Duration::MAX), now);
    }
}
