//! Quay (quay.io and Red Hat Quay) repository notifications.
//!
//! Sources: Red Hat Quay's "Repository notifications" documentation ("Repository Push"
//! event) and Quay's code, `notifications/__init__.py` (`build_repository_event_data`:
//! `repository`, `namespace`, `name`, `docker_url`, `homepage`) and
//! `notifications/notificationevent.py` (`RepoPushEvent` adds `updated_tags`, a list of tag
//! names). The webhook method posts that event data as JSON with
//! `Content-type: application/json` and nothing identifying.
//!
//! `docker_url` is `SERVER_HOSTNAME/namespace/repository`, the only source of the registry
//! host. A push names tags but no digests; it becomes one event per tag. Other Quay events
//! (builds, vulnerabilities, mirroring) carry `docker_url` but no `updated_tags` and are
//! skipped.
//!
//! Two layouts of `updated_tags` exist. Today's is a list of tag names. The legacy one,
//! documented on docs.quay.io until Quay moved to manifests and still sent by older Quay
//! Enterprise installations, is an object from tag name to the Docker v1 *image id* the tag
//! points at (`{"latest": "b750fe79…"}`). That id is not a manifest digest (it has no
//! `sha256:` and cannot be pulled by), so only the tag names are read; each id must still be
//! a string, as documented.

use super::json::Node;
use super::reference::preview;
use super::{Format, Found, PushEvent, Result, image_at, tag_from};

/// Reads a Quay notification.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let repository = root.require("repository")?;
    let path = repository.str()?;
    let docker_url = root.require("docker_url")?;
    let host = host_of(docker_url.str()?, path).ok_or_else(|| {
        docker_url.invalid(format!(
            "it is not a registry host followed by /{}",
            preview(path)
        ))
    })?;
    let Some(tags) = root.get("updated_tags") else {
        return Ok(Found::skip(
            "Quay notification without updated_tags is not a repository push",
        ));
    };
    let image = image_at(host, &docker_url, path, &repository)?;
    let mut found = Found::default();
    if tags.value().is_object() {
        for (tag, image_id) in tags.entries()? {
            image_id.str()?;
            let image = image
                .with_tag(tag)
                .map_err(|e| image_id.reference_error(e))?;
            found.events.push(PushEvent::new(Format::Quay, image));
        }
        return Ok(found);
    }
    let tags = tags
        .items()
        .map_err(|_| tags.wrong_type("an array (or an object)"))?;
    for tag in tags {
        let image = tag_from(image.clone(), &tag)?;
        found.events.push(PushEvent::new(Format::Quay, image));
    }
    Ok(found)
}

/// The host of `host/path`.
fn host_of<'u>(docker_url: &'u str, path: &str) -> Option<&'u str> {
    let (host, rest) = docker_url.split_once('/')?;
    (rest == path && !host.is_empty()).then_some(host)
}
