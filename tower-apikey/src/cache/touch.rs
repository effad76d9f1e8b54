//! Batched last-used writes and usage counts: queued by the cache, written once per interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::CachedKey;
use crate::record::{self, HourlyUsage};
use crate::store::ApiKeyStore;

/// What the cache hands the writer.
#[derive(Debug)]
pub(crate) enum Note {
    /// A use of key `.0` at `.1` (Unix seconds) worth recording as its last use.
    Used(Arc<str>, i64),
    /// An entry with counts to take at the next write (sent once until they are taken).
    Counted(Arc<CachedKey>),
    /// A rate-limited request of key `.0`, whose cache entry was gone.
    Limited(Arc<str>),
}

/// What is waiting to be written: one last use per key, one count per key and hour, and
/// the entries whose counts are still to be taken.
#[derive(Default)]
struct Pending {
    used: HashMap<Arc<str>, i64>,
    usage: HashMap<(Arc<str>, i64), HourlyUsage>,
    counted: Vec<Arc<CachedKey>>,
}

impl Pending {
    fn used(&mut self, id: Arc<str>, at: i64) {
        let slot = self.used.entry(id).or_insert(at);
        *slot = (*slot).max(at);
    }

    fn add(&mut self, id: Arc<str>, counts: &HourlyUsage) {
        self.usage
            .entry((id, counts.hour))
            .or_insert_with(|| HourlyUsage::empty(counts.hour))
            .add(counts);
    }
}

/// Collects uses and counts and writes them once per interval, deduplicated per key (and
/// hour); a batch the store refused is kept and written with the next one.
pub(super) async fn write_touches(
    store: Arc<dyn ApiKeyStore>,
    mut rx: mpsc::Receiver<Note>,
    interval: Duration,
) {
    let mut pending = Pending::default();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            note = rx.recv() => match note {
                Some(Note::Used(id, at)) => pending.used(id, at),
                Some(Note::Counted(entry)) => pending.counted.push(entry),
                Some(Note::Limited(id)) => {
                    let counts = HourlyUsage {
                        limited: 1,
                        ..HourlyUsage::empty(record::hour_of(record::now()))
                    };
                    pending.add(id, &counts);
                }
                None => {
                    flush(&*store, &mut pending).await;
                    return;
                }
            },
            _ = tick.tick() => flush(&*store, &mut pending).await,
        }
    }
}

/// Takes the entries' counts into the current UTC hour, then writes everything pending.
async fn flush(store: &dyn ApiKeyStore, pending: &mut Pending) {
    let hour = record::hour_of(record::now());
    for entry in std::mem::take(&mut pending.counted) {
        let counts = entry.take_counts(hour);
        if !counts.is_empty() {
            pending.add(Arc::from(entry.id()), &counts);
        }
    }
    if pending.used.is_empty() && pending.usage.is_empty() {
        return;
    }
    let used: Vec<(String, i64)> = pending
        .used
        .drain()
        .map(|(id, at)| (id.to_string(), at))
        .collect();
    let usage: Vec<(String, HourlyUsage)> = pending
        .usage
        .drain()
        .map(|((id, _), counts)| (id.to_string(), counts))
        .collect();
    if let Err(error) = store.touch(&used, &usage).await {
        // Kept for the next tick (one entry per key, and per key and hour, so bounded by the
        // keys in use): what was gathered while the store was down is written once it is back.
        tracing::warn!(target: "tower_apikey", %error, keys = used.len(), counts = usage.len(), "could not record last use and usage; kept for the next write");
        for (id, at) in used {
            pending.used(Arc::from(id), at);
        }
        for (id, counts) in usage {
            pending.add(Arc::from(id), &counts);
        }
    }
}
