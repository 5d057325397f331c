//! Access records: what a call looked like, with its secrets removed, and its outcome.
//!
//! [`Call`] captures a request as it arrived (path with its secrets redacted, the headers
//! worth keeping, the raw body). Records of calls that start a release are written at once
//! (the release names its record): [`Call::record`] cuts the body at 64 KiB and masks its
//! secrets in the caller's own bytes (duplicate keys and all; see [`redact`]). All others go to the [`Recorder`], a thread that writes them in
//! batches on its own connection, so a flood of bad tokens costs the handlers a channel send,
//! not a disk write, and the body is redacted off the request path.
//!
//! The writer folds identical calls in a row: a call equal to the one before it on the same
//! trigger (same caller, request, decision and answer), within [`FOLD_WINDOW`] of the first,
//! adds to that record's `repeats` instead of making a record of its own — but only while
//! that record is still the trigger's newest, so the history keeps its order. A flood of the
//! same call then costs one row, and does not evict the records before it. Each record is one
//! row, written whole or not at all.
//!
//! The writer wakes once per burst, not per call: it lets calls gather for [`GATHER`] after
//! the first, then writes them in one transaction. When all a batch would do is add to
//! counts of records already written, it keeps the counts in memory for up to
//! [`FOLD_DELAY`] (or until anything else is written, or a flush), so a flood of one call
//! costs about ten small writes a second. A new record is never held back.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use foldhash::HashMap;
use serde_json::Value;
use tokio::sync::mpsc;

use super::redact;
use crate::store::{AccessRecord, Decision, RecordWrite, Store};

/// The most body text a record keeps.
pub const BODY_LIMIT: usize = 64 * 1024;
/// How long after its first call a record may still take identical calls.
pub const FOLD_WINDOW: Duration = Duration::from_secs(60);
/// Headers worth keeping on a record (lower case). Any header whose name is secret-looking
/// (see [`redact::is_secret_header`]) is kept too, its value masked: a record then shows that
/// a credential was sent, never which.
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
    "x-hub-signature",
    "x-hub-signature-256",
    "authorization",
    "proxy-authorization",
    "cookie",
];

/// Headers every client sends whose names are not secret-looking: their check is a compare
/// of `http`'s own names, not a scan of the text.
const PLAIN_HEADERS: [axum::http::HeaderName; 8] = [
    axum::http::header::HOST,
    axum::http::header::CONTENT_TYPE,
    axum::http::header::CONTENT_LENGTH,
    axum::http::header::USER_AGENT,
    axum::http::header::ACCEPT,
    axum::http::header::ACCEPT_ENCODING,
    axum::http::header::CONNECTION,
    axum::http::header::DATE,
];

/// A request as recorded. What a call keeps is cheap to take: the URI and the header values
/// are shared with the request, not copied, and nothing is redacted yet. Redaction happens
/// once, when the call becomes a record ([`Call::record`]), on the record writer's thread
/// for most calls; a flood of identical calls is compared raw and redacted once.
///
/// Until then the call holds its secrets in clear, in memory only: its `Debug` shows the
/// redacted path.
#[derive(Clone, PartialEq)]
pub struct Call {
    /// The caller (the client behind a trusted proxy, else the peer).
    pub source: std::net::IpAddr,
    /// GET or POST.
    pub method: axum::http::Method,
    /// The path and query as they arrived (see [`Call::path`] for what a record keeps).
    uri: axum::http::Uri,
    /// Kept headers, secrets' values replaced by `[redacted]`.
    pub headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
    /// The body as it arrived (redacted and cut when it becomes a record).
    pub body: Bytes,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("source", &self.source)
            .field("method", &self.method)
            .field("path", &self.path())
            .field("headers", &self.headers)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

impl Call {
    /// Captures a request's line and headers.
    pub fn new(
        source: std::net::IpAddr,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &axum::http::HeaderMap,
    ) -> Self {
        let headers = headers
            .iter()
            .filter_map(|(name, value)| {
                let value =
                    if !PLAIN_HEADERS.contains(name) && redact::is_secret_header(name.as_str()) {
                        axum::http::HeaderValue::from_static(redact::REDACTED)
                    } else if KEPT_HEADERS.contains(&name.as_str()) {
                        value.clone()
                    } else {
                        return None;
                    };
                Some((name.clone(), value))
            })
            .collect();
        Call {
            source,
            method: method.clone(),
            uri: uri.clone(),
            headers,
            body: Bytes::new(),
        }
    }

    /// What the query presented as secrets, to scrub from the rest of the record.
    fn presented(&self) -> redact::Presented {
        let mut presented = redact::Presented::default();
        if let Some(query) = self.uri.query() {
            redact::collect_query(query, &mut presented);
        }
        presented
    }

    /// The path and query as a record keeps them: secrets redacted (see [`redact`]).
    pub fn path(&self) -> String {
        self.path_with(&self.presented())
    }

    fn path_with(&self, presented: &redact::Presented) -> String {
        let uri = &self.uri;
        let mut path =
            String::with_capacity(uri.path().len() + uri.query().map_or(0, str::len) + 1);
        path.push_str(uri.path());
        if let Some(query) = uri.query() {
            path.push('?');
            redact::push_query(&mut path, query, presented);
        }
        path
    }

    /// Keeps the body (shared, not copied).
    pub fn set_body(&mut self, body: Bytes) {
        self.body = body;
    }

    /// `text` with the secrets this call presented replaced (for a text kept after the
    /// record was made, such as a waited-for answer).
    pub fn scrub(&self, text: &str) -> String {
        self.presented().scrub(text).into_owned()
    }

    /// The finished record: the body cut and redacted, and every text it keeps scrubbed of
    /// the secrets the call presented.
    pub fn record(
        &self,
        decision: Decision,
        reason: &str,
        status: u16,
        response: &str,
        event: Option<Value>,
    ) -> AccessRecord {
        let content_type = self
            .headers
            .iter()
            .find(|(name, _)| name == axum::http::header::CONTENT_TYPE)
            .and_then(|(_, value)| value.to_str().ok());
        let presented = self.presented();
        let kept = &self.body[..self.body.len().min(BODY_LIMIT)];
        let body = redact::body(kept, content_type, &presented);
        let body_truncated = self.body.len() > BODY_LIMIT;
        let mut event = event;
        if let Some(event) = &mut event {
            presented.scrub_json(event);
        }
        let scrub = |text: &str| presented.scrub(text).into_owned();
        AccessRecord {
            id: 0,
            trigger: None,
            at: jiff::Timestamp::now().to_string(),
            source: self.source.to_string(),
            method: self.method.as_str().to_owned(),
            path: self.path_with(&presented),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| {
                    let text = String::from_utf8_lossy(value.as_bytes());
                    let end = text.char_indices().nth(512).map_or(text.len(), |(i, _)| i);
                    (name.as_str().to_owned(), scrub(&text[..end]))
                })
                .collect(),
            body: cut(&body, BODY_LIMIT).to_owned(),
            body_truncated,
            event,
            decision,
            reason: scrub(reason),
            status,
            response: scrub(cut(response, BODY_LIMIT)),
            release: None,
            repeats: 1,
            last_at: None,
        }
    }
}

/// A call's answer, waiting in the writer's queue to become a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The trigger's id and name (`None`: the token named no trigger).
    pub trigger: Option<(i64, String)>,
    /// The request.
    pub call: Call,
    /// What was decided.
    pub decision: Decision,
    /// Why, in words.
    pub reason: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The response body (shared with the response sent).
    pub response: Bytes,
    /// The parsed event, if any.
    pub event: Option<Event>,
}

/// A call's parsed event as the handler has it. A registry payload's pushes stay typed until
/// the writer keeps them on a record: turning them into JSON is left off the request path,
/// and a call folded into an earlier record never pays for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Already JSON.
    Json(Value),
    /// The pushes a registry payload held.
    Pushes(Vec<crate::registry::PushEvent>),
}

impl Event {
    /// The event as a record keeps it.
    pub fn to_json(&self) -> Option<Value> {
        match self {
            Event::Json(value) => Some(value.clone()),
            Event::Pushes(pushes) => serde_json::to_value(pushes).ok(),
        }
    }
}

impl Answered {
    fn trigger_id(&self) -> Option<i64> {
        self.trigger.as_ref().map(|(id, _)| *id)
    }

    /// The record of this call. By reference: the writer keeps the call to compare later ones
    /// with, so taking it by value would mean cloning it (its pushes and all) first.
    fn to_record(&self, at: String) -> AccessRecord {
        let mut record = self.call.record(
            self.decision,
            &self.reason,
            self.status,
            &String::from_utf8_lossy(&self.response),
            self.event.as_ref().and_then(Event::to_json),
        );
        record.trigger = self.trigger.as_ref().map(|(_, name)| name.clone());
        record.at = at;
        record
    }
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Logs a call whose record is lost, with what identifies it (never its request: the
/// token may be in it).
fn dropped(answered: &Answered, why: &str) {
    let trigger = answered.trigger.as_ref().map(|(_, name)| name.as_str());
    tracing::error!(
        trigger,
        source = %answered.call.source,
        status = answered.status,
        decision = ?answered.decision,
        "{why}; a call's access record was dropped"
    );
}

/// A record that found the queue full (see [`Recorder::try_record`]).
pub struct Full {
    answered: Arc<Answered>,
    message: Message,
}

enum Message {
    Record(Arc<Answered>, jiff::Timestamp),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// How long the writer lets calls gather after the first of a burst wakes it: one wake-up
/// and one transaction for the lot instead of one per call.
const GATHER: Duration = Duration::from_millis(2);
/// How long a run of identical calls is counted in memory before its count is written,
/// when nothing else is written first (see [`Writer::write`]).
const FOLD_DELAY: Duration = Duration::from_millis(100);
/// The most calls one transaction takes.
const BATCH: usize = 1024;

/// How many triggers' last calls the handlers keep to share with identical calls.
const SHARED_KEPT: usize = 256;

/// Writes access records in the background, on a thread of its own with its own connection.
/// The thread ends when the last `Recorder` is dropped, after writing what is queued.
///
/// A call identical to the last one queued for its trigger is queued as that call (an
/// `Arc`), and its own copy is dropped at once: under a flood of one call the handlers then
/// neither allocate for the queue nor leave memory for the writer's thread to free, which
/// would make the two contend for the allocator's locks.
#[derive(Debug, Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Message>,
    last: Arc<Mutex<HashMap<Option<i64>, Arc<Answered>>>>,
}

impl Recorder {
    /// Starts the writer.
    pub fn start(
        database: &Path,
        recorded: tokio::sync::broadcast::Sender<super::Recorded>,
    ) -> crate::store::Result<Self> {
        let mut store = Store::open(database)?;
        // Records favour throughput: a committed record survives a crash of Tripline; only a
        // power cut could lose the last moments' records (WAL with NORMAL sync).
        store.relax_sync()?;
        let cannot_start = |e: std::io::Error| {
            crate::store::Error::Invalid(format!("cannot start the record writer: {e}"))
        };
        // The writer's own small runtime: its timers (gathering, delayed counts) stay off the
        // listener's workers.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(cannot_start)?;
        let (queue, incoming) = mpsc::channel::<Message>(4096);
        std::thread::Builder::new()
            .name("tripline-records".into())
            .spawn(move || {
                let mut writer = Writer {
                    store,
                    recorded,
                    last: HashMap::default(),
                    deferred: Vec::new(),
                    deferred_since: None,
                };
                runtime.block_on(writer.run(incoming));
            })
            .map_err(cannot_start)?;
        Ok(Recorder {
            queue,
            last: Arc::default(),
        })
    }

    /// `answered`, or the last call queued for its trigger when the two are identical.
    fn share(&self, answered: Answered) -> Arc<Answered> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let trigger = answered.trigger_id();
        if let Some(earlier) = last.get(&trigger)
            && **earlier == answered
        {
            return Arc::clone(earlier);
        }
        let answered = Arc::new(answered);
        // Bodies are kept small here: a large one is not worth holding on to.
        if answered.call.body.len() <= BODY_LIMIT {
            if last.len() >= SHARED_KEPT {
                last.clear();
            }
            last.insert(trigger, Arc::clone(&answered));
        }
        answered
    }

    /// Queues a call's record; if the queue is full the caller waits a moment rather than
    /// lose it. (The handlers use [`Recorder::try_record`], which keeps the wait out of
    /// their futures.)
    #[cfg(test)]
    pub async fn record(&self, answered: Answered) {
        if let Some(full) = self.try_record(answered) {
            self.wait_to_record(full).await;
        }
    }

    /// Queues a call's record if there is room, without waiting; otherwise gives it back, to
    /// pass to [`Recorder::wait_to_record`]. The handlers' common path: no timer, and no
    /// record held inside their futures.
    pub fn try_record(&self, answered: Answered) -> Option<Full> {
        let answered = self.share(answered);
        let message = Message::Record(Arc::clone(&answered), jiff::Timestamp::now());
        match self.queue.try_send(message) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                dropped(&answered, "the access-record writer has stopped");
                None
            }
            Err(mpsc::error::TrySendError::Full(message)) => Some(Full { answered, message }),
        }
    }

    /// Waits (up to five seconds) for room in the queue for a record that found it full.
    pub async fn wait_to_record(&self, full: Full) {
        let Full { answered, message } = full;
        if tokio::time::timeout(Duration::from_secs(5), self.queue.send(message))
            .await
            .is_err()
        {
            dropped(&answered, "the access-record queue is stuck");
        }
    }

    /// Waits until every record queued before this call is written (counts of repeated
    /// calls included).
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The newest record the writer made for a trigger, and the call it stands for.
struct Newest {
    call: Arc<Answered>,
    record: i64,
    since: Instant,
    /// How many calls the record stands for so far (written or deferred).
    repeats: u32,
}

/// How many triggers' newest records the writer remembers (deleted triggers' linger).
const NEWEST_KEPT: usize = 4096;

struct Writer {
    store: Store,
    recorded: tokio::sync::broadcast::Sender<super::Recorded>,
    last: HashMap<Option<i64>, Newest>,
    /// Calls to add to their trigger's newest record, not written yet.
    deferred: Vec<Group>,
    /// When the oldest of them was deferred.
    deferred_since: Option<tokio::time::Instant>,
}

/// A batch's record being put together: which call, since when, to add to which record.
struct Group {
    call: Arc<Answered>,
    since: Instant,
    write: RecordWrite,
    /// The calls the record to fold into already stands for.
    before: u32,
}

impl Writer {
    async fn run(&mut self, mut incoming: mpsc::Receiver<Message>) {
        loop {
            let first = match self.deferred_since {
                Some(since) => tokio::select! {
                    message = incoming.recv() => message,
                    () = tokio::time::sleep_until(since + FOLD_DELAY) => {
                        self.write(Vec::new(), true);
                        continue;
                    }
                },
                None => incoming.recv().await,
            };
            let Some(first) = first else { break };
            if matches!(first, Message::Record(..)) {
                tokio::time::sleep(GATHER).await;
            }
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Record(answered, at) => batch.push((answered, at)),
                    Message::Flush(done) => flushes.push(done),
                }
                next = if batch.len() < BATCH {
                    incoming.try_recv().ok()
                } else {
                    None
                };
            }
            self.write(batch, !flushes.is_empty());
            for done in flushes {
                let _ = done.send(());
            }
        }
        // The queue closed: what is left goes in before the thread ends.
        self.write(Vec::new(), true);
    }

    /// Folds the batch's runs of identical calls, then writes it in one transaction. A batch
    /// that only adds to records already written waits (up to [`FOLD_DELAY`]) for the next
    /// transaction, unless `now_please` says to write it anyway: a flood of one call then costs a
    /// few writes a second, and the counts are still current within a tenth of a second.
    fn write(&mut self, batch: Vec<(Arc<Answered>, jiff::Timestamp)>, now_please: bool) {
        let now = Instant::now();
        let mut groups: Vec<Group> = Vec::new();
        // The batch's newest group for each trigger.
        let mut open: HashMap<Option<i64>, usize> = HashMap::default();
        // Each group's latest call folded in: only its time is kept, so it is written out
        // once per group, not once per call.
        let mut latest: Vec<Option<jiff::Timestamp>> = Vec::new();
        for (answered, at) in batch {
            let trigger = answered.trigger_id();
            if let Some(&index) = open.get(&trigger) {
                let group = &mut groups[index];
                if same(&group.call, &answered) && now.duration_since(group.since) < FOLD_WINDOW {
                    let record = &mut group.write.record;
                    record.repeats = record.repeats.saturating_add(1);
                    latest[index] = Some(at);
                    continue;
                }
            } else if let Some(newest) = self.last.get(&trigger)
                && same(&newest.call, &answered)
                && now.duration_since(newest.since) < FOLD_WINDOW
            {
                // Adds to the record written before, if it is still the trigger's newest;
                // the record is complete in case it is not.
                let (record, since, before) = (newest.record, newest.since, newest.repeats);
                let at = at.to_string();
                let mut full = answered.to_record(at.clone());
                full.last_at = Some(at);
                open.insert(trigger, groups.len());
                groups.push(Group {
                    call: answered,
                    since,
                    before,
                    write: RecordWrite {
                        trigger_id: trigger,
                        record: full,
                        fold_into: Some(record),
                    },
                });
                latest.push(None);
                continue;
            }
            open.insert(trigger, groups.len());
            groups.push(Group {
                write: RecordWrite {
                    trigger_id: trigger,
                    record: answered.to_record(at.to_string()),
                    fold_into: None,
                },
                call: answered,
                since: now,
                before: 0,
            });
            latest.push(None);
        }
        for (group, at) in groups.iter_mut().zip(latest) {
            if let Some(at) = at {
                group.write.record.last_at = Some(at.to_string());
            }
        }

        // Deferred counts go first: they came before this batch (and are all additions to
        // records already written). A group that adds to the same record joins its count.
        let mut pending = std::mem::take(&mut self.deferred);
        let deferred = pending.len();
        for group in groups {
            let same = pending[..deferred].iter_mut().find(|earlier| {
                group.write.fold_into.is_some()
                    && earlier.write.fold_into == group.write.fold_into
                    && same(&earlier.call, &group.call)
            });
            match same {
                Some(earlier) => {
                    let record = &mut earlier.write.record;
                    record.repeats = record.repeats.saturating_add(group.write.record.repeats);
                    record.last_at = group.write.record.last_at;
                }
                None => pending.push(group),
            }
        }
        if pending.is_empty() {
            self.deferred_since = None;
            return;
        }
        if !now_please && pending.iter().all(|g| g.write.fold_into.is_some()) {
            for group in &pending {
                if let Some(newest) = self.last.get_mut(&group.write.trigger_id) {
                    newest.repeats = group.before.saturating_add(group.write.record.repeats);
                }
            }
            self.deferred = pending;
            self.deferred_since
                .get_or_insert_with(tokio::time::Instant::now);
            return;
        }
        self.deferred_since = None;

        // The writes apart from the rest of each group, so that the store borrows them as
        // they are: cloning the records for it cost as much as a fifth of making them.
        let (writes, groups): (Vec<RecordWrite>, Vec<_>) = pending
            .into_iter()
            .map(|group| (group.write, (group.call, group.since, group.before)))
            .unzip();
        let ids = match self.store.record_accesses(&writes) {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!(%error, records = writes.len(), "cannot write access records");
                self.last.clear();
                return;
            }
        };
        if self.last.len() > NEWEST_KEPT {
            self.last.clear();
        }
        let listening = self.recorded.receiver_count() > 0;
        for ((write, (call, since, before)), id) in writes.into_iter().zip(groups).zip(ids) {
            let folded = write.fold_into == Some(id);
            let mut record = write.record;
            if folded {
                record.repeats = record.repeats.saturating_add(before);
            }
            if listening {
                let _ = self.recorded.send(super::Recorded::of(&record));
            }
            self.last.insert(
                write.trigger_id,
                Newest {
                    call,
                    record: id,
                    since: if folded { since } else { now },
                    repeats: record.repeats,
                },
            );
        }
    }
}

/// Whether two queued calls are identical (the same shared call, most often).
fn same(a: &Arc<Answered>, b: &Arc<Answered>) -> bool {
    Arc::ptr_eq(a, b) || **a == **b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_waiting_to_be_recorded_never_shows_its_token() {
        // A call keeps its query raw until it becomes a record; its `Debug` (what a log line
        // would print) and its record show only the redacted path.
        let token = "tl_0123456789abcdefghijklmnop";
        let call = Call::new(
            "127.0.0.1".parse().unwrap(),
            &axum::http::Method::GET,
            &format!("/hook/trigger?a=1;%73ecret={token}&b=2")
                .parse()
                .unwrap(),
            &axum::http::HeaderMap::new(),
        );
        let shown = format!("{call:?}");
        assert!(!shown.contains(token), "{shown}");
        assert!(
            shown.contains("/hook/trigger?a=1;%73ecret=[redacted]&b=2"),
            "{shown}"
        );
        let record = call.record(Decision::Rejected, "r", 404, "{}", None);
        assert_eq!(record.path, "/hook/trigger?a=1;%73ecret=[redacted]&b=2");
    }

    #[test]
    fn a_text_kept_after_the_record_is_scrubbed_of_the_presented_secrets() {
        let token = "tl_0123456789abcdefghijklmnop";
        let call = Call::new(
            "127.0.0.1".parse().unwrap(),
            &axum::http::Method::POST,
            &format!("/hook/trigger?%74oken={token}").parse().unwrap(),
            &axum::http::HeaderMap::new(),
        );
        let answer = format!(r#"{{"status":"failed","message":"value {token} is not valid"}}"#);
        let scrubbed = call.scrub(&answer);
        assert!(!scrubbed.contains(token), "{scrubbed}");
        assert!(scrubbed.contains(redact::REDACTED), "{scrubbed}");
        assert_eq!(call.scrub("nothing secret"), "nothing secret");
    }

    #[test]
    fn the_plain_headers_are_the_ones_the_secret_check_passes() {
        for name in PLAIN_HEADERS {
            assert!(!redact::is_secret_header(name.as_str()), "{name}");
        }
    }

    #[test]
    fn tokens_and_secrets_are_redacted() {
        let mut call = Call::new(
            "127.0.0.1".parse().unwrap(),
            &axum::http::Method::POST,
            &"/hook/trigger?token=tl_x".parse().unwrap(),
            &{
                let mut h = axum::http::HeaderMap::new();
                h.insert("x-signature", "sha256=abc".parse().unwrap());
                h.insert("content-type", "application/json".parse().unwrap());
                h.insert("cookie", "session=1".parse().unwrap());
                h
            },
        );
        assert_eq!(call.path(), "/hook/trigger?token=[redacted]");
        let kept = call
            .record(Decision::Rejected, "r", 404, "{}", None)
            .headers;
        for secret in ["x-signature", "cookie"] {
            assert!(
                kept.contains(&(secret.into(), redact::REDACTED.into())),
                "{kept:?}"
            );
        }
        assert!(kept.contains(&("content-type".into(), "application/json".into())));
        call.set_body(Bytes::from_static(
            br#"{"push_data":{"tag":"1"},"repository":{"name":"x"},"auth":{"password":"p","token":"t"}}"#,
        ));
        let record = call.record(Decision::Rejected, "r", 404, "{}", None);
        assert!(
            !record.body.contains("\"p\"") && !record.body.contains("\"t\""),
            "{}",
            record.body
        );
        assert!(record.body.contains("\"tag\":\"1\""));
        call.set_body(Bytes::from(vec![b'x'; BODY_LIMIT + 10]));
        let record = call.record(Decision::Rejected, "r", 404, "{}", None);
        assert!(record.body_truncated);
        assert_eq!(record.body.len(), BODY_LIMIT);
    }

    #[test]
    fn a_cut_response_ends_at_a_character_boundary() {
        let text = "é".repeat(BODY_LIMIT);
        let kept = cut(&text, BODY_LIMIT + 1);
        assert_eq!(kept.len(), BODY_LIMIT);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(cut("short", 10), "short");
    }

    mod folding {
        use super::super::*;
        use crate::store::{NewTrigger, RecordFilter};
        use crate::trigger::TriggerKind;

        struct World {
            _dir: tempfile::TempDir,
            store: Store,
            recorder: Recorder,
            trigger: (i64, String),
        }

        fn world() -> World {
            let (dir, path, mut store) = super::super::super::shop_database();
            let trigger = store
                .create_trigger(
                    &NewTrigger {
                        name: "shop-redeploy".into(),
                        app: "shop".into(),
                        kind: TriggerKind::Redeploy,
                        signed: false,
                    },
                    "hash",
                    "hint",
                )
                .unwrap();
            let (recorded, _) = tokio::sync::broadcast::channel(16);
            let recorder = Recorder::start(&path, recorded).unwrap();
            World {
                _dir: dir,
                store,
                recorder,
                trigger: (trigger.id, trigger.name),
            }
        }

        impl World {
            /// Queues `n` identical calls from `source` to the trigger, answered 200.
            async fn send(&self, n: usize, source: &str) {
                for _ in 0..n {
                    let call = answered(Some(self.trigger.clone()), source, 200);
                    self.recorder.record(call).await;
                }
            }
        }

        fn answered(trigger: Option<(i64, String)>, source: &str, status: u16) -> Answered {
            let mut call = Call::new(
                source.parse().unwrap(),
                &axum::http::Method::POST,
                &"/hook/registry?token=tl_x".parse().unwrap(),
                &axum::http::HeaderMap::new(),
            );
            call.set_body(Bytes::from_static(br#"{"image":"app:v1"}"#));
            Answered {
                trigger,
                call,
                decision: Decision::Untriggered,
                reason: "untriggered: tag v1 is not in the list".into(),
                status,
                response: Bytes::from_static(b"{}"),
                event: None,
            }
        }

        fn records(store: &Store) -> Vec<AccessRecord> {
            store
                .access_records(&RecordFilter {
                    limit: 1000,
                    ..RecordFilter::default()
                })
                .unwrap()
        }

        #[tokio::test]
        async fn identical_calls_share_one_queued_copy() {
            let w = world();
            let call = || answered(Some(w.trigger.clone()), "10.0.0.1", 200);
            let first = w.recorder.share(call());
            assert!(Arc::ptr_eq(&first, &w.recorder.share(call())));
            // Any difference is a call of its own, which later calls then share.
            let other = w
                .recorder
                .share(answered(Some(w.trigger.clone()), "10.0.0.2", 200));
            assert!(!Arc::ptr_eq(&first, &other));
            assert!(Arc::ptr_eq(
                &other,
                &w.recorder
                    .share(answered(Some(w.trigger.clone()), "10.0.0.2", 200))
            ));
            let unknown = w.recorder.share(answered(None, "10.0.0.2", 404));
            assert!(!Arc::ptr_eq(&other, &unknown));
            // A large body is not held on to.
            let big = || {
                let mut big = call();
                big.call.set_body(Bytes::from(vec![b'x'; BODY_LIMIT + 1]));
                big
            };
            assert!(!Arc::ptr_eq(
                &w.recorder.share(big()),
                &w.recorder.share(big())
            ));
            // Shared or not, every call is a count on its record.
            for _ in 0..3 {
                w.recorder.record(call()).await;
            }
            w.recorder.flush().await;
            let kept = records(&w.store);
            assert_eq!(kept.len(), 1, "{kept:?}");
            assert_eq!(kept[0].repeats, 3);
        }

        #[tokio::test]
        async fn identical_calls_in_a_row_fold_into_one_record_across_batches() {
            let w = world();
            for round in 0..3 {
                w.send(50, "10.0.0.1").await;
                // Each flush ends a batch, so the later rounds fold into the stored record.
                w.recorder.flush().await;
                let kept = records(&w.store);
                assert_eq!(kept.len(), 1, "round {round}: {kept:?}");
                assert_eq!(kept[0].repeats, 50 * (round + 1));
                assert!(kept[0].last_at.is_some());
            }
        }

        #[tokio::test]
        async fn counts_held_in_memory_are_written_soon_without_a_flush() {
            let w = world();
            w.send(1, "10.0.0.1").await;
            w.recorder.flush().await;
            w.send(10, "10.0.0.1").await;
            // No flush: the writer writes the count by itself, a FOLD_DELAY later.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let kept = records(&w.store);
                assert_eq!(kept.len(), 1, "{kept:?}");
                if kept[0].repeats == 11 {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the count stayed at {}",
                    kept[0].repeats
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // A different call is written at once, after the count it follows.
            w.send(1, "10.0.0.1").await;
            w.send(1, "10.0.0.2").await;
            w.recorder.flush().await;
            let kept: Vec<(String, u32)> = records(&w.store)
                .into_iter()
                .rev()
                .map(|r| (r.source, r.repeats))
                .collect();
            assert_eq!(kept, [("10.0.0.1".into(), 12), ("10.0.0.2".into(), 1)]);
        }

        #[tokio::test]
        async fn dropping_the_recorder_writes_the_counts_it_held() {
            let w = world();
            w.send(1, "10.0.0.1").await;
            w.recorder.flush().await;
            w.send(5, "10.0.0.1").await;
            let World {
                store,
                recorder,
                _dir,
                ..
            } = w;
            drop(recorder);
            let deadline = Instant::now() + Duration::from_secs(10);
            while records(&store)[0].repeats != 6 {
                assert!(Instant::now() < deadline, "the held count was lost");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }

        #[tokio::test]
        async fn a_different_call_or_caller_starts_a_new_record() {
            let w = world();
            let t = Some(w.trigger.clone());
            for answered in [
                answered(t.clone(), "10.0.0.1", 200),
                answered(t.clone(), "10.0.0.1", 200),
                answered(t.clone(), "10.0.0.2", 200),
                answered(t.clone(), "10.0.0.1", 200),
                answered(t.clone(), "10.0.0.1", 400),
                answered(None, "10.0.0.1", 404),
                answered(None, "10.0.0.1", 404),
            ] {
                w.recorder.record(answered).await;
            }
            w.recorder.flush().await;
            let kept: Vec<(String, u16, u32)> = records(&w.store)
                .into_iter()
                .rev()
                .map(|r| (r.source, r.status, r.repeats))
                .collect();
            let expected: Vec<(String, u16, u32)> = [
                ("10.0.0.1", 200, 2),
                ("10.0.0.2", 200, 1),
                ("10.0.0.1", 200, 1),
                ("10.0.0.1", 400, 1),
                ("10.0.0.1", 404, 2),
            ]
            .into_iter()
            .map(|(s, st, n)| (s.to_owned(), st, n))
            .collect();
            assert_eq!(kept, expected);
        }

        #[tokio::test]
        async fn a_call_never_folds_into_a_record_that_is_no_longer_the_newest() {
            let mut w = world();
            let t = Some(w.trigger.clone());
            w.recorder
                .record(answered(t.clone(), "10.0.0.1", 200))
                .await;
            w.recorder.flush().await;
            // A triggered call is written by another connection in between.
            let triggered = answered(t.clone(), "10.0.0.9", 202).call.record(
                Decision::Triggered,
                "triggered",
                202,
                "",
                None,
            );
            w.store
                .record_access(Some(w.trigger.0), &triggered)
                .unwrap();
            w.recorder
                .record(answered(t.clone(), "10.0.0.1", 200))
                .await;
            w.recorder.flush().await;
            let kept: Vec<(u16, u32)> = records(&w.store)
                .into_iter()
                .rev()
                .map(|r| (r.status, r.repeats))
                .collect();
            assert_eq!(kept, [(200, 1), (202, 1), (200, 1)]);
        }
    }
}
