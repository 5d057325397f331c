//! JFrog Artifactory webhooks of the `docker` domain.
//!
//! Source: JFrog Platform Administration documentation, "Webhooks" → "Event Types"
//! (jfrog.com/help/r/jfrog-platform-administration-documentation/domain-docker, and
//! docs.jfrog.com/administration/docs/event-types). A predefined webhook posts, as
//! `Content-Type: application/json` and with no identifying header,
//! `{domain, event_type, data, subscription_key, jpd_origin, source}` (the pages' other
//! domains show this envelope); the Docker domain's page shows only its `data`:
//! `{repo_key, event_type, path, name, sha256, size, image_name, tag, platforms}`. Both the
//! envelope and that bare `data` object are read.
//!
//! - Only `event_type: pushed` ("a new tag of a Docker image is pushed") is a push; `deleted`,
//!   `promoted` and the other domains (`artifact`, `build`, …) are skipped.
//! - The repository is `<repo_key>/<image_name>`, as Artifactory's default "repository path"
//!   Docker access method pulls it (`acme.jfrog.io/docker-local/app:1.0`). The subdomain and
//!   port methods put the repository key in the host instead; the payload does not say which
//!   one a server uses.
//! - `sha256` is the checksum of the manifest file that was stored (`manifest.json`, or
//!   `list.manifest.json` for a multi-platform push), which is the manifest digest; it becomes
//!   `sha256:<hex>`.
//! - The registry host is `jpd_origin`'s (`https://acme.jfrog.io` → `acme.jfrog.io`). The
//!   documented Docker sample has no `jpd_origin`, and JFrog's own troubleshooting example of
//!   a delivery has none either; the registry is then `NO_HOST`, a reserved name that never
//!   resolves, with a note in the delivery's `skipped` list: the push is recorded, but it can
//!   only match a template image by that name, never by a real host.
//! - `source` (`jfrog/<user>`) names who caused the event; without its `jfrog/` prefix it is
//!   the pusher. The payload carries no time.

use super::json::Node;
use super::reference::preview;
use super::{Format, Found, PushEvent, Result, digest_unless_tagged, image_at, tag_from};

/// The registry recorded when the payload names no Artifactory host (RFC 2606 reserves
/// `.invalid`).
pub(super) const NO_HOST: &str = "artifactory.invalid";

/// Reads an Artifactory webhook: the envelope, or the Docker domain's bare `data`.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let enveloped = root.get("domain").is_some();
    let data = if enveloped {
        let domain = root.require_str("domain")?;
        if domain != "docker" {
            return Ok(Found::skip(format!(
                "Artifactory event domain {:?} is not docker",
                preview(domain)
            )));
        }
        root.require_object("data")?
    } else {
        root.clone()
    };
    let kind = if enveloped {
        root.require_str("event_type")?
    } else {
        data.require_str("event_type")?
    };
    if kind != "pushed" {
        return Ok(Found::skip(format!(
            "Artifactory Docker event {:?} is not a push",
            preview(kind)
        )));
    }
    let mut skipped = Vec::new();
    let origin = root.get("jpd_origin").filter(|_| enveloped);
    let (host, host_from) = match &origin {
        Some(origin) => (origin_host(origin)?.to_owned(), origin.clone()),
        None => {
            skipped.push(format!(
                "jpd_origin: absent, so the registry host is unknown; the push is recorded on \
                 {NO_HOST}"
            ));
            (NO_HOST.to_owned(), root.clone())
        }
    };
    let repo_key = data.require("repo_key")?;
    let image_name = data.require("image_name")?;
    let path = format!("{}/{}", repo_key.str()?, image_name.str()?);
    let image = image_at(&host, &host_from, &path, &image_name)?;
    let mut image = tag_from(image, &data.require("tag")?)?;
    if let Some(sha256) = data.get("sha256") {
        let digest = format!("sha256:{}", sha256.str()?);
        image = digest_unless_tagged(image, &sha256, &digest, &mut skipped)?;
    }
    let mut event = PushEvent::new(Format::Artifactory, image);
    if enveloped {
        event.pusher = root
            .opt_str("source")?
            .map(|source| source.strip_prefix("jfrog/").unwrap_or(source).to_owned());
    }
    Ok(Found {
        events: vec![event],
        skipped,
    })
}

/// The `host[:port]` of `jpd_origin` (`https://acme.jfrog.io/artifactory`).
fn origin_host<'a>(origin: &Node<'a>) -> Result<&'a str> {
    let url = origin.str()?;
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .filter(|host| !host.is_empty() && !host.contains('@'));
    host.ok_or_else(|| {
        origin.invalid(format!(
            "{:?} is not an http(s) URL with a host, such as https://acme.jfrog.io",
            preview(url)
        ))
    })
}
