//! `/metrics`: request counters and deploy durations in the Prometheus text format.
//!
//! Handlers count requests by trigger kind and status; deploy durations come from the
//! workers' events ([`follow`]), measured from a release's start to its end.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::extract::State as Extract;
use axum::response::IntoResponse;
use tokio_util::sync::CancellationToken;

use super::State;
use crate::deploy::worker::Event;

/// Histogram buckets for deploy durations, in seconds.
const BUCKETS: &[f64] = &[0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    durations: BTreeMap<String, (Vec<u64>, f64, u64)>,
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// Poisons its lock, as a panic while it is held would (for tests of recovery).
    #[cfg(test)]
    pub(crate) fn poison(&self) {
        super::poison(&self.inner);
    }

    /// The counters. Every update is one map entry, so a panic elsewhere while the lock was
    /// held leaves them consistent: a poisoned lock is taken over, never propagated.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request.
    pub fn request(&self, kind: &'static str, status: u16) {
        let mut inner = self.lock();
        *inner.requests.entry((kind, status)).or_default() += 1;
    }

    /// Requests so far, as (trigger kind, status, count).
    pub fn counts(&self) -> Vec<(String, u16, u64)> {
        let inner = self.lock();
        inner
            .requests
            .iter()
            .map(|((kind, status), count)| ((*kind).to_owned(), *status, *count))
            .collect()
    }

    /// Observes a finished deploy.
    pub fn deploy(&self, outcome: &str, seconds: f64) {
        let mut inner = self.lock();
        let (buckets, sum, count) = inner
            .durations
            .entry(outcome.to_owned())
            .or_insert_with(|| (vec![0; BUCKETS.len()], 0.0, 0));
        for (bucket, bound) in buckets.iter_mut().zip(BUCKETS) {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }

    /// The Prometheus text.
    pub fn text(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP tripline_trigger_requests_total Trigger calls by trigger kind and HTTP status.\n");
        out.push_str("# TYPE tripline_trigger_requests_total counter\n");
        for ((kind, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "tripline_trigger_requests_total{{kind=\"{kind}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP tripline_deploy_duration_seconds Deploy durations by outcome.\n");
        out.push_str("# TYPE tripline_deploy_duration_seconds histogram\n");
        for (outcome, (buckets, sum, count)) in &inner.durations {
            for (bucket, bound) in buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "tripline_deploy_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"{bound}\"}} {bucket}"
                );
            }
            let _ = writeln!(
                out,
                "tripline_deploy_duration_seconds_bucket{{outcome=\"{outcome}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "tripline_deploy_duration_seconds_sum{{outcome=\"{outcome}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "tripline_deploy_duration_seconds_count{{outcome=\"{outcome}\"}} {count}"
            );
        }
        out
    }
}

/// `GET /metrics`
pub async fn render(Extract(state): Extract<Arc<State>>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.text(),
    )
}

/// Follows the workers' events to time deploys, until `cancel`.
pub fn follow(state: Arc<State>, cancel: CancellationToken) {
    let mut events = state.workers.subscribe();
    tokio::spawn(async move {
        let mut started: HashMap<i64, Instant> = HashMap::new();
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => break,
                event = events.recv() => event,
            };
            match event {
                Ok(event) => match event.event {
                    Event::Started { .. } => {
                        started.insert(event.release, Instant::now());
                    }
                    Event::Finished { status, .. } => {
                        if let Some(at) = started.remove(&event.release) {
                            state
                                .metrics
                                .deploy(status.as_str(), at.elapsed().as_secs_f64());
                        }
                    }
                    _ => {}
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_has_counters_and_a_histogram() {
        let metrics = Metrics::default();
        metrics.request("redeploy", 202);
        metrics.request("redeploy", 202);
        metrics.request("unknown", 404);
        metrics.deploy("succeeded", 1.2);
        let text = metrics.text();
        assert!(
            text.contains("tripline_trigger_requests_total{kind=\"redeploy\",status=\"202\"} 2")
        );
        assert!(
            text.contains("tripline_trigger_requests_total{kind=\"unknown\",status=\"404\"} 1")
        );
        assert!(
            text.contains(
                "tripline_deploy_duration_seconds_bucket{outcome=\"succeeded\",le=\"1\"} 0"
            )
        );
        assert!(text.contains(
            "tripline_deploy_duration_seconds_bucket{outcome=\"succeeded\",le=\"2.5\"} 1"
        ));
        assert!(text.contains("tripline_deploy_duration_seconds_count{outcome=\"succeeded\"} 1"));
    }
}
