//! Docker Hub repository webhooks.
//!
//! Source: Docker's "Webhooks" documentation (docs.docker.com/docker-hub/webhooks) and the
//! payload quoted in seed 004: `push_data.{tag, pusher, pushed_at}` and
//! `repository.{repo_name, namespace, name, owner}`. One delivery is one push of one tag;
//! Docker Hub sends no digest. `pushed_at` is Unix seconds, written as an integer in today's
//! docs and as `1.417566161e+09` in older ones.
//!
//! The payload's `callback_url` lets a receiver report a build status back to Docker Hub. We
//! never read it: calling a URL taken from an unauthenticated body would let anyone make us
//! send requests.

use super::json::Node;
use super::reference::DOCKER_HUB;
use super::{Format, Found, PushEvent, Result, image_at, repository_path, tag_from, time};

/// Reads a Docker Hub payload.
pub(super) fn parse(root: &Node<'_>) -> Result<Found> {
    root.object()?;
    let push = root.require_object("push_data")?;
    let repository = root.require_object("repository")?;
    let (path, blame) = repository_path(&repository, "repo_name")?;
    let image = tag_from(
        image_at(DOCKER_HUB, &repository, &path, &blame)?,
        &push.require("tag")?,
    )?;
    let mut event = PushEvent::new(Format::DockerHub, image);
    event.owner = repository.opt_str("owner")?.map(str::to_owned);
    event.pusher = push.opt_str("pusher")?.map(str::to_owned);
    event.pushed_at = push
        .get("pushed_at")
        .map(|node| time::unix_seconds(&node))
        .transpose()?;
    Ok(Found {
        events: vec![event],
        skipped: Vec::new(),
    })
}
