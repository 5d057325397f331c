//! Rate limits as registries report them: `RateLimit-Limit` / `RateLimit-Remaining` (Docker
//! Hub writes `100;w=21600`: 100 requests per 21,600-second window) and `Retry-After`
//! (seconds, or an HTTP date). Every answer from a registry updates that host's [`Budget`] in
//! the shared [`Budgets`], so all callers see what is left; a failed request is kept as the
//! host's last [`Failure`] until a request succeeds. [`Budgets::changed`] wakes the one task
//! that keeps them (the façade writes them to the database, for other processes to show).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;

/// What a registry last said about its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed per window (`RateLimit-Limit`).
    pub limit: Option<u64>,
    /// Requests left in the window (`RateLimit-Remaining`).
    pub remaining: Option<u64>,
    /// The window's length (`;w=` seconds), when given.
    pub window: Option<Duration>,
    /// Not before this time (`Retry-After`), when the registry asked to wait.
    pub retry_at: Option<Timestamp>,
    /// When the registry said it.
    pub seen: Timestamp,
}

/// Why the last request to a registry host failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error's message (never a secret).
    pub message: String,
    /// When.
    pub at: Timestamp,
    /// Whether the registry answered at all (a refusal, a 404), rather than not being reached.
    pub answered: bool,
}

/// The last-seen budget of each registry host, shared by every client and session that clones
/// it. Cheap to clone; safe to use from many tasks.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    hosts: Arc<Mutex<HashMap<String, Budget>>>,
    failures: Arc<Mutex<HashMap<String, Failure>>>,
    changed: Arc<tokio::sync::Notify>,
}

impl Budgets {
    /// An empty set of budgets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The budget last reported by `host` (`registry-1.docker.io`, `127.0.0.1:5000`).
    pub fn get(&self, host: &str) -> Option<Budget> {
        self.lock().get(host).copied()
    }

    /// Every host's budget, sorted by host.
    pub fn all(&self) -> Vec<(String, Budget)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(host, budget)| (host.clone(), *budget))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Records what an answer from `host` said, if it said anything about the rate limit.
    /// Returns the budget read from this answer.
    pub(super) fn record(&self, host: &str, headers: &HeaderMap, now: Timestamp) -> Option<Budget> {
        let budget = read(headers, now)?;
        self.lock().insert(host.to_owned(), budget);
        self.changed.notify_one();
        Some(budget)
    }

    /// Why the last request to `host` failed, unless one succeeded since.
    pub fn last_failure(&self, host: &str) -> Option<Failure> {
        lock(&self.failures).get(host).cloned()
    }

    /// Notes that a request to `host` failed with `message`; `answered` when the registry
    /// answered at all.
    pub(super) fn record_failure(
        &self,
        host: &str,
        message: String,
        answered: bool,
        now: Timestamp,
    ) {
        lock(&self.failures).insert(
            host.to_owned(),
            Failure {
                message,
                at: now,
                answered,
            },
        );
        self.changed.notify_one();
    }

    /// Notes that a request to `host` succeeded: its last failure is over.
    pub(super) fn record_success(&self, host: &str) {
        if lock(&self.failures).remove(host).is_some() {
            self.changed.notify_one();
        }
    }

    /// Waits until a budget or a failure is recorded after the last wait ended. Meant for one
    /// waiter (the task that persists them): a change while nobody waits is kept for the next
    /// wait, however many changes there were.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Every host with a budget or a last failure, sorted.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self.lock().keys().cloned().collect();
        hosts.extend(lock(&self.failures).keys().cloned());
        hosts.sort();
        hosts.dedup();
        hosts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Budget>> {
        lock(&self.hosts)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a map of plain values: still usable.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The budget in `headers`, when they carry any rate-limit header.
pub(super) fn read(headers: &HeaderMap, now: Timestamp) -> Option<Budget> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let limit = text("ratelimit-limit").and_then(quota);
    let remaining = text("ratelimit-remaining").and_then(quota);
    let retry_at = text("retry-after").and_then(|v| retry_after(v, now));
    if limit.is_none() && remaining.is_none() && retry_at.is_none() {
        return None;
    }
    Some(Budget {
        limit: limit.map(|(n, _)| n),
        remaining: remaining.map(|(n, _)| n),
        window: limit.or(remaining).and_then(|(_, w)| w),
        retry_at,
        seen: now,
    })
}

/// `100;w=21600` (or plain `100`) as the count and the window.
fn quota(value: &str) -> Option<(u64, Option<Duration>)> {
    let mut parts = value.split(';');
    let count = parts.next()?.trim().parse().ok()?;
    let window = parts
        .filter_map(|part| part.trim().strip_prefix("w="))
        .find_map(|w| w.trim().parse().ok())
        .map(Duration::from_secs);
    Some((count, window))
}

/// `Retry-After` as a time: a number of seconds from `now`, or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`).
pub(super) fn retry_after(value: &str, now: Timestamp) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return now
            .checked_add(SignedDuration::from_secs(i64::from(seconds)))
            .ok();
    }
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn docker_hubs_headers_are_read() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let budget = read(
            &headers(&[
                ("ratelimit-limit", "100;w=21600"),
                ("ratelimit-remaining", "76;w=21600"),
                ("docker-ratelimit-source", "203.0.113.9"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(budget.limit, Some(100));
        assert_eq!(budget.remaining, Some(76));
        assert_eq!(budget.window, Some(Duration::from_secs(21600)));
        assert_eq!(budget.retry_at, None);
        assert_eq!(read(&headers(&[("content-type", "x")]), now), None);
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let table = [
            ("120", Some("2026-12-07T10:02:00Z")),
            (" 0 ", Some("2026-12-07T10:00:00Z")),
            (
                "Mon, 07 Dec 2026 11:30:00 GMT",
                Some("2026-12-07T11:30:00Z"),
            ),
            ("soon", None),
            ("-5", None),
        ];
        for (value, expected) in table {
            let expected = expected.map(|t| t.parse::<Timestamp>().unwrap());
            assert_eq!(retry_after(value, now), expected, "{value}");
        }
    }

    #[test]
    fn budgets_are_kept_per_host_and_shared() {
        let now = Timestamp::now();
        let budgets = Budgets::new();
        let shared = budgets.clone();
        budgets.record(
            "registry-1.docker.io",
            &headers(&[("ratelimit-remaining", "3;w=21600")]),
            now,
        );
        budgets.record("ghcr.io", &headers(&[]), now);
        assert_eq!(
            shared.get("registry-1.docker.io").unwrap().remaining,
            Some(3)
        );
        assert_eq!(shared.get("ghcr.io"), None);
        assert_eq!(shared.all().len(), 1);
    }

    #[tokio::test]
    async fn failures_last_until_a_success_and_changes_wake_the_keeper() {
        let now = Timestamp::now();
        let budgets = Budgets::new();
        budgets.record_failure(
            "ghcr.io",
            "ghcr.io/a could not be reached".into(),
            false,
            now,
        );
        // The change made while nobody waited is kept for the next wait.
        tokio::time::timeout(Duration::from_secs(1), budgets.changed())
            .await
            .unwrap();
        assert_eq!(
            budgets.last_failure("ghcr.io").unwrap().message,
            "ghcr.io/a could not be reached"
        );
        assert_eq!(budgets.hosts(), ["ghcr.io"]);
        budgets.record_success("ghcr.io");
        assert_eq!(budgets.last_failure("ghcr.io"), None);
        tokio::time::timeout(Duration::from_secs(1), budgets.changed())
            .await
            .unwrap();
        // A success with nothing to clear is no change.
        budgets.record_success("ghcr.io");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), budgets.changed())
                .await
                .is_err()
        );
    }
}
