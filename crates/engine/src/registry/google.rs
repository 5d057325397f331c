//! Google Artifact Registry (and Container Registry) notifications, as a Pub/Sub push
//! subscription delivers them.
//!
//! Sources: Google Cloud, "Configuring Pub/Sub notifications" for Artifact Registry
//! (cloud.google.com/artifact-registry/docs/configure-notifications) and Container Registry
//! (cloud.google.com/container-registry/docs/configuring-notifications): both registries
//! publish to the topic `gcr` a JSON message `{"action": "INSERT" | "DELETE", "digest":
//! "<host>/<path>@sha256:…", "tag": "<host>/<path>:<tag>"}`, where either reference may be
//! absent. And Pub/Sub, "Push subscriptions" (cloud.google.com/pubsub/docs/push): a push is a
//! `POST` with `Content-Type: application/json` and the body `{"message": {"attributes",
//! "data", "messageId", "message_id", "publishTime", "publish_time"}, "subscription"}`, the
//! message's bytes base64-encoded in `data`. With payload unwrapping turned on, Pub/Sub posts
//! the registry's message itself instead; that form is read too.
//!
//! - `INSERT` (an image pushed, or a tag added) is a push; `DELETE` is skipped.
//! - `tag` and `digest` are whole references and must name the same repository. A push by
//!   digest alone has no tag; the trigger decides what to do with it.
//! - `data` is decoded as standard or URL-safe base64, padded or not, and must decode to at
//!   most 64 KiB; the result is read as strictly as a body (duplicate keys and
//!   deep nesting refused). Errors inside it are named by their path below `message.data`.
//! - The push time is the message's `publishTime`; Pub/Sub sets it when the registry
//!   publishes.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::json::{self, Node};
use super::reference::{ImageRef, preview};
use super::{Format, Found, PushEvent, Result, digest_unless_tagged, require_version, time};

/// The most bytes `message.data` may decode to. A registry notification is two references
/// and an action, a few hundred bytes.
pub(super) const MAX_DATA_BYTES: usize = 64 * 1024;

const FORMAT: Format = Format::GoogleArtifactRegistry;

/// Reads a Pub/Sub push of a registry notification, or an unwrapped notification.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let Some(message) = root.get("message") else {
        return notification(root);
    };
    message.object()?;
    let data = message.require("data")?;
    let value = decode_data(&data)?;
    let inner = Node::nested(&value, FORMAT, data.path());
    let mut found = notification(&inner)?;
    let published = match message.get("publishTime") {
        Some(time) => Some(time),
        None => message.get("publish_time"),
    };
    let pushed_at = published.map(|node| time::rfc3339(&node)).transpose()?;
    for event in &mut found.events {
        event.pushed_at.clone_from(&pushed_at);
    }
    Ok(found)
}

/// The JSON document base64-encoded in `data`.
fn decode_data(data: &Node<'_>) -> Result<serde_json::Value> {
    let text = data.str()?;
    // Four base64 characters make three bytes; refuse before decoding anything huge.
    if text.len() / 4 * 3 > MAX_DATA_BYTES {
        return Err(data.invalid(format!(
            "it is {} characters of base64, over the {MAX_DATA_BYTES}-byte limit of a \
             registry notification",
            text.len()
        )));
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&alphabet::URL_SAFE, config);
    let bytes = standard
        .decode(text)
        .or_else(|error| url_safe.decode(text).map_err(|_| error))
        .map_err(|error| data.invalid(format!("it is not base64: {error}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(data.invalid("it decodes to nothing; a registry notification is JSON"));
    }
    json::parse_strict(&bytes)
        .map_err(|error| data.invalid(format!("it decodes to bytes that are not JSON: {error}")))
}

/// One registry notification: `{action, digest?, tag?}`.
fn notification(node: &Node<'_>) -> Result<Found> {
    node.object()?;
    let action = node.require_str("action")?;
    if action != "INSERT" {
        return Ok(Found::skip(format!(
            "Google Artifact Registry action {:?} is not a push",
            preview(action)
        )));
    }
    let tag = node.get("tag");
    let digest = node.get("digest");
    let mut image = match &tag {
        Some(tag) => Some(tagged(tag)?),
        None => None,
    };
    let mut skipped = Vec::new();
    if let Some(digest) = &digest {
        let (repository, text) = by_digest(digest)?;
        let base = match image {
            Some(tagged) if !tagged.same_repository(&repository) => {
                return Err(digest.invalid(format!(
                    "it names {}, but tag names {}",
                    repository.full_repository(),
                    tagged.full_repository()
                )));
            }
            Some(tagged) => tagged,
            None => repository,
        };
        image = Some(digest_unless_tagged(base, digest, text, &mut skipped)?);
    }
    let Some(image) = image else {
        return Err(node.invalid("it names neither a digest nor a tag"));
    };
    Ok(Found {
        events: vec![PushEvent::new(FORMAT, require_version(node, image)?)],
        skipped,
    })
}

/// `tag`: a whole `host/path:tag` reference, with no digest.
fn tagged(node: &Node<'_>) -> Result<ImageRef> {
    let image = node.image_ref()?;
    if image.tag().is_none() || image.digest().is_some() {
        return Err(node.invalid(format!(
            "{:?} is not a repository:tag reference",
            preview(node.str()?)
        )));
    }
    Ok(image)
}

/// `digest`: a whole `host/path@sha256:…` reference, split into the repository and the
/// digest text (checked by the caller, who knows whether a tag stands beside it).
fn by_digest<'a>(node: &Node<'a>) -> Result<(ImageRef, &'a str)> {
    let text = node.str()?;
    let Some((name, digest)) = text.rsplit_once('@') else {
        return Err(node.invalid(format!(
            "{:?} is not a repository@sha256:… reference",
            preview(text)
        )));
    };
    let repository = ImageRef::parse(name).map_err(|e| node.reference_error(e))?;
    if repository.tag().is_some() {
        return Err(node.invalid(format!(
            "{:?} is not a repository@sha256:… reference",
            preview(text)
        )));
    }
    Ok((repository, digest))
}
