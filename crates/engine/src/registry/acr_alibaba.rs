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
//!
//! Repository names are read case-insensitively: see `pullable_path`.

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
    let image = image_at(&host, &region, &pullable_path(&path), &blame)?;
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

/// The repository path as a pull names it: lower-cased.
///
/// Alibaba's own documented notification names its repository `namespace/repoTest`, and
/// repositories made before ACR enforced lower-case names still exist, so ACR does send
/// upper case. A Docker reference cannot carry it: `docker pull` and Kubernetes refuse
/// `…/repoTest`, and ACR serves the repository under its lower-case spelling. Refusing the
/// payload would drop a real push; keeping the case would make an event that no template
/// image can ever equal. So the path is lower-cased here, which makes a trigger match ACR
/// pushes case-insensitively against the (necessarily lower-case) images of a template; the
/// event records the pullable name. Everything else the grammar forbids (spaces, `..`,
/// non-ASCII, a path over 255 bytes) is still refused. Docker Hub, Harbor and the other
/// formats keep the grammar's strict lower-case rule: their documentation shows none.
fn pullable_path(path: &str) -> String {
    path.to_ascii_lowercase()
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
