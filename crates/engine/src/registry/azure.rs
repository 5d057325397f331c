//! Azure Container Registry webhooks.
//!
//! Source: Microsoft's "Azure Container Registry webhook reference"
//! (learn.microsoft.com/azure/container-registry/container-registry-webhook-reference). One
//! event per request, `Content-Type: application/json` and no other header unless the user
//! adds some: `{id, timestamp, action, target: {mediaType, size, digest, length,
//! repository, tag}, request: {id, host, method, useragent}}`.
//!
//! `action: push` is an image push; `chart_push`, `delete`, `chart_delete` and the portal's
//! `ping` are skipped. The target has the distribution registry's shape, so it is read by
//! `distribution::target_event`; the registry host is `request.host`
//! (`myregistry.azurecr.io`).
//!
//! Microsoft's documented push example masks its digest
//! (`sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx`). Such a digest
//! beside a valid tag is dropped with a note in the delivery's `skipped` list and the push is
//! read by its tag, so the documented example (and anything built from it) is accepted; a
//! real Azure registry sends 64 hex digits, which are kept.

use super::json::Node;
use super::reference::preview;
use super::{Format, Found, Result, distribution, time};

/// Reads an Azure Container Registry webhook.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let action = root.require_str("action")?;
    if action != "push" {
        return Ok(Found::skip(format!(
            "Azure Container Registry action {:?} is not an image push",
            preview(action)
        )));
    }
    let target = root.require_object("target")?;
    let host = root.require_object("request")?.require("host")?;
    let mut skipped = Vec::new();
    let mut event = distribution::target_event(
        Format::AzureAcr,
        &target,
        host.str()?,
        &host,
        Some(&mut skipped),
    )?;
    event.pushed_at = root
        .get("timestamp")
        .map(|node| time::rfc3339(&node))
        .transpose()?;
    Ok(Found {
        events: vec![event],
        skipped,
    })
}
