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

use super::json::Node;
use super::reference::{ImageRef, preview};
use super::{Format, Found, PushEvent, Result, digest_from, require_version, tag_from};

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
