//! The hooks: `/hook/trigger` (redeploy and scale, seeds 000, 002, 003) and `/hook/registry`
//! (registry pushes for image triggers, seeds 001 and 004).
//!
//! Both share [`find_trigger`] (the token, before the body is read; failures meet the
//! throttle there), [`admit`] (enabled, not on hold) and [`check_signature`] (a signed
//! trigger); each then decides, and [`respond`] records the call and answers. A redeploy's
//! JSON Patch (or merge patch) takes its object from `?kind=&name=` (and `&namespace=`), as
//! the command line's `--kind/--resource-name`. `HEAD` gets [`head`]: 405, nothing done.
//! Only a call that starts a release writes its record before answering (the release names
//! its record); the others are recorded in the background.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, State as Extract};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::index::Entry;
use super::record::{self, Answered, Call};
use super::{State, throttle, verify};
use crate::deploy::worker::Event;
use crate::deploy::{Direction, Options, ScaleRequest};
use crate::error::Code;
use crate::patch::{Patch, PatchType, Target};
use crate::registry;
use crate::release::BranchCommit;
use crate::source::helm::set_image_values;
use crate::store::{Decision, Origin, ReleaseStatus, SaveOutcome, ValuesSaved};
use crate::trigger::matching::{self, Verdict};
use crate::trigger::{self, Trigger, TriggerKind};

/// An answer not yet recorded.
struct Reply {
    status: StatusCode,
    /// The JSON body.
    body: String,
    decision: Decision,
    reason: String,
    event: Option<record::Event>,
    retry_after: Option<u64>,
}

/// A JSON object of string members, as text: `{"a":"…","b":"…"}`. Written directly, not
/// through serde: every answer is one, and a string with nothing to escape (the usual case)
/// is copied as it is.
fn json_object(members: &[(&str, &str)]) -> String {
    let length: usize = members.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut text = String::with_capacity(length + 2);
    text.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        push_json_string(&mut text, name);
        text.push(':');
        push_json_string(&mut text, value);
    }
    text.push('}');
    text
}

/// Appends `value` as a JSON string.
fn push_json_string(text: &mut String, value: &str) {
    // A fold with no early exit, which the compiler turns into vector code.
    let plain = !value.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if plain {
        text.push('"');
        text.push_str(value);
        text.push('"');
    } else {
        // Escaping a string into a String cannot fail.
        text.push_str(&serde_json::to_string(value).unwrap_or_default());
    }
}

impl Reply {
    /// An error: its status is the code's ([`Code::http_status`]).
    fn error(code: Code, message: impl Into<String>) -> Self {
        let message = message.into();
        Reply {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json_object(&[("code", code.as_str()), ("message", &message)]),
            decision: Decision::Rejected,
            reason: ["rejected: ", &message].concat(),
            event: None,
            retry_after: None,
        }
    }

    fn skipped(decision: Decision, reason: String, event: Option<record::Event>) -> Self {
        let label = decision.as_str();
        Reply {
            status: StatusCode::OK,
            body: json_object(&[("status", label), ("reason", &reason)]),
            reason: [label, ": ", &reason].concat(),
            decision,
            event,
            retry_after: None,
        }
    }
}

/// A call's query parameters, decoded (`+`, `%XX`), borrowed from the URI where nothing
/// needed decoding. A name given twice reads as its last value.
enum Params<'a> {
    /// A query with nothing to decode (no `%`, no `+`), read in place: its pairs are the
    /// ones `form_urlencoded` would give, unchanged.
    Plain(&'a str),
    /// A query's pairs, decoded.
    Decoded(Vec<(Cow<'a, str>, Cow<'a, str>)>),
}

impl<'a> Params<'a> {
    fn of(uri: &'a axum::http::Uri) -> Self {
        match uri.query() {
            Some(query) if query.bytes().any(|b| b == b'%' || b == b'+') => {
                Params::Decoded(form_urlencoded::parse(query.as_bytes()).collect())
            }
            query => Params::Plain(query.unwrap_or_default()),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        match self {
            Params::Plain(query) => query
                .split('&')
                .rev()
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value),
            Params::Decoded(pairs) => pairs
                .iter()
                .rev()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_ref()),
        }
    }

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A release to start once the call is recorded.
struct Start {
    cause_event: Option<Value>,
    options: Options,
    note: Value,
}

enum Outcome {
    Done(Reply),
    Release(Start),
}

/// `GET|POST /hook/trigger`
pub async fn trigger(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    handle(state, peer, parts, body, Hook::Trigger).await
}

/// `HEAD /hook/trigger`: 405 with `Allow: GET, POST`. Left to axum, a HEAD would be served by
/// the GET handler — a deploy for a link checker or a proxy's probe. It touches nothing: no
/// token lookup, no record, no count.
pub async fn head() -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response.headers_mut().insert(
        header::ALLOW,
        axum::http::HeaderValue::from_static("GET, POST"),
    );
    response
}

/// `POST /hook/registry`
pub async fn registry(
    Extract(state): Extract<Arc<State>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    handle(state, peer, parts, body, Hook::Registry).await
}

/// Which hook a call came to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    Trigger,
    Registry,
}

/// Serves a call to `hook` from `peer`. The request comes in its parts, and the function
/// returns an `async move` block rather than being an `async fn`: either way round the
/// arguments would be held in the future twice (an `async fn` moves its arguments into locals
/// of its own), and this future is boxed on every call.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` would hold its arguments twice in the future"
)]
pub(super) fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    parts: axum::http::request::Parts,
    body: Body,
    hook: Hook,
) -> impl std::future::Future<Output = Response> + Send {
    async move {
        let client =
            throttle::client_address(peer.ip(), &parts.headers, &state.config.trusted_proxies);
        let query = Params::of(&parts.uri);
        // The call's record is made when an answer needs it, from the request's parts: held in
        // the future, it would take room there while the body arrives and the hook runs.
        let call = |body: Option<&axum::body::Bytes>| {
            let mut call = Call::new(client, &parts.method, &parts.uri, &parts.headers);
            if let Some(body) = body {
                call.set_body(body.clone());
            }
            call
        };

        // The token first: a valid one is never throttled, and a failed one is answered (or
        // throttled) before its body is read.
        let (entry, token) = match find_trigger(&state, &query, client) {
            Ok(found) => found,
            Err(reply) => return respond(&state, call(None), None, "unknown", *reply).await,
        };
        let trigger = &entry.trigger;

        let bytes = match read_body(
            body,
            &parts.headers,
            state.config.body_limit,
            state.config.body_timeout,
        )
        .await
        {
            Ok(bytes) => bytes,
            Err(reply) => {
                return respond(
                    &state,
                    call(None),
                    Some(trigger),
                    trigger.kind.name(),
                    *reply,
                )
                .await;
            }
        };

        let mut allowed = admit(&entry);
        if allowed.is_ok() && trigger.signed {
            // Boxed: only signed triggers wait for their key.
            allowed = Box::pin(check_signature(
                &state,
                trigger,
                &parts.headers,
                &bytes,
                client,
                token,
            ))
            .await;
        }
        if let Err(reply) = allowed {
            let call = call(Some(&bytes));
            return respond(&state, call, Some(trigger), trigger.kind.name(), *reply).await;
        }
        let template = entry.template.as_str();

        // The hooks' and the release's futures are boxed: held inline they would make this
        // future, which every call (a refused one too) builds and moves, several kilobytes.
        // The outcome is taken apart in this block, before the answer is awaited, so that it
        // is not held in the future beside it.
        let answering = {
            let outcome = match hook {
                Hook::Trigger => {
                    Box::pin(trigger_hook(
                        &state,
                        trigger,
                        template,
                        entry.source.as_ref(),
                        &query,
                        &parts.headers,
                        &bytes,
                    ))
                    .await
                }
                Hook::Registry => {
                    Box::pin(registry_hook(&state, &entry, &parts.headers, &bytes)).await
                }
            };
            let call = call(Some(&bytes));
            match outcome {
                Outcome::Done(reply) => futures::future::Either::Left(respond(
                    &state,
                    call,
                    Some(trigger),
                    trigger.kind.name(),
                    reply,
                )),
                Outcome::Release(start) => futures::future::Either::Right(Box::pin(start_release(
                    &state, call, trigger, &query, start,
                ))),
            }
        };
        answering.await
    }
}

async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    timeout: Duration,
) -> Result<axum::body::Bytes, Box<Reply>> {
    use hyper::body::Body as _;
    use std::task::Poll;

    let too_large = || {
        Box::new(Reply::error(
            Code::BodyTooLarge,
            format!("the body is larger than the {limit}-byte limit"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = body;
    let mut received = Received::default();
    // Takes what has arrived; ready once the body is whole (by its length, without waiting
    // for the end of the stream when the length is known).
    let mut read = |cx: &mut std::task::Context<'_>| loop {
        if body.is_end_stream() {
            return Poll::Ready(Ok(()));
        }
        match std::pin::Pin::new(&mut body).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(Some(error))),
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data()
                    && !received.add(data, limit)
                {
                    return Poll::Ready(Err(None));
                }
            }
        }
    };
    // A small body has usually arrived with the head: it is taken without a timer. Only a
    // body still on its way gets one, boxed, so that its size stays out of every call's future.
    let first = std::future::poll_fn(|cx| Poll::Ready(read(cx))).await;
    let read = match first {
        Poll::Ready(read) => read,
        Poll::Pending => {
            match Box::pin(tokio::time::timeout(
                timeout,
                std::future::poll_fn(&mut read),
            ))
            .await
            {
                Ok(read) => read,
                Err(_) => {
                    return Err(Box::new(Reply::error(
                        Code::BodyTimeout,
                        if timeout.subsec_millis() == 0 {
                            format!("the body did not arrive within {}s", timeout.as_secs())
                        } else {
                            format!("the body did not arrive within {}ms", timeout.as_millis())
                        },
                    )));
                }
            }
        }
    };
    match read {
        Ok(()) => Ok(received.into_bytes()),
        Err(None) => Err(too_large()),
        Err(Some(error)) => Err(Box::new(Reply::error(
            Code::BodyUnreadable,
            format!("cannot read the body: {error}"),
        ))),
    }
}

/// A body's chunks as they arrive: the first as it came (most bodies are one chunk), any
/// more copied after it.
#[derive(Default)]
struct Received {
    first: axum::body::Bytes,
    more: Option<Vec<u8>>,
}

impl Received {
    /// Adds `chunk`; false, adding nothing, if the body would go past `limit` bytes.
    fn add(&mut self, chunk: axum::body::Bytes, limit: usize) -> bool {
        let len = self.more.as_ref().map_or(self.first.len(), Vec::len);
        if chunk.len() > limit.saturating_sub(len) {
            return false;
        }
        match &mut self.more {
            _ if chunk.is_empty() => {}
            None if self.first.is_empty() => self.first = chunk,
            None => {
                let mut more = Vec::with_capacity(len + chunk.len());
                more.extend_from_slice(&self.first);
                more.extend_from_slice(&chunk);
                self.more = Some(more);
            }
            Some(more) => more.extend_from_slice(&chunk),
        }
        true
    }

    fn into_bytes(self) -> axum::body::Bytes {
        match self.more {
            Some(more) => more.into(),
            None => self.first,
        }
    }
}

/// A failed authentication: counted against the caller (and the token's prefix), or, when
/// they are over their limit, answered 429.
fn refuse(state: &State, client: IpAddr, token: Option<&str>, code: Code, message: &str) -> Reply {
    if let Some((wait, limit)) = state.throttle.refuse(client, token) {
        let message = match limit {
            throttle::Limit::Address => {
                format!("too many calls with bad tokens from {client}; try again in {wait}s")
            }
            throttle::Limit::Prefix => format!(
                "too many calls with bad tokens that begin like this one; try again in {wait}s"
            ),
        };
        let mut reply = Reply::error(Code::Throttled, message);
        reply.retry_after = Some(wait);
        return reply;
    }
    Reply::error(code, message)
}

/// Finds the trigger for the call's token (`?token=`, or seed 002's `?secret=`; the names
/// are exact: `?TOKEN=` names nothing). The hash is looked up, then compared in constant
/// time.
fn find_trigger<'q>(
    state: &State,
    query: &'q Params<'_>,
    client: IpAddr,
) -> Result<(Arc<Entry>, &'q str), Box<Reply>> {
    let Some(token) = query
        .get("token")
        .or_else(|| query.get("secret"))
        .filter(|t| !t.is_empty())
    else {
        return Err(Box::new(refuse(
            state,
            client,
            None,
            Code::TokenMissing,
            "the URL has no ?token=: copy the trigger's full URL",
        )));
    };
    let digest = trigger::token_digest(token);
    match state.index.find(&digest) {
        Ok(Some(entry)) if trigger::same_digest(&entry.stored_hash, &digest) => Ok((entry, token)),
        Ok(_) => Err(Box::new(refuse(
            state,
            client,
            Some(token),
            Code::TokenUnknown,
            "no trigger has this token (it may have been rotated or deleted)",
        ))),
        Err(error) => Err(Box::new(Reply::error(
            Code::StorageUnavailable,
            format!("Tripline cannot read its database: {error}"),
        ))),
    }
}

/// Checks the trigger may act: enabled, its application not on hold, the body signed when
/// the trigger says so.
/// The trigger's own state lets the call through: enabled, and its application not on hold.
fn admit(entry: &Entry) -> Result<(), Box<Reply>> {
    let trigger = &entry.trigger;
    if !trigger.enabled {
        let message = format!("trigger {} is disabled; enable it to use it", trigger.name);
        return Err(Box::new(Reply::error(Code::TriggerDisabled, message)));
    }
    if let Some(reason) = &entry.hold {
        let message = format!(
            "application {} is on hold ({reason}); release the hold to let triggers act",
            trigger.app
        );
        return Err(Box::new(Reply::error(Code::AppOnHold, message)));
    }
    Ok(())
}

/// A signed trigger's call carries the body's HMAC-SHA256 under the trigger's signing key.
async fn check_signature(
    state: &Arc<State>,
    trigger: &Trigger,
    headers: &HeaderMap,
    body: &[u8],
    client: IpAddr,
    token: &str,
) -> Result<(), Box<Reply>> {
    let signature = headers
        .get("x-signature")
        .or_else(|| headers.get("x-hub-signature-256"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(signature) = signature else {
        state.throttle.fail(client, Some(token));
        return Err(Box::new(Reply::error(
            Code::SignatureMissing,
            "this trigger requires an X-Signature: sha256=<hex> header (HMAC-SHA256 of the body)",
        )));
    };
    let secrets = state.secrets.clone();
    let name = trigger::signing_secret_name(&trigger.name);
    let key = tokio::task::spawn_blocking(move || secrets.get(&name)).await;
    let valid = match key {
        Ok(Ok(key)) => trigger::verify_signature(&key, body, &signature),
        _ => {
            return Err(Box::new(Reply::error(
                Code::SigningKeyUnavailable,
                "the trigger's signing key cannot be read from the secret store",
            )));
        }
    };
    if !valid {
        state.throttle.fail(client, Some(token));
        return Err(Box::new(Reply::error(
            Code::SignatureInvalid,
            "the body's signature does not match",
        )));
    }
    Ok(())
}

async fn trigger_hook(
    state: &Arc<State>,
    trigger: &Trigger,
    template: &str,
    source: Option<&crate::app::Source>,
    query: &Params<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Outcome {
    let has_body = body.iter().any(|b| !b.is_ascii_whitespace());
    match &trigger.kind {
        TriggerKind::Image { .. } => Outcome::Done(Reply::error(
            Code::WrongHook,
            "this is an image trigger: registries call /hook/registry with it",
        )),
        TriggerKind::Redeploy => {
            if query.contains_key("type") || query.contains_key("step") {
                return Outcome::Done(Reply::error(
                    Code::WrongTrigger,
                    "type= and step= are for scale triggers; this is a redeploy trigger",
                ));
            }
            if !has_body {
                if query.contains_key("kind") || query.contains_key("name") {
                    return Outcome::Done(Reply::error(
                        Code::BodyMissing,
                        "kind= and name= choose the object a patch body changes, and this call \
                         has no body: send the patch, or leave them out to redeploy as is",
                    ));
                }
                return Outcome::Release(Start {
                    cause_event: None,
                    options: Options::default(),
                    note: json!({}),
                });
            }
            redeploy_with_patch(state, trigger, template, source, query, headers, body).await
        }
        TriggerKind::Scale {
            kind,
            name,
            min,
            max,
        } => {
            if has_body {
                return Outcome::Done(Reply::error(
                    Code::BodyNotAllowed,
                    "a scale trigger takes no body: use ?type=scale_out|scale_in&step=N",
                ));
            }
            let direction = match query.get("type") {
                Some("scale_out") => Direction::ScaleOut,
                Some("scale_in") => Direction::ScaleIn,
                Some(other) => {
                    return Outcome::Done(Reply::error(
                        Code::BadParameter,
                        format!("type must be scale_out or scale_in, not {other:?}"),
                    ));
                }
                None => {
                    return Outcome::Done(Reply::error(
                        Code::MissingParameter,
                        "a scale trigger needs type=scale_out or type=scale_in",
                    ));
                }
            };
            let step = match query.get("step").map(|s| s.parse::<u32>()) {
                Some(Ok(step)) if (1..=100).contains(&step) => step,
                Some(_) => {
                    return Outcome::Done(Reply::error(
                        Code::BadParameter,
                        format!(
                            "step must be a whole number from 1 to 100, not {:?}",
                            query.get("step").unwrap_or_default()
                        ),
                    ));
                }
                None => {
                    return Outcome::Done(Reply::error(
                        Code::MissingParameter,
                        "a scale trigger needs step=N (1 to 100)",
                    ));
                }
            };
            let request = ScaleRequest {
                kind: kind.clone(),
                name: name.clone(),
                direction,
                step,
                min: *min,
                max: *max,
            };
            let event = serde_json::to_value(&request).ok();
            Outcome::Release(Start {
                cause_event: event,
                options: Options {
                    scale: Some(request),
                    ..Options::default()
                },
                note: json!({}),
            })
        }
    }
}

async fn redeploy_with_patch(
    state: &Arc<State>,
    trigger: &Trigger,
    template: &str,
    source: Option<&crate::app::Source>,
    query: &Params<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Outcome {
    // A Git or Helm application's template is written by its source alone.
    if let Some(source) = source
        && source.is_external()
    {
        let (from, reads) = match source {
            crate::app::Source::Helm { .. } => ("a Helm chart", "renders the newest chart version"),
            _ => ("Git", "fetches the newest commit"),
        };
        return Outcome::Done(Reply::error(
            Code::BodyNotAllowed,
            format!(
                "{} deploys from {from}: a redeploy call {reads} and takes no body (only \
                 template applications can be patched by a body)",
                trigger.app
            ),
        ));
    }
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let kind = match PatchType::from_media_type(media) {
        Ok(kind) => kind,
        Err(error) => {
            return Outcome::Done(Reply::error(Code::UnsupportedMediaType, error.to_string()));
        }
    };
    let target = match patch_target(query, kind) {
        Ok(target) => target,
        Err(message) => {
            return Outcome::Done(Reply::error(Code::BadParameter, message));
        }
    };
    let patch = match Patch::parse(kind, body, target) {
        Ok(patch) => patch,
        Err(error) => {
            return Outcome::Done(Reply::error(Code::BadPatch, error.to_string()));
        }
    };
    let message = format!("patched by trigger {}", trigger.name);
    let saved =
        state.with_store(|store| store.patch_template(template, &patch, Origin::Patch, &message));
    let outcome = match saved {
        Ok(outcome) => outcome,
        Err(error) => {
            // A busy or failing database answers 503, so the caller retries.
            let body = crate::error::ErrorBody::from(&error);
            let mut reply = Reply::error(body.code, body.message);
            reply.event = Some(record::Event::Json(json!({"patch": patch.targets()})));
            return Outcome::Done(reply);
        }
    };
    let (version, created) = match &outcome {
        SaveOutcome::Created { version, .. } => (version.number, true),
        SaveOutcome::Unchanged { version } => (version.number, false),
    };
    let event = json!({"patch": patch.targets(), "patchType": kind.as_str(), "version": version, "newVersion": created});
    Outcome::Release(Start {
        cause_event: Some(event.clone()),
        options: Options::default(),
        note: event,
    })
}

/// The object `?kind=&name=` (and `&namespace=`) names for a single-object patch, as the
/// command line's `--kind/--resource-name` do. A resource patch names its objects in its
/// body, so it takes none.
fn patch_target(query: &Params<'_>, kind: PatchType) -> Result<Option<Target>, &'static str> {
    let given = |name| query.get(name).map(str::trim);
    let target = match (given("kind"), given("name")) {
        (None, None) => return Ok(None),
        (Some(kind), Some(name)) if !kind.is_empty() && !name.is_empty() => Target {
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: given("namespace")
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            api_version: None,
        },
        _ => {
            return Err(
                "kind= and name= go together, neither empty: ?kind=Deployment&name=web names \
                 the object a JSON Patch or merge patch changes",
            );
        }
    };
    if kind == PatchType::Resource {
        return Err(
            "kind= and name= are for JSON Patch and merge patches (Content-Type \
             application/json-patch+json, application/merge-patch+json); a resource patch \
             names its objects in its body",
        );
    }
    Ok(Some(target))
}

async fn registry_hook(
    state: &Arc<State>,
    entry: &Entry,
    headers: &HeaderMap,
    body: &[u8],
) -> Outcome {
    let trigger = &entry.trigger;
    if !matches!(trigger.kind, TriggerKind::Image { .. }) {
        return Outcome::Done(Reply::error(
            Code::WrongHook,
            format!(
                "this is a {} trigger: it is called at /hook/trigger",
                trigger.kind.name()
            ),
        ));
    }
    if let Some(media) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        let essence = media
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let json_like = essence == "application/json"
            || essence.ends_with("+json")
            || essence == "text/plain"
            || essence.is_empty();
        if !json_like {
            return Outcome::Done(Reply::error(
                Code::UnsupportedMediaType,
                format!("registry webhooks are JSON; {media:?} is not"),
            ));
        }
    }
    // Borrowed: a value is copied only when it is not UTF-8.
    let pairs: Vec<(&str, Cow<'_, str>)> = headers
        .iter()
        .filter(|(name, _)| registry::HEADERS.contains(&name.as_str()))
        .map(|(n, v)| (n.as_str(), String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let delivery = match registry::parse_delivery(&pairs, body) {
        Ok(delivery) => delivery,
        Err(error) => {
            return Outcome::Done(Reply::error(Code::BadPayload, error.to_string()));
        }
    };
    act_on_pushes(state, entry, delivery, false).await
}

/// Acts on pushes the listener did not receive, as on a registry's notification: those a
/// watch found ([`super::watch`]), or a maturing push now due (`matured`). The call is
/// recorded as one from this machine, method `WATCH`, path `path` (`/watch/<repository>` or
/// `/matured/<repository>`), the pushes as its body, so the record says where it came from.
/// Returns the status the call was answered with.
pub(super) async fn watched(
    state: &Arc<State>,
    entry: &Entry,
    delivery: registry::Delivery,
    path: &str,
    matured: bool,
) -> u16 {
    let method = axum::http::Method::from_bytes(b"WATCH").expect("WATCH is a token");
    let uri: axum::http::Uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => axum::http::Uri::from_static("/watch"),
    };
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let mut call = Call::new(loopback, &method, &uri, &HeaderMap::new());
    call.set_body(
        serde_json::to_vec(&delivery.events)
            .unwrap_or_default()
            .into(),
    );
    let trigger = &entry.trigger;
    let outcome = Box::pin(act_on_pushes(state, entry, delivery, matured)).await;
    let response = match outcome {
        Outcome::Done(reply) => {
            respond(state, call, Some(trigger), trigger.kind.name(), reply).await
        }
        Outcome::Release(start) => {
            Box::pin(start_release(
                state,
                call,
                trigger,
                &Params::Plain(""),
                start,
            ))
            .await
        }
    };
    response.status().as_u16()
}

/// One push an image trigger acts on: the repository (normalised), the tag, the digest to
/// deploy (when pinning), and the push.
type Update<'e> = (
    String,
    Option<String>,
    Option<String>,
    &'e registry::PushEvent,
);

/// What an image trigger does with a delivery's pushes, from a registry's notification or
/// from a watch ([`super::watch`]): decide which pushes concern it, verify them with the
/// registry, and change the application's source.
async fn act_on_pushes(
    state: &Arc<State>,
    entry: &Entry,
    delivery: registry::Delivery,
    matured: bool,
) -> Outcome {
    let (trigger, template) = (&entry.trigger, entry.template.as_str());
    let mut updates: Vec<Update<'_>> = Vec::new();
    let mut reasons: Vec<String> = delivery.skipped.clone();
    for event in &delivery.events {
        match matching::decide_with(&trigger.kind, &entry.matcher, event) {
            Verdict::Update {
                repository,
                tag,
                digest,
            } => updates.push((repository, tag, digest, event)),
            Verdict::Skip { reason } => reasons.push(reason),
        }
    }
    if updates.is_empty() {
        let reason = match reasons.len() {
            0 => format!("the {} payload holds no push", delivery.format.label()),
            1 => reasons.swap_remove(0),
            _ => reasons.join("; "),
        };
        return Outcome::Done(Reply::skipped(
            Decision::Untriggered,
            reason,
            Some(record::Event::Pushes(delivery.events)),
        ));
    }
    // Settings that do not fit the source are refused when the trigger is made; this holds
    // for a trigger stored before that rule, or an application made again under its name.
    if let Some(source) = &entry.source
        && let Some(why) = trigger::unfit_for_source(&trigger.kind, &trigger.app, source)
    {
        return Outcome::Done(Reply::error(Code::TriggerInvalid, why));
    }
    let TriggerKind::Image {
        verify: policy,
        pin_digest,
        maturing,
        ..
    } = &trigger.kind
    else {
        unreachable!("only image triggers reach the registry hook's update");
    };
    // A push already in the template and deployed is a no-op, told without asking the
    // registry: nothing is done either way.
    let template_app = matches!(
        entry.source,
        Some(crate::app::Source::Template { .. }) | None
    );
    if *policy != trigger::Verify::Off
        && template_app
        && let Some(reply) = already_deployed(state, trigger, template, &updates, &delivery.events)
    {
        return Outcome::Done(reply);
    }
    let mut checks = Vec::with_capacity(updates.len());
    for update in &mut updates {
        let (repository, tag, digest, event) = update;
        let Some(tag) = tag.as_deref() else { continue };
        // A watch's push was read from the registry a moment ago.
        let checked = match (event.format, &event.digest) {
            (registry::Format::Watch, Some(digest)) => Ok(verify::Checked::Registry {
                image: format!("{repository}:{tag}"),
                digest: digest.clone(),
            }),
            // Boxed: the check's future (the registry client's) is larger than all of this
            // function's other state, and most pushes never reach it.
            _ => {
                Box::pin(verify::check(
                    &state.registry,
                    *policy,
                    repository,
                    tag,
                    event.digest.as_deref(),
                ))
                .await
            }
        };
        match checked {
            Ok(checked) => {
                *digest = if *pin_digest {
                    checked.digest(event.digest.as_deref()).map(str::to_owned)
                } else {
                    None
                };
                checks.push(checked);
            }
            Err(refusal) => {
                let mut reply = Reply::error(refusal.code, refusal.message);
                reply.retry_after = refusal.retry_after;
                reply.event = Some(record::Event::Json(json!({
                    "pushes": delivery.events,
                    "verification": checks,
                })));
                return Outcome::Done(reply);
            }
        }
    }
    if let Some(minutes) = maturing.filter(|m| *m > 0)
        && !matured
    {
        return with_verification(hold_to_mature(state, trigger, &updates, minutes), &checks);
    }
    let events_json = serde_json::to_value(&delivery.events).ok();
    let pushed = image_names(&updates);
    let message = format!(
        "image {} pushed ({}), trigger {}",
        pushed.join(", "),
        delivery.format.label(),
        trigger.name
    );
    // The index knows the application's source: the template path reads nothing more.
    let outcome = match &entry.source {
        Some(crate::app::Source::Git { git, .. }) => {
            write_back(state, trigger, git, &updates, &pushed, events_json).await
        }
        Some(crate::app::Source::Helm { .. }) => {
            helm_image_update(state, trigger, &updates, &pushed, &message, events_json)
        }
        Some(crate::app::Source::Template { .. }) | None => template_image_update(
            state,
            trigger,
            template,
            &updates,
            &pushed,
            &message,
            events_json,
        ),
    };
    with_verification(outcome, &checks)
}

/// A trigger with a maturing delay holds each push (its digest as verified) until the delay
/// has passed; the watcher then deploys it if the tag still has that digest
/// ([`super::watch`]). A newer push of the same repository takes the place of one held. The
/// call is answered `202`: the push is accepted, kept in the database, and acted on later.
fn hold_to_mature(
    state: &Arc<State>,
    trigger: &Trigger,
    updates: &[Update<'_>],
    minutes: u32,
) -> Outcome {
    let now = jiff::Timestamp::now();
    let due = now + jiff::SignedDuration::from_mins(i64::from(minutes));
    let mut held = Vec::new();
    let mut replaced = Vec::new();
    for (repository, tag, digest, event) in updates {
        let (Some(tag), Some(digest)) = (tag, digest.as_ref().or(event.digest.as_ref())) else {
            continue;
        };
        let maturing = crate::store::Maturing {
            trigger_id: trigger.id,
            repository: repository.clone(),
            tag: tag.clone(),
            digest: digest.clone(),
            since: now.to_string(),
            due_at: due.to_string(),
        };
        match state.with_store(|store| store.hold_maturing(&maturing)) {
            Ok(before) => {
                if let Some(before) = before {
                    replaced.push(format!("{}:{}", before.repository, before.tag));
                }
                held.push(format!("{repository}:{tag}@{digest}"));
            }
            Err(error) => {
                return Outcome::Done(Reply::error(
                    Code::StorageUnavailable,
                    format!("cannot keep the push while it matures: {error}"),
                ));
            }
        }
    }
    if held.is_empty() {
        return Outcome::Done(Reply::skipped(
            Decision::Untriggered,
            "a maturing delay needs the pushed tag's digest, and the push has none (verify              it with the registry to read it)"
                .into(),
            None,
        ));
    }
    let mut reason = format!(
        "maturing: {} deploys at {} if the tag still has this digest then",
        held.join(", "),
        due.strftime("%Y-%m-%d %H:%M:%S UTC")
    );
    if !replaced.is_empty() {
        reason.push_str(&format!(
            "; it takes the place of {}, held before",
            replaced.join(", ")
        ));
    }
    let body = json!({"status": "maturing", "images": held, "dueAt": due.to_string(),
        "replaces": replaced});
    Outcome::Done(Reply {
        status: StatusCode::ACCEPTED,
        body: body.to_string(),
        decision: Decision::Untriggered,
        reason,
        event: Some(record::Event::Json(
            json!({"maturing": held, "dueAt": due.to_string()}),
        )),
        retry_after: None,
    })
}

/// The outcome, its record saying how each push was verified (or why it was not).
fn with_verification(outcome: Outcome, checks: &[verify::Checked]) -> Outcome {
    if checks.is_empty() {
        return outcome;
    }
    let checks = json!(checks);
    match outcome {
        Outcome::Release(mut start) => {
            if let Some(cause) = &mut start.cause_event {
                cause["verification"] = checks.clone();
            }
            start.note["verification"] = checks;
            Outcome::Release(start)
        }
        Outcome::Done(mut reply) => {
            if let Some(record::Event::Json(event)) = &mut reply.event
                && event.is_object()
            {
                event["verification"] = checks;
            }
            Outcome::Done(reply)
        }
    }
}

/// What [`retag_all`] made of a manifest.
struct AllRetagged {
    manifest: crate::template::Manifest,
    /// The objects changed.
    changed: Vec<crate::template::ResourceId>,
    /// The containers whose image changed.
    changes: Vec<matching::ImageChange>,
    /// The changes the anti-downgrade guard refused.
    refused: Vec<matching::Downgrade>,
}

/// Sets each update's image in `manifest`, within the trigger's scope.
fn retag_all(
    mut manifest: crate::template::Manifest,
    updates: &[Update<'_>],
    scope: &matching::Scope,
) -> crate::store::Result<AllRetagged> {
    let mut changed = Vec::new();
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    for (repository, tag, digest, _) in updates {
        let matching::Retagged {
            values,
            changes: image_changes,
            refused: downgrades,
            ..
        } = matching::retag(
            &manifest,
            repository,
            tag.as_deref(),
            digest.as_deref(),
            scope,
        );
        refused.extend(downgrades);
        for (position, _) in &values {
            let id = manifest.documents()[*position].id.clone();
            if !changed.contains(&id) {
                changed.push(id);
            }
        }
        changes.extend(image_changes);
        if !values.is_empty() {
            manifest = manifest.replace(values)?;
        }
    }
    Ok(AllRetagged {
        manifest,
        changed,
        changes,
        refused,
    })
}

/// For a template application, a no-op answer when the pushes, as they name themselves, are
/// already in the latest template version and that version is deployed; `None` otherwise (or
/// when the store cannot say: the full path then reports it).
fn already_deployed(
    state: &Arc<State>,
    trigger: &Trigger,
    template: &str,
    updates: &[Update<'_>],
    events: &[registry::PushEvent],
) -> Option<Reply> {
    let scope = matching::Scope::of(&trigger.kind);
    // A read, not a write transaction: nothing is saved here, and the template's text is
    // parsed once for this and the save that may follow (`Manifest::parse_recent`).
    let checked = state.with_store(|store| {
        let latest = store.version(template, None)?;
        let manifest = crate::template::Manifest::parse_recent(&latest.content)?;
        // A refused downgrade is not "already deployed": the full path says why.
        let unchanged = updates.iter().all(|(repository, tag, digest, _)| {
            let retagged = matching::retag(
                &manifest,
                repository,
                tag.as_deref(),
                digest.as_deref(),
                &scope,
            );
            retagged.values.is_empty() && retagged.refused.is_empty()
        });
        let deployed = store
            .last_success(&trigger.app)?
            .map(|(version, _)| version);
        Ok((latest.summary.number, deployed, unchanged))
    });
    match checked {
        Ok((latest, deployed, true)) if deployed == Some(latest) => Some(Reply::skipped(
            Decision::NoOp,
            format!(
                "{} is already in template version {latest} and deployed",
                image_names(updates).join(", ")
            ),
            Some(record::Event::Pushes(events.to_vec())),
        )),
        _ => None,
    }
}

/// `repository:tag@digest` of each update.
fn image_names(updates: &[Update<'_>]) -> Vec<String> {
    updates
        .iter()
        .map(|(repository, tag, digest, _)| {
            let mut name = repository.clone();
            if let Some(tag) = tag {
                name.push(':');
                name.push_str(tag);
            }
            if let Some(digest) = digest {
                name.push('@');
                name.push_str(digest);
            }
            name
        })
        .collect()
}

/// An image push for a template application: a new template version with the images set,
/// and its release; nothing new (the latest version holds the images and is deployed) is a
/// no-op.
fn template_image_update(
    state: &Arc<State>,
    trigger: &Trigger,
    template: &str,
    updates: &[Update<'_>],
    pushed: &[String],
    message: &str,
    events_json: Option<Value>,
) -> Outcome {
    let mut changes = Vec::new();
    let mut refused = Vec::new();
    let scope = matching::Scope::of(&trigger.kind);
    let saved = state.with_store(|store| {
        let outcome = store.modify_template(
            template,
            Origin::ImageUpdate,
            message,
            events_json.as_ref(),
            |manifest| {
                let all = retag_all(manifest, updates, &scope)?;
                changes = all.changes;
                refused = all.refused;
                Ok((all.manifest, all.changed))
            },
        )?;
        let deployed = store
            .last_success(&trigger.app)?
            .map(|(version, _)| version);
        Ok((outcome, deployed))
    });
    let mut event = json!({"pushes": events_json, "images": changes});
    if !refused.is_empty() {
        event["refused"] = json!(refused);
    }
    match saved {
        Err(error) => {
            let body = crate::error::ErrorBody::from(&error);
            let mut reply = Reply::error(body.code, body.message);
            reply.event = Some(record::Event::Json(event));
            Outcome::Done(reply)
        }
        // Every change the push asked for would lower a container's version.
        Ok((SaveOutcome::Unchanged { .. }, _)) if changes.is_empty() && !refused.is_empty() => {
            Outcome::Done(Reply::skipped(
                Decision::Untriggered,
                refused
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(record::Event::Json(event)),
            ))
        }
        Ok((SaveOutcome::Unchanged { version }, deployed)) if deployed == Some(version.number) => {
            Outcome::Done(Reply::skipped(
                Decision::NoOp,
                format!(
                    "{} is already in template version {} and deployed",
                    pushed.join(", "),
                    version.number
                ),
                Some(record::Event::Json(event)),
            ))
        }
        Ok((outcome, _)) => {
            let version = outcome.version().number;
            let first = updates[0].3;
            let cause = push_cause(first, pushed, "version", json!(version));
            let mut note = json!({"version": version, "images": changes});
            if !refused.is_empty() {
                note["refused"] = json!(refused);
            }
            Outcome::Release(Start {
                cause_event: Some(cause),
                options: Options::default(),
                note,
            })
        }
    }
}

/// An image push for a Git application: the image is written to the repository as a commit
/// of its own, and the release that follows deploys that commit. On the tracked branch, the
/// deploy reads the branch's newest commit (which holds it); on a branch of the trigger's own,
/// the release names the commit to deploy ([`Options::branch_commit`]) and the application
/// keeps following its tracked reference. A push the repository refuses is answered with its
/// code, and nothing is queued.
async fn write_back(
    state: &Arc<State>,
    trigger: &Trigger,
    git: &crate::source::git::GitSource,
    updates: &[Update<'_>],
    pushed: &[String],
    events_json: Option<serde_json::Value>,
) -> Outcome {
    use crate::source::writeback::{self, ImageUpdate, Written};
    let TriggerKind::Image { branch, .. } = &trigger.kind else {
        unreachable!("only image triggers reach the registry hook's update");
    };
    let own = writeback::own_branch(git, branch.as_deref()).map(str::to_owned);
    let images: Vec<ImageUpdate> = updates
        .iter()
        .map(|(repository, tag, digest, _)| ImageUpdate {
            repository: repository.clone(),
            tag: tag.clone(),
            digest: digest.clone(),
        })
        .collect();
    let first = updates[0].3;
    let commit_message = format!(
        "Set {}\n\nImage trigger {} of Tripline, on a registry push ({}{}).\n",
        pushed.join(", "),
        trigger.name,
        first.format.label(),
        first
            .pusher
            .as_deref()
            .map(|p| format!(", pushed by {p}"))
            .unwrap_or_default(),
    );
    let sources = state.workers.sources();
    let (app, git, target) = (trigger.app.clone(), git.clone(), own.clone());
    let scope = matching::Scope::of(&trigger.kind);
    let written = tokio::task::spawn_blocking(move || {
        let credentials = sources.credentials(&app)?;
        writeback::write_images(
            &git,
            credentials.as_ref(),
            target.as_deref(),
            &images,
            &scope,
            &commit_message,
        )
    })
    .await;
    let event = json!({"pushes": events_json, "branch": own});
    let written = match written {
        Ok(Ok(written)) => written,
        Ok(Err(error)) => {
            let mut reply = Reply::error(error.code, error.message);
            reply.event = Some(record::Event::Json(event));
            return Outcome::Done(reply);
        }
        Err(error) => {
            return Outcome::Done(Reply::error(
                Code::SourceUnreachable,
                format!("writing the image back stopped: {error}"),
            ));
        }
    };
    let (commit, branch, created, changes, refused) = match written {
        Written::Committed {
            commit,
            branch,
            created,
            changes,
            refused,
        } => (commit, branch, created, changes, refused),
        Written::AlreadyThere { commit, branch } => (commit, branch, false, Vec::new(), Vec::new()),
        Written::Refused { reasons } => {
            let mut event = event;
            event["refused"] = json!(reasons);
            return Outcome::Done(Reply::skipped(
                Decision::Untriggered,
                reasons.join("; "),
                Some(record::Event::Json(event)),
            ));
        }
    };
    // A commit on the trigger's own branch is deployed as such; one on the tracked reference
    // is what the deploy reads anyway.
    let branch_commit = (own.as_deref() == Some(branch.as_str())).then(|| BranchCommit {
        branch: branch.clone(),
        commit: commit.clone(),
    });
    let mut cause = push_cause(first, pushed, "commit", json!(commit));
    cause["branch"] = json!(branch);
    let mut note = json!({"commit": commit, "branch": branch, "changes": changes});
    if created {
        note["created"] = json!(true);
    }
    if !refused.is_empty() {
        note["refused"] = json!(refused);
    }
    Outcome::Release(Start {
        cause_event: Some(cause),
        options: Options {
            branch_commit,
            ..Options::default()
        },
        note,
    })
}

/// A pushed image for a Helm application: set in its values (under the keys the trigger names,
/// by default the chart's `image.repository` and `image.tag`) as a new values version, before
/// the call and its release are recorded, as a template's new version is; the deploy renders
/// the chart with it. Nothing new (the values hold the image, and the latest template version,
/// rendered with them, is deployed) is a no-op.
fn helm_image_update(
    state: &Arc<State>,
    trigger: &Trigger,
    updates: &[Update<'_>],
    pushed: &[String],
    message: &str,
    events_json: Option<Value>,
) -> Outcome {
    let TriggerKind::Image {
        repositories,
        values: keys,
        ..
    } = &trigger.kind
    else {
        unreachable!("only image triggers reach the registry hook's update");
    };
    let keys = keys.clone().unwrap_or_default();
    // The values get the repository as the trigger spells it (as the chart's values do),
    // not the normalised form matching uses.
    let spelled = |normalised: &str| {
        repositories
            .iter()
            .find(|r| registry::ImageRef::parse(r).is_ok_and(|i| i.full_repository() == normalised))
            .cloned()
            .unwrap_or_else(|| normalised.to_owned())
    };
    let mut images = Vec::new();
    let mut refused = Vec::new();
    let scope = matching::Scope::of(&trigger.kind);
    let place = match &keys {
        trigger::ImageValues::Split { tag, .. } => format!("values key {tag}"),
        trigger::ImageValues::Whole { image } => format!("values key {image}"),
    };
    let saved = state.with_store(|store| {
        let latest = store.values(&trigger.app, None)?;
        let mut values = latest.content.clone();
        for (repository, tag, digest, _) in updates {
            let version = match (tag, digest) {
                (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
                (Some(tag), None) => tag.clone(),
                (None, Some(digest)) => digest.clone(),
                (None, None) => continue,
            };
            if let (Some(deployed), Some(pushed)) =
                (crate::source::helm::image_tag(&values, &keys), tag)
                && let Some(refusal) = matching::downgrade(&scope, &place, &deployed, pushed)
            {
                refused.push(refusal);
                continue;
            }
            let repository = spelled(repository);
            values = set_image_values(
                &values,
                &keys,
                &repository,
                tag.as_deref(),
                digest.as_deref(),
            )
            .map_err(|e| crate::store::Error::Invalid(e.message))?;
            images
                .push(json!({"repository": repository, "tag": version, "keys": keys.to_string()}));
        }
        if images.is_empty() && !refused.is_empty() {
            return Ok(None);
        }
        let saved = store.save_values(&trigger.app, &values, Origin::ImageUpdate, message)?;
        let template = store
            .app(&trigger.app)?
            .source
            .template()
            .map(str::to_owned);
        let rendered = match template {
            Some(template) => store.version(&template, None)?.summary,
            None => return Err(crate::store::Error::Invalid("no template".into())),
        };
        let deployed = store
            .last_success(&trigger.app)?
            .map(|(version, _)| version);
        Ok(Some((saved, rendered, deployed)))
    });
    let mut event = json!({"pushes": events_json, "images": images});
    if !refused.is_empty() {
        event["refused"] = json!(refused);
    }
    match saved {
        Err(error) => {
            let body = crate::error::ErrorBody::from(&error);
            let mut reply = Reply::error(body.code, body.message);
            reply.event = Some(record::Event::Json(event));
            Outcome::Done(reply)
        }
        // Every image the push named would lower the version the values hold.
        Ok(None) => Outcome::Done(Reply::skipped(
            Decision::Untriggered,
            refused
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Some(record::Event::Json(event)),
        )),
        Ok(Some((ValuesSaved::Unchanged { version }, rendered, deployed)))
            if rendered.values == Some(version.number) && deployed == Some(rendered.number) =>
        {
            Outcome::Done(Reply::skipped(
                Decision::NoOp,
                format!(
                    "{} is already in values version {} and deployed",
                    pushed.join(", "),
                    version.number
                ),
                Some(record::Event::Json(event)),
            ))
        }
        Ok(Some((saved, _, _))) => {
            let values = saved.version().number;
            let first = updates[0].3;
            let cause = push_cause(first, pushed, "values", json!(values));
            let mut note = json!({"values": values, "images": images});
            if !refused.is_empty() {
                note["refused"] = json!(refused);
            }
            Outcome::Release(Start {
                cause_event: Some(cause),
                options: Options::default(),
                note,
            })
        }
    }
}

/// What a release caused by a registry push records of it: the first push's facts, every
/// image pushed, and what the push made (`key`: the template version, the commit or the values
/// version).
fn push_cause(
    first: &registry::PushEvent,
    pushed: &[String],
    key: &str,
    made: serde_json::Value,
) -> serde_json::Value {
    let mut cause = json!({
        "format": first.format, "image": pushed.join(", "), "registry": first.registry,
        "namespace": first.namespace, "name": first.name, "owner": first.owner,
        "pusher": first.pusher, "tag": first.tag, "digest": first.digest,
        "pushedAt": first.pushed_at,
    });
    cause[key] = made;
    cause
}

/// Records a triggered call and queues its release in one transaction, and answers 202 (or,
/// with `?wait=true`, the release's result: 200 with its status, whether it succeeded or
/// failed, since a failed deploy is not the listener's fault and a 5xx invites a retry; 422
/// when the cluster refused what the call's own patch made).
async fn start_release(
    state: &Arc<State>,
    call: Call,
    trigger: &Trigger,
    query: &Params<'_>,
    start: Start,
) -> Response {
    let wait = matches!(query.get("wait"), Some("true" | "1" | "yes"));
    let mut record = call.record(
        Decision::Triggered,
        "triggered: release queued",
        202,
        "",
        start.cause_event.clone(),
    );
    record.trigger = Some(trigger.name.clone());
    let mut events = state.workers.subscribe();
    let patched = start
        .cause_event
        .as_ref()
        .is_some_and(|e| e.get("patch").is_some());
    let queued = state.with_store(|store| {
        store.record_and_queue(
            trigger.id,
            &record,
            &trigger.app,
            &trigger.name,
            start.cause_event,
            &start.options,
        )
    });
    let (record_id, release) = match queued {
        Ok(queued) => queued,
        Err(error) => {
            let reply = Reply::error(
                Code::StorageUnavailable,
                format!("cannot record the call and queue its deploy: {error}"),
            );
            return respond(state, call, Some(trigger), trigger.kind.name(), reply).await;
        }
    };
    state.workers.queued(&release);
    let mut body = json!({
        "status": "accepted",
        "app": trigger.app,
        "trigger": trigger.name,
        "release": {"id": release.id, "number": release.number},
        "record": record_id,
        "details": start.note,
    });
    let mut status = StatusCode::ACCEPTED;
    if wait {
        let deadline = start.options.timeout + Duration::from_secs(30);
        match tokio::time::timeout(deadline, follow(state, &mut events, release.id)).await {
            Ok(Some(done)) => {
                status = if done.status == ReleaseStatus::Failed
                    && patched
                    && matches!(done.reason.as_deref(), Some("Invalid" | "BadRequest"))
                {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::OK
                };
                body["status"] = json!(done.status.as_str());
                body["message"] = json!(done.message);
                body["reason"] = json!(done.reason);
                if done.id != release.id {
                    body["carriedBy"] = json!({"id": done.id, "number": done.number});
                }
            }
            _ => {
                body["status"] = json!("running");
                body["message"] = json!("still deploying; see the release for its result");
            }
        }
    }
    // The answer is kept as the record's response: scrubbed like everything else it keeps
    // (a release message can quote a value from the caller's patch).
    let text = call.scrub(&body.to_string());
    let finished =
        state.with_store(|store| store.finish_access_record(record_id, status.as_u16(), &text));
    if finished.is_ok() {
        record.status = status.as_u16();
        record.release = Some(release.id);
        state.announce(&record);
    }
    state.metrics.request(trigger.kind.name(), status.as_u16());
    let json = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, json)], text).into_response()
}

/// How a followed release ended.
struct Ended {
    /// The release that did the work (the one followed, or the one that carried it).
    id: i64,
    number: u32,
    status: ReleaseStatus,
    message: String,
    reason: Option<String>,
}

/// Waits for release `id` to end, following it to the release that carried its work when
/// another one took it over. `None` when the workers stopped.
async fn follow(
    state: &State,
    events: &mut tokio::sync::broadcast::Receiver<crate::deploy::worker::DeployEvent>,
    id: i64,
) -> Option<Ended> {
    use tokio::sync::broadcast::error::RecvError;
    let mut current = id;
    loop {
        // The database says where it stands (an event may have been missed or not yet sent).
        let release = state.with_store(|s| s.release(current)).ok()?;
        match (release.status, release.carried_by) {
            (ReleaseStatus::Superseded, Some(carrier)) => {
                current = carrier;
                continue;
            }
            (status, _) if status.is_final() => {
                return Some(Ended {
                    id: release.id,
                    number: release.number,
                    status,
                    message: release.message,
                    reason: release.reason,
                });
            }
            _ => {}
        }
        loop {
            match events.recv().await {
                Ok(event) if event.release == current => {
                    if matches!(event.event, Event::Finished { .. }) {
                        break;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// An answer ready at once, or one that waits for room in the record queue.
type Responding = futures::future::Either<
    std::future::Ready<Response>,
    std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>,
>;

/// Records the call in the background and answers. The record is queued at once unless the
/// queue is full; only then does the answer wait, boxed, so that the wait's state is not part
/// of every handler's future (which holds this one at each of its answers).
fn respond(
    state: &Arc<State>,
    call: Call,
    trigger: Option<&Trigger>,
    kind: &'static str,
    reply: Reply,
) -> Responding {
    let (answered, response) = answer(state, call, trigger, kind, reply);
    match state.recorder.try_record(answered) {
        None => futures::future::Either::Left(std::future::ready(response)),
        Some(full) => {
            let state = Arc::clone(state);
            futures::future::Either::Right(Box::pin(async move {
                state.recorder.wait_to_record(full).await;
                response
            }))
        }
    }
}

/// The answer to send and the record to queue for it.
fn answer(
    state: &State,
    call: Call,
    trigger: Option<&Trigger>,
    kind: &'static str,
    reply: Reply,
) -> (Answered, Response) {
    let text = axum::body::Bytes::from(reply.body);
    let status = reply.status.as_u16();
    state.metrics.request(kind, status);
    // A static header value: one made from a `&str` is a copy per call.
    let json = HeaderValue::from_static("application/json");
    let mut response = (reply.status, [(header::CONTENT_TYPE, json)], text.clone()).into_response();
    if let Some(seconds) = reply.retry_after
        && let Ok(value) = seconds.to_string().parse()
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    let answered = Answered {
        trigger: trigger.map(|t| (t.id, t.name.clone())),
        call,
        decision: reply.decision,
        reason: reply.reason,
        status,
        response: text,
        event: reply.event,
    };
    (answered, response)
}

#[cfg(test)]
mod tests {
    use super::{Params, Received, json_object};

    #[test]
    fn a_body_is_gathered_chunk_by_chunk_up_to_its_limit() {
        let chunk = |text: &'static str| axum::body::Bytes::from_static(text.as_bytes());
        // One chunk is kept as it came; empty chunks change nothing.
        let mut one = Received::default();
        assert!(one.add(chunk(""), 10));
        assert!(one.add(chunk("abcdef"), 10));
        assert!(one.add(chunk(""), 10));
        let whole = one.into_bytes();
        assert_eq!(whole, "abcdef");
        // Several are joined in order, up to the limit exactly, and past it refused.
        let mut several = Received::default();
        assert!(several.add(chunk("abc"), 10));
        assert!(several.add(chunk("def"), 10));
        assert!(several.add(chunk("ghij"), 10));
        assert!(!several.add(chunk("k"), 10), "an eleventh byte");
        assert_eq!(several.into_bytes(), "abcdefghij");
        // A first chunk past the limit is refused whole.
        let mut large = Received::default();
        assert!(!large.add(chunk("abcdefghijk"), 10));
        assert!(large.add(chunk("abc"), 10));
        assert_eq!(large.into_bytes(), "abc");
        // A limit of zero takes nothing but empty chunks.
        let mut none = Received::default();
        assert!(none.add(chunk(""), 0));
        assert!(!none.add(chunk("a"), 0));
    }

    #[test]
    fn answers_are_json_whatever_their_strings_hold() {
        for value in [
            "",
            "plain text: tag v1 is not in the list",
            "a \"quoted\" tag",
            "back\\slash",
            "new\nline and tab\t",
            "\u{0}\u{1f}\u{7f}",
            "ünïcödé ✓ 🚀",
            "</script>",
        ] {
            let text = json_object(&[("status", "untriggered"), ("reason", value)]);
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                parsed,
                serde_json::json!({ "status": "untriggered", "reason": value }),
                "{text}"
            );
        }
        assert_eq!(json_object(&[]), "{}");
        assert_eq!(
            json_object(&[("code", "token_unknown"), ("message", "m")]),
            r#"{"code":"token_unknown","message":"m"}"#
        );
    }

    #[test]
    fn a_query_read_in_place_gives_what_decoding_it_would() {
        for query in [
            "token=tl_a",
            "token=tl_a&token=tl_b",
            "&&token=&secret=s&",
            "token&wait=true",
            "a=1=2&b",
            "token=tl_%61&wait=1+0",
            "%74oken=tl_x",
            "",
        ] {
            let uri: axum::http::Uri = format!("/hook/trigger?{query}").parse().unwrap();
            let params = Params::of(&uri);
            let decoded: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            for name in ["token", "secret", "wait", "a", "b", ""] {
                let expected = decoded
                    .iter()
                    .rev()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_ref());
                assert_eq!(params.get(name), expected, "{name} in {query:?}");
            }
        }
        let bare: axum::http::Uri = "/hook/trigger".parse().unwrap();
        assert_eq!(Params::of(&bare).get("token"), None);
    }
}
