//! The CNCF distribution registry's notifications (`registry:2`/`registry:3`, and the many
//! registries built on it).
//!
//! Sources: distribution's "Work with notifications" documentation
//! (`docs/content/about/notifications.md`) and `notifications/event.go`. An envelope
//! `{"events": [...]}` arrives with `Content-Type:
//! application/vnd.docker.distribution.events.v1+json` (v2.x) or `…events.v2+json` (v3).
//! Each event has `action` (`push`, `pull`, `mount`, `delete`), `timestamp`, `target`
//! (`mediaType`, `digest`, `size`, `repository`, `url`, `tag`), `request` (`host`, …) and
//! `actor.name`.
//!
//! Only manifest pushes are images: blob (layer) pushes, pulls, mounts and deletes are
//! skipped. `target.tag` is absent for a push by digest, which includes the per-platform
//! manifests a multi-platform push uploads before its tagged index; the event's
//! `media_type` lets the trigger tell an index from a single manifest. The registry host is
//! `request.host` (the Host the client used), else the host of `target.url`.
//!
//! Azure Container Registry copies this event shape, so `azure` reuses [`target_event`].
//!
//! A registry's notifications are the listener's other frequent caller, and most announce
//! pushes no trigger follows, so an envelope is read straight into the fields used here
//! ([`direct`]) before it is read the general way. The direct read takes a body only when
//! every event in it reads without a problem; anything else goes the general way, which
//! answers the same for every body the direct read takes (a test and the registry fuzz
//! target compare the two) and names what is wrong.

use serde::Deserialize;
use serde::de::MapAccess;

use super::json::{Members, Node, Object, Text, index_path, member_into};
use super::reference::{ImageRef, preview};
use super::{
    Delivery, Format, Found, Headers, PushEvent, Result, dedup, detect, digest_from,
    digest_unless_tagged, image_at, json_body, require_version, tag_from, time,
};

/// Media types of manifests and indexes (Docker schema 1 and 2, OCI), as opposed to blobs.
const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.artifact.manifest.v1+json",
];

/// What one event of an envelope is.
#[expect(
    clippy::large_enum_variant,
    reason = "made and moved into `Found` once per event; boxing would allocate once more"
)]
enum Read {
    /// An image push.
    Push(PushEvent),
    /// Not an image push, and why, for the access record.
    Skipped(String),
}

impl Read {
    /// Adds this event, at `path` (`events[2]`), to `found`.
    fn add_to(self, found: &mut Found, path: &str) {
        match self {
            Read::Push(push) => found.events.push(push),
            Read::Skipped(reason) => found.skipped.push(format!("{path}: {reason}")),
        }
    }
}

/// Reads a notification envelope.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let mut found = Found::default();
    for event in root.require("events")?.items()? {
        read_event(&event)?.add_to(&mut found, event.path());
    }
    Ok(found)
}

/// One event: a push, or the reason it is not one.
fn read_event(event: &Node<'_>) -> Result<Read> {
    event.object()?;
    let action = event.require_str("action")?;
    if action != "push" {
        return Ok(Read::Skipped(not_a_push(action)));
    }
    let target = event.require_object("target")?;
    let media_type = target.opt_str("mediaType")?;
    if !is_manifest(media_type, target.get("tag").is_some()) {
        return Ok(Read::Skipped(a_blob(media_type)));
    }
    let (host, host_from) = registry_host(event, &target)?;
    let mut push = target_event(Format::Distribution, &target, host, &host_from, None)?;
    if let Some(actor) = event.opt_object("actor")? {
        push.pusher = actor.opt_str("name")?.map(str::to_owned);
    }
    push.pushed_at = event
        .get("timestamp")
        .map(|node| time::rfc3339(&node))
        .transpose()?;
    Ok(Read::Push(push))
}

/// Why an event of `action` is skipped.
fn not_a_push(action: &str) -> String {
    format!("action {:?} is not a push", preview(action))
}

/// Why a push that is not of a manifest is skipped.
fn a_blob(media_type: Option<&str>) -> String {
    let what = media_type.map_or_else(|| "untyped".to_owned(), |m| format!("{:?}", preview(m)));
    format!("a {what} push is a blob, not an image manifest")
}

/// A manifest push has a manifest media type; with no media type, only a manifest can have
/// a tag (`tagged`: the target's `tag` is present and not null).
fn is_manifest(media_type: Option<&str>, tagged: bool) -> bool {
    match media_type {
        Some(media_type) => MANIFEST_MEDIA_TYPES.contains(&media_type),
        None => tagged,
    }
}

/// `request.host`, else the host of `target.url`, with the node it came from.
fn registry_host<'a>(event: &Node<'a>, target: &Node<'a>) -> Result<(&'a str, Node<'a>)> {
    if let Some(request) = event.opt_object("request")?
        && let Some(host) = request.get("host")
    {
        return Ok((host.str()?, host));
    }
    let Some(url) = target.get("url") else {
        return Err(event.missing("request.host"));
    };
    let host =
        url_host(url.str()?).ok_or_else(|| url.invalid("it is not an http(s) URL with a host"))?;
    Ok((host, url))
}

/// The `host[:port]` of an `http://` or `https://` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

/// The push described by a distribution-style `target` (`repository`, `tag`, `digest`,
/// `mediaType`) on registry `host`, which came from the field `host_from`.
///
/// With `skipped`, a malformed digest beside a valid tag is dropped with a note there (see
/// `digest_unless_tagged`); without it, it is an error, as for the distribution registry,
/// which computes its digests itself and never sends a malformed one.
pub(super) fn target_event(
    format: Format,
    target: &Node<'_>,
    host: &str,
    host_from: &Node<'_>,
    skipped: Option<&mut Vec<String>>,
) -> Result<PushEvent> {
    let repository = target.require("repository")?;
    let mut image = image_at(host, host_from, repository.str()?, &repository)?;
    if let Some(tag) = target.get("tag").filter(|t| t.value().as_str() != Some("")) {
        image = tag_from(image, &tag)?;
    }
    if let Some(digest) = target
        .get("digest")
        .filter(|d| d.value().as_str() != Some(""))
    {
        image = match skipped {
            Some(skipped) => digest_unless_tagged(image, &digest, digest.str()?, skipped)?,
            None => digest_from(image, &digest)?,
        };
    }
    let mut event = PushEvent::new(format, require_version(target, image)?);
    event.media_type = target.opt_str("mediaType")?.map(str::to_owned);
    Ok(event)
}

/// The delivery in `body` when it is a distribution envelope whose every event reads without
/// a problem, read straight into the fields used here; `None` for anything else (another
/// format's headers or body, a missing or malformed field, a repeated key, trailing text),
/// which the caller reads the general way. Each step mirrors [`parse`] and [`read_event`].
pub(super) fn direct(headers: &Headers<'_>, body: &[u8]) -> Option<Delivery> {
    if detect::from_headers(headers).is_some_and(|format| format != Format::Distribution) {
        return None;
    }
    let body = json_body(headers, body).ok()?;
    // UTF-8 checked once for the whole body, not once per string.
    let mut reader = serde_json::Deserializer::from_str(std::str::from_utf8(body).ok()?);
    let Object(envelope) = Object::<Envelope<'_>>::deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    let mut found = Found::default();
    for (i, Object(event)) in envelope.events?.into_iter().enumerate() {
        direct_event(event)?.add_to(&mut found, &index_path("events", i));
    }
    Some(Delivery {
        format: Format::Distribution,
        events: dedup(found.events),
        skipped: found.skipped,
    })
}

/// [`read_event`] for the direct read: `None` wherever it would fail.
fn direct_event(event: Event<'_>) -> Option<Read> {
    let action = event.action?.0;
    if action != "push" {
        return Some(Read::Skipped(not_a_push(&action)));
    }
    let Object(target) = event.target?;
    let media_type = target
        .media_type
        .as_ref()
        .map(|m| &*m.0)
        .filter(|m| !m.is_empty());
    if !is_manifest(media_type, target.tag.is_some()) {
        return Some(Read::Skipped(a_blob(media_type)));
    }
    let request_host = event.request.and_then(|Object(request)| request.host);
    let host = match (&request_host, &target.url) {
        (Some(host), _) => &*host.0,
        (None, Some(url)) => url_host(&url.0)?,
        (None, None) => return None,
    };
    let mut image = ImageRef::from_parts(host, &target.repository?.0).ok()?;
    if let Some(tag) = target.tag.filter(|tag| !tag.0.is_empty()) {
        image = image.into_tagged(&tag.0).ok()?;
    }
    if let Some(digest) = target.digest.filter(|digest| !digest.0.is_empty()) {
        image = image.into_pinned(&digest.0).ok()?;
    }
    if image.tag().is_none() && image.digest().is_none() {
        return None;
    }
    let mut push = PushEvent::new(Format::Distribution, image);
    push.media_type = media_type.map(str::to_owned);
    push.pusher = event
        .actor
        .and_then(|Object(actor)| actor.name)
        .filter(|name| !name.0.is_empty())
        .map(|name| name.0.into_owned());
    if let Some(timestamp) = event.timestamp {
        push.pushed_at = Some(time::rfc3339_text(&timestamp.0).ok()?);
    }
    Some(Read::Push(push))
}

/// `{"events": [...]}`, for the direct read.
#[derive(Default)]
struct Envelope<'de> {
    events: Option<Vec<Object<Event<'de>>>>,
}

impl<'de> Members<'de> for Envelope<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "events" => member_into(&mut self.events, map),
            _ => Ok(false),
        }
    }
}

/// The fields of an event that [`read_event`] reads.
#[derive(Default)]
struct Event<'de> {
    action: Option<Text<'de>>,
    timestamp: Option<Text<'de>>,
    target: Option<Object<Target<'de>>>,
    request: Option<Object<Request<'de>>>,
    actor: Option<Object<Actor<'de>>>,
}

impl<'de> Members<'de> for Event<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "action" => member_into(&mut self.action, map),
            "timestamp" => member_into(&mut self.timestamp, map),
            "target" => member_into(&mut self.target, map),
            "request" => member_into(&mut self.request, map),
            "actor" => member_into(&mut self.actor, map),
            _ => Ok(false),
        }
    }
}

/// The fields of an event's `target` that [`target_event`] reads.
#[derive(Default)]
struct Target<'de> {
    media_type: Option<Text<'de>>,
    repository: Option<Text<'de>>,
    tag: Option<Text<'de>>,
    digest: Option<Text<'de>>,
    url: Option<Text<'de>>,
}

impl<'de> Members<'de> for Target<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "mediaType" => member_into(&mut self.media_type, map),
            "repository" => member_into(&mut self.repository, map),
            "tag" => member_into(&mut self.tag, map),
            "digest" => member_into(&mut self.digest, map),
            "url" => member_into(&mut self.url, map),
            _ => Ok(false),
        }
    }
}

/// An event's `request`: only its `host`.
#[derive(Default)]
struct Request<'de> {
    host: Option<Text<'de>>,
}

impl<'de> Members<'de> for Request<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "host" => member_into(&mut self.host, map),
            _ => Ok(false),
        }
    }
}

/// An event's `actor`: only its `name`.
#[derive(Default)]
struct Actor<'de> {
    name: Option<Text<'de>>,
}

impl<'de> Members<'de> for Actor<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "name" => member_into(&mut self.name, map),
            _ => Ok(false),
        }
    }
}
