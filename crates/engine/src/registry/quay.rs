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
    for tag in tags.items()? {
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
