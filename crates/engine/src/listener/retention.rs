//! Pruning old access records in the background, by the listener's retention policy.
//!
//! The listener's requests only ever insert records; this task deletes what the policy no
//! longer keeps ([`crate::store::Store::prune_records`], in short batches), a minute after the
//! listener starts and then every hour, on a blocking thread of its own so no request waits
//! for it. It stops with the listener's cancellation token.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::State;

const FIRST: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_secs(3600);

/// Starts the pruning task; it ends when `cancel` is cancelled.
pub fn prune_in_background(state: Arc<State>, cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut wait = FIRST;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = EVERY;
            let state = state.clone();
            let pruned = tokio::task::spawn_blocking(move || {
                state.with_store(|store| {
                    store.prune_records(&state.config.retention, jiff::Timestamp::now())
                })
            })
            .await;
            match pruned {
                Ok(Ok(0)) => {}
                Ok(Ok(count)) => tracing::info!(count, "pruned access records past the retention"),
                Ok(Err(error)) => tracing::warn!(%error, "cannot prune old access records"),
                Err(error) => tracing::warn!(%error, "the access-record pruner stopped"),
            }
        }
    });
}
