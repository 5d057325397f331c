//! Access records: what a call looked like, with its secrets removed, and its outcome.
//!
//! [`Call`] captures a request as it arrived (path with the token redacted, the headers worth
//! keeping, the body cut at 64 KiB with secret-looking JSON fields masked). Records of calls
//! that start a release are written at once (the release names its record); all others go to
//! the [`Recorder`], a task that writes them in batches on its own connection, so a flood of
//! bad tokens costs the handlers a channel send, not a disk write. Each record is one row,
//! written whole or not at all.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::store::{AccessRecord, Decision, Store};

/// The most body text a record keeps.
pub const BODY_LIMIT: usize = 64 * 1024;
const REDACTED: &str = "[redacted]";
/// Headers worth keeping on a record (lower case).
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "user-agent",
    "x-forwarded-for",
    "x-real-ip",
    "x-request-id",
    "x-github-event",
    "x-github-delivery",
    "x-harbor-event",
    "x-signature",
    "x-hub-signature-256",
    "authorization",
];
/// Of those, the ones whose value is a secret.
const SECRET_HEADERS: &[&str] = &["x-signature", "x-hub-signature-256", "authorization"];

/// A request as recorded.
#[derive(Debug, Clone)]
pub struct Call {
    /// The caller.
    pub source: String,
    /// GET or POST.
    pub method: String,
    /// Path and query, token redacted.
    pub path: String,
    /// Kept headers, secrets redacted.
    pub headers: Vec<(String, String)>,
    /// The body, cut and redacted.
    pub body: String,
    /// True when cut.
    pub body_truncated: bool,
}

impl Call {
    /// Captures a request's line and headers.
    pub fn new(
        source: std::net::SocketAddr,
        method: &str,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
    ) -> Self {
        let path = match uri.query() {
            Some(query) => format!("{}?{}", uri.path(), redact_query(query)),
            None => uri.path().to_owned(),
        };
        let headers = headers
            .iter()
            .filter(|(name, _)| KEPT_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| {
                let value = if SECRET_HEADERS.contains(&name.as_str()) {
                    REDACTED.to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes())
                        .chars()
                        .take(512)
                        .collect()
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        Call {
            source: source.ip().to_string(),
            method: method.to_owned(),
            path,
            headers,
            body: String::new(),
            body_truncated: false,
        }
    }

    /// Keeps (a redacted, cut copy of) the body.
    pub fn set_body(&mut self, body: &[u8]) {
        let cut = &body[..body.len().min(BODY_LIMIT)];
        self.body_truncated = body.len() > BODY_LIMIT;
        let text = String::from_utf8_lossy(cut).into_owned();
        self.body = match serde_json::from_slice::<Value>(body) {
            Ok(mut value) if body.len() <= BODY_LIMIT => {
                redact_json(&mut value, 0);
                value.to_string()
            }
            _ => text,
        };
    }

    /// The finished record.
    pub fn record(
        &self,
        decision: Decision,
        reason: &str,
        status: u16,
        response: &str,
        event: Option<Value>,
    ) -> AccessRecord {
        AccessRecord {
            id: 0,
            trigger: None,
            at: jiff::Timestamp::now().to_string(),
            source: self.source.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            body_truncated: self.body_truncated,
            event,
            decision,
            reason: reason.to_owned(),
            status,
            response: response.chars().take(BODY_LIMIT).collect(),
            release: None,
        }
    }
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "authorization",
        "apikey",
        "api_key",
        "signature",
        "credential",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// Masks the values of query parameters that carry secrets.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_json(value: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if is_secret_name(key) && !child.is_object() && !child.is_array() {
                    *child = Value::String(REDACTED.into());
                } else {
                    redact_json(child, depth + 1);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_json(item, depth + 1)),
        _ => {}
    }
}

enum Message {
    Record(Option<i64>, Box<AccessRecord>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Writes access records in the background, on a thread of its own with its own connection.
/// The thread ends when the last `Recorder` is dropped, after writing what is queued.
#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Message>,
}

impl Recorder {
    /// Starts the writer.
    pub fn start(
        database: &Path,
        retention: usize,
        recorded: tokio::sync::broadcast::Sender<super::Recorded>,
    ) -> crate::store::Result<Self> {
        let mut store = Store::open(database)?;
        // Records favour throughput: a committed record survives a crash of Tripline; only a
        // power cut could lose the last moments' records (WAL with NORMAL sync).
        store.relax_sync()?;
        let (queue, incoming) = mpsc::channel::<Message>(4096);
        std::thread::Builder::new()
            .name("tripline-records".into())
            .spawn(move || write_loop(store, incoming, retention, recorded))
            .map_err(|e| {
                crate::store::Error::Invalid(format!("cannot start the record writer: {e}"))
            })?;
        Ok(Recorder { queue })
    }

    /// Queues a record; if the queue is full the caller waits a moment rather than lose it.
    pub async fn record(&self, trigger: Option<i64>, record: AccessRecord) {
        let message = Message::Record(trigger, Box::new(record));
        if tokio::time::timeout(Duration::from_secs(5), self.queue.send(message))
            .await
            .is_err()
        {
            tracing::error!("the access-record queue is stuck; a record was dropped");
        }
    }

    /// Waits until every record queued before this call is written.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

fn write_loop(
    mut store: Store,
    mut incoming: mpsc::Receiver<Message>,
    retention: usize,
    recorded: tokio::sync::broadcast::Sender<super::Recorded>,
) {
    while let Some(first) = incoming.blocking_recv() {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Record(trigger, record) => batch.push((trigger, *record)),
                Message::Flush(done) => flushes.push(done),
            }
            next = if batch.len() < 256 {
                incoming.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            match store.record_accesses(&batch, retention) {
                Ok(()) if recorded.receiver_count() > 0 => {
                    for (_, record) in &batch {
                        let _ = recorded.send(super::Recorded::of(record));
                    }
                }
                Ok(()) => {}
                Err(error) => tracing::error!(%error, "cannot write access records"),
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_secrets_are_redacted() {
        assert_eq!(
            redact_query("token=tl_abc&type=scale_out&step=2&secret=x"),
            "token=[redacted]&type=scale_out&step=2&secret=[redacted]"
        );
        let mut call = Call::new(
            "127.0.0.1:5000".parse().unwrap(),
            "POST",
            &"/hook/trigger?token=tl_x".parse().unwrap(),
            &{
                let mut h = axum::http::HeaderMap::new();
                h.insert("x-signature", "sha256=abc".parse().unwrap());
                h.insert("content-type", "application/json".parse().unwrap());
                h.insert("cookie", "session=1".parse().unwrap());
                h
            },
        );
        assert_eq!(call.path, "/hook/trigger?token=[redacted]");
        assert!(
            call.headers
                .contains(&("x-signature".into(), REDACTED.into()))
        );
        assert!(!call.headers.iter().any(|(n, _)| n == "cookie"));
        call.set_body(br#"{"push_data":{"tag":"1"},"repository":{"name":"x"},"auth":{"password":"p","token":"t"}}"#);
        assert!(
            !call.body.contains("\"p\"") && !call.body.contains("\"t\""),
            "{}",
            call.body
        );
        assert!(call.body.contains("\"tag\":\"1\""));
        let big = vec![b'x'; BODY_LIMIT + 10];
        call.set_body(&big);
        assert!(call.body_truncated);
        assert_eq!(call.body.len(), BODY_LIMIT);
    }
}
