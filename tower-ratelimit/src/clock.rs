//! Time: the [`Clock`] the limiters read, and the UTC calendar that quotas refill on.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a limiter reads the time: nanoseconds since the Unix epoch (UTC).
///
/// [`SystemClock`] in production; [`ManualClock`] in tests, to move time by hand.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    fn now(&self) -> u64;
}

/// The system's clock, made monotonic: the wall-clock time at creation plus the monotonic
/// time elapsed since (read from the CPU's time-stamp counter through `quanta`, ~10 ns),
/// so a wall-clock step backwards never lets a burst through.
#[derive(Debug, Clone)]
pub struct SystemClock {
    clock: quanta::Clock,
    start: u64,
    start_nanos: u64,
}

impl SystemClock {
    /// A clock anchored at the current wall-clock time.
    #[must_use]
    pub fn new() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let clock = quanta::Clock::new();
        Self {
            start: clock.raw(),
            clock,
            start_nanos: saturating_nanos(wall),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        self.start_nanos
            .saturating_add(self.clock.delta_as_nanos(self.start, self.clock.raw()))
    }
}

/// A clock that moves only when told to; clones share the time.
///
/// ```
/// use std::time::Duration;
/// use tower_ratelimit::{Clock, ManualClock};
///
/// let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now(), 1_700_000_001_500_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at `since_epoch` after 1970-01-01T00:00:00Z.
    #[must_use]
    pub fn new(since_epoch: Duration) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(saturating_nanos(since_epoch))),
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(saturating_nanos(by), Ordering::SeqCst);
    }

    /// Sets the time to `since_epoch`.
    pub fn set(&self, since_epoch: Duration) {
        self.nanos
            .store(saturating_nanos(since_epoch), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) const NANOS_PER_SEC: u64 = 1_000_000_000;
const SECS_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 of the civil date `(year, month, day)` (proleptic Gregorian).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil `(year, month)` of `days` since 1970-01-01.
fn year_month(days: i64) -> (i64, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, u32::try_from(month).unwrap_or(1))
}

/// The UTC day of `now` (nanoseconds): its number since the epoch and the second it ends.
pub(crate) fn day_period(now: u64) -> (u64, u64) {
    let day = now / NANOS_PER_SEC / SECS_PER_DAY;
    (day, (day + 1) * SECS_PER_DAY)
}

/// The UTC calendar month of `now` (nanoseconds): a number (`year * 12 + month - 1`) and the
/// second it ends (the first second of the next month).
pub(crate) fn month_period(now: u64) -> (u64, u64) {
    let days = i64::try_from(now / NANOS_PER_SEC / SECS_PER_DAY).unwrap_or(i64::MAX / 2);
    let (year, month) = year_month(days);
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let end_days = days_from_civil(next_year, next_month, 1);
    let id = u64::try_from(year * 12 + i64::from(month) - 1).unwrap_or(0);
    let end = u64::try_from(end_days).unwrap_or(0) * SECS_PER_DAY;
    (id, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn at(secs: u64) -> u64 {
        secs * NANOS_PER_SEC
    }

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in [-1000, 0, 59, 60, 11_016, 11_017, 19_782, 20_000, 60_000] {
            let (y, m) = year_month(days);
            let first = days_from_civil(y, m, 1);
            assert!(first <= days && days - first < 31, "{days}: {y}-{m}");
        }
    }

    #[test]
    fn days_end_at_midnight_utc() {
        // 2024-02-29T23:59:59Z ends at 2024-03-01T00:00:00Z = 1_709_251_200.
        assert_eq!(day_period(at(1_709_251_199)).1, 1_709_251_200);
        assert_eq!(day_period(at(1_709_251_200)).1, 1_709_251_200 + 86_400);
        assert_ne!(
            day_period(at(1_709_251_199)).0,
            day_period(at(1_709_251_200)).0
        );
    }

    #[test]
    fn months_end_on_the_first_of_the_next_month() {
        // 2024-02-10 (leap year) ends at 2024-03-01T00:00:00Z.
        assert_eq!(month_period(at(1_707_523_200)).1, 1_709_251_200);
        // 2023-12-31T23:59:59Z ends at 2024-01-01T00:00:00Z = 1_704_067_200.
        let (december, end) = month_period(at(1_704_067_199));
        assert_eq!(end, 1_704_067_200);
        let (january, _) = month_period(at(1_704_067_200));
        assert_eq!(january, december + 1);
    }

    #[test]
    fn manual_clock_moves_by_hand_and_clones_share_it() {
        let clock = ManualClock::new(Duration::from_secs(10));
        let other = clock.clone();
        clock.advance(Duration::from_millis(5));
        assert_eq!(other.now(), at(10) + 5_000_000);
        other.set(Duration::from_secs(1));
        assert_eq!(clock.now(), at(1));
    }

    #[test]
    fn system_clock_is_close_to_the_wall_clock_and_never_goes_back() {
        let clock = SystemClock::new();
        let wall = saturating_nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
        let a = clock.now();
        assert!(a.abs_diff(wall) < NANOS_PER_SEC);
        assert!(clock.now() >= a);
    }
}
