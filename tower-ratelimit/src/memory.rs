//! The in-process store: one entry per identity in a sharded map, checked under its shard's
//! lock, so a check is read-modify-write in one step and never races another.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use compact_str::CompactString;
use dashmap::DashMap;

use crate::decision::{Decision, LimitState, remaining, take};
use crate::policy::{Limit, MAX_LIMITS, Policy};

/// Entries swept at most this often (in insertions), so the sweep is amortised O(1).
const MIN_SWEEP: usize = 4096;

/// The theoretical arrival times of limits past the first two, for the rare policy that has
/// them (a thin pointer, so that two-limit entries stay small).
type More = Box<[u64; MAX_LIMITS - 2]>;

#[derive(Debug, Default)]
#[cfg_attr(test, derive(PartialEq))]
struct Entry {
    /// The GCRA theoretical arrival time of each limit, in the policy's order.
    tats: [u64; 2],
    more: Option<More>,
    /// The quota's spent credits and when its period ends (nanoseconds).
    quota_used: u64,
    quota_end: u64,
}

impl Entry {
    fn tat(&self, i: usize) -> u64 {
        match (self.tats.get(i), &self.more) {
            (Some(&t), _) => t,
            (None, Some(more)) => more.get(i - 2).copied().unwrap_or(0),
            (None, None) => 0,
        }
    }

    fn set_tat(&mut self, i: usize, value: u64) {
        match self.tats.get_mut(i) {
            Some(slot) => *slot = value,
            None => {
                if let Some(slot) = self.more.get_or_insert_default().get_mut(i - 2) {
                    *slot = value;
                }
            }
        }
    }

    /// Whether each of the first `limits` limits is whole at `now`: its bucket full.
    fn whole(&self, limits: usize, now: u64) -> bool {
        (0..limits).all(|i| self.tat(i) <= now)
    }

    /// Whether the entry still holds anything a fresh one would not.
    fn live(&self, now: u64) -> bool {
        self.tats.iter().any(|&t| t > now)
            || self.more.iter().flat_map(|m| m.iter()).any(|&t| t > now)
            || (self.quota_used > 0 && self.quota_end > now)
    }
}

/// What a store is keyed by, looked up by a borrowed form and owned only when an entry is
/// first made: a string (identities; up to 24 bytes held inline in the map's slots, so a
/// lookup compares them without following a pointer and they cost no allocation) or a
/// client address (kept as it is, never formatted).
pub(crate) trait StoreKey: Hash + Eq + Borrow<Self::Borrowed> {
    type Borrowed: Hash + Eq + ?Sized;
    fn to_key(borrowed: &Self::Borrowed) -> Self;
}

impl StoreKey for CompactString {
    type Borrowed = str;
    fn to_key(borrowed: &str) -> Self {
        CompactString::new(borrowed)
    }
}

impl StoreKey for IpAddr {
    type Borrowed = IpAddr;
    fn to_key(borrowed: &IpAddr) -> Self {
        *borrowed
    }
}

/// The in-process store.
#[derive(Debug)]
pub(crate) struct MemoryStore<K: StoreKey = CompactString> {
    map: DashMap<K, Entry, foldhash::fast::RandomState>,
    inserted: AtomicUsize,
    sweep_at: AtomicUsize,
}

impl<K: StoreKey> Default for MemoryStore<K> {
    fn default() -> Self {
        Self {
            map: DashMap::with_hasher(foldhash::fast::RandomState::default()),
            inserted: AtomicUsize::new(0),
            sweep_at: AtomicUsize::new(MIN_SWEEP),
        }
    }
}

impl<K: StoreKey> MemoryStore<K> {
    /// Runs `f` on `key`'s entry under its shard's write lock.
    fn with_entry<T>(&self, key: &K::Borrowed, now: u64, f: impl FnOnce(&mut Entry) -> T) -> T {
        if let Some(mut entry) = self.map.get_mut(key) {
            return f(&mut entry);
        }
        let out = f(self.map.entry(K::to_key(key)).or_default().value_mut());
        let n = self.inserted.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.sweep_at.load(Ordering::Relaxed) {
            self.sweep(now);
        }
        out
    }

    /// Drops the entries that hold nothing any more (limits whole again, quota periods over).
    pub(crate) fn sweep(&self, now: u64) {
        self.map.retain(|_, entry| entry.live(now));
        let len = self.map.len();
        self.inserted.store(len, Ordering::Relaxed);
        self.sweep_at
            .store((len * 2).max(MIN_SWEEP), Ordering::Relaxed);
    }

    /// The number of identities tracked.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Checks and, if every limit and the quota admit it, counts one request of `key`.
    pub(crate) fn check(&self, key: &K::Borrowed, policy: &Policy, now: u64) -> Decision {
        self.with_entry(key, now, |entry| match &policy.inner.whole {
            // Most callers are slower than their rates: every limit is whole, and the
            // answer is the one built with the policy.
            Some(whole) if entry.whole(policy.limits().len(), now) => {
                for (i, limit) in policy.limits().iter().enumerate() {
                    entry.set_tat(i, now.saturating_add(limit.interval()));
                }
                whole.decision.clone()
            }
            _ => count(entry, policy, now),
        })
    }

    /// Whether one more event of `key` under `limit` would conform: `Err(wait)` if not.
    /// Counts nothing.
    /// `now` is read only if `key` has an entry.
    pub(crate) fn peek(
        &self,
        key: &K::Borrowed,
        limit: &Limit,
        now: impl FnOnce() -> u64,
    ) -> Result<(), u64> {
        match self.map.get(key) {
            Some(entry) => {
                take(entry.tat(0), now(), limit.interval(), limit.tolerance(), 1).map(|_| ())
            }
            None => Ok(()),
        }
    }

    /// Counts one event of `key` under `limit` whether or not it conforms, never more than a
    /// full bucket ahead (so a flood is forgotten `burst` intervals after it stops).
    pub(crate) fn record(&self, key: &K::Borrowed, limit: &Limit, now: u64) {
        self.with_entry(key, now, |entry| {
            let tat = entry.tat(0).max(now).saturating_add(limit.interval());
            entry.set_tat(0, tat.min(now.saturating_add(limit.tolerance())));
        });
    }
}

/// GCRA for each limit, then the quota: counts one request in `entry` if all admit it.
fn count(entry: &mut Entry, policy: &Policy, now: u64) -> Decision {
    let limits = policy.limits();
    let quota = policy.quota();
    let mut wait: Option<u64> = Some(0);
    let mut denied = false;
    let mut new_tats = [0u64; crate::policy::MAX_LIMITS];
    for (i, limit) in limits.iter().enumerate() {
        match take(entry.tat(i), now, limit.interval(), limit.tolerance(), 1) {
            Ok(tat) => new_tats[i] = tat,
            Err(w) => {
                denied = true;
                wait = wait.map(|old| old.max(w));
            }
        }
    }
    if let Some(quota) = quota {
        if now >= entry.quota_end {
            let (_, end) = quota.period(now);
            entry.quota_used = 0;
            entry.quota_end = end.map_or(u64::MAX, |s| s.saturating_mul(1_000_000_000));
        }
        if entry.quota_used >= quota.credits() {
            denied = true;
            wait = match (wait, entry.quota_end) {
                (_, u64::MAX) => None,
                (w, end) => w.map(|w| w.max(end - now)),
            };
        }
    }
    let mut decision = Decision::new(!denied, if denied { wait } else { None });
    for (i, limit) in limits.iter().enumerate() {
        if !denied {
            entry.set_tat(i, new_tats[i]);
        }
        let tat = entry.tat(i);
        decision.push(LimitState {
            remaining: remaining(tat, now, limit.interval(), limit.tolerance()),
            reset: Some(tat.saturating_sub(now)),
        });
    }
    if let Some(quota) = quota {
        if !denied {
            entry.quota_used += 1;
        }
        decision.push(LimitState {
            remaining: quota.credits().saturating_sub(entry.quota_used),
            reset: (entry.quota_end != u64::MAX).then(|| entry.quota_end - now),
        });
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Quota;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn a_refusal_by_one_limit_spends_nothing_from_the_others() {
        let store: MemoryStore = MemoryStore::default();
        let policy =
            Policy::new([Limit::per_second("s", 2), Limit::per_day("d", 100)], None).unwrap();
        let now = 1_000 * SEC;
        assert!(store.check("k", &policy, now).is_allowed());
        assert!(store.check("k", &policy, now).is_allowed());
        let refused = store.check("k", &policy, now);
        assert!(!refused.is_allowed());
        assert_eq!(refused.remaining().collect::<Vec<_>>(), [0, 98]);
        assert_eq!(
            refused.retry_after(),
            Some(std::time::Duration::from_millis(500))
        );
    }

    #[test]
    fn an_admission_with_every_limit_whole_is_the_prebuilt_one() {
        let store: MemoryStore = MemoryStore::default();
        let policy = Policy::new(
            [
                Limit::per_second("s", 10).with_burst(3),
                Limit::per_minute("m", 7),
                Limit::per_day("d", 1_000),
            ],
            None,
        )
        .unwrap();
        let whole = policy.inner.whole.as_ref().unwrap();
        assert_eq!(whole.value, r#""s";r=2;t=1, "m";r=6;t=9, "d";r=999;t=87"#);
        assert_eq!(whole.decision.remaining().collect::<Vec<_>>(), [2, 6, 999]);
        let now = 1_000 * SEC;
        // The prebuilt answer and entry are what counting the request would make.
        let mut counted = Entry::default();
        let general = count(&mut counted, &policy, now);
        let first = store.check("k", &policy, now);
        assert!(first.is_whole() && first.is_allowed() && !general.is_whole());
        assert_eq!(first, general);
        assert_eq!(first.header(&policy), whole.value.to_str().unwrap());
        // Every limit's time, the third one's (kept apart) included.
        assert_eq!(*store.map.get("k").unwrap(), counted);
        // Within an interval of the first: not whole any more, written afresh.
        let second = store.check("k", &policy, now + SEC / 20);
        assert!(second.is_allowed() && !second.is_whole());
        assert_eq!(
            second.header(&policy),
            r#""s";r=1;t=1, "m";r=5;t=18, "d";r=998;t=173"#
        );
        // Once every limit is whole again, the prebuilt answer is given again.
        let later = store.check("k", &policy, now + 86_400 * SEC);
        assert!(later.is_whole());
        // A quota's count changes with every request: nothing prebuilt.
        let quota = Policy::new([Limit::per_second("s", 1)], Some(Quota::total("q", 5))).unwrap();
        assert!(quota.inner.whole.is_none());
        assert!(!store.check("q", &quota, now).is_whole());
    }

    #[test]
    fn many_limits_keep_their_own_state() {
        let store: MemoryStore = MemoryStore::default();
        let limits = (0..5).map(|i| Limit::per_second(&format!("l{i}"), 10 - i));
        let policy = Policy::new(limits, None).unwrap();
        for _ in 0..6 {
            assert!(store.check("k", &policy, SEC).is_allowed());
        }
        let d = store.check("k", &policy, SEC);
        assert!(!d.is_allowed());
        assert_eq!(d.remaining().collect::<Vec<_>>(), [4, 3, 2, 1, 0]);
    }

    #[test]
    fn quotas_refill_at_the_calendar_day_and_say_when() {
        let store: MemoryStore = MemoryStore::default();
        let policy = Policy::new([], Some(Quota::daily("q", 2))).unwrap();
        let day = 86_400 * SEC;
        let now = 19_000 * day + day - 10 * SEC; // 10 s before midnight UTC
        assert!(store.check("k", &policy, now).is_allowed());
        assert!(store.check("k", &policy, now).is_allowed());
        let refused = store.check("k", &policy, now + SEC);
        assert!(!refused.is_allowed());
        assert_eq!(refused.retry_after().unwrap().as_secs(), 9);
        assert!(store.check("k", &policy, now + 10 * SEC).is_allowed());
    }

    #[test]
    fn a_one_off_quota_never_says_retry() {
        let store: MemoryStore = MemoryStore::default();
        let policy = Policy::new([], Some(Quota::total("q", 1))).unwrap();
        assert!(store.check("k", &policy, SEC).is_allowed());
        let refused = store.check("k", &policy, 1_000_000 * SEC);
        assert!(!refused.is_allowed());
        assert_eq!(refused.retry_after(), None);
    }

    #[test]
    fn idle_entries_are_swept_but_spent_quotas_are_kept() {
        let store: MemoryStore = MemoryStore::default();
        let rate = Policy::new([Limit::per_second("s", 1)], None).unwrap();
        let quota = Policy::new([], Some(Quota::total("q", 5))).unwrap();
        store.check("a", &rate, SEC);
        store.check("b", &quota, SEC);
        store.sweep(SEC);
        assert_eq!(store.len(), 2);
        store.sweep(3 * SEC);
        assert_eq!(store.len(), 1);
        assert_eq!(
            store.check("b", &quota, 3 * SEC).remaining().next(),
            Some(3)
        );
    }

    #[test]
    fn keys_inline_or_not_are_kept_whole() {
        let store: MemoryStore = MemoryStore::default();
        let policy = Policy::new([Limit::per_second("s", 1)], None).unwrap();
        // 24 bytes (the longest held inline), 25 and 60 (on the heap), each its own.
        let keys = ["k".repeat(24), "k".repeat(25), "k".repeat(60)];
        for key in &keys {
            assert!(store.check(key, &policy, SEC).is_allowed(), "{key}");
        }
        for key in &keys {
            assert!(!store.check(key, &policy, SEC).is_allowed(), "{key}");
        }
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn failures_are_capped_at_a_full_bucket() {
        let store: MemoryStore = MemoryStore::default();
        let limit = Limit::per_minute("f", 6).with_burst(3); // one every 10 s
        for _ in 0..100 {
            store.record("k", &limit, 0);
        }
        assert_eq!(store.peek("k", &limit, || 0), Err(10 * SEC));
        assert_eq!(store.peek("k", &limit, || 10 * SEC), Ok(()));
        assert_eq!(
            store.peek("absent", &limit, || unreachable!("no entry, no clock")),
            Ok(())
        );
    }
}
