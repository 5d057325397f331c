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

use super::json::Node;
use super::reference::preview;
use super::{
    Format, Found, PushEvent, Result, digest_from, digest_unless_tagged, image_at, require_version,
    tag_from, time,
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

/// Reads a notification envelope.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let mut found = Found::default();
    for event in root.require("events")?.items()? {
        match read_event(&event)? {
            Ok(push) => found.events.push(push),
            Err(reason) => found.skipped.push(format!("{}: {reason}", event.path())),
        }
    }
    Ok(found)
}

/// One event: a push, or the reason it is not one.
fn read_event(event: &Node<'_>) -> Result<Result<PushEvent, String>> {
    event.object()?;
    let action = event.require_str("action")?;
    if action != "push" {
        return Ok(Err(format!("action {:?} is not a push", preview(action))));
    }
    let target = event.require_object("target")?;
    let media_type = target.opt_str("mediaType")?;
    if !is_manifest(media_type, &target) {
        let what = media_type.map_or_else(|| "untyped".to_owned(), |m| format!("{:?}", preview(m)));
        return Ok(Err(format!(
            "a {what} push is a blob, not an image manifest"
        )));
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
    Ok(Ok(push))
}

/// A manifest push has a manifest media type; with no media type, only a manifest can have
/// a tag.
fn is_manifest(media_type: Option<&str>, target: &Node<'_>) -> bool {
    match media_type {
        Some(media_type) => MANIFEST_MEDIA_TYPES.contains(&media_type),
        None => target.get("tag").is_some(),
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
