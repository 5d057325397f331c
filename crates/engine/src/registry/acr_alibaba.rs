//! Alibaba Cloud Container Registry (ACR) triggers.
//!
//! Source: Alibaba Cloud's "Manage triggers" / "Webhook" documentation for Container
//! Registry (help doc 60949), whose notification example is:
//! `push_data.{digest, pushed_at, tag}` and `repository.{date_created, name, namespace,
//! region, repo_authentication_type, repo_full_name, repo_origin_type, repo_type}`, sent as
//! `Content-Type: application/json`. Seed 001 describes the trigger modes this feeds.
//!
//! The payload names a region but no registry host. We use the documented public endpoint
//! of that region, `registry.<region>.aliyuncs.com`. An Enterprise Edition instance is pulled
//! from `<instance>-registry.<region>.cr.aliyuncs.com` (seed 001), and the documented payload
//! does not carry the instance, so a trigger matching ACR events should compare repository
//! paths (`namespace/name`), not hosts. `pushed_at` has no zone; see `time::acr_local`.

use super::json::Node;
use super::{
    Format, Found, PushEvent, Result, digest_from, image_at, repository_path, tag_from, time,
};

/// Reads an Alibaba ACR payload.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let push = root.require_object("push_data")?;
    let repository = root.require_object("repository")?;
    let region = repository.require("region")?;
    let host = registry_host(&region)?;
    let (path, blame) = repository_path(&repository, "repo_full_name")?;
    let image = image_at(&host, &region, &path, &blame)?;
    let mut image = tag_from(image, &push.require("tag")?)?;
    if let Some(digest) = push
        .get("digest")
        .filter(|d| d.value().as_str() != Some(""))
    {
        image = digest_from(image, &digest)?;
    }
    let mut event = PushEvent::new(Format::AlibabaAcr, image);
    event.pushed_at = push
        .get("pushed_at")
        .map(|node| time::acr_local(&node))
        .transpose()?;
    Ok(Found {
        events: vec![event],
        skipped: Vec::new(),
    })
}

/// `registry.<region>.aliyuncs.com`, after checking that the region (`cn-hangzhou`) is a
/// plausible host label, so a body cannot steer the host elsewhere.
fn registry_host(region: &Node<'_>) -> Result<String> {
    let name = region.str()?;
    let plausible = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !plausible {
        return Err(region.invalid(format!(
            "{:?} is not a region id such as cn-hangzhou",
            super::reference::preview(name)
        )));
    }
    Ok(format!("registry.{name}.aliyuncs.com"))
}
