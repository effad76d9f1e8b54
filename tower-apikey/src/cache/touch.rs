//! Batched last-used writes: uses queued by the cache, written once per interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::ApiKeyStore;

/// Collects uses and writes them once per interval, deduplicated per key; a batch the store
/// refused is kept and written with the next one.
pub(super) async fn write_touches(
    store: Arc<dyn ApiKeyStore>,
    mut rx: mpsc::Receiver<(Arc<str>, i64)>,
    interval: Duration,
) {
    let mut pending: HashMap<Arc<str>, i64> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            used = rx.recv() => match used {
                Some((id, at)) => {
                    let slot = pending.entry(id).or_insert(at);
                    *slot = (*slot).max(at);
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

async fn flush(store: &dyn ApiKeyStore, pending: &mut HashMap<Arc<str>, i64>) {
    if pending.is_empty() {
        return;
    }
    let batch: Vec<(String, i64)> = pending
        .drain()
        .map(|(id, at)| (id.to_string(), at))
        .collect();
    if let Err(error) = store.touch(&batch).await {
        // Kept for the next tick (one entry per key, so at most one per key in use): the
        // uses made while the store was down are written once it is back.
        tracing::warn!(target: "tower_apikey", %error, keys = batch.len(), "could not record last use; kept for the next write");
        for (id, at) in batch {
            let slot = pending.entry(Arc::from(id)).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
}
