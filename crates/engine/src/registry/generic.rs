//! Tripline's generic push notification, for CI jobs and registries without a format of
//! their own.
//!
//! Two shapes, sent as JSON:
//!
//! - `{"image": "registry/repository:tag"}` or `{"image": "repository@sha256:…"}`;
//! - `{"repository": "registry/repository", "tag": "…", "digest": "…"}`.
//!
//! `tag` and `digest` may also accompany `image` to fill in what it lacks; if both name a
//! tag (or a digest) they must agree. At least a tag or a digest is required. The image is
//! normalised like any reference (`nginx:1.27` is `docker.io/library/nginx:1.27`).
//!
//! A CI job's call in this form is the listener's most frequent, so a body that is nothing
//! but a valid generic push is read straight into its fields ([`direct`]), without the JSON
//! tree, the format detection and the walk of the general way (a distribution registry's
//! envelope has a direct read of its own). A body the direct read does not take whole goes
//! the general way, which gives the same answer for everything the direct read takes (a
//! test compares the two) and names what is wrong.

use std::borrow::Cow;

use super::json::Node;
use super::reference::{ImageRef, preview};
use super::{
    Delivery, Format, Found, Headers, PushEvent, Result, detect, digest_from, json_body,
    require_version, tag_from,
};

/// Reads the generic form.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let name = match root.get("image") {
        Some(image) => image,
        None => root.require("repository")?,
    };
    let mut image = name.image_ref()?;
    if let Some(tag) = root.get("tag") {
        image = merge(image, &tag, ImageRef::tag, tag_from)?;
    }
    if let Some(digest) = root.get("digest") {
        image = merge(image, &digest, ImageRef::digest, digest_from)?;
    }
    let image = require_version(&name, image)?;
    Ok(Found {
        events: vec![PushEvent::new(Format::Generic, image)],
        skipped: Vec::new(),
    })
}

/// Sets the part in `node` unless the image already has it; a different value is an error.
fn merge(
    image: ImageRef,
    node: &Node<'_>,
    current: fn(&ImageRef) -> Option<&str>,
    set: fn(ImageRef, &Node<'_>) -> Result<ImageRef>,
) -> Result<ImageRef> {
    let given = node.str()?;
    match current(&image) {
        Some(existing) if existing == given => Ok(image),
        Some(existing) => Err(node.invalid(format!(
            "{:?} contradicts {existing:?} in the image reference",
            preview(given)
        ))),
        None => set(image, node),
    }
}

/// The generic form's fields, borrowed from the body where they hold no escapes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(borrow, default)]
    image: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    repository: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tag: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    digest: Option<Cow<'a, str>>,
}

/// The delivery in `body` when it is a valid generic push and nothing else: an object of
/// `image`, `repository`, `tag` and `digest` (strings or null), each at most once, that
/// [`parse`] would read to one push, with no header that names another format. `None` for
/// anything else, which the caller reads the general way.
pub(super) fn direct(headers: &Headers<'_>, body: &[u8]) -> Option<Delivery> {
    if detect::from_headers(headers).is_some() {
        return None;
    }
    let body = json_body(headers, body).ok()?;
    // An object only: a derived struct would also read an array of its fields in order
    // (`["nginx:1.27"]`), which the general way refuses.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // UTF-8 checked once for the whole body, not once per string.
    let fields: Fields<'_> = serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
    let name = fields.image.as_deref().or(fields.repository.as_deref())?;
    let mut image = ImageRef::parse(name).ok()?;
    if let Some(tag) = fields.tag.as_deref() {
        image = fill(image, tag, ImageRef::tag, ImageRef::into_tagged)?;
    }
    if let Some(digest) = fields.digest.as_deref() {
        image = fill(image, digest, ImageRef::digest, ImageRef::into_pinned)?;
    }
    if image.tag().is_none() && image.digest().is_none() {
        return None;
    }
    Some(Delivery {
        format: Format::Generic,
        events: vec![PushEvent::new(Format::Generic, image)],
        skipped: Vec::new(),
    })
}

/// [`merge`] for the direct read: `None` wherever `merge` would fail.
fn fill(
    image: ImageRef,
    given: &str,
    current: fn(&ImageRef) -> Option<&str>,
    set: fn(ImageRef, &str) -> std::result::Result<ImageRef, super::reference::Error>,
) -> Option<ImageRef> {
    match current(&image) {
        Some(existing) if existing == given => Some(image),
        Some(_) => None,
        None => set(image, given).ok(),
    }
}
