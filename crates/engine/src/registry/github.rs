//! GitHub `package` and `registry_package` webhook events, for container images on the
//! GitHub Container Registry (ghcr.io).
//!
//! Sources: GitHub's "Webhook events and payloads" documentation (`package`,
//! `registry_package`) and the example payloads in octokit/webhooks
//! (`payload-examples/api.github.com/{package,registry_package}/published.docker.payload.json`).
//! GitHub sends `X-GitHub-Event: package|registry_package` and a `GitHub-Hookshot/…` user
//! agent. The package object (`package` or `registry_package`) has `name`, `namespace`,
//! `package_type`/`ecosystem`, `owner.login`, and `package_version` with `version` (the
//! manifest digest), `package_url` (`ghcr.io/owner/name:tag`), and
//! `container_metadata.tag.{name, digest}` and `container_metadata.manifest.media_type`.
//!
//! Choices where GitHub's examples disagree with what it sends or with each other:
//!
//! - Only `action: published` is a push; `updated` (metadata changes) and every other event
//!   (`ping`, `push`, …) are skipped, as are non-container packages (npm, Maven, …). A
//!   container package has `package_type` `CONTAINER` (older payloads: `ecosystem` `docker`).
//! - The repository comes from `package_url` (what `docker pull` uses, and the only field
//!   that handles nested names like `owner/app/api`), else `namespace/name`. GitHub shows
//!   owners with capitals (`Codertocat`) but ghcr.io names are lower-case, so the path is
//!   lower-cased. The host is `package_url`'s, else `ghcr.io`; `registry.url` is not used
//!   because GitHub sends `https://CONTAINER.pkg.github.com/<owner>`, which is not pullable.
//! - An empty `tag.name` is a push by digest.
//! - A `tag.digest` that is not a digest (GitHub's examples put a 40-hex commit id there)
//!   gives way to a valid `package_version.version`, with a note; see `manifest_digest`.
//! - `registry_package` is the older name of the same event (GitHub still sends it beside
//!   `package` for container pushes); both are read the same way.
//! - GitHub sends `0001-01-01T00:00:00Z` in `package_version.created_at`/`updated_at` when
//!   it has no time; the push time is then the package's `updated_at`, which a publish
//!   moves.

use super::json::Node;
use super::reference::{ImageRef, preview};
use super::{
    Error, Format, Found, PushEvent, Result, digest_from, image_at, require_version, tag_from, time,
};

/// The registry of GitHub container packages.
const GHCR: &str = "ghcr.io";

/// Reads a GitHub package event; `event` is the `X-GitHub-Event` header, if sent.
pub(super) fn parse(root: &Node<'_>, event: Option<&str>) -> Result<Found> {
    let key = match event {
        Some(kind @ ("package" | "registry_package")) => kind,
        Some(other) => {
            return Ok(Found::skip(format!(
                "GitHub event {:?} is not a package event",
                preview(other)
            )));
        }
        None if root.get("registry_package").is_some() => "registry_package",
        None => "package",
    };
    root.object()?;
    let action = root.require_str("action")?;
    if action != "published" {
        return Ok(Found::skip(format!(
            "GitHub package action {:?} is not a publish",
            preview(action)
        )));
    }
    let package = root.require_object(key)?;
    if !is_container(&package)? {
        return Ok(Found::skip("GitHub package is not a container image"));
    }
    let mut skipped = Vec::new();
    let mut event = version_event(&package, &mut skipped)?;
    event.owner = login(&package, "owner")?;
    event.pusher = login(root, "sender")?;
    Ok(Found {
        events: vec![event],
        skipped,
    })
}

fn is_container(package: &Node<'_>) -> Result<bool> {
    let is = |value: Option<&str>| {
        value.is_some_and(|v| {
            v.eq_ignore_ascii_case("container") || v.eq_ignore_ascii_case("docker")
        })
    };
    Ok(is(package.opt_str("package_type")?) || is(package.opt_str("ecosystem")?))
}

fn version_event(package: &Node<'_>, skipped: &mut Vec<String>) -> Result<PushEvent> {
    let version = package.require_object("package_version")?;
    let metadata = version.opt_object("container_metadata")?;
    let tag = match &metadata {
        Some(metadata) => metadata.opt_object("tag")?,
        None => None,
    };
    let image = repository_image(package, &version)?;
    let tag_digest = tag
        .as_ref()
        .and_then(|t| t.get("digest"))
        .filter(|d| d.value().as_str() != Some(""));
    let mut image = manifest_digest(image, tag_digest, &version, skipped)?;
    if let Some(name) = tag.as_ref().and_then(|t| t.get("name"))
        && !name.str()?.is_empty()
    {
        image = tag_from(image, &name)?;
    }
    let mut event = PushEvent::new(Format::GitHub, require_version(&version, image)?);
    event.media_type = media_type(metadata.as_ref())?;
    event.pushed_at = pushed_at(package, &version)?;
    Ok(event)
}

/// `image` pinned to the manifest digest: `container_metadata.tag.digest`, else
/// `package_version.version` (a container version's name is its digest).
///
/// GitHub's own examples of both events (octokit/webhooks `payload-examples`, which the docs
/// were built from) put a 40-hex commit id in `tag.digest` (`sha256:6c62fb45…`) beside a
/// valid `version`. A `tag.digest` that breaks the digest grammar is therefore passed over for
/// a valid `version`, with a note in `skipped`; with no valid `version` it is an error.
fn manifest_digest(
    image: ImageRef,
    tag_digest: Option<Node<'_>>,
    version: &Node<'_>,
    skipped: &mut Vec<String>,
) -> Result<ImageRef> {
    let version_digest = version.get("version").filter(is_digest_like);
    let Some(tag_digest) = tag_digest else {
        return match version_digest {
            Some(digest) => digest_from(image, &digest),
            None => Ok(image),
        };
    };
    let refused = match digest_from(image.clone(), &tag_digest) {
        Ok(pinned) => return Ok(pinned),
        Err(error @ Error::Reference { .. }) => error,
        Err(other) => return Err(other),
    };
    let fallback = version_digest.and_then(|digest| {
        let text = digest.value().as_str()?;
        image.with_digest(text).ok().map(|pinned| (pinned, digest))
    });
    let Some((pinned, from)) = fallback else {
        return Err(refused);
    };
    skipped.push(format!(
        "{}: {:?} is not a valid digest; the digest in {} is used instead",
        tag_digest.path(),
        preview(tag_digest.str()?),
        from.path()
    ));
    Ok(pinned)
}

fn is_digest_like(node: &Node<'_>) -> bool {
    node.value()
        .as_str()
        .is_some_and(|v| v.starts_with("sha256:"))
}

/// The repository from `package_url` (`ghcr.io/owner/name:tag`), else
/// `ghcr.io/namespace/name`, lower-cased.
fn repository_image(package: &Node<'_>, version: &Node<'_>) -> Result<ImageRef> {
    if let Some(url) = version.get("package_url") {
        let text = url.str()?;
        let (host, rest) = text
            .split_once('/')
            .ok_or_else(|| url.invalid("it is not registry/owner/name"))?;
        let path = strip_version(rest).to_ascii_lowercase();
        return image_at(host, &url, &path, &url);
    }
    let namespace = package.require_str("namespace")?;
    let name = package.require_str("name")?;
    let path = format!("{namespace}/{name}").to_ascii_lowercase();
    image_at(GHCR, package, &path, package)
}

/// `owner/name` from `owner/name:tag` or `owner/name@digest`.
fn strip_version(rest: &str) -> &str {
    let rest = rest.split_once('@').map_or(rest, |(name, _)| name);
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].find(':') {
        Some(colon) => &rest[..last_slash + colon],
        None => rest,
    }
}

fn media_type(metadata: Option<&Node<'_>>) -> Result<Option<String>> {
    let Some(manifest) = metadata
        .map(|m| m.opt_object("manifest"))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    Ok(manifest.opt_str("media_type")?.map(str::to_owned))
}

/// The version's own time, else the package's `updated_at`, which a publish sets.
fn pushed_at(package: &Node<'_>, version: &Node<'_>) -> Result<Option<String>> {
    let candidates = [
        version.get("updated_at"),
        version.get("created_at"),
        package.get("updated_at"),
    ];
    for node in candidates.into_iter().flatten() {
        if let Some(time) = time::rfc3339_unless_zero(&node)? {
            return Ok(Some(time));
        }
    }
    Ok(None)
}

/// `node.key.login` (GitHub's user objects), if present.
fn login(node: &Node<'_>, key: &str) -> Result<Option<String>> {
    match node.opt_object(key)? {
        Some(user) => Ok(user.opt_str("login")?.map(str::to_owned)),
        None => Ok(None),
    }
}
