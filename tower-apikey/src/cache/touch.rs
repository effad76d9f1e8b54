//! Batched last-used writes: uses queued by the cache, written once per interval.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::store::KeyStore;

/// Collects uses and writes them once per interval, deduplicated per key.
pub(super) async fn write_touches(
    store: Arc<dyn KeyStore>,
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

async fn flush(store: &dyn KeyStore, pending: &mut HashMap<Arc<str>, i64>) {
    if pending.is_empty() {
        return;
    }
    let batch: Vec<(String, i64)> = pending
        .drain()
        .map(|(id, at)| (id.to_string(), at))
        .collect();
    if let Err(error) = store.touch(&batch).await {
        tracing::warn!(target: "tower_apikey", %error, keys = batch.len(), "could not record last use");
    }
}
