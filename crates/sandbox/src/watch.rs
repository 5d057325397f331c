//! Watches: `GET …?watch=true`, a chunked stream of `{"type":…,"object":…}` lines.
//!
//! [`serve`] asks the store for a starting point ([`super::store::Store::watch`]): the current
//! objects (no `resourceVersion`, or `0`: sent as `ADDED`) or the history after the given
//! version, plus a receiver for later changes. The response body is a stream that sends the
//! backlog, then every change of this resource that passes the namespace and selectors, and
//! ends at `timeoutSeconds`, on shutdown, or when the watcher falls too far behind (with a 410
//! `Expired` error event, after which clients list again). A too-old `resourceVersion` is also
//! answered with a 410 error event, as the real server does.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SandboxState;
use super::handlers::selectors;
use super::objects::meta_str;
use super::resources::ResourceDef;
use super::routes::Request;
use super::selector::Selectors;
use super::status::{ApiError, ApiResult};
use super::store::{Backlog, Event, EventKind};
use super::table;

/// How long a watch lasts when the client gives no `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn error_line(error: &ApiError) -> Bytes {
    line("ERROR", &error.to_status())
}

struct Filter {
    def: &'static ResourceDef,
    namespace: Option<String>,
    selectors: Selectors,
    /// `Some(includeObject)` when the client asked for Table rows (`kubectl get -w`).
    table: Option<String>,
}

impl Filter {
    fn selects(&self, object: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && meta_str(object, "namespace") != Some(ns.as_str())
        {
            return false;
        }
        self.selectors.matches(object)
    }

    /// The event a watcher sees for a change: objects entering or leaving the selection
    /// are `ADDED` or `DELETED`.
    fn render(&self, event: &Event) -> Option<Bytes> {
        if !std::ptr::eq(event.def, self.def) {
            return None;
        }
        let now = self.selects(&event.object);
        let kind = match event.kind {
            EventKind::Added | EventKind::Deleted => now.then_some(event.kind),
            EventKind::Modified => {
                let before = event.old.as_deref().is_some_and(|o| self.selects(o));
                match (before, now) {
                    (true, true) => Some(EventKind::Modified),
                    (true, false) => Some(EventKind::Deleted),
                    (false, true) => Some(EventKind::Added),
                    (false, false) => None,
                }
            }
        }?;
        Some(self.line(kind.as_str(), &event.object))
    }

    fn line(&self, kind: &str, object: &Value) -> Bytes {
        match &self.table {
            Some(include) => line(kind, &table::event_object(self.def, object, include)),
            None => line(kind, object),
        }
    }
}

struct Watch {
    backlog: VecDeque<Bytes>,
    receiver: broadcast::Receiver<Arc<Event>>,
    filter: Filter,
    deadline: Instant,
    shutdown: CancellationToken,
    finished: bool,
}

impl Watch {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Watch)> {
        if let Some(chunk) = self.backlog.pop_front() {
            return Some((Ok(chunk), self));
        }
        if self.finished {
            return None;
        }
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = tokio::time::sleep_until(self.deadline) => return None,
                received = self.receiver.recv() => match received {
                    Ok(event) => {
                        if let Some(chunk) = self.filter.render(&event) {
                            return Some((Ok(chunk), self));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.finished = true;
                        let expired = ApiError::Expired(
                            "the watch fell behind: list again and watch from the new resourceVersion".into(),
                        );
                        return Some((Ok(error_line(&expired)), self));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn stream_response(
    chunks: impl futures::Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// Serves a watch of `def` in `namespace` (or everywhere).
pub(crate) fn serve(
    state: &SandboxState,
    def: &'static ResourceDef,
    namespace: Option<String>,
    request: &Request,
) -> ApiResult<Response> {
    let selectors = selectors(def, request)?;
    let send_initial = request.param("sendInitialEvents") == Some("true");
    let since = match request.param("resourceVersion") {
        None | Some("" | "0") => None,
        Some(_) if send_initial => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {rv:?}: it must be a number"
            ))
        })?),
    };
    let timeout = request
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let filter = Filter {
        def,
        namespace: namespace.filter(|_| def.namespaced),
        selectors,
        table: table::watch_format(request),
    };
    let start = match state.store().watch(def, since) {
        Ok(start) => start,
        Err(expired @ ApiError::Expired(_)) => {
            let chunk = error_line(&expired);
            return Ok(stream_response(futures::stream::iter([Ok(chunk)])));
        }
        Err(other) => return Err(other),
    };
    let mut backlog = VecDeque::new();
    match start.backlog {
        Backlog::Objects(objects) => {
            backlog.extend(
                objects
                    .iter()
                    .filter(|o| filter.selects(o))
                    .map(|o| filter.line("ADDED", o)),
            );
        }
        Backlog::Events(events) => {
            backlog.extend(events.iter().filter_map(|e| filter.render(e)));
        }
    }
    if send_initial {
        // The marker streaming-list clients wait for before they trust their cache.
        backlog.push_back(line(
            "BOOKMARK",
            &json!({
                "kind": def.kind,
                "apiVersion": def.api_version,
                "metadata": {
                    "resourceVersion": start.rv.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"}
                }
            }),
        ));
    }
    let watch = Watch {
        backlog,
        receiver: start.receiver,
        filter,
        deadline: Instant::now() + timeout,
        shutdown: state.shutdown_token(),
        finished: false,
    };
    Ok(stream_response(futures::stream::unfold(watch, Watch::next)))
}
