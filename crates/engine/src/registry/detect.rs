//! Which format a webhook body is in.
//!
//! Headers decide first, where a sender sets a telling one: GitHub always sends
//! `X-GitHub-Event` (and a `GitHub-Hookshot/…` user agent), and the distribution registry
//! sends its events media type as `Content-Type`. Docker Hub, Alibaba ACR, Harbor, Quay,
//! Azure, Artifactory and Pub/Sub (for Google Artifact Registry) send plain
//! `application/json` (Harbor's CloudEvents payload `application/cloudevents+json`) and no
//! identifying header, so for them the body's top-level keys decide. The rules are ordered so that no documented payload of one format
//! matches an earlier rule for another; the table test in `tests.rs` holds them to that.

use serde_json::{Map, Value};

use super::json::kind;
use super::reference::preview;
use super::{Error, Format, Headers, KEYS_SHOWN, Result};

/// Media types of the distribution registry's notification envelope (v1 until v2.x, v2 in
/// v3).
const DISTRIBUTION_MEDIA_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
];

/// Picks the format of `value`, or explains why none fits.
pub(super) fn detect(headers: &Headers<'_>, value: &Value) -> Result<Format> {
    if let Some(format) = from_headers(headers) {
        return Ok(format);
    }
    let object = value.as_object().ok_or_else(|| Error::Unrecognised {
        seen: format!("the body is {}, not an object", kind(value)),
    })?;
    from_keys(object).ok_or_else(|| Error::Unrecognised {
        seen: describe_keys(object),
    })
}

pub(super) fn from_headers(headers: &Headers<'_>) -> Option<Format> {
    let hookshot = headers
        .user_agent
        .is_some_and(|agent| agent.starts_with("GitHub-Hookshot/"));
    if headers.github_event.is_some() || hookshot {
        return Some(Format::GitHub);
    }
    let media = headers.media_type()?;
    DISTRIBUTION_MEDIA_TYPES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(media))
        .then_some(Format::Distribution)
}

fn from_keys(object: &Map<String, Value>) -> Option<Format> {
    let has = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    let repository = object.get("repository");
    if has("events") {
        Some(Format::Distribution)
    } else if has("push_data") {
        Some(push_data_format(repository))
    } else if has("event_data") || is_harbor_cloud_event(object) {
        Some(Format::Harbor)
    } else if has("docker_url") || has("updated_tags") {
        Some(Format::Quay)
    } else if has("action") && has("target") {
        Some(Format::AzureAcr)
    } else if is_artifactory(object) {
        Some(Format::Artifactory)
    } else if is_pubsub_push(object) || is_gcr_notification(object) {
        Some(Format::GoogleArtifactRegistry)
    } else if has("package") || has("registry_package") {
        Some(Format::GitHub)
    } else if has("image") || repository.is_some_and(Value::is_string) {
        Some(Format::Generic)
    } else {
        None
    }
}

/// Docker Hub and Alibaba ACR share `push_data` and `repository`; only ACR's repository has
/// `region` and `repo_full_name`.
fn push_data_format(repository: Option<&Value>) -> Format {
    let acr =
        repository.is_some_and(|r| r.get("region").is_some() || r.get("repo_full_name").is_some());
    if acr {
        Format::AlibabaAcr
    } else {
        Format::DockerHub
    }
}

/// Artifactory's envelope (`domain`, `event_type`, `data`), or the Docker domain's bare
/// `data` as JFrog documents it (`repo_key`, `image_name`).
fn is_artifactory(object: &Map<String, Value>) -> bool {
    let has = |key: &str| object.contains_key(key);
    (has("domain") && has("event_type") && has("data")) || (has("repo_key") && has("image_name"))
}

/// A Pub/Sub push: `{"message": {…}, "subscription": …}`.
fn is_pubsub_push(object: &Map<String, Value>) -> bool {
    object.contains_key("message") && object.contains_key("subscription")
}

/// A registry notification delivered unwrapped: `{"action": "INSERT", "digest"|"tag": …}`.
fn is_gcr_notification(object: &Map<String, Value>) -> bool {
    let action = object.get("action").and_then(Value::as_str);
    matches!(action, Some("INSERT" | "DELETE"))
        && (object.contains_key("digest") || object.contains_key("tag"))
}

fn is_harbor_cloud_event(object: &Map<String, Value>) -> bool {
    object.contains_key("specversion")
        && object
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("harbor."))
}

/// "an object with the keys "a", "b" and 3 more" — bounded, whatever the body holds.
fn describe_keys(object: &Map<String, Value>) -> String {
    if object.is_empty() {
        return "the body is an empty object".to_owned();
    }
    let shown: Vec<String> = object
        .keys()
        .take(KEYS_SHOWN)
        .map(|key| format!("{:?}", preview(key)))
        .collect();
    let more = object.len().saturating_sub(KEYS_SHOWN);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("its top-level keys are {}{tail}", shown.join(", "))
}
