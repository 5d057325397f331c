//! Harbor webhooks.
//!
//! Sources: Harbor's "Configure Webhook Notifications" documentation (goharbor.io, and
//! `docs/working-with-projects/project-configuration/configure-webhooks.md` in
//! goharbor/website) and Harbor's own code, `src/pkg/notifier/model/event.go` (the payload
//! structs) and `src/pkg/notifier/formats/{default,cloudevents}.go` (the two payload formats).
//!
//! - *Default* (`Content-Type: application/json`): `{type, occur_at, operator, event_data:
//!   {resources: [{digest, tag, resource_url}], repository: {name, namespace,
//!   repo_full_name, repo_type}}}`. A push is `type: PUSH_ARTIFACT` (Harbor 2.x) or
//!   `pushImage` (Harbor 1.9–1.10, same body); every other type is skipped.
//! - *CloudEvents* (`application/cloudevents+json`): `{specversion, type, time, operator,
//!   data: {resources, repository}}`; a push is `type: harbor.artifact.pushed`.
//!
//! `resource_url` (`hub.harbor.com/project/repo:tag`) is the only place the registry host
//! appears, so it is required. For an operation by digest Harbor repeats the digest in `tag`;
//! such a "tag" is dropped. Harbor sends no identifying header.

use super::json::Node;
use super::reference::preview;
use super::{
    Format, Found, PushEvent, Result, digest_from, image_at, repository_path, require_version,
    tag_from, time,
};

/// Event types that mean "an artifact was pushed".
const PUSH_TYPES: &[&str] = &["PUSH_ARTIFACT", "pushImage"];

/// The CloudEvents type of a push.
const CLOUD_EVENT_PUSH: &str = "harbor.artifact.pushed";

/// Who pushed and when, shared by every resource of one payload.
struct Context<'a> {
    operator: Option<&'a str>,
    pushed_at: Option<String>,
}

/// Reads a Harbor payload, Default or CloudEvents.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    if root.get("specversion").is_some() {
        return parse_cloud_event(root);
    }
    let kind = root.require_str("type")?;
    if !PUSH_TYPES.contains(&kind) {
        return Ok(Found::skip(format!(
            "Harbor event {:?} is not a push",
            preview(kind)
        )));
    }
    let context = Context {
        operator: root.opt_str("operator")?,
        pushed_at: root
            .get("occur_at")
            .map(|node| time::unix_seconds(&node))
            .transpose()?,
    };
    resources(&root.require_object("event_data")?, &context)
}

fn parse_cloud_event(root: &Node<'_>) -> Result<Found> {
    let kind = root.require_str("type")?;
    if kind != CLOUD_EVENT_PUSH {
        return Ok(Found::skip(format!(
            "Harbor event {:?} is not a push",
            preview(kind)
        )));
    }
    let context = Context {
        operator: root.opt_str("operator")?,
        pushed_at: root
            .get("time")
            .map(|node| time::rfc3339(&node))
            .transpose()?,
    };
    resources(&root.require_object("data")?, &context)
}

fn resources(data: &Node<'_>, context: &Context<'_>) -> Result<Found> {
    let repository = data.require_object("repository")?;
    let (path, blame) = repository_path(&repository, "repo_full_name")?;
    let mut found = Found::default();
    for resource in data.require("resources")?.items()? {
        resource.object()?;
        found
            .events
            .push(resource_event(&resource, &path, &blame, context)?);
    }
    Ok(found)
}

fn resource_event(
    resource: &Node<'_>,
    path: &str,
    blame: &Node<'_>,
    context: &Context<'_>,
) -> Result<PushEvent> {
    let url = resource.require("resource_url")?;
    let host = host_of(url.str()?, path).ok_or_else(|| {
        url.invalid(format!(
            "it does not start with a registry host followed by /{}",
            preview(path)
        ))
    })?;
    let mut image = image_at(host, &url, path, blame)?;
    let digest = resource
        .get("digest")
        .filter(|d| d.value().as_str() != Some(""));
    if let Some(digest) = &digest {
        image = digest_from(image, digest)?;
    }
    if let Some(tag) = resource.get("tag") {
        let repeats_digest = digest.as_ref().is_some_and(|d| d.value() == tag.value());
        if !tag.str()?.is_empty() && !repeats_digest {
            image = tag_from(image, &tag)?;
        }
    }
    let mut event = PushEvent::new(Format::Harbor, require_version(resource, image)?);
    event.pusher = context.operator.map(str::to_owned);
    event.pushed_at.clone_from(&context.pushed_at);
    Ok(event)
}

/// The host in `host/path[:tag|@digest]`, if the URL has that shape.
fn host_of<'u>(url: &'u str, path: &str) -> Option<&'u str> {
    let (host, rest) = url.split_once('/')?;
    let version = rest.strip_prefix(path)?;
    let shaped = version.is_empty() || version.starts_with(':') || version.starts_with('@');
    (shaped && !host.is_empty()).then_some(host)
}
